"""The streaming tracer behind ``stream_mode="messages"``.

A langchain-core callback handler, attached as an *inheritable* handler only
when ``messages`` is requested. It subclasses langchain-core's streaming-handler
marker, which is what makes a chat model called with ``.invoke()`` stream its
tokens. It turns callback events into ``(message_chunk, metadata)`` events:

- ``on_chat_model_start`` remembers the run's metadata (task metadata the model
  inherited from its node, plus the model's ``ls_*`` keys and the user's tags);
- ``on_llm_new_token`` emits each chunk;
- ``on_llm_end`` emits the whole message only if it was not streamed;
- node runs: input messages count as seen, output messages not yet seen are
  emitted whole (a node that builds an AIMessage itself shows up too).

Models or nodes tagged ``nostream`` emit nothing; runs inside subgraphs emit only
with ``subgraphs=True``.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.tracers._streaming import _StreamingCallbackHandler

from lgtrace.constants import NS_SEP, PUSH, TAG_NOSTREAM
from lgtrace.graph.schema import is_schema_instance
from lgtrace.stream.channel import EventChannel
from lgtrace.types import Command

_Meta = tuple[tuple[str, ...], dict[str, Any]]


def user_tags(tags: list[str] | None) -> list[str] | None:
    """Drop langchain-core's ``seq:step:N`` bookkeeping; None when nothing is left."""
    if not tags:
        return None
    kept = [t for t in tags if not t.startswith("seq:step")]
    return kept or None


def _messages_in(value: Any) -> list[BaseMessage]:
    """Messages at the top level of a node's input or output (dict, model, list)."""
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, Command):
        return _messages_in(value.update)
    if isinstance(value, dict):
        items: Sequence[Any] = list(value.values())
    elif is_schema_instance(value):
        items = (
            list(vars(value).values())
            if not hasattr(value, "model_dump")
            else [getattr(value, k) for k in type(value).model_fields]
        )
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return []
    found: list[BaseMessage] = []
    for item in items:
        if isinstance(item, BaseMessage):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            found.extend(m for m in item if isinstance(m, BaseMessage))
        elif isinstance(item, (Command, dict)):  # a Command, or one write of several to a key
            found.extend(_messages_in(item))
    return found


def _is_task_run(tags: list[str] | None) -> bool:
    """A graph task's own run carries its ``graph:step:N`` tag (not its children)."""
    return bool(tags) and any(t.startswith("graph:step:") for t in tags)  # type: ignore[union-attr]


