"""A run's snapshot as a LangGraph v4 checkpoint, and back.

lgtrace's run state is a plain snapshot (``GraphRun``: ``values``, pending
``branches``, join ``barriers``, pending ``sends``). LangGraph stores the same
state as channels with versions: state keys, ``branch:to:<node>`` (a pending
edge), ``join:<a>+<b>:<node>`` (the nodes a join has seen), ``__pregel_tasks``
(pending ``Send`` packets) and ``__start__`` (the input, before it is applied),
each with a version bumped as LangGraph's ``apply_writes`` bumps it, and per node
the versions it has seen. ``Book`` keeps those versions beside the snapshot, so a
checkpoint lgtrace writes is the checkpoint LangGraph would have written, and a
checkpoint LangGraph wrote restores into a snapshot. Pure functions and data:
no saver calls here (``saver.py`` makes them).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from xxhash import xxh3_128_hexdigest

from lgtrace.constants import PULL, PUSH, START
from lgtrace.types import Interrupt, Send

if TYPE_CHECKING:
    from lgtrace.runtime.compiled import CompiledStateGraph
    from lgtrace.runtime.run import GraphRun, Task

TASKS = "__pregel_tasks"
"""The channel of pending ``Send`` packets."""
INPUT = "__input__"
"""The name of the pseudo-task that writes a run's input."""
ERROR = "__error__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
SCHEDULED = "__scheduled__"
RETURN = "__return__"
NO_WRITES = "__no_writes__"
SPECIAL_WRITES = frozenset({ERROR, INTERRUPT, RESUME, SCHEDULED, RETURN, NO_WRITES})
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
"""Writes not made by a task (``Command`` input, ``update_state``) go under this id."""
BRANCH_PREFIX = "branch:to:"
LATEST_VERSION = 4

Writes = list[tuple[str, Any]]
Versions = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


_last_timestamp = 0


