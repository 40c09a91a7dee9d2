"""Deterministic fake chat models and tools (no network, no randomness).

``ScriptedToolModel`` answers with tool calls from a script, choosing the reply
by how many AI messages the conversation already holds, so it keeps no state
between runs and every run of a graph sees the same replies.

``UsageToolModel`` is the chat model of the tracing cases: it looks like a
provider's model to a tracer (a model name, token usage, finish reasons, tools
bound through ``bind_tools``), calls the tool once, then answers.

``TokenModel`` streams ``n_tokens`` one-token chunks; it is the model behind the
``messages``-mode and concurrency cases, and on its own (``.stream()``) the
anchor those cases subtract.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

TOOL_NAME = "lookup"


def _query(i: int) -> str:
    return f"query-{i:04d}-" + "abcdef0123456789" * 18


def _lookup(query: str) -> str:
    return f"result for query: {query}" * 10


async def _alookup(query: str) -> str:
    return _lookup(query)


def make_tool() -> BaseTool:
    """The one tool the ReAct agent calls; sync and async bodies, no executor hop."""
    return StructuredTool.from_function(
        func=_lookup, coroutine=_alookup, name=TOOL_NAME, description="Look a query up."
    )


def tool_script(n_tool_calls: int) -> list[AIMessage]:
    """``n_tool_calls`` replies with one tool call each, then a final answer."""
    replies = [
        AIMessage(
            content="",
            id=f"ai-{i}",
            tool_calls=[{"id": f"call-{i}", "name": TOOL_NAME, "args": {"query": _query(i)}}],
        )
        for i in range(n_tool_calls)
    ]
    replies.append(AIMessage(content="answer" * 100, id=f"ai-{n_tool_calls}"))
    return replies


class _ReplyModel(BaseChatModel):
    """A model whose sync and async calls both answer with ``_reply(messages)``."""

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        raise NotImplementedError

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages)


class ScriptedToolModel(_ReplyModel):
    """Replies ``script[k]`` where ``k`` is the number of AI messages in the input."""

    script: list[AIMessage]

    @property
    def _llm_type(self) -> str:
        return "bench-scripted-tool-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedToolModel:  # type: ignore[override]
        return self

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        k = sum(1 for m in messages if isinstance(m, AIMessage))
        reply = self.script[min(k, len(self.script) - 1)]
        return ChatResult(generations=[ChatGeneration(message=reply.model_copy())])


class UsageToolModel(_ReplyModel):
    """One tool call, then an answer; every reply carries usage metadata and a finish reason.

    The reply depends only on the last message (a ``ToolMessage`` gets the answer,
    anything else a tool call), so a long history does not change the script.
    ``bind_tools`` binds OpenAI-format tool schemas, as provider models do, so
    tracers see them in the invocation parameters. ``input_tokens`` is the
    prompt's length in characters / 4 (a deterministic stand-in for a tokenizer).
    """

    model_name: str = "bench-usage-model"
    answer: str = "It is sunny in Paris, 21 degrees. " * 4

    @property
    def _llm_type(self) -> str:
        return "bench-usage-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:  # type: ignore[override]
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        prompt_chars = sum(len(m.content) if isinstance(m.content, str) else 0 for m in messages)
        if messages and isinstance(messages[-1], ToolMessage):
            message = AIMessage(content=self.answer, id="ai-answer")
            reason = "stop"
        else:
            call = {"id": "call-0", "name": TOOL_NAME, "args": {"query": _query(0)}}
            message = AIMessage(content="", id="ai-call", tool_calls=[call])
            reason = "tool_calls"
        out_tokens = max(1, len(message.content) // 4) + 20 * len(message.tool_calls)
        in_tokens = prompt_chars // 4 + 1
        message.usage_metadata = {
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
        }
        message.response_metadata = {"model_name": self.model_name, "finish_reason": reason}
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": reason})],
            llm_output={"model_name": self.model_name},
        )


class TokenModel(_ReplyModel):
    """Streams ``n_tokens`` chunks ``"t0 "``, ``"t1 "``, ...; ``invoke`` joins them.

    ``yield_every`` > 0 makes the async stream give the event loop a turn every
    that many tokens, as a network-bound model would (used by the concurrency case).
    """

    n_tokens: int
    yield_every: int = 0

    @property
    def _llm_type(self) -> str:
        return "bench-token-model"

    def _tokens(self) -> Iterator[str]:
        return (f"t{i} " for i in range(self.n_tokens))

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(self._tokens())))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for token in self._tokens():
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        every = self.yield_every
        for i, token in enumerate(self._tokens()):
            if every and i % every == 0:
                await asyncio.sleep(0)
            yield ChatGenerationChunk(message=AIMessageChunk(content=token))
