"""The webhook outbox against real PostgreSQL: deliveries are written in the same transaction as
the events (none for a batch that is refused), one per subscription that asked for the type; a
receiver that never answers is retried with backoff and given up only after the retry window; a
deleted subscription's deliveries are dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.webhook_dispatch import Dispatcher
from core.settings import Settings
from db import webhooks as q
from db.events import EventGap, append_events
from jointbuy.devstack import free_port
from tests.db.test_event_log import _buy_id, _event, history

SQL_DELIVERIES = """
SELECT webhook_id, seq, status, attempts FROM webhook_deliveries WHERE buy_id = $1 ORDER BY webhook_id, seq
"""


async def subscribe(conn: Any, webhook_id: str, url: str, types: list[str], buy_id: str | None) -> None:
    await q.insert_webhook(
        conn,
        webhook_id=webhook_id,
        role="admin",
        organisation_id="ops",
        url=url,
        event_types=types,
        buy_id=buy_id,
        secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
    )


async def test_deliveries_are_written_with_their_events_and_only_then(pool: Any) -> None:
    buy_id = _buy_id()
    port = free_port()  # nothing listens there
    async with pool.acquire() as conn:
        await subscribe(
            conn, f"wh_a{buy_id[-10:]}", f"http://127.0.0.1:{port}/", ["demand.registered"], buy_id
        )
        await subscribe(conn, f"wh_b{buy_id[-10:]}", f"http://127.0.0.1:{port}/", ["stage.changed"], None)
        await subscribe(
            conn, f"wh_c{buy_id[-10:]}", f"http://127.0.0.1:{port}/", ["stage.changed"], "jb-other"
        )
        await append_events(conn, buy_id=buy_id, events=history(4))
        rows = [tuple(r) for r in await conn.fetch(SQL_DELIVERIES, buy_id)]
        assert rows == [
            (f"wh_a{buy_id[-10:]}", 3, "pending", 0),
            (f"wh_a{buy_id[-10:]}", 4, "pending", 0),
            (f"wh_b{buy_id[-10:]}", 2, "pending", 0),
        ]
        # A batch retried after it landed writes neither events nor deliveries again.
        await append_events(conn, buy_id=buy_id, events=history(4))
        assert len(await conn.fetch(SQL_DELIVERIES, buy_id)) == 3
        # A batch that is refused writes none.
        with pytest.raises(EventGap):
            await append_events(conn, buy_id=buy_id, events=[_event(9, "stage.changed", {"to": "x"})])
        assert len(await conn.fetch(SQL_DELIVERIES, buy_id)) == 3
        for name in "abc":  # "every buy" subscriptions would see the other tests' buys
            await q.delete_webhook(
                conn, webhook_id=f"wh_{name}{buy_id[-10:]}", role="admin", organisation_id="ops"
            )


async def test_a_receiver_that_never_answers_is_retried_then_given_up_after_the_window(pool: Any) -> None:
    buy_id = _buy_id()
    webhook_id = f"wh_d{buy_id[-10:]}"
    port = free_port()
    settings = Settings(
        webhook_retry_base_seconds=0.01,
        webhook_retry_max_seconds=0.02,
        webhook_retry_for_seconds=3600,
        webhook_timeout_seconds=0.5,
    )
    async with pool.acquire() as conn:
        await subscribe(conn, webhook_id, f"http://127.0.0.1:{port}/", ["stage.changed"], buy_id)
        await append_events(conn, buy_id=buy_id, events=history(2))
    dispatcher = Dispatcher(pool, settings)
    for _ in range(3):  # each attempt finds nobody listening
        await dispatcher.dispatch_once()
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE buy_id = $1", buy_id
            )
    async with pool.acquire() as conn:
        rows = [tuple(r) for r in await conn.fetch(SQL_DELIVERIES, buy_id)]
        assert rows == [(webhook_id, 2, "pending", 3)], "still retried inside the window"
        wait = await conn.fetchval(
            "SELECT next_attempt_at - now() FROM webhook_deliveries WHERE buy_id = $1", buy_id
        )
        assert wait <= timedelta(seconds=settings.webhook_retry_max_seconds)
        # The whole retry window has passed since the event was written.
        await conn.execute(
            "UPDATE webhook_deliveries SET created_at = $2, next_attempt_at = now() WHERE buy_id = $1",
            buy_id,
            datetime.now(UTC) - timedelta(seconds=settings.webhook_retry_for_seconds + 1),
        )
    await dispatcher.dispatch_once()
    await dispatcher.aclose()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, attempts, last_error FROM webhook_deliveries WHERE buy_id = $1", buy_id
        )
    assert (row["status"], row["attempts"]) == ("failed", 4)
    assert "Connect" in row["last_error"]


async def test_a_deleted_subscription_gets_nothing_more(pool: Any) -> None:
    buy_id = _buy_id()
    webhook_id = f"wh_e{buy_id[-10:]}"
    async with pool.acquire() as conn:
        await subscribe(conn, webhook_id, f"http://127.0.0.1:{free_port()}/", ["demand.registered"], buy_id)
        await append_events(conn, buy_id=buy_id, events=history(3))
        assert await q.delete_webhook(conn, webhook_id=webhook_id, role="admin", organisation_id="ops")
    dispatcher = Dispatcher(pool, Settings())
    await dispatcher.dispatch_once()
    await dispatcher.aclose()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, last_error FROM webhook_deliveries WHERE buy_id = $1", buy_id
        )
        assert (row["status"], row["last_error"]) == ("skipped", "the subscription was deleted")
        await append_events(
            conn,
            buy_id=buy_id,
            events=[*history(3), _event(4, "demand.registered", {"council": "E1", "lines": []})],
        )
        assert len(await conn.fetch(SQL_DELIVERIES, buy_id)) == 1, "no new deliveries once deleted"
