"""One run's link to a checkpoint saver: what it loads, what it writes, and when.

The drivers touch persistence at three points: entering a run (``enter``: load the
thread's head, restore the snapshot, save the input checkpoint), when a task ends
(``task_done``: its writes or its error, ``put_writes``) and after a step's writes
were applied (``step_done``: the next checkpoint, ``put``). Saver calls are queued
in order (``Ops``) and run according to ``durability``:

- ``"sync"``: the queue is run to its end before the next step starts;
- ``"async"``: a background worker runs it while the run goes on (a thread under
  ``stream``, an asyncio task under ``astream``), in order, with at most
  ``MAX_QUEUED_PUTS`` checkpoints waiting: a fast run waits for a slow saver instead
  of piling up checkpoints in memory;
- ``"exit"``: nothing mid-run; the last checkpoint and the writes of an unfinished
  step are saved when the run ends (also on error).

A saver error fails the run (raised at the next step boundary at the latest); the
thread keeps its last good checkpoint, since checkpoints are saved in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from lgtrace.checkpoint.format import (
    BRANCH_PREFIX,
    ERROR,
    INPUT,
    INTERRUPT,
    NO_WRITES,
    NULL_TASK_ID,
    RESUME,
    SPECIAL_WRITES,
    TASKS,
    Before,
    Book,
    IncompatibleCheckpoint,
    interrupts_from_wire,
    interrupts_to_wire,
    load_writes,
    make_checkpoint,
    new_checkpoint_id,
    now_iso,
    restore,
    task_path_str,
    task_writes,
    to_wire,
)
from lgtrace.constants import PUSH, START
from lgtrace.errors import EmptyInputError, GraphInterrupt, InvalidUpdateError, ParentCommand
from lgtrace.graph.schema import is_schema_instance, object_to_update
from lgtrace.runtime.calls import RETURN
from lgtrace.runtime.interrupts import SCRATCH_KEY, PendingAnswer, is_resume_map
from lgtrace.runtime.run import Task
from lgtrace.types import Command, Send

if TYPE_CHECKING:
    from lgtrace.runtime.run import GraphRun

log = logging.getLogger("lgtrace.checkpoint")

DURABILITIES = ("sync", "async", "exit")
MAX_QUEUED_PUTS = 4
"""Checkpoints an ``async``-durability run may have waiting for its saver."""
BATCH_PUTS = 2
"""Checkpoints an ``async``-durability run queues before waking its worker: one wake-up (a
thread hand-off or an event-loop turn) saves them together."""

_BACKGROUND: dict[str, set[asyncio.Task[None]]] = {}
"""Background saves in flight under ``astream``, by thread (what ``saves_done`` waits for)."""


def _forget(thread_id: str, task: asyncio.Task[None]) -> None:
    pending = _BACKGROUND.get(thread_id)
    if pending is not None:
        pending.discard(task)
        if not pending:
            del _BACKGROUND[thread_id]


async def saves_done(thread_id: str) -> None:
    """Wait until the background saves of runs of ``thread_id`` (on this event loop) are done:
    after a run was cancelled, what it had queued may still be on its way to the saver."""
    while pending := [t for t in _BACKGROUND.get(str(thread_id), ()) if not t.done()]:
        await asyncio.gather(*pending, return_exceptions=True)


_WORKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lgtrace-saver")
"""Background saver calls of ``stream`` runs with ``durability="async"`` (one worker per run at a time)."""

CONTROL_WRITES = frozenset({ERROR, INTERRUPT, RESUME, "__error_source_node__"})
"""Writes that tell what happened to a task rather than what it produced."""

_INTERNAL_CONFIGURABLE = frozenset({"checkpoint_id", "checkpoint_ns", "checkpoint_map"})


def check_durability(value: Any) -> str:
    if value is None:
        return "async"
    if value not in DURABILITIES:
        raise ValueError(f"durability must be one of {list(DURABILITIES)}, got {value!r}")
    return value


class RunSaver:
    """Persistence of one run (top-level or nested) of a graph with a checkpointer."""

    def __init__(self, saver: Any, run: GraphRun, durability: str) -> None:
        self.saver = saver
        self.run = run
        self.durability = durability
        configurable = run.configurable
        thread_id = configurable.get("thread_id")
        if thread_id is None:
            raise ValueError(
                "Checkpointer requires one or more of the following 'configurable' keys: thread_id, "
                "checkpoint_ns, checkpoint_id. Pass config={'configurable': {'thread_id': ...}} "
                f"to run graph {run.graph.name!r} with its checkpointer."
            )
        self.thread_id = str(thread_id)
        self.ns = run.ns_str
        self.addressed: str | None = configurable.get("checkpoint_id") or None
        self.parents: dict[str, str] = dict(configurable.get("checkpoint_map") or {})
        self.parents.pop(self.ns, None)
        self.user_configurable = {
            k: v for k, v in configurable.items() if k not in _INTERNAL_CONFIGURABLE and k != "thread_id"
        }
        self.metadata_source = {"metadata": run.config.get("metadata") or {}}
        self.book = Book(saver.get_next_version)
        self.head_id: str | None = None
        self.loaded_id: str | None = None
        """The head this run started from (what ``durability="exit"`` saves the run's end on)."""
        self.head_metadata: dict[str, Any] = {}
        self._parent_event: dict[str, Any] | str | None = None
        """The parent of the head as events show it: a loaded config, or the id of a checkpoint
        of this run (its config is built only when an event needs it)."""
        self.pending: list[tuple[str, str, Any]] = []
        """Writes saved against the head checkpoint (loaded, then this step's)."""
        self.paths: dict[str, str] = {}
        """Task id -> task path, for the writes of this step's tasks."""
        self.writes: dict[str, list[tuple[str, Any]]] = {}
        """Task id -> its writes in LangGraph's form (this step's finished tasks)."""
        self._config: tuple[str | None, dict[str, Any]] = ("", {})
        self.replay: dict[str, list[tuple[str, Any]]] = {}
        """First step after loading: writes of tasks that finished before (not run again)."""
        self.updated: set[str] | None = None
        self.exit_start_input: Any = None
        """``durability="exit"``: the input of an input checkpoint not saved yet."""
        self.resumed = False
        """The run continues the thread (``None`` or ``Command`` input): a resume."""
        self.ops = _Ops(self)
        self._takes_path = "task_path" in inspect.signature(saver.put_writes).parameters
        self._atakes_path = "task_path" in inspect.signature(saver.aput_writes).parameters

    # -- configs ------------------------------------------------------------------------

    def _saver_config(self, checkpoint_id: str | None) -> dict[str, Any]:
        """What a saver call gets: the thread, the namespace, the checkpoint it builds on,
        and the run's metadata and configurable keys (savers merge them into metadata).
        The same dict for every call about one checkpoint (savers only read it)."""
        if self._config[0] == checkpoint_id:
            return self._config[1]
        configurable = {**self.user_configurable, "thread_id": self.thread_id, "checkpoint_ns": self.ns}
        if checkpoint_id is not None:
            configurable["checkpoint_id"] = checkpoint_id
        config = {"configurable": configurable, **self.metadata_source}
        self._config = (checkpoint_id, config)
        return config

    def _event_config(self, checkpoint_id: str) -> dict[str, Any]:
        configurable = {
            **self.user_configurable,
            "thread_id": self.thread_id,
            "checkpoint_ns": self.ns,
            "checkpoint_id": checkpoint_id,
        }
        if self.parents:
            configurable["checkpoint_map"] = {**self.parents, self.ns: checkpoint_id}
        return {"configurable": configurable}

    def _with_map(self, config: dict[str, Any] | None) -> dict[str, Any] | None:
        """A saved config of this (nested) run's namespace, with its ``checkpoint_map``."""
        if config is None or not self.parents:
            return config
        configurable = config["configurable"]
        checkpoint_map = {**self.parents, self.ns: configurable.get("checkpoint_id")}
        return {**config, "configurable": {**configurable, "checkpoint_map": checkpoint_map}}

    def load_config(self) -> dict[str, Any]:
        configurable = {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
        if self.addressed:
            configurable["checkpoint_id"] = self.addressed
        return {"configurable": configurable}

    # -- entering -------------------------------------------------------------------------

    def latest_config(self, value: Any) -> dict[str, Any] | None:
        """When a ``Command(resume=...)`` addresses a checkpoint: the config of the thread's latest
        one (the driver loads it, so ``enter`` knows whether the thread moved past the address)."""
        if not (self.addressed and isinstance(value, Command) and value.resume is not None):
            return None
        return {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": self.ns}}

    def enter(self, saved: Any, value: Any, latest: Any = None) -> Task | None:
        """Restore the thread's head (``saved``, a ``CheckpointTuple`` or None) into the run.

        With input: save the input checkpoint and return the hidden ``__start__`` task that
        applies it. Without (``None``: continue the thread): emit the current ``values``,
        keep the head's pending writes for the first step, and return None."""
        run = self.run
        if self.addressed and saved is None:
            raise ValueError(
                f"No checkpoint {self.addressed!r} in thread {self.thread_id!r}"
                + (f" (namespace {self.ns!r})" if self.ns else "")
            )
        start_input = None
        if saved is not None:
            checkpoint = saved.checkpoint
            if checkpoint.get("v", 1) < 2:
                raise IncompatibleCheckpoint(
                    f"Checkpoint {checkpoint.get('id')!r} of thread {self.thread_id!r} has format "
                    f"v{checkpoint.get('v')}; lgtrace reads LangGraph's v2 and later"
                )
            self.book = Book(self.saver.get_next_version, checkpoint)
            start_input = restore(run, self.book, checkpoint)
            self.head_id = self.loaded_id = checkpoint["id"]
            self.head_metadata = dict(saved.metadata or {})
            run.step = int(self.head_metadata.get("step", -1))
            self._parent_event = self._with_map(saved.parent_config)
            self.pending = list(saved.pending_writes or ())
        else:
            run.step = -1
        parent = run.parent
        if value is not None and parent is not None and parent.resuming and saved is not None:
            value = None  # a subgraph whose parent resumes a step resumes its own run
        if isinstance(value, Command):
            if saved is None or not self.book.versions:
                # as LangGraph: nothing to resume, the Command is the input of a run from the start
                log.warning(
                    "Command(resume=...) for thread %r, which has no checkpoint: nothing to resume, the "
                    "graph runs from its start with the Command as input",
                    self.thread_id,
                )
                self._command(value)  # (its writes are kept against the empty thread, as LangGraph)
                return self._input(value)
            self._command(value)
            answered = value.resume is not None
            value = None
        else:
            answered = False
        if value is None:
            if saved is None or not self.book.versions:
                raise EmptyInputError(f"Received no input for {START}")
            moved_on = latest is not None and latest.checkpoint["id"] != self.head_id
            return self._continue(start_input, answered, moved_on)
        return self._input(value)

    def _command(self, cmd: Command) -> None:
        """``Command`` input: its ``goto``, ``resume`` and ``update`` saved as writes of no task
        (applied before the next step), or a resume map handed to the run's interrupts."""
        run = self.run
        graph = run.graph
        if cmd.graph is not None:
            raise InvalidUpdateError(
                f"Command(graph={cmd.graph!r}) as input: graph {graph.name!r} has no parent"
            )
        writes: list[tuple[str, Any]] = []
        gotos = cmd.goto if isinstance(cmd.goto, (list, tuple)) else [cmd.goto] if cmd.goto else []
        for dest in gotos:
            node = dest.node if isinstance(dest, Send) else dest
            if node not in graph.nodes:
                raise InvalidUpdateError(
                    f"Command(goto=...) input leads to {node!r}, which is not a node of graph {graph.name!r} "
                    f"(nodes: {sorted(graph.nodes)})"
                )
            writes.append((TASKS, to_wire(dest)) if isinstance(dest, Send) else (BRANCH_PREFIX + dest, START))
        resume = cmd.resume
        if resume is not None:
            pending = self.pending_interrupts()
            if is_resume_map(resume):
                run.scope.resume_map = dict(resume)
                waiting = {i.id for i in pending}
                for unknown in [k for k in resume if k not in waiting]:
                    log.warning(
                        "Command(resume={%r: ...}) for thread %r: no interrupt with that id is waiting "
                        "(the answer is not used; the interrupts ask again)",
                        unknown,
                        self.thread_id,
                    )
            else:
                if not pending:
                    log.warning(
                        "Command(resume=...) for thread %r: no interrupt is waiting; the answer is not used",
                        self.thread_id,
                    )
                if len(pending) > 1:
                    raise RuntimeError(
                        "When there are multiple pending interrupts, you must specify the interrupt id when "
                        "resuming. Docs: https://docs.langchain.com/oss/python/langgraph/interrupts"
                        "#handling-multiple-interrupts."
                    )
                writes.append((RESUME, resume))
        if cmd.update:
            writes.extend(self._update_pairs(cmd.update))
        if not writes:
            if run.scope.resume_map is None:
                raise EmptyInputError("Received empty Command input")
            return
        # writes of no task add up; a newer answer replaces an older one, and goes last
        kept = [w for w in self.pending if not (w[0] == NULL_TASK_ID and w[1] in SPECIAL_WRITES)]
        writes.sort(key=lambda w: w[0] in SPECIAL_WRITES)
        self.pending = [*kept, *((NULL_TASK_ID, c, v) for c, v in writes)]
        if self.durability != "exit":
            null_writes = [(c, v) for tid, c, v in self.pending if tid == NULL_TASK_ID]
            head = self.head_id or new_checkpoint_id(-2)  # no checkpoint yet: LangGraph's empty one
            self.ops.put_writes(self._saver_config(head), null_writes, NULL_TASK_ID, "")

    def _update_pairs(self, update: Any) -> list[tuple[str, Any]]:
        graph = self.run.graph
        if isinstance(update, dict):
            pairs = list(update.items())
        elif is_schema_instance(update):
            pairs = list(object_to_update(update, graph.state_keys_ordered).items())
        else:
            pairs = list(update)
        for key, _ in pairs:
            if key not in graph.channels:
                raise InvalidUpdateError(
                    f"Command(update=...) input writes key {key!r}, which is not in the state schema of "
                    f"graph {graph.name!r} (keys: {sorted(graph.channels)})"
                )
        return pairs

    def _apply_null_writes(self) -> None:
        """Writes of no task (``Command`` input) into the snapshot; an answer to the run's interrupts."""
        run = self.run
        writes = [(c, v) for tid, c, v in self.pending if tid == NULL_TASK_ID]
        for c, v in writes:
            if c == RESUME:
                run.scope.answer = PendingAnswer(v)
        apply_null_writes(run, self.book, writes)

    def _continue(self, start_input: Any, answered: bool, moved_on: bool = False) -> Task | None:
        run = self.run
        book = self.book
        # an addressed checkpoint is replayed (a fork), unless the run answers its interrupts
        time_travel = self.addressed is not None and not answered
        if time_travel:  # an older step runs again: its interrupts ask again
            self.pending = [w for w in self.pending if w[1] not in (RESUME, INTERRUPT)]
        self._apply_null_writes()
        # the next step goes past whatever this checkpoint was waiting for
        book.seen[INTERRUPT] = dict(book.versions)
        if time_travel:
            if self.head_metadata.get("source") not in ("update", "fork"):
                run.step += 1
                self._checkpoint("fork")
        elif not moved_on:  # (at a checkpoint the thread moved past, every task runs again)
            # a task with output writes finished: its writes are applied again, it does not rerun
            for task_id, ch, value in self.pending:
                if task_id != NULL_TASK_ID and ch not in CONTROL_WRITES:
                    self.replay.setdefault(task_id, []).append((ch, value))
        run.checkpoint_id = self.head_id
        run.step0 = run.step
        run.scope.resuming = not time_travel
        self.resumed = True
        run.emit_values()
        if start_input is not None:
            run.step += 1
            return run.start_task(start_input)
        return None

    def _input(self, value: Any) -> Task:
        """New input: tasks the head was waiting for are dropped, the input checkpoint saved."""
        run = self.run
        graph = run.graph
        if not isinstance(value, Command):
            graph.coerce_input(value, strict=run.parent is None)  # bad input is not saved
        before = Before(run)
        dropped: list[tuple[str, tuple[str, ...], list[Any]]] = []
        if self.head_id is not None:
            for send in run.sends:
                dropped.append((send.node, (PUSH,), []))
            names = run.branches | run.ready
            if run.entry_pending:
                names.add(graph.entry)
            for ch, seen in run.barriers.items():
                starts, end = graph.joins[ch]
                if seen == starts:
                    names.add(end)
            for name in sorted(names):
                dropped.append((name, graph.nodes[name].triggers, []))
        self.updated = self.book.advance(graph, before, [*dropped, (INPUT, (), [(START, value)])])
        run.branches = set()
        run.ready = set()
        run.entry_pending = False
        run.sends = []
        for ch in run.barriers:
            if before.barriers[ch] != run.barriers[ch]:
                run.barriers[ch] = set(before.barriers[ch])
        run.step = run.step + 1 if self.head_id is not None else -1
        self._checkpoint("input", start_input=value)
        run.step += 1
        run.step0 = run.step
        return run.start_task(value)

    # -- steps ----------------------------------------------------------------------------

    def replayed(self, tasks: list[Task]) -> list[Task]:
        """Tasks of the first step that finished in an earlier run: their saved writes are
        loaded into them (they do not run again). Returns them."""
        if not self.replay:
            return []
        done = []
        for t in tasks:
            writes = self.replay.get(t.id)
            if writes is not None:
                load_writes(t, writes)
                done.append(t)
        self.replay = {}
        return done

    def emit_checkpoint(self, tasks: list[Task]) -> None:
        """The head checkpoint on ``checkpoints`` / ``debug``, with the tasks it is about to run."""
        run = self.run
        wants_debug = "debug" in run.modes
        if not (wants_debug or "checkpoints" in run.modes) or self.head_id is None:
            return
        values = run.values
        state = run.graph.view(values)
        if run.scope.typed_values:
            with contextlib.suppress(TypeError, ValueError):  # else not valid yet: the dict, as LangGraph
                state = run.graph.typed_state(state)
        payload = {
            "config": self._event_config(self.head_id),
            "parent_config": self._event_config(parent)
            if isinstance(parent := self._parent_event, str)
            else parent,
            "values": state,
            "metadata": self.head_metadata,
            "next": [t.name for t in tasks],
            "tasks": [self._task_entry(t) for t in tasks],
        }
        run.emit("checkpoints", payload)
        if wants_debug:
            step = self.head_metadata.get("step", run.step)
            run.emit(
                "debug", {"step": step, "timestamp": now_iso(), "type": "checkpoint", "payload": payload}
            )

    def _task_entry(self, t: Task) -> dict[str, Any]:
        state = self.subgraph_state(t)
        writes = [(c, v) for tid, c, v in self.pending if tid == t.id]
        error = next((v for c, v in writes if c == ERROR), None)
        if error is not None:
            return {"id": t.id, "name": t.name, "error": error, "state": state}
        finished = any(c not in CONTROL_WRITES for c, _ in writes)
        result = self.run.graph.saved_result(writes) if finished else None
        shown = tuple(
            {"value": i.value, "id": i.id, "response_schema": i.response_schema}
            for c, v in writes
            if c == INTERRUPT
            for i in interrupts_from_wire(v)
        )
        if result:
            return {"id": t.id, "name": t.name, "result": result, "interrupts": shown, "state": state}
        return {"id": t.id, "name": t.name, "interrupts": shown, "state": state}

    def subgraph_state(self, t: Task) -> dict[str, Any] | None:
        if t.node.subgraph is None:
            return None
        ns = f"{self.ns}|{t.name}:{t.id}" if self.ns else f"{t.name}:{t.id}"
        return {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": ns}}

    def changed_since_interrupt(self) -> bool:
        """Whether any channel changed since the thread last stopped (or was resumed)."""
        seen = self.book.seen.get(INTERRUPT, {})
        return any(ch not in seen or version > seen[ch] for ch, version in self.book.versions.items())

    def answers(self, task_id: str) -> list[Any]:
        """The answers a task received in earlier runs (its saved ``__resume__`` write)."""
        for tid, ch, value in self.pending:
            if tid == task_id and ch == RESUME:
                return list(value) if isinstance(value, list) else [value]
        return []

    def call_result(self, task_id: str) -> tuple[Any, None] | None:
        """A ``@task`` call that finished in an earlier run of this step: ``(value, None)`` (one that
        failed runs again, as in LangGraph)."""
        for tid, ch, value in self.pending:
            if tid == task_id and ch == RETURN:
                return value, None
        return None

    def pending_interrupts(self) -> list[Any]:
        """Interrupts of unfinished tasks of the head, still waiting for an answer (one per id: an
        interrupt raised in a ``@task`` is saved for the task and for its caller)."""
        finished = {tid for tid, ch, _ in self.pending if ch not in CONTROL_WRITES}
        waiting: dict[str, Any] = {}
        for tid, ch, value in self.pending:
            if ch == INTERRUPT and tid not in finished:
                for i in interrupts_from_wire(value):
                    waiting.setdefault(i.id, i)
        return list(waiting.values())

    def task_done(self, task: Task) -> None:
        """A task ended: its writes (or error, or interrupt) are saved against the head checkpoint."""
        error = task.error
        if isinstance(error, ParentCommand):
            return  # not this graph's to save: the parent applies the command
        scratch = task.config["configurable"].get(SCRATCH_KEY)
        resumed = [(RESUME, answers) for answers in scratch.written] if scratch is not None else []
        if isinstance(error, GraphInterrupt):
            writes = [(INTERRUPT, interrupts_to_wire(error.interrupts)), *resumed] if error.interrupts else []
            if not writes:
                return
        elif error is not None:
            writes = task_writes(self.run.graph, task) if task.collected else []
            writes.append((ERROR, task.error))
        else:
            writes = self.writes[task.id] = task_writes(self.run.graph, task)
            if not writes:
                writes = [(NO_WRITES, None)]
            if resumed:
                writes = [*resumed, *writes]
        if any(w[0] == task.id for w in self.pending):  # (a task that ran again replaces its writes)
            self.pending = [w for w in self.pending if w[0] != task.id]
        self.pending.extend((task.id, c, v) for c, v in writes)
        path = self.paths[task.id] = task_path_str(task.path)
        if self.durability != "exit":
            self.ops.put_writes(self._saver_config(self.head_id), writes, task.id, path, task.name)

    def step_done(self, tasks: list[Task], before: Before) -> None:
        """A step's writes were applied: the next checkpoint."""
        graph = self.run.graph
        done = self.writes
        steps = [(t.name, t.triggers, done.get(t.id) or task_writes(graph, t)) for t in tasks]
        if self.run.step_calls:  # @task calls of the step: seen by name, as LangGraph books them
            steps.extend((t.name, (), []) for t in self.run.step_calls)
        self.updated = self.book.advance(graph, before, steps, self.run.finished_now)
        self.run.scope.resuming = False
        self.paths = {}
        self.writes = {}
        self._checkpoint("loop")

    def _checkpoint(self, source: str, start_input: Any = None) -> None:
        run = self.run
        checkpoint_id = new_checkpoint_id(run.step)
        metadata = {"source": source, "step": run.step, "parents": dict(self.parents)}
        parent_id = self.head_id
        if self.durability != "exit" and parent_id is not None:  # under "exit": no new parents mid-run
            self._parent_event = parent_id
        self.head_id = run.checkpoint_id = checkpoint_id
        self.head_metadata = metadata
        self.pending = []
        if self.durability == "exit":
            self.exit_start_input = start_input
            return
        checkpoint = make_checkpoint(run, self.book, checkpoint_id, self.updated, start_input)
        self.ops.put(self._saver_config(parent_id), checkpoint, metadata, self.book.new_versions())

    def exit_ops(self, failed: bool) -> None:
        """``durability="exit"``: the head checkpoint and the writes against it, queued once
        (by a subgraph only when it failed: its parent's step is saved otherwise)."""
        run = self.run
        if self.durability != "exit" or self.head_id is None:
            return
        if run.parent is not None and not failed and run.graph.checkpointer is not True:
            return
        self.durability = "sync"
        if self.head_id != self.loaded_id:  # (the head the run started from is saved already)
            checkpoint = make_checkpoint(run, self.book, self.head_id, self.updated, self.exit_start_input)
            self.ops.put(
                self._saver_config(self.loaded_id), checkpoint, self.head_metadata, self.book.new_versions()
            )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, c, v in self.pending:
            if task_id in self.paths:  # the writes of tasks this run ran (loaded ones are saved)
                by_task.setdefault(task_id, []).append((c, v))
        for task_id, writes in by_task.items():
            self.ops.put_writes(
                self._saver_config(self.head_id), writes, task_id, self.paths.get(task_id, "")
            )

    def close(self, *, failed: bool = False, wait: bool = True) -> None:
        """The run ends (``stream``): what is queued is saved; a saver error of a run that
        failed anyway is not raised over the run's own error."""
        self.exit_ops(failed)
        if not wait:
            self.ops.background()
        elif failed:
            with contextlib.suppress(Exception):
                self.ops.drain()
        else:
            self.ops.drain()

    async def aclose(self, *, failed: bool = False, wait: bool = True) -> None:
        """``close`` under ``astream``."""
        self.exit_ops(failed)
        if not wait:
            self.ops.abackground()
        elif failed:
            with contextlib.suppress(Exception):
                await self.ops.adrain()
        else:
            await self.ops.adrain()


def apply_null_writes(run: GraphRun, book: Book | None, writes: list[tuple[str, Any]]) -> None:
    """Writes of no task (``Command`` input, ``update``/``goto``) into a run's snapshot: they add to
    what is pending rather than making a step (and bump only the channels they write)."""
    writes = [(c, v) for c, v in writes if c not in SPECIAL_WRITES]
    if not writes:
        return
    task = Task(NULL_TASK_ID, INPUT, run.graph.start_node, (INPUT, 0), (), run.step, None, {})
    load_writes(task, writes)
    branches, sends = set(run.branches), list(run.sends)
    before = Before(run)
    run.apply([task], step=False)
    run.branches |= branches
    run.sends = [*sends, *run.sends]
    if book is not None:
        book.advance(run.graph, before, [(INPUT, (), writes)])


class _Ops:
    """The run's saver calls, in order. Run inline (``drain``/``adrain``) or by one
    background worker at a time. The first failing call stops them all (what was queued
    after it is dropped, nothing more is saved: the thread's history stays a prefix of the
    run) and its error is raised to the run once."""

    def __init__(self, owner: RunSaver) -> None:
        self.owner = owner
        self.queue: deque[tuple[Any, ...]] = deque()
        self.puts = 0
        self.error: BaseException | None = None
        self.broken = False
        self.lock = threading.Condition()
        self.busy = False
        self.task: asyncio.Task[None] | None = None

    def put(self, config: Any, checkpoint: Any, metadata: Any, versions: Any) -> None:
        if not self.broken:
            self.queue.append(("put", config, checkpoint, metadata, versions))
            self.puts += 1

    def put_writes(self, config: Any, writes: Any, task_id: str, path: str, node: str = "") -> None:
        if not self.broken:
            self.queue.append(("put_writes", config, writes, task_id, path, node))

    def _note(self, op: tuple[Any, ...], exc: BaseException) -> None:
        """Name what the failed saver call was saving (the thread keeps its last good checkpoint)."""
        owner = self.owner
        if op[0] == "put":
            what = f"checkpoint {op[2]['id']!r} (step {op[3].get('step')})"
        else:
            what = f"the writes of node {op[5]!r}" if len(op) > 5 and op[5] else "pending writes"
        exc.add_note(
            f"Raised by {type(owner.saver).__name__} saving {what} of thread {owner.thread_id!r}; "
            "nothing after it was saved, the thread keeps its last saved checkpoint"
        )

    def _fail(self, exc: BaseException, op: tuple[Any, ...] | None = None) -> None:
        if op is not None and isinstance(exc, Exception):
            self._note(op, exc)
        with self.lock:
            self.broken = True
            self.error = exc
            self.queue.clear()
            self.puts = 0
            self.lock.notify_all()

    def raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    # -- sync savers ----------------------------------------------------------------------

    def _call(self, op: tuple[Any, ...]) -> None:
        saver = self.owner.saver
        if op[0] == "put":
            saver.put(op[1], op[2], op[3], op[4])
        elif self.owner._takes_path:
            saver.put_writes(op[1], op[2], op[3], task_path=op[4])
        else:
            saver.put_writes(op[1], op[2], op[3])

    def drain(self) -> None:
        """Run every queued call in this thread (waiting for a background worker first)."""
        with self.lock:
            while self.busy:
                self.lock.wait()
        self.raise_error()
        queue = self.queue
        while queue:
            op = queue.popleft()
            if op[0] == "put":
                self.puts -= 1
            try:
                self._call(op)
            except BaseException as exc:
                self._fail(exc, op)
                self.raise_error()

    def step_end(self) -> None:
        """Between steps (``stream``): by durability, run the queue now or in the background."""
        durability = self.owner.durability
        if durability == "sync":
            self.drain()
        elif durability == "async":
            self.raise_error()
            if self.puts >= BATCH_PUTS:
                self.background()
            with self.lock:
                while self.puts > MAX_QUEUED_PUTS and not self.broken:
                    self.lock.wait()
            self.raise_error()

    def background(self) -> None:
        """Let a background worker save what is queued (the caller does not wait)."""
        with self.lock:
            if not self.busy and self.queue:
                self.busy = True
                _WORKERS.submit(self._work)

    def _work(self) -> None:
        queue = self.queue
        while True:
            with self.lock:
                if not queue:
                    self.busy = False
                    self.lock.notify_all()
                    return
                op = queue.popleft()
            try:
                self._call(op)
            except BaseException as exc:
                self._fail(exc, op)
                continue
            if op[0] == "put":
                with self.lock:
                    self.puts -= 1
                    self.lock.notify_all()

    # -- async savers ---------------------------------------------------------------------

    async def _acall(self, op: tuple[Any, ...]) -> None:
        saver = self.owner.saver
        if op[0] == "put":
            await saver.aput(op[1], op[2], op[3], op[4])
        elif self.owner._atakes_path:
            await saver.aput_writes(op[1], op[2], op[3], task_path=op[4])
        else:
            await saver.aput_writes(op[1], op[2], op[3])

    async def adrain(self) -> None:
        if self.task is not None:
            await asyncio.shield(self.task)
        self.raise_error()
        queue = self.queue
        while queue:
            op = queue.popleft()
            if op[0] == "put":
                self.puts -= 1
            try:
                await self._acall(op)
            except BaseException as exc:
                self._fail(exc, op)
                self.raise_error()

    async def astep_end(self) -> None:
        durability = self.owner.durability
        if durability == "sync":
            await self.adrain()
        elif durability == "async":
            self.raise_error()
            if self.puts >= BATCH_PUTS:
                self.abackground()
            if self.puts > MAX_QUEUED_PUTS and self.task is not None:
                await asyncio.shield(self.task)
            self.raise_error()

    def abackground(self) -> None:
        if self.queue and (self.task is None or self.task.done()):
            self.task = task = asyncio.get_running_loop().create_task(self._awork())
            pending = _BACKGROUND.setdefault(self.owner.thread_id, set())
            pending.add(task)
            task.add_done_callback(lambda t, key=self.owner.thread_id: _forget(key, t))

    async def _awork(self) -> None:
        queue = self.queue
        while queue:
            op = queue.popleft()
            if op[0] == "put":
                self.puts -= 1
            try:
                await self._acall(op)
            except BaseException as exc:
                self._fail(exc, op)