def new_checkpoint_id(step: int) -> str:
    """A time-ordered UUIDv6 whose clock sequence is the step, as LangGraph makes checkpoint
    ids (``langgraph.checkpoint.base.id.uuid6``), formatted without building a UUID object."""
    global _last_timestamp
    timestamp = time.time_ns() // 100 + 0x01B21DD213814000  # 100 ns ticks since 1582-10-15
    if timestamp <= _last_timestamp:
        timestamp = _last_timestamp + 1
    _last_timestamp = timestamp
    value = (
        ((timestamp >> 12) & 0xFFFFFFFFFFFF) << 80
        | 0x6000 << 64  # version 6
        | (timestamp & 0x0FFF) << 64
        | (0x8000 | (step & 0x3FFF)) << 48  # variant bits, then the step
        | random.getrandbits(48)
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def task_id(checkpoint_id: str, *parts: str) -> str:
    """LangGraph's task id: xxh3-128 of the checkpoint id's bytes and the parts, as a UUID."""
    digest = xxh3_128_hexdigest(bytes.fromhex(checkpoint_id.replace("-", "")) + "".join(parts).encode())
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def pull_task_id(checkpoint_id: str, parent_ns: str, step: int, name: str, triggers: Sequence[str]) -> str:
    ns = f"{parent_ns}|{name}" if parent_ns else name
    return task_id(checkpoint_id, ns, str(step), name, PULL, *triggers)


def push_task_id(checkpoint_id: str, parent_ns: str, step: int, name: str, index: int) -> str:
    ns = f"{parent_ns}|{name}" if parent_ns else name
    return task_id(checkpoint_id, ns, str(step), name, PUSH, str(index))


def call_task_id(checkpoint_id: str, ns: str, step: int, name: str, parent_path: Any, index: int) -> str:
    """The id of a ``@task`` call: ``ns`` is its caller's namespace + ``|name``, ``index`` the call's
    number among its caller's calls."""
    return task_id(checkpoint_id, ns, str(step), name, PUSH, task_path_str(parent_path), str(index))


def own_namespace(ns: str) -> str:
    """The namespace of a ``checkpointer=True`` subgraph: its path without task ids
    (``"sub:<task id>"`` -> ``"sub"``), the same in every run of the thread."""
    return "|".join(part.split(":")[0] for part in ns.split("|"))


@functools.lru_cache(maxsize=4096)
def task_path_str(path: Any) -> str:
    """A task path as savers key it (``('__pregel_pull', 'a')`` -> ``'~__pregel_pull, a'``)."""
    if isinstance(path, (tuple, list)):
        return "~" + ", ".join(task_path_str(p) for p in path)
    if isinstance(path, int):  # booleans too, as LangGraph formats them
        return f"{path:010d}"
    return str(path)


# -- Send packets on the wire ----------------------------------------------------------------


class _WireSend:
    """A ``Send`` as LangGraph's serializer writes LangGraph's own ``Send`` (module
    ``langgraph.types``, name ``Send``, args ``(node, arg)``): LangGraph reads it back as
    its ``Send``, lgtrace as its own (``from_wire``)."""

    __slots__ = ("arg", "node")

    def __init__(self, node: str, arg: Any) -> None:
        self.node = node
        self.arg = arg


_WireSend.__module__ = "langgraph.types"
_WireSend.__name__ = _WireSend.__qualname__ = "Send"


@dataclass(slots=True)
class _WireInterrupt:
    """An ``Interrupt`` as LangGraph's serializer writes LangGraph's own."""

    value: Any
    id: str
    response_schema: Any = None


_WireInterrupt.__module__ = "langgraph.types"
_WireInterrupt.__name__ = _WireInterrupt.__qualname__ = "Interrupt"


def interrupts_to_wire(interrupts: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(_WireInterrupt(i.value, i.id, i.response_schema) for i in interrupts)


def interrupt_from_wire(value: Any) -> Interrupt:
    """A saved interrupt as lgtrace's ``Interrupt``: LangGraph's or lgtrace's, or the field dict a
    serializer returns when it cannot import LangGraph."""
    if isinstance(value, Interrupt):
        return value
    if isinstance(value, dict):
        return Interrupt(
            value.get("value"), value.get("id", ""), response_schema=value.get("response_schema")
        )
    return Interrupt(value.value, value.id, response_schema=getattr(value, "response_schema", None))


def interrupts_from_wire(value: Any) -> tuple[Interrupt, ...]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return tuple(interrupt_from_wire(i) for i in items)


def to_wire(send: Send) -> Any:
    return _WireSend(send.node, send.arg)


def from_wire(value: Any) -> Send | None:
    """A saved packet as lgtrace's ``Send``: LangGraph's or lgtrace's ``Send``, or the
    ``[node, arg]`` a serializer returns when it cannot import LangGraph."""
    if isinstance(value, Send):
        return value
    node = getattr(value, "node", None)
    if isinstance(node, str) and hasattr(value, "arg"):
        return Send(node, value.arg)
    if isinstance(value, (list, tuple)) and len(value) in (2, 3) and isinstance(value[0], str):
        return Send(value[0], value[1])
    return None


# -- a task's writes, as LangGraph writes them --------------------------------------------


def task_writes(graph: CompiledStateGraph, task: Task) -> Writes:
    """A finished task's writes in LangGraph's form: state keys, then where it routes
    (``branch:to:<node>`` / ``Send`` packets on ``__pregel_tasks``), then the joins it feeds."""
    writes: Writes = list(task.writes)
    for dest in task.goto:
        if type(dest) is str:
            writes.append((BRANCH_PREFIX + dest, None))
        else:
            writes.append((TASKS, to_wire(dest)))
    if not task.node.is_call:
        writes.extend((ch, task.name) for ch in graph.joins_from.get(task.name, ()))
    return writes


def load_writes(task: Task, writes: Iterable[tuple[str, Any]]) -> None:
    """The opposite of ``task_writes``: saved writes back into a task that will not run again.
    They replace what the task holds (a start task is planned with its input's writes already)."""
    from lgtrace.runtime.run import update_of

    task.writes, task.goto = [], []
    for ch, value in writes:
        if ch.startswith(BRANCH_PREFIX):
            task.goto.append(ch[len(BRANCH_PREFIX) :])
        elif ch == TASKS:
            send = from_wire(value)
            if send is not None:
                task.goto.append(send)
        elif ch in SPECIAL_WRITES or ch.startswith("join:"):
            continue  # joins follow from the task's name when the step is applied
        else:
            task.writes.append((ch, value))
    task.update = update_of(task.writes)
    task.collected = True


def result_of(writes: Iterable[tuple[str, Any]], keys: Iterable[str]) -> dict[str, Any]:
    """A task result as LangGraph shows it: its writes to state keys (a key written
    more than once becomes ``{"$writes": [...]}``)."""
    keys = set(keys)
    result: dict[str, Any] = {}
    for ch, value in writes:
        if ch not in keys:
            continue
        if ch in result:
            prev = result[ch]
            many = prev["$writes"] if isinstance(prev, dict) and "$writes" in prev else [prev]
            result[ch] = {"$writes": [*many, value]}
        else:
            result[ch] = value
    return result


# -- versions -------------------------------------------------------------------------------


class Before:
    """Which LangGraph channels were available before a step (what a step may clear)."""

    __slots__ = ("barriers", "ephemeral", "ready", "sends")

    def __init__(self, run: GraphRun, start: bool = False) -> None:
        self.ephemeral = {BRANCH_PREFIX + n for n in run.branches}
        self.ready = {BRANCH_PREFIX + n for n in run.ready}
        """Deferred nodes' channels that are available (consumed when their node runs)."""
        if start or run.entry_pending:
            self.ephemeral.add(START)
        self.barriers = {ch: set(seen) for ch, seen in run.barriers.items()}
        self.sends = bool(run.sends)


class Book:
    """Channel versions and the versions each node has seen, advanced per step exactly
    as LangGraph's ``apply_writes`` advances them (one new version per step for every
    channel written, consumed or cleared).

    Per step it costs what the step touched, not the size of the graph: a node's seen
    versions are replaced, never changed in place (a checkpoint shares them), the newest
    version and the channels changed since the last save are kept as they change."""

    __slots__ = ("changed", "next_version", "seen", "top", "versions")

    def __init__(
        self, next_version: Callable[[Any, Any], Any], checkpoint: dict[str, Any] | None = None
    ) -> None:
        self.next_version = next_version
        if checkpoint is None:
            self.versions: Versions = {}
            self.seen: dict[str, Versions] = {}
        else:
            self.versions = dict(checkpoint["channel_versions"])
            self.seen = {k: dict(v) for k, v in checkpoint["versions_seen"].items()}
        self.top = max(self.versions.values()) if self.versions else None
        """The newest version (what the next one is derived from)."""
        self.changed: set[str] = set()
        """Channels whose version changed since the last checkpoint given to the saver."""

    def advance(
        self,
        graph: CompiledStateGraph,
        before: Before,
        tasks: Sequence[tuple[str, Sequence[str], Writes]],
        finished: Iterable[str] = (),
    ) -> set[str]:
        """Apply one step's ``(task name, triggers, writes)``; returns the updated channels.
        ``finished``: channels of deferred nodes whose wait ended with this step ("finish")."""
        versions = self.versions
        all_seen = self.seen
        bump_step = False
        for name, triggers, _ in tasks:
            if triggers:
                bump_step = True
            fresh = {ch: versions[ch] for ch in triggers if ch in versions}
            seen = all_seen.get(name)
            if seen is None:
                all_seen[name] = fresh
            elif fresh:
                all_seen[name] = {**seen, **fresh}
        nv = self.next_version(self.top, None)
        bumped: set[str] = set()
        updated: set[str] = set()
        barriers = before.barriers
        joined: dict[str, list[Any]] = {}
        if barriers:
            joins = graph.joins
            for ch in {ch for _, triggers, _ in tasks for ch in triggers if ch in barriers}:
                if barriers[ch] == joins[ch][0]:
                    barriers[ch] = set()  # a complete join is consumed by the node it triggers
                    bumped.add(ch)
        if before.ready:  # a deferred node that runs consumes its channel
            bumped |= {ch for _, triggers, _ in tasks for ch in triggers if ch in before.ready}
        deferred = graph.deferred
        for _, _, writes in tasks:
            for ch, value in writes:
                if ch in barriers:
                    joined.setdefault(ch, []).append(value)
                elif ch.startswith(BRANCH_PREFIX) and ch[len(BRANCH_PREFIX) :] in deferred:
                    bumped.add(ch)  # written, but not available until the run has nothing else to do
                elif ch not in SPECIAL_WRITES:
                    updated.add(ch)
        for ch, names in joined.items():
            seen_names = barriers[ch]
            new_names = set(names) - seen_names
            if new_names:
                seen_names |= new_names
                bumped.add(ch)
                if seen_names == graph.joins[ch][0] and ch not in graph.deferred_joins:
                    updated.add(ch)  # (a join into a deferred node is not available until it finishes)
        updated.update(finished)
        bumped |= updated
        if bump_step:
            # a new step clears what was pending and not written again
            bumped |= before.ephemeral - updated
            if before.sends and TASKS not in updated:
                bumped.add(TASKS)
        if bumped:
            for ch in bumped:
                versions[ch] = nv
            self.top = nv
            self.changed |= bumped
        return updated

    def new_versions(self) -> Versions:
        """Versions changed since the last checkpoint given to the saver (and mark them given)."""
        versions = self.versions
        changed = {k: versions[k] for k in self.changed}
        self.changed = set()
        return changed

    def triggered(self, node: str, channel: str) -> bool:
        version = self.versions.get(channel)
        if version is None:
            return False
        seen = self.seen.get(node, {}).get(channel)
        return seen is None or version > seen


# -- snapshot <-> checkpoint ---------------------------------------------------------------


def make_checkpoint(
    run: GraphRun,
    book: Book,
    checkpoint_id: str,
    updated: set[str] | None,
    start_input: Any = None,
) -> dict[str, Any]:
    """The run's snapshot as a v4 ``Checkpoint`` (only channels that have a version,
    as LangGraph stores them)."""
    versions = book.versions
    values: dict[str, Any] = {}
    for k, v in run.values.items():
        if k in versions:
            values[k] = v
    if start_input is not None:
        values[START] = start_input
    for node in run.branches:
        values[BRANCH_PREFIX + node] = None
    for node in run.deferred:  # a deferred node's channel keeps (value, finished)
        values[BRANCH_PREFIX + node] = (None, False)
    for node in run.ready:
        values[BRANCH_PREFIX + node] = (None, True)
    for ch, seen in run.barriers.items():
        if ch in versions:  # a join into a deferred node keeps (names seen, finished)
            values[ch] = (set(seen), ch in run.ready_joins) if ch in run.graph.deferred_joins else set(seen)
    if TASKS in versions:
        values[TASKS] = [to_wire(s) for s in run.sends]
    return {
        "v": LATEST_VERSION,
        "id": checkpoint_id,
        "ts": now_iso(),
        "channel_values": values,
        "channel_versions": dict(versions),
        "versions_seen": dict(book.seen),  # a node's dict is replaced, never changed: shared
        "updated_channels": None if updated is None else sorted(updated),
    }


class IncompatibleCheckpoint(ValueError):
    """A saved checkpoint has a channel this graph does not have (it was written by
    another version of the graph): nothing is run and nothing is overwritten."""


def restore(run: GraphRun, book: Book, checkpoint: dict[str, Any]) -> Any:
    """Load a checkpoint's channels into the run's snapshot. Returns the input of a
    ``__start__`` that was saved but not yet applied (else ``None``)."""
    graph = run.graph
    values = checkpoint["channel_values"]
    run.branches = set()
    start_input = None
    for ch, value in values.items():
        if ch in graph.channels:
            run.values[ch] = value
        elif ch.startswith(BRANCH_PREFIX):
            node = ch[len(BRANCH_PREFIX) :]
            if node not in graph.nodes:
                raise IncompatibleCheckpoint(_incompatible(graph, ch, "routes to a node this graph lacks"))
            if node in graph.deferred:
                finished = isinstance(value, (tuple, list)) and len(value) == 2 and bool(value[1])
                (run.ready if finished else run.deferred).add(node)
            elif book.triggered(node, ch):
                run.branches.add(node)
        elif ch in graph.joins:
            if ch in graph.deferred_joins and isinstance(value, (tuple, list)) and len(value) == 2:
                value, finished = value
                if finished:
                    run.ready_joins.add(ch)
            run.barriers[ch] = set(value)
        elif ch == TASKS:
            run.sends = []
            for packet in value:
                send = from_wire(packet)
                if send is None or send.node not in graph.nodes:
                    raise IncompatibleCheckpoint(_incompatible(graph, ch, f"holds {packet!r}"))
                run.sends.append(send)
        elif ch == START:
            if book.triggered(START, ch):
                start_input = value
                if graph.functional:  # the entrypoint's task was waiting for it
                    run.entry_input, run.entry_pending = value, True
        else:
            raise IncompatibleCheckpoint(_incompatible(graph, ch, "is not a channel of this graph"))
    return start_input


def _incompatible(graph: CompiledStateGraph, channel: str, why: str) -> str:
    return (
        f"The saved checkpoint's channel {channel!r} {why} (graph {graph.name!r}, state keys "
        f"{sorted(graph.channels)}): it was written by a different graph. Use another thread_id, "
        "or migrate the thread."
    )
