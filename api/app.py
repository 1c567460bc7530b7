"""The FastAPI application: wiring of routes, problem handlers, request logging and resources."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders

from api import metrics
from api.gateway import BuyGateway
from api.nul_guard import NulGuard
from api.problems import install_problem_handlers, unexpected_error
from api.routes import (
    api_keys,
    assurance,
    award,
    bids,
    codec,
    councils,
    demand,
    health,
    joint_buys,
    ocds,
    questions,
    registry,
    stream,
    suppliers,
    webhooks,
)
from api.webhook_dispatch import Dispatcher
from core.settings import Settings, get_settings
from core.temporal import connect_client
from db.pool import create_pool

log = structlog.get_logger(__name__)

DESCRIPTION = """
Joint Buy runs one competition for many UK councils: councils register demand and sign up,
suppliers are assured and bid against the combined volume, and every council gets its own contract
at the price that volume earned. Errors are `application/problem+json`; mutating requests accept an
`Idempotency-Key` header.
"""


def create_app(settings: Settings | None = None, *, pool: Any = None, client: Any = None) -> FastAPI:
    """Build the app. Tests pass their own pool and Temporal client; otherwise the lifespan
    opens them from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_pool = None
        if getattr(app.state, "pool", None) is None:
            owned_pool = await create_pool(settings.database_url, max_size=20)
            app.state.pool = owned_pool
        if getattr(app.state, "gateway", None) is None:
            app.state.gateway = _gateway(await connect_client(settings), settings, app)
        dispatcher = None
        if settings.webhook_dispatch:
            dispatcher = asyncio.create_task(Dispatcher(app.state.pool, settings).run(), name="webhooks")
        log.info("api ready", temporal=settings.temporal_address)
        yield
        if dispatcher is not None:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
        if owned_pool is not None:
            await owned_pool.close()

    app = FastAPI(
        title="Joint Buy",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.gateway = _gateway(client, settings, app) if client is not None else None
    install_problem_handlers(app)
    app.add_middleware(RequestObserved)
    if settings.codec_ui_origins:
        # The Temporal Web UI calls the codec from the browser (development: `jointbuy dev`).
        origins = [o.strip().rstrip("/") for o in settings.codec_ui_origins.split(",") if o.strip()]
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "x-namespace"],
        )
    app.add_middleware(NulGuard)  # added last, so it runs first
    for module in (
        health,
        api_keys,
        councils,
        joint_buys,
        demand,
        registry,
        suppliers,
        assurance,
        bids,
        award,
        questions,
        ocds,
        stream,
        webhooks,
        codec,
    ):
        app.include_router(module.router)
    return app


def _gateway(client: Any, settings: Settings, app: FastAPI) -> BuyGateway:
    return BuyGateway(
        client,
        # The pool may be opened by the lifespan, after the gateway.
        pool=lambda: app.state.pool,
        task_queue=settings.task_queue,
        max_in_flight=settings.max_updates_in_flight,
        messages_per_run=settings.messages_per_run,
        check_patience_seconds=settings.assurance_check_patience_seconds,
    )


class RequestObserved:
    """Each HTTP request: a request id (the client's `X-Request-Id`, else a new one) and the buy id,
    when the path has one, bound to every log line and the id echoed in the answer; its status and
    latency counted (`metrics.observe`); and any error nothing else answered turned into a problem,
    never a bare 500 with internals. Plain ASGI: no task or stream per request, as Starlette's
    `BaseHTTPMiddleware` needs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = Headers(scope=scope).get("x-request-id") or uuid.uuid4().hex
        parts = scope["path"].split("/")
        buy_id = parts[3] if len(parts) > 3 and parts[2] == "joint-buys" else None
        answered = False

        async def send_observed(message: MutableMapping[str, Any]) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
                metrics.observe(scope, message["status"], started)
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id, buy_id=buy_id):
            try:
                await self.app(scope, receive, send_observed)
            except Exception as exc:
                if answered:  # the headers are sent: nothing else can be answered
                    raise
                await unexpected_error(exc, request_id)(scope, receive, send_observed)
