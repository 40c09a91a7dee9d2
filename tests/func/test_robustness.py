"""The functional API under load and when the consumer leaves: many calls that wait on calls
finish (a waiting thread runs a call nobody took yet, so the pool is never starved, where
LangGraph 1.2 hangs), and leaving a stream stops the calls under it."""

from __future__ import annotations

import asyncio
import threading
import time

from lgtrace.config import get_stream_writer
from lgtrace.func import entrypoint, task


@task
def leaf(x: int) -> int:
    time.sleep(0.002)
    return x


@task
def mid(x: int) -> int:
    return leaf(x).result() + 1


@entrypoint()
def wide(n: int) -> int:
    return sum(f.result() for f in [mid(i) for i in range(n)])


@entrypoint()
async def awide(n: int) -> int:
    return sum(await asyncio.gather(*[mid(i) for i in range(n)]))


def _run_with_deadline(fn, seconds: float = 30.0):
    """Run ``fn`` in a thread; a hang is a failure, not a stuck test run."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the run hung"
    return out[0]


def test_calls_waiting_on_calls_do_not_starve_the_pool():
    # 64 callers, each waiting on a call of its own: far more than the run's worker threads
    assert _run_with_deadline(lambda: wide.invoke(64)) == sum(range(64)) + 64
    assert _run_with_deadline(lambda: wide.invoke(64, {"max_concurrency": 2})) == sum(range(64)) + 64


def test_sync_calls_waiting_on_calls_under_astream():
    assert _run_with_deadline(lambda: asyncio.run(wide.ainvoke(64))) == sum(range(64)) + 64
    assert _run_with_deadline(lambda: asyncio.run(awide.ainvoke(64))) == sum(range(64)) + 64


@task
def chatty(i: int) -> int:
    write = get_stream_writer()
    for k in range(1000):
        write({"i": i, "k": k})
        time.sleep(0.001)
    return i


@entrypoint()
def fan_out(n: int) -> list[int]:
    return [f.result() for f in [chatty(i) for i in range(n)]]


def test_leaving_the_stream_stops_the_calls():
    before = threading.active_count()
    events = fan_out.stream(3, stream_mode="custom")
    next(events)
    started = time.monotonic()
    events.close()
    assert time.monotonic() - started < 1.0  # (1000 writes a call would take over 1 s)
    assert threading.active_count() == before  # the run's threads were joined


def test_cancelling_astream_stops_async_calls():
    @task
    async def achatty(i: int) -> int:
        for k in range(1000):
            get_stream_writer()({"k": k})
            await asyncio.sleep(0.001)
        return i

    @entrypoint()
    async def afan_out(n: int) -> list[int]:
        return await asyncio.gather(*[achatty(i) for i in range(n)])

    async def scenario() -> int:
        events = afan_out.astream(3, stream_mode="custom")
        await events.__anext__()
        await events.aclose()
        await asyncio.sleep(0.01)
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    assert asyncio.run(scenario()) == 0  # no call task left running
