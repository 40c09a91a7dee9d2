"""Graphs and savers shared by the fault tests of ``tests/checkpoint``.

No ``from __future__ import annotations``: the runtime reads the state schemas' annotations.
"""

import operator
import sqlite3
import threading
import time
from typing import Annotated, Any, TypedDict

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.checkpoint.sqlite.aio import AsyncSqliteSaver
from lgtrace.graph import END, START, StateGraph


class Log(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


class XY(TypedDict, total=False):
    x: int
    y: int


class XOnly(TypedDict, total=False):
    x: int


class Owned(TypedDict, total=False):
    """A thread's state that names its owner: every write carries the thread's own id."""

    owner: str
    log: Annotated[list, operator.add]


def cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


def chain(checkpointer: Any, n: int = 5, *, delay: float = 0.0) -> Any:
    """START -> n1 -> ... -> n<n> -> END; node ``nK`` adds 1 to ``x`` and logs its name
    (after sleeping ``delay`` seconds: a node that takes time, as a model call does)."""

    def node(name: str) -> Any:
        def fn(s: Log) -> dict[str, Any]:
            if delay:
                time.sleep(delay)
            return {"x": s.get("x", 0) + 1, "log": [name]}

        return fn

    g = StateGraph(Log)
    prev = START
    for i in range(1, n + 1):
        g.add_node(f"n{i}", node(f"n{i}"))
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)


class Gauge:
    """How many node calls run at once (the most seen): shows that runs overlapped."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def owned_chain(checkpointer: Any, n: int = 4, *, gauge: Gauge | None = None, delay: float = 0.0) -> Any:
    """START -> o1 -> ... -> o<n>: each node logs ``<owner>:<node>`` (the owner read from state)."""
    gauge = gauge or Gauge()

    def node(name: str) -> Any:
        def fn(s: Owned) -> dict[str, Any]:
            with gauge:
                if delay:
                    time.sleep(delay)
                return {"log": [f"{s['owner']}:{name}"]}

        return fn

    g = StateGraph(Owned)
    prev = START
    for i in range(1, n + 1):
        g.add_node(f"o{i}", node(f"o{i}"))
        g.add_edge(prev, f"o{i}")
        prev = f"o{i}"
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)


# --------------------------------------------------------------------------- faulty savers


class Boom(RuntimeError):
    """The error a faulty saver raises."""


class Fault:
    """Makes the ``n``-th call of ``kind`` (``"put"`` or ``"put_writes"``) raise ``Boom``
    (that one call only: a runtime that goes on saving after it would leave a gap) and
    counts the calls made after it (``after``). ``armed`` False: the saver is healthy
    (calls are not counted)."""

    def __init__(self, kind: str, n: int, armed: bool = True) -> None:
        self.kind = kind
        self.n = n
        self.armed = armed
        self.calls = {"put": 0, "put_writes": 0}
        self.fired = False
        self.after: list[str] = []
        self.lock = threading.Lock()

    def hit(self, kind: str) -> None:
        if not self.armed:
            return
        with self.lock:
            if self.fired:
                self.after.append(kind)
            self.calls[kind] += 1
            count = self.calls[kind]
            fire = kind == self.kind and count == self.n
            self.fired = self.fired or fire
        if fire:
            raise Boom(f"{kind} #{count} failed")


class FaultyMemorySaver(InMemorySaver):
    """``InMemorySaver`` with a ``Fault`` (its async twins call ``put``/``put_writes``)."""

    def __init__(self, fault: Fault) -> None:
        super().__init__()
        self.fault = fault

    def put(self, config, checkpoint, metadata, new_versions):
        self.fault.hit("put")
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        self.fault.hit("put_writes")
        return super().put_writes(config, writes, task_id, task_path)


def memory_twin(saver: InMemorySaver) -> InMemorySaver:
    """A healthy ``InMemorySaver`` on the same storage as ``saver``."""
    twin = InMemorySaver()
    twin.storage, twin.writes, twin.blobs = saver.storage, saver.writes, saver.blobs
    return twin


class FaultySqliteSaver(SqliteSaver):
    def __init__(self, conn: sqlite3.Connection, fault: Fault) -> None:
        super().__init__(conn)
        self.fault = fault

    def put(self, config, checkpoint, metadata, new_versions):
        self.fault.hit("put")
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        self.fault.hit("put_writes")
        return super().put_writes(config, writes, task_id, task_path)


class FaultyAsyncSqliteSaver(AsyncSqliteSaver):
    def __init__(self, conn: Any, fault: Fault) -> None:
        super().__init__(conn)
        self.fault = fault

    async def aput(self, config, checkpoint, metadata, new_versions):
        self.fault.hit("put")
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        self.fault.hit("put_writes")
        return await super().aput_writes(config, writes, task_id, task_path)


def sqlite_conn(path: Any) -> sqlite3.Connection:
    """A connection savers may use from any thread (``durability="async"`` saves in a worker)."""
    return sqlite3.connect(str(path), check_same_thread=False)


# --------------------------------------------------------------------------- reading a thread


def brief(snap: Any) -> tuple[Any, ...]:
    """What a snapshot says about the run, without ids and timestamps."""
    meta = snap.metadata or {}
    return (dict(snap.values), tuple(snap.next), meta.get("step"), meta.get("source"))


def history(graph: Any, config: Any) -> list[tuple[Any, ...]]:
    """The thread's history, oldest first, as ``brief`` tuples."""
    return [brief(s) for s in reversed(list(graph.get_state_history(config)))]


