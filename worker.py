"""The Temporal worker: the joint-buy workflow and its activities, configured from settings."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.assurance import AssuranceActivities
from activities.calendar import fetch_bank_holidays
from activities.persistence import PersistenceActivities
from core.logs import configure_logging
from core.settings import Settings, get_settings
from core.telemetry import worker_runtime
from core.temporal import connect_client
from db.pool import create_pool
from workflows.joint_buy import JointBuyWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (JointBuyWorkflow,)


def activities_for(pool: Any) -> list[Any]:
    persistence = PersistenceActivities(pool)
    return [persistence.record_events, *AssuranceActivities.from_pool(pool).all(), fetch_bank_holidays]


def build_worker(client: Client, pool: Any, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(pool),
    )


async def run_worker(settings: Settings) -> None:
    client = await connect_client(settings, runtime=worker_runtime(settings))
    pool = await create_pool(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with build_worker(client, pool, settings.task_queue):
            log.info(
                "worker started",
                task_queue=settings.task_queue,
                metrics=settings.worker_metrics_address or None,
                tracing=bool(settings.otel_exporter_otlp_endpoint),
            )
            await stop.wait()
            log.info("worker stopping")
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (`jointbuy dev` sets it for the embedded stack)")
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
