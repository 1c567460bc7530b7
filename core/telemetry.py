"""Telemetry of the Temporal client and worker: OpenTelemetry traces through the SDK's tracing
interceptor (API → workflow → activity), exported over OTLP only when an endpoint is configured,
and the SDK's own Prometheus metrics served by the worker on a port of its own."""

from __future__ import annotations

from functools import cache
from typing import Any

from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings


def interceptors(settings: Settings, *, tracer: Any = None) -> list[Interceptor]:
    """The tracing interceptor when traces go somewhere (a configured exporter, or a test's own
    tracer); none otherwise, so an unconfigured deployment does no tracing work at all."""
    if tracer is None and not settings.otel_exporter_otlp_endpoint:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    if tracer is None:
        tracer = _tracer(settings.otel_exporter_otlp_endpoint, settings.otel_service_name)
    return [TracingInterceptor(tracer)]


@cache
def _tracer(endpoint: str, service_name: str) -> Any:
    """One tracer provider per process, exporting spans in batches over OTLP/HTTP."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider.get_tracer("jointbuy")


def worker_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving the SDK's Prometheus metrics (task latencies, poll counts, activity and
    workflow outcomes) on `worker_metrics_address`; None keeps the default runtime."""
    if not settings.worker_metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address, durations_as_seconds=True)
        )
    )
