"""Runtime and context (issue #12): ``StateGraph(..., context_schema=...)``, ``invoke(...,
context=...)``, ``runtime`` injected into nodes, ``get_runtime()``; node signatures read by name
when their annotations cannot be resolved."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypedDict

import langgraph.graph as lg_graph
import langgraph.runtime as lg_runtime
import pytest
from pydantic import BaseModel

import lgtrace.graph as lt_graph
import lgtrace.runtime as lt_runtime
from lgtrace.config import get_runtime


@dataclass
class Ctx:
    user: str
    lang: str = "en"


class PCtx(BaseModel):
    user: str
    lang: str = "en"


class DCtx(TypedDict):
    user: str


class S(TypedDict, total=False):
    out: list


def _graph(graph_mod, runtime_mod, schema):
    def user_of(ctx):
        return ctx["user"] if isinstance(ctx, dict) else ctx.user

    def greet(state: S, runtime: runtime_mod.Runtime):
        via_get = user_of(runtime_mod.get_runtime().context)
        return {"out": [f"hi {user_of(runtime.context)}", via_get, runtime.execution_info.checkpoint_ns[:5]]}

    sub = graph_mod.StateGraph(S, context_schema=schema)
    sub.add_node("inner", lambda s: {"out": s["out"] + [user_of(runtime_mod.get_runtime().context)]})
    sub.add_edge(graph_mod.START, "inner")
    b = graph_mod.StateGraph(S, context_schema=schema)
    b.add_node("greet", greet)
    b.add_node("sub", sub.compile())
    b.add_edge(graph_mod.START, "greet")
    b.add_edge("greet", "sub")
    return b.compile()


@pytest.mark.parametrize("schema", [Ctx, PCtx, DCtx], ids=["dataclass", "pydantic", "typeddict"])
@pytest.mark.parametrize("is_async", [False, True])
def test_context_reaches_nodes_and_subgraphs_as_langgraph(schema, is_async):
    def run(graph_mod, runtime_mod):
        g = _graph(graph_mod, runtime_mod, schema)
        if is_async:
            return asyncio.run(g.ainvoke({"out": []}, context={"user": "ada"}))
        return g.invoke({"out": []}, context={"user": "ada"})

    assert run(lt_graph, lt_runtime) == run(lg_graph, lg_runtime)
    assert run(lt_graph, lt_runtime)["out"] == ["hi ada", "ada", "greet", "ada"]


def test_a_context_of_the_wrong_type_is_named():
    g = _graph(lt_graph, lt_runtime, Ctx)
    with pytest.raises(TypeError, match="context= for graph 'LangGraph' must be a Ctx"):
        g.invoke({"out": []}, context="ada")
    with pytest.raises(TypeError, match=r"must be a dict \(DCtx"):
        _graph(lt_graph, lt_runtime, DCtx).invoke({"out": []}, context=["ada"])


def test_get_runtime_outside_a_graph():
    with pytest.raises(RuntimeError):
        get_runtime()


def test_parameters_read_by_name_when_annotations_do_not_resolve():
    # with ``from __future__ import annotations`` (this module), annotations naming a class local
    # to the function cannot be resolved: config/writer/store/runtime are then found by name
    def build():
        class Local(TypedDict, total=False):
            seen: list

        def node(state: Local, config: RunnableConfig, writer: StreamWriter, runtime: Runtime):  # noqa: F821
            writer("custom!")
            return {"seen": [config["configurable"]["who"], runtime.context["user"]]}

        b = lt_graph.StateGraph(Local)
        b.add_node("node", node)
        b.add_edge(lt_graph.START, "node")
        return b.compile()

    g = build()
    chunks = list(
        g.stream(
            {"seen": []},
            {"configurable": {"who": "me"}},
            context={"user": "u"},
            stream_mode=["custom", "values"],
        )
    )
    assert ("custom", "custom!") in chunks
    assert chunks[-1] == ("values", {"seen": ["me", "u"]})
