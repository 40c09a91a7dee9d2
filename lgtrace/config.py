"""``get_config`` and ``get_stream_writer``: reach the running task from any code under it."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from lgtrace.types import StreamWriter


def get_config() -> RunnableConfig:
    """The config of the Runnable (or graph task) currently running in this context."""
    config = var_child_runnable_config.get()
    if config is None:
        raise RuntimeError(
            "get_config() called outside of a runnable context (no graph task is running here)"
        )
    return config


def _noop(_: Any) -> None:
    return None


def get_stream_writer() -> StreamWriter:
    """The ``custom`` stream writer of the graph task running in this context.

    Works in nodes, in functions they call, and in Runnables and tools under
    them, in threads too (contexts are copied). It is a no-op when nobody
    subscribed to ``custom``.
    """
    from lgtrace.runtime.run import SCOPE_KEY

    scope = (get_config().get("configurable") or {}).get(SCOPE_KEY)
    return scope.writer if scope is not None else _noop


def get_store() -> Any:
    """The ``BaseStore`` of the graph task running in this context (``compile(store=...)``;
    a subgraph compiled without one uses its parent's). Raises outside a graph task."""
    from lgtrace.runtime.run import SCOPE_KEY

    scope = (get_config().get("configurable") or {}).get(SCOPE_KEY)
    if scope is None:
        raise RuntimeError("get_store() called outside of a graph task")
    return scope.store


def get_runtime(context_schema: Any = None) -> Any:
    """The ``Runtime`` of the graph task running in this context (see ``lgtrace.runtime``)."""
    from lgtrace.runtime.context import get_runtime as _get_runtime

    return _get_runtime(context_schema)


__all__ = ["get_config", "get_runtime", "get_store", "get_stream_writer"]
