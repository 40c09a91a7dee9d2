"""A saver that fails in the middle of a run (issue #10, bad input and faults).

Turn 1 of a thread runs on a healthy saver; turn 2 (a 5-node chain) runs on the same
storage through a saver whose ``put`` (or ``put_writes``) raises once, on its n-th call.
For each durability, under ``stream`` and ``astream``, on ``InMemorySaver`` and on a
SQLite file (``SqliteSaver`` / ``AsyncSqliteSaver``):

- the run fails with the saver's error (``exit`` saves once, at the end: its ``put``
  fails there; it saves no writes for a finished run, so a failing ``put_writes`` is
  never called);
- the events delivered are a prefix of an unbroken run's events (under ``sync``, exactly
  those of the steps before the failure: the next step does not start unsaved);
- the saver is not called again after the failed call, so the thread keeps its last good
  checkpoint: its history is the unbroken run's history up to the last checkpoint saved
  before the failure (no hole), and ``get_state`` reads it;
- a healthy saver on the same storage continues the thread (``invoke(None)``; under
  ``exit``, where nothing of turn 2 was saved, turn 2 is sent again) to the unbroken
  run's final state and history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.checkpoint.sqlite.aio import AsyncSqliteSaver

from .graphs import (
    Boom,
    Fault,
    FaultyAsyncSqliteSaver,
    FaultyMemorySaver,
    FaultySqliteSaver,
    agaps,
    ahistory,
    cfg,
    chain,
    gaps,
    history,
    memory_twin,
    sqlite_conn,
)

MODES = ["updates", "values"]
TURN1 = {"x": 1}
TURN2 = {"x": 100}
NODES = 5
FAILING_NODE = "n2"
"""The node whose step is not saved: put #4 of turn 2 is the checkpoint after it (input,
step start, n1, n2), put_writes #3 its writes (__start__, n1, n2)."""
DELAY = 0.02
"""Each node of the failing run takes this long (as a model call would): the saver fails
while the run is in its next node, not after the run ended."""
SAVED_OF_TURN2 = 3
"""Checkpoints of turn 2 saved before the failing call (input, start, after n1)."""

DURABILITIES = [
    "sync",
    "async",
    "exit",
]
KINDS = ["put", "put_writes"]


def _fault(kind: str, durability: str) -> Fault:
    n = 1 if (durability == "exit" and kind == "put") else (4 if kind == "put" else 3)
    return Fault(kind, n, armed=False)


def _fails(kind: str, durability: str) -> bool:
    return not (durability == "exit" and kind == "put_writes")


def _saved_of_turn2(kind: str, durability: str) -> int:
    if durability == "exit":
        return 0 if kind == "put" else 1  # exit saves one checkpoint a run
    return SAVED_OF_TURN2


def _through_failing_step(events: list[Any]) -> int:
    """Number of the unbroken run's events up to the state after ``FAILING_NODE``."""
    seen = False
    for i, (mode, payload) in enumerate(events):
        if mode == "updates" and FAILING_NODE in payload:
            seen = True
        elif mode == "values" and seen:
            return i + 1
    raise AssertionError("the unbroken run never ran the failing node")


# --------------------------------------------------------------------------- reference


def _reference(durability: str) -> tuple[list[Any], list[Any], list[Any], dict[str, Any]]:
    """An unbroken run: turn 2's events, history after turn 1, after turn 2, final state."""
    g = chain(InMemorySaver(), NODES)
    c = cfg("t")
    g.invoke(TURN1, c, durability=durability)
    turn1 = history(g, c)
    events = list(g.stream(TURN2, c, stream_mode=MODES, durability=durability))
    return events, turn1, history(g, c), g.get_state(c).values


def _check_after_failure(
    kind: str,
    durability: str,
    events: list[Any],
    hist: list[Any],
    snap: Any,
    newest_id: str | None,
    ref: tuple[list[Any], list[Any], list[Any], dict[str, Any]],
) -> None:
    ref_events, ref_turn1, ref_hist, _ = ref
    assert events == ref_events[: len(events)], "delivered events are not the unbroken run's prefix"
    if durability == "sync":
        # every event before the failure is delivered, and the next step never started
        assert len(events) == _through_failing_step(ref_events)
    elif durability == "async":
        assert len(events) >= _through_failing_step(ref_events)
    else:
        assert len(events) == len(ref_events)
    # no gap, nothing after the failing call: the unbroken run's history up to the last
    # checkpoint saved before it
    saved = len(ref_turn1) + _saved_of_turn2(kind, durability)
    assert hist == ref_hist[:saved], "the thread's history is not the unbroken run's prefix"
    # get_state reads the last good checkpoint
    assert snap.config["configurable"]["checkpoint_id"] == newest_id
    assert snap.metadata["step"] == hist[-1][2]
    assert dict(snap.values) in [h[0] for h in ref_hist]


