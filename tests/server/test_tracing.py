"""Tracing through the server: an HTTP server span per request (an incoming W3C ``traceparent``
makes it a child of the caller's span), the run's graph span a child of the request that started
it, and the thread and run ids on the request span."""

from __future__ import annotations

import asyncio

import httpx
from langgraph.checkpoint.memory import InMemorySaver

from lgtrace.otel import instrument, uninstrument
from lgtrace.server import create_app

from ..otel.test_spans import Tracing
from .project.agent import ticker

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_a_run_nests_under_the_request_and_the_caller() -> None:
    tracing = Tracing()
    instrument(tracer_provider=tracing.provider)
    try:
        app = create_app({"ticker": ticker}, InMemorySaver(), tracer_provider=tracing.provider)

        async def scenario() -> None:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
                tid = (await c.post("/threads", json={})).json()["thread_id"]
                r = await c.post(
                    f"/threads/{tid}/runs/wait",
                    json={"assistant_id": "ticker", "input": {"log": [], "delay": 0}},
                    headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
                )
                assert r.json()["log"][-1] == "tick5"

        asyncio.run(scenario())
    finally:
        uninstrument()
    spans = tracing.spans()
    request = next(s for s in spans if s.name.startswith("POST /threads/") and s.name.endswith("/runs/wait"))
    assert format(request.context.trace_id, "032x") == CALLER_TRACE
    assert format(request.parent.span_id, "016x") == CALLER_SPAN
    assert request.attributes["langgraph.thread_id"] and request.attributes["langgraph.run_id"]
    graph = next(s for s in spans if s.name == "invoke_workflow LangGraph")
    assert graph.parent.span_id == request.context.span_id
    assert graph.attributes["gen_ai.conversation.id"] == request.attributes["langgraph.thread_id"]
    assert len([s for s in spans if s.name.startswith("s")]) == 6  # the task spans, under the graph
