"""compile(store=...): nodes that ask for ``store`` get it, ``get_store()`` finds it, subgraphs
without their own use their parent's; the same program on LangGraph sees the same store."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import langgraph.config as lg_config
import langgraph.graph as lg_graph
import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

import lgtrace.config as lt_config
import lgtrace.graph as lt_graph


class S(TypedDict, total=False):
    user: str
    seen: Annotated[list, operator.add]
    note: str


def build(graph_mod, config_mod, store):
    def remember(state: S, *, store: BaseStore):
        store.put(("users", state["user"]), "visits", {"n": 1 + _visits(store, state["user"])})
        return {"seen": ["remember"]}

    def recall(state: S):
        item = config_mod.get_store().get(("users", state["user"]), "visits")
        return {"note": f"visits={item.value['n']}"}

    sub = graph_mod.StateGraph(S)
    sub.add_node("recall", recall)
    sub.add_edge(graph_mod.START, "recall")
    b = graph_mod.StateGraph(S)
    b.add_node("remember", remember)
    b.add_node("sub", sub.compile())
    b.add_edge(graph_mod.START, "remember")
    b.add_edge("remember", "sub")
    return b.compile(store=store)


def _visits(store: BaseStore, user: str) -> int:
    item = store.get(("users", user), "visits")
    return item.value["n"] if item else 0


@pytest.mark.parametrize("runtime", ["lgtrace", "langgraph"])
def test_nodes_and_subgraphs_share_the_store(runtime):
    graph_mod, config_mod = (lt_graph, lt_config) if runtime == "lgtrace" else (lg_graph, lg_config)
    store = InMemoryStore()
    app = build(graph_mod, config_mod, store)
    assert app.invoke({"user": "ada", "seen": []})["note"] == "visits=1"
    assert app.invoke({"user": "ada", "seen": []})["note"] == "visits=2"
    assert store.get(("users", "ada"), "visits").value == {"n": 2}


async def test_store_under_astream():
    store = InMemoryStore()
    app = build(lt_graph, lt_config, store)
    chunks = [c async for c in app.astream({"user": "bo", "seen": []}, stream_mode="values")]
    assert chunks[-1]["note"] == "visits=1"


def test_no_store_is_none_and_a_wrong_store_is_refused():
    def node(state: S, store: BaseStore):
        return {"seen": [repr(store)]}

    b = lt_graph.StateGraph(S)
    b.add_node("node", node)
    b.add_edge(lt_graph.START, "node")
    assert b.compile().invoke({"user": "x", "seen": []})["seen"] == ["None"]
    with pytest.raises(TypeError, match="BaseStore"):
        b.compile(store={"not": "a store"})


def test_get_store_outside_a_task():
    with pytest.raises(RuntimeError, match="outside"):
        lt_config.get_store()
