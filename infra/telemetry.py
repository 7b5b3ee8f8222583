"""OpenTelemetry providers, chosen the way the SDK's environment variables describe:
OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = none (default) | console | otlp; the service
name, resource attributes and OTLP endpoint are read by the SDK itself (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_ENDPOINT)."""

from __future__ import annotations

import os
import weakref
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

_configured = False
# Whether spans or metrics leave the process (an exporter or a processor was added), and
# whether an SDK tracer provider is installed. Flags, not a look at the global providers per
# request: while none is installed, OpenTelemetry's getters read os.environ on every call (4 %
# of a `{ __typename }` request, py-spy). The providers are set once per process, here or
# before the app is created (opentelemetry-instrument), which configure_providers notes.
_exporting = False
_tracing = False


def _span_exporter(name: str) -> SpanExporter | None:
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "none":
        return None
    raise ValueError(f"unsupported OTEL_TRACES_EXPORTER {name!r} (none, console or otlp)")


def _metric_reader(name: str) -> Any:
    if name == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    if name == "none":
        return None
    raise ValueError(f"unsupported OTEL_METRICS_EXPORTER {name!r} (none, console or otlp)")


def _resource() -> Resource:
    # OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) name the service when set.
    named = os.environ.get("OTEL_SERVICE_NAME")
    return Resource.create({} if named else {"service.name": "pointgate"})


def tracer_provider() -> TracerProvider:
    """The process's SDK tracer provider, installed on first use (by an exporter). Without
    one, the operation's span is a cheap non-recording one that still has ids
    (schema.extensions.operation_span)."""
    global _tracing
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _tracing = True
        return current
    provider = TracerProvider(resource=_resource())
    trace.set_tracer_provider(provider)
    _tracing = True
    _instrument_engines()
    return provider


def tracing() -> bool:
    """Whether an SDK tracer provider records spans (else spans are non-recording)."""
    return _tracing


def add_span_processor(processor: SpanProcessor) -> None:
    """Spans are exported from now on (and HTTP requests get their server spans)."""
    global _exporting
    tracer_provider().add_span_processor(processor)
    _exporting = True
    _instrument_engines()


def configure_providers(traces_exporter: str, metrics_exporter: str) -> None:
    """Install the global tracer and meter providers once per process, where an exporter is
    configured; with both "none" the API's no-op providers keep instrumentation nearly free."""
    global _configured, _exporting, _tracing
    if _configured:
        return
    _configured = True
    # Providers installed before the app (opentelemetry-instrument) are used as they are.
    _tracing = _tracing or isinstance(trace.get_tracer_provider(), TracerProvider)
    _exporting = _exporting or _tracing or isinstance(metrics.get_meter_provider(), MeterProvider)
    exporter = _span_exporter(traces_exporter)
    if exporter is not None:
        add_span_processor(BatchSpanProcessor(exporter))
    reader = _metric_reader(metrics_exporter)
    if reader is not None:
        metrics.set_meter_provider(MeterProvider(resource=_resource(), metric_readers=[reader]))
        _exporting = True
    _instrument_engines()


# Engines whose statements get spans (and connection metrics) once spans or metrics are
# recorded; those whose tracer is attached. Until then a statement pays nothing for it (the
# tracer's hooks were 1.3 % of a purchase's Python with no provider installed: py-spy, issue 28).
_engines: weakref.WeakSet[Any] = weakref.WeakSet()
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement, once per engine, from when a provider records them (now, or
    when one is installed later). SQLAlchemyInstrumentor().instrument() is a process-wide
    singleton that would instrument only the first engine (and it declares sqlalchemy<2.1,
    though it works on 2.1), so its per-engine tracer is attached directly."""
    _engines.add(engine.sync_engine)
    _instrument_engines()


def _instrument_engines() -> None:
    if not (_tracing or _exporting):
        return
    for sync_engine in list(_engines):
        if sync_engine in _instrumented:
            continue
        _instrumented.add(sync_engine)
        connections = metrics.get_meter(
            "opentelemetry.instrumentation.sqlalchemy"
        ).create_up_down_counter("db.client.connections.usage", unit="connections")
        EngineTracer(
            trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
            sync_engine,
            connections,
        )


def exporting() -> bool:
    return _exporting


class HttpTelemetry:
    """OpenTelemetry's ASGI middleware (one server span per request, not one more per ASGI
    message, and the HTTP server metrics) while spans or metrics are exported; without an
    exporter it would build request attributes and spans nobody sees, so requests skip it (the
    operation's span still continues the caller's traceparent: schema.extensions)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(app, exclude_spans=["receive", "send"])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if exporting():
            await self.traced(scope, receive, send)
        else:
            await self.app(scope, receive, send)
