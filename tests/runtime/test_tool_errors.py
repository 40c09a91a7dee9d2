"""``ToolNode``'s default error handling is LangGraph 1.2's: the model is told of arguments the
tool's schema rejects; any other error of a tool fails the run (``handle_tool_errors=True`` reports
every error instead)."""

from typing import Any

import langgraph.graph as lg_graph
import langgraph.prebuilt as lg_prebuilt
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

import lgtrace.graph as lt_graph
import lgtrace.prebuilt as lt_prebuilt

RUNTIMES = {"langgraph": (lg_graph, lg_prebuilt), "lgtrace": (lt_graph, lt_prebuilt)}


@tool
def count(n: int) -> str:
    """Count to n."""
    return str(n)


@tool
def boom(n: int) -> str:
    """Fail."""
    raise ValueError("boom")


def _outcome(rt: str, call: dict[str, Any], **node_kwargs: Any) -> Any:
    graph_mod, prebuilt = RUNTIMES[rt]
    b = graph_mod.StateGraph(graph_mod.MessagesState)
    b.add_node("agent", lambda s: {"messages": [AIMessage("", tool_calls=[call])]})
    b.add_node("tools", prebuilt.ToolNode([count, boom], **node_kwargs))
    b.add_edge(graph_mod.START, "agent")
    b.add_edge("agent", "tools")
    try:
        out = b.compile().invoke({"messages": [("user", "go")]})
    except Exception as exc:
        return type(exc).__name__, str(exc).splitlines()[0]
    return [(m.content, m.status) for m in out["messages"][2:]]


@pytest.mark.parametrize(
    "call",
    [
        {"name": "count", "args": {"n": "many"}, "id": "c1"},
        {"name": "boom", "args": {"n": 1}, "id": "c2"},
        {"name": "nope", "args": {}, "id": "c3"},
    ],
    ids=["invalid-args", "tool-raises", "unknown-tool"],
)
@pytest.mark.parametrize("node_kwargs", [{}, {"handle_tool_errors": True}], ids=["default", "all"])
def test_tool_errors_as_langgraph(call, node_kwargs):
    assert _outcome("lgtrace", call, **node_kwargs) == _outcome("langgraph", call, **node_kwargs)
