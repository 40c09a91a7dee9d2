"""A state that is one value (LangGraph's root channel): ``StateGraph(Annotated[str, operator.add])``,
``StateGraph(list)``, ``StateGraph(int)``. Nodes get the value and return the update (None: no
write); streams, ``invoke``, snapshots, history and saved checkpoints are LangGraph's."""

from __future__ import annotations

import importlib
import operator
from typing import Annotated

import pytest

from .graphs import ALL_MODES, cfg
from .harness import Rt, compare
from .test_interrupts import compare_hitl

MODES = [None, "values", "updates", ALL_MODES]


def _text_graph(m, saver):
    b = m.StateGraph(Annotated[str, operator.add])
    b.add_node("shout", lambda s: s.upper())
    b.add_node("bang", lambda s: "!")
    b.add_node("nothing", lambda s: None)
    b.add_edge(m.START, "shout")
    b.add_edge("shout", "bang")
    b.add_edge("bang", "nothing")
    return b.compile(checkpointer=saver)


@pytest.mark.parametrize(
    "mode", MODES, ids=lambda m: "default" if m is None else "all" if m == ALL_MODES else m
)
def test_a_string_with_a_reducer(mode):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = _text_graph(rt.m, saver)
        rt.stream("turn 1", g, "hi", cfg("t1"), stream_mode=mode)
        rt.stream("turn 2", g, "x", cfg("t1"), stream_mode=mode, version="v2")
        rt.invoke("invoke", g, "y", cfg("t1"))
        rt.state("get_state", g, cfg("t1"))
        rt.history("get_state_history", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


def test_a_list_with_commands_branches_and_sends():
    def scenario(rt: Rt) -> None:
        m = rt.m

        def start(s):
            return m.Command(update=[len(s)], goto=[m.Send("count", s[-1]), "check"])

        def count(x):
            return [x * 10]

        def route(s):
            return "done" if len(s) > 3 else "start"

        b = m.StateGraph(Annotated[list, operator.add])
        b.add_node("start", start)
        b.add_node("count", count)
        b.add_node("check", lambda s: [])
        b.add_node("done", lambda s: ["end"])
        b.add_edge(m.START, "start")
        b.add_conditional_edges("check", route)
        saver = rt.saver()
        g = b.compile(checkpointer=saver)
        rt.stream("run", g, [1], cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.state("get_state", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare(scenario)


def test_a_plain_value_without_a_reducer():
    def scenario(rt: Rt) -> None:
        m = rt.m
        b = m.StateGraph(int)
        b.add_node("inc", lambda s: s + 1)
        b.add_node("as_dict", lambda s: {"x": s})  # written as it is: the state is one value
        b.add_edge(m.START, "inc")
        b.add_edge("inc", "as_dict")
        g = b.compile()
        rt.stream("stream", g, 1, None, stream_mode=["values", "updates", "tasks"])
        rt.invoke("invoke", g, 1, None)
        rt.invoke("invoke v2", g, 1, None, version="v2")

    compare(scenario)


def test_an_interrupt_and_update_state():
    def scenario(rt: Rt) -> None:
        m = rt.m
        types = importlib.import_module(f"{m.prefix}.types")

        def ask(s):
            return [types.interrupt({"have": s})]

        b = m.StateGraph(Annotated[list, operator.add])
        b.add_node("ask", ask)
        b.add_node("after", lambda s: ["after"])
        b.add_edge(m.START, "ask")
        b.add_edge("ask", "after")
        saver = rt.saver()
        g = b.compile(checkpointer=saver)
        rt.stream("pauses", g, ["a"], cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("pauses v2", g, ["b"], cfg("t2"), stream_mode=["values", "updates"], version="v2")
        rt.invoke("invoke while paused", g, None, cfg("t2"))
        rt.state("paused", g, cfg("t1"))
        rt.stream("resume", g, m.Command(resume="yes"), cfg("t1"), stream_mode=ALL_MODES)
        rt.update("update_state", g, cfg("t1"), ["edited"], as_node="ask")
        rt.state("after update", g, cfg("t1"))
        rt.history("history", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_hitl(scenario)


def test_astream():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = _text_graph(rt.m, saver)
        rt.astream("astream", g, "hi", cfg("t1"), stream_mode=ALL_MODES)
        rt.ainvoke("ainvoke", g, "x", cfg("t1"))
        rt.astate("aget_state", g, cfg("t1"))

    compare(scenario)
