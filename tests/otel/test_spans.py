"""OTel spans from lgtrace's handler: tree, attributes, the debug mirror, context, errors, lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableParallel
from langchain_openai import ChatOpenAI
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.otel import OTelCallbackHandler
from lgtrace.prebuilt import create_react_agent
from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall

from ..messages.fakes import EchoModel


class Tracing:
    def __init__(self, **options: Any) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.handler = OTelCallbackHandler(
            tracer_provider=self.provider, meter_provider=self.meters, **options
        )
        self.tracer = self.provider.get_tracer("test")

    @property
    def config(self) -> RunnableConfig:
        return {"callbacks": [self.handler]}

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        if span.parent is None:
            return None
        return next((s for s in self.spans() if s.context.span_id == span.parent.span_id), None)

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        return [
            p
            for rm in (data.resource_metrics if data else [])
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
            for p in m.data.data_points
        ]


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    t = Tracing()
    yield t
    assert not t.handler.runs, f"runs left open: {t.handler.runs}"


class Log(TypedDict):
    log: Annotated[list, operator.add]


def lookup(place: str) -> str:
    """Describe a place."""
    return f"things in {place}"


def agent_with_server(server: FakeOpenAIServer, **model_kwargs: Any) -> Any:
    llm = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini", **model_kwargs)
    return create_react_agent(llm, [lookup])


AGENT_REPLIES = [Reply(tool_calls=[ToolCall("lookup", {"place": "office"})]), Reply("desks and chairs")]


def test_span_tree_of_an_agent_with_real_http(tracing: Tracing) -> None:
    with FakeOpenAIServer(replies=list(AGENT_REPLIES)) as server:
        agent_with_server(server, temperature=0.2, max_tokens=50).invoke(
            {"messages": [HumanMessage("what is in the office?")]}, tracing.config
        )
    (root,) = tracing.named("invoke_workflow LangGraph")
    assert root.parent is None and root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    tasks = [s for s in tracing.spans() if "langgraph.task_id" in s.attributes]
    assert [(s.name, s.attributes["langgraph.step"]) for s in tasks] == [
        ("agent", 1),
        ("tools", 2),
        ("agent", 3),
    ]
    assert all(tracing.parent_of(s) is root for s in tasks)
    chats = tracing.named("chat gpt-4o-mini")
    assert len(chats) == 2 and all(tracing.parent_of(c).name == "agent" for c in chats)
    chat = chats[0]
    assert chat.kind is trace.SpanKind.CLIENT
    attrs = chat.attributes
    assert attrs["gen_ai.provider.name"] == "openai" and attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.temperature"] == 0.2 and attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini" and attrs["gen_ai.response.id"].startswith(
        "chatcmpl-"
    )
    assert list(attrs["gen_ai.response.finish_reasons"]) == ["tool_calls"]
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert (
        attrs["llm.token_count.total"]
        == attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"]
    )
    assert attrs["openinference.span.kind"] == "LLM" and attrs["gen_ai.request.stream"] is False
    (tool,) = tracing.named("execute_tool lookup")
    assert tracing.parent_of(tool).name == "tools"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_0_0"
    assert tool.attributes["gen_ai.tool.description"] == "Describe a place."
    assert all(s.status.status_code is StatusCode.UNSET for s in tracing.spans())
    assert not any(
        "input.value" in s.attributes or "gen_ai.input.messages" in s.attributes for s in tracing.spans()
    )
    usage = tracing.metric_points("gen_ai.client.token.usage")
    assert {p.attributes["gen_ai.token.type"] for p in usage} == {"input", "output"}
    assert tracing.metric_points("gen_ai.client.operation.duration")


def test_streaming_sets_time_to_first_chunk(tracing: Tracing) -> None:
    with FakeOpenAIServer(replies=list(AGENT_REPLIES)) as server:
        agent = agent_with_server(server, stream_usage=True)
        items = list(
            agent.stream({"messages": [HumanMessage("office?")]}, tracing.config, stream_mode="messages")
        )
    assert items
    chat = tracing.named("chat gpt-4o-mini")[1]
    assert chat.attributes["gen_ai.request.stream"] is True
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    assert tracing.metric_points("gen_ai.client.operation.time_to_first_chunk")


def _debug_tasks(events: list[Any]) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for ns, event in events:
        payload = event["payload"]
        record = tasks.setdefault(payload["id"], {"ns": ns})
        if event["type"] == "task":
            record.update(name=payload["name"], step=event["step"], triggers=list(payload["triggers"]))
        else:
            record["error"] = payload["error"]
    return tasks


def _run_catalogue_case(name: str, tracing: Tracing) -> tuple[list[Any], BaseException | None]:
    from ..differential.graphs import CATALOGUE, load

    case = CATALOGUE[name]
    graph, inputs, config = case.build(load("lgtrace"))
    config = {**(config or {}), "callbacks": [tracing.handler]}
    events: list[Any] = []
    try:
        if case.async_only:

            async def collect() -> None:
                async for item in graph.astream(inputs, config, stream_mode="debug", subgraphs=True):
                    events.append(item)

            asyncio.run(collect())
        else:
            events.extend(graph.stream(inputs, config, stream_mode="debug", subgraphs=True))
    except Exception as exc:
        return events, exc
    return events, None


def _catalogue_names() -> list[str]:
    from ..differential.graphs import CATALOGUE

    return sorted(CATALOGUE)


@pytest.mark.parametrize("name", _catalogue_names())
def test_task_spans_mirror_debug_events(name: str, tracing: Tracing) -> None:
    events, error = _run_catalogue_case(name, tracing)
    tasks = _debug_tasks(events)
    spans = {
        s.attributes["langgraph.task_id"]: s for s in tracing.spans() if "langgraph.task_id" in s.attributes
    }
    assert set(spans) == set(tasks), "one task span per debug task, same ids"
    for task_id, task in tasks.items():
        span = spans[task_id]
        assert span.name == task["name"] == span.attributes["langgraph.node"]
        assert span.attributes["langgraph.step"] == task["step"]
        assert list(span.attributes["langgraph.triggers"]) == task["triggers"]
        ns = span.attributes["langgraph.checkpoint_ns"]
        assert ns.rsplit("|", 1)[-1] == f"{task['name']}:{task_id}"
        assert tuple(ns.split("|")[:-1]) == task["ns"]
        if task.get("error") is not None:
            assert span.status.status_code is StatusCode.ERROR
            assert span.attributes["error.type"] == type(task["error"]).__qualname__
        else:
            assert span.status.status_code is StatusCode.UNSET
    roots = [s for s in tracing.spans() if s.parent is None]
    assert len(roots) == 1 and roots[0].name.startswith("invoke_workflow")
    if error is not None:
        assert roots[0].status.status_code is StatusCode.ERROR
        events_on = [s for s in tracing.spans() if any(e.name == "exception" for e in s.events)]
        assert len(events_on) <= 1, "the exception is recorded once, where it happened"


def test_error_recorded_once_where_it_happened(tracing: Tracing) -> None:
    def ok(state: Log) -> dict[str, Any]:
        return {"log": ["ok"]}

    def boom(state: Log) -> dict[str, Any]:
        raise ValueError("bad input in boom")

    graph = StateGraph(Log).add_node(ok).add_node(boom).add_edge(START, "ok").add_edge("ok", "boom").compile()
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, tracing.config)
    (boom_span,) = tracing.named("boom")
    (root,) = tracing.named("invoke_workflow LangGraph")
    (ok_span,) = tracing.named("ok")
    assert (
        boom_span.status.status_code is StatusCode.ERROR
        and "bad input in boom" in boom_span.status.description
    )
    assert boom_span.attributes["error.type"] == "ValueError"
    assert [e.name for e in boom_span.events] == ["exception"]
    assert root.status.status_code is StatusCode.ERROR and root.attributes["error.type"] == "ValueError"
    assert not root.events, "ancestors get ERROR status without another exception event"
    assert ok_span.status.status_code is StatusCode.UNSET


def test_user_spans_inside_nodes_are_children_of_the_task_span(tracing: Tracing) -> None:
    tracer = tracing.tracer

    def sync_node(state: Log) -> dict[str, Any]:
        with tracer.start_as_current_span("user-sync"):
            pass
        RunnableParallel(
            a=lambda x: _user_span(tracer, "user-pool-a"), b=lambda x: _user_span(tracer, "user-pool-b")
        ).invoke(1)
        return {"log": ["s"]}

    async def async_node(state: Log) -> dict[str, Any]:
        with tracer.start_as_current_span("user-async"):
            await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, _user_span, tracer, "user-executor")
        return {"log": ["a"]}

    graph = (
        StateGraph(Log)
        .add_node(sync_node)
        .add_node(async_node)
        .add_edge(START, "sync_node")
        .add_edge(START, "async_node")
        .compile()
    )
    asyncio.run(graph.ainvoke({"log": []}, tracing.config))
    expected = {
        "user-sync": "sync_node",
        "user-pool-a": "sync_node",
        "user-pool-b": "sync_node",
        "user-async": "async_node",
    }
    for span_name, node in expected.items():
        (span,) = tracing.named(span_name)
        assert tracing.parent_of(span).name == node, span_name


def _user_span(tracer: Any, name: str) -> None:
    with tracer.start_as_current_span(name):
        pass


def test_concurrent_async_runs_are_separate_traces_and_nest_under_app_span(tracing: Tracing) -> None:
    def node(state: Log) -> dict[str, Any]:
        return {"log": ["x"]}

    graph = StateGraph(Log).add_node(node).add_edge(START, "node").compile()

    async def main() -> None:
        await asyncio.gather(
            graph.ainvoke({"log": []}, tracing.config), graph.ainvoke({"log": []}, tracing.config)
        )

    asyncio.run(main())
    roots = tracing.named("invoke_workflow LangGraph")
    assert len({r.context.trace_id for r in roots}) == 2
    for node_span in tracing.named("node"):
        assert tracing.parent_of(node_span) in roots
    tracing.exporter.clear()
    with tracing.tracer.start_as_current_span("request") as app:
        graph.invoke({"log": []}, tracing.config)
    (root,) = tracing.named("invoke_workflow LangGraph")
    assert root.parent is not None and root.parent.span_id == app.get_span_context().span_id


def test_plain_langchain_chain_and_tool_loop(tracing: Tracing) -> None:
    with FakeOpenAIServer(
        replies=["a fine answer", Reply(tool_calls=[ToolCall("lookup", {"place": "lab"})])]
    ) as s:
        llm = ChatOpenAI(base_url=s.base_url, api_key="test", model="gpt-4o-mini")
        chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | llm | StrOutputParser()
        assert chain.invoke({"q": "hello"}, tracing.config) == "a fine answer"
        from langchain_core.tools import tool

        lookup_tool = tool(lookup)
        message = llm.bind_tools([lookup_tool]).invoke("where?", tracing.config)
        lookup_tool.invoke(message.tool_calls[0], tracing.config)
    (workflow,) = tracing.named("invoke_workflow RunnableSequence")
    chats = tracing.named("chat gpt-4o-mini")
    assert tracing.parent_of(chats[0]) is workflow
    assert chats[1].parent is None, "a model called on its own is a root span"
    (tool_span,) = tracing.named("execute_tool lookup")
    assert tool_span.attributes["gen_ai.tool.call.id"] == message.tool_calls[0]["id"]
    assert {s.name for s in tracing.spans()} == {
        "invoke_workflow RunnableSequence",
        "chat gpt-4o-mini",
        "execute_tool lookup",
    }


def test_early_break_and_cancellation_end_every_span_without_error(tracing: Tracing) -> None:
    answer = " ".join(f"w{i}" for i in range(300))
    with FakeOpenAIServer(replies=[answer, answer], token_delay=0.01) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini")

        def talk(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

        graph = StateGraph(MessagesState).add_node(talk).add_edge(START, "talk").compile()
        stream = graph.stream({"messages": [HumanMessage("go")]}, tracing.config, stream_mode="messages")
        for i, _ in enumerate(stream):
            if i == 2:
                break
        stream.close()
        spans = tracing.spans()
        assert {s.name for s in spans} == {"invoke_workflow LangGraph", "talk", "chat gpt-4o-mini"}
        for span in spans:
            assert span.status.status_code is not StatusCode.ERROR, span.name
            assert span.attributes.get("lgtrace.cancelled") is True, span.name

        tracing.exporter.clear()

        streaming = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini", streaming=True)

        async def atalk(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await streaming.ainvoke(state["messages"])]}

        agraph = StateGraph(MessagesState).add_node("talk", atalk).add_edge(START, "talk").compile()

        async def cancel_midway() -> None:
            task = asyncio.create_task(agraph.ainvoke({"messages": [HumanMessage("go")]}, tracing.config))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_midway())
        spans = tracing.spans()
        assert {s.name for s in spans} == {"invoke_workflow LangGraph", "talk", "chat gpt-4o-mini"}
        assert all(s.status.status_code is not StatusCode.ERROR for s in spans)
        assert tracing.named("invoke_workflow LangGraph")[0].attributes["lgtrace.cancelled"] is True


def test_content_capture_is_opt_in_valid_json_truncated_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [EchoModel().invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node(node).add_edge(START, "node").compile()
    long_text = "secret " + "x" * 5000
    seen: list[Any] = []

    def redact(value: Any) -> Any:
        seen.append(value)
        return json.loads(json.dumps(value).replace("secret", "[redacted]"))

    t = Tracing(capture_content=True, max_content_length=600, redact=redact)
    graph.invoke({"messages": [HumanMessage(long_text)]}, t.config)
    for span in t.spans():
        for key in ("input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages"):
            if key in span.attributes:
                text = span.attributes[key]
                assert len(text) <= 600
                json.loads(text)
                assert "secret" not in text
    chat = next(s for s in t.spans() if s.name.startswith("chat"))
    first = json.loads(chat.attributes["gen_ai.input.messages"])[0]
    assert first["role"] == "user" and first["parts"][0]["type"] == "text"
    assert json.loads(chat.attributes["gen_ai.output.messages"])[0]["finish_reason"]
    assert seen

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    t2 = Tracing()
    graph.invoke({"messages": [HumanMessage("hi there")]}, t2.config)
    assert any("gen_ai.input.messages" in s.attributes for s in t2.spans())


def test_content_off_does_not_touch_state() -> None:
    class Explosive:
        def __repr__(self) -> str:
            raise AssertionError("state was serialized with content capture off")

    class S(TypedDict):
        blob: Any
        out: str

    def node(state: S) -> dict[str, Any]:
        return {"out": "done"}

    graph = StateGraph(S).add_node(node).add_edge(START, "node").compile()
    t = Tracing()
    assert graph.invoke({"blob": Explosive()}, t.config)["out"] == "done"


class _BrokenExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise ConnectionError("collector exploded")

    def shutdown(self) -> None:
        pass


def test_a_broken_exporter_never_breaks_a_graph(caplog: pytest.LogCaptureFixture) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_BrokenExporter()))
    handler = OTelCallbackHandler(tracer_provider=provider)

    def node(state: Log) -> dict[str, Any]:
        return {"log": ["fine"]}

    graph = StateGraph(Log).add_node(node).add_edge(START, "node").compile()
    with caplog.at_level(logging.WARNING):
        assert graph.invoke({"log": []}, {"callbacks": [handler]}) == {"log": ["fine"]}
    assert not handler.runs


def test_handler_failure_is_logged_once_and_the_graph_runs(caplog: pytest.LogCaptureFixture) -> None:
    t = Tracing()

    class Exploding:
        def start_span(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("tracer broke")

    t.handler.tracer = Exploding()  # type: ignore[assignment]

    def node(state: Log) -> dict[str, Any]:
        return {"log": ["fine"]}

    graph = StateGraph(Log).add_node(node).add_edge(START, "node").compile()
    with caplog.at_level(logging.WARNING, logger="lgtrace.otel"):
        for _ in range(3):
            assert graph.invoke({"log": []}, t.config) == {"log": ["fine"]}
    assert len([r for r in caplog.records if r.name == "lgtrace.otel"]) == 1
    t.handler.runs.clear()


def test_model_without_graph_called_from_node_with_no_config_still_parents(tracing: Tracing) -> None:
    def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [EchoModel().invoke([HumanMessage("a b")])]}

    graph = StateGraph(MessagesState).add_node(node).add_edge(START, "node").compile()
    graph.invoke({"messages": [AIMessage("x")]}, tracing.config)
    (chat,) = [s for s in tracing.spans() if s.name.startswith("chat")]
    assert tracing.parent_of(chat).name == "node"
