"""Normalization for persistence comparisons (checkpoints, state snapshots, saved writes, streams).

A scenario's whole trace (every stream, snapshot and saved checkpoint it recorded, in order)
is normalized in one pass, so structure across observations is still compared: a checkpoint
id streamed in turn 1 and the ``parent_config`` of a checkpoint listed at the end get the same
placeholder, a task id in a ``tasks`` event and in the saved ``pending_writes`` too.

What differs between two runs of the *same* runtime, and only that, is hidden:

* checkpoint ids (uuid6: time based) -> ``<cp:N:GGGG>`` by order of first appearance. ``GGGG``
  is the uuid's 4th group kept as is: LangGraph builds it from the step (``clock_seq = step``:
  -1 -> ``bfff``, 0 -> ``8000``, 6 -> ``8006``), a deterministic part of the format;
* every other uuid-like string (task ids: xxh3 of the checkpoint id..., so they change with
  it; message ids made by ``add_messages``; ids inside checkpoint namespaces
  ``"node:<task id>"``) -> ``<id:N>`` by order of first appearance;
* timestamps (checkpoint ``ts``, ``StateSnapshot.created_at``, debug ``timestamp``) -> ``<ts>``;
* ``InMemorySaver`` channel versions ``'<32-digit counter>.<random float>'`` -> ``<v:N>``: the
  counter is kept, the random fraction dropped;
* the order in which parallel tasks of one superstep finish (their ``updates``/``tasks``
  results/``debug`` task results/``custom`` events), see :func:`canonical_stream`;
* the order of a task's ``branch:to:<node>`` writes to static successors: LangGraph iterates
  a ``set`` of edges to build them (``StateGraph.edges``), so it depends on string hashing
  (``PYTHONHASHSEED``) and is not part of the contract; runs of consecutive ``branch:to:*``
  writes of one task are sorted by channel (their write indices move with them).

Not normalized but avoided: LangGraph's racy saved join values under durability "async"
(``harness.JOIN_RACE``): scenarios over join graphs run with durability "sync".

Exceptions compare by type and first line of the message (``tests.differential`` convention:
LangGraph appends a troubleshooting link, lgtrace a line naming the node).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from ..differential.normalize import UUID_RE, exc_repr, sort_key

TS = "<ts>"
MSG = "<msg>"
VERSION_RE = re.compile(r"^(\d{32})\.\d.*$")


# --------------------------------------------------------------------------- phase 1: freeze


def freeze(x: Any) -> Any:
    """Deep-convert runtime objects to plain comparable data (at receipt time: later
    mutation of shared state by reducers cannot change what was observed)."""
    if x is None or isinstance(x, (bool, int, float, bytes)):
        return x
    if isinstance(x, str):
        m = VERSION_RE.match(x)
        return f"<v:{int(m.group(1))}>" if m else x
    if isinstance(x, BaseMessage):
        out = [MSG, x.type, freeze(x.content), x.id, x.name]
        tool_calls = getattr(x, "tool_calls", None)
        if tool_calls:
            out.append(("tool_calls", freeze(list(tool_calls))))
        tool_call_id = getattr(x, "tool_call_id", None)
        if tool_call_id:
            out.append(("tool_call_id", tool_call_id))
        return tuple(out)
    if isinstance(x, BaseException):
        return exc_repr(x)
    if isinstance(x, dict):
        out = {freeze(k): freeze(v) for k, v in x.items()}
        if {"type", "timestamp", "step", "payload"} <= set(out):  # a debug event
            out["timestamp"] = TS
        if "channel_versions" in out and "ts" in out:  # a checkpoint
            out["ts"] = TS
        return out
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        fields = {k: freeze(getattr(x, k)) for k in x._fields}
        if type(x).__name__ == "StateSnapshot" and fields.get("created_at") is not None:
            fields["created_at"] = TS
        if type(x).__name__ == "CheckpointTuple":
            fields["pending_writes"] = sort_branch_writes(fields["pending_writes"])
        return (f"<nt:{type(x).__name__}>", fields)
    if isinstance(x, BaseModel):
        return ("<pydantic>", type(x).__name__, {k: freeze(getattr(x, k)) for k in type(x).model_fields})
    if type(x).__name__ == "Interrupt":  # a dataclass in LangGraph; compared by its fields
        return (
            "<Interrupt>",
            {k: freeze(getattr(x, k, None)) for k in ("value", "id", "response_schema")},
        )
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (
            "<dataclass>",
            type(x).__name__,
            {f.name: freeze(getattr(x, f.name)) for f in dataclasses.fields(x)},
        )
    if isinstance(x, tuple):
        return tuple(freeze(v) for v in x)
    if isinstance(x, list):
        return [freeze(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return ("<set>", sorted((freeze(v) for v in x), key=sort_key))
    cls = type(x).__name__
    if cls == "Send":
        return ("<Send>", x.node, freeze(x.arg))
    if cls == "Command":
        return ("<Command>", freeze(x.graph), freeze(x.update), freeze(x.goto), freeze(x.resume))
    if hasattr(x, "value") and hasattr(x, "interrupts"):  # GraphOutput (invoke v2)
        return (f"<{cls}>", freeze(x.value), freeze(x.interrupts))
    return ("<obj>", cls, repr(x))


def _is_branch(write: Any) -> bool:
    return isinstance(write[1], str) and write[1].startswith("branch:to:")


def sort_branch_writes(writes: list) -> list:
    """Sort runs of one task's consecutive ``branch:to:*`` writes by channel.

    ``writes`` are ``(task_id, channel, value, *rest)`` tuples; when ``rest`` starts with a
    write index (the raw saver view), the run's indices are reassigned in sorted order, so
    the index still says "one of the run's positions" and nothing else moved.
    """
    out = list(writes)
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and _is_branch(out[j]) and out[j][0] == out[i][0]:
            j += 1
        if j - i > 1:
            run = out[i:j]
            ordered = sorted(run, key=lambda w: w[1])
            if len(run[0]) > 3:  # (task_id, channel, value, idx, ...): keep the index slots
                ordered = [(*w[:3], r[3], *w[4:]) for w, r in zip(ordered, run, strict=True)]
            out[i:j] = ordered
            i = j
        else:
            i += 1
    return out


# --------------------------------------------------------------------------- phase 2: parallel order


def parse_event(ev: Any, modes: tuple[str, ...], multi: bool, subgraphs: bool, v2: bool) -> tuple:
    """``(ns, mode, data)`` of a frozen chunk."""
    if v2:
        return tuple(ev["ns"]), ev["type"], ev["data"]
    if multi and subgraphs:
        return tuple(ev[0]), ev[1], ev[2]
    if multi:
        return (), ev[0], ev[1]
    if subgraphs:
        return tuple(ev[0]), modes[0], ev[1]
    return (), modes[0], ev


def is_task_event(ns: tuple, mode: str, data: Any) -> bool:
    """Whether the event comes from a task ending (its order among parallel siblings is
    nondeterministic) rather than from the loop (checkpoints, task starts, values: fixed order).

    Events of nested graphs (``ns != ()``) run inside a parent task, so they count as task events.
    """
    if ns != ():
        return True
    if mode in ("updates", "custom", "messages"):
        return True
    if mode == "tasks":
        return isinstance(data, dict) and "input" not in data
    if mode == "debug":
        return isinstance(data, dict) and data.get("type") == "task_result"
    return False  # values, checkpoints


BAG = "<bag>"


def bag(items: list) -> tuple:
    """A multiset: :func:`renumber` sorts it (ids already numbered shown by placeholder)."""
    return (BAG, list(items))


def canonical_stream(events: list, parsed: list[tuple], parallel: bool) -> list:
    """Each maximal run of two or more consecutive task events becomes a :func:`bag`, when
    the graph runs parallel tasks (they finish in any order).

    Loop events (values, checkpoints, debug checkpoint/task, tasks starts) keep their exact
    positions and delimit the runs, so an event moved across one of them still differs. A
    stream made of task events only (e.g. ``stream_mode="updates"`` alone) is one run: for
    parallel graphs its cross-step order is not checked by that call, the multi-mode calls
    with ``values``/``checkpoints`` in the same test matrix check it.
    """
    if not parallel:
        return list(events)
    out: list = []
    run: list = []

    def flush() -> None:
        if len(run) > 1:
            out.append(bag(run))
        else:
            out.extend(run)
        run.clear()

    for ev, p in zip(events, parsed, strict=True):
        if is_task_event(*p):
            run.append(ev)
            continue
        flush()
        out.append(ev)
    flush()
    return out


# --------------------------------------------------------------------------- phase 3: ids


def checkpoint_ids(x: Any, found: set[str] | None = None) -> set[str]:
    """Every string that names a checkpoint: values of ``checkpoint_id``, of ``parents`` and
    ``checkpoint_map`` entries, and a checkpoint dict's own ``id``."""
    found = set() if found is None else found
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "checkpoint_id" and isinstance(v, str):
                found.add(v.lower())
            elif k in ("parents", "checkpoint_map") and isinstance(v, dict):
                found.update(s.lower() for s in v.values() if isinstance(s, str))
            elif k == "id" and isinstance(v, str) and "channel_versions" in x:
                found.add(v.lower())
            checkpoint_ids(v, found)
    elif isinstance(x, (list, tuple)):
        for v in x:
            checkpoint_ids(v, found)
    return found


