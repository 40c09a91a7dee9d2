"""messages mode under load, back-pressure, cancellation and the real ChatOpenAI client."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any, TypedDict

import psutil
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI

from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.prebuilt import create_react_agent
from lgtrace.runtime.drive import STREAM_BUFFER
from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall, tokenize

from .fakes import EchoModel


class Words(TypedDict):
    text: str
    answer: str


def echo_graph(model: Any) -> Any:
    async def call(state: Words) -> dict[str, str]:
        return {"answer": (await model.ainvoke([HumanMessage(state["text"])])).content}

    return StateGraph(Words).add_node("call", call).add_edge(START, "call").compile()


async def test_50_concurrent_runs_each_get_their_own_tokens() -> None:
    graph = echo_graph(EchoModel())

    async def one(i: int) -> list[str]:
        text = " ".join(f"run{i}-w{j}" for j in range(20))
        return [m.content async for m, _ in graph.astream({"text": text}, stream_mode="messages")]

    results = await asyncio.gather(*(one(i) for i in range(50)))
    for i, tokens in enumerate(results):
        assert "".join(tokens) == " ".join(f"run{i}-w{j}" for j in range(20)), f"run {i} got foreign tokens"


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


@pytest.mark.parametrize("asynchronous", [False, True], ids=["stream", "astream"])
def test_slow_consumer_back_pressures_a_200k_token_stream(asynchronous: bool) -> None:
    tokens = 200_000
    produced = {"n": 0}

    class CountingEcho(EchoModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            for chunk in super()._stream(*args, **kwargs):
                produced["n"] += 1
                yield chunk

        async def _astream(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            async for chunk in super()._astream(*args, **kwargs):
                produced["n"] += 1
                yield chunk

    model = CountingEcho(repeat=tokens // 2)

    def sync_node(state: Words) -> dict[str, str]:
        return {"answer": model.invoke([HumanMessage("a b")]).content[:10]}

    async def async_node(state: Words) -> dict[str, str]:
        return {"answer": (await model.ainvoke([HumanMessage("a b")])).content[:10]}

    graph = (
        StateGraph(Words)
        .add_node("n", async_node if asynchronous else sync_node)
        .add_edge(START, "n")
        .compile()
    )
    lead = {"max": 0}
    consumed = 0
    baseline = _rss()

    def on_item() -> None:
        nonlocal consumed
        consumed += 1
        lead["max"] = max(lead["max"], produced["n"] - consumed)

    if asynchronous:

        async def consume() -> None:
            async for _ in graph.astream({"text": "x"}, stream_mode="messages"):
                on_item()
                if consumed % 2000 == 0:
                    await asyncio.sleep(0.01)  # the slow consumer

        asyncio.run(consume())
    else:
        for _ in graph.stream({"text": "x"}, stream_mode="messages"):
            on_item()
            if consumed % 2000 == 0:
                time.sleep(0.01)
    growth = _rss() - baseline
    assert consumed == tokens + 1  # every token, plus nothing else but the final empty chunk
    # the producer never ran more than the buffer (plus a consumer batch) ahead
    assert lead["max"] <= 2 * STREAM_BUFFER + 16, lead
    assert growth < 80 * 2**20, f"resident memory grew by {growth / 2**20:.0f} MiB"


def test_breaking_out_mid_generation_closes_the_model_connection() -> None:
    answer = " ".join(f"w{i}" for i in range(200))
    with FakeOpenAIServer(replies=[Reply(answer)], token_delay=0.02) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini")
        finished = threading.Event()

        def node(state: MessagesState) -> dict[str, Any]:
            try:
                return {"messages": [model.invoke(state["messages"])]}
            finally:
                finished.set()

        graph = StateGraph(MessagesState).add_node(node).add_edge(START, "node").compile()
        stream = graph.stream({"messages": [HumanMessage("go")]}, stream_mode="messages")
        got = []
        for msg, _ in stream:
            got.append(msg.content)
            if len(got) == 3:
                break
        stream.close()
        assert server.wait_for_disconnect(timeout=5), "the HTTP stream was not closed"
        assert finished.wait(5), "the node kept running"
        assert server.disconnects[0].chunks_sent < len(tokenize(answer))
        deadline = time.monotonic() + 5
        while any(t.name.startswith("lgtrace-task") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "a task thread outlived the stream"
            time.sleep(0.02)


async def test_aclose_mid_generation_cancels_the_async_model_call() -> None:
    answer = " ".join(f"w{i}" for i in range(200))
    with FakeOpenAIServer(replies=[Reply(answer)], token_delay=0.02) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini")
        cancelled = asyncio.Event()

        async def node(state: MessagesState) -> dict[str, Any]:
            try:
                return {"messages": [await model.ainvoke(state["messages"])]}
            except asyncio.CancelledError:
                cancelled.set()
                raise

        graph = StateGraph(MessagesState).add_node(node).add_edge(START, "node").compile()
        stream = graph.astream({"messages": [HumanMessage("go")]}, stream_mode="messages")
        count = 0
        async for _ in stream:
            count += 1
            if count == 3:
                break
        await stream.aclose()
        assert cancelled.is_set()
        assert await asyncio.to_thread(server.wait_for_disconnect, 5)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not others, others


def test_chat_openai_usage_and_tool_calls_through_a_graph() -> None:
    replies = [
        Reply(tool_calls=[ToolCall("get_items", {"place": "office"})]),
        Reply("books and pencils"),
    ]
    with FakeOpenAIServer(replies=replies) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini", stream_usage=True)

        def get_items(place: str) -> str:
            """List items in a place."""
            return f"items in {place}"

        agent = create_react_agent(llm, [get_items])
        chunks: list[tuple[Any, dict[str, Any]]] = list(
            agent.stream({"messages": [HumanMessage("what is in the office?")]}, stream_mode="messages")
        )
    agent_chunks = [m for m, meta in chunks if meta["langgraph_node"] == "agent"]
    first_call = [m for m in agent_chunks if isinstance(m, AIMessageChunk) and m.tool_call_chunks]
    assert first_call and first_call[0].tool_call_chunks[0]["name"] == "get_items"
    merged = None
    for m in agent_chunks[len(first_call) :]:
        merged = m if merged is None else merged + m
    tools = [m for m, meta in chunks if meta["langgraph_node"] == "tools"]
    assert [m.content for m in tools] == ["items in office"]
    final = [m for m in agent_chunks if isinstance(m, AIMessageChunk) and m.usage_metadata]
    assert final, "stream_usage=True must surface usage metadata"
    assert sum(m.usage_metadata["output_tokens"] for m in final) > 0
    assert "".join(m.content for m in agent_chunks if isinstance(m.content, str)) == "books and pencils"
    assert all(meta["ls_provider"] == "openai" for m, meta in chunks if meta["langgraph_node"] == "agent")
