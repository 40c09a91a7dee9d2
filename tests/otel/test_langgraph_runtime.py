"""What a ``langchain.agents.create_agent`` user gets today (README, *create_agent users*).

Its agent is a graph run by LangGraph's runtime: lgtrace's OTel handler, a plain callback
handler, traces such runs too (LangGraph, test-only, stands in for it: ``langchain`` itself is not
a dependency). And lgtrace's own ``create_react_agent`` builds the same loop without LangGraph 1.x's
deprecation warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgtrace.otel import OTelCallbackHandler
from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall

REPLIES = [Reply(tool_calls=[ToolCall("lookup", {"place": "office"})]), Reply("desks and chairs")]


def lookup(place: str) -> str:
    """Describe a place."""
    return f"things in {place}"


def test_otel_handler_traces_a_graph_run_by_langgraph() -> None:
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = OTelCallbackHandler(tracer_provider=provider, measure_ttft=True)
    with FakeOpenAIServer(replies=list(REPLIES)) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini", stream_usage=True)
        bound = llm.bind_tools([lookup])

        def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [bound.invoke(state["messages"])]}

        builder = StateGraph(MessagesState)
        builder.add_node("agent", agent)
        builder.add_node("tools", ToolNode([lookup]))
        builder.add_edge(START, "agent")
        builder.add_conditional_edges("agent", tools_condition)
        builder.add_edge("tools", "agent")
        graph = builder.compile(name="langgraph_agent")
        result = graph.invoke(
            {"messages": [HumanMessage("what is in the office?")]}, {"callbacks": [handler]}
        )
    assert result["messages"][-1].content == "desks and chairs"
    assert not handler.runs

    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    by_id = {s.context.span_id: s for s in spans}
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_workflow langgraph_agent"
    tasks = [s for s in spans if "langgraph.task_id" in s.attributes]
    assert [(t.name, t.attributes["langgraph.step"]) for t in tasks] == [
        ("agent", 1),
        ("tools", 2),
        ("agent", 3),
    ]
    assert all(t.parent.span_id == root.context.span_id for t in tasks)
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert [by_id[c.parent.span_id].name for c in chats] == ["agent", "agent"]
    for chat in chats:
        assert chat.attributes["gen_ai.usage.input_tokens"] > 0
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0
        assert chat.attributes["gen_ai.response.time_to_first_chunk"] > 0
        assert [e.name for e in chat.events] == ["gen_ai.first_chunk"]
    (tool,) = [s for s in spans if s.name == "execute_tool lookup"]
    assert by_id[tool.parent.span_id].name == "tools"


def test_lgtrace_create_react_agent_makes_no_deprecation_noise() -> None:
    from lgtrace.prebuilt import create_react_agent

    with FakeOpenAIServer(replies=list(REPLIES)) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning, from building or running it, fails
            agent = create_react_agent(llm, [lookup], prompt="Be brief.")
            result = agent.invoke({"messages": [HumanMessage("what is in the office?")]})
    assert result["messages"][-1].content == "desks and chairs"
