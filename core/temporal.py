"""The Temporal client, as the API and the worker both connect it: every payload through pydantic,
the tracing interceptor when traces are configured (workers built from the client trace too); payloads
encrypted with the configured payload keys (`core.codec`)."""

from __future__ import annotations

import structlog
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from core.codec import data_converter
from core.settings import Settings
from core.telemetry import interceptors

log = structlog.get_logger(__name__)


async def connect_client(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's own, serving the SDK's Prometheus metrics."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter_for(settings),
        interceptors=interceptors(settings),
        runtime=runtime,
    )


def converter_for(settings: Settings) -> DataConverter:
    converter = data_converter(settings.jointbuy_payload_keys)
    if converter.payload_codec is None:
        log.warning("payloads are stored in Temporal in plain text: set JOINTBUY_PAYLOAD_KEYS")
    return converter
