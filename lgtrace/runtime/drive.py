"""Drivers: execute a run's supersteps and move its events to the consumer.

``SyncDriver`` runs in the consumer's thread (``stream``/``invoke``): sync nodes
of a parallel step go to a context-copying thread pool created for this run
and joined at its end; a step with a single task runs inline when nothing
needs to stream while it runs. ``AsyncDriver`` runs on the consumer's event
loop (``astream``/``ainvoke``): async nodes are asyncio tasks, sync nodes run
on the loop's default executor, shared by every run on the loop.

Every task posts itself to the run's channel when it ends, after any events it
produced, so the consumer sees a task's events, then its update, in order.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.runnables.config import ensure_config, var_child_runnable_config
from langchain_core.tracers._streaming import _StreamingCallbackHandler

from lgtrace.callbacks import (
    GraphInterruptEvent,
    GraphResumeEvent,
    anotify,
    lifecycle_handlers,
    notify,
)
from lgtrace.checkpoint.format import Before
from lgtrace.checkpoint.saver import RunSaver, check_durability
from lgtrace.errors import GraphBubbleUp, GraphInterrupt, ParentCommand, RunCancelled
from lgtrace.runtime import cache, calls
from lgtrace.runtime.calls import CALL_KEY, PREVIOUS
from lgtrace.runtime.context import coerce_context, runtime_of
from lgtrace.runtime.retry import next_wait
from lgtrace.runtime.run import GRAPH_RUNS, INTERRUPT_KEY, SCOPE_KEY, GraphRun, Scope, Task, acall_branch
from lgtrace.stream.channel import EventChannel
from lgtrace.stream.messages import AsyncStreamMessagesHandler, StreamMessagesHandler
from lgtrace.stream.output import Shaper
from lgtrace.stream.tools import StreamToolsHandler
from lgtrace.types import Command

log = logging.getLogger("lgtrace.runtime")

STREAM_BUFFER = 1024
"""Events a top-level stream buffers before worker threads producing them wait."""

_LIVE_MODES = frozenset({"custom", "messages"})

_CONFIGURABLE_TO_METADATA = (
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "task_id",
    "run_id",
    "assistant_id",
    "graph_id",
)
"""``configurable`` keys LangGraph also shows in run metadata (so in ``messages`` metadata)."""


DEFAULT_RECURSION_LIMIT = int(os.environ.get("LANGGRAPH_DEFAULT_RECURSION_LIMIT", "10007"))
"""Supersteps a run may take when no ``recursion_limit`` is given (LangGraph 1.2's default)."""


def _recursion_limit(config: Any) -> int:
    """The explicit limit, else the one of the Runnable this graph runs under, else the default.

    langchain-core's ``ensure_config`` fills in 25 for every config, so the limit is read
    before it: like LangGraph 1.2, a graph given no limit may take 10007 steps.
    """
    limit = (config or {}).get("recursion_limit")
    if limit is None:
        limit = (var_child_runnable_config.get() or {}).get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"recursion_limit must be an integer of at least 1, got {limit!r}")
    return limit


def _max_workers(config: dict[str, Any]) -> int:
    return config.get("max_concurrency") or min(32, (os.cpu_count() or 1) + 4)


