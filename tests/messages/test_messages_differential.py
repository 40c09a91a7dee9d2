"""stream_mode="messages" on lgtrace vs LangGraph (the oracle): same graphs, same fake models.

Compared after normalising task ids and message ids: the sequence of
(namespace, chunk type, content, id pattern, tool calls) and the metadata dicts.
Parallel nodes interleave nondeterministically, so those cases compare each
node's own sequence.
"""

from __future__ import annotations

import asyncio
import importlib
import operator
import re
import warnings
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.tools import tool

from .fakes import EchoModel, ToolCallingFakeModel

IMPLS = ("langgraph", "lgtrace")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load(prefix: str) -> SimpleNamespace:
    graph = importlib.import_module(f"{prefix}.graph")
    prebuilt = importlib.import_module(f"{prefix}.prebuilt")
    return SimpleNamespace(
        StateGraph=graph.StateGraph,
        START=graph.START,
        END=graph.END,
        MessagesState=graph.MessagesState,
        ToolNode=prebuilt.ToolNode,
        tools_condition=prebuilt.tools_condition,
        create_react_agent=prebuilt.create_react_agent,
    )


class Normalizer:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def text(self, value: str) -> str:
        return UUID.sub(lambda m: self.ids.setdefault(m.group(0), f"id{len(self.ids)}"), value)

    def msg_id(self, value: str | None) -> str:
        if value is None:
            return "none"
        if value.startswith(("lc_run--", "run-")):
            return "run:" + self.text(value.split("--", 1)[-1].removeprefix("run-"))
        return self.text(value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items() if k not in ("lc_versions", "timestamp")}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, BaseMessage):
            return self.message(value)
        return value

    def message(self, msg: BaseMessage) -> tuple[Any, ...]:
        calls = tuple((c["name"], tuple(sorted(c["args"]))) for c in getattr(msg, "tool_calls", []) or [])
        return (type(msg).__name__, msg.content, self.msg_id(msg.id), calls)

    def item(self, item: Any, *, ns: bool, modes: bool) -> Any:
        parts = list(item) if (ns or modes) else [item]
        out = []
        if ns:
            out.append(tuple(self.text(s) for s in parts.pop(0)))
        mode = parts.pop(0) if modes else "messages"
        out.append(mode)
        payload = parts.pop(0)
        if mode == "messages":
            msg, meta = payload
            out.append((self.message(msg), self.value(meta)))
        else:
            out.append(self.value(payload))
        return tuple(out)


def run(builder: Any, impl: str, *, is_async: bool = False, **kwargs: Any) -> list[Any]:
    graph, inputs = builder(load(impl))
    kwargs.setdefault("stream_mode", "messages")
    if is_async:

        async def collect() -> list[Any]:
            return [c async for c in graph.astream(inputs, **kwargs)]

        items = asyncio.run(collect())
    else:
        items = list(graph.stream(inputs, **kwargs))
    mode = kwargs["stream_mode"]
    norm = Normalizer()
    return [norm.item(i, ns=kwargs.get("subgraphs", False), modes=isinstance(mode, list)) for i in items]


