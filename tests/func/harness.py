"""Differential scenarios for the functional API (``@entrypoint`` / ``@task``, issue #12).

A scenario is a function ``scenario(rt)`` (``tests.persistence.harness.Rt``) that defines its
``@task`` / ``@entrypoint`` functions with :func:`fapi` of ``rt.m`` (so each runtime gets its
own), drives them through ``rt`` (streams, invokes, state, history, saved checkpoints) and
records the calls its functions saw. :func:`compare_func` runs it on LangGraph and on the
candidate: the traces must be equal after the persistence normalization, with interrupt ids
marked as ids (``tests.persistence.test_interrupts.mark_interrupt_ids``).

Parallel tasks finish in any order; a scenario that fans out tasks makes them wait at a
:class:`Gate` until all of them started, so every task's start event (``tasks`` / ``debug``
``task``, emitted when the entrypoint calls the task) comes before any of their results, and
streams them with ``parallel=True`` (their result events form one bag).

No ``from __future__ import annotations``: the runtimes read annotations at build time.
"""

import asyncio
import contextlib
import importlib
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ..persistence.harness import CANDIDATE_PREFIX, ORACLE_PREFIX, Rt, impl
from ..persistence.test_interrupts import compare_hitl

__all__ = ["CANDIDATE_PREFIX", "ORACLE_PREFIX", "Calls", "Gate", "Rt", "compare_func", "fapi", "impl"]

_apis: dict[str, SimpleNamespace] = {}


def fapi(m: SimpleNamespace) -> SimpleNamespace:
    """The functional API of ``m``'s runtime, plus what its scenarios use from it."""
    prefix = m.prefix
    if prefix not in _apis:
        func = importlib.import_module(f"{prefix}.func")
        types_ = importlib.import_module(f"{prefix}.types")
        config = importlib.import_module(f"{prefix}.config")
        _apis[prefix] = SimpleNamespace(
            **{
                **vars(m),
                "entrypoint": func.entrypoint,
                "task": func.task,
                "interrupt": types_.interrupt,
                "RetryPolicy": types_.RetryPolicy,
                "CachePolicy": types_.CachePolicy,
                "get_stream_writer": config.get_stream_writer,
                "get_config": config.get_config,
            }
        )
    return _apis[prefix]


compare_func = compare_hitl
"""``harness.compare`` with interrupt ids marked as ids in both traces."""


@dataclass
class Calls:
    """What the scenario's functions were called with, in call order (thread safe)."""

    calls: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, *item: Any) -> None:
        with self.lock:
            self.calls.append(item if len(item) > 1 else item[0])

    def sorted(self) -> list:
        """Parallel tasks start in any order: the multiset."""
        return sorted(self.calls, key=repr)

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c == name or (isinstance(c, tuple) and c[0] == name))


class Gate:
    """``n`` parallel tasks wait here until all of them started (see the module docstring).

    The timeout only keeps a runtime that runs them one by one from hanging: it then differs
    (its events interleave) instead."""

    def __init__(self, n: int, timeout: float = 2.0) -> None:
        self.n = n
        self.timeout = timeout
        self.barrier = threading.Barrier(n, timeout=timeout)
        self.arrived = 0
        self.event: asyncio.Event | None = None

    def wait(self) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()

    async def await_(self) -> None:
        if self.event is None:
            self.event = asyncio.Event()
        self.arrived += 1
        if self.arrived >= self.n:
            self.event.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), self.timeout)
