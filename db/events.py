"""The event log: append idempotently, read back in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.projections import project
from db.webhooks import enqueue_deliveries
from procurement.models import DomainEvent

# One writer per buy at a time, so the "what is new" check and the insert cannot interleave.
LOCK_BUY = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
SELECT_LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM events WHERE buy_id = $1"
INSERT_EVENT = """
INSERT INTO events (buy_id, seq, type, actor, at, data)
VALUES ($1, $2, $3, $4, $5, $6)
"""
SELECT_EVENTS = """
SELECT seq, at, type, actor, data
FROM events
WHERE buy_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3
"""


class EventGap(Exception):
    """A batch that does not follow the recorded log: a bug upstream, never retried."""


async def append_events(conn: Any, *, buy_id: str, events: Sequence[DomainEvent]) -> int:
    """Append the events not yet recorded, apply them to the projections and queue their webhook
    deliveries (the outbox), in one transaction.

    Returns how many were new: a retry of a batch that already landed writes nothing.
    """
    async with conn.transaction():
        await conn.execute(LOCK_BUY, buy_id)
        last = await conn.fetchval(SELECT_LAST_SEQ, buy_id)
        new = [event for event in events if event.seq > last]
        if new and new[0].seq != last + 1:
            raise EventGap(f"buy {buy_id}: log ends at {last}, batch starts at {new[0].seq}")
        await conn.executemany(
            INSERT_EVENT,
            [(buy_id, e.seq, e.type, e.actor, e.at, e.data) for e in new],
        )
        for event in new:
            await project(conn, buy_id=buy_id, event=event)
        await enqueue_deliveries(conn, buy_id=buy_id, events=[(e.seq, e.type) for e in new])
    return len(new)


async def fetch_events(conn: Any, *, buy_id: str, after: int = 0, limit: int = 1000) -> list[Any]:
    return list(await conn.fetch(SELECT_EVENTS, buy_id, after, limit))