class _Driver:
    """What both drivers share: set-up of the run, its callbacks and its channel."""

    def __init__(
        self,
        graph: Any,
        input: Any,
        config: Any,
        modes: tuple[str, ...],
        subgraphs: bool,
        version: str = "v1",
        options: Any = None,
    ) -> None:
        self.graph = graph
        if options is None:  # a nested graph run as a node: its own compile-time options
            options = (None, graph.interrupt_before, graph.interrupt_after, None)
        self.durability, self.interrupt_before, self.interrupt_after, self.context = options
        self.input = input
        self.config = config
        self.modes = frozenset(modes)
        self.subgraphs = subgraphs
        self.version = version
        self.run: GraphRun | None = None
        self.graph_run_id: uuid.UUID | None = None

    def _setup(self) -> GraphRun:
        config = ensure_config(self.config)
        config["recursion_limit"] = _recursion_limit(self.config)
        configurable, metadata = config["configurable"], config["metadata"]
        for key in _CONFIGURABLE_TO_METADATA:
            if key not in metadata and configurable.get(key):
                metadata[key] = configurable[key]
        parent: Scope | None = config["configurable"].get(SCOPE_KEY)
        channel = EventChannel(STREAM_BUFFER if parent is None else 0)
        run = GraphRun(self.graph, config, local_modes=self.modes, channel=channel, parent=parent)
        if parent is None:
            if self.subgraphs:
                run.scope.subgraph_modes = self.modes
            run.scope.typed_values = self.version == "v2"
            run.scope.durability = check_durability(self.durability)
            run.scope.context = coerce_context(self.graph.context_schema, self.context, self.graph.name)
        saver = self.graph.checkpointer
        if saver is None or saver is True:
            if parent is None and saver is True:
                raise RuntimeError("checkpointer=True cannot be used for root graphs.")
            # a subgraph keeps its checkpoints in its parent's thread
            saver = parent.checkpointer if parent is not None else None
        if saver is not None and saver is not False:
            run.scope.checkpointer = saver
            run.saver = RunSaver(saver, run, run.scope.durability)
        self.run = run
        self.lifecycle: list[Any] = []
        # a step may run inline (no thread hop) unless something must stream while it runs
        self.live = bool(run.modes & _LIVE_MODES) or bool(run.scope.subgraph_modes)
        return run

    def _callbacks(self, run: GraphRun, manager_cls: Any, handler_cls: Any) -> Any:
        """The graph run's callback manager, with the messages handler when subscribed."""
        manager = manager_cls.configure(
            inheritable_callbacks=run.config.get("callbacks"),
            inheritable_tags=run.config.get("tags"),
            inheritable_metadata=run.config.get("metadata"),
        )
        if "ls_integration" not in manager.metadata:  # LangGraph's marker for tracing back-ends
            manager.add_metadata({"ls_integration": "langgraph"})
        if run.parent is None and "messages" in run.modes:
            manager.add_handler(handler_cls(run.channel, subgraphs=self.subgraphs), inherit=True)
        if run.parent is None and "tools" in run.modes:
            manager.add_handler(StreamToolsHandler(run.channel, subgraphs=self.subgraphs), inherit=True)
        return manager

    def _register(self, run: GraphRun) -> dict[str, Any]:
        """Name and id of the graph run, announced in ``GRAPH_RUNS`` until it ends."""
        run_id = run.config.get("run_id") or uuid.uuid4()
        name = run.config.get("run_name") or self.graph.name
        GRAPH_RUNS[run_id] = name
        self.graph_run_id = run_id
        return {"name": name, "run_id": run_id}

    def _unregister(self) -> None:
        if self.graph_run_id is not None:
            GRAPH_RUNS.pop(self.graph_run_id, None)

    def _task_callbacks(self, run: GraphRun, task: Task) -> Any:
        """The callback manager a task's node run starts from (None: no callbacks at all)."""
        if run.run_manager is None:
            return None
        manager = run.run_manager.get_child(f"graph:step:{task.step}")
        manager.add_metadata(task.config["metadata"])
        return manager

    def _check_cancel(self, run: GraphRun) -> None:
        if run.scope.cancel.is_set():
            raise RunCancelled("the stream consumer has stopped")

    def _stop(self, run: GraphRun) -> None:
        """The run ends early: code still running under it raises ``RunCancelled`` at its next
        event (writer, token); a top-level run's channel refuses new events."""
        run.scope.cancel.set()
        if run.parent is None:
            run.channel.close()


def _call_args(task: Task) -> tuple[tuple[Any, ...], dict[str, Any]]:
    node = task.node
    if node.is_call:  # a @task: called with the arguments it was called with
        args, kw = task.input
        return tuple(args), dict(kw)
    kwargs: dict[str, Any] = {}
    if node.wants_config:
        kwargs["config"] = task.config
    if node.wants_writer:
        kwargs["writer"] = task.config["configurable"][SCOPE_KEY].writer
    if node.wants_store:
        kwargs["store"] = task.config["configurable"][SCOPE_KEY].store
    if node.wants_runtime or node.wants_previous:
        run = task.config["configurable"][CALL_KEY][0]
        previous = run.values.get(PREVIOUS) if run.graph.functional else None  # an entrypoint's
        if node.wants_runtime:
            kwargs["runtime"] = runtime_of(task.config["configurable"]).override(previous=previous)
        if node.wants_previous:
            kwargs["previous"] = previous
    return (task.input,), kwargs


def _parent_command_result(exc: ParentCommand) -> Command:
    """A ``Command(graph=PARENT)`` raised by a nested graph, as this task's own result."""
    return replace(exc.command, graph=None)  # type: ignore[type-var]


def _runnable_config(config: dict[str, Any], run_manager: Any) -> dict[str, Any]:
    """The config a Runnable node runs with: a child of the task's run, tagged ``seq:step:1``."""
    return {**config, "callbacks": run_manager.get_child("seq:step:1") if run_manager else None}


def _run_node_sync(run: GraphRun, task: Task, callbacks: Any) -> None:
    """Run one task to completion in the current thread (called inside a copied context),
    attempt after attempt while its ``RetryPolicy`` retries the error."""
    attempt = 1
    while True:
        _attempt_sync(run, task, callbacks, attempt)
        wait = _retry_wait(task, attempt)
        if wait is None:
            return
        cancel = run.scope.cancel
        until = time.monotonic() + wait
        while (left := until - time.monotonic()) > 0:  # a stopped run does not wait for the retry
            if cancel.is_set():
                task.error = RunCancelled("the run has stopped")
                return
            time.sleep(min(left, 0.05))
        attempt += 1


