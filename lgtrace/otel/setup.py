"""One-call set-up: OTLP/HTTP export and global instrumentation.

``configure_otlp()`` builds a TracerProvider and a MeterProvider exporting over
OTLP/HTTP, honouring the standard ``OTEL_EXPORTER_OTLP_*`` and
``OTEL_SERVICE_NAME`` variables. Export happens in the SDK's background
threads with bounded queues: a collector that is down or slow never blocks or
breaks a graph, and its failures are logged once, not per batch.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from lgtrace.otel.handler import OTelCallbackHandler

_log = logging.getLogger("lgtrace.otel")

_EXPORT_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
)


class _FirstFailureOnly(logging.Filter):
    """Lets the first export failure through and drops the repeats (until recovery)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if self.failing:
            return False
        self.failing = True
        return True


class QuietExporter(SpanExporter):
    """Wraps a span exporter: never raises, logs one warning per outage."""

    def __init__(self, inner: SpanExporter, log_filter: _FirstFailureOnly) -> None:
        self.inner = inner
        self.filter = log_filter

    def export(self, spans: Any) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            if not self.filter.failing:
                self.filter.failing = True
                _log.warning("OTLP span export failed (%s); further failures are not logged", exc)
            return SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS and self.filter.failing:
            self.filter.failing = False
            _log.info("OTLP span export recovered")
        return result

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return getattr(self.inner, "force_flush", lambda *_: True)(timeout_millis)


def configure_otlp(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    set_global: bool = True,
    metrics_enabled: bool = True,
) -> tuple[TracerProvider, Any]:
    """Set up OTLP/HTTP export of spans (and metrics); returns ``(tracer_provider, meter_provider)``.

    Without arguments everything comes from the standard variables
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_TIMEOUT``, ``OTEL_SERVICE_NAME``...).
    ``endpoint`` is the base URL (``http://host:4318``); ``/v1/traces`` and ``/v1/metrics`` are appended.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    attributes = {"service.name": service_name} if service_name else {}
    resource = Resource.create(attributes)
    log_filter = _FirstFailureOnly()
    for name in _EXPORT_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)
    base = endpoint.rstrip("/") if endpoint else None
    exporter = OTLPSpanExporter(
        endpoint=f"{base}/v1/traces" if base else None, headers=headers, timeout=timeout
    )
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(QuietExporter(exporter, log_filter)))
    meter_provider = None
    if metrics_enabled:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(
                endpoint=f"{base}/v1/metrics" if base else None, headers=headers, timeout=timeout
            )
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
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
