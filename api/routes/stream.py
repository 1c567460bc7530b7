"""A buy's audit log as Server-Sent Events, for live dashboards: the same events as `/events`,
shaped by the same visibility table; each event's SSE `id` is its seq, so a reconnecting client's
`Last-Event-ID` resumes after the last one it got. The stream ends once a finished buy has sent
everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth import Principal
from api.deps import AppSettings, Caller, Pool
from api.problems import BUY, ROLE, Problem, problems
from api.schemas import EventOut
from api.views import buy_scope, load_buy, snapshot
from db.events import fetch_events
from procurement.models import Stage
from procurement.visibility import shown

router = APIRouter(prefix="/v1/joint-buys", tags=["results"])

PAGE = 500
MAX_SEQ = 2**31 - 1


def _resume_from(last_event_id: str | None, after: int) -> int:
    if last_event_id is None or not last_event_id.strip():
        return after
    value = last_event_id.strip()
    if not value.isdigit() or int(value) > MAX_SEQ:
        message = "Last-Event-ID must be the seq of an event (a whole number)"
        raise Problem(422, message, errors=[{"field": "Last-Event-ID", "message": message}])
    return max(after, int(value))


@router.get(
    "/{buy_id}/events/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "one SSE event per audit-log event: `id` its seq, `event` its type, "
            "`data` the event as `GET /events` shows it",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(ROLE, BUY),
    },
)
async def stream_events(
    buy_id: str,
    pool: Pool,
    caller: Caller,
    settings: AppSettings,
    after: int = Query(0, ge=0, le=MAX_SEQ, description="only events with a greater seq"),
    last_event_id: str | None = Header(None, max_length=32),
) -> EventSourceResponse:
    """The audit log as Server-Sent Events (`id` = seq; `Last-Event-ID` resumes), shaped by role."""
    start = _resume_from(last_event_id, after)
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)
    return EventSourceResponse(_events(pool, buy_id, caller, start, settings.webhook_poll_seconds), ping=15)


async def _events(
    pool: Any, buy_id: str, caller: Principal, after: int, poll: float
) -> AsyncIterator[ServerSentEvent]:
    last = after
    while True:
        async with snapshot(pool) as conn:
            row = await load_buy(conn, buy_id, caller)
            scope = await buy_scope(conn, row)
            events = await fetch_events(conn, buy_id=buy_id, after=last, limit=PAGE)
        for e in events:
            last = e["seq"]
            seen = shown(dict(e), caller, scope)
            if seen is not None:
                body = EventOut.model_validate(seen).model_dump_json()
                yield ServerSentEvent(data=body, id=str(e["seq"]), event=e["type"])
        if len(events) < PAGE:
            if Stage(row["stage"]).terminal:
                return
            await asyncio.sleep(poll)
