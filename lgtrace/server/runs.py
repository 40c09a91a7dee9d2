"""Threads and runs of ``lgtrace serve``, in process: a run executes in a background asyncio task
(never in the request), its events go to a bounded log with strictly increasing ids (a per-run
sequence number, so a resume from any id replays exactly the rest), and any number of clients
read the log (replay from ``Last-Event-ID``, then tail)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import sqlite3
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from lgtrace.server.serde import dumps, error_of
from lgtrace.types import Command

MODES = (
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "tools",
    "events",
)
"""Stream modes a client may ask for (``lifecycle`` is not served yet)."""
_NOT_YET = ("lifecycle",)
_RUNTIME_MODE = {"messages-tuple": "messages"}
STRATEGIES = ("reject", "interrupt", "rollback", "enqueue")


log = logging.getLogger("lgtrace.server")

BUSY = "Thread is already running a task. Wait for it to finish or choose a different multitask strategy."


class RunError(Exception):
    """A request that cannot start or find a run: ``status`` and ``detail`` for the response."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def new_id() -> str:
    """A time-ordered uuid (v7 layout), as the Agent Server's run ids."""
    ms = time.time_ns() // 1_000_000
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


@dataclass
class Thread:
    thread_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    status: str = "idle"
    error: Any = None
    graph_id: str | None = None
    active: Run | None = None
    temporary: bool = False

    def touch(self) -> None:
        self.updated_at = now()


@dataclass
class Run:
    run_id: str
    thread_id: str
    assistant_id: str
    metadata: dict[str, Any]
    multitask_strategy: str
    body: dict[str, Any]
    max_events: int
    status: str = "pending"
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    log: Any = None
    """The run's ``EventLog`` (in process: ``MemoryLog``)."""
    done: bool = False
    output: Any = None
    error: Any = None
    task: asyncio.Task[None] | None = None
    cancel_action: str | None = None
    attempt: int = 1
    from_checkpoint: bool = False
    """A retry of a run whose worker died: the graph continues the thread from its last checkpoint
    (which this run wrote) instead of taking the run's input again."""

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "metadata": self.metadata,
            "multitask_strategy": self.multitask_strategy,
            "kwargs": {},
        }

    async def add(self, event: str, data: Any) -> None:
        await self.log.add(event, data if isinstance(data, str) else dumps(data))

    async def finish(self) -> None:
        self.done = True
        # events are kept for replay only when the stream is resumable (as the Agent Server)
        await self.log.finish(keep=bool(self.body.get("stream_resumable")))


DROP_AFTER = 30.0
"""Seconds a finished, non-resumable run's events stay for the readers still streaming them."""


