"""Persistence: the time and the bytes a checkpointer adds per step (issue #10).

``python -m bench.persistence`` runs ``graphs.counter_chain`` (a linear ``StateGraph`` of
100 nodes, 100 supersteps, each node returning ``{"n": n + 1}``) on lgtrace and on
LangGraph, without a saver and with LangGraph's savers, on a fresh ``thread_id`` every run:

- ``invoke``: no saver; ``InMemorySaver`` and ``SqliteSaver`` (on a file:
  ``SqliteSaver(sqlite3.connect(path, check_same_thread=False))``) with
  ``durability="sync"``, ``"async"`` and ``"exit"``;
- ``ainvoke`` (``async def`` nodes): no saver; ``InMemorySaver`` and
  ``AsyncSqliteSaver`` (``aiosqlite`` on a file) with the same three durabilities;
- PostgreSQL (issue #15): ``PostgresSaver`` under ``invoke`` and ``AsyncPostgresSaver`` under
  ``ainvoke`` (one psycopg connection each: autocommit, ``prepare_threshold=0``, ``dict_row``, as
  the savers' docs set it up), on a PostgreSQL server the bench starts (``tests/pgserver.py``:
  ``initdb`` in a temporary directory, 127.0.0.1, ``fsync`` off), a fresh database per saver.
  Without PostgreSQL's binaries these configurations are skipped, saying so.

Both runtimes get the same saver classes (lgtrace writes LangGraph's checkpoint format
through LangGraph's saver interface), a saver of their own per configuration and state
size, and every SQLite saver its own fresh file. Two state sizes: ``tiny`` (``n`` only)
and ``20kb`` (plus a 20 000-character string in the state that no node writes).

- **Validated first.** One untimed run per variant: the result must be the closed form
  (``n`` = steps, the string unchanged), and with a saver the thread's latest checkpoint
  (read back through the saver's own ``get_tuple``) must hold the same values. The
  number of checkpoints and writes that run stored is recorded.
- **Timed interleaved.** After ``--warmup`` runs per variant (default 2), ``--reps``
  rounds (default 25); each round runs every variant of the state size once, in a seeded
  shuffled order, so drift on a shared machine hits all alike. Objects built before
  timing are frozen out of the cyclic collector (``gc.freeze()``), a ``gc.collect()``
  runs between rounds (not timed). Wall time (``perf_counter``) and process CPU time
  (all threads) around ``invoke`` / ``run_until_complete(ainvoke)``.
- **added µs/step** = (time with the saver - time without, same runtime, same
  ``invoke``/``ainvoke``) / steps, from the medians (the JSON also has it from the
  minima and from CPU time). **ratio** = lgtrace's added time / LangGraph's; target
  <= 0.5.
- **bytes/step**: what the validation run's thread holds in the saver, / steps. SQLite:
  ``sum(length(checkpoint) + length(metadata))`` over ``checkpoints`` plus
  ``sum(length(value))`` over ``writes`` (by SQL, on the saver's file); InMemorySaver:
  the ``len`` of the serialised bytes in its ``storage`` (checkpoint + metadata),
  ``blobs`` and ``writes`` for that thread; PostgreSQL: ``octet_length`` of ``checkpoint`` and
  ``metadata`` (as text) in ``checkpoints`` and of ``blob`` in ``checkpoint_blobs`` and
  ``checkpoint_writes``. Target: lgtrace <= LangGraph.

``--quick`` (CI smoke): 5 steps, 2 rounds after 1 warm-up. ``--profile CONFIG``
cProfiles lgtrace's runs of one configuration against the same runtime without a saver
and lists, function by function, where the added time goes. Results go to
``bench/results/persistence.json`` (``--quick``: ``persistence_quick.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import copy
import cProfile
import gc
import inspect
import json
import math
import os
import pstats
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import graphs
from bench.impls import BASELINE, IMPLEMENTATIONS, SUBJECT, load
from bench.machine import load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results"
STEPS, QUICK_STEPS = 100, 5
REPS, QUICK_REPS = 25, 2
WARMUP, QUICK_WARMUP = 2, 1
BLOB_CHARS = 20_000
SIZES: dict[str, int] = {"tiny": 0, "20kb": BLOB_CHARS}
TARGET_RATIO = 0.5
RECURSION_LIMIT = 1_000_000


@dataclass(frozen=True)
class Config:
    api: str
    """``invoke`` (sync nodes) or ``ainvoke`` (``async def`` nodes)."""
    saver: str
    """``none``, ``memory`` (InMemorySaver), ``sqlite`` (SqliteSaver), ``aiosqlite`` (AsyncSqliteSaver),
    ``postgres`` (PostgresSaver), ``apostgres`` (AsyncPostgresSaver)."""
    durability: str | None = None

    @property
    def name(self) -> str:
        what = self.saver if self.durability is None else f"{self.saver}/{self.durability}"
        return f"{self.api} {what}"

    @property
    def aio(self) -> bool:
        return self.api == "ainvoke"

    @property
    def baseline(self) -> Config:
        return Config(self.api, "none")


DURABILITIES = ("sync", "async", "exit")
CONFIGS: tuple[Config, ...] = (
    Config("invoke", "none"),
    *(Config("invoke", saver, d) for saver in ("memory", "sqlite", "postgres") for d in DURABILITIES),
    Config("ainvoke", "none"),
    *(Config("ainvoke", saver, d) for saver in ("memory", "aiosqlite", "apostgres") for d in DURABILITIES),
)
ASYNC_SAVERS = ("aiosqlite", "apostgres")


class NotYet(Exception):
    """The implementation cannot build or run this configuration yet (skipped, not an error)."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name)


def _not_yet(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError) or (
        isinstance(exc, TypeError) and "unsupported argument" in str(exc)
    )


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


# --------------------------------------------------------------------------- savers


