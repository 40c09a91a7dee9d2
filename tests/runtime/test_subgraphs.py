"""Graphs inside graphs: as nodes, called from nodes, namespaces, Command.PARENT."""

import operator
import re
from typing import Annotated, TypedDict

import pytest

from lgtrace.config import get_stream_writer
from lgtrace.graph import START, StateGraph
from lgtrace.types import Command

NS = re.compile(r"^(?P<node>[^:|]+):(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _mark(name):
    def node(state):
        get_stream_writer()(f"{name}:custom")
        return {"log": [name]}

    return node


def _amark(name):
    async def node(state):
        get_stream_writer()(f"{name}:custom")
        return {"log": [name]}

    return node


def _seq(*steps, mark=_mark):
    """START -> step1 -> step2 ...; a step is a name (a marking node) or (name, runnable)."""
    g = StateGraph(Log)
    prev = START
    for step in steps:
        name, action = step if isinstance(step, tuple) else (step, mark(step))
        g.add_node(name, action)
        g.add_edge(prev, name)
        prev = name
    return g.compile()


def _three_levels(mark=_mark):
    grand = _seq("leaf", mark=mark)
    child = _seq("pre", ("grand", grand), mark=mark)
    return _seq(("child", child), "after", mark=mark)


def _node_of(ns_part):
    match = NS.match(ns_part)
    assert match, ns_part
    return match["node"]


def test_compiled_graph_as_node():
    graph = _three_levels()
    # the child starts from the parent's state; its whole output is its update
    assert graph.invoke({"log": []}) == {"log": ["pre", "pre", "leaf", "after"]}


async def test_compiled_graph_as_node_async():
    graph = _three_levels(mark=_amark)
    assert await graph.ainvoke({"log": []}) == {"log": ["pre", "pre", "leaf", "after"]}


def test_subgraphs_true_namespaces_two_levels():
    events = list(_three_levels().stream({"log": []}, stream_mode="updates", subgraphs=True))
    shapes = [(tuple(_node_of(p) for p in ns), list(update)) for ns, update in events]
    assert shapes == [
        (("child",), ["pre"]),
        (("child", "grand"), ["leaf"]),
        (("child",), ["grand"]),
        ((), ["child"]),
        ((), ["after"]),
    ]
    child_ns = {ns[0] for ns, _ in events if ns}
    assert len(child_ns) == 1, "every event of one child run shares its namespace"
    assert events[-2][1] == {"child": {"log": ["pre", "pre", "leaf"]}}


def test_namespace_carries_the_parent_task_id():
    events = list(_three_levels().stream({"log": []}, stream_mode=["tasks", "updates"], subgraphs=True))
    parent_child_task = next(
        payload["id"]
        for ns, mode, payload in events
        if ns == () and mode == "tasks" and payload["name"] == "child"
    )
    child_ns = next(ns for ns, mode, _ in events if ns)
    assert child_ns[0] == f"child:{parent_child_task}"


async def test_subgraphs_true_namespaces_async_with_custom():
    events = [
        (ns, mode, payload)
        async for ns, mode, payload in _three_levels(mark=_amark).astream(
            {"log": []}, stream_mode=["custom", "updates"], subgraphs=True
        )
    ]
    customs = [(tuple(_node_of(p) for p in ns), payload) for ns, mode, payload in events if mode == "custom"]
    assert customs == [
        (("child",), "pre:custom"),
        (("child", "grand"), "leaf:custom"),
        ((), "after:custom"),
    ]


def test_without_subgraphs_flag_no_subgraph_events():
    graph = _three_levels()
    events = list(graph.stream({"log": []}, stream_mode=["updates", "custom", "values"]))
    assert all(len(ev) == 2 and isinstance(ev[0], str) for ev in events)
    assert [p for m, p in events if m == "updates"] == [
        {"child": {"log": ["pre", "pre", "leaf"]}},
        {"after": {"log": ["after"]}},
    ]
    # the subgraph's nodes wrote custom events, but only the parent's own reach the consumer
    assert [p for m, p in events if m == "custom"] == ["after:custom"]


def _calls_child_inside(pass_config):
    child = _seq("pre", ("grand", _seq("leaf")))

    def caller(state, config):
        return child.invoke(state, config) if pass_config else child.invoke(state)

    return _seq(("caller", caller))


@pytest.mark.parametrize("pass_config", [True, False], ids=["explicit-config", "context-config"])
def test_graph_invoked_inside_a_node(pass_config):
    graph = _calls_child_inside(pass_config)
    assert graph.invoke({"log": ["x"]}) == {"log": ["x", "x", "pre", "x", "pre", "leaf"]}
    events = list(graph.stream({"log": ["x"]}, stream_mode="updates", subgraphs=True))
    shapes = [(tuple(_node_of(p) for p in ns), list(update)) for ns, update in events]
    assert shapes == [
        (("caller",), ["pre"]),
        (("caller", "grand"), ["leaf"]),
        (("caller",), ["grand"]),
        ((), ["caller"]),
    ]
    assert list(graph.stream({"log": ["x"]}, stream_mode="updates")) == [
        {"caller": {"log": ["x", "pre", "x", "pre", "leaf"]}}
    ]


async def test_graph_invoked_inside_an_async_node():
    child = _seq("pre", mark=_amark)

    async def caller(state):
        return await child.ainvoke(state)

    graph = _seq(("caller", caller))
    events = [ev async for ev in graph.astream({"log": []}, stream_mode="custom", subgraphs=True)]
    assert [(tuple(_node_of(p) for p in ns), payload) for ns, payload in events] == [
        (("caller",), "pre:custom")
    ]


# -- Command.PARENT --------------------------------------------------------------------------


def _jumper(state):
    return Command(graph=Command.PARENT, goto="target", update={"log": ["jumped"]})


async def _ajumper(state):
    return Command(graph=Command.PARENT, goto="target", update={"log": ["jumped"]})


def _parent_with_jumping_child(jumper=_jumper):
    never_ran = []
    sub = StateGraph(Log)
    sub.add_node("jumper", jumper)
    sub.add_node("never", lambda s: never_ran.append(1) or {"log": ["never"]})
    sub.add_edge(START, "jumper")
    sub.add_edge("jumper", "never")
    g = StateGraph(Log)
    g.add_node("sub", sub.compile())
    g.add_node("target", _mark("target"))
    g.add_node("other", _mark("other"))
    g.add_edge(START, "sub")
    g.add_edge("sub", "other")
    return g.compile(), never_ran


def test_command_parent_routes_the_parent_graph():
    # LangGraph 1.2: the update is the subgraph node's update in the parent; the
    # parent goes to the Command's target in addition to its static edges
    graph, never_ran = _parent_with_jumping_child()
    assert list(graph.stream({"log": []}, stream_mode="updates")) == [
        {"sub": {"log": ["jumped"]}},
        {"other": {"log": ["other"]}},
        {"target": {"log": ["target"]}},
    ]
    assert graph.invoke({"log": []}) == {"log": ["jumped", "other", "target"]}
    assert never_ran == []


def test_command_parent_with_subgraphs_stream():
    graph, never_ran = _parent_with_jumping_child()
    events = list(graph.stream({"log": []}, stream_mode="updates", subgraphs=True))
    assert [u for ns, u in events if ns == ()] == [
        {"sub": {"log": ["jumped"]}},
        {"other": {"log": ["other"]}},
        {"target": {"log": ["target"]}},
    ]
    assert never_ran == []


async def test_command_parent_routes_the_parent_graph_async():
    graph, never_ran = _parent_with_jumping_child(_ajumper)
    assert await graph.ainvoke({"log": []}) == {"log": ["jumped", "other", "target"]}
    assert never_ran == []


def test_command_parent_from_a_top_level_graph_is_an_error():
    graph = _seq(("jumper", _jumper))
    with pytest.raises(Exception) as info:
        graph.invoke({"log": []})
    assert "parent" in f"{type(info.value).__name__} {info.value}".lower()


def test_command_parent_two_levels_deep_routes_the_nearest_parent():
    # grandchild node jumps within the child graph; the top-level graph is not affected
    grand = StateGraph(Log)
    grand.add_node("jumper", lambda s: Command(graph=Command.PARENT, goto="landing", update={"log": ["j"]}))
    grand.add_edge(START, "jumper")
    child = StateGraph(Log)
    child.add_node("grand", grand.compile())
    child.add_node("landing", _mark("landing"))
    child.add_edge(START, "grand")
    graph = _seq(("child", child.compile()), "after")
    assert graph.invoke({"log": []}) == {"log": ["j", "landing", "after"]}
    events = list(graph.stream({"log": []}, stream_mode="updates", subgraphs=True))
    assert [(tuple(_node_of(p) for p in ns), u) for ns, u in events] == [
        (("child",), {"grand": {"log": ["j"]}}),
        (("child",), {"landing": {"log": ["landing"]}}),
        ((), {"child": {"log": ["j", "landing"]}}),
        ((), {"after": {"log": ["after"]}}),
    ]
