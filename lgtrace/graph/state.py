"""``StateGraph``: the builder. It records nodes, edges and branches, and
``compile()`` validates them into a ``CompiledStateGraph`` the runtime executes.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from langchain_core.runnables import Runnable
from langgraph.store.base import BaseStore

from lgtrace.constants import END, NS_END, NS_SEP, START
from lgtrace.graph.schema import Channel, channels_of
from lgtrace.runtime.node import (
    Injected,
    NodeSpec,
    declared_ends,
    first_param_schema,
    inject_flags,
    is_async_callable,
)
from lgtrace.runtime.retry import check_policies
from lgtrace.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10

_RESERVED_CHARS = (NS_SEP, NS_END)


@dataclass(slots=True)
class Branch:
    """A conditional edge: ``path(state)`` picks the next node(s)."""

    source: str
    name: str
    path: Callable[..., Any] | Runnable
    path_map: dict[Hashable, str] | None
    is_runnable: bool
    is_async: bool
    wants_config: bool
    ends: tuple[str, ...] | None
    """Every destination it may pick, when known (path_map or Literal annotation)."""

    def resolve(self, result: Any) -> list[Any]:
        """Map the path function's return value to node names and ``Send`` packets."""
        items = result if isinstance(result, (list, tuple)) else [result]
        if self.path_map is None:
            return list(items)
        out = []
        for item in items:
            if isinstance(item, str) or not hasattr(item, "node"):
                try:
                    out.append(self.path_map[item])
                except (KeyError, TypeError):
                    raise ValueError(
                        f"Conditional edge {self.name!r} from node {self.source!r} returned "
                        f"{item!r}, which is not a key of its path_map {list(self.path_map)}"
                    ) from None
            else:
                out.append(item)
        return out


def _renamed(kwargs: dict[str, Any], **renames: str) -> dict[str, Any]:
    """Arguments LangGraph 0.5 renamed (old name -> new name): warned about as LangGraph does,
    taken out of ``kwargs`` and returned by their old names."""
    found = {}
    for old, new in renames.items():
        if old in kwargs:
            warnings.warn(
                f"`{old}` is deprecated and will be removed. Please use `{new}` instead.",
                category=LangGraphDeprecatedSinceV05,
                stacklevel=3,
            )
            found[old] = kwargs.pop(old)
    return found


def _context_schema(kwargs: dict[str, Any], context_schema: Any) -> Any:
    """``context_schema``, or else the deprecated ``config_schema`` taken out of ``kwargs`` (warned
    about as LangGraph 1.0 does)."""
    if "config_schema" not in kwargs:
        return context_schema
    warnings.warn(
        "`config_schema` is deprecated and will be removed. Please use `context_schema` instead.",
        category=LangGraphDeprecatedSinceV10,
        stacklevel=3,
    )
    schema = kwargs.pop("config_schema")
    return schema if context_schema is None else context_schema


def _literal_ends(fn: Any) -> tuple[str, ...] | None:
    try:
        ret = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if get_origin(ret) is typing.Literal:
        return tuple(str(a) for a in get_args(ret))
    return None


def _name_of(obj: Any) -> str:
    if isinstance(obj, Runnable):
        return obj.get_name()
    name = getattr(obj, "__name__", None) or getattr(type(obj), "__name__", None)
    if not name:
        raise ValueError(f"Cannot infer a node name from {obj!r}; pass a name to add_node")
    return name


