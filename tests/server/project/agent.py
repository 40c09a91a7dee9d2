"""Graphs served in the server tests: a chat agent whose model streams tokens (a fake streaming
chat model, offline) and asks for approval with interrupt(); a ticker of slow steps (for joins,
cancels and disconnects) and one long step; a node that raises."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lgtrace.config import get_stream_writer
from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.types import interrupt


class _Model(GenericFakeChatModel):
    """Answers every call with the same words, streamed one token at a time."""

    def __init__(self) -> None:
        super().__init__(messages=iter(()))

    def _generate(self, *args, **kwargs):  # type: ignore[override]
        self.messages = iter([AIMessage("hello big world")])
        return super()._generate(*args, **kwargs)


model = _Model()


class Chat(MessagesState):
    approved: str


def call_model(state: Chat):
    get_stream_writer()({"progress": "calling model"})
    return {"messages": [model.invoke(state["messages"])]}


def ask(state: Chat):
    return {"approved": interrupt("approve?")}


graph = (
    StateGraph(Chat)
    .add_node("call_model", call_model)
    .add_node("ask", ask)
    .add_edge(START, "call_model")
    .add_edge("call_model", "ask")
    .compile()
)


class Ticks(TypedDict, total=False):
    log: Annotated[list, operator.add]
    delay: float


def _tick(i: int):
    def node(state: Ticks):
        time.sleep(state.get("delay", 0.05))
        return {"log": [f"tick{i}"]}

    return node


_ticker = StateGraph(Ticks)
for _i in range(6):
    _ticker.add_node(f"s{_i}", _tick(_i))
    _ticker.add_edge(START if _i == 0 else f"s{_i - 1}", f"s{_i}")
ticker = _ticker.compile()


async def _quiet(state: Ticks):
    await asyncio.sleep(state.get("delay", 0.05))
    return {"log": ["tick0"]}


quiet = StateGraph(Ticks).add_node("s0", _quiet).add_edge(START, "s0").compile()  # one slow async step


def _fail(state: Ticks):
    raise ValueError("this node is broken")


broken = (
    StateGraph(Ticks)
    .add_node("ok", _tick(0))
    .add_node("fail", _fail)
    .add_edge(START, "ok")
    .add_edge("ok", "fail")
    .compile()
)


def _inner(state: Ticks):
    get_stream_writer()({"inner": True})
    return {"log": ["inner"]}


_sub = StateGraph(Ticks).add_node("inner", _inner).add_edge(START, "inner").compile()
nested = StateGraph(Ticks).add_node("sub", _sub).add_edge(START, "sub").compile()


async def _remote_model(state: MessagesState):
    """A model over real HTTP/SSE (the bundled OpenAI-compatible server; its URL from the env)."""
    import os

    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=os.environ["LGTRACE_TEST_OPENAI_URL"], api_key="test", model="gpt-4o-mini")
    return {"messages": [await llm.ainvoke(state["messages"])]}


remote = StateGraph(MessagesState).add_node("model", _remote_model).add_edge(START, "model").compile()
