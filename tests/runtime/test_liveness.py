"""Events reach the consumer while the graph is still running (not batched at step end)."""

import asyncio
import threading
import time

from lgtrace.types import StreamWriter

from .conftest import chain, fan_out


def _sync_writer_node(done: threading.Event):
    def node(state, writer: StreamWriter):
        writer({"i": 1})
        time.sleep(0.3)
        writer({"i": 2})
        done.set()
        return {"x": 1}

    return node


def test_custom_event_arrives_before_node_ends_sync_stream():
    done = threading.Event()
    graph = chain(("work", _sync_writer_node(done)))
    seen = [(chunk, done.is_set()) for chunk in graph.stream({"x": 0}, stream_mode="custom")]
    assert [c for c, _ in seen] == [{"i": 1}, {"i": 2}]
    assert seen[0][1] is False, "first custom event was held back until the node ended"


def test_custom_event_arrives_before_async_node_ends_astream():
    done = asyncio.Event()

    async def node(state, writer: StreamWriter):
        writer({"i": 1})
        await asyncio.sleep(0.3)
        writer({"i": 2})
        done.set()
        return {"x": 1}

    graph = chain(("work", node))

    async def run():
        return [(c, done.is_set()) async for c in graph.astream({"x": 0}, stream_mode="custom")]

    seen = asyncio.run(run())
    assert [c for c, _ in seen] == [{"i": 1}, {"i": 2}]
    assert seen[0][1] is False


async def test_custom_event_arrives_before_sync_node_ends_astream():
    done = threading.Event()
    graph = chain(("work", _sync_writer_node(done)))
    seen = [(c, done.is_set()) async for c in graph.astream({"x": 0}, stream_mode="custom")]
    assert [c for c, _ in seen] == [{"i": 1}, {"i": 2}]
    assert seen[0][1] is False


def test_custom_events_then_update_in_order_with_several_modes():
    done = threading.Event()
    graph = chain(("work", _sync_writer_node(done)))
    seen = list(graph.stream({"x": 0}, stream_mode=["custom", "updates"]))
    assert seen == [("custom", {"i": 1}), ("custom", {"i": 2}), ("updates", {"work": {"x": 1}})]


def _fast_slow(slow_done, sleep):
    def fast(state):
        return {"x": 1}

    def slow(state):
        sleep(0.3)
        slow_done.set()
        return {}

    return fast, slow


def test_update_of_fast_task_arrives_before_slow_task_ends_sync():
    slow_done = threading.Event()
    fast, slow = _fast_slow(slow_done, time.sleep)
    graph = fan_out(("fast", fast), ("slow", slow))
    seen = [(u, slow_done.is_set()) for u in graph.stream({"x": 0}, stream_mode="updates")]
    assert seen[0] == ({"fast": {"x": 1}}, False)
    assert seen[1][0] == {"slow": None}


async def test_update_of_fast_task_arrives_before_slow_task_ends_astream_sync_nodes():
    slow_done = threading.Event()
    fast, slow = _fast_slow(slow_done, time.sleep)
    graph = fan_out(("fast", fast), ("slow", slow))
    seen = [(u, slow_done.is_set()) async for u in graph.astream({"x": 0}, stream_mode="updates")]
    assert seen[0] == ({"fast": {"x": 1}}, False)
    assert [u for u, _ in seen][1] == {"slow": None}


async def test_update_of_fast_task_arrives_before_slow_task_ends_astream_async_nodes():
    slow_done = asyncio.Event()

    async def fast(state):
        return {"x": 1}

    async def slow(state):
        await asyncio.sleep(0.3)
        slow_done.set()
        return {}

    graph = fan_out(("fast", fast), ("slow", slow))
    seen = [(u, slow_done.is_set()) async for u in graph.astream({"x": 0}, stream_mode="updates")]
    assert seen[0] == ({"fast": {"x": 1}}, False)
    assert [u for u, _ in seen][1] == {"slow": None}


def _nested(node):
    from lgtrace.graph import START, StateGraph

    from .conftest import XState

    inner = chain(("work", node))
    g = StateGraph(XState)
    g.add_node("inner", inner)
    g.add_edge(START, "inner")
    return g.compile()


def test_custom_event_of_subgraph_node_arrives_before_it_ends():
    done = threading.Event()
    graph = _nested(_sync_writer_node(done))
    seen = [(ns, c, done.is_set()) for ns, c in graph.stream({"x": 0}, stream_mode="custom", subgraphs=True)]
    assert [c for _, c, _ in seen] == [{"i": 1}, {"i": 2}]
    assert seen[0][0][0].startswith("inner:")
    assert seen[0][2] is False


async def test_custom_event_of_async_subgraph_node_arrives_before_it_ends():
    done = asyncio.Event()

    async def node(state, writer: StreamWriter):
        writer({"i": 1})
        await asyncio.sleep(0.3)
        done.set()
        return {"x": 1}

    graph = _nested(node)
    seen = [
        (c, done.is_set()) async for _, c in graph.astream({"x": 0}, stream_mode="custom", subgraphs=True)
    ]
    assert seen == [({"i": 1}, False)]
