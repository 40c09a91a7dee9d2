"""Graph lifecycle callbacks, as ``langgraph.callbacks``: handlers that subclass
``GraphCallbackHandler`` and are passed in ``config["callbacks"]`` hear when a run stops at
an interrupt (``on_interrupt``) and when a run resumes a saved thread (``on_resume``).
Plain langchain-core handlers never receive these events. A handler that raises does not
break the run unless it sets ``raise_error`` (langchain-core's rule for every handler)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.callbacks.manager import ahandle_event, handle_event

from lgtrace.types import Interrupt

GraphLifecycleStatus: TypeAlias = Literal[
    "input", "pending", "done", "interrupt_before", "interrupt_after", "out_of_steps"
]


@dataclass(frozen=True)
class GraphInterruptEvent:
    """A run stopped at one or more interrupts (or before/after a node)."""

    run_id: UUID | None
    status: GraphLifecycleStatus
    checkpoint_id: str
    """The checkpoint the thread waits at."""
    checkpoint_ns: tuple[str, ...]
    interrupts: tuple[Interrupt, ...]


@dataclass(frozen=True)
class GraphResumeEvent:
    """A run resumed a saved thread (``None`` or a ``Command`` as input)."""

    run_id: UUID | None
    status: GraphLifecycleStatus
    checkpoint_id: str
    """The checkpoint the run resumed from."""
    checkpoint_ns: tuple[str, ...]


@dataclass(frozen=True)
class GraphCacheHitEvent:
    """A task was answered from the graph's cache (``CachePolicy``): it did not run (lgtrace only)."""

    run_id: UUID | None
    """The graph run the task belongs to."""
    node: str
    task_id: str
    step: int
    checkpoint_ns: tuple[str, ...]


GraphLifecycleEvent: TypeAlias = GraphInterruptEvent | GraphResumeEvent | GraphCacheHitEvent
_METHODS = {
    GraphInterruptEvent: "on_interrupt",
    GraphResumeEvent: "on_resume",
    GraphCacheHitEvent: "on_cache_hit",
}


class GraphCallbackHandler(BaseCallbackHandler):
    """Subclass to hear graph lifecycle events; ``on_interrupt``/``on_resume`` may be ``async def``."""

    def on_interrupt(self, event: GraphInterruptEvent) -> Any:
        """The run stopped at interrupts."""

    def on_resume(self, event: GraphResumeEvent) -> Any:
        """The run resumed a saved thread."""

    def on_cache_hit(self, event: GraphCacheHitEvent) -> Any:
        """A task was answered from the cache and did not run (lgtrace only)."""


def lifecycle_handlers(callbacks: Any) -> list[GraphCallbackHandler]:
    """The ``GraphCallbackHandler``s among a config's callbacks (a list or a manager)."""
    if callbacks is None:
        return []
    handlers: Sequence[Any] = callbacks.handlers if isinstance(callbacks, BaseCallbackManager) else callbacks
    return [h for h in handlers if isinstance(h, GraphCallbackHandler)]


def notify(handlers: list[GraphCallbackHandler], event: GraphLifecycleEvent) -> None:
    handle_event(handlers, _METHODS[type(event)], None, event)


async def anotify(handlers: list[GraphCallbackHandler], event: GraphLifecycleEvent) -> None:
    await ahandle_event(handlers, _METHODS[type(event)], None, event)


__all__ = [
    "GraphCacheHitEvent",
    "GraphCallbackHandler",
    "GraphInterruptEvent",
    "GraphLifecycleEvent",
    "GraphLifecycleStatus",
    "GraphResumeEvent",
]
