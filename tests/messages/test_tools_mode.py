"""``stream_mode="tools"``: tool-call lifecycle events as LangGraph 1.2 streams them."""

import asyncio
from typing import Any

import langgraph.graph as lg_graph
import langgraph.prebuilt as lg_prebuilt
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

import lgtrace.graph as lt_graph
import lgtrace.prebuilt as lt_prebuilt

RUNTIMES = {"langgraph": (lg_graph, lg_prebuilt), "lgtrace": (lt_graph, lt_prebuilt)}


def _graph(rt: str) -> Any:
    graph_mod, prebuilt = RUNTIMES[rt]

    @tool
    def lookup(place: str, runtime: prebuilt.ToolRuntime) -> str:
        """Look a place up."""
        for part in ("books", "pencils"):
            runtime.emit_output_delta(part)
        return f"books, pencils in the {place}"

    @tool
    def broken(place: str) -> str:
        """Fail."""
        raise ValueError(f"no {place}")

    calls = [
        {"name": "lookup", "args": {"place": "office"}, "id": "c1"},
        {"name": "broken", "args": {"place": "attic"}, "id": "c2"},
    ]
    sub = graph_mod.StateGraph(graph_mod.MessagesState)
    sub.add_node("agent", lambda s: {"messages": [AIMessage("", tool_calls=calls[:1])]})
    sub.add_node("tools", prebuilt.ToolNode([lookup]))
    sub.add_edge(graph_mod.START, "agent")
    sub.add_edge("agent", "tools")
    b = graph_mod.StateGraph(graph_mod.MessagesState)
    b.add_node("agent", lambda s: {"messages": [AIMessage("", tool_calls=calls)]})
    b.add_node("tools", prebuilt.ToolNode([lookup, broken], handle_tool_errors=True))
    b.add_node("sub", sub.compile())
    b.add_edge(graph_mod.START, "agent")
    b.add_edge("agent", "tools")
    b.add_edge("tools", "sub")
    return b.compile()


def _events(rt: str, *, subgraphs: bool, is_async: bool, modes: Any) -> list[Any]:
    g = _graph(rt)
    inputs = {"messages": [("user", "go")]}

    def shape(ev: Any) -> Any:
        ns = ev[0] if subgraphs else ()
        mode, payload = (
            (ev[-2], ev[-1]) if isinstance(modes, list) else ("tools", ev[-1] if subgraphs else ev)
        )
        if mode != "tools":
            return None
        ns = tuple(p.split(":")[0] for p in ns)
        out = payload.get("output")
        return ns, {**payload, **({"output": (out.content, out.tool_call_id)} if out is not None else {})}

    if is_async:

        async def arun() -> list[Any]:
            return [e async for e in g.astream(inputs, stream_mode=modes, subgraphs=subgraphs)]

        events = asyncio.run(arun())
    else:
        events = list(g.stream(inputs, stream_mode=modes, subgraphs=subgraphs))
    # parallel tool calls finish in any order: compare each call's events in order
    shaped = [s for s in map(shape, events) if s is not None]
    return sorted(shaped, key=lambda e: (e[0], e[1]["tool_call_id"]))


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("subgraphs", [False, True])
@pytest.mark.parametrize("modes", ["tools", ["tools", "updates"]], ids=["tools", "list"])
def test_tools_mode_as_langgraph(is_async, subgraphs, modes):
    got = _events("lgtrace", subgraphs=subgraphs, is_async=is_async, modes=modes)
    assert got == _events("langgraph", subgraphs=subgraphs, is_async=is_async, modes=modes)
    assert {e[1]["event"] for e in got} >= {
        "tool-started",
        "tool-output-delta",
        "tool-finished",
        "tool-error",
    }
