"""Tests for lgtrace.testing.openai_server (FakeOpenAIServer) using real clients over HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk, BaseMessageChunk
from langchain_openai import ChatOpenAI

from lgtrace.testing import (
    FakeOpenAIServer,
    Reply,
    ToolCall,
    count_prompt_tokens,
    echo_reply,
    tokenize,
)

MODEL = "gpt-4o-mini"
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def make_server() -> Iterator[Any]:
    servers: list[FakeOpenAIServer] = []

    def factory(*args: Any, **kwargs: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.close()
        assert server.alive_threads() == []


def chat(server: FakeOpenAIServer, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=server.base_url, api_key="test", model=MODEL, max_retries=0, **kwargs)


def aggregate(chunks: list[BaseMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    return total


def raw_client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


# --------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("Hello", ["Hello"]),
        ("Hello big  world", ["Hello", " big", "  world"]),
        (" lead", [" lead"]),
        ("trail \n", ["trail \n"]),
        ("a\nb", ["a", "\nb"]),
        ("   ", ["   "]),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens
    assert "".join(tokenize(text)) == text


def test_accounting_helpers() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "one two three"}]},
        {"role": "assistant", "content": None},
    ]
    assert count_prompt_tokens(messages) == 5
    reply = Reply("a b c", tool_calls=[ToolCall("f", {"x": 1, "y": "z"})])
    assert reply.tool_calls[0].argument_fragments() == ['{"x":', " 1,", ' "y":', ' "z"}']
    assert reply.completion_tokens() == 3 + 4
    assert reply.resolved_finish_reason() == "tool_calls"
    assert echo_reply({"messages": messages}).content == "echo: one two three"


# --------------------------------------------------------------------------------------
# langchain_openai.ChatOpenAI
# --------------------------------------------------------------------------------------


def test_chatopenai_invoke_scripted(make_server: Any) -> None:
    server = make_server(["The answer is 42."])
    result = chat(server).invoke("what is the answer?")
    assert result.content == "The answer is 42."
    assert result.usage_metadata is not None
    assert result.usage_metadata["input_tokens"] == 4
    assert result.usage_metadata["output_tokens"] == 4
    assert result.response_metadata["finish_reason"] == "stop"
    assert result.response_metadata["model_name"] == MODEL
    assert server.requests[0]["model"] == MODEL
    assert server.requests[0]["messages"] == [{"role": "user", "content": "what is the answer?"}]


def test_chatopenai_stream_one_chunk_per_token(make_server: Any) -> None:
    content = "Streaming is fun, isn't it?"
    server = make_server([content])
    chunks = list(chat(server).stream("hi"))
    non_empty = [c.content for c in chunks if c.content]
    assert non_empty == tokenize(content) == ["Streaming", " is", " fun,", " isn't", " it?"]
    assert aggregate(chunks).content == content
    assert aggregate(chunks).response_metadata["finish_reason"] == "stop"


def test_chatopenai_stream_usage(make_server: Any) -> None:
    server = make_server(["one two three"])
    llm = chat(server, stream_usage=True)
    message = aggregate(list(llm.stream("count four words please")))
    assert message.content == "one two three"
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == 4
    assert message.usage_metadata["output_tokens"] == 3
    assert message.usage_metadata["total_tokens"] == 7
    assert server.requests[0]["stream_options"] == {"include_usage": True}


def test_chatopenai_tool_calls(make_server: Any) -> None:
    call = ToolCall("get_weather", {"city": "Paris", "unit": "C"}, id="call_abc")
    server = make_server([Reply(tool_calls=[call]), Reply(tool_calls=[call])])
    llm = chat(server)

    result = llm.invoke("weather?")
    assert result.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Paris", "unit": "C"},
            "id": "call_abc",
            "type": "tool_call",
        }
    ]
    assert result.response_metadata["finish_reason"] == "tool_calls"

    chunks = list(llm.stream("weather?"))
    fragments = [tcc["args"] for c in chunks for tcc in getattr(c, "tool_call_chunks", []) if tcc["args"]]
    assert fragments == call.argument_fragments()
    message = aggregate(chunks)
    assert message.tool_calls == result.tool_calls
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_chatopenai_content_and_default_tool_ids(make_server: Any) -> None:
    reply = Reply("Let me check.", tool_calls=[ToolCall("a", {}), ToolCall("b", {"k": [1, 2]})])
    server = make_server([reply])
    message = aggregate(list(chat(server).stream("go")))
    assert message.content == "Let me check."
    assert [(tc["name"], tc["args"], tc["id"]) for tc in message.tool_calls] == [
        ("a", {}, "call_0_0"),
        ("b", {"k": [1, 2]}, "call_0_1"),
    ]


async def test_chatopenai_async(make_server: Any) -> None:
    server = make_server(["async reply here", "async stream reply"], token_delay=0.001)
    llm = chat(server, stream_usage=True)
    result = await llm.ainvoke("hi")
    assert result.content == "async reply here"
    chunks = [c async for c in llm.astream("hi")]
    assert [c.content for c in chunks if c.content] == tokenize("async stream reply")
    usage = aggregate(chunks).usage_metadata
    assert usage is not None
    assert usage["output_tokens"] == 3


def test_echo_and_callable_replies(make_server: Any) -> None:
    echo = make_server()
    assert chat(echo).invoke("ping pong").content == "echo: ping pong"

    def replies(request: dict[str, Any]) -> Reply | str | None:
        text = request["messages"][-1]["content"]
        if text == "tool":
            return Reply(tool_calls=[ToolCall("t", '{"raw": true}')])
        return None if text == "echo" else text.upper()

    server = make_server(replies)
    llm = chat(server)
    assert llm.invoke("shout").content == "SHOUT"
    assert llm.invoke("echo").content == "echo: echo"
    assert llm.invoke("tool").tool_calls[0]["args"] == {"raw": True}
    assert len(server.requests) == 3


# --------------------------------------------------------------------------------------
# Raw openai / httpx clients
# --------------------------------------------------------------------------------------


def test_openai_sync_stream(make_server: Any) -> None:
    server = make_server(["alpha beta gamma"], created=1_700_000_000)
    stream = raw_client(server).chat.completions.create(
        model="my-model", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert {c.id for c in chunks} == {"chatcmpl-fake00000000"}
    assert {c.model for c in chunks} == {"my-model"}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.created for c in chunks} == {1_700_000_000}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:4]] == ["alpha", " beta", " gamma"]
    assert chunks[4].choices[0].finish_reason == "stop"
    assert chunks[5].choices == []
    assert chunks[5].usage is not None
    assert (chunks[5].usage.prompt_tokens, chunks[5].usage.completion_tokens) == (2, 3)
    assert chunks[5].usage.total_tokens == 5
    assert len(chunks) == 6


async def test_openai_async_stream_and_tool_deltas(make_server: Any) -> None:
    call = ToolCall("lookup", {"q": "x y"})
    server = make_server(["hi you", Reply(tool_calls=[call])])
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    deltas = [c.choices[0].delta async for c in stream]
    assert deltas[0].role == "assistant"
    assert [d.content for d in deltas[1:3]] == ["hi", " you"]

    stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    chunks = [c async for c in stream]
    tool_deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    head = tool_deltas[0][0]
    assert (head.index, head.id, head.type) == (0, "call_1_0", "function")
    assert head.function is not None
    assert (head.function.name, head.function.arguments) == ("lookup", "")
    rest = [d[0] for d in tool_deltas[1:]]
    assert all(d.index == 0 and d.id is None and d.function is not None for d in rest)
    assert [d.function.arguments for d in rest if d.function] == call.argument_fragments()
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    await client.close()


def test_openai_non_streaming_and_models(make_server: Any) -> None:
    server = make_server([Reply("Sure.", tool_calls=[ToolCall("f", {"a": 1})])])
    client = raw_client(server)
    completion = client.chat.completions.create(model=MODEL, messages=USER, temperature=0.3, max_tokens=5)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Sure."
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"a": 1}
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 1 + 2
    assert server.requests[0]["temperature"] == 0.3
    assert [m.id for m in client.models.list()] == [MODEL]


def test_raw_sse_wire_format(make_server: Any) -> None:
    server = make_server(["x y"])
    body = {"model": MODEL, "messages": USER, "stream": True}
    with (
        httpx.Client() as client,
        client.stream("POST", f"{server.base_url}/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        text = response.read().decode()
    events = text.split("\n\n")
    assert events[-1] == ""
    assert all(e.startswith("data: ") for e in events[:-1])
    assert events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert [p["choices"][0]["delta"].get("content") for p in payloads] == ["", "x", " y", None]
    assert "usage" not in payloads[0]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_scripted_error_and_exhaustion(make_server: Any) -> None:
    server = make_server([Reply(error_status=500, error_message="kaboom"), Reply(error_status=429), "ok"])
    client = raw_client(server)
    with pytest.raises(openai.InternalServerError, match="kaboom"):
        client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=USER)
    assert chat(server).invoke("x").content == "ok"
    with pytest.raises(openai.InternalServerError, match="no scripted replies left"):
        client.chat.completions.create(model=MODEL, messages=USER)
    # x-should-retry: false -> the SDK did not retry, one request per call
    assert len(server.requests) == 4


def _post(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_invalid_requests(make_server: Any) -> None:
    server = make_server()
    status, body = _post(f"{server.base_url}/chat/completions", b"{not json")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "Invalid JSON" in body["error"]["message"]
    status, body = _post(f"{server.base_url}/chat/completions", b'{"messages": []}')
    assert status == 400
    status, body = _post(f"{server.base_url}/nope", b"{}")
    assert status == 404
    assert server.requests == []


# --------------------------------------------------------------------------------------
# Pacing, interleaving, disconnects, shutdown
# --------------------------------------------------------------------------------------


def test_token_delay_paces_stream(make_server: Any) -> None:
    delay = 0.05
    content = "one two three four five six seven eight"
    server = make_server([content], token_delay=delay)
    start = time.monotonic()
    arrivals: list[float] = []
    stream = raw_client(server).chat.completions.create(model=MODEL, messages=USER, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
    end = time.monotonic() - start
    assert len(arrivals) == 8
    assert arrivals == sorted(arrivals)
    # first token well before the end: chunks are flushed as produced, not buffered
    assert arrivals[-1] - arrivals[0] >= 0.5 * 7 * delay
    assert arrivals[0] < end / 2


async def test_concurrent_streams_interleave(make_server: Any) -> None:
    server = make_server(lambda request: "a b c d e f", token_delay=0.03)
    llm = chat(server)
    order: list[str] = []

    async def consume(tag: str) -> None:
        async for chunk in llm.astream(tag):
            if chunk.content:
                order.append(tag)

    await asyncio.gather(consume("A"), consume("B"))
    assert sorted(order) == ["A"] * 6 + ["B"] * 6
    # both streams made progress concurrently
    assert order.index("B") < len(order) - 1 - order[::-1].index("A")
    assert order.index("A") < len(order) - 1 - order[::-1].index("B")


def test_disconnect_on_early_break(make_server: Any) -> None:
    content = " ".join(f"w{i}" for i in range(100))  # 100 tokens * 0.05 s = 5 s if not stopped
    server = make_server([content], token_delay=0.05)
    stream = chat(server).stream("go")
    received = []
    for chunk in stream:
        if chunk.content:
            received.append(chunk.content)
        if len(received) == 2:
            break
    stream.close()
    start = time.monotonic()
    assert server.wait_for_disconnect(timeout=2.0)
    assert server.wait_idle(timeout=1.0)  # generation stopped
    assert time.monotonic() - start < 2.0
    (disconnect,) = server.disconnects
    assert disconnect.request_index == 0
    assert disconnect.chunks_total == 1 + 100 + 2  # role, tokens, finish, [DONE]
    assert 3 <= disconnect.chunks_sent < 30  # stopped long before the 103-event end
    assert server.active_streams == 0


async def test_disconnect_on_async_break(make_server: Any) -> None:
    server = make_server([" ".join(["tok"] * 100)], token_delay=0.05)
    stream = chat(server).astream("go")
    async for chunk in stream:
        if chunk.content:
            break
    await stream.aclose()
    assert await asyncio.to_thread(server.wait_for_disconnect, 2.0)
    assert server.disconnects[0].chunks_sent < server.disconnects[0].chunks_total


def test_close_joins_all_threads() -> None:
    before = {t.ident for t in threading.enumerate()}
    with FakeOpenAIServer(["short", " ".join(["slow"] * 200)], token_delay=0.05) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.port > 0
        # keep-alive connection left open in a live client pool
        keepalive = httpx.Client()
        body = {"model": MODEL, "messages": USER}
        assert keepalive.post(f"{server.base_url}/chat/completions", json=body).status_code == 200
        # an in-flight stream when the server closes
        received: list[str] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                for chunk in raw_client(server).chat.completions.create(
                    model=MODEL, messages=USER, stream=True
                ):
                    if chunk.choices and chunk.choices[0].delta.content:
                        received.append(chunk.choices[0].delta.content)
            except Exception as exc:
                errors.append(exc)

        consumer = threading.Thread(target=consume)
        consumer.start()
        assert server.wait_for_requests(2)
        assert server.thread is not None and server.thread.is_alive()
        assert len(server.alive_threads()) >= 3
        start = time.monotonic()
    assert time.monotonic() - start < 2.0
    consumer.join(5)
    keepalive.close()
    assert not consumer.is_alive()
    assert len(received) < 200  # stream was cut short
    assert server.alive_threads() == []
    leftover = [
        t for t in threading.enumerate() if t.ident not in before and t.name.startswith("FakeOpenAIServer")
    ]
    assert leftover == []
    server.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/models", timeout=1)
