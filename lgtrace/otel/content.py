"""Content capture: prompts, messages, state and outputs as span attributes.

Off by default. When on, values are converted to the GenAI conventions' JSON
"parts" format (messages) or plain JSON (chain state), passed through an
optional redaction hook, and truncated so the attribute stays valid JSON.
Nothing here runs unless capture is enabled.
"""

from __future__ import annotations

import json
import os
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


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """Plain-JSON view of state and outputs (messages in parts format)."""
    if depth > 20:
        return "..."
    if isinstance(value, BaseMessage):
        return message_parts(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, depth + 1) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(), depth + 1)
    return repr(value)


def _truncate_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {k: _truncate_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_truncate_strings(v, limit) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """Whether and how content is recorded."""

    enabled: bool = False
    max_length: int = 16_384
    """Upper bound on one attribute's JSON text, in characters."""
    redact: Callable[[Any], Any] | None = None
    """Called with the JSON-able value before it is serialized; returns what to record."""

    def dumps(self, value: Any) -> str:
        """Serialize for an attribute: redacted, valid JSON, at most ``max_length`` characters."""
        data = to_jsonable(value)
        if self.redact is not None:
            data = self.redact(data)
        text = json.dumps(data, ensure_ascii=False, default=repr)
        limit = self.max_length
        while len(text) > self.max_length and limit > 8:
            limit //= 2
            text = json.dumps(_truncate_strings(data, limit), ensure_ascii=False, default=repr)
        if len(text) > self.max_length:  # too many items even with tiny strings
            text = json.dumps({"truncated": True, "length": len(text)})
        return text
