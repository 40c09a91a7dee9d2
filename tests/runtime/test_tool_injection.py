"""``ToolNode`` injects ``InjectedState``, ``InjectedStore`` and ``ToolRuntime`` arguments, hidden from
the model's schema, as LangGraph's ``ToolNode`` does."""

import asyncio
import warnings
from typing import Annotated, Any

import langgraph.graph as lg_graph
import langgraph.prebuilt as lg_prebuilt
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.store.memory import InMemoryStore

import lgtrace.graph as lt_graph
import lgtrace.prebuilt as lt_prebuilt

RUNTIMES = {"langgraph": (lg_graph, lg_prebuilt), "lgtrace": (lt_graph, lt_prebuilt)}


def _tools(prebuilt: Any) -> list[Any]:
    @tool
    def whoami(
        q: str,
        state: Annotated[dict, prebuilt.InjectedState],
        user: Annotated[str, prebuilt.InjectedState("user")],
    ) -> str:
        """Who is asking."""
        return f"{q}: {user} with {len(state['messages'])} messages"

    @tool
    def remember(q: str, store: Annotated[Any, prebuilt.InjectedStore()]) -> str:
        """Remember q."""
        store.put(("notes",), "last", {"q": q})
        return f"stored {q}"

    @tool
    def with_runtime(q: str, runtime: prebuilt.ToolRuntime) -> str:
        """Use the runtime."""
        return f"{q} {runtime.tool_call_id} {runtime.state['user']} {runtime.context}"

    return [whoami, remember, with_runtime]


def _run(rt: str, is_async: bool) -> tuple[list[str], list[list[str]]]:
    graph_mod, prebuilt = RUNTIMES[rt]
    tools = _tools(prebuilt)

    class S(graph_mod.MessagesState):
        user: str

    calls = [
        {"name": "whoami", "args": {"q": "hi"}, "id": "c1"},
        {"name": "remember", "args": {"q": "x"}, "id": "c2"},
        {"name": "with_runtime", "args": {"q": "y"}, "id": "c3"},
    ]
    b = graph_mod.StateGraph(S)
    b.add_node("agent", lambda s: {"messages": [AIMessage("", tool_calls=calls)]})
    b.add_node("tools", prebuilt.ToolNode(tools))
    b.add_edge(graph_mod.START, "agent")
    b.add_edge("agent", "tools")
    g = b.compile(store=InMemoryStore())
    inputs = {"messages": [("user", "go")], "user": "ada"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_async:
            out = asyncio.run(g.ainvoke(inputs, context={"tenant": 1}))
        else:
            out = g.invoke(inputs, context={"tenant": 1})
    schemas = [sorted(t.tool_call_schema.model_json_schema()["properties"]) for t in tools]
    return [m.content for m in out["messages"][2:]], schemas


@pytest.mark.parametrize("is_async", [False, True])
def test_injected_arguments_as_langgraph(is_async):
    got = _run("lgtrace", is_async)
    assert got == _run("langgraph", is_async)
    assert got[1] == [["q"], ["q"], ["q"]]  # the model sees only q


def test_a_tool_needing_a_store_without_one_is_named():
    (_, remember, _) = _tools(lt_prebuilt)
    b = lt_graph.StateGraph(lt_graph.MessagesState)
    b.add_node(
        "agent",
        lambda s: {
            "messages": [AIMessage("", tool_calls=[{"name": "remember", "args": {"q": "x"}, "id": "c"}])]
        },
    )
    b.add_node("tools", lt_prebuilt.ToolNode([remember], handle_tool_errors=False))
    b.add_edge(lt_graph.START, "agent")
    b.add_edge("agent", "tools")
    with pytest.raises(ValueError, match="'remember' needs a store"):
        b.compile().invoke({"messages": [("user", "go")]})
