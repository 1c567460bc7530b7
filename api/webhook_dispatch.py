"""The webhook dispatcher: sends the outbox (`webhook_deliveries`, written with the events) at least
once, with exponential backoff for the whole retry window (25 hours by default).

It runs beside the API (one loop per API process; several processes share the outbox through
`FOR UPDATE SKIP LOCKED` and a lease per delivery), never inside the workflow: a receiver that
answers 500, times out or never answers costs the buy nothing and the event is sent again later.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from api import metrics
from api.auth import Principal, Role
from api.views import buy_scope
from api.webhooks import as_received, signed_request
from core.settings import Settings
from db import webhooks as q
from procurement.models import Stage
from procurement.visibility import SEALED_STAGES, BuyScope

log = structlog.get_logger(__name__)

SEALED = "sealed until negotiation is over"
UNSEALED = Stage.EVALUATION  # any stage after negotiation: what the subscriber will see then
BATCH = 50
IN_FLIGHT = 16
ERROR_TEXT = 500


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, … up to cap."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


class Dispatcher:
    def __init__(self, pool: Any, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self._pool = pool
        self._settings = settings
        self._http = http
        self._owned: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait a little when nothing was."""
        try:
            while True:
                try:
                    sent = await self.dispatch_once()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database away for a moment: try again, never die
                    log.exception("webhook dispatch failed; retrying")
                    sent = 0
                if sent == 0:
                    await asyncio.sleep(self._settings.webhook_poll_seconds)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client this dispatcher opened (one it was given stays open)."""
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None

    async def dispatch_once(self) -> int:
        """Claim the deliveries that are due and attempt each once; how many were claimed."""
        async with self._pool.acquire() as conn:
            due = await q.claim_due(conn, limit=BATCH, lease_seconds=self._settings.webhook_lease_seconds)
        await asyncio.gather(*(self._attempt(row) for row in due))
        return len(due)

    async def _attempt(self, row: Any) -> None:
        async with self._slots:
            async with self._pool.acquire() as conn:
                parts = await q.delivery_parts(
                    conn, webhook_id=row["webhook_id"], buy_id=row["buy_id"], seq=row["seq"]
                )
                scope = None if parts is None else await buy_scope(conn, parts)
            bound = log.bind(
                webhook_id=row["webhook_id"], buy_id=row["buy_id"], seq=row["seq"], attempt=row["attempts"]
            )
            event, verdict = self._shown(parts, scope)
            if event is None and verdict == SEALED:
                # Not yet: a bid opens to the lead once negotiation is over; look again then.
                async with self._pool.acquire() as conn:
                    wait = timedelta(seconds=self._settings.webhook_sealed_recheck_seconds)
                    await q.retry_delivery(
                        conn, delivery_id=row["delivery_id"], at=datetime.now(UTC) + wait, error=SEALED
                    )
                return
            if event is None:
                await self._finish(row, "skipped", verdict)
                return
            body, headers = signed_request(
                parts["secret"], buy_id=row["buy_id"], event=event, now=datetime.now(UTC)
            )
            error = await self._post(parts["url"], body, headers)
            if error is None:
                metrics.WEBHOOK_ATTEMPTS.labels(result="ok").inc()
                await self._finish(row, "delivered", None)
                bound.debug("webhook delivered")
                return
            metrics.WEBHOOK_ATTEMPTS.labels(result="error").inc()
            now = datetime.now(UTC)
            if now - row["created_at"] >= timedelta(seconds=self._settings.webhook_retry_for_seconds):
                await self._finish(row, "failed", error)
                bound.warning("webhook given up", error=error)
                return
            wait = backoff(
                row["attempts"],
                base=self._settings.webhook_retry_base_seconds,
                cap=self._settings.webhook_retry_max_seconds,
            )
            async with self._pool.acquire() as conn:
                await q.retry_delivery(conn, delivery_id=row["delivery_id"], at=now + wait, error=error)
            bound.info("webhook attempt failed; will retry", error=error, retry_in=wait.total_seconds())

    def _shown(self, parts: Any, scope: BuyScope | None) -> tuple[dict[str, Any] | None, str]:
        """The event as the subscriber may see it now, or None and why it is not sent."""
        if parts is None or scope is None:
            return None, "the event or the buy is gone"
        if parts["deleted_at"] is not None:
            return None, "the subscription was deleted"
        receiver = Principal(
            key_id="webhook", role=Role(parts["role"]), organisation_id=parts["organisation_id"]
        )
        event = {k: parts[k] for k in ("seq", "at", "type", "actor", "data")}
        shaped = as_received(receiver, event, scope)
        if shaped is not None:
            return shaped, ""
        if scope.stage in SEALED_STAGES and as_received(receiver, event, replace(scope, stage=UNSEALED)):
            return None, SEALED
        return None, "not visible to the subscriber"

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None when the receiver took it (any 2xx), else what went wrong."""
        if self._http is None:
            self._http = self._owned = httpx.AsyncClient(follow_redirects=False)
        try:
            r = await self._http.post(
                url, content=body, headers=headers, timeout=self._settings.webhook_timeout_seconds
            )
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"[:ERROR_TEXT]
        if 200 <= r.status_code < 300:
            return None
        return f"HTTP {r.status_code}"

    async def _finish(self, row: Any, status: str, error: str | None) -> None:
        metrics.WEBHOOK_DELIVERIES.labels(outcome=status).inc()
        async with self._pool.acquire() as conn:
            await q.finish_delivery(conn, delivery_id=row["delivery_id"], status=status, error=error)
