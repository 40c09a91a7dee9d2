"""The functional API (``@entrypoint``, ``@task``) of ``langgraph.func``: not supported by lgtrace
yet (issue #12). Using it is an error that says so, when the decorated function is defined."""

from __future__ import annotations

from typing import Any

_WHAT = (
    "the functional API (langgraph.func: @entrypoint, @task) is not supported by lgtrace yet (issue #12); "
    "build the graph with lgtrace.graph.StateGraph"
)


def entrypoint(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(f"lgtrace.func.entrypoint: {_WHAT}")


def task(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(f"lgtrace.func.task: {_WHAT}")


__all__ = ["entrypoint", "task"]
