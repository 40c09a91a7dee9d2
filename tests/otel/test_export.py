"""OTLP export never slows or breaks a graph: collector down, collector stuck, global instrumentation."""

from __future__ import annotations

import logging
import operator
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableLambda
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgtrace.graph import START, StateGraph
from lgtrace.otel import OTelCallbackHandler, configure_otlp, instrument, uninstrument


class Log(TypedDict):
    log: Annotated[list, operator.add]


def _graph() -> Any:
    def a(state: Log) -> dict[str, Any]:
        return {"log": ["a"]}

    def b(state: Log) -> dict[str, Any]:
        return {"log": ["b"]}

    return StateGraph(Log).add_node(a).add_node(b).add_edge(START, "a").add_edge("a", "b").compile()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_collector_down_logs_one_warning_and_graphs_run(caplog: pytest.LogCaptureFixture) -> None:
    provider, _ = configure_otlp(
        "lgtrace-test",
        endpoint=f"http://127.0.0.1:{_closed_port()}",
        timeout=1,
        set_global=False,
        metrics_enabled=False,
    )
    handler = OTelCallbackHandler(tracer_provider=provider)
    graph = _graph()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert graph.invoke({"log": []}, {"callbacks": [handler]}) == {"log": ["a", "b"]}
            provider.force_flush(5_000)
        provider.shutdown()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


class _StuckCollector(BaseHTTPRequestHandler):
    release = threading.Event()
    arrived = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).arrived.set()
        type(self).release.wait(10)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_stuck_collector_does_not_block_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")  # export soon after the first run
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StuckCollector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider, _ = configure_otlp(
            "lgtrace-test",
            endpoint=f"http://127.0.0.1:{server.server_port}",
            timeout=10,
            set_global=False,
            metrics_enabled=False,
        )
        handler = OTelCallbackHandler(tracer_provider=provider)
        graph = _graph()
        graph.invoke({"log": []}, {"callbacks": [handler]})
        assert _StuckCollector.arrived.wait(20), "the exporter never reached the collector"
        # the collector is holding the export request: graphs keep running meanwhile
        for _ in range(5):
            assert graph.invoke({"log": []}, {"callbacks": [handler]}) == {"log": ["a", "b"]}
        assert not _StuckCollector.release.is_set()
    finally:
        _StuckCollector.release.set()
        provider.shutdown()
        server.shutdown()
        server.server_close()


def test_instrument_traces_runs_without_passing_callbacks() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = instrument(tracer_provider=provider)
    try:
        _graph().invoke({"log": []})
        RunnableLambda(lambda x: x + 1, name="plain").invoke(1)
        names = [s.name for s in exporter.get_finished_spans()]
        assert names.count("invoke_workflow LangGraph") == 1 and {"a", "b"} <= set(names)
        assert "invoke_workflow plain" in names
    finally:
        uninstrument()
    assert not handler.runs
    exporter.clear()
    _graph().invoke({"log": []})
    assert not exporter.get_finished_spans(), "uninstrument() stops tracing"
