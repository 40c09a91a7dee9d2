"""Conversation and checkpoint ids on spans (#10).

Every span of a run carries the conversation id as ``gen_ai.conversation.id`` and ``session.id``:
a graph's ``thread_id`` (the drivers copy it into the run metadata), or, for plain LangChain apps,
``thread_id`` / ``session_id`` / ``conversation_id`` from the config's metadata, in that order.
A run without one inherits its parent run's. A task span carries ``langgraph.checkpoint_id`` when
the driver passes ``lgtrace_checkpoint_id=`` to the task's ``on_chain_start``.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.otel import OTelCallbackHandler
from lgtrace.runtime.run import GRAPH_RUNS
from lgtrace.testing.phoenix import PhoenixServer, otlp_tracer_provider

from ..messages.fakes import EchoModel
from .test_spans import Tracing

CONVERSATION_ATTRS = ("gen_ai.conversation.id", "session.id")


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    t = Tracing(capture_chains=True)  # nested chains make spans too: they must carry the id as well
    yield t
    assert not t.handler.runs, f"runs left open: {t.handler.runs}"


def conversation(span: ReadableSpan) -> str | None:
    """The span's conversation id; both attributes are always set together."""
    ids = {span.attributes.get(key) for key in CONVERSATION_ATTRS}
    assert len(ids) == 1, f"{span.name}: {ids}"
    return ids.pop()


@tool
def lookup(place: str) -> str:
    """Describe a place."""
    return f"things in {place}"


def _graph() -> Any:
    """A node that runs a nested chain, a tool and a chat model, then a subgraph doing the same."""

    def talk(state: MessagesState) -> dict[str, Any]:
        RunnableLambda(lambda x: x, name="inner").invoke(1)
        lookup.invoke({"place": "office"})
        return {"messages": [EchoModel().invoke(state["messages"])]}

    async def atalk(state: MessagesState) -> dict[str, Any]:
        await RunnableLambda(lambda x: x, name="inner").ainvoke(1)
        await lookup.ainvoke({"place": "office"})
        return {"messages": [await EchoModel().ainvoke(state["messages"])]}

    sub = StateGraph(MessagesState).add_node("subtalk", talk).add_edge(START, "subtalk").compile(name="sub")
    return (
        StateGraph(MessagesState)
        .add_node("talk", talk)
        .add_node("atalk", atalk)
        .add_node("sub", sub)
        .add_edge(START, "talk")
        .add_edge("talk", "atalk")
        .add_edge("atalk", "sub")
        .compile()
    )


def _span_kinds(tracing: Tracing) -> set[str]:
    kinds = set()
    for span in tracing.spans():
        if span.name.startswith("invoke_workflow"):
            kinds.add("graph")
        elif "langgraph.task_id" in span.attributes:
            kinds.add("task")
        elif span.name.startswith("chat"):
            kinds.add("llm")
        elif span.name.startswith("execute_tool"):
            kinds.add("tool")
        else:
            kinds.add("chain")
    return kinds


def test_every_span_of_an_async_graph_run_carries_the_thread(tracing: Tracing) -> None:
    async def run() -> None:
        config = {**tracing.config, "configurable": {"thread_id": "t1"}}
        inputs = {"messages": [HumanMessage("hello there")]}
        async for _ in _graph().astream(inputs, config, stream_mode="updates", subgraphs=True):
            pass

    asyncio.run(run())
    spans = tracing.spans()
    assert _span_kinds(tracing) == {"graph", "task", "llm", "tool", "chain"}
    assert [s.name for s in spans if s.name.startswith("invoke_workflow")] == [
        "invoke_workflow LangGraph",
        "invoke_workflow sub",
    ]
    assert [(s.name, conversation(s)) for s in spans] == [(s.name, "t1") for s in spans]


