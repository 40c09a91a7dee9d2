"""Many runs, cancellation and back-pressure under ``astream`` (issue #9, items 7-10).

Sync nodes under ``astream`` share the event loop's executor (bounded threads however
many runs); cancelling the consumer returns without waiting for a sync node; an async
node can ``await writer(x)`` to be back-pressured; ``max_concurrency`` bounds a step.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest

from lgtrace.errors import RunCancelled
from lgtrace.graph import START, StateGraph
from lgtrace.runtime.drive import STREAM_BUFFER
from lgtrace.types import StreamWriter


class S(TypedDict):
    log: Annotated[list, operator.add]


def _chain(*fns: Any) -> Any:
    g = StateGraph(S)
    prev = START
    for i, fn in enumerate(fns):
        g.add_node(f"n{i}", fn)
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    return g.compile()


async def test_many_runs_with_sync_nodes_share_a_bounded_executor():
    def node(s):
        time.sleep(0.005)
        return {"log": ["x"]}

    app = _chain(node, node)
    before = threading.active_count()
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, threading.active_count())
            await asyncio.sleep(0.002)

    async def one() -> list[Any]:
        return [c async for c in app.astream({"log": []}, stream_mode="values")]

    sampler = asyncio.create_task(sample())
    results = await asyncio.gather(*(one() for _ in range(300)))
    done.set()
    await sampler
    assert all(r[-1] == {"log": ["x", "x"]} for r in results)
    # the loop's default executor: at most min(32, cpu + 4) threads, whatever the number of runs
    assert peak - before <= 32


async def test_cancelling_the_consumer_does_not_wait_for_a_running_sync_node():
    after_cancel: dict[str, Any] = {}
    started = threading.Event()

    def slow(s, writer: StreamWriter):
        started.set()
        time.sleep(0.5)
        try:
            writer("after")
        except BaseException as exc:
            after_cancel["writer"] = type(exc)
            raise
        return {"log": ["slow"]}

    ran_next = threading.Event()

    def nxt(s):
        ran_next.set()
        return {"log": ["next"]}

    app = _chain(slow, nxt)
    got: list[Any] = []

    async def consume() -> None:
        async for c in app.astream({"log": []}, stream_mode=["custom", "updates"]):
            got.append(c)

    task = asyncio.create_task(consume())
    await asyncio.to_thread(started.wait, 2)
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - t0 < 0.1
    await asyncio.sleep(0.7)  # the thread finished meanwhile: what it did after the cancel is dropped
    assert after_cancel == {"writer": RunCancelled}
    assert not ran_next.is_set()
    assert got == []


async def test_await_writer_bounds_an_async_producer_by_the_stream_buffer():
    produced = 0

    async def producer(s, writer: StreamWriter):
        nonlocal produced
        for i in range(4 * STREAM_BUFFER):
            produced = i + 1
            await writer(i)
        return {"log": ["done"]}

    app = _chain(producer)
    ahead = 0
    async for mode, chunk in app.astream({"log": []}, stream_mode=["custom", "updates"]):
        if mode == "custom":
            ahead = max(ahead, produced - chunk)
            if chunk % 64 == 0:
                await asyncio.sleep(0.001)  # a slow consumer
    assert produced == 4 * STREAM_BUFFER
    # the channel holds at most STREAM_BUFFER events and the consumer one drained batch
    assert ahead <= 2 * STREAM_BUFFER + 2


def test_await_writer_is_harmless_when_not_awaited_and_under_stream():
    def node(s, writer: StreamWriter):
        for i in range(3):
            writer(i)  # sync code: the awaitable it returns is ignored
        return {"log": ["n"]}

    assert list(_chain(node).stream({"log": []}, stream_mode="custom")) == [0, 1, 2]


def _fan_out_probe(n: int, use_async: bool) -> tuple[Any, dict[str, int]]:
    probe = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def enter() -> None:
        with lock:
            probe["now"] += 1
            probe["peak"] = max(probe["peak"], probe["now"])

    def leave() -> None:
        with lock:
            probe["now"] -= 1

    def make(name: str) -> Any:
        if use_async:

            async def node(s):
                enter()
                await asyncio.sleep(0.02)
                leave()
                return {"log": [name]}
        else:

            def node(s):
                enter()
                time.sleep(0.02)
                leave()
                return {"log": [name]}

        return node

    g = StateGraph(S)
    for i in range(n):
        g.add_node(f"p{i}", make(f"p{i}"))
        g.add_edge(START, f"p{i}")
    return g.compile(), probe


@pytest.mark.parametrize("use_async", [False, True], ids=["stream", "astream"])
def test_max_concurrency_bounds_the_tasks_of_a_step(use_async):
    app, probe = _fan_out_probe(6, use_async)
    config = {"max_concurrency": 2}
    run = app.ainvoke if use_async else app.invoke
    out = asyncio.run(run({"log": []}, config)) if use_async else run({"log": []}, config)
    assert sorted(out["log"]) == [f"p{i}" for i in range(6)]
    assert probe["peak"] == 2


@pytest.mark.parametrize("value", [0, -1])
def test_max_concurrency_below_one_is_rejected(value):
    app, _ = _fan_out_probe(2, False)
    with pytest.raises(ValueError, match="max_concurrency"):
        app.invoke({"log": []}, {"max_concurrency": value})
