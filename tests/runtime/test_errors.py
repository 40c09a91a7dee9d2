"""Failures: what was produced before is delivered, then the original error is raised."""

import asyncio
import operator
import re
import time
from typing import Annotated, TypedDict

import pytest

from lgtrace.constants import STREAM_MODES
from lgtrace.errors import GraphRecursionError, InvalidUpdateError
from lgtrace.graph import START, StateGraph
from lgtrace.types import StreamWriter

from .conftest import chain, fan_out


class Boom(Exception):
    pass


def _ok(state, writer: StreamWriter):
    writer("ok:custom")
    return {"x": 1}


def _fails(state, writer: StreamWriter):
    writer("fails:custom")
    raise Boom("node b exploded")


async def _afails(state, writer: StreamWriter):
    writer("fails:custom")
    await asyncio.sleep(0)
    raise Boom("node b exploded")


EXPECTED_BEFORE_ERROR = [
    ("custom", "ok:custom"),
    ("updates", {"a": {"x": 1}}),
    ("custom", "fails:custom"),
]


def test_stream_delivers_events_then_raises_original_error():
    graph = chain(("a", _ok), ("b", _fails))
    seen = []
    with pytest.raises(Boom, match="node b exploded"):
        for ev in graph.stream({"x": 0}, stream_mode=["custom", "updates"]):
            seen.append(ev)
    assert seen == EXPECTED_BEFORE_ERROR


def test_invoke_raises_original_error():
    graph = chain(("a", _ok), ("b", _fails))
    with pytest.raises(Boom, match="node b exploded"):
        graph.invoke({"x": 0})


@pytest.mark.parametrize("node", [_fails, _afails], ids=["sync-node", "async-node"])
async def test_astream_delivers_events_then_raises_original_error(node):
    graph = chain(("a", _ok), ("b", node))
    seen = []
    with pytest.raises(Boom, match="node b exploded"):
        async for ev in graph.astream({"x": 0}, stream_mode=["custom", "updates"]):
            seen.append(ev)
    assert seen == EXPECTED_BEFORE_ERROR
    with pytest.raises(Boom, match="node b exploded"):
        await graph.ainvoke({"x": 0})


class Acc(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _parallel_graph(sleep):
    def fast(state, writer: StreamWriter):
        writer("fast:custom")
        return {"log": ["fast"]}

    def failing(state):
        sleep(0.1)
        raise Boom("slow failure")

    return fan_out(("fast", fast), ("failing", failing), state=Acc)


def test_error_in_parallel_step_after_sibling_finished_sync():
    seen = []
    with pytest.raises(Boom, match="slow failure"):
        for ev in _parallel_graph(time.sleep).stream({}, stream_mode=["custom", "updates"]):
            seen.append(ev)
    assert seen == [("custom", "fast:custom"), ("updates", {"fast": {"log": ["fast"]}})]


async def test_error_in_parallel_step_after_sibling_finished_async():
    seen = []
    with pytest.raises(Boom, match="slow failure"):
        async for ev in _parallel_graph(time.sleep).astream({}, stream_mode=["custom", "updates"]):
            seen.append(ev)
    assert seen == [("custom", "fast:custom"), ("updates", {"fast": {"log": ["fast"]}})]


def test_debug_task_result_carries_the_error():
    graph = chain(("a", _ok), ("b", _fails))
    seen = []
    with pytest.raises(Boom):
        for ev in graph.stream({"x": 0}, stream_mode="debug"):
            seen.append(ev)
    results = [ev for ev in seen if ev["type"] == "task_result"]
    assert [r["payload"]["name"] for r in results] == ["a", "b"]
    assert results[0]["payload"]["error"] is None
    error = results[1]["payload"]["error"]
    assert isinstance(error, Boom) and str(error) == "node b exploded"
    assert results[1]["step"] == 2


# -- bad input / bad updates -------------------------------------------------------------


def test_unknown_stream_mode_lists_valid_modes():
    graph = chain(("a", lambda s: {"x": 1}))
    with pytest.raises(ValueError) as info:
        list(graph.stream({"x": 0}, stream_mode="bogus"))
    message = str(info.value)
    assert "bogus" in message
    assert all(mode in message for mode in STREAM_MODES)
    with pytest.raises(ValueError, match="bogus"):
        list(graph.stream({"x": 0}, stream_mode=["updates", "bogus"]))


async def test_unknown_stream_mode_astream():
    graph = chain(("a", lambda s: {"x": 1}))
    with pytest.raises(ValueError, match="bogus"):
        async for _ in graph.astream({"x": 0}, stream_mode="bogus"):
            pass


def test_node_returning_non_dict():
    graph = chain(("producer", lambda s: 42))
    with pytest.raises(InvalidUpdateError, match="producer"):
        graph.invoke({"x": 0})


def test_node_returning_unknown_key():
    graph = chain(("producer", lambda s: {"nope": 1}))
    with pytest.raises(InvalidUpdateError) as info:
        graph.invoke({"x": 0})
    assert "producer" in str(info.value) and "nope" in str(info.value)


def test_two_writes_to_plain_key_in_one_step():
    graph = fan_out(("left", lambda s: {"x": 1}), ("right", lambda s: {"x": 2}))
    with pytest.raises(InvalidUpdateError, match="'x'"):
        graph.invoke({"x": 0})
    seen = []
    with pytest.raises(InvalidUpdateError, match="'x'"):
        for ev in graph.stream({"x": 0}, stream_mode="updates"):
            seen.append(ev)
    # both tasks' own updates were produced before the step's writes were applied
    assert sorted(seen, key=str) == [{"left": {"x": 1}}, {"right": {"x": 2}}]


def test_unknown_input_key():
    graph = chain(("a", lambda s: {"x": 1}))
    with pytest.raises(ValueError, match="mystery"):
        graph.invoke({"x": 0, "mystery": 1})


async def _anode(state):
    return {"x": 1}


def test_async_node_under_sync_api_names_the_node():
    graph = chain(("coro_node", _anode))
    with pytest.raises(TypeError, match="coro_node"):
        graph.invoke({"x": 0})
    with pytest.raises(TypeError, match="coro_node"):
        list(graph.stream({"x": 0}, stream_mode="custom"))  # the threaded path
    with pytest.raises(TypeError, match="coro_node"):
        list(graph.stream({"x": 0}))  # the inline path
    assert asyncio.run(graph.ainvoke({"x": 0})) == {"x": 1}


def test_recursion_limit_after_allowed_updates():
    g = StateGraph(Acc)
    g.add_node("loop", lambda s: {"log": ["tick"]})
    g.add_edge(START, "loop")
    g.add_edge("loop", "loop")
    graph = g.compile()
    seen = []
    with pytest.raises(GraphRecursionError, match=re.escape("recursion_limit")):
        for ev in graph.stream({}, {"recursion_limit": 4}, stream_mode="updates"):
            seen.append(ev)
    assert seen == [{"loop": {"log": ["tick"]}}] * 4
    with pytest.raises(GraphRecursionError):
        graph.invoke({}, {"recursion_limit": 4})


async def test_recursion_limit_async():
    g = StateGraph(Acc)
    g.add_node("loop", lambda s: {"log": ["tick"]})
    g.add_edge(START, "loop")
    g.add_edge("loop", "loop")
    graph = g.compile()
    seen = []
    with pytest.raises(GraphRecursionError):
        async for ev in graph.astream({"log": []}, {"recursion_limit": 2}, stream_mode="values"):
            seen.append(ev)
    assert seen == [{"log": []}, {"log": ["tick"]}, {"log": ["tick", "tick"]}]
