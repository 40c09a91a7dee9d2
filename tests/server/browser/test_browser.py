"""Real clients in a real browser against ``lgtrace serve`` (issue #14).

* The official JS client ``@langchain/langgraph-sdk`` (npm), bundled by esbuild into a page
  served from another origin (CORS), streams a run in headless Debian ``chromium``: tokens
  arrive one by one while the run is still going.
* The playground page (``/``): type a message, watch the answer grow token by token, see the
  task timeline, approve the interrupt, see the graph finish.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.parse
import urllib.request

import pytest

from .conftest import PROJECT, TOKEN_DELAY, browser_log

pytestmark = pytest.mark.timeout(120)


def _load_agent():
    spec = importlib.util.spec_from_file_location("browser_project_agent", PROJECT / "agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reply_for = _load_agent().reply_for


def _wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    except TimeoutException:
        state = driver.execute_script(
            "return {status: (document.getElementById('status')||{}).textContent,"
            " error: (document.getElementById('error')||{}).textContent,"
            " jsError: window.__error || null, parts: (window.__parts||[]).length}"
        )
        pytest.fail(f"timed out waiting for {what}; page: {state}\nbrowser log:\n{browser_log(driver)}")


def _ai_tokens(parts: list[dict]) -> dict[str, list[dict]]:
    by_id: dict[str, list[dict]] = {}
    for p in parts:
        if p["event"] == "messages":
            chunk, _meta = p["data"]
            if chunk.get("type") in ("AIMessageChunk", "ai") and chunk.get("content"):
                by_id.setdefault(chunk["id"], []).append(p)
    return by_id


# ---- the official JS client -------------------------------------------------------------------


def _run_client_page(driver, server: str, page_origin: str, **query: str) -> list[dict]:
    """Opens the bundled page (another origin: the server must allow it by CORS), waits for it."""
    driver.get(f"{page_origin}/client_page.html?{urllib.parse.urlencode({'api': server, **query})}")
    _wait(driver, lambda d: d.execute_script("return window.__done === true"), 30, "the JS client")
    error = driver.execute_script("return window.__error")
    assert error is None, f"{error}\nbrowser log:\n{browser_log(driver)}"
    return driver.execute_script("return window.__parts")


@pytest.mark.parametrize("graph", ["chat", "agent"])
def test_js_sdk_streams_tokens_before_the_run_ends(driver, lgtrace_server, page_origin, graph):
    text = f"hello from the JS client ({graph})"
    parts = _run_client_page(driver, lgtrace_server, page_origin, assistant=graph, text=text)

    events = [p["event"] for p in parts]
    assert events[0] == "metadata", events
    run_id = parts[0]["data"]["run_id"]
    # onRunCreated: the client read Content-Location across origins (CORS exposes it)
    created = driver.execute_script("return window.__runCreated")
    thread_id = driver.execute_script("return window.__threadId")
    assert created == [{"run_id": run_id, "thread_id": thread_id}]

    tokens = _ai_tokens(parts)
    assert len(tokens) == 1, f"one streamed AI message expected: {list(tokens)}"
    [(message_id, token_parts)] = tokens.items()
    expected = reply_for(text)
    assert "".join(p["data"][0]["content"] for p in token_parts) == expected
    assert len(token_parts) >= 10, "the answer should arrive as many small chunks"
    for p in token_parts:
        meta = p["data"][1]
        assert meta["langgraph_node"] == "call_model"
        assert isinstance(meta["langgraph_step"], int)

    # streamed, not buffered: the first token reached the page well before the run ended,
    # and the tokens were spread out as the model produced them
    first_token, last_token, last_part = token_parts[0]["t"], token_parts[-1]["t"], parts[-1]["t"]
    assert first_token < last_part
    min_spread_ms = 0.5 * (len(token_parts) - 1) * TOKEN_DELAY * 1000
    assert last_token - first_token >= min_spread_ms, (first_token, last_token, len(token_parts))
    distinct_times = {round(p["t"]) for p in token_parts}
    assert len(distinct_times) >= len(token_parts) // 2, "tokens arrived in a few bursts, not one by one"

    # the last values event holds the whole conversation, with the streamed message's id
    values = [p["data"] for p in parts if p["event"] == "values"]
    assert values, events
    final = values[-1]
    assert [m["type"] for m in final["messages"]] == ["human", "ai"]
    assert final["messages"][0]["content"] == text
    assert final["messages"][1]["content"] == expected
    assert final["messages"][1]["id"] == message_id
    assert any(p["event"] == "values" and p["t"] < first_token for p in parts), "input values come first"
    if graph == "agent":  # the run stops at approve's interrupt, reported inside values
        interrupted = [v for v in values if "__interrupt__" in v]
        assert interrupted, json.dumps(values)[:2000]
        assert interrupted[-1]["__interrupt__"][0]["value"] == "approve?"
    else:
        assert not any("__interrupt__" in v for v in values)


def test_js_sdk_resumes_an_interrupt(driver, lgtrace_server, page_origin):
    text = "resume me"
    parts = _run_client_page(driver, lgtrace_server, page_origin, assistant="agent", text=text, resume="yes")
    first = [p for p in parts if p["phase"] == "run"]
    resumed = [p for p in parts if p["phase"] == "resume"]
    assert "__interrupt__" in [p for p in first if p["event"] == "values"][-1]["data"]
    assert resumed[0]["event"] == "metadata"
    assert resumed[0]["data"]["run_id"] != first[0]["data"]["run_id"]
    final = [p["data"] for p in resumed if p["event"] == "values"][-1]
    assert "__interrupt__" not in final
    assert [m["content"] for m in final["messages"]] == [text, reply_for(text), "Decision: yes"]
    state = driver.execute_script("return window.__state")
    assert state["next"] == []
    assert state["values"]["messages"][-1]["content"] == "Decision: yes"
    runs = driver.execute_script("return window.__runCreated")
    assert [r["run_id"] for r in runs] == [first[0]["data"]["run_id"], resumed[0]["data"]["run_id"]]


def test_js_sdk_joins_a_dropped_run_with_last_event_id(driver, lgtrace_server, page_origin):
    text = "drop me halfway"
    parts = _run_client_page(
        driver, lgtrace_server, page_origin, assistant="chat", text=text, drop_after="3", join_after_ms="300"
    )
    before = [p for p in parts if p["phase"] == "run"]
    joined = [p for p in parts if p["phase"] == "join"]
    assert all(p["id"] is not None for p in before + joined), "resumable runs send an id with every event"
    assert joined, "the join replayed nothing"
    ids = [p["id"] for p in before + joined]
    assert len(set(ids)) == len(ids), f"an event came twice: {ids}"
    # nothing lost, nothing repeated: the tokens of both connections make the whole answer once
    tokens = [p["data"][0]["content"] for p in before + joined if p["event"] == "messages"]
    assert "".join(tokens) == reply_for(text)
    assert sum(1 for p in before if p["event"] == "messages" and p["data"][0]["content"]) == 3
    final = [p["data"] for p in joined if p["event"] == "values"][-1]
    assert [m["content"] for m in final["messages"]] == [text, reply_for(text)]
    # the events produced while the client was away came back at once, from the run's log
    replayed = [p for p in joined if p["t"] - joined[0]["t"] < TOKEN_DELAY * 1000 / 2]
    assert len(replayed) >= 2, [round(p["t"] - joined[0]["t"]) for p in joined]


# ---- the playground ----------------------------------------------------------------------------

_RECORD_GROWTH = """
window.__growth = [];
const box = document.getElementById('messages');
new MutationObserver(() => {
  const all = box.querySelectorAll('.msg[data-role="assistant"] .text');
  if (all.length) window.__growth.push({t: performance.now(), n: all.length, len: all[0].textContent.length});
}).observe(box, {subtree: true, childList: true, characterData: true});
"""


def test_playground_streams_tokens_and_resumes_an_interrupt(driver, lgtrace_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    def tid(name: str):
        return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')

    def status() -> str:
        return tid("run-status").get_attribute("data-state")

    driver.get(f"{lgtrace_server}/")
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 15, "graphs")
    graphs = Select(tid("graph-select"))
    assert {o.get_attribute("value") for o in graphs.options} == {"agent", "chat"}
    graphs.select_by_value("agent")
    driver.execute_script(_RECORD_GROWTH)

    text = "please stream something"
    tid("chat-input").send_keys(text)
    tid("send").click()
    _wait(
        driver, lambda d: status() in ("interrupted", "done", "error"), 30, "the run to stop at the interrupt"
    )
    assert status() == "interrupted", tid("error").text

    # the answer grew token by token while the run was going
    expected = reply_for(text)
    growth = driver.execute_script("return window.__growth")
    lengths = [g["len"] for g in growth]
    assert lengths[-1] == len(expected)
    partial = sorted({n for n in lengths if 0 < n < len(expected)})
    assert len(partial) >= 5, f"the answer did not grow visibly: {lengths}"
    assert lengths == sorted(lengths), "text never shrinks while streaming"
    first_partial_t = next(g["t"] for g in growth if 0 < g["len"] < len(expected))
    full_t = next(g["t"] for g in growth if g["len"] == len(expected))
    assert full_t - first_partial_t >= 0.5 * (len(partial) - 1) * TOKEN_DELAY * 1000

    messages = driver.find_elements(By.CSS_SELECTOR, '[data-testid="message"]')
    assert [(m.get_attribute("data-role"), m.find_element(By.CLASS_NAME, "text").text) for m in messages] == [
        ("user", text),
        ("assistant", expected),
    ]
    assert all(m.get_attribute("data-streaming") == "false" for m in messages)

    # the timeline: call_model done in one step, approve interrupted in the next
    tasks = driver.find_elements(
        By.CSS_SELECTOR, '[data-testid="timeline-run"] [data-testid="timeline-task"]'
    )
    assert [(t.get_attribute("data-name"), t.get_attribute("data-state")) for t in tasks] == [
        ("call_model", "done"),
        ("approve", "interrupted"),
    ]
    steps = driver.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-step"]')
    assert len(steps) == 2

    # the interrupt, and its resume box
    assert tid("interrupt").is_displayed()
    assert tid("interrupt-value").text == "approve?"
    tid("resume-input").send_keys("yes")
    tid("resume-button").click()
    # the click handler switched the status to running before it returned
    _wait(driver, lambda d: status() in ("done", "error", "interrupted"), 30, "the resumed run")
    assert status() == "done", tid("error").text
    texts = [
        m.find_element(By.CLASS_NAME, "text").text
        for m in driver.find_elements(By.CSS_SELECTOR, '[data-testid="message"]')
    ]
    assert texts == [text, expected, "Decision: yes"]
    assert not tid("interrupt").is_displayed()

    runs = driver.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-run"]')
    assert len(runs) == 2  # newest first
    resumed = runs[0].find_elements(By.CSS_SELECTOR, '[data-testid="timeline-task"]')
    assert [(t.get_attribute("data-name"), t.get_attribute("data-state")) for t in resumed] == [
        ("approve", "done")
    ]
    assert not tid("error").is_displayed()


def test_playground_stop_cancels_the_run(driver, lgtrace_server):
    from selenium.webdriver.common.by import By

    def tid(name: str):
        return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')

    def answer_length(d) -> int:
        texts = d.find_elements(By.CSS_SELECTOR, '[data-role="assistant"] [data-testid="message-text"]')
        return len(texts[0].text) if texts else 0

    driver.get(f"{lgtrace_server}/?graph=chat")
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 15, "graphs")
    assert tid("graph-select").get_attribute("value") == "chat"
    text = "stop me halfway"
    tid("chat-input").send_keys(text)
    tid("send").click()
    _wait(driver, lambda d: answer_length(d) > 10, 20, "the first tokens")
    tid("stop").click()
    _wait(driver, lambda d: tid("run-status").get_attribute("data-state") != "running", 10, "the stop")
    assert tid("run-status").get_attribute("data-state") == "cancelled", tid("error").text
    assert 10 < answer_length(driver) < len(reply_for(text))

    thread_id, run_id = tid("thread-id").text, tid("run-id").text

    def run_status(_d) -> str | None:
        with urllib.request.urlopen(f"{lgtrace_server}/threads/{thread_id}/runs/{run_id}", timeout=5) as r:
            status = json.load(r)["status"]
        return status if status not in ("pending", "running") else None

    # the Agent Server's status for a cancelled run (the cancel answers 202 before the run stops)
    assert _wait(driver, run_status, 10, "the run to stop") == "interrupted"
    assert not tid("send").get_attribute("disabled")