def per_node(items: list[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        meta = item[-1][1] if item[-2] == "messages" else {}
        groups.setdefault(meta.get("langgraph_node", "?"), []).append(item)
    return groups


# -- graphs -------------------------------------------------------------------------------


class TopicState(TypedDict):
    topic: str
    joke: str
    poem: str


def single_node(m: Any) -> Any:
    model = EchoModel()

    def call_model(state: TopicState):
        return {"joke": model.invoke([HumanMessage(f"joke about {state['topic']}")]).content}

    return m.StateGraph(TopicState).add_node(call_model).add_edge(m.START, "call_model").compile(), {
        "topic": "cats"
    }


def parallel_nodes(m: Any) -> Any:
    model = EchoModel()

    def write_joke(state: TopicState):
        return {"joke": model.invoke([{"role": "user", "content": f"a joke on {state['topic']}"}]).content}

    def write_poem(state: TopicState):
        return {"poem": model.invoke([{"role": "user", "content": f"a poem on {state['topic']}"}]).content}

    graph = (
        m.StateGraph(TopicState)
        .add_node(write_joke)
        .add_node(write_poem)
        .add_edge(m.START, "write_joke")
        .add_edge(m.START, "write_poem")
        .compile()
    )
    return graph, {"topic": "cats"}


def tagged_models(m: Any) -> Any:
    joke_model = EchoModel(tags=["joke"])
    poem_model = EchoModel(tags=["poem"], metadata={"purpose": "verse"})

    async def call_model(state, config):
        joke = await joke_model.ainvoke([{"role": "user", "content": "tell joke"}], config)
        poem = await poem_model.ainvoke([{"role": "user", "content": "write poem"}], config)
        return {"joke": joke.content, "poem": poem.content}

    graph = m.StateGraph(TopicState).add_node(call_model).add_edge(m.START, "call_model").compile()
    return graph, {"topic": "cats"}


def nostream_and_whole_messages(m: Any) -> Any:
    quiet = EchoModel(tags=["nostream"])
    loud = EchoModel()

    def quiet_node(state):
        return {"messages": [quiet.invoke(state["messages"])]}

    def built_node(state):
        return {"messages": [AIMessage(content="built by hand", id="hand-1")]}

    def loud_node(state):
        return {"messages": [loud.invoke([HumanMessage("loud words")])]}

    graph = (
        m.StateGraph(m.MessagesState)
        .add_node(quiet_node)
        .add_node(built_node)
        .add_node(loud_node)
        .add_edge(m.START, "quiet_node")
        .add_edge("quiet_node", "built_node")
        .add_edge("built_node", "loud_node")
        .compile()
    )
    return graph, {"messages": [HumanMessage("quiet please", id="in-1")]}


def input_messages_are_seen(m: Any) -> Any:
    def echo_back(state):
        return {"messages": [*state["messages"], AIMessage("new one", id="a2")]}

    graph = m.StateGraph(m.MessagesState).add_node(echo_back).add_edge(m.START, "echo_back").compile()
    return graph, {"messages": [HumanMessage("hi", id="h1"), AIMessage("hello", id="a1")]}


def nested_runnables(m: Any) -> Any:
    model = EchoModel()
    chain = RunnableLambda(lambda x: [HumanMessage(f"chain {x}")]) | model

    def node(state: TopicState):
        first = chain.invoke("one")
        both = RunnableParallel(a=model, b=model).invoke([HumanMessage("parallel words")])
        batch = model.batch([[HumanMessage("batch a")], [HumanMessage("batch b")]])
        return {"joke": first.content + both["a"].content + "".join(b.content for b in batch)}

    return m.StateGraph(TopicState).add_node(node).add_edge(m.START, "node").compile(), {"topic": "x"}


@tool
def lookup(place: str) -> str:
    """Describe a place using a model."""
    return EchoModel().invoke([HumanMessage(f"items in {place}")]).content


def react_agent(m: Any) -> Any:
    model = ToolCallingFakeModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    id="ai-1",
                    tool_calls=[{"name": "lookup", "args": {"place": "office"}, "id": "call-1"}],
                ),
                AIMessage("the office has desks", id="ai-2"),
            ]
        )
    )
    with warnings.catch_warnings():
        # LangGraph 1.x deprecates its own create_react_agent (for langchain.agents.create_agent);
        # the oracle's warning is not the subject here. lgtrace's does not warn
        # (tests/otel/test_langgraph_runtime.py).
        warnings.filterwarnings(
            "ignore", message="create_react_agent has been moved", category=DeprecationWarning
        )
        agent = m.create_react_agent(model, [lookup])
    return agent, {"messages": [HumanMessage("what is in the office?")]}


