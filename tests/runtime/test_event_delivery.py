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
import sys
import time

import pytest

from lgtrace.config import get_stream_writer

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
