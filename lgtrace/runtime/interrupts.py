"""Interrupts: ``interrupt()`` inside a task, and the answers a resumed run gives it.

A task that may be resumed gets a ``Scratch`` in its config: the answers it already
received (saved as its ``__resume__`` write), a counter of its ``interrupt()`` calls,
and the run's pending answer (``Command(resume=value)``, taken by the first call that
has none) or the answer addressed to its next interrupt id (``Command(resume={id: value})``).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from xxhash import xxh3_128_hexdigest

from lgtrace.config import get_config
from lgtrace.errors import GraphInterrupt
from lgtrace.types import Interrupt

SCRATCH_KEY = "__lgtrace_scratch"
"""Key in a task's ``configurable`` under which its ``Scratch`` is."""

MISSING: Any = object()


def interrupt_id(ns: str, answered: int) -> str:
    """LangGraph's interrupt id: xxh3-128 of the task's namespace, and of how many answers the
    task already has when there are some (so a node's second interrupt has an id of its own)."""
    return xxh3_128_hexdigest((f"{ns}|{answered}" if answered else ns).encode())


def is_resume_map(resume: Any) -> bool:
    """``Command(resume={interrupt_id: value, ...})``: every key is an interrupt id."""
    return isinstance(resume, dict) and all(
        isinstance(k, str) and len(k) == 32 and all(c in "0123456789abcdef" for c in k) for k in resume
    )


class PendingAnswer:
    """The run's one answer to whichever interrupt asks first (``Command(resume=value)``),
    shared with the run's subgraphs."""

    __slots__ = ("_lock", "value")

    def __init__(self, value: Any = MISSING) -> None:
        self.value = value
        self._lock = threading.Lock()

    def take(self) -> Any:
        with self._lock:
            value, self.value = self.value, MISSING
        return value


_FIRST_CALL = threading.Lock()


class Scratch:
    """One task's interrupt state; what it needs from the run is read at its first ``interrupt()``
    (most tasks never call one)."""

    __slots__ = ("_answers", "answer", "calls", "load", "ns", "resume_map", "written")

    def __init__(self, ns: str, load: Any, answer: PendingAnswer, resume_map: dict[str, Any] | None) -> None:
        self.ns = ns
        self.load = load
        """Gives the answers the task received in earlier runs."""
        self.answer = answer
        self.resume_map = resume_map
        self._answers: list[Any] | None = None
        self.calls = itertools.count()  # atomic: parallel calls in one task (threads) count apart
        self.written: list[list[Any]] = []
        """The task's ``__resume__`` writes: the answers used so far, one write per call that got one."""

    @property
    def answers(self) -> list[Any]:
        with _FIRST_CALL:
            if self._answers is None:
                answers = self.load()
                if self.resume_map:
                    ns = self.ns
                    next_id = interrupt_id(ns, len(answers))
                    if next_id in self.resume_map:
                        answers.append(self.resume_map[next_id])
                    elif (first := interrupt_id(ns, 0)) in self.resume_map and first != next_id:
                        answers.append(self.resume_map[first])  # older versions' id for every interrupt
                self._answers = answers
            return self._answers

    def next(self, value: Any, schema: _Schema) -> Any:
        index = next(self.calls)
        if index < len(self.answers):
            self.written.append(self.answers[: index + 1])
            return schema.validate(self.answers[index])
        answer = self.answer.take()
        if answer is not MISSING:
            self.answers.append(answer)
            self.written.append(list(self.answers))
            return schema.validate(answer)
        raise GraphInterrupt(
            (Interrupt(value, interrupt_id(self.ns, len(self.answers)), response_schema=schema.shown),)
        )


class _Schema:
    """``interrupt(response_schema=...)``: a type validates the answer and is shown as JSON Schema;
    a dict is shown as given."""

    __slots__ = ("adapter", "shown")

    def __init__(self, response_schema: Any) -> None:
        if response_schema is None or isinstance(response_schema, dict):
            self.adapter = None
            self.shown = response_schema
        else:
            from pydantic import TypeAdapter

            self.adapter = TypeAdapter(response_schema)
            self.shown = self.adapter.json_schema()

    def validate(self, answer: Any) -> Any:
        return answer if self.adapter is None else self.adapter.validate_python(answer)


def interrupt(value: Any, response_schema: Any = None) -> Any:
    configurable = get_config().get("configurable") or {}
    scratch: Scratch | None = configurable.get(SCRATCH_KEY)
    schema = _Schema(response_schema)
    if scratch is None:  # no checkpointer: nothing can answer, the node stops here
        ns = configurable.get("checkpoint_ns", "")
        raise GraphInterrupt((Interrupt(value, interrupt_id(ns, 0), response_schema=schema.shown),))
    return scratch.next(value, schema)