class StreamMessagesHandler(BaseCallbackHandler, _StreamingCallbackHandler):
    """Streams chat-model tokens and node messages into a run's channel."""

    run_inline = True
    """Called in the thread that produced the event: no hop, order preserved."""
    raise_error = True
    """Lets ``RunCancelled`` (the consumer left) abort a model's token loop."""

    def __init__(self, channel: EventChannel, *, subgraphs: bool) -> None:
        self.channel = channel
        self.subgraphs = subgraphs
        self.runs: dict[UUID, _Meta] = {}
        self.seen: set[str] = set()
        self._lock = threading.Lock()
        self._last: tuple[UUID | None, _Meta | None] = (None, None)
        """The run the previous token came from: a model reports every token with the
        same ``run_id`` object, so an identity check skips hashing the UUID. One
        tuple, replaced whole, so concurrent runs never see a torn pair."""

    # langchain-core calls these for astream_events/astream_log taps; we only observe
    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output

    def _namespace(self, metadata: dict[str, Any] | None) -> tuple[str, ...] | None:
        """The graph namespace of a run, or None when it must not stream."""
        if not metadata or "langgraph_checkpoint_ns" not in metadata:
            return None
        ns = tuple(metadata["langgraph_checkpoint_ns"].split(NS_SEP))
        drop = 1
        path = metadata.get("langgraph_path", ())
        while len(path) == 4 and path[0] == PUSH and path[-1] is True:  # a @task call: its caller's graph
            drop += 1
            path = path[1]
        ns = ns[:-drop]
        if ns and not self.subgraphs:
            return None
        return ns

    def _emit_whole(self, meta: _Meta, message: BaseMessage) -> None:
        """A complete message (model end, node output), unless its id was seen."""
        with self._lock:
            if message.id is not None and message.id in self.seen:
                return
            if message.id is None:
                message.id = str(uuid.uuid4())
            self.seen.add(message.id)
        self.channel.put((meta[0], "messages", (message, meta[1])))

    def push(self, metadata: dict[str, Any], message: BaseMessage) -> None:
        """``push_message()``: the whole message now (even if its id was seen), once."""
        ns = self._namespace(metadata)
        if ns is None:
            return
        with self._lock:
            self.seen.add(message.id)  # type: ignore[arg-type]
        self.channel.put((ns, "messages", (message, metadata)))

    # -- chat model runs -------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if tags and TAG_NOSTREAM in tags:
            return
        ns = self._namespace(metadata)
        if ns is None:
            return
        assert metadata is not None
        tags_kept = user_tags(tags)
        if tags_kept is not None:
            metadata["tags"] = tags_kept
        self.runs[run_id] = (ns, metadata)

    def on_llm_new_token(
        self,
        token: str,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        last = self._last
        if last[0] is run_id:
            meta = last[1]
        else:
            meta = self.runs.get(run_id)
            self._last = (run_id, meta)
        if meta is not None and isinstance(chunk, ChatGenerationChunk):
            self._emit_token(meta, chunk.message)

    def _emit_token(self, meta: _Meta, message: BaseMessage, *, block: bool = True) -> None:
        """The per-token hot path: no dedupe, no lock (set.add is atomic)."""
        if message.id is None:
            message.id = str(uuid.uuid4())
        self.seen.add(message.id)
        self.channel.put((meta[0], "messages", (message, meta[1])), block=block)

    def _forget(self, run_id: UUID) -> _Meta | None:
        self._last = (None, None)
        return self.runs.pop(run_id, None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        meta = self._forget(run_id)
        if meta is not None and response.generations and response.generations[0]:
            generation = response.generations[0][0]
            if isinstance(generation, ChatGeneration):
                self._emit_whole(meta, generation.message)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._forget(run_id)

    # -- node runs ---------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metadata or kwargs.get("name") != metadata.get("langgraph_node") or not _is_task_run(tags):
            return
        if tags and TAG_NOSTREAM in tags:
            return
        ns = self._namespace(metadata)
        if ns is None:
            return
        self.runs[run_id] = (ns, metadata)
        inputs = kwargs.get("lgtrace_payload", inputs)  # the real input when a TracePolicy rewrote it
        ids = [m.id for m in _messages_in(inputs) if m.id is not None]
        if ids:
            with self._lock:
                self.seen.update(ids)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        meta = self.runs.pop(run_id, None)
        if meta is not None:
            for message in _messages_in(kwargs.get("lgtrace_payload", outputs)):
                self._emit_whole(meta, message)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.runs.pop(run_id, None)


class AsyncStreamMessagesHandler(StreamMessagesHandler):
    """The handler for ``astream``: token events from coroutines on the consumer's
    event loop wait for buffer space instead of growing it without bound.

    langchain-core awaits a handler method that is a coroutine function when an
    async model reports a token, and calls plain methods inline. So
    ``on_llm_new_token`` is chosen per call: the awaitable variant on the
    consumer's loop thread when the buffer is full, the plain one otherwise
    (which blocks when full only in worker threads).
    """

    def __init__(self, channel: EventChannel, *, subgraphs: bool) -> None:
        super().__init__(channel, subgraphs=subgraphs)
        self._loop_thread = threading.get_ident()

    @property  # type: ignore[override]
    def on_llm_new_token(self) -> Any:
        # the awaitable variant only when it has to wait: a plain method is called inline,
        # with no coroutine to create and await per token
        if self.channel.full() and threading.get_ident() == self._loop_thread:
            return self._on_llm_new_token_async
        return super().on_llm_new_token

    async def _on_llm_new_token_async(
        self, token: str, *, chunk: Any = None, run_id: UUID, **kwargs: Any
    ) -> None:
        meta = self.runs.get(run_id)
        if meta is None or not isinstance(chunk, ChatGenerationChunk):
            return
        channel = self.channel
        if asyncio.get_running_loop() is channel.loop:
            await channel.wait_for_space()
            self._emit_token(meta, chunk.message)
        else:
            # a sync model call on the loop thread: the consumer is blocked, never wait
            self._emit_token(meta, chunk.message, block=False)
