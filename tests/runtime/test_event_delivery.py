"""Many producers, one consumer: every event arrives exactly once, in each producer's order.

Parallel nodes run in worker threads (sync nodes, under ``stream`` and ``astream``)
and all write into the run's event channel at once, far more events than its
bounded buffer holds, so appends race with the consumer going to sleep, waking
and draining, and producers block for space and resume. A lost wake-up would hang
the test; a lost, duplicated or reordered event fails the per-node sequence check.
The interpreter switches threads every few microseconds here instead of every
5 ms, so the interleavings that matter actually happen.
"""

import asyncio
import inspect
import sys
import threading
import time

import pytest

from lgtrace.config import get_stream_writer
from lgtrace.stream.channel import EventChannel

from .conftest import fan_out

pytestmark = pytest.mark.timeout(60)  # a lost wake-up hangs: fail instead

PRODUCERS = 6
EVENTS = 5_000  # per producer: 30k in all, ~30x the top-level buffer


@pytest.fixture(autouse=True)
def _switch_threads_often():
    before = sys.getswitchinterval()
    sys.setswitchinterval(5e-6)
    yield
    sys.setswitchinterval(before)


def _writer(name: str, pause_every: int = 0):
    def node(state):
        write = get_stream_writer()
        for i in range(EVENTS):
            write((name, i))
            if pause_every and i % pause_every == 0:
                time.sleep(0)  # let the consumer catch up and fall asleep again
        return {}

    return node


def _graph(pause_every: int = 0):
    return fan_out(*((f"p{k}", _writer(f"p{k}", pause_every)) for k in range(PRODUCERS)))


def _check(events: list[tuple[str, int]]) -> None:
    per_node: dict[str, list[int]] = {}
    for name, i in events:
        per_node.setdefault(name, []).append(i)
    assert sorted(per_node) == [f"p{k}" for k in range(PRODUCERS)]
    for name, seq in per_node.items():
        assert seq == list(range(EVENTS)), f"{name}: events lost, repeated or reordered"


@pytest.mark.parametrize("pause_every", [0, 50])
def test_parallel_writers_sync_stream(pause_every):
    _check(list(_graph(pause_every).stream({"x": 0}, stream_mode="custom")))


def test_parallel_writers_sync_stream_slow_consumer():
    events = []
    for ev in _graph().stream({"x": 0}, stream_mode="custom"):
        events.append(ev)
        if len(events) % 1000 == 0:
            time.sleep(0.005)  # producers fill the buffer and wait for space
    _check(events)


@pytest.mark.parametrize("pause_every", [0, 50])
def test_parallel_writers_astream(pause_every):
    async def main():
        events = []
        async for ev in _graph(pause_every).astream({"x": 0}, stream_mode="custom"):
            events.append(ev)
            if len(events) % 1000 == 0:
                await asyncio.sleep(0.005)
        return events

    _check(asyncio.run(main()))


# -- a producer preempted anywhere in the async wake-up ---------------------------------------


def _wake_lines() -> list[int]:
    lines, start = inspect.getsourcelines(EventChannel._wake_async)
    code = [start + i for i, text in enumerate(lines) if text.strip() and not text.strip().startswith("#")]
    return code[1:]  # every line of the body


def _frozen_producer_scenario(line: int) -> list[str] | None:
    """Thread A puts while the async consumer waits and is frozen on ``line`` of the wake-up.
    Another producer's put still reaches the consumer (at the latest when A resumes), and a
    wait the consumer starts while A is frozen is still woken after A resumes: a stale
    producer must not disarm the consumer's next wait (it hung ``astream`` once)."""
    paused, resume = threading.Event(), threading.Event()

    def pause_on_line(frame, event, arg):
        if frame.f_code is EventChannel._wake_async.__code__:

            def local(frame, event, arg):
                if event == "line" and frame.f_lineno == line:
                    paused.set()
                    resume.wait(5)
                return local

            return local
        return None

    def producer_a(channel):
        sys.settrace(pause_on_line)
        try:
            channel.put("a")
        finally:
            sys.settrace(None)

    async def scenario():
        loop = asyncio.get_running_loop()
        channel = EventChannel()
        channel.bind_async()
        first = asyncio.ensure_future(channel.aget_all())
        await asyncio.sleep(0.01)  # the consumer waits
        a = threading.Thread(target=producer_a, args=(channel,))
        a.start()
        if not await loop.run_in_executor(None, paused.wait, 0.5):
            resume.set()
            a.join()
            first.cancel()
            return None  # a producer thread never runs this line (another branch)
        b = threading.Thread(target=channel.put, args=("b",))
        b.start()
        got = []
        done, _ = await asyncio.wait([first], timeout=0.2)  # B may need a lock A holds
        if done:
            # woken while A is still frozen: wait again before A resumes, so a stale A
            # that disarmed this wait would leave "c" below undelivered
            got += first.result()
            waiting = asyncio.ensure_future(channel.aget_all())
            await asyncio.sleep(0.01)
        else:
            waiting = first
        resume.set()
        await loop.run_in_executor(None, a.join)
        await loop.run_in_executor(None, b.join)
        await loop.run_in_executor(None, channel.put, "c")
        while len(got) < 3:
            got += await asyncio.wait_for(waiting, 2)
            waiting = asyncio.ensure_future(channel.aget_all())
        waiting.cancel()
        return sorted(got)

    return asyncio.run(scenario())


def test_async_consumer_is_woken_whatever_line_a_producer_thread_pauses_on():
    outcomes = {line: _frozen_producer_scenario(line) for line in _wake_lines()}
    reached = {line: got for line, got in outcomes.items() if got is not None}
    # the lines of the other-thread branch (lock, read, clear, schedule) at least
    assert len(reached) >= 4, f"a producer thread reached too few lines: {sorted(reached)}"
    assert all(got == ["a", "b", "c"] for got in reached.values()), reached
