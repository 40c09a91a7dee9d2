"""``astream_events(version="v2")`` yields what LangGraph's does: graph, node, model and subgraph
runs, with the nodes' outputs as their runs' ``on_chain_stream`` events."""

from __future__ import annotations

import asyncio
from typing import Any

import langgraph.graph as lg_graph
from langchain_core.messages import HumanMessage

import lgtrace.graph as lt_graph

from .fakes import EchoModel

RUNTIMES = {"langgraph": lg_graph, "lgtrace": lt_graph}


def _graph(m: Any) -> Any:
    model = EchoModel()

    def chat(state):
        return {"messages": [model.invoke(state["messages"])]}

    sub = m.StateGraph(m.MessagesState)
    sub.add_node("inner", lambda s: {"messages": [("ai", "from the subgraph")]})
    sub.add_edge(m.START, "inner")
    b = m.StateGraph(m.MessagesState)
    b.add_node("chat", chat)
    b.add_node("sub", sub.compile(name="sub"))
    b.add_edge(m.START, "chat")
    b.add_edge("chat", "sub")
    return b.compile()


def _summary(value: Any) -> Any:
    if hasattr(value, "content"):
        return (type(value).__name__, value.content)
    if isinstance(value, dict):
        return {k: _summary(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_summary(v) for v in value]
    return value


def _events(rt: str) -> list[Any]:
    async def run() -> list[Any]:
        out = []
        g = _graph(RUNTIMES[rt])
        async for ev in g.astream_events({"messages": [HumanMessage("hi", id="h")]}, version="v2"):
            metadata = ev.get("metadata", {})
            data = ev["data"]
            payload = data.get("chunk", data.get("output", data.get("input")))
            out.append(
                (
                    ev["event"],
                    ev["name"],
                    sorted(t for t in ev.get("tags", []) if not t.startswith("langsmith")),
                    metadata.get("langgraph_node"),
                    metadata.get("langgraph_step"),
                    _summary(payload) if not ev["event"].startswith("on_chat_model") else None,
                )
            )
        return out

    return asyncio.run(run())


def test_astream_events_as_langgraph():
    got, expected = _events("lgtrace"), _events("langgraph")
    assert got == expected
    assert ("on_chain_stream", "chat") in {(e[0], e[1]) for e in got}
