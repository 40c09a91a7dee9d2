"""Several ``lgtrace serve`` workers behind one address: threads and runs in PostgreSQL (next to
the checkpoints of ``AsyncPostgresSaver``), each run's events in a Redis Stream, cancellation and
turn-taking through Redis.

- Any worker accepts a run and runs it; any worker serves ``join`` / ``Last-Event-ID`` for any run
  (the events are read from Redis; ids are ``<n>-0``, n the event's number in the run: strictly
  increasing, never shared, and a reader behind what Redis keeps is told so).
- One run of a thread at a time across workers: the running run holds ``lgtrace:thread:<id>`` (a
  Redis key with a short expiry, refreshed while it runs); ``multitask_strategy`` is honoured
  whichever worker the next request reaches (``reject`` answers 409, ``interrupt``/``rollback``
  cancel the holder wherever it runs, ``enqueue`` waits for the key).
- Cancel reaches the worker running the run through a Redis channel.
- A worker that dies: its heartbeat key expires, and another worker marks its runs failed (an
  ``error`` event, the thread left at its last checkpoint, resumable) within ``LOST_AFTER`` seconds,
  or, with ``retry_lost`` (``--retry-lost-runs N``), takes each over as its next attempt (at most N
  more): a ``metadata`` event with the attempt number, then the graph continues the thread from the
  last checkpoint the run wrote (from the run's input when it wrote none), its events appended to the
  same stream (a client joined to the run reads on; the task that was running when the worker died
  runs again, so its events before the failure may show twice).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import threading
import time
import uuid
from typing import Any

from lgtrace.server.runs import BUSY, Registry, Run, RunError, Thread, log, status_after
from lgtrace.server.serde import dumps, error_of

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
ALTER TABLE lgtrace_runs ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS lgtrace_runs_thread ON lgtrace_runs (thread_id);
CREATE INDEX IF NOT EXISTS lgtrace_runs_active ON lgtrace_runs (status)
    WHERE status IN ('pending', 'running');
"""


REDIS_SOCKET_TIMEOUT = 30.0
"""Seconds a worker waits for Redis to answer (longer than a blocking read between heartbeats)."""
MAX_QUEUED = 10_000
"""Events waiting to be written to Redis after which a run's next event waits for them."""
REDIS_CONNECTIONS = 64
"""Connections a worker opens to Redis at most (a command waits for a free one): the runs' writes
share them, and all streams read here share one (``Tails``)."""
HEARTBEAT_READ = 5.0
"""Seconds a blocking read of run streams waits for events."""
BATCH = 1000
"""Events read per stream per read."""
WINDOW = 256
"""Events of a run stream a worker keeps for its readers (one behind them reads Redis directly)."""
IDLE = 10.0
"""Seconds a stream nobody here reads is still followed (a reader may come back)."""
DONE_IDLE = 2.0
"""The same, for a stream that ended."""
RUN_TTL = 3600
"""Seconds a finished run's events stay in Redis (when kept for replay)."""


Entry = tuple[str, str, str]
"""``(event id, event name, data JSON)``."""


