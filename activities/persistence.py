"""Recording a buy's events (and their projections) in PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.events import EventGap, append_events
from messages.joint_buy import RECORD_EVENTS, RecordEvents

log = structlog.get_logger(__name__)


class PersistenceActivities:
    """Activities that need the database receive the pool, so tests can hand them their own."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, batch: RecordEvents) -> int:
        """Idempotent: the log's (buy_id, seq) key means a retry after a crash adds nothing."""
        info = activity.info()
        bound = log.bind(workflow_id=info.workflow_id, attempt=info.attempt)
        try:
            async with self._pool.acquire() as conn:
                written = await append_events(conn, buy_id=batch.buy_id, events=batch.events)
        except EventGap as gap:
            raise ApplicationError(str(gap), type="InvalidEventBatch", non_retryable=True) from gap
        except asyncpg.DataError as err:
            # Data PostgreSQL cannot store (e.g. U+0000 in jsonb) fails the same way on every
            # retry: say so at once rather than retry forever behind every later command.
            bound.error("events refused by the database", buy_id=batch.buy_id, error=str(err))
            raise ApplicationError(str(err), type="InvalidEventBatch", non_retryable=True) from err
        bound.debug("events recorded", buy_id=batch.buy_id, received=len(batch.events), new=written)
        return written
