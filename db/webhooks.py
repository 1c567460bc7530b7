"""Webhook subscriptions and their outbox of deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

INSERT_WEBHOOK = """
INSERT INTO webhooks (webhook_id, role, organisation_id, url, event_types, buy_id, secret)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING webhook_id, url, event_types, buy_id, created_at
"""
SELECT_WEBHOOKS = """
SELECT webhook_id, url, event_types, buy_id, created_at FROM webhooks
WHERE role = $1 AND organisation_id = $2 AND deleted_at IS NULL
ORDER BY created_at, webhook_id
"""
DELETE_WEBHOOK = """
UPDATE webhooks SET deleted_at = now()
WHERE webhook_id = $1 AND role = $2 AND organisation_id = $3 AND deleted_at IS NULL
RETURNING webhook_id
"""
# Written by the event-log append, in its transaction: one delivery per live subscription that
# asked for the event's type (of this buy, or of every buy). Who may see it is decided when it is sent.
# The outbox rows for events `e` (seq, type) of buy $1 ({events} names them as `e`), written in the
# statement that appends them (`db.events.append_events`), one per live subscription that wants them.
DELIVERIES_FOR = """
INSERT INTO webhook_deliveries (webhook_id, buy_id, seq, event_type)
SELECT w.webhook_id, $1, e.seq, e.type
FROM {events}
JOIN webhooks w ON w.deleted_at IS NULL
               AND (w.buy_id IS NULL OR w.buy_id = $1)
               AND e.type = ANY (w.event_types)
ON CONFLICT (webhook_id, buy_id, seq) DO NOTHING
"""
# Claim due deliveries: each is leased (its next attempt pushed out) while it is being sent, so
# two dispatchers never send the same one at once and a dispatcher that dies only delays it.
CLAIM_DUE = """
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
WHERE d.delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, delivery_id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING d.delivery_id, d.webhook_id, d.buy_id, d.seq, d.attempts, d.created_at
"""
SELECT_DELIVERY_PARTS = """
SELECT w.url, w.secret, w.role, w.organisation_id, w.deleted_at,
       e.seq, e.at, e.type, e.actor, e.data,
       b.buy_id, b.lead, b.stage
FROM webhooks w, events e, joint_buys b
WHERE w.webhook_id = $1 AND e.buy_id = $2 AND e.seq = $3 AND b.buy_id = $2
"""
FINISH_DELIVERY = """
UPDATE webhook_deliveries SET status = $2, finished_at = now(), last_error = $3
WHERE delivery_id = $1
"""
RETRY_DELIVERY = """
UPDATE webhook_deliveries SET next_attempt_at = $2, last_error = $3
WHERE delivery_id = $1
"""
SELECT_DELIVERIES = """
SELECT delivery_id, buy_id, seq, event_type, status, attempts, last_error, finished_at
FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY buy_id, seq
"""
COUNT_PENDING = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"


async def insert_webhook(
    conn: Any,
    *,
    webhook_id: str,
    role: str,
    organisation_id: str,
    url: str,
    event_types: Sequence[str],
    buy_id: str | None,
    secret: str,
) -> Any:
    return await conn.fetchrow(
        INSERT_WEBHOOK, webhook_id, role, organisation_id, url, list(event_types), buy_id, secret
    )


async def list_webhooks(conn: Any, *, role: str, organisation_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_WEBHOOKS, role, organisation_id))


async def delete_webhook(conn: Any, *, webhook_id: str, role: str, organisation_id: str) -> bool:
    return await conn.fetchval(DELETE_WEBHOOK, webhook_id, role, organisation_id) is not None


async def claim_due(conn: Any, *, limit: int, lease_seconds: float) -> list[Any]:
    return list(await conn.fetch(CLAIM_DUE, limit, lease_seconds))


async def delivery_parts(conn: Any, *, webhook_id: str, buy_id: str, seq: int) -> Any:
    return await conn.fetchrow(SELECT_DELIVERY_PARTS, webhook_id, buy_id, seq)


async def finish_delivery(conn: Any, *, delivery_id: int, status: str, error: str | None = None) -> None:
    await conn.execute(FINISH_DELIVERY, delivery_id, status, error)


async def retry_delivery(conn: Any, *, delivery_id: int, at: datetime, error: str) -> None:
    await conn.execute(RETRY_DELIVERY, delivery_id, at, error)


async def deliveries(conn: Any, *, webhook_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_DELIVERIES, webhook_id))


async def count_pending(conn: Any) -> int:
    n: int = await conn.fetchval(COUNT_PENDING)
    return n
