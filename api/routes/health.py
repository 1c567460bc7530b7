"""Liveness, readiness (Temporal and PostgreSQL reachable) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api import metrics as exposition
from api.deps import Gateway, Pool
from api.problems import problems
from api.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses=problems())
async def healthz() -> dict[str, str]:
    """The API process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL or Temporal does not answer"}},
)
async def readyz(pool: Pool, gateway: Gateway) -> JSONResponse:
    """Ready when PostgreSQL and Temporal both answer."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        checks["postgresql"] = "ok"
    except Exception as err:  # a readiness probe reports any failure instead of raising it
        checks["postgresql"] = f"unavailable: {type(err).__name__}"
    try:
        async with asyncio.timeout(3):
            await gateway.client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"unavailable: {type(err).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=Response, responses=problems())
async def metrics(pool: Pool) -> Response:
    """Prometheus metrics: requests, latency, buys by stage, webhook deliveries."""
    body, content_type = await exposition.render(pool)
    return Response(body, media_type=content_type)
