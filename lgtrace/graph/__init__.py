"""Building graphs: ``StateGraph`` and the message-list state helpers."""

from lgtrace.constants import END, START
from lgtrace.graph.message import MessagesState, add_messages
from lgtrace.graph.state import StateGraph
from lgtrace.runtime.compiled import CompiledStateGraph

CompiledGraph = CompiledStateGraph

__all__ = [
    "END",
    "START",
    "CompiledGraph",
    "CompiledStateGraph",
    "MessagesState",
    "StateGraph",
    "add_messages",
]
