"""OTLP export never slows or breaks a graph: collector down, collector stuck, global instrumentation."""

from __future__ import annotations

import logging
import operator
import os
import socket
import subprocess
import sys
import threading
import time
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


def test_collector_down_logs_once_and_counts_the_dropped_spans(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    provider, _ = configure_otlp(
        "lgtrace-test",
        endpoint=f"http://127.0.0.1:{port}",
        timeout=2,  # room for one retry (after ~1 s): the SDK's message then names the error
        set_global=False,
        metrics_enabled=False,
    )
    handler = OTelCallbackHandler(tracer_provider=provider)
    graph = _graph()
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            assert graph.invoke({"log": []}, {"callbacks": [handler]}) == {"log": ["a", "b"]}
            if i == 0:
                assert provider.force_flush(5_000) is False  # not exported: not a successful flush
        provider.shutdown()  # the collector is known to be down: the rest is dropped at once
    stats = provider.export_stats
    # 3 runs x (graph span + 2 task spans), none of them exported
    assert (stats.ended, stats.exported, stats.dropped) == (9, 0, 9)
    assert stats.endpoint == f"http://127.0.0.1:{port}/v1/traces"
    assert "Connection refused" in (stats.last_error or "")
    assert stats.summary().startswith(f"9 of 9 spans dropped, not exported to {stats.endpoint}")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # one when the outage starts (none per retry or per batch), one summary at shutdown
    assert len(warnings) == 2, warnings
    assert "3 spans dropped" in warnings[0] and "Connection refused" in warnings[0]
    assert "9 of 9 spans dropped" in warnings[1]
    assert not any("Transient error" in w for w in warnings)


def test_spans_that_reach_the_collector_are_counted_as_exported() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider, _ = configure_otlp(
            endpoint=f"http://127.0.0.1:{server.server_port}", set_global=False, metrics_enabled=False
        )
        handler = OTelCallbackHandler(tracer_provider=provider)
        for _ in range(2):
            _graph().invoke({"log": []}, {"callbacks": [handler]})
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    stats = provider.export_stats
    assert (stats.ended, stats.exported, stats.dropped) == (6, 6, 0)
    assert _Collector.requests >= 1
    assert stats.summary() == f"6 of 6 spans exported to {stats.endpoint}"


class _Collector(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _SilentCollector(BaseHTTPRequestHandler):
    """Accepts the request and never answers (a hung collector or proxy)."""

    release = threading.Event()

    def do_POST(self) -> None:
        type(self).release.wait(30)

    def log_message(self, *args: Any) -> None:
        pass


def test_shutdown_waits_at_most_exit_timeout_for_a_hung_collector() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SilentCollector)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider, _ = configure_otlp(
            endpoint=f"http://127.0.0.1:{server.server_port}",
            timeout=20,  # the exporter alone would wait 20 s for this request
            exit_timeout=0.5,
            set_global=False,
            metrics_enabled=False,
        )
        _graph().invoke({"log": []}, {"callbacks": [OTelCallbackHandler(tracer_provider=provider)]})
        started = time.monotonic()
        provider.shutdown()
        waited = time.monotonic() - started
    finally:
        _SilentCollector.release.set()
        server.shutdown()
        server.server_close()
    assert waited < 5, f"shutdown took {waited:.1f} s with exit_timeout=0.5"
    stats = provider.export_stats
    assert (stats.ended, stats.exported, stats.dropped) == (3, 0, 3)


_AT_EXIT = """
import operator, sys
from typing import Annotated, TypedDict
from lgtrace.graph import START, StateGraph
from lgtrace.otel import OTelCallbackHandler, configure_otlp

class Log(TypedDict):
    log: Annotated[list, operator.add]

configure_otlp("exit-test", endpoint=sys.argv[1])
graph = StateGraph(Log).add_node("a", lambda s: {"log": ["a"]}).add_edge(START, "a").compile()
graph.invoke({"log": []}, {"callbacks": [OTelCallbackHandler()]})
print("done", flush=True)
"""


def test_interpreter_exit_is_bounded_when_the_collector_is_down() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["LGTRACE_OTLP_EXIT_TIMEOUT"] = "0.5"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _AT_EXIT, f"http://127.0.0.1:{_closed_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
    # the graph span and one task span, dropped and said so once; no SDK retry chatter
    assert "OTLP export: 2 of 2 spans dropped" in done.stderr, done.stderr
    assert "Transient error" not in done.stderr and "retrying" not in done.stderr
    # the SDK alone keeps the process ~8 s here (retries 1 + 2 + 4 s for spans and metrics)
    assert elapsed < 6, f"exit took {elapsed:.1f} s with LGTRACE_OTLP_EXIT_TIMEOUT=0.5"


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