class Saver:
    """One saver instance (and its file): make it, count what a thread stored, close it."""

    def __init__(self, kind: str, path: Path | None, loop: asyncio.AbstractEventLoop | None) -> None:
        self.kind, self.path, self.loop = kind, path, loop
        self.conn: Any = None
        self.saver: Any = None
        if kind == "none":
            return
        if kind == "memory":
            from langgraph.checkpoint.memory import InMemorySaver

            self.saver = InMemorySaver()
        elif kind == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            assert path is not None
            self.conn = sqlite3.connect(path, check_same_thread=False)
            self.saver = SqliteSaver(self.conn)
        elif kind == "aiosqlite":
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            assert path is not None and loop is not None

            async def connect() -> tuple[Any, Any]:  # the saver wants a running loop
                conn = await aiosqlite.connect(path)
                return conn, AsyncSqliteSaver(conn)

            self.conn, self.saver = loop.run_until_complete(connect())
        elif kind == "postgres":
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row

            assert path is not None
            self.url = _pg_database(path.stem)
            self.conn = psycopg.connect(self.url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
            self.saver = PostgresSaver(self.conn)
            self.saver.setup()
        elif kind == "apostgres":
            import psycopg
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from psycopg.rows import dict_row

            assert path is not None and loop is not None
            self.url = _pg_database(path.stem)

            async def aconnect() -> tuple[Any, Any]:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, prepare_threshold=0, row_factory=dict_row
                )
                saver = AsyncPostgresSaver(conn)
                await saver.setup()
                return conn, saver

            self.conn, self.saver = loop.run_until_complete(aconnect())
        else:
            raise ValueError(f"unknown saver {kind!r}")

    def latest(self, config: dict[str, Any]) -> Any:
        """The thread's latest checkpoint tuple, read through the saver's own API."""
        if self.kind in ASYNC_SAVERS:
            assert self.loop is not None
            return self.loop.run_until_complete(self.saver.aget_tuple(config))
        return self.saver.get_tuple(config)

    def stored(self, thread_id: str) -> dict[str, int]:
        """Bytes (and rows) the saver holds for one thread."""
        if self.kind == "memory":
            return _memory_stored(self.saver, thread_id)
        if self.kind in ("postgres", "apostgres"):
            return _pg_stored(self.url, thread_id)
        assert self.path is not None
        return _sqlite_stored(self.path, thread_id)

    def close(self) -> None:
        if self.conn is None:
            return
        if self.kind in ASYNC_SAVERS:
            assert self.loop is not None
            self.loop.run_until_complete(self.conn.close())
        else:
            self.conn.close()
        self.conn = None


def _memory_stored(saver: Any, thread_id: str) -> dict[str, int]:
    """InMemorySaver: ``len`` of the serialised bytes in storage, blobs and writes of a thread."""
    per_ns = saver.storage.get(thread_id, {})
    checkpoints = [entry for ns in per_ns.values() for entry in ns.values()]
    blobs = [v for k, v in saver.blobs.items() if k[0] == thread_id]
    writes = [w for k, per_task in saver.writes.items() if k[0] == thread_id for w in per_task.values()]
    checkpoint_bytes = sum(len(ckpt[1]) + len(meta[1]) for ckpt, meta, _parent in checkpoints)
    blob_bytes = sum(len(v[1]) for v in blobs)
    write_bytes = sum(len(w[2][1]) for w in writes)
    return {
        "bytes": checkpoint_bytes + blob_bytes + write_bytes,
        "checkpoint_bytes": checkpoint_bytes,
        "blob_bytes": blob_bytes,
        "write_bytes": write_bytes,
        "checkpoints": len(checkpoints),
        "blobs": len(blobs),
        "writes": len(writes),
    }


def _sqlite_stored(path: Path, thread_id: str) -> dict[str, int]:
    """SQLite savers: checkpoint + metadata lengths and write value lengths of a thread, by SQL."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        n_ckpt, ckpt_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(coalesce(length(checkpoint), 0)"
            " + coalesce(length(metadata), 0)), 0) FROM checkpoints WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
        n_writes, write_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?", (thread_id,)
        ).fetchone()
    finally:
        conn.close()
    return {
        "bytes": ckpt_bytes + write_bytes,
        "checkpoint_bytes": ckpt_bytes,
        "blob_bytes": 0,
        "write_bytes": write_bytes,
        "checkpoints": n_ckpt,
        "blobs": 0,
        "writes": n_writes,
    }


_PG: list[Any] = []
"""The bench's PostgreSQL server, started on first use and stopped when the process exits."""


def _pg_database(name: str) -> str:
    """A fresh database named after ``name`` on the bench's PostgreSQL; its URL."""
    import atexit

    import psycopg

    if not _PG:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # (tests/ helpers)
        from tests.pgserver import PgServer, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise NotYet("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
        _PG.append(PgServer(bindir).start())
        atexit.register(_PG[0].stop)
    db = _slug(name.lower()).strip("-")[:60].replace("-", "_")
    with psycopg.connect(_PG[0].url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"CREATE DATABASE {db}")
    return _PG[0].url.rsplit("/", 1)[0] + "/" + db


def _pg_stored(url: str, thread_id: str) -> dict[str, int]:
    """PostgreSQL savers: bytes of checkpoints (+ metadata), blobs and writes of a thread, by SQL."""
    import psycopg

    with psycopg.connect(url) as conn:
        n_ckpt, ckpt_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(octet_length(checkpoint::text) + octet_length(metadata::text)), 0)"
            " FROM checkpoints WHERE thread_id = %s",
            (thread_id,),
        ).fetchone()  # type: ignore[misc]
        n_blobs, blob_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs"
            " WHERE thread_id = %s",
            (thread_id,),
        ).fetchone()  # type: ignore[misc]
        n_writes, write_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes"
            " WHERE thread_id = %s",
            (thread_id,),
        ).fetchone()  # type: ignore[misc]
    return {
        "bytes": int(ckpt_bytes + blob_bytes + write_bytes),
        "checkpoint_bytes": int(ckpt_bytes),
        "blob_bytes": int(blob_bytes),
        "write_bytes": int(write_bytes),
        "checkpoints": n_ckpt,
        "blobs": n_blobs,
        "writes": n_writes,
    }


