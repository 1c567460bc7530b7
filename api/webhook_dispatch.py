"""The webhook dispatcher: sends the outbox (`webhook_deliveries`, written with the events) at least
once, with exponential backoff for the whole retry window (25 hours by default).

It runs beside the API (one loop per API process; several processes share the outbox through
`FOR UPDATE SKIP LOCKED` and a lease per delivery), never inside the workflow: a receiver that
answers 500, times out or never answers costs the buy nothing and the event is sent again later.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from api import metrics
from api.auth import Principal, Role
from api.webhooks import may_receive, signed_request
from db import webhooks as q
from jointbuy.config import Settings

log = structlog.get_logger(__name__)

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
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait a little when nothing was."""
        owned = self._http is None
        self._http = self._http or httpx.AsyncClient(follow_redirects=False)
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
            if owned:
                await self._http.aclose()

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
            bound = log.bind(
                webhook_id=row["webhook_id"], buy_id=row["buy_id"], seq=row["seq"], attempt=row["attempts"]
            )
            verdict = self._skip_reason(parts)
            if verdict is not None:
                await self._finish(row, "skipped", verdict)
                return
            body, headers = signed_request(
                parts["secret"], buy_id=row["buy_id"], event=parts, now=datetime.now(UTC)
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

    def _skip_reason(self, parts: Any) -> str | None:
        if parts is None:
            return "the event or the buy is gone"
        if parts["deleted_at"] is not None:
            return "the subscription was deleted"
        receiver = Principal(
            key_id="webhook", role=Role(parts["role"]), organisation_id=parts["organisation_id"]
        )
        if not may_receive(receiver, parts, lead=parts["lead"], stage=parts["stage"]):
            return "not visible to the subscriber"
        return None

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None when the receiver took it (any 2xx), else what went wrong."""
        assert self._http is not None
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