class MemoryLog:
    """One run's events in process: ``(id, event name, data JSON)`` with ids ``"0"``, ``"1"``, ...
    (a per-run sequence: strictly increasing, never shared), at most ``max_events`` kept; readers
    wait on a condition, never holding it while they write to their client."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.events: deque[tuple[int, str, str]] = deque()
        self.next_seq = 0
        self.done = False
        self.dropped = -1
        """The last id of events dropped after the run ended (a reader behind it lost them)."""
        self.changed = asyncio.Condition()

    async def add(self, event: str, data: str) -> None:
        async with self.changed:
            self.events.append((self.next_seq, event, data))
            self.next_seq += 1
            while len(self.events) > self.max_events:
                self.events.popleft()
            self.changed.notify_all()

    async def finish(self, keep: bool = True) -> None:
        """The run ended; ``keep=False``: its events go ``DROP_AFTER`` seconds later (nobody can ask
        for them again; readers still on the stream have that long to take them)."""
        async with self.changed:
            self.done = True
            self.changed.notify_all()
        if not keep:
            asyncio.get_running_loop().call_later(DROP_AFTER, self._drop)

    def _drop(self) -> None:
        self.dropped = self.next_seq - 1
        self.events.clear()

    def check_id(self, event_id: str) -> None:
        """A ``Last-Event-ID`` this log can resume from (else a 422 naming it)."""
        if not event_id.lstrip("-").isdigit():
            raise RunError(422, f"Last-Event-ID {event_id!r} is not an event id of this run")

    async def tail_position(self) -> str:
        """Where a client without ``Last-Event-ID`` starts: after what is there now."""
        return str(self.next_seq - 1)

    async def read(self, after: str, timeout: float) -> tuple[list[tuple[str, str, str]], bool, bool]:
        """Events after id ``after`` (``"-1"``: from the start), waiting up to ``timeout`` for some:
        ``(events, lagged, done)``; ``lagged``: the client had events that are no longer kept."""
        position = int(after)
        async with self.changed:
            pending, lagged = self._after(position)
            if not pending and not lagged and not self.done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), timeout)
                pending, lagged = self._after(position)
            return [(str(q), e, d) for q, e, d in pending], lagged, self.done and not pending

    def _after(self, position: int) -> tuple[list[tuple[int, str, str]], bool]:
        events = self.events
        if not events:
            return [], position < self.dropped
        first = events[0][0]
        if position + 1 < first:  # trimmed: a client that had events lost some; a replay from the
            return ([], True) if position >= 0 else (list(events), False)  # start gets what is kept
        return [events[i] for i in range(position + 1 - first, len(events))], False

    async def wait_done(self) -> None:
        async with self.changed:
            while not self.done:
                await self.changed.wait()


class FreshThreads(BaseCheckpointSaver):
    """The server's checkpointer: ``saver``, plus what the server knows for sure: a thread it made
    itself (``POST /threads`` without an id, or a stateless run) has no checkpoint until its first
    run writes one, so that run's read of the thread's head is answered at once. Under load the
    read would otherwise wait for the saver's connection thread among every other run's writes:
    the first token waited with it."""

    def __init__(self, saver: Any) -> None:
        super().__init__(serde=saver.serde)
        self.saver = saver
        self.fresh: set[str] = set()

    def _is_fresh(self, config: Any) -> bool:
        conf = config.get("configurable", {})
        return conf.get("thread_id") in self.fresh and not conf.get("checkpoint_id")

    def get_tuple(self, config: Any) -> Any:
        return None if self._is_fresh(config) else self.saver.get_tuple(config)

    async def aget_tuple(self, config: Any) -> Any:
        return None if self._is_fresh(config) else await self.saver.aget_tuple(config)

    def list(self, config: Any, **kwargs: Any) -> Any:
        return self.saver.list(config, **kwargs)

    def alist(self, config: Any, **kwargs: Any) -> Any:
        return self.saver.alist(config, **kwargs)

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self.fresh.discard(config["configurable"]["thread_id"])
        return self.saver.put(config, checkpoint, metadata, new_versions)

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self.fresh.discard(config["configurable"]["thread_id"])
        return await self.saver.aput(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        self.saver.put_writes(config, writes, task_id, task_path)

    async def aput_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        await self.saver.aput_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.fresh.discard(thread_id)
        self.saver.delete_thread(thread_id)

    async def adelete_thread(self, thread_id: str) -> None:
        self.fresh.discard(thread_id)
        await self.saver.adelete_thread(thread_id)

    def get_next_version(self, current: Any, channel: Any) -> Any:
        return self.saver.get_next_version(current, channel)


def status_after(run_status: str) -> str:
    """A thread's status once its run ended with ``run_status``."""
    return run_status if run_status in ("error", "interrupted") else "idle"