class RedisLog:
    """One run's events in a Redis Stream (``lgtrace:run:<id>``): any worker reads it. This worker
    writes them through its ``Writes`` (one pipeline for every run's waiting events) and its clients
    read them through its ``Tails`` (one blocking read for every stream they follow).

    Event ids are ``<n>-0``, ``n`` the event's number in the run (1, 2, ...; Redis checks they
    increase): from the oldest id Redis still keeps, a reader knows whether events after its own
    were trimmed away. ``new``: a run that starts here (else the numbering continues the stream's)."""

    def __init__(
        self, redis: Any, run: Run, max_events: int, writes: Writes, tails: Tails, *, new: bool
    ) -> None:
        self.redis = redis
        self.key = f"lgtrace:run:{run.run_id}"
        self.max_events = max_events
        self.writes = writes
        self.tails = tails
        self.number: int | None = 0 if new else None
        """The number of the last event given an id (None: not read from the stream yet)."""
        self.ended = run.done and not new
        """The run had ended when this log was opened: a stream no longer there has expired."""
        self.failed: BaseException | None = None
        """Why events of this run could not be written (the next ``add`` raises it)."""

    async def _next_id(self) -> str:
        if self.number is None:
            self.number = _key(await self.tail_position())[0]
        self.number += 1
        return f"{self.number}-*"

    async def add(self, event: str, data: str) -> None:
        if self.failed is not None:
            raise self.failed
        await self.writes.put(self, await self._next_id(), event, data)

    async def finish(self, keep: bool = True) -> None:
        """The run ended (a done marker after its events); the stream expires after ``RUN_TTL``
        seconds, or a minute when its events are not kept for replay (readers still tailing it get
        to the marker). Returns once the marker is in Redis."""
        await self.writes.put(self, await self._next_id(), _DONE, "" if keep else "drop", wait=True)

    def check_id(self, event_id: str) -> None:
        if event_id != "-1" and not _ID.match(event_id):
            raise RunError(422, f"Last-Event-ID {event_id!r} is not an event id of this run")

    async def tail_position(self) -> str:
        """The id of the newest event (``"0-0"``: none yet)."""
        newest = await self.redis.xrevrange(self.key, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def read(self, after: str, timeout: float) -> tuple[list[Entry], bool, bool]:
        """Events after id ``after`` (``"-1"``: from the start), waiting up to ``timeout`` for some:
        ``(events, lagged, done)``; ``lagged``: events after ``after`` are no longer kept."""
        if self.ended:  # (checked once: a finished run's stream expires)
            self.ended = False
            if not await self.redis.exists(self.key):
                return [], True, False
        return await self.tails.read(self.key, "0-0" if after == "-1" else after, timeout)

    async def wait_done(self) -> None:
        position = "0-0"
        while True:
            events, _, done = await self.read(position, HEARTBEAT_READ)
            if done:
                return
            if events:
                position = events[-1][0]


async def read_stream(redis: Any, key: str, after: str, timeout: float) -> tuple[list[Entry], bool, bool]:
    """Events of one stream after ``after`` straight from Redis, waiting up to ``timeout``."""
    if after != "0-0" and await _trimmed_past(redis, key, after):
        return [], True, False
    found = await redis.xread({key: after}, count=BATCH, block=max(1, int(timeout * 1000)))
    out, done = _entries(found[0][1] if found else ())
    return out, False, done


def _entries(raw: Any) -> tuple[list[Entry], bool]:
    out: list[Entry] = []
    for entry_id, fields in raw:
        event = fields[b"e"].decode()
        if event == _DONE:
            return out, True
        out.append((entry_id.decode(), event, fields[b"d"].decode()))
    return out, False


async def _trimmed_past(redis: Any, key: str, after: str) -> bool:
    """Whether events after ``after`` were trimmed away (the reader fell behind what is kept): the
    oldest kept event's number is more than one past the reader's."""
    oldest = await redis.xrange(key, count=1)
    return bool(oldest) and _key(oldest[0][0].decode())[0] > _key(after)[0] + 1


class Writes:
    """Every run stream this worker writes, written by one task: each round sends the events waiting
    (of every run, in the order they came) in one pipeline, so a run never waits for Redis per event
    and 200 runs streaming tokens cost a few round trips per round, not one per token. A run that
    gets ``MAX_QUEUED`` events ahead of Redis waits for them to be written."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.queue: list[tuple[RedisLog, str, str, str, asyncio.Future[None] | None]] = []
        self.task: asyncio.Task[None] | None = None

    async def put(self, log: RedisLog, entry_id: str, event: str, data: str, *, wait: bool = False) -> None:
        written = (
            asyncio.get_running_loop().create_future() if wait or len(self.queue) >= MAX_QUEUED else None
        )
        self.queue.append((log, entry_id, event, data, written))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._write())
        if written is not None:
            await written

    async def _write(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                error: BaseException | None = None
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for log, entry_id, event, data, _ in batch:
                            done = event == _DONE
                            pipe.xadd(
                                log.key,
                                {"e": event, "d": "" if done else data},
                                id=entry_id,
                                maxlen=log.max_events + done,
                                approximate=False,
                            )
                            if done:
                                pipe.expire(log.key, 60 if data == "drop" else RUN_TTL)
                        await pipe.execute()
                except Exception as exc:  # (Redis away: these runs fail on their next event)
                    error = exc
                for log, _, _, _, written in batch:
                    if error is not None:
                        log.failed = error
                    if written is not None and not written.done():
                        if error is None:
                            written.set_result(None)
                        else:
                            written.set_exception(error)
        finally:
            self.task = None


class Feed:
    """One run stream as this worker's ``Tails`` follows it: the events read so far, a window of
    ``WINDOW`` kept for its readers, who wait for more on ``arrived``."""

    def __init__(self, position: str) -> None:
        self.position = position
        """The id of the last event read from Redis (where the next read starts)."""
        self.floor = position
        """Readers at or after this id are served from the window."""
        self.events: collections.deque[Entry] = collections.deque()
        self.done = False
        self.lagged = False
        self.error: BaseException | None = None
        self.arrived = asyncio.Event()
        self.used = time.monotonic()
        self.waiting = 0

    def add(self, entries: list[Entry], done: bool) -> None:
        self.events.extend(entries)
        while len(self.events) > WINDOW:
            self.floor = self.events.popleft()[0]
        if entries:
            self.position = entries[-1][0]
        self.done = self.done or done
        self.wake()

    def wake(self) -> None:
        self.arrived.set()
        self.arrived = asyncio.Event()

    def after(self, after: str) -> list[Entry] | None:
        """The window's events after ``after``; None when ``after`` is older than the window."""
        key = _key(after)
        if key < _key(self.floor):
            return None
        newer = []
        for entry in reversed(self.events):  # (readers are near the end: walk back to them)
            if _key(entry[0]) <= key:
                break
            newer.append(entry)
        newer.reverse()
        return newer


class Tails:
    """Every run stream this worker's clients read, followed by one blocking ``XREAD`` for all of
    them: 200 streaming clients cost one Redis connection and one read per batch of events, not
    200. A stream is added when its first reader here arrives (a wake-up entry in the worker's own
    stream ends the read in progress, so the new stream is read at once) and dropped when nobody
    has read it for ``IDLE`` seconds. A reader behind the window reads Redis directly."""

    def __init__(self, redis: Any, worker: str) -> None:
        self.redis = redis
        self.wake_key = f"lgtrace:wake:{worker}"
        self.wake_id = "0-0"
        self.feeds: dict[str, Feed] = {}
        self.added = asyncio.Event()
        self.reading = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._follow())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.redis.delete(self.wake_key)

    async def read(self, key: str, after: str, timeout: float) -> tuple[list[Entry], bool, bool]:
        feed = self.feeds.get(key)
        if feed is None:
            if after != "0-0" and await _trimmed_past(self.redis, key, after):
                return [], True, False
            feed = self.feeds[key] = Feed(after)
            await self._wake()
        feed.used = time.monotonic()
        if feed.error is not None:
            raise feed.error
        pending = feed.after(after)
        if pending is None:  # (behind the window: from Redis)
            return await read_stream(self.redis, key, after, timeout)
        if not pending and not feed.done and not feed.lagged:
            arrived = feed.arrived
            feed.waiting += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), timeout)
            finally:
                feed.waiting -= 1
                feed.used = time.monotonic()
            if feed.error is not None:
                raise feed.error
            pending = feed.after(after)
            if pending is None:
                return await read_stream(self.redis, key, after, timeout)
        return pending, feed.lagged and not pending, feed.done

    async def _wake(self) -> None:
        self.added.set()
        if self.reading:  # (end the read in progress: it does not include the new stream)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self.wake_key, {"w": ""}, maxlen=1, approximate=False)
                pipe.expire(self.wake_key, RUN_TTL)
                await pipe.execute()

    async def _follow(self) -> None:
        while True:
            self._drop_idle()
            if not self.feeds:
                self.added.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.added.wait(), IDLE)
                continue
            self.added.clear()
            streams = {key: feed.position for key, feed in self.feeds.items() if not feed.done}
            if not streams:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.added.wait(), IDLE)
                continue
            streams[self.wake_key] = self.wake_id
            self.reading = True
            try:
                found = await self.redis.xread(streams, count=BATCH, block=int(HEARTBEAT_READ * 1000))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: every reader here gets the error
                for key in streams:
                    feed = self.feeds.pop(key, None)
                    if feed is not None:
                        feed.error = exc
                        feed.wake()
                await asyncio.sleep(0.1)  # (readers arriving meanwhile wait, not spin on a dead Redis)
                continue
            finally:
                self.reading = False
            for raw_key, raw in found or ():
                key = raw_key.decode()
                if key == self.wake_key:
                    self.wake_id = raw[-1][0].decode()
                    continue
                feed = self.feeds.get(key)
                if feed is None:
                    continue
                if len(raw) == BATCH and await _trimmed_past(self.redis, key, feed.position):
                    feed.lagged = True  # (the writer outran this worker's reads)
                entries, done = _entries(raw)
                feed.add(entries, done)

    def _drop_idle(self) -> None:
        now = time.monotonic()
        for key, feed in list(self.feeds.items()):
            if not feed.waiting and now - feed.used > (DONE_IDLE if feed.done else IDLE):
                del self.feeds[key]


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


