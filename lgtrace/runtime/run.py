"""One graph run: its state, its superstep planning and how task results are applied.

This module is pure bookkeeping; ``drive.py`` executes tasks (threads or asyncio)
and moves events. The state after each step is a plain snapshot
(``values``, ``branches``, ``barriers``, ``sends``) and task ids are derived from
the run's seed, the step, the node and the task path, so a checkpointer could
later persist and resume a run without changing this loop.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lgtrace.checkpoint.format import (
    BRANCH_PREFIX,
    call_task_id,
    own_namespace,
    pull_task_id,
    push_task_id,
    result_of,
)
from lgtrace.constants import END, NS_END, NS_SEP, PULL, PUSH, START
from lgtrace.errors import (
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidUpdateError,
    ParentCommand,
    RunCancelled,
)
from lgtrace.graph.schema import MISSING, ROOT, is_schema_instance, object_to_update
from lgtrace.runtime.calls import CALL_KEY, END_CHANNEL, PREVIOUS, RETURN, split_final
from lgtrace.runtime.interrupts import SCRATCH_KEY, PendingAnswer, Scratch
from lgtrace.stream.channel import EventChannel
from lgtrace.stream.messages import user_tags
from lgtrace.stream.output import InterruptedValues
from lgtrace.types import OVERWRITE, Command, Overwrite, Send

if TYPE_CHECKING:
    from lgtrace.checkpoint.saver import RunSaver
    from lgtrace.graph.state import Branch
    from lgtrace.runtime.compiled import CompiledStateGraph
    from lgtrace.runtime.node import NodeSpec

GRAPH_RUNS: dict[uuid.UUID, str] = {}
"""Run ids of graph runs in flight (only while callbacks observe them) -> graph name.

Lets a callback handler tell a graph's own run from any other chain run."""

INTERRUPT_KEY = "__interrupt__"
"""Where ``updates``/``values`` events and ``invoke`` output show pending interrupts."""

SCOPE_KEY = "__lgtrace_scope"
"""Key in ``config["configurable"]`` under which a task hands its run's ``Scope`` down."""

PUSH_KEY = "__lgtrace_push"
"""Key in a task's ``configurable``: the list ``push_message()`` adds the task's writes to."""

_TASK_KEYS = frozenset({SCOPE_KEY, SCRATCH_KEY, PUSH_KEY, CALL_KEY})
"""``configurable`` keys that belong to one task: a nested run does not pass them on."""

_PUSH_TRIGGERS = (PUSH,)
_RUNTIME_METADATA = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)


def _noop_writer(_: Any) -> None:
    return None


class StopFlag:
    """Set when a run must stop: its consumer left, or one of its tasks failed.

    A nested run's flag has its parent run's flag as ``parent``: stopping a run stops
    everything under it, while a failing subgraph stops only its own tasks (the node
    that ran it may catch the error)."""

    __slots__ = ("_set", "parent")

    def __init__(self, parent: StopFlag | None = None) -> None:
        self._set = False
        self.parent = parent

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        flag: StopFlag | None = self
        while flag is not None:
            if flag._set:
                return True
            flag = flag.parent
        return False


@dataclass(slots=True, eq=False)
class Scope:
    """What a run hands to everything under its tasks (nested graphs, writers, handlers)."""

    root: EventChannel
    """The top-level consumer's channel: events from nested graphs go straight there."""
    subgraph_modes: frozenset[str]
    """Modes the top-level consumer wants from nested graphs (empty without subgraphs=True)."""
    cancel: StopFlag
    """This run's stop flag (chained to its parents': the top-level consumer stopping stops all)."""
    seed: uuid.UUID
    writer: Any = _noop_writer
    context: Any = None
    """The run's ``context=`` (shared with subgraphs)."""
    store: Any = None
    """The ``BaseStore`` nodes get as ``store`` (a subgraph without its own uses its parent's)."""
    checkpointer: Any = None
    """The saver nested graphs inherit (None: the top-level graph has no checkpointer)."""
    durability: str = "async"
    resuming: bool = False
    """The run's first step continues a saved step: its subgraphs continue theirs."""
    answer: PendingAnswer = field(default_factory=PendingAnswer)
    """``Command(resume=value)``: the answer the first interrupt without one takes (shared with subgraphs)."""
    resume_map: dict[str, Any] | None = None
    """``Command(resume={interrupt_id: value})`` (shared with subgraphs)."""
    typed_values: bool = False
    """``values`` events carry schema instances (dataclass / Pydantic), as in v2 output."""


