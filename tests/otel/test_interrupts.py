"""Interrupts and resumes in OpenTelemetry (#11).

An interrupted run is not an error: every span it ends has status UNSET and no exception event.
The task span an interrupt was raised in carries one ``langgraph.interrupt`` event per interrupt
(``langgraph.interrupt.id``; ``langgraph.interrupt.value`` as JSON only when content is captured);
any span an interrupt ended (a subgraph's graph span, the task that ran it, a tool) carries
``langgraph.interrupted``. The graph span of a run that stopped carries ``langgraph.interrupted``,
``langgraph.interrupt.status``, ``langgraph.interrupt.ids`` and ``langgraph.interrupt.checkpoint_id``
(``langgraph.interrupt.values`` with content capture). The run that resumes the thread is a new
trace whose graph span links to the stopped run's graph span (``langgraph.link.reason="resume"``)
and carries ``langgraph.resumed`` / ``langgraph.resumed_from.*``; both carry the thread as
``gen_ai.conversation.id`` / ``session.id``.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
import urllib.error
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lgtrace.graph import END, START, StateGraph
from lgtrace.otel import OTelCallbackHandler
from lgtrace.testing.phoenix import PhoenixServer, otlp_tracer_provider
from lgtrace.types import Command, interrupt

from .test_spans import Tracing


class State(TypedDict, total=False):
    q: str
    answers: Annotated[list[str], operator.add]


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    t = Tracing()
    yield t
    assert not t.handler.runs, f"runs left open: {t.handler.runs}"


def _ask(state: State) -> dict[str, Any]:
    return {"answers": [interrupt({"question": state["q"]})]}


async def _aask(state: State) -> dict[str, Any]:
    return {"answers": [interrupt({"question": state["q"]})]}


def _first(state: State) -> dict[str, Any]:
    return {"q": state["q"] + "?"}


def _graph(ask: Any = _ask, **compile_options: Any) -> Any:
    return (
        StateGraph(State)
        .add_node("first", _first)
        .add_node("ask", ask)
        .add_edge(START, "first")
        .add_edge("first", "ask")
        .compile(checkpointer=InMemorySaver(), **compile_options)
    )


def _config(tracing: Tracing, thread: str) -> dict[str, Any]:
    return {**tracing.config, "configurable": {"thread_id": thread}}


def _graph_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith("invoke_workflow")]


def _roots(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """The top-level graph spans, one a run."""
    return [s for s in spans if s.parent is None]


def _interrupt_events(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == "langgraph.interrupt"]


def _assert_not_failed(spans: list[ReadableSpan]) -> None:
    for span in spans:
        assert span.status.status_code is StatusCode.UNSET, (span.name, span.status)
        assert not [e for e in span.events if e.name == "exception"], span.name
        assert "error.type" not in span.attributes, span.name


def _checkpoint_id(graph: Any, config: dict[str, Any]) -> str:
    return graph.get_state(config).config["configurable"]["checkpoint_id"]


# -- an interrupted run ----------------------------------------------------------------------------


def test_an_interrupted_run_ends_unset_with_the_interrupt_on_its_task_span(tracing: Tracing) -> None:
    graph = _graph()
    config = _config(tracing, "t-int")
    result = graph.invoke({"q": "deploy"}, config)
    (pending,) = result["__interrupt__"]
    spans = tracing.spans()
    assert [s.name for s in spans] == ["invoke_workflow LangGraph", "first", "ask"]
    _assert_not_failed(spans)
    root, first, ask = spans
    assert _interrupt_events(ask) == [{"langgraph.interrupt.id": pending.id}], "no value without capture"
    assert ask.attributes["langgraph.interrupted"] is True
    assert not _interrupt_events(first) and "langgraph.interrupted" not in first.attributes
    assert not root.events
    assert root.attributes["langgraph.interrupted"] is True
    assert root.attributes["langgraph.interrupt.status"] == "pending"
    assert root.attributes["langgraph.interrupt.ids"] == (pending.id,)
    assert root.attributes["langgraph.interrupt.checkpoint_id"] == _checkpoint_id(graph, config)
    assert "langgraph.interrupt.values" not in root.attributes
    assert {(s.attributes["gen_ai.conversation.id"], s.attributes["session.id"]) for s in spans} == {
        ("t-int", "t-int")
    }
    assert list(tracing.handler.paused) == ["t-int"]


def test_interrupt_values_only_with_content_capture() -> None:
    tracing = Tracing(capture_content=True)
    result = _graph().invoke({"q": "deploy"}, _config(tracing, "t-capture"))
    (pending,) = result["__interrupt__"]
    root, _, ask = tracing.spans()
    (event,) = _interrupt_events(ask)
    assert event["langgraph.interrupt.id"] == pending.id
    assert json.loads(event["langgraph.interrupt.value"]) == {"question": "deploy?"}
    assert json.loads(root.attributes["langgraph.interrupt.values"]) == [{"question": "deploy?"}]
    assert not tracing.handler.runs


def test_a_failing_node_is_still_an_error(tracing: Tracing) -> None:
    def broken(state: State) -> dict[str, Any]:
        raise ValueError("no disk")

    graph = _graph(ask=broken)
    with pytest.raises(ValueError, match="no disk"):
        graph.invoke({"q": "deploy"}, _config(tracing, "t-err"))
    root, _, task = tracing.spans()
    for span in (root, task):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "ValueError"
        assert "langgraph.interrupted" not in span.attributes
    assert [e.name for e in task.events] == ["exception"]
    assert not tracing.handler.paused


# -- the run that resumes ---------------------------------------------------------------------------


def _assert_resume_links(tracing: Tracing, graph: Any, config: dict[str, Any], thread: str) -> None:
    """Two traces of one thread: the second's graph span links to the first's."""
    stopped, resumed = _roots(tracing.spans())
    assert stopped.context.trace_id != resumed.context.trace_id, "the resuming run is a new trace"
    assert resumed.parent is None
    (link,) = resumed.links
    assert link.context.trace_id == stopped.context.trace_id
    assert link.context.span_id == stopped.context.span_id
    waited_at = stopped.attributes["langgraph.interrupt.checkpoint_id"]
    assert dict(link.attributes) == {"langgraph.link.reason": "resume", "langgraph.checkpoint_id": waited_at}
    assert resumed.attributes["langgraph.resumed"] is True
    assert resumed.attributes["langgraph.resumed_from.checkpoint_id"] == waited_at
    assert resumed.attributes["langgraph.resumed_from.trace_id"] == format(stopped.context.trace_id, "032x")
    assert resumed.attributes["langgraph.resumed_from.span_id"] == format(stopped.context.span_id, "016x")
    assert "langgraph.interrupted" not in resumed.attributes
    assert not stopped.links
    for span in (stopped, resumed):
        assert span.attributes["gen_ai.conversation.id"] == thread
        assert span.attributes["session.id"] == thread
    assert thread not in tracing.handler.paused, "the thread went on: nothing left to link to"


def test_the_resuming_run_links_to_the_interrupted_run(tracing: Tracing) -> None:
    graph = _graph()
    config = _config(tracing, "t-resume")
    graph.invoke({"q": "deploy"}, config)
    assert graph.invoke(Command(resume="yes"), config)["answers"] == ["yes"]
    _assert_resume_links(tracing, graph, config, "t-resume")
    spans = tracing.spans()
    _assert_not_failed(spans)
    resumed_ask = [s for s in spans if s.name == "ask"][-1]
    assert not resumed_ask.events and "langgraph.interrupted" not in resumed_ask.attributes


def test_async_interrupt_and_resume(tracing: Tracing) -> None:
    graph = _graph(ask=_aask)
    config = _config(tracing, "t-async")

    async def run() -> None:
        result = await graph.ainvoke({"q": "deploy"}, config)
        (pending,) = result["__interrupt__"]
        (ask,) = tracing.named("ask")
        assert _interrupt_events(ask) == [{"langgraph.interrupt.id": pending.id}]
        async for _ in graph.astream(Command(resume="yes"), config, stream_mode="updates"):
            pass

    asyncio.run(run())
    _assert_not_failed(tracing.spans())
    _assert_resume_links(tracing, graph, config, "t-async")


def test_a_stop_before_a_node_has_no_interrupt_events(tracing: Tracing) -> None:
    graph = _graph(interrupt_before=["ask"], ask=lambda s: {"answers": ["auto"]})
    config = _config(tracing, "t-before")
    graph.invoke({"q": "deploy"}, config)
    spans = tracing.spans()
    assert [s.name for s in spans] == ["invoke_workflow LangGraph", "first"]
    _assert_not_failed(spans)
    root = spans[0]
    assert root.attributes["langgraph.interrupted"] is True
    assert root.attributes["langgraph.interrupt.status"] == "interrupt_before"
    assert root.attributes["langgraph.interrupt.ids"] == ()
    assert not any(_interrupt_events(s) for s in spans)
    assert graph.invoke(None, config)["answers"] == ["auto"]
    _assert_resume_links(tracing, graph, config, "t-before")


def test_a_new_input_on_a_paused_thread_is_not_a_resume(tracing: Tracing) -> None:
    graph = _graph()
    config = _config(tracing, "t-new")
    graph.invoke({"q": "deploy"}, config)
    graph.invoke({"q": "again"}, config)  # stops again: the new run is the one to link to
    graph.invoke(Command(resume="yes"), config)
    first, second, third = _roots(tracing.spans())
    assert not first.links and not second.links
    assert "langgraph.resumed" not in second.attributes
    (link,) = third.links
    assert link.context.span_id == second.context.span_id


def test_a_failed_resume_keeps_the_thread_paused(tracing: Tracing) -> None:
    calls: list[str] = []

    def flaky(state: State) -> dict[str, Any]:
        answer = interrupt("ok?")
        calls.append(answer)
        if len(calls) == 1:
            raise RuntimeError("flaky")
        return {"answers": [answer]}

    graph = _graph(ask=flaky)
    config = _config(tracing, "t-flaky")
    graph.invoke({"q": "deploy"}, config)
    with pytest.raises(RuntimeError):
        graph.invoke(Command(resume="yes"), config)
    graph.invoke(Command(resume="yes"), config)
    stopped, failed, resumed = _roots(tracing.spans())
    assert failed.status.status_code is StatusCode.ERROR
    for span in (failed, resumed):  # both resumed the thread where the first run stopped
        (link,) = span.links
        assert link.context.span_id == stopped.context.span_id
    assert not tracing.handler.paused


def test_paused_threads_are_bounded() -> None:
    tracing = Tracing(max_paused_threads=2)
    graph = _graph()
    for thread in ("a", "b", "c"):
        graph.invoke({"q": thread}, _config(tracing, thread))
    assert list(tracing.handler.paused) == ["b", "c"]
    graph.invoke(Command(resume="yes"), _config(tracing, "a"))  # forgotten: resumed, not linked
    resumed = _roots(tracing.spans())[-1]
    assert resumed.attributes["langgraph.resumed"] is True
    assert not resumed.links and "langgraph.resumed_from.trace_id" not in resumed.attributes


# -- subgraphs, parallel interrupts, tools, commands to the parent --------------------------------------


def test_an_interrupt_in_a_subgraph_is_shown_once_on_its_task(tracing: Tracing) -> None:
    sub = StateGraph(State).add_node("ask", _ask).add_edge(START, "ask").compile(name="sub")
    graph = (
        StateGraph(State)
        .add_node("first", _first)
        .add_node("sub", sub)
        .add_edge(START, "first")
        .add_edge("first", "sub")
        .compile(checkpointer=InMemorySaver())
    )
    config = _config(tracing, "t-sub")
    (pending,) = graph.invoke({"q": "deploy"}, config)["__interrupt__"]
    spans = tracing.spans()
    assert [s.name for s in spans] == [
        "invoke_workflow LangGraph",
        "first",
        "sub",
        "invoke_workflow sub",
        "ask",
    ]
    _assert_not_failed(spans)
    root, _, sub_task, sub_graph, ask = spans
    assert _interrupt_events(ask) == [{"langgraph.interrupt.id": pending.id}]
    for span in (sub_task, sub_graph, ask):
        assert span.attributes["langgraph.interrupted"] is True
    assert not _interrupt_events(sub_task) and not _interrupt_events(sub_graph)
    assert root.attributes["langgraph.interrupt.ids"] == (pending.id,)
    graph.invoke(Command(resume="yes"), config)
    _assert_resume_links(tracing, graph, config, "t-sub")
    resumed_sub = _graph_spans(tracing.spans())[-1]
    assert resumed_sub.name == "invoke_workflow sub" and not resumed_sub.links, "only the top-level run links"


def test_parallel_interrupts_each_on_their_task(tracing: Tracing) -> None:
    def ask_a(state: State) -> dict[str, Any]:
        return {"answers": [interrupt("a?")]}

    def ask_b(state: State) -> dict[str, Any]:
        return {"answers": [interrupt("b?")]}

    graph = (
        StateGraph(State)
        .add_node("a", ask_a)
        .add_node("b", ask_b)
        .add_edge(START, "a")
        .add_edge(START, "b")
        .compile(checkpointer=InMemorySaver())
    )
    config = _config(tracing, "t-par")
    pending = graph.invoke({"q": "x"}, config)["__interrupt__"]
    by_value = {p.value: p.id for p in pending}
    spans = {s.name: s for s in tracing.spans()}
    _assert_not_failed(list(spans.values()))
    assert _interrupt_events(spans["a"]) == [{"langgraph.interrupt.id": by_value["a?"]}]
    assert _interrupt_events(spans["b"]) == [{"langgraph.interrupt.id": by_value["b?"]}]
    root = spans["invoke_workflow LangGraph"]
    assert sorted(root.attributes["langgraph.interrupt.ids"]) == sorted(by_value.values())
    graph.invoke(Command(resume={p.id: p.value.upper() for p in pending}), config)
    _assert_resume_links(tracing, graph, config, "t-par")


def test_an_interrupt_in_a_tool_is_not_a_tool_error(tracing: Tracing) -> None:
    @tool
    def approve(action: str) -> str:
        """Ask a human to approve an action."""
        return interrupt(f"approve {action}?")

    def act(state: State) -> dict[str, Any]:
        return {"answers": [approve.invoke({"action": state["q"]})]}

    graph = _graph(ask=act)
    config = _config(tracing, "t-tool")
    (pending,) = graph.invoke({"q": "deploy"}, config)["__interrupt__"]
    spans = tracing.spans()
    _assert_not_failed(spans)
    (tool_span,) = [s for s in spans if s.name == "execute_tool approve"]
    assert tool_span.attributes["langgraph.interrupted"] is True
    assert not tool_span.events, "the event goes on the task span"
    (ask,) = tracing.named("ask")
    assert _interrupt_events(ask) == [{"langgraph.interrupt.id": pending.id}]


def test_a_command_to_the_parent_is_not_an_error(tracing: Tracing) -> None:
    def handoff(state: State) -> Command:
        return Command(graph=Command.PARENT, goto="done", update={"answers": ["handed off"]})

    sub = StateGraph(State).add_node("handoff", handoff).add_edge(START, "handoff").compile(name="sub")
    graph = (
        StateGraph(State)
        .add_node("sub", sub)
        .add_node("done", lambda s: {"answers": ["done"]})
        .add_edge(START, "sub")
        .add_edge("done", END)
        .compile()
    )
    assert graph.invoke({"q": "x"}, tracing.config)["answers"] == ["handed off", "done"]
    spans = {s.name: s for s in tracing.spans()}
    _assert_not_failed(list(spans.values()))
    assert spans["handoff"].attributes["langgraph.command_to_parent"] is True
    assert spans["invoke_workflow sub"].attributes["langgraph.command_to_parent"] is True
    assert "langgraph.command_to_parent" not in spans["sub"].attributes, "the parent task applied it"
    assert not any("langgraph.interrupted" in s.attributes for s in spans.values())


# -- handlers that hear no lifecycle events ------------------------------------------------------------


def test_a_plain_handler_sees_no_lifecycle_events() -> None:
    """A GraphCallbackHandler registered by ``instrument()`` is not in ``config["callbacks"]``:
    its spans are still UNSET with the interrupt event, only the graph-level marks are missing."""
    from lgtrace.otel import instrument, uninstrument

    exporter = InMemorySpanExporter()
    tracing = Tracing()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = instrument(tracer_provider=tracing.provider)
    try:
        graph = _graph()
        config = {"configurable": {"thread_id": "t-instrumented"}}
        (pending,) = graph.invoke({"q": "deploy"}, config)["__interrupt__"]
        graph.invoke(Command(resume="yes"), config)
    finally:
        uninstrument()
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    _assert_not_failed(spans)
    (ask, _) = [s for s in spans if s.name == "ask"]
    assert _interrupt_events(ask) == [{"langgraph.interrupt.id": pending.id}]
    assert not handler.runs


def test_an_instrumented_handler_links_the_resume() -> None:
    from lgtrace.otel import instrument, uninstrument

    tracing = Tracing()
    instrument(tracer_provider=tracing.provider)
    try:
        graph = _graph()
        config = {"configurable": {"thread_id": "t-instrumented-link"}}
        graph.invoke({"q": "deploy"}, config)
        graph.invoke(Command(resume="yes"), config)
    finally:
        uninstrument()
    stopped, resumed = _roots(tracing.spans())
    assert stopped.attributes["langgraph.interrupted"] is True
    (link,) = resumed.links
    assert link.context.span_id == stopped.context.span_id


# -- end to end: Phoenix shows both runs as one session ------------------------------------------------


@pytest.mark.timeout(300)  # Phoenix's start-up is charged to the first test using it
def test_interrupt_and_resume_are_one_phoenix_session(phoenix: PhoenixServer, phoenix_project: str) -> None:
    """Phoenix drops span links at ingestion (its OTLP decoder reads no links, its REST span has none),
    so the link is checked on the exported spans and, in Phoenix, through ``langgraph.resumed_from.*``."""
    provider = otlp_tracer_provider(phoenix, phoenix_project)
    local = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(local))
    handler = OTelCallbackHandler(tracer_provider=provider)
    graph = _graph()
    thread = f"thread-{uuid.uuid4().hex}"
    config = {"callbacks": [handler], "configurable": {"thread_id": thread}}
    (pending,) = graph.invoke({"q": "deploy"}, config)["__interrupt__"]
    graph.invoke(Command(resume="yes"), config)
    assert provider.force_flush(10_000)
    provider.shutdown()
    exported = local.get_finished_spans()
    stopped, resumed = sorted((s for s in exported if s.parent is None), key=lambda s: s.start_time or 0)
    (link,) = resumed.links  # what went over OTLP
    assert link.context.span_id == stopped.context.span_id
    stopped_trace, resumed_trace = (format(s.context.trace_id, "032x") for s in (stopped, resumed))
    assert stopped_trace != resumed_trace

    spans = phoenix.spans(phoenix_project, min_count=len(exported), timeout=20)
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
    assert [t["trace_id"] for t in session["traces"]] == [stopped_trace, resumed_trace]

    assert {s["status_code"] for s in spans} == {"UNSET"}, "neither run failed"
    roots = {s["trace_id"]: s for s in spans if s["parent_id"] is None}
    stopped_root, resumed_root = roots[stopped_trace], roots[resumed_trace]
    assert stopped_root["attributes"]["langgraph.interrupted"] is True
    assert list(stopped_root["attributes"]["langgraph.interrupt.ids"]) == [pending.id]
    assert resumed_root["attributes"]["langgraph.resumed"] is True
    assert resumed_root["attributes"]["langgraph.resumed_from.trace_id"] == stopped_trace
    assert resumed_root["attributes"]["langgraph.resumed_from.span_id"] == stopped_root["span_id"]
    (ask,) = [s for s in spans if s["name"] == "ask" and s["trace_id"] == stopped_trace]
    assert ask["status_code"] == "UNSET"
    assert [e["name"] for e in ask["events"]] == ["langgraph.interrupt"]
    assert ask["events"][0]["attributes"]["langgraph.interrupt.id"] == pending.id
    assert {s["attributes"]["session.id"] for s in spans} == {thread}
