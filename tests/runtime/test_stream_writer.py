"""``get_stream_writer()`` reaches the running task from any code under a node."""

import asyncio

import pytest
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langchain_core.tools import tool

from lgtrace.config import get_stream_writer

from .conftest import chain, fan_out


def _helper(tag):
    get_stream_writer()({"from": tag})


@tool
def shout(text: str) -> str:
    """Shout the text."""
    get_stream_writer()({"from": "tool"})
    return text.upper()


@tool
async def ashout(text: str) -> str:
    """Shout the text, asynchronously."""
    await asyncio.sleep(0)
    get_stream_writer()({"from": "async tool"})
    return text.upper()


def _everywhere_node(state):
    get_stream_writer()({"from": "node"})
    _helper("helper")
    RunnableLambda(lambda _: _helper("runnable")).invoke(None)
    assert shout.invoke({"text": "a"}) == "A"
    with ContextThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_helper, "thread").result()
    RunnableParallel(
        left=RunnableLambda(lambda _: _helper("parallel-left")),
        right=RunnableLambda(lambda _: _helper("parallel-right")),
    ).invoke(None)
    return {"x": 1}


EVERYWHERE = [
    {"from": "node"},
    {"from": "helper"},
    {"from": "runnable"},
    {"from": "tool"},
    {"from": "thread"},
]
PARALLEL = [{"from": "parallel-left"}, {"from": "parallel-right"}]


def _check_everywhere(chunks):
    # the RunnableParallel branches run concurrently: their relative order is free
    assert chunks[: len(EVERYWHERE)] == EVERYWHERE
    assert sorted(chunks[len(EVERYWHERE) :], key=str) == PARALLEL


def test_writer_reaches_helpers_runnables_tools_and_threads_sync():
    graph = chain(("node", _everywhere_node))
    _check_everywhere(list(graph.stream({"x": 0}, stream_mode="custom")))


async def test_writer_reaches_helpers_runnables_tools_and_threads_under_astream():
    graph = chain(("node", _everywhere_node))
    _check_everywhere([c async for c in graph.astream({"x": 0}, stream_mode="custom")])


async def test_writer_in_async_node_and_async_tool():
    async def node(state):
        get_stream_writer()({"from": "async node"})
        assert await ashout.ainvoke({"text": "b"}) == "B"
        await RunnableLambda(_helper).ainvoke("async runnable")
        return {"x": 1}

    graph = chain(("node", node))
    chunks = [c async for c in graph.astream({"x": 0}, stream_mode=["custom", "updates"])]
    assert chunks == [
        ("custom", {"from": "async node"}),
        ("custom", {"from": "async tool"}),
        ("custom", {"from": "async runnable"}),
        ("updates", {"node": {"x": 1}}),
    ]


def test_writer_in_nodes_of_parallel_step():
    def a(state):
        _helper("a")
        return {}

    def b(state):
        _helper("b")
        return {}

    graph = fan_out(("a", a), ("b", b))
    assert sorted(graph.stream({"x": 0}, stream_mode="custom"), key=str) == [{"from": "a"}, {"from": "b"}]


def test_writer_is_a_noop_when_custom_not_requested():
    calls = []

    def node(state):
        get_stream_writer()({"from": "node"})  # must not raise
        calls.append(1)
        return {"x": 1}

    graph = chain(("node", node))
    assert list(graph.stream({"x": 0}, stream_mode="updates")) == [{"node": {"x": 1}}]
    modes = {mode for mode, _ in graph.stream({"x": 0}, stream_mode=["values", "updates", "debug"])}
    assert modes == {"values", "updates", "debug"}
    assert graph.invoke({"x": 0}) == {"x": 1}
    assert len(calls) == 3


async def test_writer_is_a_noop_when_custom_not_requested_async():
    async def node(state):
        get_stream_writer()({"from": "node"})
        return {"x": 1}

    graph = chain(("node", node))
    assert [c async for c in graph.astream({"x": 0}, stream_mode="values")] == [{"x": 0}, {"x": 1}]
    assert await graph.ainvoke({"x": 0}) == {"x": 1}


def test_get_stream_writer_outside_a_run_raises_runtime_error():
    with pytest.raises(RuntimeError):
        get_stream_writer()
