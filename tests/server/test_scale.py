"""Several ``lgtrace serve`` workers sharing a real PostgreSQL and a real Redis (both started on
127.0.0.1 by fixtures): a run started on one worker is joined on another, cancelled through
another, races on one thread keep ``multitask_strategy``'s meaning, a worker killed mid-run
leaves its thread consistent and resumable, and a Redis restart mid-run ends cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import httpx
import pytest
from langgraph_sdk import get_sync_client

from .conftest import Server

TICKS = {"log": [], "delay": 0.15}


@pytest.fixture
def workers(tmp_path, postgres_url, redis_server):
    env = {"POSTGRES_URI": postgres_url, "REDIS_URI": redis_server.url}
    started = [Server(tmp_path, env=env), Server(tmp_path, env=env)]
    yield started
    for w in started:
        w.stop()


def _events(stream):
    return [(p.id, p.event, p.data) for p in stream]


def test_a_run_started_on_one_worker_is_joined_on_another(workers):
    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    seen, run_ids = [], []
    stream = one.runs.stream(
        tid,
        "ticker",
        input=TICKS,
        stream_mode=["updates", "values"],
        stream_resumable=True,
        on_run_created=lambda m: run_ids.append(m["run_id"]),
    )
    for part in stream:
        seen.append((part.id, part.event, part.data))
        if len(seen) == 4:
            break
    stream.close()
    rest = _events(two.runs.join_stream(tid, run_ids[0], last_event_id=seen[-1][0]))
    everything = _events(two.runs.join_stream(tid, run_ids[0], last_event_id="-1"))
    assert seen + rest == everything  # nothing lost, nothing repeated
    assert [e for _, e, _ in everything].count("updates") == 6
    assert two.threads.get_state(tid)["values"]["log"][-1] == "tick5"
    assert two.runs.get(tid, run_ids[0])["status"] == "success"


def test_a_quiet_run_and_its_end(workers):
    """A step quiet for longer than Redis's default 5 s socket timeout does not break the stream
    (the SSE response waits in a blocking read between heartbeats), and once the stream ends the
    run's record already says how it ended (the SDK asks on close, and reconnects to a running run)."""
    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    run_ids = []
    parts = _events(
        one.runs.stream(
            tid,
            "quiet",
            input={"log": [], "delay": 6.5},
            stream_mode="updates",
            on_run_created=lambda m: run_ids.append(m["run_id"]),
        )
    )
    assert [e for _, e, _ in parts] == ["metadata", "updates"]
    assert two.runs.get(tid, run_ids[0])["status"] == "success"
    for _ in range(20):
        tid = one.threads.create()["thread_id"]
        ended = one.runs.wait(tid, "quiet", input={"log": [], "delay": 0}, raise_error=False)
        assert ended["log"] == ["tick0"]
        assert two.runs.list(tid)[0]["status"] == "success"


def test_150_streams_on_one_worker(workers, redis_server):
    """150 clients streaming from one worker at once: every stream complete, and the worker reads
    them all through one connection to Redis (its connections stay far below one per stream)."""
    import asyncio
    import threading

    import redis
    from langgraph_sdk.client import LangGraphClient

    n = 150
    probe = redis.Redis.from_url(redis_server.url)
    counts, stop = [], threading.Event()

    def sample():
        while not stop.wait(0.05):
            counts.append(len(probe.client_list()))

    async def main():
        http = httpx.AsyncClient(
            base_url=workers[0].url,
            limits=httpx.Limits(max_connections=n + 10),
            timeout=httpx.Timeout(60, pool=60),
        )
        client = LangGraphClient(http)
        threads = await asyncio.gather(*(client.threads.create() for _ in range(n)))

        async def one(thread):
            stream = client.runs.stream(  # (a 1 s step: every client waits at once)
                thread["thread_id"], "quiet", input={"log": [], "delay": 1.0}, stream_mode="updates"
            )
            return [part.event async for part in stream]

        try:
            return await asyncio.gather(*(one(t) for t in threads))
        finally:
            await http.aclose()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        streams = asyncio.run(main())
    finally:
        stop.set()
        sampler.join()
    assert all(events == ["metadata", "updates"] for events in streams)
    assert counts and max(counts) < 30, max(counts)  # (both workers and this probe; 18 when written)