def _retry_wait(task: Task, attempt: int) -> float | None:
    """Seconds before the next attempt of a failed task, or None (no retry: done, or not retried).
    Before a retry the task is reset: a failed attempt's writes are not kept (its streamed events are)."""
    policies = task.node.retry_policy
    error = task.error
    if not policies or not isinstance(error, Exception) or isinstance(error, GraphBubbleUp):
        return None
    wait = next_wait(policies, error, attempt)
    if wait is not None:
        task.error = None
        task.writes = []
        task.goto = []
        task.update = None
        task.pushed.clear()
        task.collected = False
    return wait


def _taps(run_manager: Any) -> list[Any]:
    """Handlers that turn a run's output into stream events (langchain-core's ``astream_events``
    and ``astream_log``), not lgtrace's own, which stream nodes their way."""
    return [
        h
        for h in run_manager.handlers
        if isinstance(h, _StreamingCallbackHandler)
        and not isinstance(h, (StreamMessagesHandler, StreamToolsHandler))
    ]


async def _one(value: Any) -> Any:
    yield value


def _recorded(task: Task, value: Any, direction: str) -> tuple[Any, dict[str, Any]]:
    """What a task's run records as its input or output: the node's ``TracePolicy`` may transform
    it (never what the node gets or returns; a processor that raises records the value as is).
    The streaming handler gets the real value (``lgtrace_payload``) to find messages in it."""
    policy = task.node.trace_policy
    process = (
        None if policy is None else policy.process_inputs if direction == "in" else policy.process_outputs
    )
    if process is None:
        return value, {}
    try:
        recorded = process(value)
    except Exception:
        log.exception("TracePolicy processor of node %r raised; recording the value as is", task.name)
        recorded = value
    return recorded, {"lgtrace_payload": value}


def _attempt_kwargs(run: GraphRun, task: Task, attempt: int) -> dict[str, Any]:
    """The task's callback run: its id is the task id (a retry's is fresh), tracers get the checkpoint
    it started from and, with a retry policy, the attempt number."""
    kwargs: dict[str, Any] = {
        "name": task.name,
        "run_id": uuid.UUID(task.id) if attempt == 1 else uuid.uuid4(),
    }
    if run.saver is not None:
        kwargs["lgtrace_checkpoint_id"] = run.checkpoint_id
    if task.node.retry_policy:
        kwargs["lgtrace_attempt"] = attempt
        kwargs["lgtrace_task_id"] = task.id
    return kwargs


def _attempt_sync(run: GraphRun, task: Task, callbacks: Any, attempt: int) -> None:
    """One attempt of a task. The task is a chain run named after the node (a child of the graph
    run, tagged ``graph:step:N``); a Runnable node runs as its child, tagged ``seq:step:1``."""
    node = task.node
    config = task.config
    run_manager = None
    try:
        if node.is_async:
            raise TypeError(
                f"Node {task.name!r} is an async function; run the graph with ainvoke()/astream(), "
                "or make the node synchronous"
            )
        if callbacks is not None:
            recorded, extra = _recorded(task, task.input, "in")
            run_manager = callbacks.on_chain_start(
                None, recorded, **_attempt_kwargs(run, task, attempt), **extra
            )
            config["callbacks"] = run_manager.get_child(
                "seq:step:1"
            )  # as the function step of LangGraph's node sequence
        var_child_runnable_config.set(config)
        try:
            if node.is_runnable:
                child = _runnable_config(config, run_manager)
                result = node.action.invoke(task.input, child)  # type: ignore[union-attr]
            else:
                args, kwargs = _call_args(task)
                result = node.action(*args, **kwargs)  # type: ignore[operator]
            if task.call_futures:
                calls.wait_calls(task)
        except ParentCommand as exc:
            result = _parent_command_result(exc)
        run.collect(task, result)
        run.route(task, sync=True)
    except BaseException as exc:
        task.error = exc
        if run_manager is not None:
            run_manager.on_chain_error(exc)
        return
    if run_manager is not None:
        for tap in _taps(run_manager):  # astream_events: the node's output as its run's stream
            for _ in tap.tap_output_iter(run_manager.run_id, iter((task.update,))):
                pass
        recorded, extra = _recorded(task, task.update, "out")
        run_manager.on_chain_end(recorded, **extra)


async def _run_node_async(run: GraphRun, task: Task, callbacks: Any) -> None:
    """Run one task under the event loop (called inside a copied context); see ``_run_node_sync``."""
    attempt = 1
    while True:
        await _attempt_async(run, task, callbacks, attempt)
        wait = _retry_wait(task, attempt)
        if wait is None:
            return
        await asyncio.sleep(wait)  # cancelled with the task when the run stops
        attempt += 1


