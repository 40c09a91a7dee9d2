"""``Runtime``: what a node gets as ``runtime`` (and from ``get_runtime()``): the run's
``context`` (``invoke(..., context=...)``, typed by ``StateGraph(..., context_schema=...)``),
its store, its stream writer, and where the task stands (``execution_info``). As LangGraph's
``langgraph.runtime``; built only for nodes that ask for it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

ContextT = TypeVar("ContextT")


def _no_op(*_: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Where a task stands: its checkpoint, namespace, id, thread, run and attempt."""

    checkpoint_id: str
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None

    def patch(self, **overrides: Any) -> ExecutionInfo:
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class Runtime(Generic[ContextT]):
    """Run-scoped dependencies and utilities for a node."""

    context: ContextT = field(default=None)  # type: ignore[assignment]
    """The run's ``context=`` (an instance of the graph's ``context_schema``)."""
    store: Any = None
    stream_writer: Any = _no_op
    heartbeat: Any = _no_op
    previous: Any = None
    """The previous return value of a functional-API entrypoint (None for graphs)."""
    execution_info: ExecutionInfo | None = None
    server_info: Any = None
    control: Any = None

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """``other``'s values where it has them, this runtime's otherwise."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=other.stream_writer if other.stream_writer is not _no_op else self.stream_writer,
            heartbeat=other.heartbeat if other.heartbeat is not _no_op else self.heartbeat,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
            control=other.control or self.control,
        )

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        return replace(self, **overrides)


def coerce_context(schema: Any, context: Any, graph: str) -> Any:
    """``context=`` as the graph's ``context_schema``: a dict becomes an instance of a dataclass or
    Pydantic schema (as LangGraph); a value of another type is an error naming the schema."""
    if context is None or schema is None:
        return context
    is_class = dataclasses.is_dataclass(schema) or hasattr(schema, "model_fields")
    if is_class:
        if isinstance(context, dict):
            return schema(**context)
        if not isinstance(context, schema):
            raise TypeError(
                f"context= for graph {graph!r} must be a {schema.__name__} (its context_schema) or a dict "
                f"of its fields, got {type(context).__name__}"
            )
    elif _is_typed_dict(schema) and not isinstance(context, dict):
        raise TypeError(
            f"context= for graph {graph!r} must be a dict ({schema.__name__}, its context_schema), "
            f"got {type(context).__name__}"
        )
    return context


def _is_typed_dict(schema: Any) -> bool:
    return isinstance(schema, type) and issubclass(schema, dict) and hasattr(schema, "__annotations__")


def runtime_of(configurable: dict[str, Any], attempt: int = 1) -> Runtime[Any]:
    """The ``Runtime`` of the task whose config's ``configurable`` this is."""
    from lgtrace.runtime.run import SCOPE_KEY

    scope = configurable.get(SCOPE_KEY)
    if scope is None:
        raise RuntimeError("get_runtime() called outside of a graph task")
    ns = configurable.get("checkpoint_ns", "")
    parent_ns, _, own = ns.rpartition("|")
    return Runtime(
        context=scope.context,
        store=scope.store,
        stream_writer=scope.writer,
        execution_info=ExecutionInfo(
            checkpoint_id=(configurable.get("checkpoint_map") or {}).get(parent_ns) or "",
            checkpoint_ns=ns,
            task_id=own.rpartition(":")[2],
            thread_id=configurable.get("thread_id"),
            node_attempt=attempt,
        ),
    )


def get_runtime(context_schema: Any = None) -> Runtime[Any]:
    """The ``Runtime`` of the graph task running in this context."""
    from lgtrace.config import get_config

    return runtime_of(get_config().get("configurable") or {})
