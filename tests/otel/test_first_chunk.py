"""Time to first chunk on chat spans: the ``gen_ai.first_chunk`` event, usage on streamed calls,
and ``measure_ttft=True`` streaming ``.invoke()`` calls under the hood (real HTTP/SSE)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers._streaming import _StreamingCallbackHandler
from langchain_openai import ChatOpenAI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.otel import OTelCallbackHandler
from lgtrace.testing import FakeOpenAIServer, Reply

ANSWER = "desks chairs and a lamp"


def _tracer() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _chat_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (chat,) = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    return chat


def _graph(llm: Any, aio: bool) -> Any:
    """One node that calls the model with ``.invoke()`` / ``.ainvoke()``, outside messages mode."""
    if aio:

        async def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await llm.ainvoke(state["messages"])]}

    else:

        def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()


def _run(measure_ttft: bool, aio: bool) -> tuple[ReadableSpan, dict[str, Any], str]:
    provider, exporter = _tracer()
    handler = OTelCallbackHandler(tracer_provider=provider, measure_ttft=measure_ttft)
    with FakeOpenAIServer(replies=[Reply(ANSWER)]) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini", stream_usage=True)
        graph = _graph(llm, aio)
        inputs = {"messages": [HumanMessage("what is in the office?")]}
        config: Any = {"callbacks": [handler]}
        result = asyncio.run(graph.ainvoke(inputs, config)) if aio else graph.invoke(inputs, config)
        request = server.requests[0]
    assert not handler.runs
    return _chat_span(exporter), request, result["messages"][-1].content


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
def test_invoke_is_not_streamed_by_default(aio: bool) -> None:
    chat, request, answer = _run(measure_ttft=False, aio=aio)
    assert answer == ANSWER
    assert not request.get("stream")
    assert chat.attributes["gen_ai.request.stream"] is False
    assert "gen_ai.response.time_to_first_chunk" not in chat.attributes
    assert [e.name for e in chat.events] == []


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
def test_measure_ttft_streams_invoke_under_the_hood(aio: bool) -> None:
    chat, request, answer = _run(measure_ttft=True, aio=aio)
    plain, _, _ = _run(measure_ttft=False, aio=aio)
    assert answer == ANSWER  # the node gets the same message
    assert request["stream"] is True  # the HTTP call really streamed (SSE)
    attrs = chat.attributes
    assert attrs["gen_ai.request.stream"] is True
    ttfc = attrs["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttfc < (chat.end_time - chat.start_time) / 1e9
    (event,) = chat.events
    assert event.name == "gen_ai.first_chunk"
    assert event.attributes["gen_ai.response.time_to_first_chunk"] == ttfc
    assert chat.start_time < event.timestamp <= chat.end_time
    # usage survives the switch (stream_usage=True): the same counts as the non-streamed call
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
        assert attrs[key] == plain.attributes[key] > 0


def test_a_model_that_disables_streaming_is_not_streamed() -> None:
    provider, exporter = _tracer()
    handler = OTelCallbackHandler(tracer_provider=provider, measure_ttft=True)
    with FakeOpenAIServer(replies=[Reply(ANSWER)]) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini", disable_streaming=True)
        _graph(llm, aio=False).invoke({"messages": [HumanMessage("hi")]}, {"callbacks": [handler]})
        assert not server.requests[0].get("stream")
    assert _chat_span(exporter).attributes["gen_ai.request.stream"] is False


def test_only_measure_ttft_makes_the_handler_a_streaming_handler() -> None:
    provider, _ = _tracer()
    assert not isinstance(OTelCallbackHandler(tracer_provider=provider), _StreamingCallbackHandler)
    assert isinstance(
        OTelCallbackHandler(tracer_provider=provider, measure_ttft=True), _StreamingCallbackHandler
    )


def test_measure_ttft_leaves_astream_events_whole() -> None:
    """langchain-core taps a run's stream with its first streaming handler only: the handler must
    pass the tap on, or ``astream_events`` loses the parser's stream events."""

    def events(measure_ttft: bool) -> Counter[str]:
        provider, _ = _tracer()
        handler = OTelCallbackHandler(tracer_provider=provider, measure_ttft=measure_ttft)
        with FakeOpenAIServer(replies=[Reply(ANSWER)]) as server:
            llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini")
            chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | llm | StrOutputParser()

            async def collect() -> Counter[str]:
                stream = chain.astream_events({"q": "hi"}, {"callbacks": [handler]}, version="v2")
                return Counter([f"{e['event']}:{e['name']}" async for e in stream])

            return asyncio.run(collect())

    with_ttft = events(True)
    assert with_ttft == events(False)
    assert with_ttft["on_parser_stream:StrOutputParser"] >= len(ANSWER.split())  # one per chunk


def test_streamed_chat_span_carries_tokens_and_the_first_chunk_event() -> None:
    """messages mode streams the call; ``stream_usage=True`` asks the server for usage."""
    provider, exporter = _tracer()
    handler = OTelCallbackHandler(tracer_provider=provider)
    with FakeOpenAIServer(replies=[Reply(ANSWER), Reply(ANSWER)]) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="x", model="gpt-4o-mini", stream_usage=True)
        graph = _graph(llm, aio=False)
        tokens = [
            chunk.content
            for chunk, _ in graph.stream(
                {"messages": [HumanMessage("what is in the office?")]},
                {"callbacks": [handler]},
                stream_mode="messages",
            )
        ]
        assert server.requests[0]["stream_options"] == {"include_usage": True}
    assert "".join(tokens) == ANSWER
    chat = _chat_span(exporter)
    attrs = chat.attributes
    assert attrs["gen_ai.request.stream"] is True
    # the server counts whitespace-separated words: 4 in the prompt, 5 in the answer
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (5, 5)
    assert attrs["llm.token_count.total"] == 10
    assert [e.name for e in chat.events] == ["gen_ai.first_chunk"]
