"""Several ``lgtrace serve`` workers behind one address: threads and runs in PostgreSQL (next to
the checkpoints of ``AsyncPostgresSaver``), each run's events in a Redis Stream, cancellation and
turn-taking through Redis.

- Any worker accepts a run and runs it; any worker serves ``join`` / ``Last-Event-ID`` for any run
  (the events are read from Redis, ids are Redis stream ids: strictly increasing, never shared).
- One run of a thread at a time across workers: the running run holds ``lgtrace:thread:<id>`` (a
  Redis key with a short expiry, refreshed while it runs); ``multitask_strategy`` is honoured
  whichever worker the next request reaches (``reject`` answers 409, ``interrupt``/``rollback``
  cancel the holder wherever it runs, ``enqueue`` waits for the key).
- Cancel reaches the worker running the run through a Redis channel.
- A worker that dies: its heartbeat key expires, and another worker marks its runs failed (an
  ``error`` event, the thread left at its last checkpoint, resumable) within ``LOST_AFTER`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from typing import Any

from lgtrace.server.runs import BUSY, Registry, Run, RunError, Thread
from lgtrace.server.serde import dumps

HEARTBEAT = 1.0
"""Seconds between a worker's heartbeats (and refreshes of the thread keys of its runs)."""
LOST_AFTER = 4.0
"""Seconds without a heartbeat after which a worker counts as dead and its runs as failed."""
_DONE = "__done__"
_ID = re.compile(r"^\d+-\d+$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS lgtrace_threads (
    thread_id TEXT PRIMARY KEY,
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'idle',
    error JSONB,
    graph_id TEXT
);
CREATE TABLE IF NOT EXISTS lgtrace_runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    multitask_strategy TEXT NOT NULL,
    body JSONB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    output JSONB,
    error JSONB,
    worker TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lgtrace_runs_thread ON lgtrace_runs (thread_id);
CREATE INDEX IF NOT EXISTS lgtrace_runs_active ON lgtrace_runs (status)
    WHERE status IN ('pending', 'running');
