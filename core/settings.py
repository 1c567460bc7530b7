"""One place for configuration: environment variables (or a `.env` file) read by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Empty means: start an embedded PostgreSQL (pgserver) under `data_dir`.
    database_url: str = ""
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "joint-buy"
    # Bootstrap admin token; `jointbuy dev` generates and prints one when unset.
    jointbuy_admin_token: str = ""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    data_dir: str = ".jointbuy"
    # Temporal allows 10 in-flight updates per workflow; the API stays below that per buy.
    max_updates_in_flight: int = 8
    # Messages one workflow run accepts before it continues as new (the server caps a run at 2,000
    # updates and 10,000 signals and never suggests continue-as-new on message counts).
    messages_per_run: int = 1000
    # Seconds an assurance check may keep failing before the supplier is flagged "check unavailable"
    # for the lead to decide (a registry down for longer than this never fails the buy).
    assurance_check_patience_seconds: int = 900
    temporal_ui_url: str = "http://localhost:8233"
    # OCDS: the deployment's registered prefix (each buy's ocid is `<prefix>-<buy id>`) and the name
    # published as the release package's publisher.
    ocds_prefix: str = "ocds-jointbuy"
    ocds_publisher: str = "Joint Buy"
    # The worker serves the Temporal SDK's Prometheus metrics here ("host:port"; empty: not served).
    worker_metrics_address: str = ""
    # OpenTelemetry traces (API → workflow → activity) over OTLP/HTTP, e.g.
    # http://collector:4318/v1/traces; empty: no tracing at all.
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = "jointbuy"
    # Keys that encrypt every payload in Temporal's history (AES-256-GCM): `id:base64key`, comma
    # separated, newest first. New payloads use the first; every listed key still decodes, so a key
    # rotates by putting a new one in front. `jointbuy dev` generates one and keeps it in its data
    # folder. Empty: payloads are stored in plain text (the API and worker warn at start).
    jointbuy_payload_keys: str = ""
    # Origins of a Temporal Web UI allowed to call `/v1/codec/*` from the browser without a token,
    # from this machine only (`jointbuy dev` sets its own UI); elsewhere an operator token is needed.
    codec_ui_origins: str = ""
    # Webhooks: subscribers' URLs are https; plain http only to a loopback address, in development.
    webhook_allow_loopback_http: bool = False
    # The API process runs the dispatcher that sends the webhook outbox (off: another process does).
    webhook_dispatch: bool = True
    webhook_poll_seconds: float = 0.5
    webhook_timeout_seconds: float = 10.0
    # A delivery being sent is leased for this long (longer than the timeout).
    webhook_lease_seconds: float = 60.0
    # Retries: base × 2^(attempt-1), at most the max, for the whole window (at least 24 hours).
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_retry_for_seconds: float = 25 * 3600.0
    # A delivery the subscriber may see only once the bids open is looked at again this often.
    webhook_sealed_recheck_seconds: float = 30.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
