"""Prometheus metrics of the API process, through prometheus-client: requests by route and status,
their latency, buys by stage (read at scrape time), and webhook deliveries and attempts."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# One registry for the product's own series (not the process-wide default), so a test that builds
# several apps in one process registers each series once.
REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "jointbuy_http_requests",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "jointbuy_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
BUYS = Gauge("jointbuy_buys", "Joint buys by their current stage.", ["stage"], registry=REGISTRY)
WEBHOOK_DELIVERIES = Counter(
    "jointbuy_webhook_deliveries",
    "Webhook deliveries finished, by outcome: delivered, skipped (not visible to the subscriber), "
    "failed (retried for the whole retry window).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "jointbuy_webhook_attempts",
    "Webhook delivery attempts, by result: ok (2xx) or error (any other answer, a timeout, no answer).",
    ["result"],
    registry=REGISTRY,
)
WEBHOOK_PENDING = Gauge(
    "jointbuy_webhook_deliveries_pending",
    "Webhook deliveries waiting to be sent or retried.",
    registry=REGISTRY,
)
for outcome in ("delivered", "skipped", "failed"):
    WEBHOOK_DELIVERIES.labels(outcome=outcome)
for result in ("ok", "error"):
    WEBHOOK_ATTEMPTS.labels(result=result)

SELECT_BUYS_BY_STAGE = "SELECT stage, count(*) AS n FROM joint_buys GROUP BY stage"
COUNT_PENDING = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"


def observe(scope: dict[str, Any], status: int, started: float) -> None:
    """A request answered with `status` (its headers sent), `started` by `time.perf_counter()`: by
    route template, so the series stay few whatever the ids in the paths. A stream counts once its
    headers are sent, not when it ends."""
    route = getattr(scope.get("route"), "path", "unmatched")
    REQUESTS.labels(scope["method"], route, str(status)).inc()
    LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


async def render(pool: Any) -> tuple[bytes, str]:
    """The exposition, with the gauges read from the database now."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(SELECT_BUYS_BY_STAGE)
        pending = await conn.fetchval(COUNT_PENDING)
    BUYS.clear()
    for row in rows:
        BUYS.labels(stage=row["stage"]).set(row["n"])
    WEBHOOK_PENDING.set(pending)
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
