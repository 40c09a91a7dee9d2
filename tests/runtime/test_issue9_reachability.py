"""Nodes that look unreachable are warned about, never rejected (#9, item 6).

LangGraph 1.2.22 compiles a graph whatever its reachability (even a node nothing leads to)
and runs wherever a ``Command`` goes; no static check sees every ``Command`` (a helper, a
closure, a method may build it). lgtrace compiles the same graphs and runs them the same
way; it warns when no route it can see (edges, joins, declared destinations, or a node /
conditional edge that routes dynamically) leads to a node.
"""

# no `from __future__ import annotations`: the runtimes read the nodes' return annotations
import types
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Literal, TypedDict

import pytest

from lgtrace.graph import END, START, StateGraph
from lgtrace.types import Command
from lgtrace.types import Command as Cmd

from ..differential.graphs import Case
from ..differential.harness import compare_invoke, compare_stream
from ..differential.normalize import CallSpec


class S(TypedDict, total=False):
    x: int


def _compile_quietly(builder: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = builder.compile()
    return graph, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


# -- differential: both runtimes compile and run these graphs the same way --------------------


def _helper_command(m: SimpleNamespace) -> tuple[Any, Any, Any]:
    def to_b() -> Any:
        return m.Command(goto="b")

    g = m.StateGraph(S)
    g.add_node("a", lambda s: to_b())
    g.add_node("b", lambda s: {"x": s["x"] + 1})
    g.add_edge(m.START, "a")
    return g.compile(), {"x": 1}, None


class _Router:
    def __init__(self, command: Any) -> None:
        self.command = command

    def route(self) -> Any:
        return self.command(goto="b", update={"x": 5})


def _method_command(m: SimpleNamespace) -> tuple[Any, Any, Any]:
    router = _Router(m.Command)
    g = m.StateGraph(S)
    g.add_node("a", lambda s: router.route())
    g.add_node("b", lambda s: {"x": s["x"] * 2})
    g.add_edge(m.START, "a")
    return g.compile(), {"x": 1}, None


def _orphan(m: SimpleNamespace) -> tuple[Any, Any, Any]:
    g = m.StateGraph(S)
    g.add_node("a", lambda s: {"x": 2})
    g.add_node("island", lambda s: {"x": 3})
    g.add_edge(m.START, "a")
    g.add_edge("island", m.END)
    return g.compile(), {"x": 1}, None


def _annotated_elsewhere(m: SimpleNamespace) -> tuple[Any, Any, Any]:
    def a(s: S) -> m.Command[Literal["c"]]:
        return m.Command(goto="c")

    g = m.StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", lambda s: {"x": 3})
    g.add_node("c", lambda s: {"x": 4})
    g.add_edge(m.START, "a")
    return g.compile(), {"x": 1}, None


CASES = [
    Case(name="issue9-helper-command", build=_helper_command),
    Case(name="issue9-method-command", build=_method_command),
    Case(name="issue9-orphan", build=_orphan),
    Case(name="issue9-annotated-elsewhere", build=_annotated_elsewhere),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", ["stream", "astream"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_runs_like_langgraph(case: Case, method: str) -> None:
    compare_stream(case, CallSpec(method=method, stream_mode=("updates", "values")))
    compare_invoke(case, "invoke" if method == "stream" else "ainvoke")


# -- what is warned about ----------------------------------------------------------------------


def _noop(state: S) -> dict[str, Any]:
    return {}


def to_b_global() -> Any:
    return Command(goto="b")


def to_b_aliased() -> Any:
    return Cmd(goto="b")


def _routing_module() -> types.ModuleType:
    module = types.ModuleType("routing_helpers")
    module.Command = Command  # type: ignore[attr-defined]
    exec("def to_b():\n    return Command(goto='b')\n", module.__dict__)
    return module


routing_helpers = _routing_module()


def _closure_node() -> Callable[[S], Any]:
    def to_b() -> Any:
        return Command(goto="b")

    return lambda s: to_b()


def _nested_helper_node(state: S) -> Any:
    def pick() -> Any:
        return Command(goto="b")

    return pick()


def _two_hops(state: S) -> Any:
    return _hop()


def _hop() -> Any:
    return to_b_global()


@pytest.mark.parametrize(
    "node",
    [
        pytest.param(_closure_node(), id="closure"),
        pytest.param(lambda s: to_b_global(), id="global-function"),
        pytest.param(lambda s: to_b_aliased(), id="command-imported-under-another-name"),
        pytest.param(lambda s: routing_helpers.to_b(), id="module-attribute"),
        pytest.param(_nested_helper_node, id="nested-function"),
        pytest.param(_two_hops, id="two-calls-deep"),
    ],
)
def test_command_built_in_a_helper_is_seen(node: Callable[[S], Any]) -> None:
    g = StateGraph(S)
    g.add_node("a", node)
    g.add_node("b", lambda s: {"x": 9})
    g.add_edge(START, "a")
    graph, warned = _compile_quietly(g)
    assert warned == []
    assert graph.invoke({"x": 1}) == {"x": 9}


def test_orphan_node_is_warned_about_not_rejected() -> None:
    g = StateGraph(S)
    g.add_node("a", _noop)
    g.add_node("island", _noop)
    g.add_edge(START, "a")
    g.add_edge("island", END)
    with pytest.warns(UserWarning, match=r"Node 'island' looks unreachable from START") as record:
        graph = g.compile()
    message = str(record[0].message)
    assert "Command[Literal['island']]" in message and "destinations=('island',)" in message
    assert record[0].filename == __file__, "the warning points at the compile() call"
    assert graph.invoke({"x": 1}) == {"x": 1}


def test_command_hidden_in_a_method_is_warned_and_still_runs() -> None:
    router = _Router(Command)
    g = StateGraph(S)
    g.add_node("a", lambda s: router.route())
    g.add_node("b", lambda s: {"x": s["x"] * 2})
    g.add_edge(START, "a")
    with pytest.warns(UserWarning, match=r"Node 'b' looks unreachable.*may still run if a node returns"):
        graph = g.compile()
    assert graph.invoke({"x": 1}) == {"x": 10}


def test_all_unreachable_nodes_named_in_one_warning() -> None:
    def z(state: S) -> Any:
        return Command(goto="b")  # routes dynamically, but nothing reaches z

    g = StateGraph(S)
    g.add_node("a", _noop)
    g.add_node("b", _noop)
    g.add_node("z", z)
    g.add_edge(START, "a")
    _, warned = _compile_quietly(g)
    assert len(warned) == 1
    assert warned[0].startswith("Nodes 'b', 'z' look unreachable from START")


def test_join_with_an_unreachable_start_is_warned_about() -> None:
    g = StateGraph(S)
    for name in ("a", "b", "joined"):
        g.add_node(name, _noop)
    g.add_edge(START, "a")
    g.add_edge(["a", "b"], "joined")
    _, warned = _compile_quietly(g)
    assert len(warned) == 1 and warned[0].startswith("Nodes 'b', 'joined' look unreachable")


def test_join_whose_starts_are_all_reached_is_not_warned_about() -> None:
    g = StateGraph(S)
    for name in ("a", "b", "joined"):
        g.add_node(name, _noop)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge(["a", "b"], "joined")
    _, warned = _compile_quietly(g)
    assert warned == []


@pytest.mark.parametrize(
    "route",
    [
        pytest.param("branch", id="conditional-edge-without-path-map"),
        pytest.param("bare-command", id="bare-Command-annotation"),
        pytest.param("subgraph", id="subgraph-Command.PARENT"),
    ],
)
def test_a_reached_dynamic_router_may_reach_any_node(route: str) -> None:
    g = StateGraph(S)
    g.add_node("b", _noop)
    if route == "branch":
        g.add_node("a", _noop)
        g.add_conditional_edges("a", lambda s: "b")
    elif route == "bare-command":

        def a(state: S) -> Command:
            return _hop()

        g.add_node("a", a)
    else:
        sub = StateGraph(S)
        sub.add_node("inner", _noop)
        sub.add_edge(START, "inner")
        g.add_node("a", sub.compile())
    g.add_edge(START, "a")
    _, warned = _compile_quietly(g)
    assert warned == []


def test_validate_warns_too() -> None:
    g = StateGraph(S)
    g.add_node("a", _noop)
    g.add_node("island", _noop)
    g.add_edge(START, "a")
    with pytest.warns(UserWarning, match="'island'") as record:
        g.validate()
    assert record[0].filename == __file__