async def ahistory(graph: Any, config: Any) -> list[tuple[Any, ...]]:
    return [brief(s) for s in reversed([s async for s in graph.aget_state_history(config)])]


def checkpoint_ids(saver: Any, config: Any) -> list[str]:
    """Saved checkpoint ids of the thread, newest first (straight from the saver)."""
    return [t.config["configurable"]["checkpoint_id"] for t in saver.list(config)]


def _gaps(tuples: list[Any]) -> list[str]:
    ids = {t.config["configurable"]["checkpoint_id"] for t in tuples}
    gaps = []
    for t in tuples:
        parent = ((t.parent_config or {}).get("configurable") or {}).get("checkpoint_id")
        if parent is not None and parent not in ids:
            gaps.append(
                f"checkpoint of step {t.metadata.get('step')} ({t.metadata.get('source')}) was saved, "
                f"its parent {parent} never was"
            )
    return gaps


def gaps(saver: Any, config: Any) -> list[str]:
    """Saved checkpoints of the thread whose parent was never saved (a hole in the history)."""
    return _gaps(list(saver.list(config)))


async def agaps(saver: Any, config: Any) -> list[str]:
    return _gaps([t async for t in saver.alist(config)])


# --------------------------------------------------------------------------- two versions of a graph


def graph_xy(checkpointer: Any) -> Any:
    """Version A of a graph: state keys x and y."""

    def a(s: XY) -> dict[str, Any]:
        return {"x": s.get("x", 0) + 1, "y": 7}

    return StateGraph(XY).add_node("a", a).add_edge(START, "a").compile(checkpointer=checkpointer)


def graph_x(checkpointer: Any) -> Any:
    """Version B: key y removed."""

    def a(s: XOnly) -> dict[str, Any]:
        return {"x": s.get("x", 0) + 1}

    return StateGraph(XOnly).add_node("a", a).add_edge(START, "a").compile(checkpointer=checkpointer)


def graph_ab(checkpointer: Any, broken: list[bool]) -> Any:
    """START -> a -> b: ``b`` raises while ``broken[0]`` is true (the thread stops before b)."""

    def a(s: Log) -> dict[str, Any]:
        return {"log": ["a"]}

    def b(s: Log) -> dict[str, Any]:
        if broken[0]:
            raise RuntimeError("b is broken")
        return {"log": ["b"]}

    return (
        StateGraph(Log)
        .add_node("a", a)
        .add_node("b", b)
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile(checkpointer=checkpointer)
    )


def graph_ac(checkpointer: Any) -> Any:
    """Version B of ``graph_ab``: node b renamed c."""

    def a(s: Log) -> dict[str, Any]:
        return {"log": ["a"]}

    def c(s: Log) -> dict[str, Any]:
        return {"log": ["c"]}

    return (
        StateGraph(Log)
        .add_node("a", a)
        .add_node("c", c)
        .add_edge(START, "a")
        .add_edge("a", "c")
        .compile(checkpointer=checkpointer)
    )


def _record(t: Any) -> tuple[Any, ...]:
    parent = ((t.parent_config or {}).get("configurable") or {}).get("checkpoint_id")
    return (
        t.config["configurable"]["checkpoint_id"],
        parent,
        dict(t.metadata),
        repr(t.checkpoint["channel_values"]),
        sorted((w[0], w[1], repr(w[2])) for w in t.pending_writes or ()),
    )


def saved(saver: Any, config: Any = None) -> list[Any]:
    """Everything saved (for a thread, or all threads with ``None``): each checkpoint's id,
    parent, metadata, values and pending writes, newest first."""
    return [_record(t) for t in saver.list(config)]


async def asaved(saver: Any, config: Any = None) -> list[Any]:
    return [_record(t) async for t in saver.alist(config)]


class Counter(TypedDict):
    n: int


def counter_loop(checkpointer: Any, steps: int, *, probe: Any = None) -> Any:
    """START -> inc -> inc -> ... while n < steps: one checkpoint per step. ``probe(step)``
    is called by each node call (step 1, 2, ...)."""

    def inc(s: Counter) -> dict[str, Any]:
        if probe is not None:
            probe(s["n"] + 1)
        return {"n": s["n"] + 1}

    g = StateGraph(Counter).add_node("inc", inc).add_edge(START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["n"] < steps else END)
    return g.compile(checkpointer=checkpointer)