def test_sync_graph_spans_carry_the_thread(tracing: Tracing) -> None:
    def talk(state: MessagesState) -> dict[str, Any]:
        RunnableLambda(lambda x: x, name="inner").invoke(1)
        lookup.invoke({"place": "office"})
        return {"messages": [EchoModel().invoke(state["messages"])]}

    sub = StateGraph(MessagesState).add_node("subtalk", talk).add_edge(START, "subtalk").compile(name="sub")
    graph = (
        StateGraph(MessagesState)
        .add_node("talk", talk)
        .add_node("sub", sub)
        .add_edge(START, "talk")
        .add_edge(START, "sub")  # a concurrent step: tasks run in worker threads
        .compile()
    )
    thread = uuid.uuid4()  # ids need not be strings
    graph.invoke(
        {"messages": [HumanMessage("hi")]}, {**tracing.config, "configurable": {"thread_id": thread}}
    )
    spans = tracing.spans()
    assert _span_kinds(tracing) == {"graph", "task", "llm", "tool", "chain"}
    assert [(s.name, conversation(s)) for s in spans] == [(s.name, str(thread)) for s in spans]


def test_no_conversation_no_attributes(tracing: Tracing) -> None:
    def talk(state: MessagesState) -> dict[str, Any]:
        lookup.invoke({"place": "office"})
        return {"messages": [EchoModel().invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("talk", talk).add_edge(START, "talk").compile()
    graph.invoke({"messages": [HumanMessage("hi")]}, tracing.config)
    spans = tracing.spans()
    assert len(spans) == 4
    assert not any(key in s.attributes for s in spans for key in CONVERSATION_ATTRS)
    assert not any("langgraph.checkpoint_id" in s.attributes for s in spans)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"session_id": "s1"}, "s1"),
        ({"conversation_id": "c1"}, "c1"),
        ({"thread_id": "t1", "session_id": "s1", "conversation_id": "c1"}, "t1"),
        ({"session_id": "s1", "conversation_id": "c1"}, "s1"),
        ({"thread_id": "", "conversation_id": "c1"}, "c1"),
        ({"thread_id": 42}, "42"),
    ],
)
def test_plain_langchain_apps_name_the_conversation_in_metadata(
    tracing: Tracing, metadata: dict[str, Any], expected: str
) -> None:
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | EchoModel() | StrOutputParser()
    config = {**tracing.config, "metadata": metadata}
    assert chain.invoke({"q": "hello"}, config) == "hello"
    lookup.invoke({"place": "lab"}, config)
    spans = tracing.spans()
    assert _span_kinds(tracing) == {
        "graph",
        "llm",
        "tool",
        "chain",
    }  # graph: invoke_workflow RunnableSequence
    assert [(s.name, conversation(s)) for s in spans] == [(s.name, expected) for s in spans]


