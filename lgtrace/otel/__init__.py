"""OpenTelemetry for graphs and plain LangChain apps: spans that mirror the debug events.

    from lgtrace.otel import OTelCallbackHandler, configure_otlp
    configure_otlp(service_name="my-app")           # OTLP/HTTP, standard OTEL_* variables
    graph.invoke(inputs, {"callbacks": [OTelCallbackHandler()]})

or ``lgtrace.otel.instrument()`` once to trace every run without passing callbacks.
"""

from lgtrace.otel.content import ContentPolicy
from lgtrace.otel.handler import OTelCallbackHandler
from lgtrace.otel.setup import ExportStats, OTLPTracerProvider, configure_otlp, instrument, uninstrument

__all__ = [
    "ContentPolicy",
    "ExportStats",
    "OTLPTracerProvider",
    "OTelCallbackHandler",
    "configure_otlp",
    "instrument",
    "uninstrument",
]
