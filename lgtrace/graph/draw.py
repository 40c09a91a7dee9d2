"""``get_graph()``: a compiled graph as langchain-core's drawable ``Graph`` (``draw_mermaid()``,
``draw_ascii()``, ``draw_mermaid_png()``), drawn as LangGraph draws it: ``__start__``, the nodes,
``__end__``; solid edges for static edges and joins, dashed for conditional edges and ``Command``
destinations whose targets are known (a ``path_map`` key labels its edge); only what is
reachable from the start; a node that leads nowhere known ends at ``__end__``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.runnables.graph import Graph

from lgtrace.constants import END, START

if TYPE_CHECKING:
    from lgtrace.runtime.compiled import CompiledStateGraph

Edge = tuple[str, str, bool, Any]  # source, target, conditional, label


def _out_edges(graph: CompiledStateGraph) -> dict[str, set[Edge]]:
    builder = graph.builder
    out: dict[str, set[Edge]] = {}
    for start, end in builder.edges:
        if (
            end != END
        ):  # a plain edge to the end is drawn as LangGraph finds it: last, for nodes leading nowhere
            out.setdefault(start, set()).add((start, end, False, None))
    for starts, end in builder.waiting_edges:
        for start in starts:
            out.setdefault(start, set()).add((start, end, False, None))
    for source, branches in graph.branches_from.items():
        for branch in branches:
            if branch.path_map is not None:
                for key, dest in branch.path_map.items():
                    label = str(key) if str(key) != dest else None
                    out.setdefault(source, set()).add((source, dest, True, label))
            elif branch.ends is not None:
                for dest in branch.ends:
                    out.setdefault(source, set()).add((source, dest, True, None))
    for name, node in graph.nodes.items():
        if node.ends and not node.is_runnable:  # Command[Literal[...]] / destinations=
            for dest in node.ends:
                out.setdefault(name, set()).add((name, dest, True, None))
    return out


def draw(graph: CompiledStateGraph, *, xray: int | bool = False) -> Graph:
    out = _out_edges(graph)
    reached, frontier, edges = {START}, [START], set()
    while frontier:
        for edge in out.get(frontier.pop(), ()):
            edges.add(edge)
            if edge[1] not in reached and edge[1] != END:
                reached.add(edge[1])
                frontier.append(edge[1])
    drawn = Graph()
    drawn.add_node(None, START)
    for name, node in graph.nodes.items():
        metadata: dict[str, Any] = dict(node.metadata or {})
        if node.defer:
            metadata["defer"] = True
        before, after = _interrupts(graph.interrupt_before, name), _interrupts(graph.interrupt_after, name)
        if before or after:
            metadata["__interrupt"] = ",".join(w for w, on in (("before", before), ("after", after)) if on)
        tools = getattr(node.action, "tools_by_name", None)
        if tools:
            metadata["__tools"] = list(tools)
        drawn.add_node(node.action, name, metadata=metadata or None)
    for source, target, conditional, label in sorted(edges, key=lambda e: (e[0], e[1], e[2], str(e[3]))):
        _add_edge(drawn, source, target, conditional, label)
    sources = {e[0] for e in edges}
    for terminus in sorted({e[1] for e in edges if e[1] != END} - sources):
        _add_edge(drawn, terminus, END, False, None)
    if not edges:  # where the start leads is only known by running it
        _add_edge(drawn, START, END, True, None)
    if xray:
        _expand_subgraphs(graph, drawn, xray)
    return drawn


def _interrupts(nodes: Any, name: str) -> bool:
    return bool(nodes) and (nodes == "*" or name in nodes)


def _add_edge(drawn: Graph, source: str, target: str, conditional: bool, label: Any) -> None:
    if any(e.source == source and e.target == target for e in drawn.edges):
        return
    if target == END and END not in drawn.nodes:
        drawn.add_node(None, END)
    drawn.add_edge(drawn.nodes[source], drawn.nodes[target], label, conditional)


def _expand_subgraphs(graph: CompiledStateGraph, drawn: Graph, xray: int | bool) -> None:
    """``xray``: a subgraph node is replaced by the subgraph's own nodes (prefixed with its name)."""
    depth = xray if isinstance(xray, bool) or xray <= 0 else xray - 1
    for name, node in graph.nodes.items():
        sub = node.subgraph
        if sub is None or name not in drawn.nodes:
            continue
        inner = draw(sub, xray=depth)
        if len(inner.nodes) <= 1 or not inner.first_node() or not inner.last_node():
            continue
        inner.trim_first_node()
        inner.trim_last_node()
        drawn.nodes.pop(name)
        first, last = drawn.extend(inner, prefix=name)
        for i, edge in enumerate(drawn.edges):
            if edge.source == name:
                edge = edge.copy(source=last.id)  # type: ignore[union-attr]
            if edge.target == name:
                edge = edge.copy(target=first.id)  # type: ignore[union-attr]
            drawn.edges[i] = edge
