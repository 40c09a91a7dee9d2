"""Deprecated LangGraph APIs warn as LangGraph warns them (same category, same behaviour)."""

from __future__ import annotations

import warnings
from typing import TypedDict

import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest

import lgtrace.graph as lt_graph
import lgtrace.types as lt_types


class S(TypedDict, total=False):
    x: int


class In(TypedDict, total=False):
    x: int


def _warned(fn) -> list[tuple[str, str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [
        (type(w.message).__name__, str(w.message))
        for w in caught
        if issubclass(w.category, DeprecationWarning)
    ]


@pytest.mark.parametrize(
    "use",
    [
        lambda m, t: m.StateGraph(S, input=In),
        lambda m, t: m.StateGraph(S, output=In),
        lambda m, t: m.StateGraph(S, config_schema=In),
        lambda m, t: m.StateGraph(S).add_node("n", lambda s: {}, retry=t.RetryPolicy()),
        lambda m, t: m.StateGraph(S).add_node("n", lambda s: {}, input=In),
        lambda m, t: t.GraphOutput(value={"x": 1})["x"],
        lambda m, t: "x" in t.GraphOutput(value={"x": 1}),
    ],
    ids=["input", "output", "config_schema", "retry", "add_node-input", "output-getitem", "output-contains"],
)
def test_warns_as_langgraph(use):
    assert _warned(lambda: use(lt_graph, lt_types)) == _warned(lambda: use(lg_graph, lg_types))
    assert _warned(lambda: use(lt_graph, lt_types))  # and it does warn


class Ctx(TypedDict, total=False):
    y: int


def test_config_schema_beside_context_schema():
    """Both given: LangGraph warns and keeps ``context_schema``; so does lgtrace (StateGraph and
    @entrypoint alike)."""
    import langgraph.func as lg_func

    import lgtrace.func as lt_func

    for graph in (lt_graph, lg_graph):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert graph.StateGraph(S, context_schema=Ctx, config_schema=In).context_schema is Ctx
    for func in (lt_func, lg_func):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main = func.entrypoint(context_schema=Ctx, config_schema=In)(lambda x: x)
        assert main.invoke(1) == 1