def test_the_thread_wins_over_a_session_in_the_graph_config(tracing: Tracing) -> None:
    def talk(state: MessagesState) -> dict[str, Any]:
        return {"messages": [EchoModel().invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("talk", talk).add_edge(START, "talk").compile()
    config = {**tracing.config, "configurable": {"thread_id": "t1"}, "metadata": {"session_id": "web-7"}}
    graph.invoke({"messages": [HumanMessage("hi")]}, config)
    assert {conversation(s) for s in tracing.spans()} == {"t1"}


def test_a_run_without_an_id_of_its_own_inherits_its_parents(tracing: Tracing) -> None:
    """Through a run that makes no span, too; a run's own id wins over its parent's."""
    handler = tracing.handler
    handler.capture_chains = False
    root, hidden, chat, tool_run, own, other, llm, docs = (uuid.uuid4() for _ in range(8))
    handler.on_chain_start({"name": "app"}, {}, run_id=root, metadata={"session_id": "s1"})
    handler.on_chain_start({"name": "lambda"}, {}, run_id=hidden, parent_run_id=root)  # no span, no metadata
    handler.on_chat_model_start({}, [[HumanMessage("x")]], run_id=chat, parent_run_id=hidden)
    handler.on_tool_start({"name": "t"}, "x", run_id=tool_run, parent_run_id=hidden, metadata={})
    handler.on_tool_start({"name": "own"}, "x", run_id=own, parent_run_id=root, metadata={"thread_id": "t2"})
    handler.on_llm_start({}, ["p"], run_id=llm, parent_run_id=root, metadata={"conversation_id": "c3"})
    handler.on_retriever_start({"name": "docs"}, "q", run_id=docs, parent_run_id=hidden)
    handler.on_chain_start(
        {"name": "other"}, {}, run_id=other, parent_run_id=uuid.uuid4(), metadata={"thread_id": "t9"}
    )
    for run_id in (chat, llm):
        handler.on_llm_end(LLMResult(generations=[]), run_id=run_id)
    handler.on_retriever_end([], run_id=docs)
    for run_id in (tool_run, own):
        handler.on_tool_end("done", run_id=run_id)
    for run_id in (hidden, root, other):
        handler.on_chain_end({}, run_id=run_id)
    assert {s.name: conversation(s) for s in tracing.spans()} == {
        "invoke_workflow app": "s1",
        "chat unknown": "s1",
        "execute_tool t": "s1",
        "execute_tool own": "t2",
        "text_completion unknown": "c3",
        "retrieve docs": "s1",
        "invoke_workflow other": "t9",
    }


# -- the checkpoint a task started from -------------------------------------------------------


def _task_metadata(node: str, step: int, ns: str) -> dict[str, Any]:
    return {
        "thread_id": "t1",
        "langgraph_node": node,
        "langgraph_step": step,
        "langgraph_triggers": ("branch:to:" + node,),
        "langgraph_checkpoint_ns": ns,
    }


def test_task_span_carries_the_checkpoint_it_started_from(tracing: Tracing) -> None:
    """As the drivers will call it: graph run, then a task run through a child manager."""
    graph_id, task_a, task_b, inner = (uuid.uuid4() for _ in range(4))
    GRAPH_RUNS[graph_id] = "LangGraph"
    try:
        manager = CallbackManager.configure(
            inheritable_callbacks=[tracing.handler], inheritable_metadata={"thread_id": "t1"}
        )
        graph_run = manager.on_chain_start(None, {}, name="LangGraph", run_id=graph_id)
        for task_id, node, checkpoint in ((task_a, "a", "1ef-cp-1"), (task_b, "b", None)):
            child = graph_run.get_child("graph:step:1")
            child.add_metadata(_task_metadata(node, 1, f"{node}:{task_id}"))
            extra = {"lgtrace_checkpoint_id": checkpoint} if checkpoint else {}
            task_run = child.on_chain_start(None, {}, name=node, run_id=task_id, **extra)
            if node == "a":  # a chain inside the node never gets the task's checkpoint
                task_run.get_child().on_chain_start(None, 1, name="inner", run_id=inner).on_chain_end(1)
            task_run.on_chain_end({})
        graph_run.on_chain_end({})
    finally:
        GRAPH_RUNS.pop(graph_id, None)
    spans = {s.name: s for s in tracing.spans()}
    assert set(spans) == {"invoke_workflow LangGraph", "a", "b", "inner"}
    assert spans["a"].attributes["langgraph.checkpoint_id"] == "1ef-cp-1"
    assert spans["a"].attributes["langgraph.task_id"] == str(task_a)
    assert "langgraph.checkpoint_id" not in spans["b"].attributes, "no checkpointer, no attribute"
    assert "langgraph.checkpoint_id" not in spans["inner"].attributes
    assert "langgraph.checkpoint_id" not in spans["invoke_workflow LangGraph"].attributes
    assert {conversation(s) for s in spans.values()} == {"t1"}


def test_task_checkpoint_id_through_the_async_manager(tracing: Tracing) -> None:
    graph_id, task_id = uuid.uuid4(), uuid.uuid4()
    GRAPH_RUNS[graph_id] = "LangGraph"

    async def run() -> None:
        manager = AsyncCallbackManager.configure(inheritable_callbacks=[tracing.handler])
        graph_run = await manager.on_chain_start(None, {}, name="LangGraph", run_id=graph_id)
        child = graph_run.get_child("graph:step:3")
        child.add_metadata(_task_metadata("agent", 3, f"agent:{task_id}"))
        task_run = await child.on_chain_start(
            None, {}, name="agent", run_id=task_id, lgtrace_checkpoint_id=uuid.UUID(int=7)
        )
        await task_run.on_chain_end({})
        await graph_run.on_chain_end({})

    try:
        asyncio.run(run())
    finally:
        GRAPH_RUNS.pop(graph_id, None)
    (task,) = tracing.named("agent")
    assert task.attributes["langgraph.checkpoint_id"] == str(uuid.UUID(int=7))
    assert task.attributes["langgraph.step"] == 3


# -- end to end: Phoenix groups a thread's runs into one session -------------------------------


@pytest.mark.timeout(300)  # Phoenix's start-up is charged to the first test using it
def test_a_threads_runs_are_one_phoenix_session(phoenix: PhoenixServer, phoenix_project: str) -> None:
    provider = otlp_tracer_provider(phoenix, phoenix_project)
    local = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(local))
    handler = OTelCallbackHandler(tracer_provider=provider)

    def talk(state: MessagesState) -> dict[str, Any]:
        return {"messages": [EchoModel().invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("talk", talk).add_edge(START, "talk").compile()
    thread, other = f"thread-{uuid.uuid4().hex}", f"thread-{uuid.uuid4().hex}"
    for thread_id in (thread, other, thread):
        config = {"callbacks": [handler], "configurable": {"thread_id": thread_id}}
        graph.invoke({"messages": [HumanMessage("hi")]}, config)
    assert provider.force_flush(10_000)
    provider.shutdown()
    roots = [s for s in local.get_finished_spans() if s.parent is None]
    expected = [format(s.context.trace_id, "032x") for s in roots if s.attributes["session.id"] == thread]
    assert len(expected) == 2

    phoenix.spans(phoenix_project, min_count=len(local.get_finished_spans()), timeout=20)
    deadline = time.monotonic() + 20
    while True:  # sessions are derived as spans are inserted: poll until both traces joined
        try:
            session = phoenix.get_json(f"/v1/sessions/{thread}")["data"]
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            session = {"traces": []}
        if len(session["traces"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert session.get("session_id") == thread, session
    assert sorted(t["trace_id"] for t in session["traces"]) == sorted(expected)
    spans = phoenix.fetch_spans(phoenix_project)
    assert {s["attributes"]["gen_ai.conversation.id"] for s in spans} == {thread, other}


def test_task_spans_of_a_checkpointed_run_name_their_checkpoint(tracing: Tracing) -> None:
    """With a checkpointer, each task span names the checkpoint its step started from: the saved
    checkpoint of the step before, whose pending writes are that task's."""
    from langgraph.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    graph = (
        StateGraph(MessagesState)
        .add_node("a", lambda s: {"messages": [("ai", "a")]})
        .add_node("b", lambda s: {"messages": [("ai", "b")]})
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile(checkpointer=saver)
    )
    config = {**tracing.config, "configurable": {"thread_id": "cp-1"}}
    graph.invoke({"messages": [HumanMessage("hi")]}, config)
    tasks = {
        s.attributes["langgraph.task_id"]: s for s in tracing.spans() if "langgraph.task_id" in s.attributes
    }
    assert len(tasks) == 2
    for saved in saver.list({"configurable": {"thread_id": "cp-1"}}):
        for task_id, _, _ in saved.pending_writes:
            if task_id in tasks:
                span = tasks.pop(task_id)
                assert (
                    span.attributes["langgraph.checkpoint_id"]
                    == saved.config["configurable"]["checkpoint_id"]
                )
                assert conversation(span) == "cp-1"
    assert tasks == {}  # every task span was matched to the checkpoint holding its writes