async def _attempt_async(run: GraphRun, task: Task, callbacks: Any, attempt: int) -> None:
    """One attempt of a task under the event loop; see ``_attempt_sync``."""
    node = task.node
    config = task.config
    run_manager = None
    try:
        if callbacks is not None:
            recorded, extra = _recorded(task, task.input, "in")
            run_manager = await callbacks.on_chain_start(
                None, recorded, **_attempt_kwargs(run, task, attempt), **extra
            )
            config["callbacks"] = run_manager.get_child(
                "seq:step:1"
            )  # as the function step of LangGraph's node sequence
        var_child_runnable_config.set(config)
        try:
            if node.is_runnable:
                child = _runnable_config(config, run_manager)
                result = await node.action.ainvoke(task.input, child)  # type: ignore[union-attr]
            elif node.is_async:
                args, kwargs = _call_args(task)
                result = await node.action(*args, **kwargs)  # type: ignore[operator]
            else:
                args, kwargs = _call_args(task)
                ctx = contextvars.copy_context()
                result = await asyncio.get_running_loop().run_in_executor(
                    None,
                    lambda: ctx.run(node.action, *args, **kwargs),  # type: ignore[arg-type]
                )
            if task.call_futures:
                await calls.await_calls(task)
        except ParentCommand as exc:
            result = _parent_command_result(exc)
        run.collect(task, result)
        for branch, value in run.route(task, sync=False):
            run.finish_branch(task, branch, await acall_branch(branch, value, config))
    except BaseException as exc:
        task.error = exc
        if run_manager is not None:
            await run_manager.on_chain_error(exc)
        if isinstance(exc, asyncio.CancelledError):
            raise
        return
    if run_manager is not None:
        for tap in _taps(run_manager):
            async for _ in tap.tap_output_aiter(run_manager.run_id, _one(task.update)):
                pass
        recorded, extra = _recorded(task, task.update, "out")
        await run_manager.on_chain_end(recorded, **extra)


class _Step:
    """The consumer's view of a superstep whose tasks run while it streams.

    Task results are emitted as tasks end. The first task to fail, in time, ends the
    step: events that reached the channel after it are dropped, and the driver stops
    the other tasks.
    """

    __slots__ = ("failed", "remaining", "run")

    def __init__(self, run: GraphRun, tasks: list[Task]) -> None:
        self.run = run
        self.remaining = len(tasks)
        self.failed: Task | None = None

    def take(self, batch: list[Any], shaper: Shaper | None) -> list[Any]:
        """Handle a batch from the channel; returns what to yield (in order)."""
        out = []
        for item in batch:
            if type(item) is Task:
                self.remaining -= 1
                if _failed(item):
                    self.failed = item
                    return out  # the rest was produced after the failure
                _task_done(self.run, item)
                self.run.emit_task_result(item)
            elif shaper is not None:
                out.append(shaper(*item))
        return out


def _failed(task: Task) -> bool:
    """A task error that fails its step (a ``Command`` to the parent or an interrupt does not)."""
    return task.error is not None and not isinstance(task.error, (ParentCommand, GraphBubbleUp))


_AHEAD_DONE = object()
"""Posted by ``AsyncDriver._run_ahead`` when it returns."""


class _StepFailed(Exception):
    """Internal: a task of a concurrent step failed; its result events wait in ``events``."""

    def __init__(self, task: Task, events: list[Any]) -> None:
        super().__init__(task.name)
        self.task = task
        self.events = events


def _fail_step(run: GraphRun, task: Task) -> _StepFailed:
    """The failed task's own result events, kept apart from anything produced after it."""
    run.channel.drain()  # produced after the failure: not delivered
    _task_done(run, task)
    events: list[Any] = []
    run.emit_task_result(task, local=events)
    return _StepFailed(task, events)


def _after_error(exc: BaseException, channel: EventChannel) -> tuple[BaseException, list[Any]]:
    """What a run failed with, and what it still delivers before raising it: a failed
    concurrent step's own result events (what came after the failure was dropped), else
    everything queued before the error."""
    if isinstance(exc, _StepFailed):
        return exc.task.error, exc.events  # type: ignore[return-value]
    return exc, channel.drain()


def _finish_step(run: GraphRun, tasks: list[Task], *, inline: Task | None) -> None:
    """After every task of a step ended: raise an error or apply the writes, then emit.

    The result of a task run inline follows the application of its writes, as in
    LangGraph (whose events of an inline step are drained after it): a reducer that
    fails on it leaves no update behind. Results of tasks run while the consumer
    streamed were emitted as they ended."""
    saver = run.saver
    if inline is not None:
        _task_done(run, inline)
        if inline.error is not None:
            run.emit_task_result(inline)
            if isinstance(inline.error, GraphInterrupt):
                _interrupted(run, tasks)
            raise inline.error
    else:
        for t in tasks:
            if isinstance(t.error, ParentCommand):
                raise t.error
        if any(isinstance(t.error, GraphInterrupt) for t in tasks):
            _interrupted(run, tasks)
    before = Before(run) if saver is not None else None
    changed = run.apply(tasks)
    if inline is not None:
        run.emit_task_result(inline)
    if saver is not None:
        saver.step_done(tasks, before)  # type: ignore[arg-type]
    if changed:
        run.emit_values()


def _task_done(run: GraphRun, task: Task) -> None:
    """A task ended: its writes (or error) to the saver, a finished task's writes to the cache."""
    if run.saver is not None:
        run.saver.task_done(task)
    if task.cache_key is not None:
        cache.remember(run, task)


