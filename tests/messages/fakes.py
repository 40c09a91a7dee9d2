"""Fake chat models for messages-mode tests (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ToolCallingFakeModel(GenericFakeChatModel):
    """GenericFakeChatModel that also streams tool-call-only messages and accepts bind_tools."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeModel:
        return self

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = next(self.messages)
        if isinstance(message, AIMessage) and message.tool_calls:
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(
                    content=message.content,
                    id=message.id,
                    tool_call_chunks=[
                        {"name": c["name"], "args": _json(c["args"]), "id": c["id"], "index": i}
                        for i, c in enumerate(message.tool_calls)
                    ],
                )
            )
            if run_manager:
                run_manager.on_llm_new_token("", chunk=chunk)
            yield chunk
            return
        self.messages = _prepend(message, self.messages)
        yield from super()._stream(messages, stop, run_manager, **kwargs)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _prepend(item: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield item
    yield from rest


class EchoModel(BaseChatModel):
    """Streams the last human message back word by word (optionally repeated)."""

    repeat: int = 1

    @property
    def _llm_type(self) -> str:
        return "echo-fake"

    def _words(self, messages: list[BaseMessage]) -> list[str]:
        text = str(messages[-1].content)
        return (text.split(" ") * self.repeat) if text else []

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content=" ".join(self._words(messages))))]
        )

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(self._words(messages)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))
            if run_manager:
                run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ):  # type: ignore[override]
        for i, word in enumerate(self._words(messages)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))
            if run_manager:
                await run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk
