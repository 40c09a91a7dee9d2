"""End to end: spans exported over OTLP/HTTP reach a real Arize Phoenix and read back right.

Uses the session-scoped ``phoenix`` fixture (tests/otel/conftest.py): Phoenix runs as a
subprocess on 127.0.0.1 (start-up takes tens of seconds, hence the generous timeouts; each
test itself takes well under a second or two). Every test writes to its own Phoenix project.
Skipped when arize-phoenix is not installed; deselect with ``-m "not phoenix_e2e"``.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from lgtrace.testing.phoenix import PhoenixServer, children_of, only, otlp_tracer_provider

# Phoenix's start-up (~40-50 s on a 2-core machine) is charged to the first test using it.
pytestmark = [pytest.mark.phoenix_e2e, pytest.mark.timeout(300)]


def test_plain_otel_sdk_spans_reach_phoenix(phoenix: PhoenixServer, phoenix_project: str) -> None:
    """Validates the fixture itself: hand-made spans in, same tree/kinds/token counts out."""
    provider = otlp_tracer_provider(phoenix, phoenix_project)
    tracer = provider.get_tracer("lgtrace.e2e")
    with tracer.start_as_current_span(
        "invoke_workflow demo",
        attributes={"openinference.span.kind": "CHAIN", "gen_ai.operation.name": "invoke_workflow"},
    ) as root:
        with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "CHAIN"}):  # noqa: SIM117
            with tracer.start_as_current_span(
                "chat gpt-4o-mini",
                kind=trace.SpanKind.CLIENT,
                attributes={
                    "openinference.span.kind": "LLM",
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "llm.token_count.prompt": 11,
                    "llm.token_count.completion": 7,
                    "llm.token_count.total": 18,
                },
            ):
                pass
        with tracer.start_as_current_span("tools", attributes={"openinference.span.kind": "CHAIN"}):  # noqa: SIM117
            with tracer.start_as_current_span(
                "execute_tool lookup",
                attributes={
                    "openinference.span.kind": "TOOL",
                    "tool.name": "lookup",
                    "gen_ai.tool.call.id": "c1",
                },
            ) as tool:
                tool.record_exception(ValueError("boom"))
                tool.set_status(Status(StatusCode.ERROR, "boom"))
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush(10_000)
    provider.shutdown()

    spans = phoenix.spans(phoenix_project, min_count=5, timeout=20)

    assert len(spans) == 5 and {s["trace_id"] for s in spans} == {trace_id}
    root_span = only(spans, "invoke_workflow demo")
    assert root_span["parent_id"] is None and root_span["span_kind"] == "CHAIN"
    assert [s["name"] for s in children_of(spans, root_span)] == ["agent", "tools"]
    agent, tools = children_of(spans, root_span)
    (chat,) = children_of(spans, agent)
    (tool_span,) = children_of(spans, tools)
    assert (chat["name"], chat["span_kind"]) == ("chat gpt-4o-mini", "LLM")
    assert (tool_span["name"], tool_span["span_kind"]) == ("execute_tool lookup", "TOOL")
    assert {agent["span_kind"], tools["span_kind"]} == {"CHAIN"}
    # attributes come back flattened, token counts as ints
    tokens = {k: v for k, v in chat["attributes"].items() if k.startswith("llm.token_count.")}
    assert tokens == {
        "llm.token_count.prompt": 11,
        "llm.token_count.completion": 7,
        "llm.token_count.total": 18,
    }
    assert chat["attributes"]["llm.model_name"] == "gpt-4o-mini"  # synthesized by Phoenix from gen_ai.*
    assert tool_span["attributes"]["tool.name"] == "lookup"
    assert (tool_span["status_code"], tool_span["status_message"]) == ("ERROR", "boom")
    assert [e["name"] for e in tool_span["events"]] == ["exception"]
    assert all(s["status_code"] == "UNSET" for s in spans if s["name"] != "execute_tool lookup")
    # the project is selected by the resource attribute alone
    assert phoenix_project in phoenix.projects()
    assert phoenix.fetch_spans("default", trace_id=trace_id) == []


# ---------------------------------------------------------------------------------------------
# lgtrace's own handler -> OTLP/HTTP -> Phoenix, queried back through Phoenix's REST API.
# It tees every span to an InMemorySpanExporter too: Phoenix drops the OTel SpanKind, so
# CLIENT/INTERNAL is asserted on the in-process copy, and the in-process attributes tell which
# OpenInference keys the handler wrote itself (Phoenix would synthesize some from gen_ai.*).
# ---------------------------------------------------------------------------------------------


def lookup(place: str) -> str:
    """Describe a place."""
    return f"things in {place}"


def test_graph_spans_reach_phoenix(phoenix: PhoenixServer, phoenix_project: str) -> None:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    from lgtrace.graph import START, MessagesState, StateGraph
    from lgtrace.otel import OTelCallbackHandler
    from lgtrace.prebuilt import ToolNode, tools_condition
    from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall

    provider = otlp_tracer_provider(phoenix, phoenix_project)
    local = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(local))
    handler = OTelCallbackHandler(tracer_provider=provider)

    replies = [Reply(tool_calls=[ToolCall("lookup", {"place": "office"})]), Reply("desks and chairs")]
    with FakeOpenAIServer(replies=replies) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini").bind_tools([lookup])

        def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

        builder = StateGraph(MessagesState)
        builder.add_node("agent", agent)
        builder.add_node("tools", ToolNode([lookup]))
        builder.add_edge(START, "agent")
        builder.add_conditional_edges("agent", tools_condition)
        builder.add_edge("tools", "agent")
        graph = builder.compile(name="e2e_agent")
        result = graph.invoke(
            {"messages": [HumanMessage("what is in the office?")]}, {"callbacks": [handler]}
        )
    assert result["messages"][-1].content == "desks and chairs"
    assert provider.force_flush(10_000)
    provider.shutdown()

    in_process = {format(s.context.span_id, "016x"): s for s in local.get_finished_spans()}
    # 1 workflow + 3 tasks (agent, tools, agent) + 2 chats + 1 tool call
    spans = phoenix.spans(phoenix_project, min_count=7, timeout=20)
    assert len(spans) == len(in_process) == 7
    assert len({s["trace_id"] for s in spans}) == 1
    assert {s["span_id"] for s in spans} == set(in_process)

    root = only(spans, "invoke_workflow e2e_agent")
    assert root["parent_id"] is None and root["span_kind"] == "CHAIN"
    tasks = children_of(spans, root)
    assert [t["name"] for t in tasks] == ["agent", "tools", "agent"]
    assert all(t["span_kind"] == "CHAIN" for t in tasks)
    assert [t["attributes"].get("langgraph.step") for t in tasks] == [1, 2, 3]

    chats = [c for t in tasks if t["name"] == "agent" for c in children_of(spans, t)]
    assert [c["name"] for c in chats] == ["chat gpt-4o-mini"] * 2
    (tool_call,) = children_of(spans, tasks[1])
    assert tool_call["name"] == "execute_tool lookup" and tool_call["span_kind"] == "TOOL"
    assert tool_call["attributes"]["gen_ai.tool.name"] == "lookup"
    assert tool_call["attributes"]["gen_ai.tool.call.id"] == "call_0_0"  # FakeOpenAIServer's default id

    for chat in chats:
        attrs = chat["attributes"]
        assert chat["span_kind"] == "LLM"
        assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.request.model"] == "gpt-4o-mini"
        prompt, completion = attrs["llm.token_count.prompt"], attrs["llm.token_count.completion"]
        assert prompt > 0 and completion > 0 and attrs["llm.token_count.total"] == prompt + completion
        assert (prompt, completion) == (
            attrs["gen_ai.usage.input_tokens"],
            attrs["gen_ai.usage.output_tokens"],
        )
        local_span = in_process[chat["span_id"]]
        assert local_span.kind is trace.SpanKind.CLIENT  # not observable through Phoenix
        # the handler wrote the OpenInference keys itself (not Phoenix's gen_ai.* synthesis)
        assert local_span.attributes["openinference.span.kind"] == "LLM"
        assert local_span.attributes["llm.token_count.total"] == prompt + completion
    assert all(in_process[s["span_id"]].kind is trace.SpanKind.INTERNAL for s in spans if s not in chats)
    assert all(s["status_code"] == "UNSET" for s in spans)


def test_streamed_chat_spans_carry_tokens_and_first_chunk_in_phoenix(
    phoenix: PhoenixServer, phoenix_project: str
) -> None:
    """A node's ``.invoke()`` streamed by ``measure_ttft=True`` and a call streamed by messages
    mode: both chat spans reach Phoenix with token counts and the ``gen_ai.first_chunk`` event."""
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    from lgtrace.graph import START, MessagesState, StateGraph
    from lgtrace.otel import OTelCallbackHandler
    from lgtrace.testing import FakeOpenAIServer, Reply

    provider = otlp_tracer_provider(phoenix, phoenix_project)
    handler = OTelCallbackHandler(tracer_provider=provider, measure_ttft=True)
    with FakeOpenAIServer(replies=[Reply("desks and chairs")] * 2) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini", stream_usage=True)

        def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

        graph = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()
        question = {"messages": [HumanMessage("what is in the office?")]}
        graph.invoke(question, {"callbacks": [handler]})
        list(
            graph.stream(
                question,
                {"callbacks": [OTelCallbackHandler(tracer_provider=provider)]},
                stream_mode="messages",
            )
        )
        assert [r["stream"] for r in server.requests] == [True, True]
    assert provider.force_flush(10_000)
    provider.shutdown()

    spans = phoenix.spans(phoenix_project, min_count=6, timeout=20)
    chats = [s for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert len(chats) == 2
    for chat in chats:
        attrs = chat["attributes"]
        assert attrs["gen_ai.request.stream"] is True
        assert (attrs["llm.token_count.prompt"], attrs["llm.token_count.completion"]) == (5, 3)
        (event,) = [e for e in chat["events"] if e["name"] == "gen_ai.first_chunk"]
        ttfc = event["attributes"]["gen_ai.response.time_to_first_chunk"]
        assert ttfc == attrs["gen_ai.response.time_to_first_chunk"] > 0
