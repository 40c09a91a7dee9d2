"""``push_message``, ``Overwrite`` and a key written several times in one task, as LangGraph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import langgraph.graph as lg_graph
import langgraph.graph.message as lg_message
import langgraph.types as lg_types
import pytest
from langchain_core.messages import AIMessage

import lgtrace.graph as lt_graph
import lgtrace.graph.message as lt_message
import lgtrace.types as lt_types
from lgtrace.errors import InvalidUpdateError

RUNTIMES = {"langgraph": (lg_graph, lg_message, lg_types), "lgtrace": (lt_graph, lt_message, lt_types)}


def _shape(ev: Any) -> Any:
    mode, payload = ev
    if mode == "messages":
        message, metadata = payload
        return mode, message.content, message.id, metadata["langgraph_node"]
    if mode == "tasks":
        return mode, {k: v for k, v in payload.items() if k not in ("id", "input")}
    return ev


def _push_run(rt: str) -> list[Any]:
    graph_mod, message_mod, _ = RUNTIMES[rt]

    def pusher(state):
        message_mod.push_message(AIMessage("pushed!", id="m1"))
        return {}

    def pusher_returning(state):
        m = message_mod.push_message(AIMessage("both", id="m2"))
        return {"messages": [m]}

    def elsewhere(state):
        message_mod.push_message(AIMessage("only streamed", id="m3"), state_key=None)
        return None

    b = graph_mod.StateGraph(graph_mod.MessagesState)
    for fn in (pusher, pusher_returning, elsewhere):
        b.add_node(fn.__name__, fn)
    b.add_edge(graph_mod.START, "pusher")
    b.add_edge("pusher", "pusher_returning")
    b.add_edge("pusher_returning", "elsewhere")
    g = b.compile()
    events = [
        _shape(ev)
        for ev in g.stream({"messages": [("user", "hi")]}, stream_mode=["messages", "updates", "tasks"])
    ]
    return [*events, [m.content for m in g.invoke({"messages": [("user", "hi")]})["messages"]]]


def test_push_message_as_langgraph():
    assert _push_run("lgtrace") == _push_run("langgraph")


def test_push_message_needs_an_id_and_a_node():
    with pytest.raises(ValueError, match="ID"):
        lt_message.push_message(AIMessage("no id"))


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _overwrite_run(rt: str) -> Any:
    graph_mod, _, types_mod = RUNTIMES[rt]
    b = graph_mod.StateGraph(Log)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("b", lambda s: {"log": types_mod.Overwrite(["b"])})
    b.add_node("c", lambda s: {"log": {"__overwrite__": ["c"]}})
    b.add_node(
        "d", lambda s: [types_mod.Command(update={"log": ["d1"]}), types_mod.Command(update={"log": ["d2"]})]
    )
    b.add_edge(graph_mod.START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", "d")

    def plain(value: Any) -> Any:  # the two runtimes' Overwrite classes differ: compare their value
        if type(value).__name__ == "Overwrite":
            return ("Overwrite", value.value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(plain(v) for v in value)
        return value

    return [plain(ev) for ev in b.compile().stream({"log": ["START"]}, stream_mode=["updates", "values"])]


def test_overwrite_and_several_writes_to_a_key_as_langgraph():
    assert _overwrite_run("lgtrace") == _overwrite_run("langgraph")


def test_two_overwrites_of_a_key_in_one_step_are_an_error():
    b = lt_graph.StateGraph(Log)
    b.add_node("x", lambda s: {"log": lt_types.Overwrite(["x"])})
    b.add_node("y", lambda s: {"log": lt_types.Overwrite(["y"])})
    b.add_edge(lt_graph.START, "x")
    b.add_edge(lt_graph.START, "y")
    with pytest.raises(InvalidUpdateError, match="'log': Can receive only one Overwrite"):
        b.compile().invoke({"log": []})