class ScaledRegistry(Registry):
    """The registry of one worker among several sharing PostgreSQL and Redis."""

    def __init__(
        self,
        graphs: dict[str, Any],
        saver: Any,
        pool: Any,
        redis: Any,
        *,
        redis_url: str,
        retry_lost: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(graphs, saver, fresh_threads=False, **options)  # (other workers write too)
        self.pool = pool
        self.redis = redis
        self.redis_url = redis_url
        self.retry_lost = retry_lost
        """Attempts a run whose worker died gets on another worker (0: it is failed)."""
        self.worker = str(uuid.uuid4())
        self.tails = Tails(redis, self.worker)
        self.writes = Writes(redis)
        self.background: list[asyncio.Task[Any]] = []
        self.stopping = threading.Event()
        self.beating: threading.Thread | None = None
        self.keys: dict[str, str] = {}
        """Thread keys this worker holds: thread id -> run id."""

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SCHEMA)
        import redis as sync_redis

        beats = sync_redis.Redis.from_url(self.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT)
        self._beat(beats)
        self.beating = threading.Thread(
            target=self._heartbeats, args=(beats,), name="lgtrace-heartbeat", daemon=True
        )
        self.beating.start()
        loop = asyncio.get_running_loop()
        self.background = [loop.create_task(self._sweeps()), loop.create_task(self._cancels())]
        self.tails.start()

    async def close(self) -> None:
        self.stopping.set()
        if self.beating is not None:
            await asyncio.to_thread(self.beating.join)
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.tails.close()
        if self.writes.task is not None:  # (what the last runs wrote lands first)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.writes.task), 5)
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
        self,
        thread_id: str | None,
        metadata: dict[str, Any] | None,
        if_exists: str,
        *,
        temporary: bool = False,
    ) -> Thread:
        thread = Thread(thread_id or str(uuid.uuid4()), dict(metadata or {}), temporary=temporary)
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
        async with self.pool.connection() as conn:
            await _update_thread(conn, thread)
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
                    dumps(run.body),
                    run.created_at,
                    run.updated_at,
                    None if run.output is None else dumps(run.output),
                    None if run.error is None else dumps(run.error),
                    self.worker,
                ),
            )

    async def saved_thread(self, thread: Thread) -> None:
        async with self.pool.connection() as conn:
            await _update_thread(conn, thread)

    async def delete_thread(self, thread: Thread) -> None:
        if await self.redis.exists(self._thread_key(thread.thread_id)):  # (a run holds it, anywhere)
            raise RunError(409, f"Thread {thread.thread_id!r} is busy: cancel its run first")
        await super().delete_thread(thread)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM lgtrace_runs WHERE thread_id = %s", (thread.thread_id,))

    async def forget_thread(self, thread: Thread) -> None:
        await super().forget_thread(thread)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM lgtrace_threads WHERE thread_id = %s", (thread.thread_id,))

    async def search_threads(self, query: dict[str, Any]) -> list[Thread]:
        sql = "SELECT thread_id FROM lgtrace_threads WHERE metadata @> %s"
        params: list[Any] = [json.dumps(query["metadata"])]
        if query["status"] is not None:
            sql += " AND status = %s"
            params.append(query["status"])
        if query["ids"] is not None:
            sql += " AND thread_id = ANY(%s)"
            params.append(list(query["ids"]))
        sql += f" ORDER BY {query['sort_by']} {'DESC' if query['desc'] else 'ASC'} LIMIT %s OFFSET %s"
        params += [query["limit"], query["offset"]]
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()
        return [await self.thread(row[0]) for row in rows]

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
        run.log = self.new_log(run, new=False)
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

    def new_log(self, run: Run, new: bool = True) -> RedisLog:
        return RedisLog(self.redis, run, self.max_events, self.writes, self.tails, new=new)

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
        thread.status = status_after(status)
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

    def _beat(self, redis: Any) -> None:
        ttl = int(LOST_AFTER * 1000)
        with redis.pipeline(transaction=False) as pipe:
            pipe.set(f"lgtrace:worker:{self.worker}", "1", px=ttl)
            for thread_id, run_id in list(self.keys.items()):
                pipe.set(self._thread_key(thread_id), run_id, px=ttl, xx=True)
            pipe.execute()

    def _heartbeats(self, redis: Any) -> None:
        """In a thread of its own, on a connection of its own: a worker whose event loop is busy
        (hundreds of runs streaming) is alive, and must not have its runs taken for lost."""
        while not self.stopping.wait(HEARTBEAT):
            with contextlib.suppress(Exception):  # (Redis away: runs fail on their own writes)
                self._beat(redis)

    async def _sweeps(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            with contextlib.suppress(Exception):
                await self._sweep()

    async def _sweep(self) -> None:
        """Runs of workers whose heartbeat expired: taken over (``retry_lost``) or failed, their
        threads left as saved."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT run_id, thread_id, worker, attempt FROM lgtrace_runs "
                    "WHERE status IN ('pending', 'running') AND worker <> %s",
                    (self.worker,),
                )
            ).fetchall()
        workers = sorted({row[2] for row in rows})
        alive = await self.redis.mget([f"lgtrace:worker:{w}" for w in workers]) if workers else []
        lost_workers = {w for w, beat in zip(workers, alive, strict=True) if beat is None}
        for run_id, thread_id, worker, attempt in rows:
            if worker not in lost_workers:
                continue
            if attempt <= self.retry_lost:
                async with self.pool.connection() as conn:
                    cur = await conn.execute(
                        "UPDATE lgtrace_runs SET worker = %s, attempt = attempt + 1 WHERE run_id = %s "
                        "AND worker = %s AND status IN ('pending', 'running')",
                        (self.worker, run_id, worker),
                    )
                if cur.rowcount != 1:
                    continue  # (another worker took it first)
                try:
                    await self._take_over(run_id, thread_id, attempt + 1)
                except Exception as exc:
                    log.exception("lgtrace serve: could not take over run %s", run_id)
                    await self._fail(run_id, thread_id, error_of(exc))
                continue
            await self._fail(
                run_id,
                thread_id,
                {"error": "WorkerLost", "message": f"the worker running run {run_id} stopped"},
            )

    async def _fail(self, run_id: str, thread_id: str, error: dict[str, Any]) -> None:
        """End a run nobody runs any more with ``error`` (unless another worker ended it first)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE lgtrace_runs SET status = 'error', error = %s WHERE run_id = %s AND status IN "
                "('pending', 'running')",
                (dumps(error), run_id),
            )
            if cur.rowcount != 1:
                return
            await conn.execute(
                "UPDATE lgtrace_threads SET status = 'error', error = %s WHERE thread_id = %s",
                (dumps(error), thread_id),
            )
        events = (await self.run(run_id)).log
        await events.add("error", dumps(error))
        await events.finish()

    async def _take_over(self, run_id: str, thread_id: str, attempt: int) -> None:
        """Run ``run_id`` again here, as its attempt ``attempt``, once the thread's key is free (the
        dead worker's expires)."""
        thread = await self.thread(thread_id)
        run = await self.run(run_id)
        run.attempt, run.status, run.done = attempt, "pending", False
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        async for _ in self.saver.alist(config, filter={"run_id": run_id}, limit=1):
            run.from_checkpoint = True
        graph_id = self.graph_id(run.assistant_id)
        thread.status = "busy"
        self.runs[run_id] = run
        await run.add("metadata", {"run_id": run_id, "attempt": attempt})
        run.task = asyncio.get_running_loop().create_task(
            self._execute(thread, run, graph_id, ("enqueue", None))
        )

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


async def _update_thread(conn: Any, thread: Thread) -> None:
    await conn.execute(
        "UPDATE lgtrace_threads SET metadata = %s, updated_at = %s, status = %s, error = %s, "
        "graph_id = %s WHERE thread_id = %s",
        (
            dumps(thread.metadata),
            thread.updated_at,
            thread.status,
            None if thread.error is None else dumps(thread.error),
            thread.graph_id,
            thread.thread_id,
        ),
    )


async def open_scaled(
    graphs: dict[str, Any], postgres_url: str, redis_url: str, **options: Any
) -> tuple[ScaledRegistry, Any]:
    """The registry of a scaled worker and an async context that closes its connections."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row, tuple_row
    from psycopg_pool import AsyncConnectionPool
    from redis.asyncio import BlockingConnectionPool, Redis

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
    pool_of_redis = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_SOCKET_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
    )
    redis = Redis.from_pool(pool_of_redis)
    stack.push_async_callback(redis.aclose)
    registry = ScaledRegistry(graphs, saver, pool, redis, redis_url=redis_url, **options)
    await registry.setup()
    stack.push_async_callback(registry.close)
    return registry, stack


__all__ = ["RedisLog", "ScaledRegistry", "open_scaled"]
