"""``add_messages`` and ``MessagesState``: a message list that merges by id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    RemoveMessage,
    convert_to_messages,
    message_chunk_to_message,
)

REMOVE_ALL_MESSAGES = "__remove_all__"
"""``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` clears every message before it."""

Messages = list[Any] | Any


def _as_message_list(value: Messages) -> list[BaseMessage]:
    items = value if isinstance(value, list) else [value]
    messages = []
    for m in convert_to_messages(items):
        if isinstance(m, BaseMessageChunk):
            m = message_chunk_to_message(m)
        messages.append(m)
    return messages


def _with_ids(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Give every message an id, in place (as LangGraph does: the caller's objects get it too)."""
    for m in messages:
        if not m.id:
            m.id = str(uuid.uuid4())
    return list(messages)


def add_messages(left: Messages, right: Messages, **kwargs: Any) -> list[BaseMessage]:
    """Merge two message lists by id.

    A right-hand message whose id is already on the left replaces it in place;
    a ``RemoveMessage`` deletes the message with its id; any other message is
    appended. Strings, ``(role, content)`` tuples and ``{"role", "content"}``
    dicts are coerced to messages, and every message gets an id.
    """
    if kwargs.get("format") not in (None,):
        raise ValueError(f"add_messages: unsupported format {kwargs['format']!r}")
    left_msgs = _with_ids(_as_message_list(left))
    right_msgs = _with_ids(_as_message_list(right))

    for i in range(len(right_msgs) - 1, -1, -1):
        m = right_msgs[i]
        if isinstance(m, RemoveMessage) and m.id == REMOVE_ALL_MESSAGES:
            return right_msgs[i + 1 :]

    merged = list(left_msgs)
    index_by_id = {m.id: i for i, m in enumerate(merged)}
    removed: set[str] = set()
    for m in right_msgs:
        pos = index_by_id.get(m.id)
        if pos is not None:
            if isinstance(m, RemoveMessage):
                removed.add(m.id)  # type: ignore[arg-type]
            else:
                removed.discard(m.id)  # type: ignore[arg-type]
                merged[pos] = m
        else:
            if isinstance(m, RemoveMessage):
                raise ValueError(f"Attempting to delete a message with an ID that doesn't exist ('{m.id}')")
            index_by_id[m.id] = len(merged)
            merged.append(m)
    return [m for m in merged if m.id not in removed]


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged with ``add_messages``."""

    messages: Annotated[list[AnyMessage], add_messages]


def push_message(message: Any, *, state_key: str | None = "messages") -> BaseMessage:
    """Stream a whole message on ``stream_mode="messages"`` now, from inside a node, and write it
    to ``state_key`` (unless None) as if the node had returned it. The message needs an id."""
    from langchain_core.callbacks import BaseCallbackManager
    from langchain_core.messages import convert_to_messages

    from lgtrace.config import get_config
    from lgtrace.runtime.run import PUSH_KEY
    from lgtrace.stream.messages import StreamMessagesHandler

    message = convert_to_messages([message])[0]
    if message.id is None:
        raise ValueError("Message ID is required: push_message() needs a message with an id")
    config = get_config()
    callbacks = config.get("callbacks")
    handlers = callbacks.handlers if isinstance(callbacks, BaseCallbackManager) else callbacks or []
    for handler in handlers:
        if isinstance(handler, StreamMessagesHandler):
            handler.push(config.get("metadata") or {}, message)
    if state_key:
        pushed = (config.get("configurable") or {}).get(PUSH_KEY)
        if pushed is None:
            raise RuntimeError("push_message() called outside of a graph node")
        pushed.append((state_key, message))
    return message


__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages", "push_message"]