class IdMap:
    def __init__(self, checkpoints: Iterable[str]) -> None:
        self.checkpoints = set(checkpoints)
        self.ids: dict[str, str] = {}
        self.n_cp = 0
        self.n_id = 0

    def sub(self, s: str) -> str:
        return UUID_RE.sub(self._one, s)

    def peek(self, s: str) -> str:
        """Like :meth:`sub` without numbering new ids (they read ``<new>``)."""
        return UUID_RE.sub(lambda mt: self.ids.get(mt.group(0).lower(), "<new>"), s)

    def _one(self, mt: re.Match) -> str:
        raw = mt.group(0).lower()
        if raw not in self.ids:
            if raw in self.checkpoints:
                self.ids[raw] = f"<cp:{self.n_cp}:{raw.split('-')[3]}>"
                self.n_cp += 1
            else:
                self.ids[raw] = f"<id:{self.n_id}>"
                self.n_id += 1
        return self.ids[raw]


def _peek(x: Any, ids: IdMap) -> Any:
    if isinstance(x, str):
        return ids.peek(x)
    if isinstance(x, dict):
        return {_peek(k, ids): _peek(v, ids) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_peek(v, ids) for v in x)
    return x


def peek_key(x: Any, ids: IdMap) -> str:
    """A sort key in which ids numbered so far count (by placeholder) and new ones do not:
    two items equal but for the ids of *earlier* observations still sort apart, the same
    way in both runs."""
    return sort_key(_peek(x, ids))


