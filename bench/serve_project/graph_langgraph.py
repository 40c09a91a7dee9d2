"""The graph of ``python -m bench.server`` for ``langgraph dev`` (LangGraph's runtime).

Identical to ``graph_lgtrace.py`` but for the import line. One node calling a streaming chat model:

- ``BENCH_MODEL=http`` (default): ``ChatOpenAI(streaming=True)`` reading its answer over HTTP/SSE from
  the OpenAI-compatible server at ``$BENCH_OPENAI_URL``;
- ``BENCH_MODEL=local``: ``LocalModel``, an in-process chat model streaming ``$BENCH_TOKENS`` tokens
  (``" w0 w1 ..."``), yielding to the event loop after each one as a network-bound model would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.graph import START, MessagesState, StateGraph


class LocalModel(BaseChatModel):
    tokens: int = 500

    @property
    def _llm_type(self) -> str:
        return "bench-local"

    def _words(self) -> list[str]:
        return [f"w{i}" if i == 0 else f" w{i}" for i in range(self.tokens)]

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self._words())))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        for word in self._words():
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        for word in self._words():
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager:
                await run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
            await asyncio.sleep(0)


if os.environ.get("BENCH_MODEL", "http") == "local":
    llm: Any = LocalModel(tokens=int(os.environ.get("BENCH_TOKENS", "500")))
else:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=os.environ["BENCH_OPENAI_URL"], api_key="x", model="gpt-4o-mini", streaming=True
    )


async def call_model(state: MessagesState) -> dict:
    return {"messages": [await llm.ainvoke(state["messages"])]}


graph = StateGraph(MessagesState).add_node("call_model", call_model).add_edge(START, "call_model").compile()
