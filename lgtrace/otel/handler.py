"""``OTelCallbackHandler``: langchain-core callback events -> OpenTelemetry spans and metrics.

Span tree (parents from the run hierarchy, never from ambient context in callbacks):

    invoke_workflow {graph}            graph run (or the outermost chain of a plain LangChain app)
      {node}                           one span per graph task, same id/step/triggers as debug events
        chat {model}  (CLIENT)         one per chat model call
        execute_tool {tool}            one per tool call
        invoke_workflow {subgraph}     a subgraph's run, with its own task spans

Other chain runs (prompts, parsers, routers, lambdas) make no span unless
``capture_chains=True``; their children attach to the nearest traced ancestor.
A task's span is the current span while the node body runs, so spans created
inside a node (by the user or an HTTP client instrumentation) are its children.

Conversation: every span carries the run's conversation id as ``gen_ai.conversation.id``
(GenAI semantic conventions) and ``session.id`` (OpenInference; Phoenix groups a session's
traces by it). It is read once per run start from the run's metadata, the first present of
``thread_id`` (a graph's ``configurable["thread_id"]``, copied there by the drivers),
``session_id`` and ``conversation_id``; a run whose metadata has none inherits its parent
run's. A task span also carries ``langgraph.checkpoint_id``, the checkpoint the task started
from, when the driver passes ``lgtrace_checkpoint_id=`` to the task's ``on_chain_start``
(graphs with a checkpointer). A node with a retry policy makes one task span per attempt, each
with ``langgraph.task.attempt`` (1, 2, ...) and the same ``langgraph.task_id``; failed attempts
end with status ERROR, so a dashboard shows what the retries cost.

Interrupts (human in the loop) are not errors: a span ended by ``GraphInterrupt`` (the
interrupted task, a subgraph's graph span and the task that ran it, a tool) or by another
``GraphBubbleUp`` (``ParentCommand``: ``langgraph.command_to_parent``) keeps status UNSET and
records no exception; a ``GraphInterrupt`` marks it ``langgraph.interrupted``. The task span an
``interrupt()`` was raised in gets one ``langgraph.interrupt`` event per interrupt, with
``langgraph.interrupt.id`` (and ``langgraph.interrupt.value``, JSON, only when content is
captured). As a ``GraphCallbackHandler`` the handler hears ``on_interrupt``: the stopped run's
graph span gets attributes (not events: a dashboard filters and groups on them)
``langgraph.interrupted``, ``langgraph.interrupt.status`` (``pending``, ``interrupt_before``,
``interrupt_after``), ``langgraph.interrupt.ids``, ``langgraph.interrupt.checkpoint_id`` (the
checkpoint the thread waits at) and, with capture, ``langgraph.interrupt.values``; the span's
context is remembered under the thread (``max_paused_threads``, LRU). On ``on_resume`` the
resuming run's graph span (a new trace) gets a span link to it (``langgraph.link.reason="resume"``,
``langgraph.checkpoint_id``) and ``langgraph.resumed``, ``langgraph.resumed_from.checkpoint_id``,
``langgraph.resumed_from.trace_id`` / ``span_id`` (for back-ends that drop links, as Phoenix
does). A top-level run of the thread that ends without stopping forgets it; a failed resume keeps it.

Time to first chunk: a streamed chat call's span gets ``gen_ai.response.time_to_first_chunk``
(seconds from the call's start) and, at that moment, a ``gen_ai.first_chunk`` event carrying the
same value (trace views draw events on the span's timeline). Only streamed calls have a first
chunk: a node's ``model.invoke()`` streams when someone subscribed to ``messages``, or when the
handler is made with ``measure_ttft=True``. Then the handler is one of langchain-core's
streaming handlers (the marker that makes a chat model's ``invoke`` call its streaming API and
merge the chunks), so every such call streams: the node gets the same message, the span gets
its first chunk. The cost is the streaming API's (per-chunk parsing and callbacks; measured by
``python -m bench.ttft``); a model with ``disable_streaming=True`` is left alone; usage on a
streamed OpenAI-compatible call needs ``stream_usage=True`` for a custom ``base_url``.

The handler never raises into the graph: a failure inside it is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tracers._streaming import _StreamingCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, TracerProvider

from lgtrace.callbacks import GraphCacheHitEvent, GraphCallbackHandler, GraphInterruptEvent, GraphResumeEvent
from lgtrace.constants import PUSH
from lgtrace.errors import GraphBubbleUp, GraphInterrupt, ParentCommand, RunCancelled
from lgtrace.otel.content import ContentPolicy, capture_from_env, message_parts
from lgtrace.runtime.run import GRAPH_RUNS

_log = logging.getLogger("lgtrace.otel")

_PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "ollama": "ollama",
}
_CANCELLED = (RunCancelled, GeneratorExit, asyncio.CancelledError, KeyboardInterrupt)
"""Ways a run stops without failing: the consumer left, the task was cancelled, Ctrl-C."""


CONVERSATION_KEYS = ("thread_id", "session_id", "conversation_id")
"""Run metadata keys naming the conversation, in order of precedence."""

CHECKPOINT_ID_KWARG = "lgtrace_checkpoint_id"
ATTEMPT_KWARG = "lgtrace_attempt"
"""Passed by the drivers for a node with a retry policy: the attempt (1, 2, ...) a task run is."""
TASK_ID_KWARG = "lgtrace_task_id"
"""Passed with the attempt: the task id (a retry's callback run has a fresh run id)."""
"""Keyword argument of a task's ``on_chain_start``: the id of the checkpoint the task started from."""


FIRST_CHUNK_EVENT = "gen_ai.first_chunk"
"""Span event on a chat span when the first chunk of a streamed response arrives (the GenAI
conventions name no such event yet), so trace views that draw events show time to first token."""


def _tap(method: str) -> Callable[[UUID, Any], Any]:
    """langchain-core's stream tap for a ``measure_ttft`` handler: it must not hide another's.

    langchain-core taps a streaming run's output with the *first* streaming handler of the run
    only; ``astream_events`` / ``astream_log`` handlers need their tap to see chunks. So the tap
    hands the output to the first other streaming handler of the enclosing runnable's
    callbacks (the handlers a child run inherits), or returns it untouched.
    """

    def tap(run_id: UUID, output: Any) -> Any:
        config = var_child_runnable_config.get()
        callbacks = config.get("callbacks") if config else None
        handlers = callbacks if isinstance(callbacks, list) else getattr(callbacks, "handlers", ())
        for handler in handlers:
            if isinstance(handler, _StreamingCallbackHandler) and not isinstance(
                handler, OTelCallbackHandler
            ):
                return getattr(handler, method)(run_id, output)
        return output

    return tap


def _conversation_id(metadata: dict[str, Any] | None) -> str | None:
    """The first present of ``CONVERSATION_KEYS`` in ``metadata``, as a string (ids may be UUIDs)."""
    if metadata:
        for key in CONVERSATION_KEYS:
            value = metadata.get(key)
            if value is not None and value != "":
                return value if isinstance(value, str) else str(value)
    return None


def _is_cancellation(error: BaseException) -> bool:
    return isinstance(error, _CANCELLED)


def _is_failure(error: BaseException) -> bool:
    """Whether ``error`` failed the run (cancellation and graph control flow do not)."""
    return not isinstance(error, (*_CANCELLED, GraphBubbleUp))


@dataclass(slots=True, frozen=True)
class _Paused:
    """A thread stopped at an interrupt: the graph span of the run that stopped, for the resume's link."""

    context: SpanContext
    checkpoint_id: str


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """A callback that never raises into the run: a failure is logged once (``_guard``)."""

    @functools.wraps(method)
    def wrapper(self: OTelCallbackHandler, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:
            self._guard(method.__name__)

    return wrapper


def _detach(token: object) -> None:
    """Undo ``attach`` when still in the context it was made in.

    langchain-core runs async end/error callbacks in a task with a *copy* of the
    run's context (shielded from cancellation); there the task's own context,
    which is discarded with the task, still holds the span and nothing is to undo.
    """
    if isinstance(token, contextvars.Token):
        try:  # noqa: SIM105 (once per task run; contextlib.suppress costs a context manager)
            token.var.reset(token)
        except ValueError:
            pass
    else:
        otel_context.detach(token)


@dataclass(slots=True, eq=False)
class _Run:
    """What the handler remembers of a run until it ends.

    ``eq=False`` keeps identity hashing: a run is a member of its tree's set.
    """

    key: int
    """``run_id.int``: the run's key in ``OTelCallbackHandler.runs``."""
    span: Span | None
    parent: _Run | None
    kind: str
    tree: set[_Run]
    """The open runs of this run's tree (shared by every run under one root)."""
    is_root: bool
    context: Any = None
    """The span's context, made once, shared by its children as their parent."""
    conversation: str | None = None
    """The conversation id (``gen_ai.conversation.id``): from the run's metadata, else its parent's."""
    start: float = field(default_factory=time.perf_counter)
    token: object | None = None
    first_chunk: float | None = None
    metric_attrs: dict[str, Any] | None = None
    usage: tuple[int, int] | None = None
    interrupt_ids: set[str] | None = None
    """Root runs: ids of the interrupts already shown as ``langgraph.interrupt`` events in the tree."""
    cache_hits: int = 0
    """Graph runs: tasks answered from the cache."""
    stopped: bool = False
    """Graph runs: the run stopped at an interrupt (``on_interrupt``); its thread waits for a resume."""


class OTelCallbackHandler(GraphCallbackHandler):
    """Turns LangChain and lgtrace runs into OpenTelemetry spans and GenAI metrics.

    Pass it in ``config={"callbacks": [OTelCallbackHandler()]}`` (graph or any
    Runnable), or call ``lgtrace.otel.instrument()`` once to trace everything.
    As a ``GraphCallbackHandler`` it hears when a graph run stops at an interrupt and
    when a later run resumes the thread; ``max_paused_threads`` bounds how many paused
    threads it remembers (least recently paused forgotten first) to link the resume to.
    ``measure_ttft=True`` makes chat models called under it stream (``.invoke()`` included), so
    every chat span carries its time to first chunk; off by default (see the module docstring).
    """

    run_inline = True  # same thread/context as the run: attach() must happen there
    raise_error = False

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
        max_content_length: int = 16_384,
        redact: Callable[[Any], Any] | None = None,
        capture_chains: bool = False,
        chunk_metrics: bool = False,
        max_paused_threads: int = 10_000,
        measure_ttft: bool = False,
    ) -> None:
        from lgtrace import __version__

        provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer("lgtrace", __version__)
        meter = (meter_provider or get_meter_provider()).get_meter("lgtrace", __version__)
        self.content = ContentPolicy(
            enabled=capture_from_env() if capture_content is None else capture_content,
            max_length=max_content_length,
            redact=redact,
        )
        self.capture_chains = capture_chains
        self.chunk_metrics = chunk_metrics
        self.measure_ttft = measure_ttft
        if measure_ttft:
            # langchain-core streams a chat model's .invoke() when a handler of the call has
            # these two methods (its streaming-handler protocol): instance attributes, so a
            # handler without measure_ttft is not one and changes nothing about the calls.
            self.tap_output_iter = _tap("tap_output_iter")
            self.tap_output_aiter = _tap("tap_output_aiter")
        self.runs: dict[int, _Run] = {}
        """Open runs by ``run_id.int`` (an int hashes in C; ``UUID.__hash__`` is Python)."""
        self._failed_once = False
        self.paused: OrderedDict[str, _Paused] = OrderedDict()
        """Threads waiting at an interrupt by conversation id, least recently paused first."""
        self.max_paused_threads = max_paused_threads
        self._lock = threading.Lock()
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used"
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration"
        )
        self.ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed response",
        )
        self.time_per_chunk = (
            meter.create_histogram(
                "gen_ai.client.operation.time_per_output_chunk",
                unit="s",
                description="Time between consecutive chunks of a streamed response",
            )
            if chunk_metrics
            else None
        )

    # -- plumbing ----------------------------------------------------------------------

    def _guard(self, what: str) -> None:
        if not self._failed_once:
            self._failed_once = True
            _log.warning("lgtrace OTel handler failed in %s; tracing may be incomplete", what, exc_info=True)

    def _parent_context(self, parent: _Run | None) -> Any:
        """The context of the nearest traced ancestor run, or the ambient one for a root."""
        while parent is not None:
            if parent.span is not None:
                if parent.context is None:
                    parent.context = trace.set_span_in_context(parent.span)
                return parent.context
            parent = parent.parent
        return None  # ambient context: a root run nests under the application's span

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        name: str | None,
        span_kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        activate: bool = False,
    ) -> _Run:
        """Open a run (and its span when ``name`` is given); ``attributes`` may be extended in place."""
        parent = self.runs.get(parent_run_id.int) if parent_run_id is not None else None
        conversation = _conversation_id(metadata)
        if conversation is None and parent is not None:
            conversation = parent.conversation
        span = None
        if name is not None:
            if conversation is not None:
                if attributes is None:
                    attributes = {}
                attributes["gen_ai.conversation.id"] = conversation
                attributes["session.id"] = conversation
            span = self.tracer.start_span(
                name, context=self._parent_context(parent), kind=span_kind, attributes=attributes
            )
        key = run_id.int
        if parent is None:
            run = _Run(key, span, None, kind, set(), True, conversation=conversation)
        else:
            run = _Run(key, span, parent, kind, parent.tree, False, conversation=conversation)
        run.tree.add(run)
        if activate and span is not None:
            run.context = trace.set_span_in_context(span)
            run.token = otel_context.attach(run.context)
        self.runs[key] = run
        return run

    def _end(self, run_id: UUID, error: BaseException | None = None, outputs: Any = None) -> _Run | None:
        run = self.runs.pop(run_id.int, None)
        if run is None:
            return None
        run.tree.discard(run)
        if run.is_root and run.tree:
            self._sweep(run.tree, error)
        if run.kind == "graph" and error is None and not run.stopped and run.conversation in self.paused:
            self._forget_paused(run)  # the thread went on past its interrupt
        span = run.span
        if span is not None:
            if error is not None:
                self._mark_error(run, span, error)
            elif outputs is not None and self.content.enabled and run.kind in ("graph", "task", "chain"):
                span.set_attributes(
                    {"output.value": self.content.dumps(outputs), "output.mime_type": "application/json"}
                )
            span.end()
        if run.token is not None:
            _detach(run.token)
        return run

    def _sweep(self, leftovers: set[_Run], error: BaseException | None) -> None:
        """The root run ended: end what under it never reported its end.

        langchain-core runs async end callbacks in shielded tasks that a closing
        event loop may never run; no span may stay open because of that.
        """
        for run in list(leftovers):
            leftovers.discard(run)
            self.runs.pop(run.key, None)
            if run.span is None:
                continue
            run.span.set_attribute("lgtrace.cancelled", True)
            run.span.set_attribute(
                "lgtrace.cancel_reason", "parent ended" if error is None else type(error).__name__
            )
            run.span.end()

    def _mark_error(self, run: _Run, span: Span, error: BaseException) -> None:
        if isinstance(error, GraphBubbleUp):  # control flow, not a failure: status stays UNSET
            if isinstance(error, GraphInterrupt):
                span.set_attribute("langgraph.interrupted", True)
                if run.kind == "task" and error.interrupts:
                    self._interrupt_events(run, span, error.interrupts)
            elif isinstance(error, ParentCommand):  # the parent graph applies the command
                span.set_attribute("langgraph.command_to_parent", True)
            return
        if _is_cancellation(error):
            span.set_attribute("lgtrace.cancelled", True)
            span.set_attribute("lgtrace.cancel_reason", type(error).__name__)
            return
        error_type = type(error).__qualname__
        span.set_attribute("error.type", error_type)
        message = str(error)
        description = f"{error_type}: {message[:200]}" if message else error_type
        span.set_status(Status(StatusCode.ERROR, description))
        # the innermost run ends first: it records the exception; ancestors see the mark
        if not getattr(error, "_lgtrace_recorded", False):
            span.record_exception(error)
            with contextlib.suppress(AttributeError):
                error._lgtrace_recorded = True  # type: ignore[attr-defined]

    # -- interrupts and resumes ---------------------------------------------------------

    def _interrupt_events(self, run: _Run, span: Span, interrupts: tuple[Any, ...]) -> None:
        """One ``langgraph.interrupt`` event per interrupt, on the task span it was raised in.

        The innermost task ends first; the task that ran an interrupted subgraph ends with
        the same interrupts and shows none again (ids are unique within a run)."""
        root = run
        while root.parent is not None:
            root = root.parent
        with self._lock:  # parallel tasks may stop at once, in worker threads
            if root.interrupt_ids is None:
                root.interrupt_ids = set()
            shown = root.interrupt_ids
            new = [i for i in interrupts if str(getattr(i, "id", "")) not in shown]
            shown.update(str(getattr(i, "id", "")) for i in new)
        for item in new:
            attributes = {"langgraph.interrupt.id": str(getattr(item, "id", ""))}
            if self.content.enabled:
                attributes["langgraph.interrupt.value"] = self.content.dumps(getattr(item, "value", None))
            span.add_event("langgraph.interrupt", attributes)

    def _forget_paused(self, run: _Run) -> None:
        """A top-level graph run of a paused thread ended without stopping: the thread moved on."""
        parent = run.parent
        while parent is not None:
            if parent.kind == "graph":
                return  # a subgraph's run: its parent run decides
            parent = parent.parent
        with self._lock:
            self.paused.pop(run.conversation, None)  # type: ignore[arg-type]

    @_guarded
    def on_cache_hit(self, event: GraphCacheHitEvent) -> None:
        """A task answered from the cache did not run (no task span): its graph span gets a
        ``langgraph.cache.hit`` event naming the node and task, and counts the hits."""
        run = self.runs.get(event.run_id.int) if event.run_id is not None else None
        if run is None or run.span is None:
            return
        run.span.add_event(
            "langgraph.cache.hit",
            {"langgraph.node": event.node, "langgraph.task_id": event.task_id, "langgraph.step": event.step},
        )
        run.cache_hits += 1
        run.span.set_attribute("langgraph.cache.hits", run.cache_hits)

    @_guarded
    def on_interrupt(self, event: GraphInterruptEvent) -> None:
        """A graph run stopped at interrupts (or before/after a node); it ends normally next.

        Its graph span gets ``langgraph.interrupted``, the interrupt ids (and values when
        content is captured) and the checkpoint the thread waits at; the span's context is
        remembered under the thread for the run that resumes it."""
        run = self.runs.get(event.run_id.int) if event.run_id is not None else None
        if run is None or run.span is None:
            return
        run.stopped = True
        interrupts = event.interrupts
        attributes: dict[str, Any] = {
            "langgraph.interrupted": True,
            "langgraph.interrupt.status": event.status,
            "langgraph.interrupt.ids": tuple(str(i.id) for i in interrupts),
        }
        if event.checkpoint_id:
            attributes["langgraph.interrupt.checkpoint_id"] = event.checkpoint_id
        if self.content.enabled and interrupts:
            attributes["langgraph.interrupt.values"] = self.content.dumps([i.value for i in interrupts])
        run.span.set_attributes(attributes)
        if run.conversation is None or event.checkpoint_ns:
            return  # no thread to resume (or a subgraph's stop: its root run is the one resumed)
        paused = _Paused(run.span.get_span_context(), event.checkpoint_id)
        with self._lock:
            self.paused[run.conversation] = paused
            self.paused.move_to_end(run.conversation)
            while len(self.paused) > self.max_paused_threads:
                self.paused.popitem(last=False)

    @_guarded
    def on_resume(self, event: GraphResumeEvent) -> None:
        """A graph run resumed a saved thread: its graph span links to the span of the run
        that stopped the thread at an interrupt (when this handler saw it stop)."""
        run = self.runs.get(event.run_id.int) if event.run_id is not None else None
        if run is None or run.span is None:
            return
        span = run.span
        attributes: dict[str, Any] = {"langgraph.resumed": True}
        if event.checkpoint_id:
            attributes["langgraph.resumed_from.checkpoint_id"] = event.checkpoint_id
        paused = self.paused.get(run.conversation) if run.conversation is not None else None
        if paused is not None and not event.checkpoint_ns:
            context = paused.context
            attributes["langgraph.resumed_from.trace_id"] = format(context.trace_id, "032x")
            attributes["langgraph.resumed_from.span_id"] = format(context.span_id, "016x")
            link: dict[str, Any] = {"langgraph.link.reason": "resume"}
            if paused.checkpoint_id:
                link["langgraph.checkpoint_id"] = paused.checkpoint_id
            span.add_link(context, link)
        span.set_attributes(attributes)

    # -- chains: graph runs, tasks, other chains ----------------------------------------

    @_guarded
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        metadata = metadata or {}
        graph_name = GRAPH_RUNS.get(run_id)
        if graph_name is not None:
            run = self._start(
                run_id,
                parent_run_id,
                "graph",
                f"invoke_workflow {graph_name}",
                attributes={
                    "gen_ai.operation.name": "invoke_workflow",
                    "gen_ai.workflow.name": graph_name,
                    "openinference.span.kind": "CHAIN",
                },
                metadata=metadata,
            )
        elif name == metadata.get("langgraph_node") and (
            (tags and f"graph:step:{metadata.get('langgraph_step')}" in tags)  # the task's run, not a child's
            or _is_call_run(metadata)
        ):
            attributes = {
                "langgraph.node": name,
                "langgraph.step": metadata.get("langgraph_step", -1),
                "langgraph.triggers": tuple(metadata.get("langgraph_triggers", ())),
                "langgraph.task_id": str(kwargs.get(TASK_ID_KWARG) or run_id),
                "langgraph.checkpoint_ns": metadata.get("langgraph_checkpoint_ns", ""),
                "openinference.span.kind": "CHAIN",
            }
            checkpoint_id = kwargs.get(CHECKPOINT_ID_KWARG)
            if checkpoint_id:
                attributes["langgraph.checkpoint_id"] = str(checkpoint_id)
            attempt = kwargs.get(ATTEMPT_KWARG)
            if attempt:  # a node with a retry policy: each attempt is a span of its own
                attributes["langgraph.task.attempt"] = int(attempt)
            run = self._start(
                run_id, parent_run_id, "task", name, attributes=attributes, metadata=metadata, activate=True
            )
        elif parent_run_id is None or parent_run_id.int not in self.runs:
            run = self._start(
                run_id,
                parent_run_id,
                "chain",
                f"invoke_workflow {name}",
                attributes={
                    "gen_ai.operation.name": "invoke_workflow",
                    "gen_ai.workflow.name": name,
                    "openinference.span.kind": "CHAIN",
                },
                metadata=metadata,
            )
        elif self.capture_chains:
            run = self._start(
                run_id,
                parent_run_id,
                "chain",
                name,
                attributes={"openinference.span.kind": "CHAIN"},
                metadata=metadata,
            )
        else:
            self._start(run_id, parent_run_id, "hidden", None, metadata=metadata)
            return
        if self.content.enabled and run.span is not None:
            run.span.set_attributes(
                {"input.value": self.content.dumps(inputs), "input.mime_type": "application/json"}
            )

    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, outputs=outputs)

    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error=error)

    # -- chat models ---------------------------------------------------------------------

    @_guarded
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name") or "unknown"
        raw_provider = metadata.get("ls_provider") or params.get("_type") or "unknown"
        provider = _PROVIDERS.get(raw_provider, raw_provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "openinference.span.kind": "LLM",
            "llm.model_name": model,
        }
        temperature = params.get("temperature", metadata.get("ls_temperature"))
        if isinstance(temperature, (int, float)):
            attributes["gen_ai.request.temperature"] = float(temperature)
        max_tokens = params.get(
            "max_tokens", params.get("max_completion_tokens", metadata.get("ls_max_tokens"))
        )
        if isinstance(max_tokens, int):
            attributes["gen_ai.request.max_tokens"] = max_tokens
        run = self._start(
            run_id, parent_run_id, "llm", f"chat {model}", SpanKind.CLIENT, attributes, metadata=metadata
        )
        run.metric_attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
        }
        if self.content.enabled and run.span is not None and messages:
            run.span.set_attribute("gen_ai.input.messages", self.content.dumps(messages[0]))

    @_guarded
    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        model = params.get("model") or params.get("model_name") or "unknown"
        run = self._start(
            run_id,
            parent_run_id,
            "llm",
            f"text_completion {model}",
            SpanKind.CLIENT,
            {
                "gen_ai.operation.name": "text_completion",
                "gen_ai.request.model": model,
                "openinference.span.kind": "LLM",
                "llm.model_name": model,
            },
            metadata=kwargs.get("metadata"),
        )
        run.metric_attrs = {"gen_ai.operation.name": "text_completion", "gen_ai.request.model": model}

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id.int)
        if run is None:
            return
        now = time.perf_counter()
        if run.first_chunk is None:
            run.first_chunk = now
            if run.span is not None:
                ttfc = now - run.start
                run.span.set_attributes(
                    {"gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": ttfc}
                )
                run.span.add_event(FIRST_CHUNK_EVENT, {"gen_ai.response.time_to_first_chunk": ttfc})
            self.ttfc.record(now - run.start, run.metric_attrs)
        elif self.time_per_chunk is not None:
            self.time_per_chunk.record(now - run.first_chunk, run.metric_attrs)
            run.first_chunk = now

    @_guarded
    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id.int)
        if run is None:
            return
        self._record_response(run, response)
        self._end(run_id)
        self._record_metrics(run, None)

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._end(run_id, error=error)
        if run is not None and _is_failure(error):
            self._record_metrics(run, type(error).__qualname__)

    def _record_response(self, run: _Run, response: LLMResult) -> None:
        span = run.span
        if span is None:
            return
        attrs: dict[str, Any] = {}
        if run.first_chunk is None:
            attrs["gen_ai.request.stream"] = False
        finish_reasons: list[str] = []
        usage_in = usage_out = 0
        response_model = response_id = None
        outputs = []
        for batch in response.generations:
            for gen in batch:
                info = gen.generation_info or {}
                message = getattr(gen, "message", None)
                meta = getattr(message, "response_metadata", None) or {}
                reason = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stop_reason")
                if reason:
                    finish_reasons.append(str(reason))
                response_model = response_model or meta.get("model_name") or meta.get("model")
                response_id = response_id or meta.get("id")
                usage = getattr(message, "usage_metadata", None)
                if usage:
                    usage_in += usage.get("input_tokens", 0)
                    usage_out += usage.get("output_tokens", 0)
                if message is not None:
                    outputs.append(message)
        llm_output = response.llm_output or {}
        response_model = response_model or llm_output.get("model_name")
        if not (usage_in or usage_out):
            token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
            usage_in = token_usage.get("prompt_tokens", 0) or token_usage.get("input_tokens", 0)
            usage_out = token_usage.get("completion_tokens", 0) or token_usage.get("output_tokens", 0)
        if response_model:
            attrs["gen_ai.response.model"] = response_model
            if run.metric_attrs is not None:
                run.metric_attrs["gen_ai.response.model"] = response_model
        if response_id:
            attrs["gen_ai.response.id"] = str(response_id)
        if finish_reasons:
            attrs["gen_ai.response.finish_reasons"] = finish_reasons
        if usage_in or usage_out:
            attrs["gen_ai.usage.input_tokens"] = usage_in
            attrs["gen_ai.usage.output_tokens"] = usage_out
            attrs["llm.token_count.prompt"] = usage_in
            attrs["llm.token_count.completion"] = usage_out
            attrs["llm.token_count.total"] = usage_in + usage_out
            run.usage = (usage_in, usage_out)
        if self.content.enabled and outputs:
            reasons = finish_reasons or ["stop"] * len(outputs)
            parts = [{**message_parts(m), "finish_reason": r} for m, r in zip(outputs, reasons, strict=False)]
            attrs["gen_ai.output.messages"] = self.content.dumps(parts)
        span.set_attributes(attrs)

    def _record_metrics(self, run: _Run, error_type: str | None) -> None:
        attrs = run.metric_attrs or {}
        if error_type is not None:
            attrs = {**attrs, "error.type": error_type}
        usage = run.usage
        self.duration.record(time.perf_counter() - run.start, attrs)
        if usage is not None:
            self.token_usage.record(usage[0], {**attrs, "gen_ai.token.type": "input"})
            self.token_usage.record(usage[1], {**attrs, "gen_ai.token.type": "output"})

    # -- tools ---------------------------------------------------------------------------

    @_guarded
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        serialized = serialized or {}
        name = kwargs.get("name") or serialized.get("name") or "tool"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
            "openinference.span.kind": "TOOL",
        }
        if kwargs.get("tool_call_id"):
            attributes["gen_ai.tool.call.id"] = kwargs["tool_call_id"]
        if serialized.get("description"):
            attributes["gen_ai.tool.description"] = serialized["description"]
        run = self._start(
            run_id,
            parent_run_id,
            "tool",
            f"execute_tool {name}",
            attributes=attributes,
            metadata=kwargs.get("metadata"),
        )
        if self.content.enabled and run.span is not None:
            arguments = self.content.dumps(inputs or input_str)
            run.span.set_attributes({"gen_ai.tool.call.arguments": arguments, "input.value": arguments})

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id.int)
        if run is not None and run.span is not None and self.content.enabled:
            value = getattr(output, "content", output)
            result = self.content.dumps(value)
            run.span.set_attributes({"gen_ai.tool.call.result": result, "output.value": result})
        self._end(run_id)

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error=error)

    # -- retrievers: traced as internal chains when asked, else transparent --------------

    @_guarded
    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "retriever"
        self._start(
            run_id,
            parent_run_id,
            "retriever",
            f"retrieve {name}",
            attributes={"openinference.span.kind": "RETRIEVER"},
            metadata=kwargs.get("metadata"),
        )

    @_guarded
    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error=error)


def _is_call_run(metadata: dict[str, Any]) -> bool:
    """The run of a ``@task`` call (functional API): a child of its caller's run, so without a
    ``graph:step`` tag; its path is ``(PUSH, <caller's path>, index, True)``."""
    path = metadata.get("langgraph_path")
    return isinstance(path, tuple) and len(path) == 4 and path[0] == PUSH and path[-1] is True