# --------------------------------------------------------------------------- stream


@contextmanager
def _sync_storage(storage: str, tmp_path: Path, fault: Fault) -> Iterator[tuple[Any, Callable[[], Any]]]:
    """(faulty saver, factory of healthy savers on the same storage)."""
    if storage == "memory":
        faulty = FaultyMemorySaver(fault)
        yield faulty, lambda: memory_twin(faulty)
        return
    path = tmp_path / "threads.sqlite"
    conns = [sqlite_conn(path)]

    def healthy() -> SqliteSaver:
        conns.append(sqlite_conn(path))
        return SqliteSaver(conns[-1])

    try:
        yield FaultySqliteSaver(conns[0], fault), healthy
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_stream_saver_fails_mid_run(storage: str, durability: str, kind: str, tmp_path: Path) -> None:
    ref = _reference(durability)
    fault = _fault(kind, durability)
    c = cfg("t")
    with _sync_storage(storage, tmp_path, fault) as (faulty, healthy):
        chain(faulty, NODES).invoke(TURN1, c, durability=durability)
        g = chain(faulty, NODES, delay=DELAY)
        fault.armed = True
        events: list[Any] = []
        if _fails(kind, durability):
            with pytest.raises(Boom, match=f"{kind} #{fault.n} failed"):
                for ev in g.stream(TURN2, c, stream_mode=MODES, durability=durability):
                    events.append(ev)
            assert fault.after == [], "the saver was called after a call failed"
        else:
            events = list(g.stream(TURN2, c, stream_mode=MODES, durability=durability))
            assert fault.calls["put_writes"] == 0
        fault.armed = False

        saver = healthy()
        assert gaps(saver, c) == [], "a checkpoint was saved after one that failed"
        h = chain(saver, NODES)
        hist = history(h, c)
        newest = next(iter(h.get_state_history(c))).config["configurable"]["checkpoint_id"]
        _check_after_failure(kind, durability, events, hist, h.get_state(c), newest, ref)
        if not _fails(kind, durability):
            return

        # the thread goes on from its last good checkpoint, on a healthy saver
        resume = TURN2 if durability == "exit" else None
        assert h.invoke(resume, c, durability=durability) == ref[3]
        assert history(h, c) == ref[2]


# --------------------------------------------------------------------------- astream


@asynccontextmanager
async def _async_storage(storage: str, tmp_path: Path, fault: Fault) -> AsyncIterator[tuple[Any, Any]]:
    if storage == "memory":
        faulty = FaultyMemorySaver(fault)

        async def twin() -> InMemorySaver:
            return memory_twin(faulty)

        yield faulty, twin
        return
    path = tmp_path / "threads.sqlite"
    conns = [await aiosqlite.connect(str(path))]

    async def healthy() -> AsyncSqliteSaver:
        conns.append(await aiosqlite.connect(str(path)))
        return AsyncSqliteSaver(conns[-1])

    try:
        yield FaultyAsyncSqliteSaver(conns[0], fault), healthy
    finally:
        for conn in conns:
            await conn.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("storage", ["memory", "sqlite"])
async def test_astream_saver_fails_mid_run(storage: str, durability: str, kind: str, tmp_path: Path) -> None:
    ref = _reference(durability)
    fault = _fault(kind, durability)
    c = cfg("t")
    async with _async_storage(storage, tmp_path, fault) as (faulty, healthy):
        await chain(faulty, NODES).ainvoke(TURN1, c, durability=durability)
        g = chain(faulty, NODES, delay=DELAY)
        fault.armed = True
        events: list[Any] = []
        if _fails(kind, durability):
            with pytest.raises(Boom, match=f"{kind} #{fault.n} failed"):
                async for ev in g.astream(TURN2, c, stream_mode=MODES, durability=durability):
                    events.append(ev)
            assert fault.after == [], "the saver was called after a call failed"
        else:
            events = [ev async for ev in g.astream(TURN2, c, stream_mode=MODES, durability=durability)]
            assert fault.calls["put_writes"] == 0
        fault.armed = False

        saver = await healthy()
        assert await agaps(saver, c) == [], "a checkpoint was saved after one that failed"
        h = chain(saver, NODES)
        hist = await ahistory(h, c)
        snaps = [s async for s in h.aget_state_history(c)]
        newest = snaps[0].config["configurable"]["checkpoint_id"]
        _check_after_failure(kind, durability, events, hist, await h.aget_state(c), newest, ref)
        if not _fails(kind, durability):
            return

        resume = TURN2 if durability == "exit" else None
        assert await h.ainvoke(resume, c, durability=durability) == ref[3]
        assert await ahistory(h, c) == ref[2]
