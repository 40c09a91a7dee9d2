"""LangGraph's in-memory saver (from ``langgraph-checkpoint``, always installed with lgtrace)."""

from langgraph.checkpoint.memory import InMemorySaver, MemorySaver

__all__ = ["InMemorySaver", "MemorySaver"]
