"""Leaving a stream early stops the run: workers end, no further step starts."""

import asyncio
import contextlib
import gc
import operator
import threading
import time
from typing import Annotated, TypedDict

import pytest

from lgtrace.errors import RunCancelled
from lgtrace.graph import START, StateGraph
from lgtrace.types import StreamWriter

from .conftest import await_no_lgtrace_threads, lgtrace_threads, other_tasks, wait_no_lgtrace_threads

TOTAL = 100  # iterations a writer node would do if never stopped (~2 s)
NODES = ("w1", "w2", "w3")


class Acc(TypedDict, total=False):
    log: Annotated[list, operator.add]


class Probe:
    """What the nodes of one run did."""

    def __init__(self):
        self.lock = threading.Lock()
        self.iterations: dict[str, int] = {}
        self.errors: dict[str, BaseException] = {}
        self.downstream_ran = threading.Event()

    def record(self, name, count, error=None):
        with self.lock:
            self.iterations[name] = count
            if error is not None:
                self.errors[name] = error


def _sync_writer(name, probe):
    def node(state, writer: StreamWriter):
        count = 0
        try:
            for count in range(1, TOTAL + 1):
                writer({name: count})
                time.sleep(0.02)
        except BaseException as exc:
            probe.record(name, count, exc)
            raise
        probe.record(name, count)
        return {"log": [name]}

    return node


def _async_writer(name, probe):
    async def node(state, writer: StreamWriter):
        count = 0
        try:
            for count in range(1, TOTAL + 1):
                writer({name: count})
                await asyncio.sleep(0.02)
        except BaseException as exc:
            probe.record(name, count, exc)
            raise
        probe.record(name, count)
        return {"log": [name]}

    return node


def _graph(probe, make_node):
    g = StateGraph(Acc)
    for name in NODES:
        g.add_node(name, make_node(name, probe))
        g.add_edge(START, name)

    def downstream(state):
        probe.downstream_ran.set()
        return {"log": ["downstream"]}

    g.add_node("downstream", downstream)
    g.add_edge(list(NODES), "downstream")
    return g.compile()


def _assert_stopped(probe, error_types, *, all_started=True):
    # every writer node that was running was stopped well before finishing its loop
    # (with all_started=False, a node whose task had not started yet may never run)
    deadline = time.monotonic() + 2
    while all_started and len(probe.iterations) < len(NODES) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    assert sorted(probe.iterations) == sorted(NODES) if all_started else probe.iterations
    assert set(probe.iterations) <= set(NODES)
    assert all(n < TOTAL for n in probe.iterations.values()), probe.iterations
    assert sorted(probe.errors) == sorted(probe.iterations)
    assert all(isinstance(e, error_types) for e in probe.errors.values()), probe.errors
    time.sleep(0.1)
    assert not probe.downstream_ran.is_set()


# -- sync stream ---------------------------------------------------------------------------


def test_break_with_closing_stops_threads_and_writers():
    probe = Probe()
    graph = _graph(probe, _sync_writer)
    with contextlib.closing(graph.stream({}, stream_mode="custom")) as events:
        first = next(iter(events))
    assert isinstance(first, dict)
    assert wait_no_lgtrace_threads() == []
    _assert_stopped(probe, RunCancelled)


def test_break_then_explicit_close():
    probe = Probe()
    graph = _graph(probe, _sync_writer)
    events = graph.stream({}, stream_mode=["custom", "updates"])
    assert next(events)[0] == "custom"
    events.close()
    assert wait_no_lgtrace_threads() == []
    _assert_stopped(probe, RunCancelled)


def test_break_then_garbage_collected():
    probe = Probe()
    graph = _graph(probe, _sync_writer)
    events = graph.stream({}, stream_mode="custom")
    for _ in events:
        break
    del events
    gc.collect()
    assert wait_no_lgtrace_threads() == []
    _assert_stopped(probe, RunCancelled)


def test_lgtrace_threads_are_visible_while_running():
    """Guards the thread-name check above: workers really are named lgtrace-task*."""
    probe = Probe()
    graph = _graph(probe, _sync_writer)
    with contextlib.closing(graph.stream({}, stream_mode="custom")) as events:
        next(events)
        assert lgtrace_threads()
    assert wait_no_lgtrace_threads() == []


# -- astream -------------------------------------------------------------------------------


@pytest.mark.parametrize("make_node", [_async_writer, _sync_writer], ids=["async-nodes", "sync-nodes"])
async def test_astream_aclose_cancels_tasks(make_node):
    probe = Probe()
    graph = _graph(probe, make_node)
    events = graph.astream({}, stream_mode="custom")
    async for _ in events:
        break
    await events.aclose()
    assert await other_tasks() == set()
    assert await await_no_lgtrace_threads() == []
    if make_node is _async_writer:
        _assert_stopped(probe, asyncio.CancelledError)
    else:
        _assert_stopped(probe, RunCancelled)


@pytest.mark.parametrize("make_node", [_async_writer, _sync_writer], ids=["async-nodes", "sync-nodes"])
async def test_cancelling_the_consumer_task_cancels_the_run(make_node):
    probe = Probe()
    graph = _graph(probe, make_node)
    got_first = asyncio.Event()
    received = []

    async def consume():
        async for ev in graph.astream({}, stream_mode="custom"):
            received.append(ev)
            got_first.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 2)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert await other_tasks() == set()
    assert await await_no_lgtrace_threads() == []
    if make_node is _async_writer:
        _assert_stopped(probe, asyncio.CancelledError)
    else:
        _assert_stopped(probe, RunCancelled)
    assert len(received) < len(NODES) * TOTAL


# -- nested graphs -------------------------------------------------------------------------


def _parent_of(inner, probe):
    after_ran = threading.Event()

    def after(state):
        after_ran.set()
        return {"log": ["after"]}

    g = StateGraph(Acc)
    g.add_node("inner", inner)
    g.add_node("after", after)
    g.add_edge(START, "inner")
    g.add_edge("inner", "after")
    return g.compile(), after_ran


def test_break_stops_a_running_subgraph():
    probe = Probe()
    graph, after_ran = _parent_of(_graph(probe, _sync_writer), probe)
    with contextlib.closing(graph.stream({}, stream_mode="custom", subgraphs=True)) as events:
        for ns, _ in events:
            assert ns and ns[0].startswith("inner:")
            break
    assert wait_no_lgtrace_threads() == []
    # the first inner writer to raise RunCancelled fails the inner step at once: an inner
    # task that had not started yet is cancelled instead of started
    _assert_stopped(probe, RunCancelled, all_started=False)
    assert not after_ran.is_set()


async def test_aclose_stops_a_running_async_subgraph():
    probe = Probe()
    graph, after_ran = _parent_of(_graph(probe, _async_writer), probe)
    events = graph.astream({}, stream_mode="custom", subgraphs=True)
    async for _ in events:
        break
    await events.aclose()
    assert await other_tasks() == set()
    assert await await_no_lgtrace_threads() == []
    _assert_stopped(probe, asyncio.CancelledError)
    assert not after_ran.is_set()
