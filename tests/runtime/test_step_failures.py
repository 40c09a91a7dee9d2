"""A failing task ends its step as in LangGraph: first error in time, fail fast, and
what is streamed before the error (issue #9, items 1-4).

Differential where LangGraph's behaviour is deterministic; under sync ``stream`` lgtrace
stops the siblings of a failed task (LangGraph lets them run and streams their events),
which is pinned here as an intentional difference.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from typing import Annotated, Any, TypedDict

import langgraph.config as lg_config
import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest

import lgtrace.config as lt_config
import lgtrace.graph as lt_graph
import lgtrace.types as lt_types
from lgtrace.errors import InvalidUpdateError, RunCancelled

from ..differential.normalize import freeze, renumber_ids

IMPLS = {
    "langgraph": (lg_graph, lg_types, lg_config),
    "lgtrace": (lt_graph, lt_types, lt_config),
}


class S(TypedDict):
    log: Annotated[list, operator.add]


def _run(app: Any, modes: Any, *, use_async: bool) -> tuple[list[Any], BaseException | None, float]:
    events: list[Any] = []
    error: BaseException | None = None
    t0 = time.perf_counter()
    if use_async:

        async def consume() -> None:
            async for e in app.astream({"log": []}, stream_mode=modes):
                events.append(e)

        try:
            asyncio.run(consume())
        except Exception as exc:
            error = exc
    else:
        try:
            for e in app.stream({"log": []}, stream_mode=modes):
                events.append(e)
        except Exception as exc:
            error = exc
    return events, error, time.perf_counter() - t0


def _both(build: Any, modes: Any, *, use_async: bool) -> dict[str, tuple[list[Any], Any, float]]:
    out = {}
    for name, (g, t, c) in IMPLS.items():
        events, error, took = _run(build(g, t, c), modes, use_async=use_async)
        out[name] = (renumber_ids(freeze(events)), (type(error), str(error)) if error else None, took)
    return out


def _same(results: dict[str, Any]) -> None:
    lg, lt = results["langgraph"], results["lgtrace"]
    assert lt[1] == lg[1], f"errors differ: lgtrace {lt[1]} vs langgraph {lg[1]}"
    assert lt[0] == lg[0]


# -- item 1: fail fast ---------------------------------------------------------------------


def _fail_next_to_slow(g: Any, t: Any, c: Any, probe: dict[str, Any] | None = None) -> Any:
    async def fail(s):
        await asyncio.sleep(0.05)
        raise ValueError("fail")

    async def slow(s):
        c.get_stream_writer()("early")
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            if probe is not None:
                probe["cancelled"] = True
            raise
        c.get_stream_writer()("late")
        return {"log": ["slow"]}

    async def quick(s):
        return {"log": ["quick"]}

    b = g.StateGraph(S).add_node("fail", fail).add_node("slow", slow).add_node("quick", quick)
    for n in ("fail", "slow", "quick"):
        b.add_edge(g.START, n)
    return b.compile()


@pytest.mark.parametrize("modes", [["custom", "updates"], ["custom", "updates", "tasks", "debug", "values"]])
def test_astream_fails_fast_and_streams_only_what_came_before(modes):
    results = _both(_fail_next_to_slow, modes, use_async=True)
    _same(results)
    assert results["lgtrace"][2] < 0.35  # the 0.5 s sibling is cancelled, not awaited
    events = results["lgtrace"][0]
    assert any("early" in repr(e) for e in events)
    assert not any("late" in repr(e) or "{'slow': {'log'" in repr(e) for e in events)


def test_astream_cancels_the_failed_steps_siblings():
    probe: dict[str, Any] = {}
    app = _fail_next_to_slow(lt_graph, lt_types, lt_config, probe)
    _, error, _ = _run(app, "updates", use_async=True)
    assert isinstance(error, ValueError)
    assert probe == {"cancelled": True}


def test_stream_stops_sync_siblings_and_drops_their_later_events():
    """Fail fast under ``stream`` too: the sibling is told to stop (its writer raises
    ``RunCancelled``) and joined, and only what came before the failure is delivered.
    (LangGraph lets a sync sibling run on and, depending on timing, streams its events
    after the failure; lgtrace does not, so this is not compared with it.)"""
    seen: dict[str, Any] = {}
    failed_at = threading.Event()

    def build(g: Any, t: Any, c: Any) -> Any:
        def fail(s):
            time.sleep(0.05)
            failed_at.set()
            raise ValueError("fail")

        def slow(s):
            writer = c.get_stream_writer()
            writer("early")
            failed_at.wait(2)
            time.sleep(0.1)  # the consumer has seen the failure by now
            try:
                writer("late")
            except BaseException as exc:
                seen["writer_raised"] = type(exc)
                raise
            return {"log": ["slow"]}

        b = g.StateGraph(S).add_node("fail", fail).add_node("slow", slow)
        b.add_edge(g.START, "fail").add_edge(g.START, "slow")
        return b.compile()

    events, error, _ = _run(build(lt_graph, lt_types, lt_config), ["custom", "updates"], use_async=False)
    assert isinstance(error, ValueError)
    assert events == [("custom", "early")]
    assert seen == {"writer_raised": RunCancelled}  # joined: the sibling ended before the raise


# -- item 2: the first error in time ------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_error_raised_is_the_first_in_time(use_async):
    def build(g: Any, t: Any, c: Any) -> Any:
        if use_async:

            async def early(s):
                raise ValueError("early")

            async def late(s):
                await asyncio.sleep(0.05)
                raise KeyError("late")
        else:

            def early(s):
                raise ValueError("early")

            def late(s):
                time.sleep(0.05)
                raise KeyError("late")

        b = g.StateGraph(S).add_node("early", early).add_node("late", late)
        b.add_conditional_edges(g.START, lambda s: [t.Send("late", {"log": []}), "early"])
        return b.compile()

    results = _both(build, ["updates", "tasks"], use_async=use_async)
    _same(results)
    assert results["lgtrace"][1] == (ValueError, "early")


# -- item 3: a conditional edge that raises -----------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("modes", [["updates", "tasks", "values"], "debug"])
def test_a_raising_conditional_edge_streams_its_nodes_update_first(use_async, modes):
    def build(g: Any, t: Any, c: Any) -> Any:
        def route(s):
            raise ValueError("route")

        b = g.StateGraph(S).add_node("a", lambda s: {"log": ["a"]}).add_node("b", lambda s: {"log": ["b"]})
        b.add_edge(g.START, "a").add_conditional_edges("a", route, ["b"])
        return b.compile()

    results = _both(build, modes, use_async=use_async)
    _same(results)
    assert results["lgtrace"][1] == (ValueError, "route")


# -- item 4: a reducer that raises --------------------------------------------------------


def _bad_reducer(parallel: bool) -> Any:
    def build(g: Any, t: Any, c: Any) -> Any:
        def slow(s):
            time.sleep(0.05)
            return {"log": ["slow"]}

        b = g.StateGraph(S).add_node("bad", lambda s: {"log": 5})
        b.add_edge(g.START, "bad")
        if parallel:
            b.add_node("slow", slow).add_edge(g.START, "slow")
        return b.compile()

    return build


@pytest.mark.parametrize("parallel", [False, True], ids=["alone", "with-sibling"])
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "modes",
    # with a live mode (custom, messages) the lone task runs while the consumer streams and its
    # update is delivered before the reducer fails; without, it is not: both as in LangGraph
    [["updates", "tasks", "values"], ["updates", "custom"], ["updates", "messages"]],
    ids=["inline", "custom", "messages"],
)
def test_a_raising_reducer_streams_as_langgraph(parallel, use_async, modes):
    results = _both(_bad_reducer(parallel), modes, use_async=use_async)
    _same(results)


def test_a_raising_reducer_names_the_key_and_the_node():
    app = _bad_reducer(False)(lt_graph, lt_types, lt_config)
    with pytest.raises(TypeError) as info:
        app.invoke({"log": []})
    note = "\n".join(getattr(info.value, "__notes__", []))
    assert "'log'" in note and "'bad'" in note


# -- a failing subgraph stops only its own tasks ------------------------------------------


def test_a_caught_subgraph_failure_does_not_stop_the_parent_run():
    """The stop flag of a failed nested run is its own: the parent's other tasks go on."""
    ran: list[str] = []

    def sub_fail(s):
        raise ValueError("inner")

    def sub_slow(s, writer: lt_types.StreamWriter):
        time.sleep(0.05)
        writer("sub-late")  # raises RunCancelled: its own run failed
        return {"log": ["never"]}

    sub = lt_graph.StateGraph(S).add_node("f", sub_fail).add_node("s", sub_slow)
    sub = sub.add_edge(lt_graph.START, "f").add_edge(lt_graph.START, "s").compile()

    def calls_sub(s):
        try:
            sub.invoke({"log": []})
        except ValueError:
            ran.append("caught")
        return {"log": ["caller"]}

    def sibling(s, writer: lt_types.StreamWriter):
        time.sleep(0.1)
        writer("parent-sibling")  # the parent run is not stopped
        return {"log": ["sibling"]}

    app = lt_graph.StateGraph(S).add_node("caller", calls_sub).add_node("sibling", sibling)
    app = app.add_edge(lt_graph.START, "caller").add_edge(lt_graph.START, "sibling").compile()
    events = list(app.stream({"log": []}, stream_mode=["custom", "values"]))
    assert ran == ["caught"]
    assert ("custom", "parent-sibling") in events
    assert events[-1] == ("values", {"log": ["caller", "sibling"]})


