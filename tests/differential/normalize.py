"""Normalization and canonical ordering of stream outputs.

Three phases, applied identically to the oracle and the candidate:

1. :func:`freeze` — as soon as a chunk is received, deep-convert it to plain data
   (messages, exceptions, models, dataclasses become tagged tuples; debug
   ``timestamp`` is dropped).  Freezing at receipt time protects against later
   mutation of shared objects by reducers.
2. :func:`canonicalize` — undo the only legitimate nondeterminism: the order in
   which parallel tasks of one superstep finish.  The stream is cut into
   per-superstep windows using a *plan* computed from an auxiliary oracle run
   (see ``harness.step_plan``); a window whose superstep ran more than one task
   (at any nesting level) becomes ``head + sorted(body) + tail``; every other
   window keeps its exact order.
3. :func:`renumber_ids` — UUID-like strings (task ids, message ids, the ids in
   namespaces ``"node:<id>"`` and checkpoint namespaces ``"a:<id>|b:<id>"``)
   become ``<id:N>`` by order of first appearance in the canonical stream.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

MSG = "<msg>"
EXC = "<exc>"


# --------------------------------------------------------------------------- phase 1


def exc_repr(exc: BaseException, m: Any = None) -> tuple:
    """``(tag, type name, first line of str, which public LangGraph error class it is)``.

    Only the first line of the message is compared: LangGraph appends a
    "For troubleshooting, visit: ..." line, lgtrace appends a line naming the
    nodes/step at fault; the first line is the same message in both.
    """
    kind = None
    if m is not None:
        if isinstance(exc, m.GraphRecursionError):
            kind = "GraphRecursionError"
        elif isinstance(exc, m.InvalidUpdateError):
            kind = "InvalidUpdateError"
    return (EXC, type(exc).__name__, str(exc).split("\n", 1)[0], kind)


def freeze(x: Any) -> Any:
    """Deep-convert a stream chunk / state value to plain comparable data."""
    if x is None or isinstance(x, (bool, int, float, str, bytes)):
        return x
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
        if "payload" in x and "timestamp" in x:  # debug event
            return {k: freeze(v) for k, v in x.items() if k != "timestamp"}
        return {freeze(k): freeze(v) for k, v in x.items()}
    if isinstance(x, BaseModel):
        fields = type(x).model_fields
        return ("<pydantic>", type(x).__name__, {k: freeze(getattr(x, k)) for k in fields})
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (
            "<dataclass>",
            type(x).__name__,
            {f.name: freeze(getattr(x, f.name)) for f in dataclasses.fields(x)},
        )
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return (f"<nt:{type(x).__name__}>", {k: freeze(getattr(x, k)) for k in x._fields})
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
        return (
            "<Command>",
            freeze(getattr(x, "graph", None)),
            freeze(getattr(x, "update", None)),
            freeze(getattr(x, "goto", None)),
        )
    if cls == "Interrupt":
        return ("<Interrupt>", freeze(getattr(x, "value", None)))
    if hasattr(x, "value") and hasattr(x, "interrupts"):  # GraphOutput (invoke v2)
        return (f"<{cls}>", freeze(x.value), freeze(x.interrupts))
    return ("<obj>", cls, repr(x))


# --------------------------------------------------------------------------- keys


def sort_key(x: Any) -> str:
    """A total, id-insensitive, dict-order-insensitive key for sorting events."""
    return _key(x)


def _key(x: Any) -> str:
    if isinstance(x, str):
        return "s" + repr(UUID_RE.sub("<id>", x))
    if isinstance(x, dict):
        items = sorted((_key(k), _key(v)) for k, v in x.items())
        return "d{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(x, tuple):
        return "t(" + ",".join(_key(v) for v in x) + ")"
    if isinstance(x, list):
        return "l[" + ",".join(_key(v) for v in x) + "]"
    return type(x).__name__ + repr(x)


# --------------------------------------------------------------------------- parsing


@dataclasses.dataclass(frozen=True)
class CallSpec:
    """How ``stream``/``astream`` was called (determines the chunk shape)."""

    method: str = "stream"  # "stream" | "astream"
    stream_mode: Any = None  # None (default), a mode, or a list of modes
    subgraphs: bool = False
    version: str = "v1"

    @property
    def modes(self) -> tuple[str, ...]:
        if self.stream_mode is None:
            return ("updates",)  # a compiled StateGraph's default stream_mode
        if isinstance(self.stream_mode, str):
            return (self.stream_mode,)
        return tuple(self.stream_mode)

    @property
    def ident(self) -> str:
        if self.stream_mode is None:
            mode = "default"
        elif isinstance(self.stream_mode, str):
            mode = self.stream_mode
        else:
            mode = "[" + ",".join(self.stream_mode) + "]"
        parts = [self.method, mode]
        if self.subgraphs:
            parts.append("subgraphs")
        if self.version != "v1":
            parts.append(self.version)
        return "-".join(parts)


def parse_event(ev: Any, call: CallSpec) -> tuple[tuple, str, Any] | None:
    """``(namespace, mode, data)`` of a frozen chunk, or None if it is malformed."""
    try:
        if call.version == "v2":
            if isinstance(ev, dict) and {"type", "ns", "data"} <= set(ev):
                return tuple(ev["ns"]), ev["type"], ev["data"]
            return None
        multi = isinstance(call.stream_mode, (list, tuple))
        if multi and call.subgraphs:
            ns, mode, data = ev
            return tuple(ns), mode, data
        if multi:
            mode, data = ev
            return (), mode, data
        if call.subgraphs:
            ns, data = ev
            return tuple(ns), call.modes[0], data
        return (), call.modes[0], ev
    except (TypeError, ValueError):
        return None


def _position(ev: Any, call: CallSpec) -> str:
    """'head' for loop-emitted step-start events, 'tail' for end-of-step values."""
    parsed = parse_event(ev, call)
    if parsed is None:
        return "body"
    ns, mode, data = parsed
    if ns != ():
        return "body"
    if mode == "values":
        return "tail"
    if mode == "debug" and isinstance(data, dict) and data.get("type") in ("task", "checkpoint"):
        return "head"
    if mode == "tasks" and isinstance(data, dict) and "input" in data and "result" not in data:
        return "head"
    return "body"


# --------------------------------------------------------------------------- phase 2


def canonicalize(events: Sequence[Any], plan: Sequence[tuple[int, bool]], call: CallSpec) -> list[Any]:
    """Cut ``events`` into the plan's windows and sort the parallel ones.

    ``plan`` is ``[(n_events, parallel), ...]`` per superstep, from the oracle.
    Events beyond the plan form a final window kept in order (and so differ).
    """
    out: list[Any] = []
    i = 0
    for n, parallel in plan:
        window = list(events[i : i + n])
        i += n
        if parallel:
            window = _canon_window(window, call)
        out.append(("<window>", window))
    if i < len(events):
        out.append(("<extra>", list(events[i:])))
    return out


_RANK = {"head": 0, "body": 1, "tail": 2}


def _canon_window(window: list[Any], call: CallSpec) -> list[Any]:
    pos = [_position(ev, call) for ev in window]
    ranks = [_RANK[p] for p in pos]
    if ranks != sorted(ranks):
        # a start event after a result, or values before the end of the step:
        # a real ordering difference, keep the window as is
        return window
    head = [ev for ev, p in zip(window, pos, strict=True) if p == "head"]
    body = [ev for ev, p in zip(window, pos, strict=True) if p == "body"]
    tail = [ev for ev, p in zip(window, pos, strict=True) if p == "tail"]
    return head + sorted(body, key=sort_key) + tail


# --------------------------------------------------------------------------- phase 3


class IdMap:
    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def sub(self, s: str) -> str:
        return UUID_RE.sub(self._one, s)

    def _one(self, mt: re.Match) -> str:
        raw = mt.group(0).lower()
        if raw not in self._ids:
            self._ids[raw] = f"<id:{len(self._ids)}>"
        return self._ids[raw]


def renumber_ids(x: Any, ids: IdMap | None = None) -> Any:
    ids = ids if ids is not None else IdMap()
    if isinstance(x, str):
        return ids.sub(x)
    if isinstance(x, dict):
        # traverse in key order, not insertion order: key order is not compared
        items = sorted(x.items(), key=lambda kv: sort_key(kv[0]))
        return {renumber_ids(k, ids): renumber_ids(v, ids) for k, v in items}
    if isinstance(x, tuple):
        return tuple(renumber_ids(v, ids) for v in x)
    if isinstance(x, list):
        return [renumber_ids(v, ids) for v in x]
    return x


def normalize_stream(events: Sequence[Any], plan: Sequence[tuple[int, bool]], call: CallSpec) -> list[Any]:
    return renumber_ids(canonicalize(events, plan, call))