def _interrupted(run: GraphRun, tasks: list[Task]) -> None:
    """A step with tasks stopped at ``interrupt()``: nothing is applied or saved as a step (the
    interrupts and the other tasks' writes wait with the thread); the state with the finished
    tasks' writes is streamed once more, and the run ends with the interrupts."""
    interrupts = tuple(i for t in tasks if isinstance(t.error, GraphInterrupt) for i in t.error.interrupts)
    done = [t for t in tasks if t.error is None and t.writes]
    if done and run.apply(done):
        run.emit_values()
    raise GraphInterrupt(interrupts)


def _first_task(run: GraphRun, input: Any) -> Task:
    """The input's task of a run without a checkpointer."""
    if isinstance(input, Command):
        raise RuntimeError(
            "Cannot use Command(resume=...) without checkpointer\n"
            f"Graph {run.graph.name!r} has no saved thread to resume: compile it with checkpointer=... "
            "(e.g. InMemorySaver()) and pass config={'configurable': {'thread_id': ...}} to the run that "
            "is interrupted and to the one that resumes it."
        )
    return run.start_task(input)


def _should_interrupt(run: GraphRun, nodes: Any, tasks: list[Task]) -> bool:
    """``interrupt_before``/``after``: one of ``nodes`` (or any, ``"*"``) is among ``tasks`` and the
    state changed since the thread last stopped (so continuing past a stop does not stop again)."""
    if not nodes or (run.saver is not None and not run.saver.changed_since_interrupt()):
        return False
    return nodes == "*" or any(t.name in nodes for t in tasks)


def _interrupt_after(run: GraphRun) -> None:
    """Stop after a step: the checkpoint of the step that would run next is streamed first."""
    if run.saver is not None:
        run.saver.emit_checkpoint(run.plan())
    raise _stop("interrupt_after")


def _stopped_at(run: GraphRun, exc: GraphInterrupt, run_id: Any) -> GraphInterruptEvent:
    """The top-level run ended at an interrupt: not an error; a stop before/after a node shows as
    an empty ``__interrupt__`` update. Returns the lifecycle event to tell."""
    run.interrupts = exc.interrupts
    if not exc.interrupts and "updates" in run.modes:
        run.emit("updates", {INTERRUPT_KEY: ()})
    status = getattr(exc, "status", "pending")
    return GraphInterruptEvent(run_id, status, run.checkpoint_id or "", run.ns, exc.interrupts)


def _resumed(run: GraphRun, run_id: Any) -> GraphResumeEvent | None:
    saver = run.saver
    if saver is None or not saver.resumed:
        return None
    return GraphResumeEvent(run_id, "pending", saver.head_id or "", run.ns)


def _stop(status: str) -> GraphInterrupt:
    """A stop before or after a node (``interrupt_before``/``interrupt_after``)."""
    exc = GraphInterrupt(())
    exc.status = status  # type: ignore[attr-defined]
    return exc


def _apply_start(run: GraphRun, start: Task) -> None:
    """The input's writes (the hidden ``__start__`` task: no task events of its own)."""
    saver = run.saver
    if saver is not None:
        saver.task_done(start)
        before = Before(run, start=True)
    changed = run.apply([start])
    if saver is not None:
        saver.step_done([start], before)
    if changed:
        run.emit_values()


def _cached(run: GraphRun, tasks: list[Task]) -> list[Task]:
    """First step of a continued thread: tasks that finished in an earlier run are not run
    again; their saved writes are applied with the step and their updates re-emitted
    (marked cached). Returns the tasks still to run."""
    saver = run.saver
    if saver is None or not saver.replay:
        return tasks
    done = saver.replayed(tasks)
    if "updates" in run.modes:
        for t in done:
            run.emit("updates", {t.name: t.update, "__metadata__": {"cached": True}})
    return [t for t in tasks if all(t is not d for d in done)]


def _run_call_sync(run: GraphRun, task: Task, fut: Future[Any], save_now: bool = True) -> None:
    """Run a ``@task`` call in a worker thread: its events and saved writes, then its future.
    ``save_now``: its writes are saved as it finishes (else with the step, under ``astream``)."""
    try:
        _run_node_sync(run, task, _call_callbacks(task))
        _task_done(run, task)
        if save_now and run.saver is not None and run.saver.durability != "exit":
            run.saver.ops.background()
        run.emit_task_result(task)
    except BaseException as exc:  # (the run stopped: the caller learns it through the future)
        task.error = task.error or exc
    finally:
        calls.resolve(fut, task)


def _call_callbacks(task: Task) -> Any:
    """A ``@task`` call's run is a child of its caller's run, with the call's metadata."""
    callbacks = task.config["callbacks"]
    if callbacks is None:
        return None
    callbacks = callbacks.copy()
    callbacks.add_metadata(task.config["metadata"])
    return callbacks


async def _run_call_async(run: GraphRun, task: Task) -> Any:
    await _run_node_async(run, task, _call_callbacks(task))
    _task_done(run, task)
    if run.saver is not None and run.saver.durability != "exit":
        run.saver.ops.abackground()  # saved as it finishes, not with the step
    run.emit_task_result(task)
    if task.error is not None:
        raise task.error
    return task.update


