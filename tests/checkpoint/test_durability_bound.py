"""``durability="async"`` keeps a bounded backlog (issue #10): a 200-step run on a saver
whose ``put`` takes 10 ms runs ahead of the saver by at most a few checkpoints
(``saver.MAX_QUEUED_PUTS``), not by the whole run, and every checkpoint still gets saved,
in order, as one parent chain. ``durability="exit"`` saves exactly one checkpoint."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.checkpoint.saver import MAX_QUEUED_PUTS

from .graphs import cfg, counter_loop

STEPS = 200
PUT_SECONDS = 0.01


class SlowSaver(InMemorySaver):
    """``put`` (and ``aput``, without blocking the loop) takes ``PUT_SECONDS``; counts
    checkpoints handed to the saver and saved, and the steps in the order they were put."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.started = 0
        self.saved = 0
        self.steps: list[int] = []

    def _begin(self, metadata: Any) -> None:
        with self.lock:
            self.started += 1
            self.steps.append(metadata["step"])

    def _end(self) -> None:
        with self.lock:
            self.saved += 1

    def put(self, config, checkpoint, metadata, new_versions):
        self._begin(metadata)
        time.sleep(PUT_SECONDS)
        try:
            return super().put(config, checkpoint, metadata, new_versions)
        finally:
            self._end()

    async def aput(self, config, checkpoint, metadata, new_versions):
        self._begin(metadata)
        await asyncio.sleep(PUT_SECONDS)
        try:
            return InMemorySaver.put(self, config, checkpoint, metadata, new_versions)
        finally:
            self._end()


def _graph(saver: SlowSaver, backlog: list[int]) -> Any:
    """The counter loop; each node call records how many checkpoints the run has made that
    the saver has not finished saving (all checkpoints before this step's: input, start and
    one per earlier step)."""

    def probe(step: int) -> None:
        backlog.append((step + 1) - saver.saved)

    return counter_loop(saver, STEPS, probe=probe)


def _check_chain(saver: SlowSaver, config: Any) -> None:
    tuples = sorted(saver.list(config), key=lambda t: t.metadata["step"])
    assert [t.metadata["step"] for t in tuples] == list(range(-1, STEPS + 1))
    for parent, child in itertools.pairwise(tuples):
        assert (
            child.parent_config["configurable"]["checkpoint_id"]
            == parent.config["configurable"]["checkpoint_id"]
        )
    assert tuples[-1].checkpoint["channel_values"]["n"] == STEPS


def _check_async(saver: SlowSaver, backlog: list[int], config: Any) -> None:
    assert len(backlog) == STEPS
    # the run went ahead of the slow saver (it is not "sync") ...
    assert max(backlog) >= 2, backlog
    # ... by a bounded number of checkpoints: those queued, one being saved, the current step's
    assert max(backlog) <= MAX_QUEUED_PUTS + 1, backlog
    assert saver.steps == list(range(-1, STEPS + 1)), "checkpoints were not put in order"
    assert saver.saved == saver.started == STEPS + 2
    _check_chain(saver, config)


RECURSION = {"recursion_limit": STEPS + 10}


def test_async_durability_is_bounded_stream() -> None:
    saver, backlog = SlowSaver(), []
    g = _graph(saver, backlog)
    config = {**cfg("t"), **RECURSION}
    values = list(g.stream({"n": 0}, config, stream_mode="values", durability="async"))
    assert values[-1] == {"n": STEPS}
    _check_async(saver, backlog, config)


async def test_async_durability_is_bounded_astream() -> None:
    saver, backlog = SlowSaver(), []
    g = _graph(saver, backlog)
    config = {**cfg("t"), **RECURSION}
    values = [v async for v in g.astream({"n": 0}, config, stream_mode="values", durability="async")]
    assert values[-1] == {"n": STEPS}
    _check_async(saver, backlog, config)


@pytest.mark.parametrize("api", ["stream", "astream"])
async def test_exit_durability_saves_once(api: str) -> None:
    saver, backlog = SlowSaver(), []
    g = _graph(saver, backlog)
    config = {**cfg("t"), **RECURSION}
    if api == "stream":
        out = g.invoke({"n": 0}, config, durability="exit")
    else:
        out = await g.ainvoke({"n": 0}, config, durability="exit")
    assert out == {"n": STEPS}
    assert saver.steps == [STEPS]
    (only,) = list(saver.list(config))
    assert only.checkpoint["channel_values"]["n"] == STEPS
    assert g.get_state(config).values == {"n": STEPS}
