"""``stream_mode="tools"`` (LangGraph 1.2): tool-call lifecycle events from any tool run under a
node (``ToolNode`` or a direct ``tool.invoke``): ``tool-started`` (name, input), ``tool-output-delta``
(what the tool emits with ``ToolRuntime.emit_output_delta``), ``tool-finished`` (output) and
``tool-error`` (message), keyed by ``tool_call_id``."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers._streaming import _StreamingCallbackHandler

from lgtrace.constants import NS_SEP, TAG_NOSTREAM
from lgtrace.errors import GraphInterrupt
from lgtrace.stream.channel import EventChannel

tool_call_writer: ContextVar[Any] = ContextVar("lgtrace_tool_call_writer", default=None)
"""The running tool call's ``tool-output-delta`` writer (set while it runs, when streamed)."""


class StreamToolsHandler(BaseCallbackHandler, _StreamingCallbackHandler):
    """Turns tool callbacks into ``tools`` events on a run's channel."""

    run_inline = True

    def __init__(self, channel: EventChannel, *, subgraphs: bool) -> None:
        self.channel = channel
        self.subgraphs = subgraphs
        self.calls: dict[UUID, tuple[tuple[str, ...], str, Any]] = {}

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metadata or (tags and TAG_NOSTREAM in tags):
            return
        task_ns = metadata.get("langgraph_checkpoint_ns")
        ns = tuple(task_ns.split(NS_SEP)[:-1]) if task_ns else ()
        if ns and not self.subgraphs:
            return
        call_id = kwargs.get("tool_call_id") or str(run_id)
        channel = self.channel

        def writer(delta: Any) -> None:
            channel.put(
                (ns, "tools", {"event": "tool-output-delta", "tool_call_id": call_id, "delta": delta})
            )

        self.calls[run_id] = (ns, call_id, tool_call_writer.set(writer))
        payload: dict[str, Any] = {
            "event": "tool-started",
            "tool_call_id": call_id,
            "tool_name": (serialized or {}).get("name") or kwargs.get("name") or "",
        }
        if inputs is not None:
            payload["input"] = inputs
        channel.put((ns, "tools", payload))

    def _done(self, run_id: UUID) -> tuple[tuple[str, ...], str] | None:
        call = self.calls.pop(run_id, None)
        if call is None:
            return None
        ns, call_id, token = call
        with contextlib.suppress(ValueError):  # ended in another context than it started in
            tool_call_writer.reset(token)
        return ns, call_id

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if done := self._done(run_id):
            ns, call_id = done
            self.channel.put(
                (ns, "tools", {"event": "tool-finished", "tool_call_id": call_id, "output": output})
            )

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        done = self._done(run_id)
        if done and not isinstance(error, GraphInterrupt):  # paused, not failed: it runs again on resume
            ns, call_id = done
            self.channel.put(
                (ns, "tools", {"event": "tool-error", "tool_call_id": call_id, "message": str(error)})
            )
