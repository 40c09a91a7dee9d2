"""``add_node(..., defer=True)``: the node waits until nothing else is left to run, as LangGraph
(its channel is saved as LangGraph's ``(value, finished)``), with and without a checkpointer."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest

from .graphs import ALL_MODES, cfg
from .harness import Rt, compare


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _graph(m, saver, *, defer: bool, fail_in: str | None = None, join: bool = False, tail: bool = False):
    """a -> (b1, b2 -> b2b) -> agg: a deferred agg runs once, after b2b. ``join``: agg is reached by
    ``add_edge(["b1", "b2b"], "agg")``; ``tail``: b2b -> c also runs, so the complete join waits for c."""

    def mk(n):
        def node(state: Log):
            if n == fail_in and "fixed" not in state["log"]:
                raise ValueError(f"{n} broke")
            return {"log": [n]}

        return node

    b = m.StateGraph(Log)
    for n in ("a", "b1", "b2", "b2b", "c") if tail else ("a", "b1", "b2", "b2b"):
        b.add_node(n, mk(n))
    b.add_node("agg", mk("agg"), defer=defer)
    b.add_edge(m.START, "a")
    b.add_edge("a", "b1")
    b.add_edge("a", "b2")
    b.add_edge("b2", "b2b")
    if join:
        b.add_edge(["b1", "b2b"], "agg")
    else:
        b.add_edge("b1", "agg")
        b.add_edge("b2b", "agg")
    if tail:
        b.add_edge("b2b", "c")
    b.add_edge("agg", m.END)
    return b.compile(checkpointer=saver)


@pytest.mark.parametrize("defer", [True, False])
def test_deferred_node_runs_once_at_the_end(defer):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"
        g = _graph(rt.m, saver, defer=defer)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.stream("second turn", g, {"log": ["again"]}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.state("get_state", g, cfg("t1"))
        rt.history("get_state_history", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


@pytest.mark.parametrize("defer", [True, False])
@pytest.mark.parametrize("tail", [False, True])
def test_a_join_into_a_deferred_node(defer, tail):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"
        g = _graph(rt.m, saver, defer=defer, join=True, tail=tail)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.stream("second turn", g, {"log": ["again"]}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.state("get_state", g, cfg("t1"))
        rt.history("get_state_history", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


def test_a_thread_waiting_on_a_deferred_join_resumes():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"
        g = _graph(rt.m, saver, defer=True, fail_in="c", join=True, tail=True)
        rt.stream("fails while the complete join waits", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("paused", g, cfg("t1"))
        rt.update("fix", g, cfg("t1"), {"log": ["fixed"]}, as_node="b2b")
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


def test_a_thread_waiting_on_a_deferred_node_resumes():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"
        g = _graph(rt.m, saver, defer=True, fail_in="b2b")
        rt.stream("fails before the deferred node's turn", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("paused", g, cfg("t1"))
        rt.update("fix", g, cfg("t1"), {"log": ["fixed"]}, as_node="b2")
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


def test_a_deferred_node_with_no_route_to_end_is_named():
    """Bad input: a deferred node every route from which leads back (never to END) is named at
    compile (a warning: an interrupt may still stop such a loop) and in the recursion error."""
    import warnings

    import lgtrace.graph as lt
    from lgtrace.errors import GraphRecursionError

    def build(loop: bool):
        b = lt.StateGraph(Log)
        b.add_node("a", lambda s: {"log": ["a"]})
        b.add_node("d", lambda s: {"log": ["d"]}, defer=True)
        b.add_edge(lt.START, "a")
        b.add_edge("a", "d")
        if loop:
            b.add_edge("d", "a")
        return b

    with pytest.warns(
        UserWarning, match=r"Node 'd' is deferred \(defer=True\) but no route from it reaches END"
    ):
        graph = build(loop=True).compile()
    with pytest.raises(GraphRecursionError) as info:
        graph.invoke({"log": []}, {"recursion_limit": 6})
    assert "Deferred node(s) 'd' have no route to END" in "\n".join(info.value.__notes__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(loop=False).compile().invoke({"log": []}) == {"log": ["a", "d"]}
