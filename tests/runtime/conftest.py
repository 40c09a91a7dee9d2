"""Small helpers shared by the runtime behaviour tests."""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypedDict

import pytest

from lgtrace.graph import END, START, StateGraph


class XState(TypedDict, total=False):
    x: int


def chain(*nodes: tuple[str, Callable[..., Any]], state: Any = XState, **compile_kw: Any) -> Any:
    """A compiled graph START -> n1 -> n2 -> ... -> END."""
    g = StateGraph(state)
    prev = START
    for name, fn in nodes:
        g.add_node(name, fn)
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(**compile_kw)


def fan_out(
    *nodes: tuple[str, Callable[..., Any]],
    then: tuple[str, Callable[..., Any]] | None = None,
    state: Any = XState,
) -> Any:
    """A compiled graph START -> (all nodes in parallel) [-> then, once all finished]."""
    g = StateGraph(state)
    for name, fn in nodes:
        g.add_node(name, fn)
        g.add_edge(START, name)
    if then is not None:
        g.add_node(*then)
        g.add_edge([name for name, _ in nodes], then[0])
    return g.compile()


def lgtrace_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lgtrace-task") and t.is_alive()]


def wait_no_lgtrace_threads(timeout: float = 2.0) -> list[threading.Thread]:
    """Poll until no lgtrace worker thread is alive; return the ones still alive."""
    deadline = time.monotonic() + timeout
    while (alive := lgtrace_threads()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


async def await_no_lgtrace_threads(timeout: float = 2.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while (alive := lgtrace_threads()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return alive


async def other_tasks(timeout: float = 1.0) -> set[asyncio.Task[Any]]:
    """Tasks on the loop besides the current one, after letting them settle."""
    me = asyncio.current_task()
    deadline = time.monotonic() + timeout
    while (rest := {t for t in asyncio.all_tasks() if t is not me and not t.done()}) and (
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.01)
    return rest


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Every test must leave no lgtrace worker thread behind."""
    yield
    assert not wait_no_lgtrace_threads(), "lgtrace worker threads leaked"