"""


REDIS_SOCKET_TIMEOUT = 30.0
"""Seconds a worker waits for Redis to answer (longer than a blocking read between heartbeats)."""


class RedisLog:
    """One run's events in a Redis Stream (``lgtrace:run:<id>``): any worker reads it."""

    def __init__(self, redis: Any, run_id: str, max_events: int, ttl: int = 3600) -> None:
        self.redis = redis
        self.key = f"lgtrace:run:{run_id}"
        self.max_events = max_events
        self.ttl = ttl

    async def add(self, event: str, data: str) -> None:
        await self.redis.xadd(self.key, {"e": event, "d": data}, maxlen=self.max_events, approximate=False)

    async def finish(self, keep: bool = True) -> None:
        """The run ended (a done marker); the stream expires after ``ttl`` seconds, or a minute when
        its events are not kept for replay (readers still tailing it get to the marker)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.key, {"e": _DONE, "d": ""}, maxlen=self.max_events + 1, approximate=False)
            pipe.expire(self.key, self.ttl if keep else 60)
            await pipe.execute()

    def check_id(self, event_id: str) -> None:
        if event_id != "-1" and not _ID.match(event_id):
            raise RunError(422, f"Last-Event-ID {event_id!r} is not an event id of this run")

    def tail_position(self) -> str:
        return "$"

    async def read(self, after: str, timeout: float) -> tuple[list[tuple[str, str, str]], bool, bool]:
        start = "0-0" if after == "-1" else after
        if after not in ("-1", "$") and await self._trimmed_past(after):
            return [], True, False
        found = await self.redis.xread({self.key: start}, count=1000, block=max(1, int(timeout * 1000)))
        out: list[tuple[str, str, str]] = []
        done = False
        for _, entries in found or ():
            for entry_id, fields in entries:
                event = fields[b"e"].decode()
                if event == _DONE:
                    done = True
                    break
                out.append((entry_id.decode(), event, fields[b"d"].decode()))
        return out, False, done

    async def _trimmed_past(self, after: str) -> bool:
        """Whether events after ``after`` were trimmed away (the client fell behind)."""
        with contextlib.suppress(Exception):  # (no stream yet: nothing was trimmed)
            info = await self.redis.xinfo_stream(self.key)
            deleted = info.get("max-deleted-entry-id") or b"0-0"
            deleted = deleted.decode() if isinstance(deleted, bytes) else str(deleted)
            return _key(deleted) > _key(after)
        return False

    async def wait_done(self) -> None:
        position = "0-0"
        while True:
            events, _, done = await self.read(position, 5.0)
            if done:
                return
            if events:
                position = events[-1][0]


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


class ScaledRegistry(Registry):
    """The registry of one worker among several sharing PostgreSQL and Redis."""

    def __init__(self, graphs: dict[str, Any], saver: Any, pool: Any, redis: Any, **options: Any) -> None:
        super().__init__(graphs, saver, fresh_threads=False, **options)  # (other workers write too)
        self.pool = pool
        self.redis = redis
        self.worker = str(uuid.uuid4())
        self.background: list[asyncio.Task[Any]] = []
        self.keys: dict[str, str] = {}
        """Thread keys this worker holds: thread id -> run id."""

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA)
        await self._beat()
        loop = asyncio.get_running_loop()
        self.background = [loop.create_task(self._heartbeats()), loop.create_task(self._cancels())]

    async def close(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.redis.delete(f"lgtrace:worker:{self.worker}")

    # -- records ---------------------------------------------------------------------------------

    async def thread(self, thread_id: str) -> Thread:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT thread_id, metadata, created_at, updated_at, status, error, graph_id "
                    "FROM lgtrace_threads WHERE thread_id = %s",
                    (thread_id,),
                )
            ).fetchone()
        if row is None:
            raise RunError(404, f"Thread {thread_id!r} not found")
        known = self.threads.get(thread_id)
        thread = known or Thread(thread_id)
        thread.metadata, thread.created_at, thread.updated_at = row[1], row[2], row[3]
        thread.status, thread.error, thread.graph_id = row[4], row[5], row[6]
        self.threads[thread_id] = thread
        return thread

    async def create_thread(
        self, thread_id: str | None, metadata: dict[str, Any] | None, if_exists: str
    ) -> Thread:
        thread = Thread(thread_id or str(uuid.uuid4()), dict(metadata or {}))
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO lgtrace_threads (thread_id, metadata, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (thread_id) DO NOTHING",
                (thread.thread_id, json.dumps(thread.metadata), thread.created_at, thread.updated_at),
            )
            created = cur.rowcount == 1
        if not created:
            if if_exists == "do_nothing":
                return await self.thread(thread.thread_id)
            raise RunError(409, f"Thread {thread.thread_id!r} already exists")
        self.threads[thread.thread_id] = thread
        return thread

    async def saved(self, thread: Thread, run: Run) -> None:
        body = {k: v for k, v in run.body.items()}
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE lgtrace_threads SET metadata = %s, updated_at = %s, status = %s, error = %s, "
                "graph_id = %s "
                "WHERE thread_id = %s",
                (
                    dumps(thread.metadata),
                    thread.updated_at,
                    thread.status,
                    None if thread.error is None else dumps(thread.error),
                    thread.graph_id,
                    thread.thread_id,
                ),
            )
            await conn.execute(
                "INSERT INTO lgtrace_runs (run_id, thread_id, assistant_id, status, metadata, "
                "multitask_strategy, "
                "body, created_at, updated_at, output, error, worker) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
                "status = EXCLUDED.status, body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, "
                "output = EXCLUDED.output, error = EXCLUDED.error",
                (
                    run.run_id,
                    run.thread_id,
                    run.assistant_id,
                    run.status,
                    dumps(run.metadata),
                    run.multitask_strategy,
                    dumps(body),
                    run.created_at,
                    run.updated_at,
                    None if run.output is None else dumps(run.output),
                    None if run.error is None else dumps(run.error),
                    self.worker,
                ),
            )

    async def run(self, run_id: str, thread_id: str | None = None) -> Run:
        local = self.runs.get(run_id)
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT run_id, thread_id, assistant_id, status, metadata, multitask_strategy, body, "
                    "created_at, updated_at, output, error FROM lgtrace_runs WHERE run_id = %s",
                    (run_id,),
                )
            ).fetchone()
        if row is None or (thread_id is not None and row[1] != thread_id):
            raise RunError(404, f"Run {run_id!r} not found")
        if local is not None:
            return local
        run = Run(row[0], row[1], row[2], row[4], row[5], row[6], self.max_events, status=row[3])
        run.created_at, run.updated_at, run.output, run.error = row[7], row[8], row[9], row[10]
        run.done = row[3] not in ("pending", "running")
        run.log = self.new_log(run)
        return run

    async def runs_of(self, thread_id: str) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT run_id FROM lgtrace_runs WHERE thread_id = %s ORDER BY run_id DESC", (thread_id,)
                )
            ).fetchall()
        return [(await self.run(r[0])).as_json() for r in rows]

    # -- turns -----------------------------------------------------------------------------------

    def new_log(self, run: Run) -> RedisLog:
        return RedisLog(self.redis, run.run_id, self.max_events)

    def _thread_key(self, thread_id: str) -> str:
        return f"lgtrace:thread:{thread_id}"

    async def busy(self, thread: Thread) -> bool:
        return False  # (decided atomically in take_turn)

    async def take_turn(self, thread: Thread, run: Run, strategy: str, busy: bool) -> Any:
        """Take the thread's key now if it is free (atomic: of two racing requests one gets it);
        else refuse (``reject``), cancel its holder wherever it runs (``interrupt``/``rollback``) or
        queue behind it (``enqueue``)."""
        key = self._thread_key(thread.thread_id)
        if await self.redis.set(key, run.run_id, nx=True, px=int(LOST_AFTER * 1000)):
            self.keys[thread.thread_id] = run.run_id
            return (None, None)
        holder = await self.redis.get(key)
        holder_id = holder.decode() if holder else None
        if strategy == "reject":
            raise RunError(409, BUSY)
        if strategy in ("interrupt", "rollback") and holder_id:
            await self.redis.publish("lgtrace:cancel", json.dumps({"run_id": holder_id, "action": strategy}))
        return (strategy, holder_id)

    async def wait_turn(self, thread: Thread, run: Run, previous: Any) -> str | None:
        strategy, holder_id = previous
        if strategy is None:
            return None  # (the key is ours already)
        key = self._thread_key(thread.thread_id)
        while not await self.redis.set(key, run.run_id, nx=True, px=int(LOST_AFTER * 1000)):
            await asyncio.sleep(0.02)  # (the holder releases it when it ends, or it expires)
        self.keys[thread.thread_id] = run.run_id
        if strategy == "rollback" and holder_id:
            return await self.roll_back(thread, holder_id)
        return None

    async def ended(self, thread: Thread, run: Run, status: str) -> None:
        thread.status = {"error": "error", "interrupted": "interrupted"}.get(status, "idle")
        key = self._thread_key(thread.thread_id)
        if self.keys.get(thread.thread_id) == run.run_id:
            del self.keys[thread.thread_id]
            # release only our own key (compare and delete)
            await self.redis.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
                "return 0",
                1,
                key,
                run.run_id,
            )

    async def cancel(self, run: Run, action: str = "interrupt") -> None:
        if run.task is not None:  # ours
            await super().cancel(run, action)
            return
        await self.redis.publish("lgtrace:cancel", json.dumps({"run_id": run.run_id, "action": action}))

    # -- liveness --------------------------------------------------------------------------------

    async def _beat(self) -> None:
        ttl = int(LOST_AFTER * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"lgtrace:worker:{self.worker}", "1", px=ttl)
            for thread_id, run_id in list(self.keys.items()):
                pipe.set(self._thread_key(thread_id), run_id, px=ttl, xx=True)
            await pipe.execute()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            with contextlib.suppress(Exception):  # (Redis away: runs fail on their own writes)
                await self._beat()
                await self._sweep()

    async def _sweep(self) -> None:
        """Runs of workers whose heartbeat expired: failed, their threads left as saved."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT run_id, thread_id, worker FROM lgtrace_runs "
                    "WHERE status IN ('pending', 'running') AND worker <> %s",
                    (self.worker,),
                )
            ).fetchall()
        for run_id, thread_id, worker in rows:
            if await self.redis.exists(f"lgtrace:worker:{worker}"):
                continue
            lost = {"error": "WorkerLost", "message": f"the worker running run {run_id} stopped"}
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "UPDATE lgtrace_runs SET status = 'error', error = %s WHERE run_id = %s AND status IN "
                    "('pending', 'running')",
                    (dumps(lost), run_id),
                )
                if cur.rowcount != 1:
                    continue  # (another worker got there first)
                await conn.execute(
                    "UPDATE lgtrace_threads SET status = 'error', error = %s WHERE thread_id = %s",
                    (dumps(lost), thread_id),
                )
            log = RedisLog(self.redis, run_id, self.max_events)
            await log.add("error", dumps(lost))
            await log.finish()

    async def _cancels(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe("lgtrace:cancel")
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                order = json.loads(message["data"])
                run = self.runs.get(order["run_id"])
                if run is not None and run.task is not None and not run.done:
                    await Registry.cancel(self, run, order.get("action", "interrupt"))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()


async def open_scaled(
    graphs: dict[str, Any], postgres_url: str, redis_url: str, **options: Any
) -> tuple[ScaledRegistry, Any]:
    """The registry of a scaled worker and an async context that closes its connections."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row, tuple_row
    from psycopg_pool import AsyncConnectionPool
    from redis.asyncio import Redis

    stack = contextlib.AsyncExitStack()
    pool = AsyncConnectionPool(
        postgres_url, kwargs={"autocommit": True, "row_factory": tuple_row}, open=False
    )
    await pool.open()
    stack.push_async_callback(pool.close)
    saver_pool = AsyncConnectionPool(
        postgres_url, kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}, open=False
    )
    await saver_pool.open()
    stack.push_async_callback(saver_pool.close)
    saver = AsyncPostgresSaver(saver_pool)
    await saver.setup()
    # redis-py 8 waits 5 s for an answer by default: as long as an SSE response blocks in XREAD
    # between heartbeats, so a quiet stream would end in a TimeoutError (a URL option overrides this)
    redis = Redis.from_url(redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT)
    stack.push_async_callback(redis.aclose)
    registry = ScaledRegistry(graphs, saver, pool, redis, **options)
    await registry.setup()
    stack.push_async_callback(registry.close)
    return registry, stack


__all__ = ["RedisLog", "ScaledRegistry", "open_scaled"]
