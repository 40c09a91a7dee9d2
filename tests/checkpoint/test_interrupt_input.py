"""Bad input around interrupts (issue #11): LangGraph's outcome, and a warning where LangGraph
is silent about something surprising; errors name what is at fault."""

from __future__ import annotations

import logging
import operator
import sqlite3
import threading
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtrace.graph import START, StateGraph
from lgtrace.types import Command, interrupt


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _graph(saver, value=lambda: "question?"):
    def ask(state: S):
        return {"log": [interrupt(value())]}

    b = StateGraph(S)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    return b, b.compile(checkpointer=saver)


def cfg(tid: str) -> dict:
    return {"configurable": {"thread_id": tid}}


def test_resume_with_nothing_waiting_warns_and_runs_on(caplog):
    _, g = _graph(InMemorySaver())
    g.invoke({"log": []}, cfg("t"))
    g.invoke(Command(resume="a"), cfg("t"))  # answered: nothing waits any more
    with caplog.at_level(logging.WARNING, logger="lgtrace.checkpoint"):
        out = g.invoke(Command(resume="again"), cfg("t"))
    assert out == {"log": ["a"]}
    assert "thread 't': no interrupt is waiting" in caplog.text


def test_resume_map_with_an_unknown_id_warns_and_asks_again(caplog):
    _, g = _graph(InMemorySaver())
    g.invoke({"log": []}, cfg("t"))
    with caplog.at_level(logging.WARNING, logger="lgtrace.checkpoint"):
        out = g.invoke(Command(resume={"0" * 32: "x"}), cfg("t"))
    assert [i.value for i in out["__interrupt__"]] == ["question?"]  # asked again
    assert "0" * 32 in caplog.text and "thread 't'" in caplog.text


def test_interrupt_outside_a_graph():
    with pytest.raises(RuntimeError, match="outside"):
        interrupt("nobody is listening")


def test_interrupt_before_an_unknown_node_is_a_compile_error():
    b, _ = _graph(InMemorySaver())
    with pytest.raises(ValueError, match="'no_such_node' is not a node"):
        b.compile(checkpointer=InMemorySaver(), interrupt_before=["no_such_node"])
    with pytest.raises(ValueError, match="interrupt_after: 'nope'"):
        b.compile(checkpointer=InMemorySaver()).invoke({"log": []}, cfg("t"), interrupt_after=["nope"])


def test_a_value_the_saver_cannot_store_names_the_node_and_leaves_the_thread_intact(tmp_path):
    saver = SqliteSaver(sqlite3.connect(tmp_path / "t.sqlite", check_same_thread=False))
    _, g = _graph(saver, value=lambda: threading.Lock())  # not serializable
    with pytest.raises(TypeError) as info:
        g.invoke({"log": []}, cfg("t"), durability="sync")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "node 'ask'" in notes and "thread 't'" in notes
    history = list(g.get_state_history(cfg("t")))
    assert [s.metadata["step"] for s in history] == [0, -1]  # what was saved before is intact
    assert g.get_state(cfg("t")).next == ("ask",)
