"""RetryPolicy: which errors are retried, what streams (as LangGraph: one task start, no task
error for failed attempts, their custom events kept), and one span per attempt."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict

import langgraph.config as lg_config
import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langchain_core.callbacks import BaseCallbackHandler

import lgtrace.config as lt_config
import lgtrace.graph as lt_graph
import lgtrace.types as lt_types
from lgtrace.runtime.retry import default_retry_on


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


RUNTIMES = {"langgraph": (lg_graph, lg_types, lg_config), "lgtrace": (lt_graph, lt_types, lt_config)}
MODES = ["updates", "custom", "tasks", "values"]


def _graph(
    rt: str, *, fail_times: int, error: type[Exception] = ConnectionError, sibling: bool = True, **policy: Any
):
    graph_mod, types_mod, config_mod = RUNTIMES[rt]
    calls = {"n": 0}

    def flaky(state: S):
        calls["n"] += 1
        config_mod.get_stream_writer()({"attempt": calls["n"]})
        if calls["n"] <= fail_times:
            raise error(f"attempt {calls['n']} failed")
        return {"log": [f"ok after {calls['n']}"]}

    b = graph_mod.StateGraph(S)
    b.add_node(
        "flaky",
        flaky,
        retry_policy=types_mod.RetryPolicy(**{"initial_interval": 0.01, "jitter": False, **policy}),
    )
    b.add_edge(graph_mod.START, "flaky")
    if sibling:  # a parallel node that succeeds (only where no error ends the step: fail-fast timing)
        b.add_node("steady", lambda s: {"log": ["steady"]})
        b.add_edge(graph_mod.START, "steady")
    return b.compile(), calls


def _events(rt: str, *, is_async: bool, **kwargs: Any) -> tuple[list[Any], Any]:
    g, calls = _graph(rt, **kwargs)
    out: list[Any] = []

    def shape(ev):
        mode, payload = ev
        if mode == "tasks":  # ids differ per run; exceptions compare by identity: by type and text
            payload = {k: repr(v) if k == "error" else v for k, v in payload.items() if k != "id"}
        return (mode, payload)

    async def arun():
        async for ev in g.astream({"log": []}, stream_mode=MODES):
            out.append(shape(ev))

    try:
        if is_async:
            asyncio.run(arun())
        else:
            for ev in g.stream({"log": []}, stream_mode=MODES):
                out.append(shape(ev))
        error = None
    except Exception as exc:
        error = (type(exc).__name__, str(exc).splitlines()[0])
    # parallel steps finish in any order: compare each node's events in order, and the error
    by_node = sorted(out, key=lambda e: repr(e))
    return by_node, (error, calls["n"])


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "case",
    [
        {"fail_times": 2},  # retried until it works
        {"fail_times": 5, "max_attempts": 2, "sibling": False},  # gives up: the last attempt's error
        {"fail_times": 1, "error": ValueError, "sibling": False},  # not retried by default
        {"fail_times": 1, "error": ValueError, "retry_on": ValueError},
        {"fail_times": 2, "retry_on": lambda e: "attempt" in str(e)},
    ],
    ids=["retried", "exhausted", "not-retried", "retry_on-type", "retry_on-callable"],
)
def test_streams_as_langgraph(is_async, case):
    assert _events("lgtrace", is_async=is_async, **case) == _events("langgraph", is_async=is_async, **case)


def test_default_retry_on_is_langgraphs():
    import httpx

    request = httpx.Request("GET", "http://127.0.0.1")
    for exc in (
        ConnectionError(),
        TimeoutError(),  # an OSError: not retried
        ValueError(),
        KeyError(),
        Exception("other"),
        httpx.HTTPStatusError("boom", request=request, response=httpx.Response(503, request=request)),
        httpx.HTTPStatusError("nope", request=request, response=httpx.Response(404, request=request)),
    ):
        from langgraph._internal._retry import default_retry_on as lg_default

        assert default_retry_on(exc) == lg_default(exc), exc


def test_bad_policies_are_named():
    b = lt_graph.StateGraph(S)
    with pytest.raises(TypeError, match=r"'n'.*retry_on"):
        b.add_node("n", lambda s: {}, retry_policy=lt_types.RetryPolicy(retry_on="ValueError"))
    with pytest.raises(TypeError, match=r"'m'.*RetryPolicy objects"):
        b.add_node("m", lambda s: {}, retry_policy={"max_attempts": 2})
    with pytest.warns(DeprecationWarning, match="retry_policy"):
        b.add_node("o", lambda s: {}, retry=lt_types.RetryPolicy())


def test_leaving_the_stream_does_not_wait_for_the_retry():
    g, calls = _graph("lgtrace", fail_times=5, initial_interval=5.0)
    started = time.monotonic()
    stream = g.stream({"log": []}, stream_mode="custom")
    assert next(stream) in ({"attempt": 1},)
    stream.close()
    assert time.monotonic() - started < 2.0
    assert calls["n"] == 1


def test_each_attempt_is_its_own_callback_run_with_the_task_id():
    starts: list[dict[str, Any]] = []

    class Recorder(BaseCallbackHandler):
        def on_chain_start(self, serialized, inputs, *, run_id, **kwargs):
            if kwargs.get("name") == "flaky":
                starts.append({"run_id": run_id, **kwargs})

    g, _ = _graph("lgtrace", fail_times=2)
    g.invoke({"log": []}, {"callbacks": [Recorder()]})
    assert [s["lgtrace_attempt"] for s in starts] == [1, 2, 3]
    assert len({s["run_id"] for s in starts}) == 3  # each attempt is a run of its own
    assert len({s["lgtrace_task_id"] for s in starts}) == 1
    assert str(starts[0]["run_id"]) == starts[0]["lgtrace_task_id"]
