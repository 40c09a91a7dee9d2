"""``@task`` calls of the functional API: a task called from inside a running task (an
entrypoint, a graph node or another ``@task``) becomes a push task of the same step. It runs
beside its caller (a worker thread under ``stream``, an asyncio task under ``astream``), streams
like any task (``updates`` ``{name: value}``, ``tasks``/``debug``), and its return value is saved
as its ``__return__`` write, so a resumed run gets it back without running it again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lgtrace.runtime.node import NodeSpec, is_async_callable

if TYPE_CHECKING:
    from lgtrace.runtime.run import Task

CALL_KEY = "__lgtrace_call"
"""Key in a task's ``configurable``: ``(run, task)``, where the task's ``@task`` calls are made."""

RETURN = "__return__"
"""The channel a ``@task``'s return value is written to (LangGraph's name)."""

END_CHANNEL = "__end__"
"""An entrypoint's return value (its output and its ``values``)."""

PREVIOUS = "__previous__"
"""What an entrypoint saves for the next run of its thread (its ``previous`` argument)."""

R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class final(Generic[R, S]):
    """Returned by an entrypoint: return ``value``, save ``save`` as the thread's ``previous``."""

    value: R
    save: S


def split_final(result: Any) -> tuple[Any, Any]:
    """An entrypoint's return value as (output, saved value)."""
    if isinstance(result, final):
        return result.value, result.save
    return result, result


def call_spec(
    func: Callable[..., Any], name: str, retry_policy: tuple[Any, ...], cache_policy: Any
) -> NodeSpec:
    """How the runtime runs a ``@task`` function (its input is ``(args, kwargs)``)."""
    return NodeSpec.plain(
        name,
        func,
        is_async=is_async_callable(func),
        retry_policy=retry_policy,
        cache_policy=cache_policy,
        is_call=True,
    )


def call(spec: NodeSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Schedule a ``@task`` call from the task running in this context; returns its future."""
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get()
    where = (config or {}).get("configurable", {}).get(CALL_KEY)
    if where is None:
        raise RuntimeError(
            f"@task {spec.name!r} was called outside of a runnable context (no graph run): call it from "
            "inside an @entrypoint, a graph node or another @task (it returns a future)"
        )
    run, parent = where
    retry, policy = run.graph.call_defaults
    if (retry and not spec.retry_policy) or (policy is not None and spec.cache_policy is None):
        spec = replace(
            spec, retry_policy=spec.retry_policy or retry, cache_policy=spec.cache_policy or policy
        )
    if parent.call_counter is None:
        parent.call_counter = itertools.count()
    index = next(parent.call_counter)
    task = run.call_task(parent, index, spec, (args, kwargs), config)
    run.step_calls.append(task)
    run.emit_task_starts([task])
    saved = run.saver.call_result(task.id) if run.saver is not None else None
    if saved is not None:  # it finished in an earlier run of this step: not run again
        return _resolved(*saved, in_loop=_in_loop())
    if spec.cache_policy is not None and run.graph.cache is not None:
        from lgtrace.runtime import cache

        task.cache_key = cache.call_key(spec.cache_policy, spec.action, args, kwargs)
        hit = run.graph.cache.get((task.cache_key,)).get(task.cache_key)
        if hit is not None:  # as LangGraph: its update, marked cached; no task result
            value = next((v for c, v in hit if c == RETURN), None)
            task.writes, task.update, task.cache_key = [(RETURN, value)], value, None
            if run.saver is not None:  # saved for the step as if it ran (as LangGraph)
                run.saver.task_done(task)
            if "updates" in run.modes:
                run.emit("updates", {spec.name: value, "__metadata__": {"cached": True}})
            cache.tell_hit(run, task)
            return _resolved(value, None, in_loop=_in_loop())
    fut = run.submit_call(task)
    if parent.call_futures is None:
        parent.call_futures = []
    parent.call_futures.append(fut)
    return fut


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _resolved(value: Any, error: BaseException | None, *, in_loop: bool) -> Any:
    fut: Any = asyncio.get_running_loop().create_future() if in_loop else concurrent.futures.Future()
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)
    return fut


def resolve(fut: Any, task: Task) -> None:
    """Settle a call's future with its task's outcome (after its events were streamed)."""
    if fut.done():
        return
    if task.error is not None:
        fut.set_exception(task.error)
    else:
        fut.set_result(task.update)


class CallFuture(concurrent.futures.Future[Any]):
    """A ``@task`` call's future under ``stream``. The call is queued on the run's pool; a thread
    that waits for its result (``result()`` / ``exception()``) before a worker took it runs it
    itself, so calls waiting on calls never starve the pool (LangGraph hangs there)."""

    def __init__(self) -> None:
        super().__init__()
        self.work: Callable[[], None] | None = None
        self._claim = threading.Lock()

    def run_once(self) -> None:
        """Run the call here, unless another thread did or does."""
        if self.work is not None and self._claim.acquire(blocking=False):
            self.work()

    def result(self, timeout: float | None = None) -> Any:
        self.run_once()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self.run_once()
        return super().exception(timeout)


def wait_calls(task: Task) -> None:
    """A finished task's calls that nobody waited for still finish within its step."""
    for fut in task.call_futures or ():
        if isinstance(fut, concurrent.futures.Future):
            fut.exception()


async def await_calls(task: Task) -> None:
    for fut in task.call_futures or ():
        if isinstance(fut, concurrent.futures.Future):
            await asyncio.wrap_future(fut)
        else:
            await asyncio.wait([fut])
