"""Running graphs: superstep planning (``run``), execution (``drive``), the Runnable (``compiled``).

Public, as ``langgraph.runtime``: ``Runtime`` (what a node asking for ``runtime`` gets) and
``get_runtime()``."""

from lgtrace.runtime.context import ExecutionInfo, Runtime, get_runtime

__all__ = ["ExecutionInfo", "Runtime", "get_runtime"]