class StateGraph:
    """A graph whose nodes read and update a shared state.

    ``state_schema`` is a TypedDict, dataclass or Pydantic model; keys annotated
    ``Annotated[T, reducer]`` combine concurrent writes with ``reducer``.
    """

    def __init__(
        self,
        state_schema: Any = None,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        **deprecated: Any,
    ) -> None:
        context_schema = _context_schema(deprecated, context_schema)
        old = _renamed(deprecated, input="input_schema", output="output_schema")
        input_schema = input_schema or old.get("input")
        output_schema = output_schema or old.get("output")
        if deprecated:
            raise TypeError(f"StateGraph() got unexpected arguments {sorted(deprecated)}")
        if state_schema is None and input_schema is None:
            raise ValueError("StateGraph needs a state_schema (a TypedDict, dataclass or Pydantic model)")
        state_schema = state_schema if state_schema is not None else input_schema
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.input_schema = input_schema or state_schema
        self.output_schema = output_schema or state_schema
        self.channels: dict[str, Channel] = {}
        for schema in (state_schema, self.input_schema, self.output_schema):
            self._add_schema(schema)
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: set[tuple[str, str]] = set()
        self.waiting_edges: set[tuple[tuple[str, ...], str]] = set()
        self.branches: dict[str, dict[str, Branch]] = {}

    def _add_schema(self, schema: Any) -> None:
        for key, channel in channels_of(schema).items():
            existing = self.channels.get(key)
            if existing is None or (existing.reducer is None and channel.reducer is not None):
                self.channels[key] = channel

    # -- nodes -------------------------------------------------------------------------

    def add_node(
        self,
        node: str | Callable[..., Any] | Runnable,
        action: Callable[..., Any] | Runnable | None = None,
        *,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        input_schema: Any = None,
        destinations: dict[str, str] | tuple[str, ...] | None = None,
        retry_policy: Any = None,
        cache_policy: Any = None,
        trace_policy: Any = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Add a node. ``node`` is a name (then ``action`` is the callable) or the callable."""
        old = _renamed(kwargs, retry="retry_policy", input="input_schema")
        retry_policy = retry_policy or old.get("retry")
        input_schema = input_schema or old.get("input")
        if kwargs:
            raise TypeError(f"add_node() got unexpected arguments {sorted(kwargs)}")
        if isinstance(node, str):
            name = node
            if action is None:
                raise ValueError(
                    f"add_node({name!r}) needs an action: a function, a Runnable or a compiled graph"
                )
        else:
            if action is not None:
                raise ValueError(
                    "add_node(callable, action): pass either a name and an action, or a callable"
                )
            action, name = node, _name_of(node)
        if not callable(action) and not isinstance(action, Runnable):
            raise TypeError(
                f"Node {name!r}: action must be callable or a Runnable, got {type(action).__name__}"
            )
        if name in (START, END):
            raise ValueError(f"Node name {name!r} is reserved")
        if any(ch in name for ch in _RESERVED_CHARS):
            raise ValueError(f"Node name {name!r} must not contain {' or '.join(map(repr, _RESERVED_CHARS))}")
        if name in self.nodes:
            raise ValueError(f"Node {name!r} already present")

        is_runnable = isinstance(action, Runnable)
        if input_schema is None and not is_runnable:
            candidate = first_param_schema(action)
            if candidate is not None and candidate is not self.state_schema and channels_of(candidate):
                input_schema = candidate
        if input_schema is not None:
            self._add_schema(input_schema)
        if destinations is not None:
            ends: tuple[str, ...] | None = tuple(destinations)
        elif is_runnable:
            ends = ()
        else:
            ends = declared_ends(action)
        injected = Injected() if is_runnable else inject_flags(action)
        from lgtrace.runtime.compiled import CompiledStateGraph

        self.nodes[name] = NodeSpec(
            name=name,
            action=action,
            is_runnable=is_runnable,
            is_async=False if is_runnable else is_async_callable(action),
            is_subgraph=isinstance(action, CompiledStateGraph),
            wants_config=injected.config,
            wants_writer=injected.writer,
            wants_store=injected.store,
            wants_runtime=injected.runtime,
            retry_policy=check_policies(retry_policy, name),
            cache_policy=cache_policy,
            trace_policy=trace_policy,
            defer=defer,
            metadata=dict(metadata or {}),
            input_schema=input_schema,
            input_keys=(),
            ends=ends,
        )
        return self

    def add_sequence(
        self, nodes: Sequence[Callable[..., Any] | Runnable | tuple[str, Callable[..., Any] | Runnable]]
    ) -> StateGraph:
        """Add nodes that run one after the other, with edges between them."""
        if not nodes:
            raise ValueError("add_sequence() needs at least one node")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, action = item
                self.add_node(name, action)
            else:
                name = _name_of(item)
                self.add_node(item)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    # -- edges -------------------------------------------------------------------------

    def add_edge(self, start_key: str | list[str], end_key: str) -> StateGraph:
        """Run ``end_key`` after ``start_key``; a list of starts waits for all of them."""
        if isinstance(start_key, str):
            if start_key == END:
                raise ValueError("END cannot be the start of an edge")
            if end_key == START:
                raise ValueError("START cannot be the end of an edge")
            self.edges.add((start_key, end_key))
            return self
        starts = tuple(start_key)
        if not starts:
            raise ValueError("add_edge() got an empty list of start nodes")
        for s in starts:
            if s == END:
                raise ValueError("END cannot be the start of an edge")
        if end_key == START:
            raise ValueError("START cannot be the end of an edge")
        self.waiting_edges.add((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any] | Runnable,
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> StateGraph:
        """After ``source``, call ``path(state)`` to choose the next node(s) or ``Send`` packets."""
        name = getattr(path, "__name__", None) or (
            path.get_name() if isinstance(path, Runnable) else "condition"
        )
        if name == "<lambda>":
            name = "condition"
        if name in self.branches.get(source, {}):
            raise ValueError(f"Branch {name!r} already added to node {source!r}")
        mapping: dict[Hashable, str] | None
        if isinstance(path_map, dict):
            mapping = dict(path_map)
        elif isinstance(path_map, list):
            mapping = {p: p for p in path_map}
        elif path_map is None:
            mapping = None
        else:
            raise TypeError(f"path_map must be a dict or a list, got {type(path_map).__name__}")
        if mapping is not None:
            ends: tuple[str, ...] | None = tuple(mapping.values())
        else:
            ends = None if isinstance(path, Runnable) else _literal_ends(path)
        is_runnable = isinstance(path, Runnable)
        wants_config = False if is_runnable else inject_flags(path).config
        self.branches.setdefault(source, {})[name] = Branch(
            source=source,
            name=name,
            path=path,
            path_map=mapping,
            is_runnable=is_runnable,
            is_async=False if is_runnable else is_async_callable(path),
            wants_config=wants_config,
            ends=ends,
        )
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any] | Runnable, path_map: dict[Hashable, str] | list[str] | None = None
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        return self.add_edge(key, END)

    # -- compile -----------------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first structural problem found.

        Nodes that look unreachable are only warned about (``UserWarning``), as LangGraph
        compiles them: a node may be reached by a ``Command`` no static check can see.
        """
        self._validate(stacklevel=2)

    def _validate(self, stacklevel: int) -> None:
        known = set(self.nodes)
        for start, end in sorted(self.edges):
            if start != START and start not in known:
                raise ValueError(f"Found edge starting at unknown node {start!r}")
            if end != END and end not in known:
                raise ValueError(f"Found edge ending at unknown node {end!r} (from {start!r})")
        for starts, end in sorted(self.waiting_edges):
            for s in starts:
                if s != START and s not in known:
                    raise ValueError(f"Found edge starting at unknown node {s!r}")
            if end != END and end not in known:
                raise ValueError(f"Found edge ending at unknown node {end!r} (from {list(starts)!r})")
        for source, branches in self.branches.items():
            if source != START and source not in known:
                raise ValueError(f"Found conditional edge starting at unknown node {source!r}")
            for branch in branches.values():
                for end in branch.ends or ():
                    if end != END and end not in known:
                        raise ValueError(
                            f"Conditional edge {branch.name!r} from {source!r} leads to unknown node {end!r}"
                        )
        for node in self.nodes.values():
            for end in node.ends or ():
                if end != END and end not in known:
                    raise ValueError(f"Node {node.name!r} declares unknown destination {end!r}")
        has_entry = (
            any(s == START for s, _ in self.edges)
            or START in self.branches
            or any(START in starts for starts, _ in self.waiting_edges)
        )
        if not has_entry:
            raise ValueError(
                "Graph must have an entry point: add an edge from START "
                "(add_edge(START, 'node') or set_entry_point('node'))"
            )
        self._warn_unreachable(stacklevel + 1)
        for name in self.endless_deferred():
            warnings.warn(
                f"Node {name!r} is deferred (defer=True) but no route from it reaches END: every path "
                "leads back to nodes that route on, so a run that reaches it only stops at the "
                "recursion limit (or an interrupt). Add an edge to END from it or from a node after it.",
                UserWarning,
                stacklevel=stacklevel + 1,
            )

    def _routes(self) -> tuple[dict[str, set[str]], set[str]]:
        """Where each node visibly routes (edges, known branch ends, declared ``Command``
        destinations), and the nodes that may route anywhere."""
        successors: dict[str, set[str]] = {}
        dynamic: set[str] = set()
        for s, e in self.edges:
            successors.setdefault(s, set()).add(e)
        for source, branches in self.branches.items():
            for b in branches.values():
                if b.ends is None:
                    dynamic.add(source)
                else:
                    successors.setdefault(source, set()).update(b.ends)
        for node in self.nodes.values():
            if node.ends is None or node.is_subgraph:
                dynamic.add(node.name)
            else:
                successors.setdefault(node.name, set()).update(node.ends)
        return successors, dynamic

    def endless_deferred(self) -> list[str]:
        """Deferred nodes (``defer=True``) from which no route ever ends the run: every route
        leads back into nodes that route on (none reaches END or a node that routes nowhere,
        and none routes dynamically)."""
        successors, dynamic = self._routes()
        for starts, end in self.waiting_edges:  # (a join may fire: its end is a possible route)
            for s in starts:
                successors.setdefault(s, set()).add(end)
        endless = []
        for name, node in self.nodes.items():
            if not node.defer:
                continue
            seen, frontier, ends = {name}, [name], False
            while frontier and not ends:
                current = frontier.pop()
                nexts = successors.get(current, set())
                if current in dynamic or not nexts or END in nexts:
                    ends = True
                for nxt in nexts - seen:
                    seen.add(nxt)
                    frontier.append(nxt)
            if not ends:
                endless.append(name)
        return endless

    def _unreachable_nodes(self) -> list[str]:
        """Nodes no route seen in the graph leads to from START (empty when a dynamic one may).

        A route is an edge, a join whose every start is reached, a conditional edge's
        known destinations, or a node's declared ``Command`` destinations. A conditional
        edge with no ``path_map`` or ``Literal`` annotation, a node whose code (or a
        function it names) builds a ``Command``, and a subgraph (``Command.PARENT``) may
        route anywhere: once one of them is reached, every node may be.
        """
        successors, dynamic = self._routes()
        seen = {START}
        frontier = [START]
        while frontier:
            while frontier:
                current = frontier.pop()
                if current in dynamic:
                    return []
                for nxt in successors.get(current, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
            for starts, end in self.waiting_edges:  # a join fires once all its starts ran
                if end not in seen and all(s in seen for s in starts):
                    seen.add(end)
                    frontier.append(end)
        return [name for name in self.nodes if name not in seen]

    def _warn_unreachable(self, stacklevel: int) -> None:
        names = self._unreachable_nodes()
        if not names:
            return
        one = len(names) == 1
        goto = f"Command(goto={names[0]!r})" if one else "Command(goto=...)"
        warnings.warn(
            f"{'Node' if one else 'Nodes'} {', '.join(map(repr, names))} "
            f"{'looks' if one else 'look'} unreachable from START: no edge, conditional edge or "
            f"declared Command destination leads to {'it' if one else 'them'}, and no node reached "
            "from START visibly routes dynamically (a Command built in its code or in a function it "
            "names, a conditional edge without path_map, a subgraph). "
            f"{'It' if one else 'They'} may still run if a node returns {goto} built where lgtrace "
            "cannot see it (a method, a callable passed in); declare that route, and silence this "
            f"warning, by annotating that node's return type as Command[Literal[{names[0]!r}]] or "
            f"passing destinations=({names[0]!r},) to add_node.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )

    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: Any = None,
        store: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        debug: bool = False,
        name: str | None = None,
    ) -> Any:
        """Validate the graph and return a runnable ``CompiledStateGraph``."""
        if cache is not None and not (hasattr(cache, "get") and hasattr(cache, "set")):
            raise TypeError(f"compile(cache=...) takes a LangGraph BaseCache, got {type(cache).__name__}")
        if store is not None and not isinstance(store, BaseStore):
            raise TypeError(f"compile(store=...) takes a LangGraph BaseStore, got {type(store).__name__}")
        if checkpointer not in (None, False, True) and not (
            hasattr(checkpointer, "get_tuple") and hasattr(checkpointer, "put")
        ):
            raise TypeError(
                "compile(checkpointer=...) takes a LangGraph BaseCheckpointSaver, "
                f"got {type(checkpointer).__name__}"
            )
        self._validate(stacklevel=2)
        from lgtrace.runtime.compiled import CompiledStateGraph

        graph = CompiledStateGraph(
            self, name=name or "LangGraph", debug=debug, checkpointer=checkpointer, store=store, cache=cache
        )
        graph.interrupt_before = graph.check_interrupt_nodes(interrupt_before, "interrupt_before")
        graph.interrupt_after = graph.check_interrupt_nodes(interrupt_after, "interrupt_after")
        return graph


def __getattr__(name: str) -> Any:
    if name == "CompiledStateGraph":  # where LangGraph programs import it from
        from lgtrace.runtime.compiled import CompiledStateGraph

        return CompiledStateGraph
    raise AttributeError(f"module 'lgtrace.graph.state' has no attribute {name!r}")


__all__ = ["StateGraph"]
