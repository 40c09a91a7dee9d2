"""CachePolicy with compile(cache=...): hits skip the node and stream as LangGraph streams them."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict

import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langgraph.cache.memory import InMemoryCache
from langgraph.cache.sqlite import SqliteCache

import lgtrace.graph as lt_graph
import lgtrace.types as lt_types


class S(TypedDict, total=False):
    x: int
    out: Annotated[list, operator.add]


MODES = ["updates", "tasks", "values"]


def _graph(graph_mod, types_mod, cache, calls: list, **policy: Any):
    def expensive(state: S):
        calls.append(state["x"])
        if state["x"] < 0:
            raise ValueError("negative")
        return {"out": [state["x"] * 10]}

    b = graph_mod.StateGraph(S)
    b.add_node("expensive", expensive, cache_policy=types_mod.CachePolicy(**policy))
    b.add_node("after", lambda s: {"out": ["after"]})
    b.add_edge(graph_mod.START, "expensive")
    b.add_edge("expensive", "after")
    return b.compile(cache=cache)


def _run(graph_mod, types_mod, cache, inputs, *, is_async=False, version="v1", **policy):
    calls: list = []
    g = _graph(graph_mod, types_mod, cache, calls, **policy)
    out = []

    def shape(ev):
        mode, payload = (ev["type"], ev["data"]) if version == "v2" else ev
        if mode == "tasks":  # ids differ per run, exceptions compare by identity
            payload = {k: repr(v) if k == "error" else v for k, v in payload.items() if k != "id"}
        return mode, payload

    async def arun(inp):
        return [shape(ev) async for ev in g.astream(inp, stream_mode=MODES, version=version)]

    for inp in inputs:
        try:
            out.append(
                asyncio.run(arun(inp))
                if is_async
                else [shape(ev) for ev in g.stream(inp, stream_mode=MODES, version=version)]
            )
        except ValueError as exc:
            out.append(("error", str(exc)))
    return out, calls


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_hits_stream_as_langgraph(is_async, version):
    inputs = [{"x": 1}, {"x": 1}, {"x": 2}, {"x": -1}, {"x": -1}]
    got = _run(lt_graph, lt_types, InMemoryCache(), inputs, is_async=is_async, version=version)
    expected = _run(lg_graph, lg_types, InMemoryCache(), inputs, is_async=is_async, version=version)
    assert got == expected
    assert got[1] == [1, 2, -1, -1]  # the second x=1 was a hit; a failing node is never cached


def test_ttl_and_key_func(tmp_path):
    calls: list = []
    g = _graph(
        lt_graph,
        lt_types,
        SqliteCache(path=str(tmp_path / "cache.sqlite")),
        calls,
        ttl=1,
        key_func=lambda s: str(s["x"] % 2),
    )
    for x in (1, 3, 2):  # 3 shares 1's key
        g.invoke({"x": x})
    assert calls == [1, 2]
    assert g.invoke({"x": 3})["out"] == [10, "after"]  # 1's cached writes
    time.sleep(1.1)
    g.invoke({"x": 3})
    assert calls == [1, 2, 3]  # expired


def test_a_wrong_cache_is_named():
    b = lt_graph.StateGraph(S)
    b.add_node("n", lambda s: {})
    b.add_edge(lt_graph.START, "n")
    with pytest.raises(TypeError, match="BaseCache"):
        b.compile(cache={})
