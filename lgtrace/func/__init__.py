"""The functional API of ``langgraph.func``: ``@entrypoint`` turns a function into a graph of
one task that takes the input as it is; ``@task`` functions called inside it (or inside a
graph node) run beside it as push tasks of the same step and return futures.

An entrypoint is a ``CompiledStateGraph`` (a langchain-core ``Runnable``): it streams, persists,
interrupts, resumes and traces as any lgtrace graph, and saves its threads in LangGraph's
format (channels ``__start__``, ``__end__``, ``__previous__``; task results as ``__return__``
writes), so a thread continues on either runtime."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Generic, TypedDict, TypeVar

from lgtrace.constants import END, START
from lgtrace.graph.schema import MISSING, Channel
from lgtrace.graph.state import _context_schema, _renamed
from lgtrace.runtime.cache import call_namespace
from lgtrace.runtime.calls import END_CHANNEL, PREVIOUS, call, call_spec, final
from lgtrace.runtime.compiled import CompiledStateGraph, _single_value_output
from lgtrace.types import CachePolicy, RetryPolicy

__all__ = ["entrypoint", "task"]

ContextT = TypeVar("ContextT")
_NO_PARAMS = "Entrypoint function must have at least one parameter"


def _policies(
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None, owner: str
) -> tuple[RetryPolicy, ...]:
    if retry_policy is None:
        return ()
    policies = (retry_policy,) if isinstance(retry_policy, RetryPolicy) else tuple(retry_policy)
    for p in policies:
        if not isinstance(p, RetryPolicy):
            raise TypeError(f"{owner}: retry_policy must be a RetryPolicy or a list of them, got {p!r}")
    return policies


def _ignored(kwargs: dict[str, Any], owner: str) -> None:
    """LangGraph accepts and ignores other keyword arguments: so does lgtrace, but it says so."""
    if kwargs:
        warnings.warn(
            f"{owner}(): keyword arguments {sorted(kwargs)} are ignored (as LangGraph ignores them)",
            stacklevel=3,
        )


class _TaskFunction:
    """A ``@task`` function: calling it (inside a run) schedules it and returns a future."""

    def __init__(
        self, func: Callable[..., Any], name: str | None, retry: tuple[Any, ...], cache: Any
    ) -> None:
        if name is not None:
            if hasattr(func, "__func__"):  # a bound method, renamed without touching the class
                method = functools.partial(func.__func__, func.__self__)  # type: ignore[attr-defined]
                method.__name__ = name  # type: ignore[attr-defined]
                func = method
            else:
                func.__name__ = name
        self.func = func
        self.retry_policy = retry
        self.cache_policy = cache
        functools.update_wrapper(self, func)
        self._spec = call_spec(func, getattr(func, "__name__", type(func).__name__), retry, cache)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call(self._spec, args, kwargs)

    def clear_cache(self, cache: Any) -> None:
        """Forget this task's cached results in ``cache``."""
        if self.cache_policy is not None:
            cache.clear((call_namespace(self.func),))

    async def aclear_cache(self, cache: Any) -> None:
        if self.cache_policy is not None:
            await cache.aclear((call_namespace(self.func),))


def task(
    __func_or_none__: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy | None = None,
    timeout: Any = None,
    **kwargs: Any,
) -> Any:
    """Define a task of the functional API (``@task`` or ``@task(name=..., retry_policy=...)``).

    Called inside an entrypoint, a graph node or another task, it runs beside its caller and
    returns a future (``.result()``, or ``await`` it in async code)."""
    retry_policy = retry_policy or _renamed(kwargs, retry="retry_policy").get("retry")
    _ignored(kwargs, "task")
    if timeout is not None:
        raise NotImplementedError("@task(timeout=...): task timeouts are not supported by lgtrace yet")

    def decorator(func: Callable[..., Any]) -> _TaskFunction:
        owner = f"@task {name or getattr(func, '__name__', func)!r}"
        return _TaskFunction(func, name, _policies(retry_policy, owner), cache_policy)

    if __func_or_none__ is not None:
        return decorator(__func_or_none__)
    return decorator


class _NoKeys(TypedDict):
    pass


class Entrypoint(CompiledStateGraph):
    """An ``@entrypoint`` function as a graph: one task, named after the function, triggered by
    the input; its return value is the graph's output (``__end__``), what it saves (``__previous__``)
    the next run's ``previous``."""

    functional = True

    def coerce_input(self, value: Any, *, strict: bool) -> dict[str, Any]:
        return {}  # the input goes to the entrypoint as it is

    def view(self, values: dict[str, Any]) -> Any:
        return values.get(END_CHANNEL)

    def saved_result(self, writes: list[tuple[str, Any]]) -> Any:
        return next((v for c, v in writes if c == END_CHANNEL), None)

    def get_graph(self, config: Any = None, *, xray: int | bool = False) -> Any:
        """As LangGraph draws an entrypoint: its task from the start, and a dashed edge to the end
        (what it calls is only known by running it)."""
        from langchain_core.runnables.graph import Graph

        drawn = Graph()
        node = drawn.add_node(self.nodes[self.entry].action, self.entry)
        start, end = drawn.add_node(None, START), drawn.add_node(None, END)
        drawn.add_edge(start, node)
        drawn.add_edge(node, end, conditional=True)
        return drawn

    def _final(self, run: Any, version: str) -> Any:
        return _single_value_output(run.output(), run.interrupts, version)


class entrypoint(Generic[ContextT]):
    """Turn a function into a graph (``@entrypoint()`` or ``@entrypoint(checkpointer=...)``).

    The function takes one input; it may also ask for ``previous`` (its thread's last saved
    value), ``config``, ``writer``, ``store`` and ``runtime``. Return ``entrypoint.final(value=...,
    save=...)`` to save something other than what is returned."""

    final = final

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        context_schema: type[ContextT] | None = None,
        cache_policy: CachePolicy | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        context_schema = _context_schema(kwargs, context_schema)
        retry_policy = retry_policy or _renamed(kwargs, retry="retry_policy").get("retry")
        _ignored(kwargs, "entrypoint")
        if timeout is not None:
            raise NotImplementedError("@entrypoint(timeout=...): timeouts are not supported by lgtrace yet")
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.context_schema = context_schema
        self.cache_policy = cache_policy
        self.retry_policy = _policies(retry_policy, "@entrypoint")

    def __call__(self, func: Callable[..., Any]) -> Entrypoint:
        from lgtrace.graph.state import StateGraph

        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise NotImplementedError("Generators are not supported in the Functional API.")
        params = inspect.signature(func).parameters
        if not params:
            raise ValueError(_NO_PARAMS)
        name = func.__name__
        builder = StateGraph(_NoKeys, context_schema=self.context_schema)
        builder.channels = {ch: Channel(ch, None, MISSING) for ch in (END_CHANNEL, PREVIOUS)}
        builder.add_node(name, func, retry_policy=self.retry_policy or None, cache_policy=self.cache_policy)
        builder.add_edge(START, name)
        builder.compile(checkpointer=self.checkpointer, store=self.store, cache=self.cache)  # validates
        graph = Entrypoint(builder, checkpointer=self.checkpointer, store=self.store, cache=self.cache)
        graph.entry = name
        graph.result_keys = graph.output_keys = (END_CHANNEL,)
        graph.nodes[name] = replace(
            graph.nodes[name],
            triggers=(START,),
            wants_previous="previous" in list(params)[1:],
        )
        graph.call_defaults = (self.retry_policy, self.cache_policy)
        return graph