@dataclass(slots=True, eq=False)
class Task:
    id: str
    name: str
    node: NodeSpec
    path: tuple[Any, ...]
    triggers: tuple[str, ...]
    step: int
    input: Any
    config: dict[str, Any]
    writes: list[tuple[str, Any]] = field(default_factory=list)
    goto: list[str | Send] = field(default_factory=list)
    """Where the task routes, in order: node names and ``Send`` packets."""
    update: Any = None
    error: BaseException | None = None
    pushed: list[tuple[str, Any]] = field(default_factory=list)
    """Writes of ``push_message()`` calls in the node."""
    cache_key: Any = None
    """``(namespace, key)`` of its writes in the graph's cache (a node with a cache policy)."""
    collected: bool = False
    """The node returned and its return value became writes: an error after that (a
    conditional edge raising) still streams the update, as in LangGraph."""
    call_counter: Any = None
    """Numbers the ``@task`` calls the task makes (their task ids depend on it)."""
    call_futures: list[Any] | None = None
    """Futures of the ``@task`` calls it made (they finish within its step)."""

    def sort_key(self) -> tuple[int, Any]:
        """Pull tasks by node name, then push tasks by index (LangGraph's write order)."""
        return (0, self.name) if self.path[0] == PULL else (1, self.path[1])


