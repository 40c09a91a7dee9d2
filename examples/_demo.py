"""Model set-up shared by the examples: real OpenAI when ``OPENAI_API_KEY`` is set
(``OPENAI_BASE_URL`` is honoured, so Ollama or vLLM work too), otherwise a local
OpenAI-compatible server (``lgtrace.testing``) that answers deterministically, so
every example runs offline with the real ``ChatOpenAI`` HTTP/SSE client.
"""

from __future__ import annotations

import atexit
import os
import re
from typing import Any

from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall, message_text

MODEL = os.environ.get("LGTRACE_DEMO_MODEL", "gpt-4o-mini")
ONLINE = bool(os.environ.get("OPENAI_API_KEY"))

_CANNED = {
    "poem": "Soft paws on the windowsill,\nwhiskers twitch, the world is still.",
    "joke": "Why did the cat sit on the computer? To keep an eye on the mouse!",
    "items": "Books: stories to read, pencils: for writing notes, pictures: to brighten the walls.",
}
_server: FakeOpenAIServer | None = None


def _reply(request: dict[str, Any]) -> Reply:
    messages = request.get("messages", [])
    last_user = next(
        (message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    tools = request.get("tools") or []
    if tools and not any(m.get("role") == "tool" for m in messages):
        place = re.findall(r"\b(\w+)\?*$", last_user.strip()) or ["home"]
        return Reply(tool_calls=[ToolCall(tools[0]["function"]["name"], {"place": place[0]})])
    tool_results = [message_text(m.get("content")) for m in messages if m.get("role") == "tool"]
    if tool_results:
        return Reply(f"You might find {tool_results[-1]} there.")
    if "my name" in last_user.lower():  # answers from the conversation so far (persistence demo)
        said = [message_text(m.get("content")) for m in messages if m.get("role") == "user"]
        names = [n for text in said for n in re.findall(r"I'm (\w+)", text)]
        return Reply(f"Your name is {names[-1]}." if names else "You have not told me your name.")
    for keyword, text in _CANNED.items():
        if keyword in last_user.lower():
            return Reply(text)
    return Reply(f"You said: {last_user}")


def local_base_url() -> str:
    """Start the local server once; its URL ends with ``/v1``."""
    global _server
    if _server is None:
        _server = FakeOpenAIServer(
            replies=_reply, token_delay=float(os.environ.get("LGTRACE_DEMO_DELAY", "0.01"))
        )
        _server.start()
        atexit.register(_server.close)
    return _server.base_url


def chat_model(**kwargs: Any) -> Any:
    """A ``ChatOpenAI``: the real API when a key is set, else the local server.

    ``stream_usage=True``: streamed calls ask for token usage too (``stream_options``), which
    ``ChatOpenAI`` does not do by itself for a custom ``base_url``; without it a streamed
    call's span has no token counts (0 tokens, $0 in Phoenix).
    """
    from langchain_openai import ChatOpenAI

    kwargs.setdefault("stream_usage", True)
    if ONLINE:
        return ChatOpenAI(model=MODEL, **kwargs)
    return ChatOpenAI(model=MODEL, base_url=local_base_url(), api_key="offline-demo", **kwargs)


def openai_client() -> Any:
    """A raw ``openai.AsyncOpenAI`` client, same rule as ``chat_model``."""
    from openai import AsyncOpenAI

    if ONLINE:
        return AsyncOpenAI()
    return AsyncOpenAI(base_url=local_base_url(), api_key="offline-demo")
