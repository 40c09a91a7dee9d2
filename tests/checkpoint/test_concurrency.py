"""Many threads at once on one store (issue #10): 50 conversations, each on its own
``thread_id``, run concurrently against one SQLite file and one PostgreSQL database, from
50 OS threads (``stream``) and from 50 asyncio tasks (``astream``).

Every input and every node write carries the thread's own id, so a lost or crossed write
shows: each thread's final state, its events and its whole history must be exactly what the
same two turns give when run alone (on an ``InMemorySaver``), with no checkpoint missing
(parent links unbroken).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.checkpoint.sqlite.aio import AsyncSqliteSaver

from .graphs import Gauge, agaps, ahistory, cfg, gaps, history, owned_chain, sqlite_conn

THREADS = 50
NODES = 4
DELAY = 0.002
"""Each node call sleeps this long, so that runs interleave."""
DURABILITIES = ["sync", "async"]


def _tids() -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"{run}-{i:02d}" for i in range(THREADS)]


def _turn(tid: str, turn: int) -> dict[str, Any]:
    return {"owner": tid, "log": [f"{tid}:in{turn}"]}


def _alone(tid: str, durability: str) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """The thread's two turns run alone: final state, history, ``updates`` events."""
    g = owned_chain(InMemorySaver(), NODES)
    events = []
    for turn in (1, 2):
        events += list(g.stream(_turn(tid, turn), cfg(tid), stream_mode="updates", durability=durability))
    return g.get_state(cfg(tid)).values, history(g, cfg(tid)), events


def _check(tids: list[str], durability: str, got: dict[str, tuple[Any, Any, Any, list[str]]]) -> None:
    for tid in tids:
        values, hist, events, holes = got[tid]
        want_values, want_hist, want_events = _alone(tid, durability)
        assert values == want_values, tid
        assert events == want_events, tid
        assert hist == want_hist, tid
        assert holes == [], tid
        # and nothing of another thread in it
        assert all(e.startswith(f"{tid}:") for h in hist for e in h[0].get("log", ())), tid


# --------------------------------------------------------------------------- OS threads


def _graph(saver: Any, gauge: Gauge) -> Any:
    return owned_chain(saver, NODES, gauge=gauge, delay=DELAY)


def _threaded(g: Any, saver: Any, tids: list[str], durability: str) -> dict[str, Any]:
    start = threading.Barrier(len(tids))

    def one(tid: str) -> list[Any]:
        start.wait(timeout=30)
        events = []
        for turn in (1, 2):
            events += list(g.stream(_turn(tid, turn), cfg(tid), stream_mode="updates", durability=durability))
        return events

    with ThreadPoolExecutor(max_workers=len(tids)) as pool:
        events = dict(zip(tids, pool.map(one, tids), strict=True))
    return {
        tid: (g.get_state(cfg(tid)).values, history(g, cfg(tid)), events[tid], gaps(saver, cfg(tid)))
        for tid in tids
    }


async def _tasks(g: Any, saver: Any, tids: list[str], durability: str) -> dict[str, Any]:
    start = asyncio.Event()

    async def one(tid: str) -> list[Any]:
        await start.wait()
        events = []
        for turn in (1, 2):
            async for ev in g.astream(
                _turn(tid, turn), cfg(tid), stream_mode="updates", durability=durability
            ):
                events.append(ev)
        return events

    runs = [asyncio.create_task(one(tid)) for tid in tids]
    await asyncio.sleep(0)
    start.set()
    events = dict(zip(tids, await asyncio.gather(*runs), strict=True))
    out = {}
    for tid in tids:
        state = await g.aget_state(cfg(tid))
        out[tid] = (state.values, await ahistory(g, cfg(tid)), events[tid], await agaps(saver, cfg(tid)))
    return out


@pytest.mark.parametrize("durability", DURABILITIES)
def test_sqlite_file_threads(tmp_path: Path, durability: str) -> None:
    conn = sqlite_conn(tmp_path / "threads.sqlite")
    try:
        saver = SqliteSaver(conn)
        tids = _tids()
        gauge = Gauge()
        got = _threaded(_graph(saver, gauge), saver, tids, durability)
        _check(tids, durability, got)
        assert gauge.most > 1, "the runs did not overlap"
        per_thread = len(got[tids[0]][1])
        assert len(list(saver.list(None))) == THREADS * per_thread
    finally:
        conn.close()


@pytest.mark.parametrize("durability", DURABILITIES)
async def test_sqlite_file_tasks(tmp_path: Path, durability: str) -> None:
    async with aiosqlite.connect(str(tmp_path / "threads.sqlite")) as conn:
        saver = AsyncSqliteSaver(conn)
        tids = _tids()
        gauge = Gauge()
        got = await _tasks(_graph(saver, gauge), saver, tids, durability)
        _check(tids, durability, got)
        assert gauge.most > 1, "the runs did not overlap"
        per_thread = len(got[tids[0]][1])
        assert len([t async for t in saver.alist(None)]) == THREADS * per_thread


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("durability", DURABILITIES)
def test_postgres_pool_threads(postgres_url: str, durability: str) -> None:
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from lgtrace.checkpoint.postgres import PostgresSaver

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ConnectionPool(postgres_url, min_size=2, max_size=10, kwargs=kwargs, timeout=60) as pool:
        saver = PostgresSaver(pool)
        saver.setup()
        tids = _tids()
        gauge = Gauge()
        _check(tids, durability, _threaded(_graph(saver, gauge), saver, tids, durability))
        assert gauge.most > 1, "the runs did not overlap"


@pytest.mark.parametrize("durability", DURABILITIES)
async def test_postgres_pool_tasks(postgres_url: str, durability: str) -> None:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from lgtrace.checkpoint.postgres.aio import AsyncPostgresSaver

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(
        postgres_url, min_size=2, max_size=10, kwargs=kwargs, timeout=60, open=False
    ) as pool:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        tids = _tids()
        gauge = Gauge()
        _check(tids, durability, await _tasks(_graph(saver, gauge), saver, tids, durability))
        assert gauge.most > 1, "the runs did not overlap"