class GraphRun:
    """The mutable state of one run of one compiled graph."""

    def __init__(
        self,
        graph: CompiledStateGraph,
        config: dict[str, Any],
        *,
        local_modes: frozenset[str],
        channel: EventChannel,
        parent: Scope | None,
    ) -> None:
        self.graph = graph
        self.config = config
        configurable = config.get("configurable") or {}
        self.configurable = {k: v for k, v in configurable.items() if k not in _TASK_KEYS}
        self.parent = parent
        self.channel = channel
        self.local_modes = local_modes
        if parent is not None:
            self.ns_str: str = configurable.get("checkpoint_ns", "")
            if graph.checkpointer is True:  # one history per thread: the namespace without task ids
                self.ns_str = own_namespace(self.ns_str)
            self.ns: tuple[str, ...] = tuple(self.ns_str.split(NS_SEP)) if self.ns_str else ()
            self.forward_modes = parent.subgraph_modes
            seed = uuid.uuid5(parent.seed, self.ns_str)
            self.scope = Scope(parent.root, parent.subgraph_modes, StopFlag(parent.cancel), seed)
            self.scope.typed_values = parent.typed_values
            self.scope.durability = parent.durability
            self.scope.answer = parent.answer
            self.scope.context = parent.context
            self.scope.resume_map = parent.resume_map
            self.scope.store = graph.store if graph.store is not None else parent.store
        else:
            self.ns_str, self.ns = "", ()
            self.forward_modes = frozenset()
            self.scope = Scope(channel, frozenset(), StopFlag(), uuid.uuid4())
            self.scope.store = graph.store
        self.modes = local_modes | self.forward_modes
        if "custom" in self.modes:
            self.scope.writer = self.make_writer()
        self.recursion_limit: int = config.get("recursion_limit", 25)
        self.step = 0
        self.step0 = 0
        """The step this run started from (a thread's steps keep counting across runs)."""
        self.checkpoint_id: str | None = None
        """The checkpoint the next step starts from; with one, task ids are LangGraph's."""
        self.values: dict[str, Any] = {
            k: c.initial for k, c in graph.channels.items() if c.initial is not MISSING
        }
        self.branches: set[str] = set()
        self.deferred: set[str] = set()
        """Deferred nodes (``defer=True``) routed to, waiting for the run to have nothing else to do."""
        self.ready: set[str] = set()
        """Deferred nodes whose wait is over: they run in the next step."""
        self.ready_joins: set[str] = set()
        """Complete joins into deferred nodes whose wait is over."""
        self.finished_now: set[str] = set()
        """Channels of deferred nodes whose wait ended with the last step applied."""
        self.barriers: dict[str, set[str]] = {ch: set() for ch in graph.joins}
        self.sends: list[Send] = []
        self.entry_input: Any = None
        """An entrypoint's input (functional API): what its one task receives."""
        self.entry_pending = False
        """The entrypoint's input is waiting for it (its task runs next)."""
        self.step_calls: list[Task] = []
        """``@task`` calls made during the current step."""
        self.submit_call: Any = None
        """The driver's ``submit(task) -> future`` for ``@task`` calls."""
        self.run_manager: Any = None
        self.graph_run_id: Any = None
        """The graph run's callback run id (with callbacks)."""
        self.lifecycle: list[Any] = []
        """``GraphCallbackHandler``s among the run's callbacks."""
        self.saver: RunSaver | None = None
        self.interrupts: tuple[Any, ...] = ()
        """What the run stopped at (``interrupt()``, ``interrupt_before``/``after``), if it did."""
        self.metadata: dict[str, Any] = dict(config.get("metadata") or {})
        self.tags: list[str] = list(config.get("tags") or [])

    # -- events ------------------------------------------------------------------------

    def emit(self, mode: str, payload: Any) -> None:
        """Send an event to the local consumer and, for nested runs, to the top-level one."""
        if mode in self.local_modes:
            self.channel.put(((), mode, payload))
        if mode in self.forward_modes:
            self.scope.root.put((self.ns, mode, payload))

    def make_writer(self) -> Any:
        """The ``custom`` writer: emits at once; returns an awaitable that waits for space.

        ``writer(x)`` never blocks the event loop; an async node that produces faster than
        the consumer reads can ``await writer(x)`` to be back-pressured (on the consumer's
        loop, when the buffer is full, the awaitable waits for the consumer to drain).
        """
        cancel = self.scope.cancel
        emit = self.emit
        space = self.scope.root.space

        def writer(chunk: Any) -> Any:
            if cancel.is_set():
                raise RunCancelled("the run has stopped")
            emit("custom", chunk)
            return space()

        return writer

    def emit_task_starts(self, tasks: list[Task]) -> None:
        wants_debug = "debug" in self.modes
        if not (wants_debug or "tasks" in self.modes):
            return
        extra = self.task_metadata
        for t in tasks:
            payload = {"id": t.id, "name": t.name, "input": t.input, "triggers": t.triggers}
            if extra or t.node.metadata:
                payload["metadata"] = {**extra, **t.node.metadata}
            self.emit("tasks", payload)
            if wants_debug:
                self.emit("debug", {"step": t.step, "timestamp": _now(), "type": "task", "payload": payload})

    @functools.cached_property
    def task_metadata(self) -> dict[str, Any]:
        """The user's metadata and tags, as task-start payloads show them (same for every task)."""
        metadata = {k: v for k, v in self.metadata.items() if k not in _RUNTIME_METADATA}
        tags = user_tags(self.tags)
        if tags:
            metadata["tags"] = tags
        return metadata

    def emit_task_result(self, t: Task, local: list[Any] | None = None) -> None:
        """A task's ``updates`` / ``tasks`` / ``debug`` events.

        With ``local``, events for this run's own consumer are appended there instead of
        the channel (a failed step's consumer keeps them apart from later events)."""
        if isinstance(t.error, ParentCommand):
            return  # not a result of this graph: the parent applies the command
        emit = self.emit if local is None else functools.partial(self._emit_into, local)
        if isinstance(t.error, GraphInterrupt):
            if not t.node.is_call:  # (a @task's interrupt is its caller's to show)
                self._emit_interrupt(t, t.error.interrupts, emit)
            return
        wrote = t.error is None or t.collected
        if wrote and "updates" in self.modes:
            emit("updates", {t.name: t.update})
        wants_debug = "debug" in self.modes
        if wants_debug or "tasks" in self.modes:
            keys = (RETURN,) if t.node.is_call else self.graph.result_keys
            result = result_of(t.writes, keys) if wrote else {}
            payload = {"id": t.id, "name": t.name, "error": t.error, "result": result, "interrupts": []}
            emit("tasks", payload)
            if wants_debug:
                emit(
                    "debug", {"step": t.step, "timestamp": _now(), "type": "task_result", "payload": payload}
                )

    def _emit_interrupt(self, t: Task, interrupts: tuple[Any, ...], emit: Any) -> None:
        """A task that stopped at ``interrupt()``: ``{"__interrupt__": ...}`` in ``updates``, the
        state with them in ``values``, its result with them in ``tasks``/``debug``. (A subgraph
        that stopped before/after a node has none: the run's end shows it.)"""
        if not interrupts:
            return
        modes = self.modes
        if "updates" in modes:
            emit("updates", {INTERRUPT_KEY: interrupts})
        if "values" in modes:
            emit("values", self.values_with(interrupts))
        wants_debug = "debug" in modes
        if wants_debug or "tasks" in modes:
            shown = [{"id": i.id, "value": i.value, "response_schema": i.response_schema} for i in interrupts]
            payload = {"id": t.id, "name": t.name, "error": None, "result": {}, "interrupts": shown}
            emit("tasks", payload)
            if wants_debug:
                emit(
                    "debug", {"step": t.step, "timestamp": _now(), "type": "task_result", "payload": payload}
                )

    def values_with(self, interrupts: tuple[Any, ...]) -> Any:
        """The state and pending interrupts, as a ``values`` event shows them."""
        state = self.graph.view(self.values)
        if self.scope.typed_values:
            # (an entrypoint's return value that is not a dict shows as {}, as in LangGraph)
            return InterruptedValues(
                self.graph.typed_state(state) if isinstance(state, dict) else {}, interrupts
            )
        if not isinstance(state, dict):  # an entrypoint's return value
            return {INTERRUPT_KEY: interrupts}
        state = dict(state)
        state[INTERRUPT_KEY] = interrupts
        return state

    def _emit_into(self, local: list[Any], mode: str, payload: Any) -> None:
        if mode in self.local_modes:
            local.append(((), mode, payload))
        if mode in self.forward_modes:
            self.scope.root.put((self.ns, mode, payload))

    def emit_values(self) -> None:
        """The whole state (every channel, as LangGraph streams it; ``output()`` filters)."""
        if "values" in self.modes:
            state = self.graph.view(self.values)
            self.emit("values", self.graph.typed_state(state) if self.scope.typed_values else state)

    def output(self) -> Any:
        values = self.values
        graph = self.graph
        if graph.functional or graph.root:  # one value
            return graph.view(values)
        return {k: values[k] for k in graph.output_keys if k in values}

    # -- input -------------------------------------------------------------------------

    def start_task(self, value: Any) -> Task | None:
        """The input as the writes of a hidden step-0 task; routing from START follows.
        An entrypoint has no such task: its one task, planned next, takes the input (None)."""
        graph = self.graph
        if graph.functional:
            self.entry_input = value
            self.entry_pending = True
            self.step -= 1
            return None
        if value is None:
            raise EmptyInputError(f"Graph {graph.name!r} received no input (None); pass a dict of state keys")
        path = (PULL, START)
        step = self.step
        task = Task(
            self.task_id(step, START, path, (START,)),
            START,
            graph.start_node,
            path,
            (START,),
            step,
            value,
            self.config,
        )
        if isinstance(value, Command):  # a thread with nothing to resume starts from the Command
            self.collect(task, value)
            return task
        update = graph.coerce_input(value, strict=self.parent is None)
        task.writes = list(update.items())
        return task

    # -- planning ----------------------------------------------------------------------

    def task_id(self, step: int, name: str, path: tuple[Any, ...], triggers: tuple[str, ...]) -> str:
        checkpoint_id = self.checkpoint_id
        if checkpoint_id is None:
            return str(uuid.uuid5(self.scope.seed, f"{step}{NS_SEP}{name}{NS_SEP}{path!r}"))
        if path[0] == PULL:
            return pull_task_id(checkpoint_id, self.ns_str, step, name, triggers)
        return push_task_id(checkpoint_id, self.ns_str, step, name, path[1])

    def plan(self) -> list[Task]:
        """Tasks of the next superstep; raises ``GraphRecursionError`` past the limit.

        As in LangGraph, a run that has taken ``recursion_limit`` steps stops with the
        error even when nothing else would run: at most ``limit - 1`` steps end cleanly.
        """
        graph = self.graph
        step = self.step + 1
        if step - self.step0 > self.recursion_limit:
            error = GraphRecursionError(
                f"Recursion limit of {self.recursion_limit} reached without hitting a stop condition. "
                "You can increase the limit by setting the `recursion_limit` config key.\n"
                f"Graph {graph.name!r} has run {self.step - self.step0} steps."
            )
            if graph.endless_deferred:
                error.add_note(
                    f"Deferred node(s) {', '.join(map(repr, graph.endless_deferred))} have no route to END "
                    "(see the warning given at compile)"
                )
            raise error
        names = self.branches | self.ready
        if self.entry_pending:
            names.add(graph.entry)
        deferred_joins = graph.deferred_joins
        for ch, seen in self.barriers.items():
            starts, end = graph.joins[ch]
            if seen == starts and (ch not in deferred_joins or ch in self.ready_joins):
                names.add(end)
        if not names and not self.sends:
            return []
        self.step = step
        self.step_calls = []
        tasks: list[Task] = []
        for idx, send in enumerate(self.sends):
            node = graph.nodes[send.node]
            path = (PUSH, idx, False)
            tasks.append(self.make_task(node, path, _PUSH_TRIGGERS, send.arg))  # as sent, unmapped
        for name in sorted(names):
            node = graph.nodes[name]
            tasks.append(self.make_task(node, (PULL, name), node.triggers, self.node_input(node)))
        return tasks

    def node_input(self, node: NodeSpec) -> Any:
        if self.graph.functional:
            return self.entry_input
        values = self.values
        state = {k: values[k] for k in node.input_keys if k in values}
        self._add_managed(state, node.managed)
        return self.graph.coerce_node_input(node, state)

    def _add_managed(self, state: dict[str, Any], managed: tuple[tuple[str, Any], ...]) -> None:
        """Managed keys (``RemainingSteps``...) as of the current step."""
        for key, manager in managed:
            state[key] = manager.get(self.step - self.step0, self.recursion_limit)

    def make_task(self, node: NodeSpec, path: tuple[Any, ...], triggers: tuple[str, ...], value: Any) -> Task:
        step = self.step
        name = node.name
        task_id = self.task_id(step, name, path, triggers)
        task_ns = (
            f"{self.ns_str}{NS_SEP}{name}{NS_END}{task_id}" if self.ns_str else f"{name}{NS_END}{task_id}"
        )
        return self._task(node, task_id, task_ns, path, path, triggers, value, self.metadata)

    def call_task(
        self, parent: Task, index: int, node: NodeSpec, value: Any, caller_config: dict[str, Any]
    ) -> Task:
        """A ``@task`` call made by ``parent`` (its ``index``-th): a push task of the same step,
        whose namespace is under its caller's and whose run is a child of the caller's run."""
        name = node.name
        parent_ns = parent.config["configurable"]["checkpoint_ns"]
        ns = f"{parent_ns}{NS_SEP}{name}"
        if self.checkpoint_id is None:
            task_id = str(uuid.uuid5(self.scope.seed, f"{ns}{NS_SEP}{parent.path!r}{NS_SEP}{index}"))
        else:
            task_id = call_task_id(self.checkpoint_id, ns, parent.step, name, parent.path, index)
        path = (PUSH, parent.path, index, True)
        metadata = {**self.metadata, **(caller_config.get("metadata") or {})}
        task_ns = f"{ns}{NS_END}{task_id}"
        task = self._task(node, task_id, task_ns, path, path, _PUSH_TRIGGERS, value, metadata)
        task.step = parent.step
        task.config["metadata"]["langgraph_step"] = parent.step
        task.config["callbacks"] = caller_config.get("callbacks")
        if self.checkpoint_id is not None:  # (a graph run inside the call finds its caller's checkpoint)
            checkpoints = task.config["configurable"]["checkpoint_map"]
            task.config["configurable"]["checkpoint_map"] = {**checkpoints, parent_ns: self.checkpoint_id}
        if "custom" in self.modes:  # its custom events carry its caller's namespace (as LangGraph)
            ns = tuple(task_ns.split(NS_SEP)[:-1])
            task.config["configurable"][SCOPE_KEY] = replace(self.scope, writer=self._call_writer(ns))
        return task

    def _call_writer(self, ns: tuple[str, ...]) -> Any:
        cancel = self.scope.cancel
        space = self.scope.root.space
        local = "custom" in self.local_modes
        forward = "custom" in self.forward_modes

        def writer(chunk: Any) -> Any:
            if cancel.is_set():
                raise RunCancelled("the run has stopped")
            if local:
                self.channel.put((ns, "custom", chunk))
            if forward:
                self.scope.root.put(((*self.ns, *ns), "custom", chunk))
            return space()

        return writer

    def _task(
        self,
        node: NodeSpec,
        task_id: str,
        task_ns: str,
        path: tuple[Any, ...],
        shown_path: tuple[Any, ...],
        triggers: tuple[str, ...],
        value: Any,
        base_metadata: dict[str, Any],
    ) -> Task:
        step = self.step
        name = node.name
        metadata = {
            **base_metadata,
            **node.metadata,
            "langgraph_step": step,
            "langgraph_node": name,
            "langgraph_triggers": triggers,
            "langgraph_path": shown_path,
            "langgraph_checkpoint_ns": task_ns,
        }
        configurable = {**self.configurable, "checkpoint_ns": task_ns, SCOPE_KEY: self.scope}
        if self.checkpoint_id is not None:
            if self.saver is not None:
                scope = self.scope
                load = functools.partial(self.saver.answers, task_id)
                configurable[SCRATCH_KEY] = Scratch(task_ns, load, scope.answer, scope.resume_map)
            # what a nested graph needs to find its own checkpoints (not its parent's)
            configurable["checkpoint_id"] = None
            configurable["checkpoint_map"] = {
                **(self.configurable.get("checkpoint_map") or {}),
                self.ns_str: self.checkpoint_id,
            }
        config: dict[str, Any] = {
            "metadata": metadata,
            "configurable": configurable,
            "callbacks": None,
            "recursion_limit": self.recursion_limit,
        }
        if self.tags:
            config["tags"] = self.tags
        task = Task(task_id, name, node, path, triggers, step, value, config)
        configurable[PUSH_KEY] = task.pushed
        configurable[CALL_KEY] = (self, task)
        return task

    # -- task results ------------------------------------------------------------------

    def collect(self, task: Task, result: Any) -> None:
        """Turn a node's return value into state writes and routing (runs in the task)."""
        graph = self.graph
        node = task.node
        writes = task.writes
        if node.is_call or graph.functional:
            if node.is_call:  # a @task: its return value
                writes.append((RETURN, result))
                task.update = result
            else:  # an entrypoint: its output, and what its thread keeps as ``previous``
                task.update, save = split_final(result)
                writes.extend(((END_CHANNEL, task.update), (PREVIOUS, save)))
            task.collected = True
            return
        if task.pushed:  # push_message(): written when it was called, before what the node returns
            writes.extend(task.pushed)
        if graph.root:  # the state is one value: the node returns it (None: no write), or Commands
            if isinstance(result, Command) or (
                isinstance(result, (list, tuple)) and result and all(isinstance(r, Command) for r in result)
            ):
                for cmd in result if isinstance(result, (list, tuple)) else (result,):
                    self._add_command(task, cmd)
            elif result is not None:
                writes.append((ROOT, result))
            task.update = next((v for k, v in reversed(writes) if k == ROOT), None)
            task.collected = True
            return
        if result is None:
            pass
        elif isinstance(result, dict):
            self._add_writes(task, result)
        elif isinstance(result, Command):
            self._add_command(task, result)
        elif isinstance(result, (list, tuple)) and any(isinstance(r, Command) for r in result):
            for item in result:
                if isinstance(item, Command):
                    self._add_command(task, item)
                elif isinstance(item, dict):
                    self._add_writes(task, item)
                else:
                    raise InvalidUpdateError(
                        f"Node {node.name!r} returned a list mixing Commands with {type(item).__name__}; "
                        "return a dict, a Command or a list of Commands"
                    )
        elif is_schema_instance(result):
            self._add_writes(task, object_to_update(result, graph.state_keys_ordered))
        else:
            raise InvalidUpdateError(
                f"Expected dict, got {_short(result)}\n"
                f"Node {node.name!r} returned a {type(result).__name__}; a node returns a dict of state "
                "updates, a Command, a list of Commands, or None."
            )
        task.update = update_of(writes)
        task.collected = True

    def _add_writes(self, task: Task, update: Any) -> None:
        graph = self.graph
        if graph.root:
            task.writes.append((ROOT, update))
            return
        if is_schema_instance(update):
            update = object_to_update(update, graph.state_keys_ordered)
        elif isinstance(update, (list, tuple)):
            update = dict(update)
        elif not isinstance(update, dict):
            raise InvalidUpdateError(
                f"Node {task.name!r}: a state update must be a dict, "
                f"got {type(update).__name__}: {_short(update)}"
            )
        keys = graph.state_keys
        if task.node.is_subgraph:
            task.writes.extend((k, v) for k, v in update.items() if k in keys)
            return
        for k, v in update.items():
            if k not in keys:
                raise InvalidUpdateError(
                    f"Node {task.name!r} returned key {k!r}, which is not in the state schema of "
                    f"graph {graph.name!r} (keys: {sorted(keys)})"
                )
            task.writes.append((k, v))

    def _add_command(self, task: Task, cmd: Command) -> None:
        if cmd.graph == Command.PARENT:
            raise ParentCommand(cmd)
        if cmd.graph is not None:
            raise InvalidUpdateError(
                f"Node {task.name!r} returned Command(graph={cmd.graph!r}); only Command.PARENT is supported"
            )
        if cmd.update is not None:
            self._add_writes(task, cmd.update)
        gotos = cmd.goto if isinstance(cmd.goto, (list, tuple)) else [cmd.goto]
        for dest in gotos:
            self._add_destination(task, dest, f"Command(goto=...) from node {task.name!r}")

    def _add_destination(self, task: Task, dest: Any, origin: str) -> None:
        if isinstance(dest, Send):
            if dest.node not in self.graph.nodes:
                raise InvalidUpdateError(f"{origin} sent to unknown node {dest.node!r}")
            task.goto.append(dest)
        elif dest == END:
            return
        elif isinstance(dest, str) and dest in self.graph.nodes:
            task.goto.append(dest)
        else:
            raise InvalidUpdateError(
                f"{origin} leads to {dest!r}, which is not a node of graph {self.graph.name!r} "
                f"(nodes: {sorted(self.graph.nodes)})"
            )

    def route(self, task: Task, *, sync: bool) -> list[tuple[Branch, Any]]:
        """Static edges now; returns the branches still to evaluate with their input."""
        graph = self.graph
        if task.node.is_call:
            return []
        task.goto.extend(graph.edges_from.get(task.name, ()))
        branches = graph.branches_from.get(task.name)
        if not branches:
            return []
        fresh = self.fresh_state(task.writes)
        pending = []
        self._add_managed(fresh, graph.managed)
        for branch in branches:
            value = graph.coerce_branch_input(fresh)
            if sync and branch.is_async:
                raise TypeError(
                    f"Conditional edge {branch.name!r} from node {task.name!r} is async; "
                    "run the graph with ainvoke()/astream()"
                )
            pending.append((branch, value))
        if sync:
            for branch, value in pending:
                self.finish_branch(task, branch, call_branch(branch, value, task.config))
            return []
        return pending

    def finish_branch(self, task: Task, branch: Branch, result: Any) -> None:
        origin = f"Conditional edge {branch.name!r} from node {task.name!r}"
        for dest in branch.resolve(result):
            if dest is None or dest == START:
                raise InvalidUpdateError(f"{origin} returned {dest!r}, which is not a valid destination")
            self._add_destination(task, dest, origin)

    def fresh_state(self, writes: list[tuple[str, Any]]) -> dict[str, Any]:
        """The state as this task sees it after its own writes (what branches read)."""
        if not writes:
            return dict(self.values)
        state = dict(self.values)
        channels = self.graph.channels
        for k, v in writes:
            reducer = channels[k].reducer
            current = state.get(k, MISSING)
            if (replacement := overwrite_of(v)) is not MISSING:
                state[k] = replacement
            else:
                state[k] = v if reducer is None or current is MISSING else reducer(current, v)
        return state

    # -- applying a step ---------------------------------------------------------------

    def apply(self, tasks: list[Task], *, step: bool = True) -> bool:
        """Apply the writes of a finished step in deterministic order. Returns whether state changed.

        All or nothing: new values are computed first (a conflicting write or a failing
        reducer raises before anything changed), then the snapshot is updated."""
        graph = self.graph
        if len(tasks) > 1:
            tasks = sorted(tasks, key=Task.sort_key)
        pending: dict[str, list[tuple[str, Any]]] = {}
        for t in tasks:
            for k, v in t.writes:
                pending.setdefault(k, []).append((t.name, v))
        values = self.values
        channels = graph.channels
        changed: dict[str, Any] = {}
        for key, writes in pending.items():
            reducer = channels[key].reducer
            if reducer is None:
                if len(writes) > 1:
                    raise InvalidUpdateError(
                        f"At key {key!r}: Can receive only one value per step. "
                        "Use an Annotated key to handle multiple values.\n"
                        f"Nodes {[n for n, _ in writes]} all wrote to it in step {self.step}."
                    )
                changed[key] = writes[0][1]
            else:
                current = values.get(key, MISSING)
                overwritten = False
                for node, v in writes:
                    if (replacement := overwrite_of(v)) is not MISSING:  # Overwrite: no reducer
                        if overwritten:
                            raise InvalidUpdateError(
                                f"At key {key!r}: Can receive only one Overwrite value per super-step "
                                f"(step {self.step} of graph {graph.name!r})."
                            )
                        current, overwritten = replacement, True
                        continue
                    if overwritten:  # as LangGraph: after an Overwrite the step's other writes are dropped
                        continue
                    try:
                        current = v if current is MISSING else reducer(current, v)
                    except Exception as exc:
                        exc.add_note(
                            f"Raised by the reducer of key {key!r} applying the update of node {node!r} "
                            f"in step {self.step} of graph {graph.name!r}"
                        )
                        raise
                changed[key] = current
        values.update(changed)
        if step:
            self.entry_pending = False
        barriers = self.barriers
        deferred = graph.deferred
        for t in tasks:
            if t.path[0] == PULL:
                self.ready.discard(t.name)  # a deferred node that ran
                for ch in graph.joins_to.get(t.name, ()):
                    if barriers[ch] == graph.joins[ch][0]:
                        barriers[ch] = set()
                        self.ready_joins.discard(ch)
        branches: set[str] = set()
        sends: list[Send] = []
        for t in tasks:
            for dest in t.goto:
                if type(dest) is not str:
                    sends.append(dest)
                elif dest in deferred:
                    self.deferred.add(dest)
                else:
                    branches.add(dest)
            for ch in graph.joins_from.get(t.name, ()):
                barriers[ch].add(t.name)
        self.branches = branches
        self.sends = sends
        self.finished_now = set()
        if step and (self.deferred or graph.deferred_joins) and not branches and not self._join_complete():
            # nothing else would run next: the deferred nodes' wait is over (LangGraph's "finish")
            joins = graph.joins
            waiting = {ch for ch in graph.deferred_joins - self.ready_joins if barriers[ch] == joins[ch][0]}
            self.ready |= self.deferred
            self.ready_joins |= waiting
            self.finished_now = {BRANCH_PREFIX + n for n in self.deferred} | waiting
            self.deferred = set()
        return bool(pending)

    def _join_complete(self) -> bool:
        """A join (into a node that does not wait) is complete: its node runs next."""
        joins, deferred_joins = self.graph.joins, self.graph.deferred_joins
        return any(seen == joins[ch][0] for ch, seen in self.barriers.items() if ch not in deferred_joins)