# --------------------------------------------------------------------------- one variant


class Variant:
    """One implementation x one configuration x one state size: a compiled graph and its saver."""

    def __init__(
        self,
        prefix: str,
        config: Config,
        size: str,
        steps: int,
        tmpdir: Path,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.prefix, self.config, self.size, self.steps, self.loop = prefix, config, size, steps, loop
        self.label = f"{prefix}: {config.name}"
        blob = "b" * SIZES[size]
        self.inp: dict[str, Any] = {"n": 0, "blob": blob} if blob else {"n": 0}
        self.expected: dict[str, Any] = {**self.inp, "n": steps}
        self.kwargs: dict[str, Any] = {} if config.durability is None else {"durability": config.durability}
        self.threads: list[str] = []
        """Every run's thread_id, in order (bytes are counted on each after timing)."""
        path = tmpdir / f"{prefix}-{size}-{_slug(config.name)}.sqlite"
        self.saver = Saver(config.saver, None if config.saver in ("none", "memory") else path, loop)
        try:
            self.graph = graphs.counter_chain(
                load(prefix), steps, aio=config.aio, checkpointer=self.saver.saver
            )
        except Exception as e:
            self.saver.close()
            if _not_yet(e):
                raise NotYet(_describe(e)) from e
            raise

    def _run_config(self) -> dict[str, Any]:
        thread_id = uuid.uuid4().hex  # the same length for both runtimes
        self.threads.append(thread_id)
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}

    def run(self) -> tuple[float, float, dict[str, Any], Any]:
        """One run on a fresh thread: (wall s, process CPU s, its config, its result)."""
        cfg = self._run_config()
        if self.config.aio:

            async def timed() -> tuple[float, Any]:
                t0 = time.perf_counter()
                out = await self.graph.ainvoke(self.inp, cfg, **self.kwargs)
                return time.perf_counter() - t0, out

            c0 = time.process_time()
            wall, out = self.loop.run_until_complete(timed())
            return wall, time.process_time() - c0, cfg, out
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = self.graph.invoke(self.inp, cfg, **self.kwargs)
        wall = time.perf_counter() - t0
        return wall, time.process_time() - c0, cfg, out

    def check(self) -> dict[str, Any]:
        """One untimed run: the result and the stored checkpoint must be the closed form. Its bytes
        are the ones compared: the savers' version strings end in ``random.random()`` (a float of
        varying length), fixed at 0.5 for this run so that equal checkpoints have equal sizes."""
        try:
            with _fixed_random():
                _, _, cfg, out = self.run()
        except Exception as e:
            if _not_yet(e):
                raise NotYet(_describe(e)) from e
            raise
        if out != self.expected:
            raise AssertionError(f"result {_short(out)} != expected {_short(self.expected)}")
        info: dict[str, Any] = {}
        if self.saver.saver is None:
            return info
        latest = self.saver.latest(cfg)
        if latest is None:
            raise AssertionError("the saver holds no checkpoint for the run's thread")
        values = latest.checkpoint.get("channel_values", {})
        got = {k: values[k] for k in self.expected if k in values}
        if got != self.expected:
            raise AssertionError(f"latest checkpoint holds {_short(got)}, expected {_short(self.expected)}")
        stored = self.saver.stored(cfg["configurable"]["thread_id"])
        meta = latest.metadata or {}
        info.update(
            stored=stored,
            bytes_per_step=stored["bytes"] / self.steps,
            latest_step=meta.get("step"),
            latest_source=meta.get("source"),
            latest_version=latest.checkpoint.get("v"),
            pending_writes=len(latest.pending_writes or ()),
        )
        return info

    def record_calls(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        """One more run, with the saver's I/O methods wrapped: the calls it made, in call order,
        their arguments copied (a ``Replay`` makes the same calls on a fresh saver)."""
        saver = self.saver.saver
        calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for name in RECORDED:
            original = getattr(saver, name)
            if inspect.iscoroutinefunction(original):

                async def wrapper(
                    *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
                ) -> Any:
                    if _IN_SAVER.get():
                        return await _original(*args, **kwargs)
                    calls.append((_name, _copy(args), _copy(kwargs)))
                    token = _IN_SAVER.set(True)
                    try:
                        return await _original(*args, **kwargs)
                    finally:
                        _IN_SAVER.reset(token)
            else:

                def wrapper(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                    if _IN_SAVER.get():
                        return _original(*args, **kwargs)
                    calls.append((_name, _copy(args), _copy(kwargs)))
                    token = _IN_SAVER.set(True)
                    try:
                        return _original(*args, **kwargs)
                    finally:
                        _IN_SAVER.reset(token)

            setattr(saver, name, wrapper)  # an instance attribute: the class's method is untouched
        try:
            self.run()
        finally:
            for name in RECORDED:
                delattr(saver, name)
        return calls

    def close(self) -> None:
        self.saver.close()


_IN_SAVER: contextvars.ContextVar[bool] = contextvars.ContextVar("_IN_SAVER", default=False)
"""Set while a recorded call runs: calls it makes itself (InMemorySaver.aput -> put) are not recorded."""

RECORDED = ("get_tuple", "put", "put_writes", "aget_tuple", "aput", "aput_writes")
"""The saver methods a ``Replay`` repeats: its reads and writes (not ``get_next_version``, which
stands in for the runtime's own version counter)."""


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:
        return copy.copy(value)


def _retarget(config: Any, thread_id: str) -> Any:
    if isinstance(config, dict) and isinstance(config.get("configurable"), dict):
        return {**config, "configurable": {**config["configurable"], "thread_id": thread_id}}
    return config


class Replay:
    """What the saver costs alone: the calls one run of a variant made (``Variant.record_calls``),
    made again in the same order on a fresh saver of the same kind (its own file), serially, on a
    fresh thread_id each time. No runtime runs; the arguments are built before the clock starts."""

    def __init__(self, variant: Variant, calls: list[Any], tmpdir: Path) -> None:
        self.label = f"{variant.label} [saver calls]"
        self.calls = calls
        self.loop = variant.loop
        kind = variant.config.saver
        path = tmpdir / f"replay-{variant.prefix}-{variant.size}-{_slug(variant.config.name)}.sqlite"
        self.saver = Saver(kind, None if kind in ("none", "memory") else path, variant.loop)

    def _bound(self) -> list[tuple[Any, tuple[Any, ...], dict[str, Any]]]:
        thread_id = uuid.uuid4().hex
        out = []
        for name, args, kwargs in self.calls:
            args = (_retarget(args[0], thread_id), *args[1:]) if args else args
            if "config" in kwargs:
                kwargs = {**kwargs, "config": _retarget(kwargs["config"], thread_id)}
            out.append((getattr(self.saver.saver, name), args, kwargs))
        return out

    def run(self) -> tuple[float, float, None, None]:
        bound = self._bound()

        async def timed() -> float:
            t0 = time.perf_counter()
            for fn, args, kwargs in bound:
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    await result
            return time.perf_counter() - t0

        c0 = time.process_time()
        if any(name.startswith("a") for name, _, _ in self.calls):
            wall = self.loop.run_until_complete(timed())
        else:
            t0 = time.perf_counter()
            for fn, args, kwargs in bound:
                fn(*args, **kwargs)
            wall = time.perf_counter() - t0
        return wall, time.process_time() - c0, None, None

    def close(self) -> None:
        self.saver.close()


@contextlib.contextmanager
def _fixed_random() -> Iterator[None]:
    original = random.random
    random.random = lambda: 0.5  # type: ignore[assignment]
    try:
        yield
    finally:
        random.random = original  # type: ignore[assignment]


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return repr(
            {k: (f"<{len(v)} chars>" if isinstance(v, str) and len(v) > 40 else v) for k, v in value.items()}
        )
    return repr(value)[:200]


# --------------------------------------------------------------------------- timing one state size


@dataclass(frozen=True)
class Settings:
    quick: bool
    steps: int
    reps: int
    warmup: int
    sizes: tuple[str, ...]
    configs: tuple[Config, ...]
    impls: tuple[str, ...]
    tmpdir: str | None = None
    """Where the SQLite files go (default: the system's temporary directory)."""


def _stats(xs: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return {"median_s": statistics.median(xs), "min_s": min(xs), "q1_s": q[0], "q3_s": q[2]}


def run_size(size: str, settings: Settings, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Build, validate and time every variant of one state size; one record per variant."""
    records: dict[str, dict[str, Any]] = {}
    variants: dict[str, Variant | Replay] = {}
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="lgtrace-bench-persistence-", dir=settings.tmpdir) as tmp:
        try:
            for config in settings.configs:
                for prefix in settings.impls:
                    rec: dict[str, Any] = {
                        "kind": "run",
                        "impl": prefix,
                        "config": config.name,
                        "api": config.api,
                        "saver": config.saver,
                        "durability": config.durability,
                        "size": size,
                        "blob_chars": SIZES[size],
                        "steps": settings.steps,
                        "status": "ok",
                        "reason": None,
                    }
                    records[f"{prefix}: {config.name}"] = rec
                    variant = None
                    try:
                        variant = Variant(prefix, config, size, settings.steps, Path(tmp), loop)
                        rec.update(variant.check())
                        variants[variant.label] = variant
                    except NotYet as e:
                        rec["status"], rec["reason"] = "skipped", str(e)
                    except Exception as e:
                        rec["status"], rec["reason"] = "error", _describe(e)
                    if variant is not None and rec["status"] != "ok":
                        variant.close()
                    elif variant is not None and config.saver != "none":
                        _add_replay(variant, rec, records, variants, Path(tmp))
            _time(variants, records, settings)
            _count_bytes(variants, records)
        finally:
            for variant in variants.values():
                variant.close()
            loop.close()
    skipped: dict[str, list[str]] = {}
    for rec in records.values():
        if rec["status"] == "skipped":
            skipped.setdefault(f"{rec['impl']}: {rec['reason']}", []).append(rec["config"])
        elif rec["status"] != "ok":
            log(f"  {size:<5} {rec['impl']:<9} {rec['config']:<24} {rec['status']}: {rec['reason']}")
    for what, names in skipped.items():
        log(f"  {size:<5} skipped {len(names)} configs of {what}")
    return list(records.values())


def _add_replay(
    variant: Variant,
    rec: dict[str, Any],
    records: dict[str, dict[str, Any]],
    variants: dict[str, Variant | Replay],
    tmpdir: Path,
) -> None:
    """Record the saver calls of one more run of ``variant`` and set up their replay (timed with the
    rest); a failure here marks the replay, not the variant."""
    replay: Replay | None = None
    label = f"{variant.label} [saver calls]"
    out = records[label] = {**{k: rec[k] for k in ("impl", "config", "api", "saver", "durability", "size")}}
    out.update(kind="saver_calls", steps=variant.steps, status="ok", reason=None)
    try:
        calls = variant.record_calls()
        rec["saver_calls_per_run"] = out["calls_per_run"] = dict(Counter(name for name, _, _ in calls))
        if not calls:
            raise AssertionError("no saver call was seen (bound before the run?)")
        replay = Replay(variant, calls, tmpdir)
        replay.run()  # the first call on a fresh file creates the tables: not timed
        variants[label] = replay
    except Exception as e:
        out["status"], out["reason"] = "error", _describe(e)
        if replay is not None:
            replay.close()


def _count_bytes(variants: dict[str, Variant | Replay], records: dict[str, dict[str, Any]]) -> None:
    """Bytes per step of the other runs' threads (recording, warm-up, timed), with the savers' random
    version suffixes (a float of varying length: sizes vary by a few bytes from run to run), and
    the rows stored per run (which must not vary)."""
    for label, v in variants.items():
        if not isinstance(v, Variant) or v.saver.saver is None:
            continue
        rec = records[label]
        try:
            stored = [v.saver.stored(t) for t in v.threads]
        except Exception as e:
            rec["bytes_error"] = _describe(e)
            continue
        per_step = [x["bytes"] / v.steps for x in stored[1:]]  # [0] is the check run's
        rec["bytes_per_step_random_mean"] = statistics.fmean(per_step) if per_step else None
        rec["bytes_per_step_random_sd"] = statistics.stdev(per_step) if len(per_step) > 1 else None
        rec["stored_shapes"] = sorted({(x["checkpoints"], x["blobs"], x["writes"]) for x in stored})


def _time(
    variants: dict[str, Variant | Replay], records: dict[str, dict[str, Any]], settings: Settings
) -> None:
    live = dict(variants)
    samples: dict[str, list[float]] = {label: [] for label in live}
    cpu: dict[str, list[float]] = {label: [] for label in live}

    def once(label: str) -> tuple[float, float] | None:
        """One run (the clock is inside ``run``); a failure ends the variant, not the benchmark."""
        try:
            wall, cpu_s, _, _ = live[label].run()
            return wall, cpu_s
        except Exception as e:
            records[label]["status"], records[label]["reason"] = "error", f"while timing: {_describe(e)}"
            live.pop(label).close()
            variants.pop(label)
            return None

    gc.collect()
    gc.freeze()
    try:
        for _ in range(settings.warmup):
            for label in list(live):
                once(label)
        rng = random.Random(0)
        for _ in range(settings.reps):
            gc.collect()
            order = list(live)
            rng.shuffle(order)
            for label in order:
                got = once(label)
                if got is not None:
                    samples[label].append(got[0])
                    cpu[label].append(got[1])
    finally:
        gc.unfreeze()
    for label in live:
        rec = records[label]
        rec.update(_stats(samples[label]))
        rec["cpu_median_s"] = statistics.median(cpu[label])
        rec["cpu_min_s"] = min(cpu[label])
        rec["repeats"] = len(samples[label])
        rec["samples_s"] = [round(x, 7) for x in samples[label]]
        rec["cpu_samples_s"] = [round(x, 7) for x in cpu[label]]


# --------------------------------------------------------------------------- rows: added time, targets


def _added(rec: dict[str, Any] | None, base: dict[str, Any] | None, key: str) -> float | None:
    if not rec or not base or rec["status"] != "ok" or base["status"] != "ok" or key not in rec:
        return None
    return float(rec[key] - base[key]) / rec["steps"]


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _bytes_verdict(sub: dict[str, Any], ref: dict[str, Any]) -> tuple[bool | None, bool | None]:
    """(lgtrace's bytes/step <= LangGraph's, equal), from the check runs (fixed version suffixes)."""
    sb, rb = sub.get("bytes_per_step"), ref.get("bytes_per_step")
    if sb is None or rb is None:
        return None, None
    return sb <= rb, sb == rb


def rows_of(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (size, config): both implementations, added time per step, what the saver's calls
    alone cost, ratios, bytes, targets."""
    runs = [v for v in variants if v.get("kind", "run") == "run"]
    by = {(v["size"], v["config"], v["impl"]): v for v in runs}
    replays = {(v["size"], v["config"], v["impl"]): v for v in variants if v.get("kind") == "saver_calls"}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for v in runs:
        key = (v["size"], v["config"])
        if key in seen:
            continue
        seen.add(key)
        size, name = key
        config = next(c for c in CONFIGS if c.name == name)
        row: dict[str, Any] = {"size": size, "config": name, "saver": config.saver, "impls": {}}
        for prefix in IMPLEMENTATIONS:
            rec = by.get((size, name, prefix))
            if rec is None:
                continue
            base = by.get((size, config.baseline.name, prefix))
            out: dict[str, Any] = {
                "status": rec["status"],
                "reason": rec["reason"],
                "median_s": rec.get("median_s"),
                "min_s": rec.get("min_s"),
            }
            if config.saver != "none":
                replay = replays.get((size, name, prefix)) or {}
                saver_calls = replay.get("median_s")
                out.update(
                    added_median_s_per_step=_added(rec, base, "median_s"),
                    added_min_s_per_step=_added(rec, base, "min_s"),
                    added_cpu_s_per_step=_added(rec, base, "cpu_median_s"),
                    saver_calls_s_per_step=None if saver_calls is None else saver_calls / rec["steps"],
                    saver_calls_per_run=rec.get("saver_calls_per_run"),
                    saver_calls_status=replay.get("status"),
                    bytes_per_step=rec.get("bytes_per_step"),
                    bytes_per_step_random_mean=rec.get("bytes_per_step_random_mean"),
                    stored=rec.get("stored"),
                    stored_shapes=rec.get("stored_shapes"),
                )
                out["added_above_saver_s_per_step"] = _minus(
                    out["added_median_s_per_step"], out["saver_calls_s_per_step"]
                )
            row["impls"][prefix] = out
        sub, ref = row["impls"].get(SUBJECT, {}), row["impls"].get(BASELINE, {})
        if config.saver != "none":
            row["ratio"] = _ratio(sub.get("added_median_s_per_step"), ref.get("added_median_s_per_step"))
            row["ratio_min"] = _ratio(sub.get("added_min_s_per_step"), ref.get("added_min_s_per_step"))
            row["ratio_cpu"] = _ratio(sub.get("added_cpu_s_per_step"), ref.get("added_cpu_s_per_step"))
            row["ratio_above_saver"] = _ratio(
                sub.get("added_above_saver_s_per_step"), ref.get("added_above_saver_s_per_step")
            )
            # the floor: what LangGraph's added time would be if its own share were zero
            row["floor_ratio"] = _ratio(ref.get("saver_calls_s_per_step"), ref.get("added_median_s_per_step"))
            sb, rb = sub.get("bytes_per_step"), ref.get("bytes_per_step")
            row["bytes_diff"] = None if sb is None or rb is None or rb <= 0 else sb / rb - 1
            row["time_target_met"] = None if row["ratio"] is None else row["ratio"] <= TARGET_RATIO
            row["bytes_target_met"], row["bytes_equal"] = _bytes_verdict(sub, ref)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- report


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.2f}"


def _us(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e6:.1f}"


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _b(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def _met(x: bool | None, equal: bool | None = None) -> str:
    if x is None:
        return "-"
    return ("met (=)" if equal else "met") if x else "MISSED"


def format_table(data: dict[str, Any]) -> str:
    s = data["settings"]
    rows = data["rows"]
    head = (
        f"{'size':<5} {'config':<24} {'ms/run LG':>9} {'lgt':>6}  {'+µs/step LG':>11} {'lgt':>6} "
        f"{'ratio':>5} {'min':>5} {'cpu':>5}  {'saver LG':>8} {'lgt':>6} {'r-sv':>5} {'fl':>4}  "
        f"{'B/step LG':>9} {'lgt':>7} {'Δ':>7}  {'time':<6} {'bytes':<7}"
    )
    lines = [
        f"{s['steps']}-node chain, one fresh thread_id per run; medians of {s['reps']} interleaved rounds "
        f"after {s['warmup']} warm-up(s)",
        head,
        "-" * len(head),
    ]
    notes: list[str] = []
    for row in rows:
        lg, lgt = row["impls"].get(BASELINE, {}), row["impls"].get(SUBJECT, {})

        def time_of(x: dict[str, Any]) -> str:
            if x.get("status") in ("skipped", "error"):
                return x["status"].upper() if x["status"] == "error" else "skip"
            return _ms(x.get("median_s"))

        lines.append(
            f"{row['size']:<5} {row['config']:<24} {time_of(lg):>9} {time_of(lgt):>6}  "
            f"{_us(lg.get('added_median_s_per_step')):>11} {_us(lgt.get('added_median_s_per_step')):>6} "
            f"{_r(row.get('ratio')):>5} {_r(row.get('ratio_min')):>5} {_r(row.get('ratio_cpu')):>5}  "
            f"{_us(lg.get('saver_calls_s_per_step')):>8} {_us(lgt.get('saver_calls_s_per_step')):>6} "
            f"{_r(row.get('ratio_above_saver')):>5} {_r(row.get('floor_ratio')):>4}  "
            f"{_b(lg.get('bytes_per_step')):>9} {_b(lgt.get('bytes_per_step')):>7} "
            f"{_pct(row.get('bytes_diff')):>7}  "
            f"{_met(row.get('time_target_met')):<6} "
            f"{_met(row.get('bytes_target_met'), row.get('bytes_equal')):<7}"
        )
        for prefix, x in ((BASELINE, lg), (SUBJECT, lgt)):
            if x.get("status") == "error":
                notes.append(f"  {row['size']} {row['config']} [{prefix}]: {x['reason']}")
    skipped = {x["reason"] for row in rows for x in row["impls"].values() if x.get("status") == "skipped"}
    if skipped:
        notes += [f"  skipped: {reason}" for reason in sorted(skipped)]
    lines += [
        "ms/run: median wall time of one run. +µs/step: (median with the saver - median without, same",
        "  runtime and invoke/ainvoke) / steps. ratio = lgtrace's added time / LangGraph's (target <= 0.5),",
        "  min: the same from the minima, cpu: from median process CPU time.",
        "saver: the saver calls one run made (get_tuple/put/put_writes, or their a- twins), replayed alone",
        "  on a fresh saver, µs/step; r-sv: the ratio of the added times above that; fl: LangGraph's saver",
        "  calls / its added time, the ratio lgtrace would reach if all its own work were free.",
        "B/step: bytes the saver holds for the check run's thread / steps, the savers' random version",
        "  suffixes fixed for that run; Δ: lgtrace vs LangGraph; (=): equal (target: lgtrace <= LG).",
    ]
    if notes:
        lines += ["notes:", *notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- profile


def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func
    m = re.search(r"(?:site-packages|lib/python3\.\d+)/(.*)", file)
    short = m.group(1) if m else os.path.relpath(file) if file.startswith("/") else file
    return f"{short}:{line}({func})"


WAITS = frozenset(
    {
        "<method 'acquire' of '_thread.lock' objects>",
        "<method 'get' of '_queue.SimpleQueue' objects>",
        "<method 'poll' of 'select.epoll' objects>",
        "<built-in method time.sleep>",
    }
)
"""Blocking waits: in the main thread, time spent waiting for another thread (a background put);
in a worker thread, mostly idling for work."""

Stats = dict[tuple[str, int, str], tuple[int, int, float, float, Any]]


def _is_wait(key: tuple[str, int, str]) -> bool:
    return key[0] == "~" and key[2] in WAITS


class _ThreadProfiles:
    """While active, every thread started gets its own cProfile profiler, filed under ``bucket``."""

    def __init__(self) -> None:
        self.buckets: dict[str, list[cProfile.Profile]] = {}
        self.bucket = ""
        self._original = threading.Thread.run

    def __enter__(self) -> _ThreadProfiles:
        original, buckets = self._original, self.buckets

        def profiled_run(thread: threading.Thread) -> None:
            prof = cProfile.Profile()
            buckets.setdefault(self.bucket, []).append(prof)
            prof.runcall(original, thread)

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.run = self._original  # type: ignore[method-assign]

    def stats(self, bucket: str) -> tuple[Stats, int]:
        profs = self.buckets.get(bucket, [])
        if not profs:
            return {}, 0
        st = pstats.Stats(profs[0])
        for prof in profs[1:]:
            st.add(prof)
        return st.stats, len(profs)  # type: ignore[attr-defined]


def _profiled_runs(variant: Variant, runs: int) -> Stats:
    """Main-thread cProfile stats of ``runs`` runs of ``variant`` (the first one's result checked)."""
    main = cProfile.Profile()
    for i in range(runs):
        main.enable()
        try:
            out = variant.run()[3]
        finally:
            main.disable()
        if i == 0 and out != variant.expected:
            raise AssertionError(f"result {_short(out)} != expected {_short(variant.expected)}")
    return pstats.Stats(main).stats  # type: ignore[attr-defined,no-any-return]


def _diff(a: Stats, b: Stats, per: float) -> list[tuple[tuple[str, int, str], float, float, float]]:
    """Per function: (key, self time, cumulative time, calls) of ``a`` minus ``b``, scaled by ``per``."""
    out = []
    for k in set(a) | set(b):
        ta, tb = (a[k][2] if k in a else 0.0), (b[k][2] if k in b else 0.0)
        ca, cb = (a[k][3] if k in a else 0.0), (b[k][3] if k in b else 0.0)
        na, nb = (a[k][1] if k in a else 0), (b[k][1] if k in b else 0)
        out.append((k, (ta - tb) * per, (ca - cb) * per, (na - nb) * per / 1e6))
    return out


def _self_total(stats: Stats, per: float, waits: bool) -> float:
    return sum(v[2] for k, v in stats.items() if _is_wait(k) == waits) * per


def _table(title: str, rows: list[Any], top: int, by_cum: bool) -> list[str]:
    key = 2 if by_cum else 1
    lines = [f"\n-- {title} (top {top}; µs per step, calls per step)"]
    names = ("cum µs", "self µs") if by_cum else ("self µs", "cum µs")
    lines.append(f"{names[0]:>8} {names[1]:>8} {'calls':>7}  function")
    for k, dt, dc, dn in sorted(rows, key=lambda d: -d[key])[:top]:
        first, second = (dc, dt) if by_cum else (dt, dc)
        wait = "  [wait]" if _is_wait(k) else ""
        lines.append(f"{first:>8.2f} {second:>8.2f} {dn:>7.2f}  {_where(k)}{wait}")
    return lines


def _walls_in_child(prefix: str, config: Config, size: str, steps: int) -> dict[str, float | None]:
    """Min wall time of 5 unprofiled runs with and without the saver, timed by this module in a
    fresh process (a worker thread the runtime keeps alive would otherwise be profiled there, or
    started outside the profiler here)."""
    with tempfile.TemporaryDirectory(prefix="lgtrace-bench-persistence-") as tmp:
        out = Path(tmp) / "walls.json"
        cmd = [sys.executable, "-m", "bench.persistence", "--steps", str(steps), "--reps", "5"]
        cmd += ["--warmup", "2", "--impl", prefix, "--size", size, "-o", str(out)]
        cmd += ["-k", f"^{re.escape(config.name)}$"]
        subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, capture_output=True, timeout=600)
        if not out.exists():
            return {}
        variants = json.loads(out.read_text())["variants"]
    got = {v["config"]: v.get("min_s") for v in variants if v.get("kind", "run") == "run"}
    return {"with": got.get(config.name), "without": got.get(config.baseline.name)}


def profile(config_name: str, prefix: str, size: str, steps: int, runs: int, top: int) -> str:
    """Where ``prefix``'s added time goes: ``runs`` cProfiled runs of ``config_name`` against as
    many of the same runtime without a saver; per function, self and cumulative time per step,
    with the saver minus without, for the main thread and for the threads the runs started."""
    config = next((c for c in CONFIGS if c.name == config_name), None)
    if config is None:
        raise SystemExit(f"no config {config_name!r}; configs: {', '.join(c.name for c in CONFIGS)}")
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="lgtrace-bench-persistence-") as tmp:
        # profiled: the saver (and any thread it or the run starts) is built under the profiler
        main_stats: dict[str, Stats] = {}
        with _ThreadProfiles() as threads:
            for name, c in (("without", config.baseline), ("with", config)):
                threads.bucket = name
                (Path(tmp) / f"p-{name}").mkdir()
                v = Variant(prefix, c, size, steps, Path(tmp) / f"p-{name}", loop)
                gc.collect()
                gc.freeze()  # as when timing: the collector's passes over set-up objects are not charged
                try:
                    main_stats[name] = _profiled_runs(v, runs)
                finally:
                    gc.unfreeze()
                    v.close()
            threads.bucket = ""
        loop.close()
    walls = _walls_in_child(prefix, config, size, steps)
    other_with, n_with = threads.stats("with")
    other_without, n_without = threads.stats("without")
    per = 1e6 / (runs * steps)
    w_with, w_without = (walls[k] * 1e6 / steps if walls.get(k) else math.nan for k in ("with", "without"))
    mw, mo = main_stats["with"], main_stats["without"]
    busy_w, busy_o = _self_total(mw, per, False), _self_total(mo, per, False)
    out = [
        f"== {prefix}, {config.name}, state {size}, {steps} steps: cProfile of {runs} runs with the saver "
        f"and {runs} without (µs per step)",
        f"   unprofiled wall (min of 5 after 2 warm-ups, in a child process): with {w_with:.1f}, "
        f"without {w_without:.1f}, added {w_with - w_without:.1f}",
        f"   main thread, self time excluding waits: with {busy_w:.1f}, without {busy_o:.1f}, "
        f"added {busy_w - busy_o:.1f}; waits: with {_self_total(mw, per, True):.1f}, "
        f"without {_self_total(mo, per, True):.1f}",
        f"   other threads ({n_with} started with the saver, {n_without} without), self time "
        f"excluding waits: with {_self_total(other_with, per, False):.1f}, "
        f"without {_self_total(other_without, per, False):.1f}",
        "   (cProfile inflates many small calls: read the shares, not the absolute numbers)",
    ]
    main_diff = _diff(mw, mo, per)
    out += _table("main thread: added self time by function", main_diff, top, by_cum=False)
    out += _table("main thread: added cumulative time by function", main_diff, top, by_cum=True)
    if other_with or other_without:
        other_diff = _diff(other_with, other_without, per)
        out += _table("other threads: added self time by function", other_diff, top, by_cum=False)
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def filesystem(path: str) -> dict[str, str | None]:
    """The mount (device, type) a directory is on, from /proc/mounts (Linux), for the record."""
    real = os.path.realpath(path)
    best: tuple[str, str, str] | None = None
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and (
                best is None or len(mnt) > len(best[1])
            ):
                best = (dev, mnt, fstype)
    except OSError:
        pass
    return {"path": real, "device": best and best[0], "mount": best and best[1], "fstype": best and best[2]}


def _select_configs(patterns: list[str]) -> tuple[Config, ...]:
    if not patterns:
        return CONFIGS
    regexes = [re.compile(p) for p in patterns]
    chosen = {c for c in CONFIGS if any(r.search(c.name) for r in regexes)}
    chosen |= {c.baseline for c in chosen}  # added time needs the baseline of the same api
    return tuple(c for c in CONFIGS if c in chosen)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.persistence", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 steps, 2 rounds after 1 warm-up (CI smoke)")
    ap.add_argument("--steps", type=int, help=f"nodes in the chain (default {STEPS})")
    ap.add_argument("--reps", type=int, help=f"timed rounds (default {REPS})")
    ap.add_argument("--warmup", type=int, help=f"warm-up runs per variant (default {WARMUP})")
    ap.add_argument("--size", action="append", choices=tuple(SIZES), help="only this state size (repeatable)")
    ap.add_argument(
        "--filter",
        "-k",
        action="append",
        default=[],
        metavar="REGEX",
        help="only configs matching (repeatable)",
    )
    ap.add_argument("--impl", action="append", choices=IMPLEMENTATIONS, help="only this implementation")
    ap.add_argument("--tmpdir", help="directory for the SQLite files (default: the system's temp dir)")
    ap.add_argument("--output", "-o", type=Path, help="JSON path (default bench/results/persistence.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    ap.add_argument("--list", action="store_true", help="list the configurations and exit")
    ap.add_argument(
        "--profile",
        metavar="CONFIG",
        help="cProfile one configuration (e.g. 'invoke sqlite/sync') against no saver, instead of timing",
    )
    ap.add_argument("--profile-impl", default=SUBJECT, choices=IMPLEMENTATIONS, help="runtime to profile")
    ap.add_argument("--profile-runs", type=int, default=20, help="runs profiled per side (default 20)")
    ap.add_argument("--top", type=int, default=30, help="functions listed per profile table")
    args = ap.parse_args(argv)

    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0
    if args.list:
        for c in CONFIGS:
            print(c.name)
        return 0
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    if args.profile:
        size = (args.size or ["tiny"])[0]
        print(profile(args.profile, args.profile_impl, size, steps, args.profile_runs, args.top))
        return 0

    settings = Settings(
        quick=args.quick,
        steps=steps,
        reps=args.reps if args.reps is not None else (QUICK_REPS if args.quick else REPS),
        warmup=args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick else WARMUP),
        sizes=tuple(args.size or SIZES),
        configs=_select_configs(args.filter),
        impls=tuple(args.impl or IMPLEMENTATIONS),
        tmpdir=args.tmpdir,
    )
    output = args.output or RESULTS / ("persistence_quick.json" if args.quick else "persistence.json")
    info = machine_info()
    data: dict[str, Any] = {
        "schema": 1,
        "quick": settings.quick,
        "command": "python -m bench.persistence" + (" " + " ".join(argv) if argv else ""),
        "settings": {
            "steps": settings.steps,
            "reps": settings.reps,
            "warmup": settings.warmup,
            "sizes": {s: SIZES[s] for s in settings.sizes},
            "configs": [c.name for c in settings.configs],
            "impls": list(settings.impls),
            "sqlite_dir": filesystem(settings.tmpdir or tempfile.gettempdir()),
        },
        "machine": info,
        "variants": [],
        "rows": [],
    }
    print(
        f"bench.persistence: {settings.steps}-node chain, {len(settings.configs)} configs x "
        f"{len(settings.sizes)} sizes x {len(settings.impls)} runtimes; {info['cpu_model']}, "
        f"{info['cores_logical']} cores, python {info['python']}, load {info['load_average_start']}",
        flush=True,
    )
    t0 = time.monotonic()
    output.parent.mkdir(parents=True, exist_ok=True)
    for size in settings.sizes:
        ts = time.monotonic()
        data["variants"] += run_size(size, settings)
        print(f"  {size}: {time.monotonic() - ts:.1f} s", flush=True)
        data["rows"] = rows_of(data["variants"])
        info["load_average_end"] = load_average()
        data["total_elapsed_s"] = round(time.monotonic() - t0, 3)
        output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print()
    print(format_table(data))
    print(f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_end']}; wrote {output}")
    failed = [f"{v['size']} {v['config']} [{v['impl']}]" for v in data["variants"] if v["status"] == "error"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["CONFIGS", "Config", "main", "rows_of"]
