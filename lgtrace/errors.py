"""Exceptions with LangGraph's names, so ``except`` clauses port unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from langgraph.checkpoint.base import EmptyChannelError

from lgtrace._missing import missing_names


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
    "EmptyChannelError",
    "EmptyInputError",
    "ErrorCode",
    "GraphBubbleUp",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "ParentCommand",
    "RunCancelled",
]


class ErrorCode(Enum):
    """LangGraph's error codes (named in its troubleshooting docs)."""

    GRAPH_RECURSION_LIMIT = "GRAPH_RECURSION_LIMIT"
    INVALID_CONCURRENT_GRAPH_UPDATE = "INVALID_CONCURRENT_GRAPH_UPDATE"
    INVALID_GRAPH_NODE_RETURN_VALUE = "INVALID_GRAPH_NODE_RETURN_VALUE"
    MULTIPLE_SUBGRAPHS = "MULTIPLE_SUBGRAPHS"
    INVALID_CHAT_HISTORY = "INVALID_CHAT_HISTORY"


__getattr__ = missing_names(
    "lgtrace.errors",
    {
        "GraphDrained": "cooperative drain of a run",
        "NodeCancelledError": "a node's own cancellation as an error",
        "NodeError": "node error handlers",
        "NodeTimeoutError": "node timeouts",
        "TaskNotFound": "the LangGraph server's task lookup",
        "UnknownInterruptError": "strict resume checks",
        "is_invalid_resume": "strict resume checks",
    },
)