def tool_node_graph(m: Any) -> Any:
    model = ToolCallingFakeModel(
        messages=iter(
            [
                AIMessage(
                    "", id="ai-1", tool_calls=[{"name": "lookup", "args": {"place": "attic"}, "id": "c1"}]
                ),
                AIMessage("done now", id="ai-2"),
            ]
        )
    )

    def agent(state):
        return {"messages": [model.invoke(state["messages"])]}

    builder = m.StateGraph(m.MessagesState)
    builder.add_node(agent).add_node("tools", m.ToolNode([lookup]))
    builder.add_edge(m.START, "agent").add_conditional_edges("agent", m.tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(), {"messages": [HumanMessage("go")]}


class ListState(TypedDict):
    log: Annotated[list, operator.add]


def subgraph_with_model(m: Any) -> Any:
    model = EchoModel()

    def inner(state: ListState):
        return {"log": [model.invoke([HumanMessage("inner words")]).content]}

    sub = m.StateGraph(ListState).add_node(inner).add_edge(m.START, "inner").compile()

    def outer(state: ListState):
        return {"log": [model.invoke([HumanMessage("outer words")]).content]}

    graph = (
        m.StateGraph(ListState)
        .add_node(outer)
        .add_node("sub", sub)
        .add_edge(m.START, "outer")
        .add_edge("outer", "sub")
        .compile()
    )
    return graph, {"log": []}


SEQUENTIAL = [single_node, nostream_and_whole_messages, input_messages_are_seen, tool_node_graph]


def per_branch(items: list[Any]) -> dict[tuple[str, ...], list[Any]]:
    """Token sequences per calling branch (its tags), ids dropped: branches run in parallel."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for _mode, (message, meta) in items:
        kind, content, _id, calls = message
        groups.setdefault(tuple(meta.get("tags", ())), []).append((kind, content, calls, meta))
    return groups


def test_nested_runnables() -> None:
    """A chain, a RunnableParallel and a batch (both run in threads, so their runs interleave)."""
    expected, got = (run(nested_runnables, impl) for impl in IMPLS)
    tagged = {k: v for k, v in per_branch(expected).items() if k}
    assert len(tagged) == 2, "the two RunnableParallel branches are told apart by their map:key tags"
    assert {k: v for k, v in per_branch(got).items() if k} == tagged
    assert sorted(map(repr, (t for v in per_branch(got).values() for t in v))) == sorted(
        map(repr, (t for v in per_branch(expected).values() for t in v))
    )


@pytest.mark.parametrize("builder", SEQUENTIAL, ids=lambda b: b.__name__)
def test_sequential_graphs(builder: Any) -> None:
    expected, got = (run(builder, impl) for impl in IMPLS)
    assert expected, "the oracle produced no messages: the case tests nothing"
    assert got == expected


@pytest.mark.parametrize(
    "builder", [single_node, nostream_and_whole_messages, tagged_models], ids=lambda b: b.__name__
)
def test_async_graphs(builder: Any) -> None:
    expected, got = (run(builder, impl, is_async=True) for impl in IMPLS)
    assert expected and got == expected


def test_parallel_nodes_interleave_per_node_order() -> None:
    expected, got = (run(parallel_nodes, impl) for impl in IMPLS)
    assert sorted(per_node(got)) == ["write_joke", "write_poem"]
    assert per_node(got) == per_node(expected)


def test_react_agent_tokens_inside_tool() -> None:
    for is_async in (False, True):
        expected, got = (run(react_agent, impl, is_async=is_async) for impl in IMPLS)
        tools_tokens = [
            i for i in got if i[-1][1]["langgraph_node"] == "tools" and i[-1][0][0] == "AIMessageChunk"
        ]
        assert tools_tokens, "tokens of the model called inside the tool must stream"
        assert got == expected


@pytest.mark.parametrize("subgraphs", [False, True])
def test_subgraph_tokens(subgraphs: bool) -> None:
    expected, got = (run(subgraph_with_model, impl, subgraphs=subgraphs) for impl in IMPLS)
    assert got == expected
    namespaces = {item[0] for item in got} if subgraphs else set()
    assert not subgraphs or len(namespaces) == 2


def test_list_of_modes() -> None:
    kwargs = {"stream_mode": ["messages", "updates"]}
    expected, got = (run(tool_node_graph, impl, **kwargs) for impl in IMPLS)
    assert {i[0] for i in got} == {"messages", "updates"}
    assert got == expected


def test_list_of_modes_with_subgraphs() -> None:
    kwargs = {"stream_mode": ["messages", "updates"], "subgraphs": True}
    expected, got = (run(subgraph_with_model, impl, **kwargs) for impl in IMPLS)
    assert got == expected


@pytest.mark.parametrize("mode", ["values", "updates", "debug", ["updates", "messages", "tasks"]])
def test_react_agent_in_other_modes(mode: Any) -> None:
    """create_react_agent: same steps, Send-per-tool-call tasks and remaining_steps as LangGraph."""

    def collect(impl: str) -> list[Any]:
        graph, inputs = react_agent(load(impl))
        norm = Normalizer()
        return [norm.value(c) for c in graph.stream(inputs, stream_mode=mode)]

    expected, got = collect("langgraph"), collect("lgtrace")
    assert expected and got == expected
