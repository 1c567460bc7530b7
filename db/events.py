"""The event log: append idempotently, read back in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.projections import project
from db.webhooks import DELIVERIES_FOR
from procurement.models import DomainEvent

# One writer per buy at a time, so the "what is new" check and the insert cannot interleave: the
# buy's writer lock, then where its log ends (migration 008), in one round trip.
LOCK_LOG_TAIL = "SELECT event_log_tail($1)"
# The new events and their webhook outbox rows, in one statement.
INSERT_EVENTS = """
WITH e AS (
    INSERT INTO events (buy_id, seq, type, actor, at, data)
    SELECT $1, n.seq, n.type, n.actor, n.at, n.data
    FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
         AS n (seq, type, actor, at, data)
    RETURNING seq, type
)
""" + DELIVERIES_FOR.format(events="e")
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
        last = await conn.fetchval(LOCK_LOG_TAIL, buy_id)
        new = [event for event in events if event.seq > last]
        if not new:
            return 0
        if new[0].seq != last + 1:
            raise EventGap(f"buy {buy_id}: log ends at {last}, batch starts at {new[0].seq}")
        await conn.execute(
            INSERT_EVENTS,
            buy_id,
            [e.seq for e in new],
            [e.type for e in new],
            [e.actor for e in new],
            [e.at for e in new],
            [e.data for e in new],
        )
        for event in new:
            await project(conn, buy_id=buy_id, event=event)
    return len(new)


async def fetch_events(conn: Any, *, buy_id: str, after: int = 0, limit: int = 1000) -> list[Any]:
    return list(await conn.fetch(SELECT_EVENTS, buy_id, after, limit))