def renumber(x: Any, ids: IdMap) -> Any:
    """Ids -> placeholders by order of first appearance; traversal order is canonical:
    dicts by key (insertion order is not compared), bags sorted by :func:`peek_key`."""
    if isinstance(x, str):
        return ids.sub(x)
    if isinstance(x, dict):
        items = sorted(x.items(), key=lambda kv: peek_key(kv[0], ids))
        return {renumber(k, ids): renumber(v, ids) for k, v in items}
    if isinstance(x, tuple) and len(x) == 2 and x[0] == BAG:
        return (BAG, [renumber(v, ids) for v in sorted(x[1], key=lambda v: peek_key(v, ids))])
    if isinstance(x, tuple):
        return tuple(renumber(v, ids) for v in x)
    if isinstance(x, list):
        return [renumber(v, ids) for v in x]
    return x


def normalize_trace(trace: list) -> list:
    """Ids of a whole frozen trace -> placeholders, consistently across its observations."""
    return renumber(trace, IdMap(checkpoint_ids(trace)))


# --------------------------------------------------------------------------- reporting


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """A readable path to the first place where ``a`` and ``b`` differ, or None."""
    if type(a) is not type(b):
        return f"{path or '<root>'}: {a!r:.300} != {b!r:.300}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=sort_key):
            if k not in a:
                return f"{path}[{k!r}]: missing in expected, got {b[k]!r:.300}"
            if k not in b:
                return f"{path}[{k!r}]: expected {a[k]!r:.300}, missing"
            d = first_difference(a[k], b[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            extra = a[len(b)] if len(a) > len(b) else b[len(a)]
            which = "expected" if len(a) > len(b) else "got"
            return f"{path}: length {len(a)} != {len(b)}; first extra item ({which}): {extra!r:.300}"
        return None
    return None if a == b else f"{path or '<root>'}: {a!r:.300} != {b!r:.300}"
