"""A thread whose head is the input checkpoint with the input task's writes saved beside it (the
run stopped between the two: here the saver failed on the step-0 checkpoint; a server reading a
thread while its first run starts sees the same). ``get_state`` counts those writes once, and the
thread continues, as on LangGraph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import StateGraph as LGStateGraph

from lgtrace.graph import START, StateGraph

from .graphs import Boom, Fault, FaultyMemorySaver, cfg, memory_twin


class S(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


def _graph(builder_cls: Any, saver: Any) -> Any:
    g = builder_cls(S)
    g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    g.add_node("b", lambda s: {"x": s["x"] * 10, "log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    return g.compile(checkpointer=saver)


def _stopped_after_input(builder_cls: Any) -> tuple[Any, dict[str, Any]]:
    saver = FaultyMemorySaver(Fault("put", 2))
    with pytest.raises(Boom):
        _graph(builder_cls, saver).invoke({"x": 1, "log": ["in"]}, cfg("t"), durability="sync")
    return _graph(builder_cls, memory_twin(saver)), cfg("t")


@pytest.mark.parametrize("builder_cls", [StateGraph, LGStateGraph], ids=["lgtrace", "langgraph"])
def test_the_input_tasks_saved_writes_count_once(builder_cls: Any) -> None:
    graph, config = _stopped_after_input(builder_cls)
    state = graph.get_state(config)
    assert state.metadata["step"] == -1
    assert state.values == {"x": 1, "log": ["in"]}
    assert state.next == ()  # the input task finished; the step after it is not planned yet
    assert graph.invoke(None, config) == {"x": 20, "log": ["in", "a", "b"]}