def test_applying_a_step_is_all_or_nothing():
    """A failing reducer or a conflicting write leaves the run's snapshot as it was
    (what a checkpointer would save must never be half a step)."""
    from lgtrace.runtime.run import GraphRun, Task
    from lgtrace.stream.channel import EventChannel

    class T(TypedDict):
        a: int
        log: Annotated[list, operator.add]

    app = lt_graph.StateGraph(T).add_node("x", lambda s: None).add_edge(lt_graph.START, "x").compile()
    run = GraphRun(app, {}, local_modes=frozenset(), channel=EventChannel(), parent=None)
    run.values.update({"a": 1, "log": ["old"]})
    before = dict(run.values)
    node = app.nodes["x"]
    good = Task("t1", "x", node, ("__pregel_pull", "x"), (), 1, None, {}, writes=[("a", 2)], goto=["x"])
    bad = Task("t2", "y", node, ("__pregel_pull", "y"), (), 1, None, {}, writes=[("log", 5)])
    with pytest.raises(TypeError):
        run.apply([good, bad])
    assert run.values == before and run.branches == set()
    conflict = Task("t3", "z", node, ("__pregel_pull", "z"), (), 1, None, {}, writes=[("a", 3)])
    with pytest.raises(InvalidUpdateError):
        run.apply([good, conflict])
    assert run.values == before and run.branches == set()
