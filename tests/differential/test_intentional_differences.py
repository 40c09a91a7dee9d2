"""Documented, intentional differences between lgtrace and LangGraph.

These are kept out of the differential set: each test pins lgtrace's behaviour
and, for reference, LangGraph's.
"""

from __future__ import annotations

from typing import TypedDict

import pytest

from .harness import CANDIDATE_PREFIX, ORACLE_PREFIX, impl

pytestmark = pytest.mark.skipif(CANDIDATE_PREFIX != "lgtrace", reason="lgtrace-specific behaviour")


class State(TypedDict, total=False):
    a: int


def _graph(m, node):
    return m.StateGraph(State).add_node("node", node).add_edge(m.START, "node").compile()


def test_unknown_stream_mode_langgraph_yields_nothing():
    g = _graph(impl(ORACLE_PREFIX), lambda s: {"a": 1})
    assert list(g.stream({"a": 0}, stream_mode="no-such-mode")) == []


@pytest.mark.parametrize("mode", ["no-such-mode", ["updates", "no-such-mode"]])
def test_unknown_stream_mode_lgtrace_raises_value_error(mode):
    g = _graph(impl("lgtrace"), lambda s: {"a": 1})
    with pytest.raises(ValueError, match="no-such-mode"):
        list(g.stream({"a": 0}, stream_mode=mode))


async def test_unknown_stream_mode_lgtrace_raises_value_error_async():
    g = _graph(impl("lgtrace"), lambda s: {"a": 1})
    with pytest.raises(ValueError, match="no-such-mode"):
        async for _ in g.astream({"a": 0}, stream_mode="no-such-mode"):
            pass


def test_unknown_key_langgraph_ignores_it():
    g = _graph(impl(ORACLE_PREFIX), lambda s: {"a": 1, "not_in_schema": 2})
    assert g.invoke({"a": 0}) == {"a": 1}


def test_unknown_key_lgtrace_raises_invalid_update():
    m = impl("lgtrace")
    g = _graph(m, lambda s: {"a": 1, "not_in_schema": 2})
    with pytest.raises(m.InvalidUpdateError) as info:
        g.invoke({"a": 0})
    # the message names the node and the key at fault
    assert "not_in_schema" in str(info.value)
    assert "node" in str(info.value)


def test_unknown_key_lgtrace_streams_events_before_raising():
    m = impl("lgtrace")
    seen = []
    g = (
        m.StateGraph(State)
        .add_node("ok", lambda s: {"a": 1})
        .add_node("bad", lambda s: {"nope": 1})
        .add_edge(m.START, "ok")
        .add_edge("ok", "bad")
        .compile()
    )
    with pytest.raises(m.InvalidUpdateError):
        for chunk in g.stream({"a": 0}, stream_mode="updates"):
            seen.append(chunk)
    assert {"ok": {"a": 1}} in seen
