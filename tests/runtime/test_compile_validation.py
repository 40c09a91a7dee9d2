"""``compile()`` (and ``add_node``) reject malformed graphs with a ValueError naming the culprit;
nodes that only look unreachable are a ``UserWarning`` (see test_issue9_reachability)."""

from typing import Literal

import pytest

from lgtrace.graph import END, START, StateGraph
from lgtrace.types import Command

from .conftest import XState


def _noop(state):
    return {}


def _graph(*names):
    g = StateGraph(XState)
    for name in names:
        g.add_node(name, _noop)
    return g


def test_edge_to_unknown_node():
    g = _graph("a")
    g.add_edge(START, "a")
    g.add_edge("a", "ghost")
    with pytest.raises(ValueError, match="ghost"):
        g.compile()


def test_edge_from_unknown_node():
    g = _graph("a")
    g.add_edge(START, "a")
    g.add_edge("phantom", "a")
    with pytest.raises(ValueError, match="phantom"):
        g.compile()


def test_waiting_edge_from_unknown_node():
    g = _graph("a", "b")
    g.add_edge(START, "a")
    g.add_edge(["a", "phantom"], "b")
    with pytest.raises(ValueError, match="phantom"):
        g.compile()


def test_conditional_edge_to_unknown_node():
    g = _graph("a")
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "x", {"x": "nowhere", "end": END})
    with pytest.raises(ValueError, match="nowhere"):
        g.compile()


def test_conditional_edge_from_unknown_node():
    g = _graph("a")
    g.add_edge(START, "a")
    g.add_conditional_edges("nobody", lambda s: END, [END])
    with pytest.raises(ValueError, match="nobody"):
        g.compile()


def test_no_entry_point():
    g = _graph("a")
    g.add_edge("a", END)
    with pytest.raises(ValueError, match=r"(?i)entry"):
        g.compile()


def test_duplicate_node_name():
    g = _graph("a")
    with pytest.raises(ValueError, match="'a'"):
        g.add_node("a", _noop)


@pytest.mark.parametrize("name", [START, END, "a|b", "a:b"])
def test_reserved_node_name(name):
    g = StateGraph(XState)
    with pytest.raises(ValueError) as info:
        g.add_node(name, _noop)
        g.add_edge(START, name)
        g.compile()
    assert name in str(info.value)


def test_unreachable_node_is_a_warning():
    # LangGraph compiles it (a Command built anywhere may still reach it): warn, do not reject
    g = _graph("a", "island")
    g.add_edge(START, "a")
    g.add_edge("island", END)
    with pytest.warns(UserWarning, match="'island' looks unreachable"):
        graph = g.compile()
    assert graph.invoke({"x": 0}) == {"x": 0}


def test_node_reached_only_through_declared_command_is_fine():
    def router(state) -> Command[Literal["target"]]:
        return Command(goto="target")

    g = _graph("target")
    g.add_node("router", router)
    g.add_edge(START, "router")
    assert g.compile().invoke({"x": 0}) == {"x": 0}


def test_undeclared_command_destination_is_checked_at_run_time():
    def router(state) -> Command[Literal["a"]]:
        return Command(goto="missing")

    g = _graph("a")
    g.add_node("router", router)
    g.add_edge(START, "router")
    with pytest.raises(Exception, match="missing"):
        g.compile().invoke({"x": 0})