def overwrite_of(value: Any) -> Any:
    """The value an ``Overwrite`` (or its dict forms) replaces a reduced key with, else MISSING."""
    if type(value) is Overwrite:
        return value.value
    if type(value) is dict and len(value) <= 2:
        if len(value) == 1 and OVERWRITE in value:
            return value[OVERWRITE]
        if value.get("type") == OVERWRITE and "value" in value:
            return value["value"]
    return MISSING


def update_of(writes: list[tuple[str, Any]]) -> Any:
    """A task's ``updates`` payload, as LangGraph shapes it: its writes as one dict, or, when a key
    is written more than once, a list of one-key dicts in write order."""
    if not writes:
        return None
    update = dict(writes)
    return update if len(update) == len(writes) else [{k: v} for k, v in writes]


def call_branch(branch: Branch, value: Any, config: dict[str, Any]) -> Any:
    """Call a conditional edge's path function (sync)."""
    if branch.is_runnable:
        return branch.path.invoke(value, config)  # type: ignore[union-attr]
    return branch.path(value, config) if branch.wants_config else branch.path(value)  # type: ignore[operator]


async def acall_branch(branch: Branch, value: Any, config: dict[str, Any]) -> Any:
    """Call a conditional edge's path function under ``astream``/``ainvoke``."""
    if branch.is_runnable:
        return await branch.path.ainvoke(value, config)  # type: ignore[union-attr]
    result = branch.path(value, config) if branch.wants_config else branch.path(value)  # type: ignore[operator]
    return await result if branch.is_async else result


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _now() -> str:
    return datetime.now(UTC).isoformat()
