"""Test and offline-demo utilities for lgtrace.

Nothing in here is meant for production use. :mod:`lgtrace.testing.openai_server` provides
:class:`FakeOpenAIServer`, a deterministic OpenAI-compatible chat-completions endpoint on
``127.0.0.1`` for exercising real OpenAI / LangChain clients without network access.
Only the standard library is imported.
"""

from lgtrace.testing.openai_server import (
    Disconnect,
    FakeOpenAIServer,
    Reply,
    ReplySource,
    ToolCall,
    count_prompt_tokens,
    echo_reply,
    message_text,
    tokenize,
)

__all__ = [
    "Disconnect",
    "FakeOpenAIServer",
    "Reply",
    "ReplySource",
    "ToolCall",
    "count_prompt_tokens",
    "echo_reply",
    "message_text",
    "tokenize",
]