class ThreadFile:
    """The in-process server's thread records (metadata, times, status, error, graph) in a table of
    a SQLite file beside its checkpoints: read once at start, written behind. A run never waits for
    them; a crash loses at most the record changes of the last ``FLUSH_AFTER`` seconds, never a
    checkpoint (the thread's state lives in the checkpointer)."""

    FLUSH_AFTER = 0.2

    def __init__(self, path: str) -> None:
        self.path = path
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS lgtrace_threads (thread_id TEXT PRIMARY KEY, metadata TEXT, "
                "created_at TEXT, updated_at TEXT, status TEXT, error TEXT, graph_id TEXT)"
            )
            conn.commit()
        self.pending: dict[str, Thread | None] = {}
        """Records to write (None: to delete)."""
        self.task: asyncio.Task[None] | None = None

    def load(self) -> list[Thread]:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            rows = conn.execute(
                "SELECT thread_id, metadata, created_at, updated_at, status, error, graph_id "
                "FROM lgtrace_threads"
            ).fetchall()
        threads = []
        for tid, metadata, created, updated, status, error, graph_id in rows:
            status = "idle" if status == "busy" else status  # (its run ended with the process before)
            thread = Thread(tid, json.loads(metadata), created, updated, status, json.loads(error or "null"))
            thread.graph_id = graph_id
            threads.append(thread)
        return threads

    def changed(self, thread: Thread) -> None:
        if not thread.temporary:
            self.pending[thread.thread_id] = thread
            self._schedule()

    def removed(self, thread_id: str) -> None:
        self.pending[thread_id] = None
        self._schedule()

    def _schedule(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.FLUSH_AFTER)
        finally:
            self.task = None
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        rows = {  # (taken now, in the loop: the threads change while the file is written)
            tid: None
            if t is None
            else (tid, dumps(t.metadata), t.created_at, t.updated_at, t.status, dumps(t.error), t.graph_id)
            for tid, t in batch.items()
        }
        try:
            await asyncio.to_thread(self._write, rows)
        except Exception:  # (the records are a convenience: the server goes on)
            log.exception("lgtrace serve: could not write thread records to %s", self.path)

    def _write(self, rows: dict[str, tuple[Any, ...] | None]) -> None:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            for tid, row in rows.items():
                if row is None:
                    conn.execute("DELETE FROM lgtrace_threads WHERE thread_id = ?", (tid,))
                else:
                    conn.execute("INSERT OR REPLACE INTO lgtrace_threads VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            conn.commit()


SORTS = ("thread_id", "status", "created_at", "updated_at")


def search_body(body: dict[str, Any]) -> dict[str, Any]:
    """A ``POST /threads/search`` body checked: metadata, ids, status, limit, offset, sort."""
    unsupported = [k for k in ("values", "extract") if body.get(k)]
    if unsupported:
        raise RunError(422, f"threads search by {unsupported} is not supported by lgtrace serve yet")
    sort_by = body.get("sort_by") or "updated_at"
    if sort_by not in SORTS:
        raise RunError(422, f"Unknown sort_by {sort_by!r}; valid: {list(SORTS)}")
    order = body.get("sort_order") or "desc"
    if order not in ("asc", "desc"):
        raise RunError(422, f"Unknown sort_order {order!r}; valid: ['asc', 'desc']")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RunError(422, "'metadata' must be an object")
    return {
        "metadata": metadata,
        "ids": body.get("ids"),
        "status": body.get("status"),
        "limit": int(body.get("limit") or 10),
        "offset": int(body.get("offset") or 0),
        "sort_by": sort_by,
        "desc": order == "desc",
    }


class Registry:
    """Threads and runs of one server process (bounded: finished runs beyond ``keep_runs`` are
    forgotten, oldest first; a run's log keeps at most ``max_events`` events)."""

    def __init__(
        self,
        graphs: dict[str, Any],
        saver: Any,
        *,
        keep_runs: int = 1000,
        max_events: int = 10_000,
        fresh_threads: bool = True,
        records: ThreadFile | None = None,
    ):
        self.saver = FreshThreads(saver) if fresh_threads else saver
        self.graphs = {gid: self._bind(g) for gid, g in graphs.items()}
        self.assistants = {
            gid: str(uuid.uuid5(uuid.NAMESPACE_URL, f"lgtrace:assistant:{gid}")) for gid in graphs
        }
        self.threads: dict[str, Thread] = {}
        self.records = records
        if records is not None:
            self.threads = {t.thread_id: t for t in records.load()}
        self.runs: dict[str, Run] = {}
        self.keep_runs = keep_runs
        self.max_events = max_events

    def _bind(self, graph: Any) -> Any:
        bound = copy.copy(graph)
        bound.checkpointer = self.saver
        return bound

    # -- lookups ---------------------------------------------------------------------------------

    def graph_id(self, assistant_id: str) -> str:
        if assistant_id in self.graphs:
            return assistant_id
        for gid, aid in self.assistants.items():
            if aid == assistant_id:
                return gid
        raise RunError(404, f"Assistant {assistant_id!r} not found (graphs: {sorted(self.graphs)})")

    def assistant_json(self, graph_id: str) -> dict[str, Any]:
        return {
            "assistant_id": self.assistants[graph_id],
            "graph_id": graph_id,
            "name": graph_id,
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
            "version": 1,
            "created_at": "1970-01-01T00:00:00+00:00",
            "updated_at": "1970-01-01T00:00:00+00:00",
            "description": None,
        }

    async def thread(self, thread_id: str) -> Thread:
        """A known thread, or one the checkpoint file has from an earlier server process."""
        thread = self.threads.get(thread_id)
        if thread is None:
            saved = await self.saver.aget_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
            graph_id = (saved.metadata or {}).get("graph_id") if saved is not None else None
            if graph_id not in self.graphs:
                raise RunError(404, f"Thread {thread_id!r} not found")
            thread = Thread(thread_id, {"graph_id": graph_id, "assistant_id": self.assistants[graph_id]})
            thread.graph_id = graph_id
            thread.created_at = thread.updated_at = saved.checkpoint["ts"]
            self.threads[thread_id] = thread
        return thread

    async def run(self, run_id: str, thread_id: str | None = None) -> Run:
        run = self.runs.get(run_id)
        if run is None or (thread_id is not None and run.thread_id != thread_id):
            raise RunError(404, f"Run {run_id!r} not found")
        return run

    async def create_thread(
        self,
        thread_id: str | None,
        metadata: dict[str, Any] | None,
        if_exists: str,
        *,
        temporary: bool = False,
    ) -> Thread:
        """A new thread (``temporary``: a stateless run's, dropped when the run ends)."""
        if thread_id is not None and thread_id in self.threads:
            if if_exists == "do_nothing":
                return self.threads[thread_id]
            raise RunError(409, f"Thread {thread_id!r} already exists")
        thread = Thread(thread_id or str(uuid.uuid4()), dict(metadata or {}), temporary=temporary)
        self.threads[thread.thread_id] = thread
        if thread_id is None and isinstance(self.saver, FreshThreads):  # (an id we made: nothing saved)
            self.saver.fresh.add(thread.thread_id)
        await self.saved_thread(thread)
        return thread

    async def update_thread(self, thread: Thread, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the thread's (``PATCH /threads/{id}``)."""
        thread.metadata.update(metadata)
        thread.touch()
        await self.saved_thread(thread)

    async def saved_thread(self, thread: Thread) -> None:
        """The thread's record changed."""
        if self.records is not None:
            self.records.changed(thread)

    async def delete_thread(self, thread: Thread) -> None:
        """``DELETE /threads/{id}``: its checkpoints and records (409 while a run is on it)."""
        if await self.busy(thread):
            raise RunError(409, f"Thread {thread.thread_id!r} is busy: cancel its run first")
        await self.saver.adelete_thread(thread.thread_id)
        await self.forget_thread(thread)

    async def forget_thread(self, thread: Thread) -> None:
        """The thread's record goes (its checkpoints are gone)."""
        self.threads.pop(thread.thread_id, None)
        if self.records is not None:
            self.records.removed(thread.thread_id)

    async def search_threads(self, query: dict[str, Any]) -> list[Thread]:
        """Threads whose metadata holds ``query["metadata"]`` (and of the ids / status given),
        sorted and paged."""
        wanted = query["metadata"]
        found = [
            t
            for t in self.threads.values()
            if not t.temporary
            and all(t.metadata.get(k) == v for k, v in wanted.items())
            and (query["status"] is None or t.status == query["status"])
            and (query["ids"] is None or t.thread_id in query["ids"])
        ]
        found.sort(key=lambda t: getattr(t, query["sort_by"]), reverse=query["desc"])
        return found[query["offset"] : query["offset"] + query["limit"]]

    async def runs_of(self, thread_id: str) -> list[dict[str, Any]]:
        return [r.as_json() for r in reversed(self.runs.values()) if r.thread_id == thread_id]

    # -- runs ------------------------------------------------------------------------------------

    def validate(self, body: dict[str, Any]) -> tuple[str, list[str], str]:
        """A run request's graph id, stream modes and multitask strategy (422/404 when wrong)."""
        graph_id = self.graph_id(str(body.get("assistant_id") or ""))
        modes = body.get("stream_mode") or ["values"]
        modes = [modes] if isinstance(modes, str) else list(modes)
        for mode in modes:
            if mode in _NOT_YET:
                raise RunError(
                    422, f"stream_mode {mode!r} is not supported by lgtrace serve yet; valid: {list(MODES)}"
                )
            if mode not in MODES:
                raise RunError(422, f"Unknown stream_mode {mode!r}; valid modes: {list(MODES)}")
        if body.get("input") is not None and body.get("command") is not None:
            raise RunError(422, "Pass either 'input' or 'command', not both")
        for key, what in (("webhook", "webhooks"), ("after_seconds", "delayed runs")):
            if body.get(key):
                raise RunError(422, f"'{key}': {what} are not supported by lgtrace serve yet")
        strategy = body.get("multitask_strategy") or "enqueue"
        if strategy not in STRATEGIES:
            raise RunError(422, f"Unknown multitask_strategy {strategy!r}; valid: {list(STRATEGIES)}")
        return graph_id, modes, strategy

    async def start(self, thread: Thread, body: dict[str, Any]) -> Run:
        """Validate a run request and start it in the background (it waits for the thread's
        active run, or stops it, by ``multitask_strategy``)."""
        graph_id, modes, strategy = self.validate(body)
        busy = await self.busy(thread)
        run = Run(
            new_id(),
            thread.thread_id,
            self.assistants[graph_id],
            dict(body.get("metadata") or {}),
            strategy,
            {**body, "stream_mode": modes},
            self.max_events,
        )
        run.log = self.new_log(run)
        previous = await self.take_turn(thread, run, strategy, busy)  # (raises 409 when refused)
        thread.graph_id = graph_id
        thread.status = "busy"
        thread.metadata.setdefault("graph_id", graph_id)
        thread.metadata.setdefault("assistant_id", self.assistants[graph_id])
        self.runs[run.run_id] = run
        self._forget_old_runs()
        await self.saved(thread, run)
        await run.add("metadata", {"run_id": run.run_id, "attempt": 1})
        run.task = asyncio.get_running_loop().create_task(self._execute(thread, run, graph_id, previous))
        return run

    # -- hooks: how runs of one thread take turns and where records live (in process here) ---------

    def new_log(self, run: Run) -> Any:
        return MemoryLog(self.max_events)

    async def busy(self, thread: Thread) -> bool:
        return thread.active is not None and not thread.active.done

    async def take_turn(self, thread: Thread, run: Run, strategy: str, busy: bool) -> Any:
        """Make ``run`` the thread's next run; a busy thread refuses it (``reject``: 409), or its
        active run is stopped first (``interrupt``/``rollback``) or waited for (``enqueue``).
        Returns what ``wait_turn`` needs."""
        if busy and strategy == "reject":
            raise RunError(409, BUSY)
        previous = thread.active if busy else None
        if previous is not None and strategy in ("interrupt", "rollback"):
            previous.cancel_action = strategy
            if previous.task is not None:
                previous.task.cancel()
        thread.active = run
        return previous

    async def wait_turn(self, thread: Thread, run: Run, previous: Any) -> str | None:
        """Wait until the run may start; returns the checkpoint to roll back to, if any."""
        if previous is None:
            return None
        if previous.task is not None:
            await asyncio.gather(previous.task, return_exceptions=True)
        return await self.roll_back(thread, previous.run_id) if previous.cancel_action == "rollback" else None

    async def roll_back(self, thread: Thread, run_id: str) -> str | None:
        """Undo run ``run_id`` (``multitask_strategy="rollback"``): the checkpoint the thread was at
        before it, for the next run to start from (the parent of the run's first checkpoint:
        checkpoints carry their run's id in metadata); a thread it started is emptied."""
        from lgtrace.checkpoint.saver import saves_done

        await saves_done(thread.thread_id)  # (the cancelled run's last saves land first)
        config = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": ""}}
        first = None
        async for saved in self.saver.alist(config, filter={"run_id": run_id}):
            first = saved  # (newest first: the last one is the run's first)
        if first is None:
            return None
        if first.parent_config is None:
            await self.saver.adelete_thread(thread.thread_id)
            return None
        return first.parent_config["configurable"]["checkpoint_id"]

    async def saved(self, thread: Thread, run: Run) -> None:
        """The thread and run records changed (in process: the thread's record, written behind)."""
        await self.saved_thread(thread)

    async def ended(self, thread: Thread, run: Run, status: str) -> None:
        if thread.active is run:
            thread.active = None
            thread.status = status_after(status)

    def _forget_old_runs(self) -> None:
        if len(self.runs) <= self.keep_runs:
            return
        for run_id in [rid for rid, r in self.runs.items() if r.done][: len(self.runs) - self.keep_runs]:
            del self.runs[run_id]

    async def _execute(self, thread: Thread, run: Run, graph_id: str, previous: Any) -> None:
        status = "error"
        try:
            rollback_to = await self.wait_turn(thread, run, previous)
            status = await self._run_graph(thread, run, graph_id, rollback_to)
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        finally:
            thread.touch()
            try:
                await self.ended(thread, run, status)
                run.status, run.updated_at = status, now()
                try:  # recorded before the log ends: a client whose stream closes asks the run how it ended
                    await self.saved(thread, run)
                finally:
                    await run.finish()
                if thread.temporary and run.body.get("on_completion", "delete") == "delete":
                    await self.saver.adelete_thread(thread.thread_id)
                    await self.forget_thread(thread)
            except Exception:  # (a store that went away: the run ends anyway; readers see it fail)
                run.done = True
                log.exception("lgtrace serve: could not record the end of run %s", run.run_id)

    async def _run_graph(self, thread: Thread, run: Run, graph_id: str, rollback_to: str | None) -> str:
        """Run the graph, its events to the run's log; returns the run's status."""
        graph = self.graphs[graph_id]
        body = run.body
        config = _run_config(body, thread, run, graph_id, self.assistants[graph_id])
        if rollback_to:
            config["configurable"]["checkpoint_id"] = rollback_to
        if run.from_checkpoint:  # (a retry continues where the run got to, not from a checkpoint it named)
            config["configurable"].pop("checkpoint_id", None)
        run.status = "running"
        await self.saved(thread, run)
        modes = body["stream_mode"]
        runtime_modes = sorted({_RUNTIME_MODE.get(m, m) for m in modes})
        subgraphs = bool(body.get("stream_subgraphs"))
        kwargs: dict[str, Any] = {}
        for key in ("interrupt_before", "interrupt_after", "durability", "context"):
            if body.get(key) is not None:
                kwargs[key] = body[key]
        command = body.get("command")
        graph_input = Command(**_command(command)) if command is not None else body.get("input")
        if run.from_checkpoint:
            graph_input = None
        legacy = _LegacyMessages() if "messages" in modes else None
        status = "success"
        try:
            async for ns, mode, payload in _stream(graph, graph_input, config, runtime_modes, kwargs):
                if mode == "events":
                    await run.add("events", payload)
                    continue
                if ns and not subgraphs:
                    continue
                suffix = "|" + "|".join(ns) if ns else ""
                for event, data in _events(mode, payload, modes, run, legacy):
                    await run.add(event + suffix, data)
            state = await graph.aget_state({"configurable": {"thread_id": thread.thread_id}})  # the new head
            run.output = state.values
            if state.interrupts:  # (runs.wait / join show them as the official server does)
                status = "interrupted"
                if isinstance(run.output, dict):
                    run.output = {**run.output, "__interrupt__": list(state.interrupts)}
            thread.error = None
        except Exception as exc:  # the client gets the type and message, never a stack trace
            status = "error"
            run.error = error_of(exc)
            thread.error = run.error
            with contextlib.suppress(Exception):  # (the log itself may be what failed)
                await run.add("error", run.error)
        return status

    async def cancel(self, run: Run, action: str = "interrupt") -> None:
        run.cancel_action = action
        if run.task is not None and not run.done:
            run.task.cancel()


async def _stream(graph: Any, graph_input: Any, config: Any, modes: list[str], kwargs: dict[str, Any]) -> Any:
    """The run's ``(namespace, mode, payload)`` events; with ``events`` requested, the run goes
    through ``astream_events`` (v2): every event is sent as ``events`` and the other modes are read
    from the graph run's own ``on_chain_stream`` events."""
    if "events" not in modes:
        async for item in graph.astream(graph_input, config, stream_mode=modes, subgraphs=True, **kwargs):
            yield item
        return
    others = [m for m in modes if m != "events"]
    root: str | None = None
    async for ev in graph.astream_events(
        graph_input, config, version="v2", stream_mode=others or ["values"], subgraphs=True, **kwargs
    ):
        if root is None and ev["event"] == "on_chain_start" and not ev.get("parent_ids"):
            root = ev["run_id"]
        yield (), "events", ev
        if others and ev["event"] == "on_chain_stream" and ev["run_id"] == root:
            yield ev["data"]["chunk"]  # (the graph's own stream carries the other modes)


def _command(command: Any) -> dict[str, Any]:
    if not isinstance(command, dict):
        raise RunError(422, "'command' must be an object with resume, update and/or goto")
    unknown = set(command) - {"resume", "update", "goto"}
    if unknown:
        raise RunError(422, f"'command' has unknown keys {sorted(unknown)} (valid: resume, update, goto)")
    return {k: v for k, v in command.items() if v is not None}


def _run_config(
    body: dict[str, Any], thread: Thread, run: Run, graph_id: str, assistant_id: str
) -> dict[str, Any]:
    config = copy.deepcopy(body.get("config") or {})
    configurable = config.setdefault("configurable", {})
    configurable.update(
        {
            "thread_id": thread.thread_id,
            "run_id": run.run_id,
            "graph_id": graph_id,
            "assistant_id": assistant_id,
        }
    )
    checkpoint = body.get("checkpoint") or {}
    checkpoint_id = body.get("checkpoint_id") or checkpoint.get("checkpoint_id")
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    metadata = config.setdefault("metadata", {})
    metadata.update(run.metadata)
    metadata.update(
        {
            "graph_id": graph_id,
            "assistant_id": assistant_id,
            "run_id": run.run_id,
            "thread_id": thread.thread_id,
            "run_attempt": run.attempt,
        }
    )
    config["run_id"] = uuid.UUID(run.run_id)
    return config


class _LegacyMessages:
    """The legacy ``messages`` mode: a message's metadata once, then the message so far (cumulative)."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def events(self, chunk: Any, metadata: dict[str, Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        key = chunk.id or ""
        if key not in self.seen:
            out.append(("messages/metadata", {key: {"metadata": metadata}}))
            self.seen[key] = chunk
        else:
            self.seen[key] = self.seen[key] + chunk
        whole = self.seen[key]
        shown = whole.model_dump()
        shown["type"] = (
            "ai"
            if "Chunk" in shown.get("type", "") or shown.get("type") == "AIMessageChunk"
            else shown["type"]
        )
        out.append(("messages/partial", [shown]))
        return out


def _events(
    mode: str, payload: Any, modes: list[str], run: Run, legacy: _LegacyMessages | None
) -> list[tuple[str, Any]]:
    """One runtime event as the Agent Server's SSE events."""
    if mode == "messages":
        out: list[tuple[str, Any]] = []
        if "messages-tuple" in modes:
            out.append(("messages", list(payload)))
        if legacy is not None:
            out.extend(legacy.events(*payload))
        return out
    if mode == "tasks" and "input" in payload:  # a task start carries the run's metadata
        return [("tasks", {**payload, "metadata": run.metadata})]
    if mode == "debug" and payload.get("type") == "checkpoint":
        inner = dict(payload["payload"])
        inner["checkpoint"] = _checkpoint_ref(inner.get("config"))
        inner["parent_checkpoint"] = _checkpoint_ref(inner.get("parent_config"))
        inner["tasks"] = [
            {("checkpoint" if k == "state" else k): v for k, v in t.items()} for t in inner.get("tasks", [])
        ]
        return [("debug", {**payload, "payload": inner})]
    return [(mode, payload)]


def _checkpoint_ref(config: Any) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    return {k: conf.get(k) for k in ("checkpoint_id", "thread_id", "checkpoint_ns")}
