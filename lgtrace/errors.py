"""Exceptions with LangGraph's names, so ``except`` clauses port unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class GraphRecursionError(RecursionError):
    """The run took more supersteps than ``recursion_limit`` allows.

    Raised after every event of the steps that did run has been delivered.
    """


class InvalidUpdateError(Exception):
    """A node produced an update the state cannot take.

    The message names the node and the key at fault.
    """


class EmptyInputError(Exception):
    """A graph was given no input."""


class GraphBubbleUp(Exception):
    """Base of the exceptions a graph uses to stop a task without failing it."""


class GraphInterrupt(GraphBubbleUp):
    """A task stopped at ``interrupt()`` (or a graph at ``interrupt_before``/``after``).

    ``args[0]`` is the tuple of ``Interrupt``s. Raised inside the task; the graph that runs it
    saves the interrupt and ends the run normally (a subgraph re-raises it to its parent)."""

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(tuple(interrupts))

    @property
    def interrupts(self) -> tuple[Any, ...]:
        return self.args[0] if self.args else ()


class NodeInterrupt(GraphInterrupt):
    """Deprecated in LangGraph: raise ``interrupt(value)`` instead. Interrupts the node with ``value``."""

    def __init__(self, value: Any, id: str | None = None) -> None:
        from lgtrace.types import Interrupt

        super().__init__([Interrupt(value=value) if id is None else Interrupt(value=value, id=id)])


class ParentCommand(GraphBubbleUp):
    """Carries a ``Command(graph=Command.PARENT)`` from a subgraph node to its parent."""

    def __init__(self, command: object) -> None:
        super().__init__(command)
        self.command = command


class RunCancelled(BaseException):
    """The consumer stopped the stream; work still running under it is told to stop.

    Raised inside node code (by ``writer()`` and the streaming handler) so that
    loops over model tokens end promptly. It is not an error of the run, and
    like ``asyncio.CancelledError`` it derives from ``BaseException`` so that
    ``except Exception`` in user code does not swallow it.
    """


__all__ = [
    "EmptyInputError",
    "GraphBubbleUp",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "ParentCommand",
    "RunCancelled",
]
