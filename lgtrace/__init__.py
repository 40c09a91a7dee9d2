"""lgtrace: LangGraph-compatible graphs with tracing-first streaming."""

from lgtrace.constants import END, START
from lgtrace.graph import CompiledStateGraph, MessagesState, StateGraph, add_messages

__version__ = "0.1.0"

__all__ = ["END", "START", "CompiledStateGraph", "MessagesState", "StateGraph", "__version__", "add_messages"]