def test_a_join_behind_the_kept_events(tmp_path, postgres_url, redis_server):
    """A run's Redis stream keeps --max-events events: a join from an id before them, on a worker
    that does not hold them either, gets a StreamLagged error (not the rest with a silent hole); a
    join from the start gets what is kept; a join on the worker that followed the run gets it all."""
    env = {"POSTGRES_URI": postgres_url, "REDIS_URI": redis_server.url}
    started = [Server(tmp_path, "--max-events", "20", env=env) for _ in range(2)]
    try:
        one, two = (get_sync_client(url=w.url) for w in started)
        tid = one.threads.create()["thread_id"]
        run = one.runs.create(
            tid,
            "ticker",
            input={"log": [], "delay": 0},
            stream_mode=["values", "updates", "debug"],
            stream_resumable=True,
        )
        one.runs.join(tid, run["run_id"])  # (worker 1 followed the run's stream)
        whole = _events(one.runs.join_stream(tid, run["run_id"], last_event_id="1-0"))
        assert len(whole) > 20 and whole[0][0] == "2-0"  # (its window still had them: no hole either)
        path = f"/threads/{tid}/runs/{run['run_id']}/stream"
        behind = httpx.get(started[1].url + path, headers={"Last-Event-ID": "1-0"}, timeout=30).text
        assert behind.startswith('event: error\r\ndata: {"error":"StreamLagged"')
        kept = _events(two.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
        assert kept == whole[-20:]
    finally:
        for w in started:
            w.stop()


def test_a_join_after_the_events_expired(workers, redis_server):
    """A finished run whose events Redis no longer has (expired): a join ends at once with an error
    event instead of waiting for events that will never come."""
    import redis

    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    run = one.runs.wait(tid, "ticker", input={"log": [], "delay": 0}, raise_error=False)
    run_id = one.runs.list(tid)[0]["run_id"]
    assert run["log"][-1] == "tick5"
    redis.Redis.from_url(redis_server.url).delete(f"lgtrace:run:{run_id}")  # (as expiry would)
    events = _events(two.runs.join_stream(tid, run_id, last_event_id="-1"))
    assert [e for _, e, _ in events] == ["error"] and events[0][2]["error"] == "StreamLagged"


def test_threads_search_update_delete_across_workers(workers):
    one, two = (get_sync_client(url=w.url) for w in workers)
    tag = str(time.monotonic())
    made = [one.threads.create(metadata={"tag": tag, "n": i})["thread_id"] for i in range(3)]
    two.runs.wait(made[1], "ticker", input={"log": [], "delay": 0})
    found = two.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in found] == made and found[1]["values"]["log"][-1] == "tick5"
    page = two.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc", limit=1, offset=2
    )
    assert [t["thread_id"] for t in page] == [made[2]]
    assert two.threads.update(made[0], metadata={"n": 10})["metadata"] == {"tag": tag, "n": 10}
    assert [t["thread_id"] for t in one.threads.search(metadata={"tag": tag, "n": 10})] == [made[0]]
    one.threads.delete(made[1])
    with pytest.raises(httpx.HTTPStatusError) as info:
        two.threads.get(made[1])
    assert info.value.response.status_code == 404
    busy = one.threads.create()["thread_id"]
    one.runs.create(busy, "ticker", input={"log": [], "delay": 0.3})
    with pytest.raises(httpx.HTTPStatusError) as info:
        two.threads.delete(busy)  # (the run holds the thread on the other worker)
    assert info.value.response.status_code == 409


def test_cancel_sent_to_another_worker_stops_the_run(workers):
    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    run = one.runs.create(tid, "ticker", input={"log": [], "delay": 0.5})
    time.sleep(0.3)
    sent = time.monotonic()
    two.runs.cancel(tid, run["run_id"])
    while one.runs.get(tid, run["run_id"])["status"] == "running" and time.monotonic() - sent < 5:
        time.sleep(0.01)
    assert one.runs.get(tid, run["run_id"])["status"] == "interrupted"
    assert time.monotonic() - sent < 1.0
    assert len(two.threads.get_state(tid)["values"].get("log", [])) < 6


def test_racing_clients_on_one_thread(workers):
    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    first = one.runs.create(tid, "ticker", input=TICKS, multitask_strategy="reject")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        two.runs.create(tid, "ticker", input=TICKS, multitask_strategy="reject")
    assert refused.value.response.status_code == 409
    queued = two.runs.create(tid, "ticker", input={"log": ["next"], "delay": 0}, multitask_strategy="enqueue")
    assert two.runs.join(tid, queued["run_id"])["log"][-1] == "tick5"
    assert one.runs.get(tid, first["run_id"])["status"] == "success"  # the first finished before


