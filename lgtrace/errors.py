"""Exceptions with LangGraph's names, so ``except`` clauses port unchanged."""

from __future__ import annotations


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


class GraphInterrupt(Exception):
    """Reserved for human-in-the-loop interrupts (not supported yet)."""


class ParentCommand(Exception):
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
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "ParentCommand",
    "RunCancelled",
]
