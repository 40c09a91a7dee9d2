"""Content capture: prompts, messages, state and outputs as span attributes.

Off by default. When on, values are converted to the GenAI conventions' JSON
"parts" format (messages) or plain JSON (chain state), passed through an
optional redaction hook, and truncated so the attribute stays valid JSON.
Nothing here runs unless capture is enabled.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

ENV_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def capture_from_env() -> bool:
    return os.environ.get(ENV_CAPTURE, "").strip().lower() in ("1", "true", "yes", "on")


def message_parts(message: BaseMessage) -> dict[str, Any]:
    """One message in the conventions' parts format."""
    parts: list[dict[str, Any]] = []
    content = message.content
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "content": content})
    else:
        for block in content:
            if isinstance(block, str):
                parts.append({"type": "text", "content": block})
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append({"type": "text", "content": block.get("text", "")})
            elif isinstance(block, dict):
                parts.append({"type": str(block.get("type", "unknown"))})
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(
            {"type": "tool_call", "id": call.get("id"), "name": call["name"], "arguments": call["args"]}
        )
    if message.type == "tool":
        parts = [
            {"type": "tool_call_response", "id": getattr(message, "tool_call_id", None), "response": content}
        ]
    out: dict[str, Any] = {"role": _ROLES.get(message.type, message.type), "parts": parts}
    if getattr(message, "name", None):
        out["name"] = message.name
    return out


class _Budget:
    """Characters left for one attribute; the walk stops spending when it runs out."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _bounded(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """A JSON-able view of ``value`` that reads no more of it than the budget allows.

    Long strings are cut, and containers stop at the item that exhausts the budget
    with a marker saying how many items were left out, so the cost of capturing a
    200 KB state is the cost of the first ``max_length`` characters of it.
    """
    if isinstance(value, str):
        keep = max(budget.left, 32)
        budget.left -= min(len(value), keep) + 2
        return value if len(value) <= keep else value[:keep] + "…"
    if isinstance(value, (bool, int, float)) or value is None:
        budget.left -= 6
        return value
    if depth > 20:
        budget.left -= 3
        return "..."
    if isinstance(value, BaseMessage):
        return _bounded(message_parts(value), budget, depth + 1)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        extra = 0  # short fields kept past the budget (a message's role, finish_reason...)
        for i, (k, v) in enumerate(value.items()):
            if budget.left <= 0:
                short = (
                    v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 64)
                )
                if not short or extra >= 16:
                    out["…"] = f"{len(value) - i} more keys"
                    break
                extra += 1
            budget.left -= len(str(k)) + 4
            out[str(k)] = _bounded(v, budget, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        # the end of a list matters as much as its start (the latest message of a history):
        # half the budget goes to the tail, walked backwards, the rest to the head
        tail_budget = _Budget(budget.left // 2)
        budget.left -= tail_budget.left
        tail: list[Any] = []
        end = len(value)
        while end > 0 and tail_budget.left > 0:
            end -= 1
            tail.append(_bounded(value[end], tail_budget, depth + 1))
            tail_budget.left -= 2
        budget.left += max(tail_budget.left, 0)
        head: list[Any] = []
        start = 0
        while start < end and budget.left > 0:
            head.append(_bounded(value[start], budget, depth + 1))
            budget.left -= 2
            start += 1
        if start < end:
            head.append(f"… {end - start} more items")
        return head + tail[::-1]
    if hasattr(value, "model_dump"):
        return _bounded(value.model_dump(), budget, depth + 1)
    return _bounded(repr(value), budget, depth + 1)


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """Whether and how content is recorded."""

    enabled: bool = False
    max_length: int = 16_384
    """Upper bound on one attribute's JSON text, in characters."""
    redact: Callable[[Any], Any] | None = None
    """Called with the JSON-able value before it is serialized; returns what to record.

    With a hook, the whole value is converted first (so nothing is cut before it is
    redacted), which costs time proportional to the value's size."""

    def dumps(self, value: Any) -> str:
        """Serialize for an attribute: redacted, valid JSON, at most ``max_length`` characters."""
        if self.redact is not None:
            value = self.redact(_bounded(value, _Budget(sys.maxsize)))  # in full: nothing is cut
        budget = self.max_length
        while True:
            text = json.dumps(_bounded(value, _Budget(budget)), ensure_ascii=False, default=repr)
            if len(text) <= self.max_length:
                return text
            if budget <= 64:  # escaping and markers outgrew even a tiny budget
                return json.dumps({"truncated": True, "length": len(text)})
            budget //= 2