def test_a_worker_killed_mid_run(workers):
    one, two = (get_sync_client(url=w.url) for w in workers)
    tid = one.threads.create()["thread_id"]
    run = one.runs.create(tid, "ticker", input={"log": [], "delay": 0.3}, durability="sync")
    time.sleep(0.8)
    os.kill(workers[0].proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while two.runs.get(tid, run["run_id"])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert two.runs.get(tid, run["run_id"])["status"] == "error"
    events = _events(two.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
    assert events[-1][1] == "error" and events[-1][2]["error"] == "WorkerLost"
    state = two.threads.get_state(tid)
    done_before = len(state["values"]["log"])
    assert 0 < done_before < 6 and state["next"]  # the thread stays at its last checkpoint
    resumed = two.runs.wait(tid, "ticker", input=None)  # and continues from there on worker 2
    assert resumed["log"] == [f"tick{i}" for i in range(6)]


def test_a_run_whose_worker_died_is_taken_over(tmp_path, postgres_url, redis_server):
    """``--retry-lost-runs 1`` (here its env var): another worker continues the run from its last
    checkpoint as attempt 2, in the same event stream; the thread ends as one unbroken run would."""
    env = {"POSTGRES_URI": postgres_url, "REDIS_URI": redis_server.url, "LGTRACE_RETRY_LOST_RUNS": "1"}
    started = [Server(tmp_path, env=env), Server(tmp_path, env=env)]
    try:
        one, two = (get_sync_client(url=w.url) for w in started)
        tid = one.threads.create()["thread_id"]
        run = one.runs.create(
            tid, "ticker", input={"log": [], "delay": 0.3}, durability="sync", stream_mode="updates"
        )
        time.sleep(0.8)
        os.kill(started[0].proc.pid, signal.SIGKILL)
        events = _events(two.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
        names = [e for _, e, _ in events]
        assert [d["attempt"] for _, e, d in events if e == "metadata"] == [1, 2]
        assert "error" not in names
        first_attempt = names.index("metadata", 1)
        assert 0 < first_attempt - 1 < 6  # (some steps ran on worker 1, the rest on worker 2)
        nodes = [next(iter(d)) for _, e, d in events if e == "updates"]
        assert set(nodes) == {f"s{i}" for i in range(6)} and nodes[-1] == "s5"
        assert two.runs.get(tid, run["run_id"])["status"] == "success"
        assert two.threads.get_state(tid)["values"]["log"] == [f"tick{i}" for i in range(6)]
    finally:
        for w in started:
            w.stop()


def test_redis_restarted_mid_run(workers, redis_server):
    one = get_sync_client(url=workers[0].url)
    tid = one.threads.create()["thread_id"]
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{workers[0].url}/threads/{tid}/runs/stream",
        json={"assistant_id": "ticker", "input": {"log": [], "delay": 0.2}, "stream_mode": "updates"},
        timeout=30,
    ) as r:
        chunks: list[str] = []
        restarted = False
        for chunk in r.iter_text():
            chunks.append(chunk)
            if not restarted and "event: updates" in "".join(chunks):
                redis_server.restart()  # mid-run: the run's next event has nowhere to go
                restarted = True
    body = "".join(chunks)
    assert time.monotonic() - started < 20  # no hang
    assert "event: error" in body  # the client is told
    assert httpx.get(f"{workers[0].url}/ok").status_code == 200


def test_workers_behind_one_address(tmp_path, postgres_url, redis_server):
    """--workers 2: one address, two worker processes accepting on it; a run streamed through one
    connection is joined through others (whichever worker answers); a worker that dies is replaced."""
    env = {"POSTGRES_URI": postgres_url, "REDIS_URI": redis_server.url}
    srv = Server(tmp_path, "--workers", "2", env=env)
    try:
        pids = set()
        deadline = time.monotonic() + 10
        while len(pids) < 2 and time.monotonic() < deadline:
            with httpx.Client() as c:  # a new connection each time
                pids.add(c.get(f"{srv.url}/info").json()["lgtrace"]["pid"])
        assert len(pids) == 2
        client = get_sync_client(url=srv.url)
        tid = client.threads.create()["thread_id"]
        run = client.runs.create(tid, "ticker", input={"log": [], "delay": 0.05}, stream_resumable=True)
        for _ in range(4):  # joins over fresh connections, served by either worker
            parts = _events(client.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
            assert parts[0][1] == "metadata"
        assert client.runs.join(tid, run["run_id"])["log"][-1] == "tick5"
        os.kill(next(iter(pids)), signal.SIGKILL)
        deadline = time.monotonic() + 15
        alive = set()
        while len(alive) < 2 and time.monotonic() < deadline:
            with httpx.Client() as c, contextlib.suppress(httpx.HTTPError):
                alive.add(c.get(f"{srv.url}/info").json()["lgtrace"]["pid"])
        assert len(alive) == 2 and alive != pids  # the dead worker was replaced
    finally:
        srv.stop()
