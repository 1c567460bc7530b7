"""The Temporal client, as the API and the worker both connect it: every payload through pydantic,
the tracing interceptor when traces are configured (workers built from the client trace too)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from core.settings import Settings
from core.telemetry import interceptors


async def connect_client(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's own, serving the SDK's Prometheus metrics."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=interceptors(settings),
        runtime=runtime,
    )