async def _in_context(ctx: contextvars.Context, coro: Any, registry: set[Any]) -> Any:
    """Run ``coro`` as a task in ``ctx`` (tracked in ``registry`` so a stopping run cancels it)."""
    t = asyncio.get_running_loop().create_task(coro, context=ctx)
    registry.add(t)
    t.add_done_callback(registry.discard)
    return await t


class SyncDriver(_Driver):
    pool: ThreadPoolExecutor | None = None
    """This run's worker threads for concurrent steps (``max_concurrency`` of them), joined at its end."""

    def _pool(self) -> ThreadPoolExecutor:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(
                max_workers=_max_workers(self.run.config),  # type: ignore[union-attr]
                thread_name_prefix="lgtrace-task",
            )
        return self.pool

    def events(self, shaper: Shaper | None) -> Iterator[Any]:
        run = self._setup()
        run.submit_call = self._submit_call
        channel = run.channel
        manager = self._callbacks(run, CallbackManager, StreamMessagesHandler)
        if run.parent is None:  # handlers from the config, or added by instrument()'s hook
            self.lifecycle = lifecycle_handlers(manager)
        if manager.handlers:
            run.run_manager = manager.on_chain_start(None, self.input, **self._register(run))
            run.graph_run_id = self.graph_run_id
            run.lifecycle = self.lifecycle if run.parent is None else lifecycle_handlers(manager)
        futures: list[Future[Any]] = []
        outcome: BaseException | None = None
        saver = run.saver
        try:
            if saver is None:
                start: Task | None = _first_task(run, self.input)
            else:
                latest = saver.latest_config(self.input)
                start = saver.enter(
                    saver.saver.get_tuple(saver.load_config()),
                    self.input,
                    saver.saver.get_tuple(latest) if latest else None,
                )
                if self.lifecycle and (resumed := _resumed(run, self.graph_run_id)):
                    notify(self.lifecycle, resumed)
                if start is not None:
                    saver.emit_checkpoint([start])
            if start is not None:
                run.route(start, sync=True)
                _apply_start(run, start)
                if saver is not None:
                    saver.ops.step_end()
            while True:
                if shaper is not None:
                    for item in channel.drain():
                        yield shaper(*item)
                else:
                    channel.drain()
                if run.parent is not None:
                    self._check_cancel(run)
                tasks = run.plan()
                if saver is not None:
                    saver.emit_checkpoint(tasks)
                if not tasks:
                    break
                if _should_interrupt(run, self.interrupt_before, tasks):
                    raise _stop("interrupt_before")
                run.emit_task_starts(tasks)
                todo = _cached(run, tasks)
                if keys := cache.keys_of(run, todo):
                    todo = cache.apply_hits(run, todo, keys, run.graph.cache.get(tuple(keys)))
                inline = todo[0] if len(todo) == 1 and not self.live and not run.graph.functional else None
                if inline is not None:
                    contextvars.copy_context().run(
                        _run_node_sync, run, inline, self._task_callbacks(run, inline)
                    )
                elif todo:
                    pool = self._pool()
                    futures = [
                        pool.submit(contextvars.copy_context().run, self._run_and_post, run, t) for t in todo
                    ]
                    step = _Step(run, todo)
                    while step.remaining and step.failed is None:
                        yield from step.take(channel.get_all(), shaper)
                    if step.failed is not None:
                        raise _fail_step(run, step.failed)
                    futures = []
                _finish_step(run, tasks, inline=inline)
                if saver is not None:
                    saver.ops.step_end()
                if _should_interrupt(run, self.interrupt_after, tasks):
                    _interrupt_after(run)
            if saver is not None:
                saver.close()
                for item in channel.drain():  # the last checkpoint
                    if shaper is not None:
                        yield shaper(*item)
        except GeneratorExit as exc:
            outcome = exc
            if saver is not None:
                saver.close(wait=False)
            raise
        except GraphInterrupt as exc:
            # the run stops at an interrupt: not an error (a subgraph hands it to its parent's task)
            if saver is not None:
                saver.close(failed=run.parent is not None)
            if run.parent is not None:
                outcome = exc
                raise
            event = _stopped_at(run, exc, self.graph_run_id)
            if self.lifecycle:
                notify(self.lifecycle, event)
            for item in channel.drain():
                if shaper is not None:
                    yield shaper(*item)
        except BaseException as exc:
            # deliver what was produced before the failure (after stopping the rest), then raise
            outcome, tail = _after_error(exc, channel)
            self._shutdown(run, futures, stop=True)
            if saver is not None:
                saver.close(failed=True)
            if shaper is not None:
                for item in tail:
                    if type(item) is not Task:
                        yield shaper(*item)
            if outcome is not exc:
                raise outcome from None
            raise
        finally:
            self._shutdown(run, futures, stop=outcome is not None)
            if run.run_manager is not None:
                if outcome is None:
                    run.run_manager.on_chain_end(run.output())
                else:
                    run.run_manager.on_chain_error(outcome)
                self._unregister()

    def _submit_call(self, task: Task) -> Future[Any]:
        """A ``@task`` call: run on the run's pool; the future settles after its events."""
        if task.node.is_async:
            raise RuntimeError(
                f"In an sync context async tasks cannot be called (LangGraph's words): @task {task.name!r} "
                "is async; run the entrypoint with ainvoke()/astream()"
            )
        fut = calls.CallFuture()
        fut.work = functools.partial(contextvars.copy_context().run, _run_call_sync, self.run, task, fut)
        self._pool().submit(fut.run_once)
        return fut

    def _run_and_post(self, run: GraphRun, task: Task) -> None:
        try:
            _run_node_sync(run, task, self._task_callbacks(run, task))
        finally:
            run.channel.put_final(task)

    def _shutdown(self, run: GraphRun, futures: list[Future[Any]], *, stop: bool) -> None:
        if stop:
            self._stop(run)
        for f in futures:
            f.cancel()
        if self.pool is not None:
            # running threads cannot be interrupted: they were told to stop; wait for them
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class AsyncDriver(_Driver):
    """Async nodes run as asyncio tasks; sync nodes in the event loop's default executor,
    shared by every run on the loop (a bounded number of threads, however many runs)."""

    async def events(self, shaper: Shaper | None) -> AsyncIterator[Any]:
        run = self._setup()
        loop = asyncio.get_running_loop()
        run.submit_call = functools.partial(self._submit_call, loop)
        self.calls: set[asyncio.Task[Any]] = set()
        channel = run.channel
        channel.bind_async()
        manager = self._callbacks(run, AsyncCallbackManager, AsyncStreamMessagesHandler)
        if run.parent is None:  # handlers from the config, or added by instrument()'s hook
            self.lifecycle = lifecycle_handlers(manager)
        if manager.handlers:
            run.run_manager = await manager.on_chain_start(None, self.input, **self._register(run))
            run.graph_run_id = self.graph_run_id
            run.lifecycle = self.lifecycle if run.parent is None else lifecycle_handlers(manager)
        limit = run.config.get("max_concurrency")
        gate = asyncio.Semaphore(limit) if limit else None
        running: list[asyncio.Future[Any]] = []
        outcome: BaseException | None = None
        saver = run.saver
        try:
            if saver is None:
                start: Task | None = _first_task(run, self.input)
            else:
                latest = saver.latest_config(self.input)
                start = saver.enter(
                    await saver.saver.aget_tuple(saver.load_config()),
                    self.input,
                    await saver.saver.aget_tuple(latest) if latest else None,
                )
                if self.lifecycle and (resumed := _resumed(run, self.graph_run_id)):
                    await anotify(self.lifecycle, resumed)
                if start is not None:
                    saver.emit_checkpoint([start])
            if start is not None:
                for branch, value in run.route(start, sync=False):
                    run.finish_branch(start, branch, await acall_branch(branch, value, run.config))
                _apply_start(run, start)
                if saver is not None:
                    await saver.ops.astep_end()
            tasks: list[Task] | None = None  # planned and announced, not yet run
            while True:
                for item in channel.drain():
                    if shaper is not None:
                        yield shaper(*item)
                if run.parent is not None:
                    self._check_cancel(run)
                if tasks is None:
                    tasks = run.plan()
                    if saver is not None:
                        saver.emit_checkpoint(tasks)
                    if not tasks:
                        break
                    if _should_interrupt(run, self.interrupt_before, tasks):
                        raise _stop("interrupt_before")
                    run.emit_task_starts(tasks)
                todo = _cached(run, tasks)
                if keys := cache.keys_of(run, todo):
                    todo = cache.apply_hits(run, todo, keys, await run.graph.cache.aget(tuple(keys)))
                inline = todo[0] if len(todo) == 1 and not self.live and not run.graph.functional else None
                if inline is not None:
                    task = inline
                    if (
                        run.run_manager is None
                        and saver is None
                        and self._runs_ahead(task)
                        and not (self.interrupt_before or self.interrupt_after)
                    ):
                        # a stretch of plain sync steps runs in one executor thread, the
                        # consumer yields their events meanwhile: one thread hop, not one a step
                        ahead = asyncio.get_running_loop().run_in_executor(
                            None, contextvars.copy_context().run, self._run_ahead, run, task
                        )
                        running = [ahead]
                        done = False
                        while not done:
                            for item in await channel.aget_all():
                                if item is _AHEAD_DONE:
                                    done = True
                                elif shaper is not None:
                                    yield shaper(*item)
                        running = []
                        tasks = await ahead
                        if not tasks:
                            break
                        continue
                    if run.run_manager is None:
                        # nothing observes the run: await the node here (no task, no loop turn)
                        # and restore the config variable it sets
                        token = var_child_runnable_config.set(var_child_runnable_config.get())
                        try:
                            await _run_node_async(run, task, None)
                        finally:
                            var_child_runnable_config.reset(token)
                    else:
                        await asyncio.create_task(
                            _run_node_async(run, task, self._task_callbacks(run, task)),
                            context=contextvars.copy_context(),
                        )
                elif todo:
                    running = [
                        asyncio.create_task(
                            self._run_and_post(run, t, gate), context=contextvars.copy_context()
                        )
                        for t in todo
                    ]
                    step = _Step(run, todo)
                    while step.remaining and step.failed is None:
                        for out in step.take(await channel.aget_all(), shaper):
                            yield out
                    if step.failed is not None:
                        raise _fail_step(run, step.failed)
                    running = []
                _finish_step(run, tasks, inline=inline)
                if saver is not None:
                    await saver.ops.astep_end()
                if _should_interrupt(run, self.interrupt_after, tasks):
                    _interrupt_after(run)
                tasks = None
            if saver is not None:
                await saver.aclose()
                for item in channel.drain():  # the last checkpoint
                    if shaper is not None:
                        yield shaper(*item)
        except (GeneratorExit, asyncio.CancelledError) as exc:
            outcome = exc
            if saver is not None:
                await saver.aclose(wait=False)
            raise
        except GraphInterrupt as exc:
            if saver is not None:
                await saver.aclose(failed=run.parent is not None)
            if run.parent is not None:
                outcome = exc
                raise
            event = _stopped_at(run, exc, self.graph_run_id)
            if self.lifecycle:
                await anotify(self.lifecycle, event)
            for item in channel.drain():
                if shaper is not None:
                    yield shaper(*item)
        except BaseException as exc:
            outcome, tail = _after_error(exc, channel)
            await self._shutdown(run, running, stop=True)
            if saver is not None:
                await saver.aclose(failed=True)
            if shaper is not None:
                for item in tail:
                    if type(item) is not Task:
                        yield shaper(*item)
            if outcome is not exc:
                raise outcome from None
            raise
        finally:
            await self._shutdown(run, running, stop=outcome is not None)
            if run.run_manager is not None:
                if outcome is None:
                    await run.run_manager.on_chain_end(run.output())
                else:
                    await run.run_manager.on_chain_error(outcome)
                self._unregister()

    def _submit_call(self, loop: asyncio.AbstractEventLoop, task: Task) -> Any:
        """A ``@task`` call: an asyncio task on the run's loop (an awaitable future for a caller on
        the loop, a ``concurrent.futures.Future`` for a sync caller in a worker thread)."""
        run = self.run
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            t = loop.create_task(_run_call_async(run, task), context=contextvars.copy_context())
            self.calls.add(t)
            t.add_done_callback(self.calls.discard)
            return t
        ctx = contextvars.copy_context()
        if not task.node.is_async:  # a sync call from a worker thread: a thread runs it (or its waiter)
            fut = calls.CallFuture()
            fut.work = functools.partial(ctx.run, _run_call_sync, run, task, fut, False)
            loop.call_soon_threadsafe(loop.run_in_executor, None, fut.run_once)
            return fut
        return asyncio.run_coroutine_threadsafe(
            _in_context(ctx, _run_call_async(run, task), self.calls), loop
        )

    def _runs_ahead(self, task: Task) -> bool:
        """Whether the task is a plain sync function whose conditional edges are sync too."""
        node = task.node
        if node.is_async or node.is_runnable or node.cache_policy is not None:
            return False
        branches = self.graph.branches_from.get(task.name)
        return not branches or not any(b.is_async or b.is_runnable for b in branches)

    def _run_ahead(self, run: GraphRun, task: Task) -> list[Task]:
        """In an executor thread: run single-task steps of plain sync nodes one after the
        other (as ``stream`` would), until the next step needs the event loop; return it.
        The events go through the channel (back-pressured: this is a worker thread)."""
        try:
            while True:
                contextvars.copy_context().run(_run_node_sync, run, task, None)
                _finish_step(run, [task], inline=task)
                self._check_cancel(run)
                tasks = run.plan()
                if not tasks:
                    return tasks
                run.emit_task_starts(tasks)
                if len(tasks) != 1 or not self._runs_ahead(tasks[0]):
                    return tasks
                task = tasks[0]
        finally:
            run.channel.put_final(_AHEAD_DONE)

    async def _run_and_post(self, run: GraphRun, task: Task, gate: asyncio.Semaphore | None) -> None:
        try:
            if gate is None:
                await _run_node_async(run, task, self._task_callbacks(run, task))
            else:
                async with gate:
                    await _run_node_async(run, task, self._task_callbacks(run, task))
        finally:
            run.channel.put_final(task)

    async def _shutdown(self, run: GraphRun, running: list[asyncio.Future[Any]], *, stop: bool) -> None:
        """Stop and cancel the step's tasks. A sync node already running in an executor
        thread cannot be interrupted: it is told to stop (its writer and token stream raise
        ``RunCancelled``) and left to finish without holding the caller."""
        if stop:
            self._stop(run)
        pending = [t for t in (*running, *self.calls) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
