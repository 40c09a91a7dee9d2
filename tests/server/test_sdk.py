"""LangGraph's official Python client (``langgraph-sdk``) against ``lgtrace serve``: threads,
streaming in every mode, interrupts and resume, joins with ``Last-Event-ID``, cancel, stateless
runs, ``runs.wait``, history."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from langgraph_sdk import get_sync_client

from .conftest import Server

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def client(server):
    return get_sync_client(url=server.url)


def _parts(stream):
    return [(p.event, p.data) for p in stream]


def test_a_chat_streams_tokens_pauses_and_resumes(client):
    thread = client.threads.create()
    tid = thread["thread_id"]
    parts = _parts(
        client.runs.stream(tid, "agent", input=CHAT, stream_mode=["messages-tuple", "values", "updates"])
    )
    events = [e for e, _ in parts]
    assert events[0] == "metadata"
    tokens = [d[0]["content"] for e, d in parts if e == "messages"]
    assert "".join(tokens) == "hello big world" and len(tokens) == 5
    assert all(d[1]["langgraph_node"] == "call_model" for e, d in parts if e == "messages")
    interrupts = [d["__interrupt__"] for e, d in parts if e == "updates" and "__interrupt__" in d]
    assert interrupts and interrupts[0][0]["value"] == "approve?"
    state = client.threads.get_state(tid)
    assert state["next"] == ["ask"] and state["interrupts"][0]["value"] == "approve?"
    assert client.threads.get(tid)["status"] == "interrupted"

    resumed = _parts(client.runs.stream(tid, "agent", command={"resume": "yes"}, stream_mode="values"))
    assert resumed[0][0] == "metadata" and resumed[-1][1]["approved"] == "yes"
    state = client.threads.get_state(tid)
    assert state["next"] == [] and state["values"]["approved"] == "yes"
    assert client.threads.get(tid)["status"] == "idle"
    history = client.threads.get_history(tid, limit=10)
    steps = [h["metadata"]["step"] for h in history]
    assert steps == sorted(steps, reverse=True) and steps[-1] == -1  # newest first, down to the input


@pytest.mark.parametrize(
    "mode",
    ["values", "updates", "custom", "debug", "tasks", "checkpoints", "messages", "messages-tuple", "events"],
)
def test_every_stream_mode(client, mode):
    tid = client.threads.create()["thread_id"]
    parts = _parts(client.runs.stream(tid, "agent", input=CHAT, stream_mode=mode))
    names = {e for e, _ in parts}
    expected = {
        "values": {"values"},
        "updates": {"updates"},
        "custom": {"custom"},
        "debug": {"debug"},
        "tasks": {"tasks"},
        "checkpoints": {"checkpoints"},
        "messages": {"messages/metadata", "messages/partial"},
        "messages-tuple": {"messages"},
        "events": {"events"},
    }[mode]
    assert names == {"metadata", *expected}
    if mode == "custom":
        assert ("custom", {"progress": "calling model"}) in parts
    if mode == "messages":  # the legacy mode: cumulative partial messages
        partial = [d[0]["content"] for e, d in parts if e == "messages/partial"]
        assert partial[-1] == "hello big world" and partial[0] == "hello"
    if mode == "tasks":
        starts = [d for e, d in parts if e == "tasks" and "input" in d]
        assert starts and all("metadata" in d for d in starts)
    if mode == "events":  # astream_events v2: the model's tokens among them
        kinds = {d["event"] for e, d in parts if e == "events"}
        assert {"on_chain_start", "on_chat_model_stream", "on_chain_end"} <= kinds
    if mode == "debug":
        checkpoints = [d["payload"] for e, d in parts if e == "debug" and d["type"] == "checkpoint"]
        assert checkpoints and all("checkpoint" in c and "parent_checkpoint" in c for c in checkpoints)


def test_resumable_stream_joined_after_a_dropped_connection(client):
    """Drop the connection mid-run, join with the last id seen: nothing lost, nothing repeated;
    a join from every id replays exactly the rest (ids strictly increase)."""
    tid = client.threads.create()["thread_id"]
    seen = []
    run_ids = []
    stream = client.runs.stream(
        tid,
        "ticker",
        input={"log": [], "delay": 0.1},
        stream_mode=["updates", "values"],
        stream_resumable=True,
        on_run_created=lambda meta: run_ids.append(meta["run_id"]),
    )
    for part in stream:
        seen.append((part.id, part.event, part.data))
        if len(seen) == 4:
            break
    stream.close()
    rid = run_ids[0]
    rest = [(p.id, p.event, p.data) for p in client.runs.join_stream(tid, rid, last_event_id=seen[-1][0])]
    everything = [(p.id, p.event, p.data) for p in client.runs.join_stream(tid, rid, last_event_id="-1")]
    assert seen + rest == everything
    ids = [int(i) for i, _, _ in everything]
    assert ids == sorted(set(ids)) and everything[0][1] == "metadata"
    assert [e for _, e, _ in everything].count("updates") == 6
    for k, (eid, _, _) in enumerate(everything):  # a join from any id gives exactly what follows
        assert [
            (p.id, p.event, p.data) for p in client.runs.join_stream(tid, rid, last_event_id=eid)
        ] == everything[k + 1 :]
    assert client.runs.get(tid, rid)["status"] == "success"


def test_background_run_join_and_cancel(client):
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "ticker", input={"log": [], "delay": 0.02})
    assert client.runs.join(tid, run["run_id"])["log"] == [f"tick{i}" for i in range(6)]
    slow = client.runs.create(tid, "ticker", input={"log": [], "delay": 1.0})
    time.sleep(0.2)
    started = time.monotonic()
    client.runs.cancel(tid, slow["run_id"], wait=True)
    assert time.monotonic() - started < 2.0
    assert client.runs.get(tid, slow["run_id"])["status"] == "interrupted"


def test_wait_and_stateless_runs(client):
    tid = client.threads.create()["thread_id"]
    assert client.runs.wait(tid, "ticker", input={"log": [], "delay": 0})["log"][-1] == "tick5"
    paused = client.runs.wait(client.threads.create()["thread_id"], "agent", input=CHAT)
    assert paused["messages"][-1]["content"] == "hello big world"
    assert paused["__interrupt__"][0]["value"] == "approve?"
    assert client.runs.wait(None, "ticker", input={"log": ["x"], "delay": 0})["log"][0] == "x"
    parts = _parts(client.runs.stream(None, "ticker", input={"log": [], "delay": 0}, stream_mode="updates"))
    assert [e for e, _ in parts].count("updates") == 6


def test_on_disconnect_cancel_stops_the_run(client, server):
    tid = client.threads.create()["thread_id"]
    run_ids = []
    stream = client.runs.stream(
        tid,
        "ticker",
        input={"log": [], "delay": 0.3},
        stream_mode="updates",
        on_disconnect="cancel",
        on_run_created=lambda meta: run_ids.append(meta["run_id"]),
    )
    for part in stream:
        if part.event == "updates":
            break
    stream.close()
    deadline = time.monotonic() + 2
    while client.runs.get(tid, run_ids[0])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.runs.get(tid, run_ids[0])["status"] == "interrupted"
    log = client.threads.get_state(tid)["values"].get("log", [])
    assert len(log) < 6  # it did not run to the end


def test_a_node_that_raises(client, server):
    tid = client.threads.create()["thread_id"]
    with httpx.stream(
        "POST",
        f"{server.url}/threads/{tid}/runs/stream",
        json={"assistant_id": "broken", "input": {"log": []}, "stream_mode": "updates"},
    ) as r:
        body = r.read().decode()
    assert 'event: error\r\ndata: {"error":"ValueError","message":"this node is broken"}' in body
    assert "Traceback" not in body
    assert client.threads.get(tid)["status"] == "error"
    assert httpx.get(f"{server.url}/ok").status_code == 200  # the server keeps serving


def test_sse_framing_and_headers(server):
    tid = httpx.post(f"{server.url}/threads", json={}).json()["thread_id"]
    with httpx.stream(
        "POST",
        f"{server.url}/threads/{tid}/runs/stream",
        json={"assistant_id": "ticker", "input": {"log": [], "delay": 0}, "stream_mode": "updates"},
    ) as r:
        body = r.read().decode()
        headers = r.headers
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-accel-buffering"] == "no" and headers["cache-control"] == "no-store"
    assert headers["content-location"].startswith(f"/threads/{tid}/runs/")
    assert headers["location"] == headers["content-location"] + "/stream"
    assert body.startswith('event: metadata\r\ndata: {"run_id":')
    assert "\nid:" not in body  # ids only for resumable streams


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/threads/nope/runs/stream", {"assistant_id": "agent", "input": CHAT}, 404, "not found"),
        ("/threads/{tid}/runs/stream", {"assistant_id": "nope", "input": CHAT}, 404, "nope"),
        ("/threads/{tid}/runs/stream", {"assistant_id": "agent", "stream_mode": "loud"}, 422, "loud"),
        (
            "/threads/{tid}/runs/stream",
            {"assistant_id": "agent", "stream_mode": ["lifecycle"]},
            422,
            "not supported",
        ),
        (
            "/threads/{tid}/runs/stream",
            {"assistant_id": "agent", "input": CHAT, "command": {"resume": 1}},
            422,
            "not both",
        ),
        ("/threads/{tid}/runs", {"assistant_id": "agent", "multitask_strategy": "later"}, 422, "later"),
    ],
)
def test_bad_requests(server, path, body, status, words):
    tid = httpx.post(f"{server.url}/threads", json={}).json()["thread_id"]
    r = httpx.post(server.url + path.format(tid=tid), json=body)
    assert r.status_code == status and words in r.json()["detail"]


def test_malformed_json_and_a_body_over_the_limit(server):
    tid = httpx.post(f"{server.url}/threads", json={}).json()["thread_id"]
    r = httpx.post(
        f"{server.url}/threads/{tid}/runs/stream",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "Malformed JSON" in r.json()["detail"]
    r = httpx.post(
        f"{server.url}/threads/{tid}/runs/stream",
        json={"assistant_id": "agent", "input": {"x": "y" * 200_000}},
    )
    assert r.status_code == 413


def test_unknown_thread_and_run(server):
    assert httpx.get(f"{server.url}/threads/nope").status_code == 404
    tid = httpx.post(f"{server.url}/threads", json={}).json()["thread_id"]
    assert httpx.get(f"{server.url}/threads/{tid}/runs/nope").status_code == 404
    run = httpx.post(
        f"{server.url}/threads/{tid}/runs", json={"assistant_id": "ticker", "input": {"log": []}}
    ).json()
    bad = httpx.get(
        f"{server.url}/threads/{tid}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "abc"}
    )
    assert bad.status_code == 422 and "abc" in bad.json()["detail"]


def test_a_busy_thread_rejects_a_second_run(client):
    tid = client.threads.create()["thread_id"]
    client.runs.create(tid, "ticker", input={"log": [], "delay": 0.2})
    with pytest.raises(httpx.HTTPStatusError) as info:
        client.runs.create(tid, "ticker", input={"log": []}, multitask_strategy="reject")
    assert info.value.response.status_code == 409
    assert client.threads.get(tid)["status"] == "busy"  # (still the first run's)
    queued = client.runs.create(
        tid, "ticker", input={"log": ["again"], "delay": 0}, multitask_strategy="enqueue"
    )
    assert client.runs.join(tid, queued["run_id"])["log"][-1] == "tick5"


def test_assistants(client):
    found = client.assistants.search()
    assert sorted(a["graph_id"] for a in found) == ["agent", "broken", "nested", "quiet", "remote", "ticker"]
    one = client.assistants.get(found[0]["assistant_id"])
    assert one["graph_id"] == found[0]["graph_id"]


def test_threads_search_update_delete(client):
    """threads.search (metadata, status, ids, paging, order), threads.update (metadata merged) and
    threads.delete (its state gone; refused while a run is on it)."""
    tag = str(time.monotonic())
    made = [client.threads.create(metadata={"tag": tag, "n": i})["thread_id"] for i in range(3)]
    client.runs.wait(made[1], "agent", input=CHAT)  # (interrupted: it waits for approval)
    found = client.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in found] == made
    assert found[1]["values"]["messages"][-1]["content"] == "hello big world"
    page = client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc", limit=1, offset=1
    )
    assert [t["thread_id"] for t in page] == [made[1]]
    waiting = client.threads.search(metadata={"tag": tag}, status="interrupted")
    assert [t["thread_id"] for t in waiting] == [made[1]]
    assert [t["thread_id"] for t in client.threads.search(ids=[made[2]], metadata={"tag": tag})] == [made[2]]
    updated = client.threads.update(made[0], metadata={"n": 10, "extra": True})
    assert updated["metadata"]["n"] == 10 and updated["metadata"]["tag"] == tag
    assert client.threads.search(metadata={"tag": tag, "n": 10})[0]["thread_id"] == made[0]
    client.threads.delete(made[1])
    with pytest.raises(httpx.HTTPStatusError) as info:
        client.threads.get(made[1])
    assert info.value.response.status_code == 404
    left = client.threads.search(metadata={"tag": tag})  # (newest update first: made[0] was updated last)
    assert [t["thread_id"] for t in left] == [made[0], made[2]]
    busy = client.threads.create()["thread_id"]
    client.runs.create(busy, "ticker", input={"log": [], "delay": 0.3})
    with pytest.raises(httpx.HTTPStatusError) as info:
        client.threads.delete(busy)
    assert info.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as info:
        client.threads.search(sort_by="colour")
    assert info.value.response.status_code == 422 and "sort_by" in info.value.response.json()["detail"]


def test_a_missing_feature_is_named(client, server):
    """What the Agent Server has and lgtrace serve does not: a JSON error naming it, not a bare 404."""
    from langgraph_sdk.errors import NotFoundError

    with pytest.raises(NotFoundError) as info:
        client.store.put_item(["notes"], "a", {"x": 1})
    assert "the store API is not supported yet" in str(info.value.response.json()["detail"])
    tid = client.threads.create()["thread_id"]
    with pytest.raises(NotFoundError) as info:
        client.crons.create_for_thread(tid, "agent", schedule="* * * * *")
    assert "crons is not supported yet" in info.value.response.json()["detail"]
    with pytest.raises(httpx.HTTPStatusError) as info:
        client.runs.create(tid, "agent", input=CHAT, webhook="http://127.0.0.1:9/hook")
    assert info.value.response.status_code == 422 and "webhooks" in info.value.response.json()["detail"]
    assert client.runs.list(tid) == []  # (refused before it started)
    other = httpx.get(f"{server.url}/no/such/thing")
    assert (
        other.status_code == 404 and other.json()["detail"] == "lgtrace serve has no GET /no/such/thing route"
    )
    wrong = httpx.delete(f"{server.url}/ok")
    assert wrong.status_code == 405 and "DELETE /ok" in wrong.json()["detail"]


def test_events_with_other_modes(client):
    tid = client.threads.create()["thread_id"]
    parts = _parts(
        client.runs.stream(tid, "ticker", input={"log": [], "delay": 0}, stream_mode=["events", "updates"])
    )
    assert [d for e, d in parts if e == "updates"] == [{f"s{i}": {"log": [f"tick{i}"]}} for i in range(6)]
    assert len([e for e, _ in parts if e == "events"]) > 12


def test_subgraph_events_are_namespaced(client):
    tid = client.threads.create()["thread_id"]
    parts = _parts(
        client.runs.stream(
            tid, "nested", input={"log": []}, stream_mode=["updates", "custom"], stream_subgraphs=True
        )
    )
    names = [e for e, _ in parts]
    assert any(n.startswith("custom|sub:") for n in names) and any(
        n.startswith("updates|sub:") for n in names
    )
    assert ("updates", {"sub": {"log": ["inner"]}}) in parts
    flat = [e for e, _ in _parts(client.runs.stream(tid, "nested", input={"log": []}, stream_mode="custom"))]
    assert flat == ["metadata"]  # without stream_subgraphs, a subgraph's events are not sent


def test_resume_with_nothing_pending_and_a_fork(client):
    tid = client.threads.create()["thread_id"]
    client.runs.wait(tid, "ticker", input={"log": [], "delay": 0})
    again = client.runs.wait(tid, "ticker", command={"resume": "nobody asked"})
    assert again["log"][-1] == "tick5"  # as LangGraph: nothing waits, the thread is unchanged
    history = client.threads.get_history(tid, limit=20)
    step2 = next(h for h in history if h["metadata"]["step"] == 2)
    forked = client.runs.wait(tid, "ticker", input=None, checkpoint_id=step2["checkpoint_id"])
    assert forked["log"] == [f"tick{i}" for i in range(6)]  # the steps after it ran again
    assert len(client.threads.get_history(tid, limit=50)) > len(history)


def test_200_concurrent_streams(server):
    """200 SSE clients on one process at once: each gets its own run's events, complete."""

    async def one(c: httpx.AsyncClient, i: int) -> list[str]:
        tid = (await c.post("/threads", json={})).json()["thread_id"]
        body = {
            "assistant_id": "ticker",
            "input": {"log": [f"client{i}"], "delay": 0},
            "stream_mode": "values",
        }
        async with c.stream("POST", f"/threads/{tid}/runs/stream", json=body) as r:
            text = (await r.aread()).decode()
        finals = [line for line in text.split("\r\n") if line.startswith("data: ") and "tick5" in line]
        return finals

    async def scenario() -> list[list[str]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
            return await asyncio.gather(*(one(c, i) for i in range(200)))

    results = asyncio.run(scenario())
    for i, finals in enumerate(results):
        assert len(finals) == 1 and f'"client{i}"' in finals[0]  # no cross-talk


def test_a_slow_client_gets_a_bounded_log(tmp_path):
    """A run's log keeps at most --max-events events: a client that fell behind the kept window
    gets an error event and the server's memory stays bounded."""
    srv = Server(tmp_path, "--max-events", "20")
    try:
        tid = httpx.post(f"{srv.url}/threads", json={}).json()["thread_id"]
        body = {
            "assistant_id": "ticker",
            "input": {"log": [], "delay": 0},
            "stream_mode": ["values", "updates", "debug"],
        }
        run = httpx.post(f"{srv.url}/threads/{tid}/runs", json={**body, "stream_resumable": True}).json()
        httpx.get(f"{srv.url}/threads/{tid}/runs/{run['run_id']}/join", timeout=30)
        with httpx.stream(
            "GET", f"{srv.url}/threads/{tid}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "0"}
        ) as r:
            text = r.read().decode()
        assert text.startswith('event: error\r\ndata: {"error":"StreamLagged"')
        with httpx.stream(
            "GET", f"{srv.url}/threads/{tid}/runs/{run['run_id']}/stream", headers={"Last-Event-ID": "-1"}
        ) as r:
            kept = [line for line in r.read().decode().split("\r\n") if line.startswith("event: ")]
        assert len(kept) == 20  # what is kept, from the start of the kept window
    finally:
        srv.stop()


def test_an_api_key(tmp_path):
    srv = Server(tmp_path, env={"LGTRACE_API_KEY": "s3cret"})
    try:
        assert httpx.post(f"{srv.url}/threads", json={}).status_code == 401
        assert httpx.get(f"{srv.url}/ok").status_code == 200
        good = get_sync_client(url=srv.url, api_key="s3cret")
        tid = good.threads.create()["thread_id"]
        r = httpx.post(
            f"{srv.url}/threads/{tid}/runs/wait",
            json={"assistant_id": "ticker", "input": {"log": []}},
            headers={"x-api-key": "wrong"},
        )
        assert r.status_code == 401
        assert good.runs.list(tid) == []  # no run was started
    finally:
        srv.stop()


def test_threads_outlive_the_server_process(tmp_path):
    """The embedded default keeps checkpoints in a SQLite file: a restarted server serves the
    thread's state and continues it."""
    first = Server(tmp_path)
    try:
        client = get_sync_client(url=first.url)
        tid = client.threads.create(metadata={"user": "ada"})["thread_id"]
        client.runs.wait(tid, "agent", input=CHAT)  # pauses at the interrupt
    finally:
        first.stop()
    second = Server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        assert client.threads.get(tid)["metadata"]["graph_id"] == "agent"
        assert client.threads.get(tid)["metadata"]["user"] == "ada"  # (thread records are kept too)
        assert [t["thread_id"] for t in client.threads.search(metadata={"user": "ada"})] == [tid]
        assert client.threads.get(tid)["status"] == "interrupted"
        assert client.threads.get_state(tid)["next"] == ["ask"]
        done = client.runs.wait(tid, "agent", command={"resume": "after restart"})
        assert done["approved"] == "after restart"
    finally:
        second.stop()


def test_a_client_that_disconnects_mid_token_leaves_the_run_running(client, server):
    """on_disconnect defaults to "continue": the run finishes and its thread has the answer."""
    tid = client.threads.create()["thread_id"]
    run_ids = []
    stream = client.runs.stream(
        tid,
        "agent",
        input=CHAT,
        stream_mode="messages-tuple",
        on_run_created=lambda m: run_ids.append(m["run_id"]),
    )
    for part in stream:
        if part.event == "messages":
            break  # mid-token
    stream.close()
    client.runs.join(tid, run_ids[0])
    assert client.runs.get(tid, run_ids[0])["status"] == "interrupted"  # it reached the approval step
    assert client.threads.get_state(tid)["values"]["messages"][-1]["content"] == "hello big world"
    assert httpx.get(f"{server.url}/ok").status_code == 200


def test_on_disconnect_cancel_closes_the_model_stream(tmp_path):
    """A client that leaves a run started with on_disconnect="cancel": the run is cancelled and the
    model's HTTP stream closed at once (the model server sees the disconnect within a token)."""
    from lgtrace.testing import FakeOpenAIServer, Reply

    words = " ".join(f"w{i}" for i in range(400))
    with FakeOpenAIServer(replies=[Reply(words)], token_delay=0.01) as model:
        srv = Server(tmp_path, env={"LGTRACE_TEST_OPENAI_URL": model.base_url})
        try:
            client = get_sync_client(url=srv.url)
            tid = client.threads.create()["thread_id"]
            run_ids = []
            stream = client.runs.stream(
                tid,
                "remote",
                input=CHAT,
                stream_mode="messages-tuple",
                on_disconnect="cancel",
                on_run_created=lambda m: run_ids.append(m["run_id"]),
            )
            tokens = 0
            for part in stream:
                tokens += part.event == "messages"
                if tokens == 5:
                    break
            stream.close()
            left = time.monotonic()
            deadline = left + 5
            while not model.disconnects and time.monotonic() < deadline:
                time.sleep(0.005)
            assert model.disconnects, "the model's HTTP stream was not closed"
            assert model.disconnects[0].chunks_sent < model.disconnects[0].chunks_total // 2
            assert client.runs.get(tid, run_ids[0])["status"] == "interrupted"
        finally:
            srv.stop()


@pytest.mark.parametrize("first_run", [True, False])
def test_rollback_undoes_the_active_run(client, first_run):
    """multitask_strategy="rollback": the active run is cancelled and its checkpoints left behind;
    the new run starts where the thread was before it (an empty thread for its first run)."""
    tid = client.threads.create()["thread_id"]
    before: list[str] = []
    if not first_run:
        before = client.runs.wait(tid, "ticker", input={"log": ["earlier"], "delay": 0})["log"]
    slow = client.runs.create(tid, "ticker", input={"log": ["undone"], "delay": 0.3})
    time.sleep(0.5)  # (it has written a step or two)
    new = client.runs.create(tid, "ticker", input={"log": ["new"], "delay": 0}, multitask_strategy="rollback")
    result = client.runs.join(tid, new["run_id"])
    assert "undone" not in result["log"] and result["log"][: len(before) + 1] == [*before, "new"]
    assert client.runs.get(tid, slow["run_id"])["status"] == "interrupted"
    assert client.threads.get_state(tid)["values"]["log"] == result["log"]
