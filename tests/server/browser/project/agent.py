"""Test project for the browser tests (tests/server/browser): served by ``lgtrace serve``.

``agent``: a chat model streams its answer token by token, then ``approve`` asks
``interrupt("approve?")`` and, once resumed, answers with the decision. ``chat``: the model
only. The model is the real ``ChatOpenAI`` talking to lgtrace's bundled OpenAI-compatible
test server (``lgtrace.testing``), started in this process on first use, which streams one
word every ``LGTRACE_BROWSER_TOKEN_DELAY`` seconds (default 0.03).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from langchain_core.messages import AIMessage

from lgtrace.graph import END, START, MessagesState, StateGraph
from lgtrace.testing import FakeOpenAIServer, Reply, message_text
from lgtrace.types import interrupt

_lock = threading.Lock()
_server: FakeOpenAIServer | None = None
_model: Any = None


def reply_for(text: str) -> str:
    """The model's answer to a user message (the tests compare against it)."""
    return f"You said: {text}. Here is a short answer, streamed one word at a time so that it grows."


def _reply(request: dict[str, Any]) -> Reply:
    last_user = next(
        (
            message_text(m.get("content"))
            for m in reversed(request.get("messages", []))
            if m.get("role") == "user"
        ),
        "",
    )
    return Reply(reply_for(last_user))


def _chat_model() -> Any:
    global _server, _model
    with _lock:
        if _model is None:
            from langchain_openai import ChatOpenAI

            delay = float(os.environ.get("LGTRACE_BROWSER_TOKEN_DELAY", "0.03"))
            _server = FakeOpenAIServer(replies=_reply, token_delay=delay).start()
            atexit.register(_server.close)
            _model = ChatOpenAI(
                model="gpt-4o-mini", base_url=_server.base_url, api_key="offline", streaming=True
            )
        return _model


async def call_model(state: MessagesState) -> dict[str, Any]:
    return {"messages": [await _chat_model().ainvoke(state["messages"])]}


def approve(state: MessagesState) -> dict[str, Any]:
    answer = interrupt("approve?")
    return {"messages": [AIMessage(f"Decision: {answer}")]}


graph = (
    StateGraph(MessagesState)
    .add_node(call_model)
    .add_node(approve)
    .add_edge(START, "call_model")
    .add_edge("call_model", "approve")
    .add_edge("approve", END)
    .compile()
)

chat = StateGraph(MessagesState).add_node(call_model).add_edge(START, "call_model").compile()
