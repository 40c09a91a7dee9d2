"""One-call set-up: OTLP/HTTP export and global instrumentation.

``configure_otlp()`` builds a TracerProvider and a MeterProvider exporting over
OTLP/HTTP, honouring the standard ``OTEL_EXPORTER_OTLP_*`` and
``OTEL_SERVICE_NAME`` variables. Export happens in the SDK's background
threads with bounded queues: a collector that is down or slow never blocks or
breaks a graph.

When the collector is down, what happened is said once and counted: the first
failed batch logs one warning (the cause, the spans dropped), the SDK's
per-retry messages are not shown, and ``tracer_provider.export_stats`` counts
the spans ended, exported and dropped. Shutting down (``shutdown()``, or at
interpreter exit) waits at most ``exit_timeout`` seconds (default 2, or
``LGTRACE_OTLP_EXIT_TIMEOUT``) for spans and metrics still queued; what has not
reached the collector by then is dropped, counted and reported in one warning.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from lgtrace.otel.handler import OTelCallbackHandler

_log = logging.getLogger("lgtrace.otel")

DEFAULT_EXIT_TIMEOUT = 2.0
"""Seconds ``shutdown()`` (and interpreter exit) waits at most for queued telemetry."""
EXIT_TIMEOUT_ENV = "LGTRACE_OTLP_EXIT_TIMEOUT"

_SPAN_EXPORT_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_METRIC_EXPORT_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)
_SHARED_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
)


def _cause(record: logging.LogRecord) -> str:
    """The error a log record of the exporter is about (its exception argument), else its message."""
    args = record.args if isinstance(record.args, tuple) else ()
    error = next((a for a in args if isinstance(a, BaseException)), None)
    text = str(error) if error is not None else record.getMessage()
    errno = re.search(r"\[Errno -?\d+\][^'\")]*", text)  # urllib3 wraps it in three layers of text
    if errno:
        return errno.group(0).strip()
    return text if len(text) <= 300 else text[:297] + "..."


class _SpanExportLog(logging.Filter):
    """On the span exporter's logger: keeps what the SDK says (the cause) for ``ReportingExporter``
    of the same thread, and hides it (it would log every retry of every batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if getattr(self.local, "cause", None) is None:
            self.local.cause = _cause(record)
        return False

    def take(self) -> str | None:
        cause = getattr(self.local, "cause", None)
        self.local.cause = None
        return cause


class _FirstFailureOnly(logging.Filter):
    """Says the first failure once, in lgtrace's words, and hides the SDK's messages."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.failing = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if not self.failing:
            self.failing = True
            _log.warning("%s failed (%s); further failures are not logged", self.what, _cause(record))
        return False


_SPAN_LOG = _SpanExportLog()
_METRIC_LOG = _FirstFailureOnly("OTLP metric export")
_SHARED_LOG = _FirstFailureOnly("OTLP export")
_filters_installed = False


def _install_log_filters() -> None:
    global _filters_installed
    if _filters_installed:
        return
    _filters_installed = True
    logging.getLogger(_SPAN_EXPORT_LOGGER).addFilter(_SPAN_LOG)
    for name in _METRIC_EXPORT_LOGGERS:
        logging.getLogger(name).addFilter(_METRIC_LOG)
    for name in _SHARED_LOGGERS:
        logging.getLogger(name).addFilter(_SHARED_LOG)


@dataclass
class ExportStats:
    """What became of the spans of one ``configure_otlp()`` provider.

    ``ended``: spans handed to the exporter's queue; ``exported``: accepted by the collector;
    ``failed``: in batches the collector did not accept (after the exporter's retries);
    ``dropped``: spans that will never reach it: ``failed`` while running, and after
    ``shutdown()`` every span not exported (failed, lost to a full queue, or still queued
    when ``exit_timeout`` ran out). ``last_error`` is the cause of the latest failure.
    """

    endpoint: str
    ended: int = 0
    exported: int = 0
    failed: int = 0
    last_error: str | None = None
    shut_down: bool = False

    @property
    def dropped(self) -> int:
        return self.ended - self.exported if self.shut_down else self.failed

    def summary(self) -> str:
        """One line for people: how many spans went where."""
        if not self.dropped:
            return f"{self.exported} of {self.ended} spans exported to {self.endpoint}"
        why = f" ({self.last_error})" if self.last_error else ""
        return f"{self.dropped} of {self.ended} spans dropped, not exported to {self.endpoint}{why}"


class ReportingExporter(SpanExporter):
    """Wraps a span exporter: never raises, counts what it exported and what failed, and logs
    one warning per outage (the cause and the spans dropped), then one when export recovers.

    While shutting down (``closing``), once a batch has failed the rest are dropped at once
    (counted) rather than each waiting out the exporter's retries on a collector that is down.
    """

    def __init__(self, inner: SpanExporter, stats: ExportStats) -> None:
        self.inner = inner
        self.stats = stats
        self.down = False
        self.closing = False
        self.aborted = False
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        n = len(spans)
        if self.aborted or (self.closing and self.down):
            self._count_failure(n, None)
            return SpanExportResult.FAILURE
        _SPAN_LOG.take()
        try:
            result = self.inner.export(spans)
            cause = _SPAN_LOG.take()
        except Exception as exc:
            result, cause = SpanExportResult.FAILURE, str(exc)
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                self.stats.exported += n
            if self.down:
                self.down = False
                _log.info("OTLP span export to %s recovered", self.stats.endpoint)
            return result
        self._count_failure(n, cause or "the collector did not accept the batch")
        return SpanExportResult.FAILURE

    def _count_failure(self, n: int, cause: str | None) -> None:
        with self._lock:
            self.stats.failed += n
            if cause is not None:
                self.stats.last_error = cause
        if not self.down:
            self.down = True
            if self.closing:  # shutdown() reports the whole count once
                return
            _log.warning(
                "OTLP span export to %s failed (%s): %d spans dropped; further failures are not "
                "logged until an export succeeds (the count is in tracer_provider.export_stats)",
                self.stats.endpoint,
                cause,
                n,
            )

    def abort(self) -> None:
        """Stop at once: no more attempts, and the inner exporter stops retrying."""
        self.aborted = True
        with contextlib.suppress(Exception):
            self.inner.shutdown()

    def shutdown(self) -> None:
        if not self.aborted:
            self.aborted = True
            with contextlib.suppress(Exception):
                self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return getattr(self.inner, "force_flush", lambda *_: True)(timeout_millis)


class _CountingBatchSpanProcessor(BatchSpanProcessor):
    """A ``BatchSpanProcessor`` that counts the spans it is handed (``ExportStats.ended``)."""

    def __init__(self, exporter: ReportingExporter) -> None:
        super().__init__(exporter)
        self.stats = exporter.stats
        self._count_lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            with self._count_lock:
                self.stats.ended += 1
        super().on_end(span)


def _within(seconds: float, work: Callable[[], Any], name: str) -> bool:
    """Run ``work`` in a daemon thread; whether it finished within ``seconds``."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    return not thread.is_alive()


class OTLPTracerProvider(TracerProvider):
    """The ``TracerProvider`` of ``configure_otlp()``: ``export_stats``, and a bounded ``shutdown()``.

    ``shutdown()`` (also run at interpreter exit) gives queued spans (and metrics) at most
    ``exit_timeout`` seconds to reach the collector, then stops the exporter (its retries
    included) and logs how many spans were dropped, if any. ``force_flush(timeout_millis)`` returns
    ``False`` after ``timeout_millis`` instead of waiting out the exporter's retries.
    """

    def __init__(self, *, resource: Resource, exporter: ReportingExporter, exit_timeout: float) -> None:
        super().__init__(resource=resource, shutdown_on_exit=False)
        self.exporter = exporter
        self.export_stats = exporter.stats
        self.exit_timeout = exit_timeout
        self.add_span_processor(_CountingBatchSpanProcessor(exporter))
        self._shutdown_once = threading.Lock()
        self.meter_provider: Any = None
        """The meter provider made with this one (``configure_otlp``), shut down with it."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        result: list[bool] = []
        finished = _within(
            timeout_millis / 1000,
            lambda: result.append(super(OTLPTracerProvider, self).force_flush(timeout_millis)),
            "lgtrace-otlp-flush",
        )
        return finished and bool(result and result[0]) and not self.exporter.down

    def shutdown(self) -> None:
        """Export what is queued within ``exit_timeout`` seconds, then stop; the meter provider
        ``configure_otlp()`` made with this one shuts down at the same time, within the same bound."""
        if not self._shutdown_once.acquire(blocking=False):
            return
        started = time.monotonic()
        metrics_thread = None
        if self.meter_provider is not None:
            metrics_thread = threading.Thread(
                target=self.meter_provider.shutdown, name="lgtrace-otlp-metrics", daemon=True
            )
            metrics_thread.start()
        self.exporter.closing = True
        worker = threading.Thread(target=super().shutdown, name="lgtrace-otlp-shutdown", daemon=True)
        worker.start()
        worker.join(self.exit_timeout)
        if worker.is_alive():
            self.exporter.abort()  # stops the exporter's retries: the batch in flight fails now
            worker.join(0.1)  # (a daemon: if a request still hangs, it ends with the process)
        if metrics_thread is not None:
            metrics_thread.join(max(0.0, self.exit_timeout - (time.monotonic() - started)))
        stats = self.export_stats
        stats.shut_down = True
        if stats.dropped:
            _log.warning("OTLP export: %s", stats.summary())


def _exit_timeout(value: float | None) -> float:
    if value is not None:
        return float(value)
    raw = os.environ.get(EXIT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_EXIT_TIMEOUT
    try:
        return float(raw)
    except ValueError:
        _log.warning("%s=%r is not a number; using %s s", EXIT_TIMEOUT_ENV, raw, DEFAULT_EXIT_TIMEOUT)
        return DEFAULT_EXIT_TIMEOUT


def _bounded_meter_provider(resource: Resource, reader: Any, exporter: Any, exit_timeout: float) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider

    class _BoundedMeterProvider(MeterProvider):
        """Its ``shutdown()`` (the last collection and export) waits at most ``exit_timeout``."""

        _lgtrace_shut_down = False

        def shutdown(self, timeout_millis: float = 30_000) -> None:
            if self._lgtrace_shut_down:
                return
            self._lgtrace_shut_down = True
            bound = min(timeout_millis / 1000, exit_timeout)
            parent = super()
            if not _within(bound, lambda: parent.shutdown(timeout_millis), "lgtrace-otlp-metrics"):
                with contextlib.suppress(Exception):
                    exporter.shutdown()  # stop its retries; the thread is a daemon

    return _BoundedMeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)


def configure_otlp(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    exit_timeout: float | None = None,
    set_global: bool = True,
    metrics_enabled: bool = True,
) -> tuple[OTLPTracerProvider, Any]:
    """Set up OTLP/HTTP export of spans (and metrics); returns ``(tracer_provider, meter_provider)``.

    Without arguments everything comes from the standard variables
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_TIMEOUT``, ``OTEL_SERVICE_NAME``...).
    ``endpoint`` is the base URL (``http://host:4318``); ``/v1/traces`` and ``/v1/metrics`` are appended.
    ``timeout`` bounds one export, the exporter's retries included (SDK default 10 s).
    ``exit_timeout`` (seconds; default ``LGTRACE_OTLP_EXIT_TIMEOUT`` or 2) bounds how long
    shutting down, explicitly or at interpreter exit, waits for telemetry still queued: a
    collector that is down never holds the program's exit longer. The tracer provider's
    ``export_stats`` (``ExportStats``) counts the spans exported and dropped.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    attributes = {"service.name": service_name} if service_name else {}
    resource = Resource.create(attributes)
    _install_log_filters()
    bound = _exit_timeout(exit_timeout)
    base = endpoint.rstrip("/") if endpoint else None
    inner = OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None, headers=headers, timeout=timeout)
    stats = ExportStats(endpoint=str(getattr(inner, "_endpoint", None) or base or "the OTLP endpoint"))
    tracer_provider = OTLPTracerProvider(
        resource=resource, exporter=ReportingExporter(inner, stats), exit_timeout=bound
    )
    meter_provider = None
    if metrics_enabled:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        metric_exporter = OTLPMetricExporter(
            endpoint=f"{base}/v1/metrics" if base else None, headers=headers, timeout=timeout
        )
        reader = PeriodicExportingMetricReader(metric_exporter)
        meter_provider = _bounded_meter_provider(resource, reader, metric_exporter, bound)
    tracer_provider.meter_provider = meter_provider
    atexit.register(tracer_provider.shutdown)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider


_ACTIVE: ContextVar[OTelCallbackHandler | None] = ContextVar("lgtrace_otel_handler", default=None)
_hook_registered = False


def instrument(**handler_options: Any) -> OTelCallbackHandler:
    """Trace every LangChain / lgtrace run started from this context (no callbacks argument needed).

    Registers an ``OTelCallbackHandler`` with langchain-core's configure hook, so
    each run's callback manager gets it as an inheritable handler. Call it at
    start-up: contexts copied later (asyncio tasks, executors, lgtrace's task
    threads) see it; threads started without copying the context do not.
    """
    from langchain_core.tracers.context import register_configure_hook

    global _hook_registered
    if not _hook_registered:
        register_configure_hook(_ACTIVE, inheritable=True)
        _hook_registered = True
    handler = OTelCallbackHandler(**handler_options)
    _ACTIVE.set(handler)
    return handler


def uninstrument() -> None:
    """Stop tracing runs started from this context (undoes ``instrument``)."""
    _ACTIVE.set(None)
