"""The event log against a real PostgreSQL: appends are idempotent, gaps are refused, projections
are applied exactly once, and the migrator is safe to run again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import db
from activities.persistence import PersistenceActivities
from db.events import EventGap, append_events, fetch_events
from db.migrate import available_migrations, migrate
from messages.joint_buy import RecordEvents
from procurement.models import DemandLine, DomainEvent
from tests.support import terms

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def _buy_id() -> str:
    return f"jb-db-{uuid.uuid4().hex[:10]}"


def _event(seq: int, type_: str, data: dict[str, Any], actor: str = "system") -> DomainEvent:
    return DomainEvent(seq=seq, type=type_, actor=actor, at=T0 + timedelta(seconds=seq), data=data)


def _demand(council: str, lot: str, qty: int) -> dict[str, Any]:
    line = DemandLine(lot_id=lot, quantity=qty, baseline_unit_price=Decimal("949.99"))
    return {"council": council, "lines": [line.model_dump(mode="json")]}


def history(n: int = 6) -> list[DomainEvent]:
    """A buy's opening: created, into demand, then councils registering demand."""
    events = [
        _event(1, "buy.created", {"terms": terms(T0).model_dump(mode="json")}, actor="CCS"),
        _event(
            2,
            "stage.changed",
            {"from": "draft", "to": "demand", "deadline": None, "reason": "buy started"},
        ),
    ]
    for seq in range(3, n + 1):
        council = f"E0600{seq:04d}"
        events.append(_event(seq, "demand.registered", _demand(council, "laptops", 10 * seq), actor=council))
    return events


async def _append(pool: Any, buy_id: str, events: Sequence[DomainEvent]) -> int:
    async with pool.acquire() as conn:
        return int(await append_events(conn, buy_id=buy_id, events=events))


async def _seqs(pool: Any, buy_id: str) -> list[int]:
    async with pool.acquire() as conn:
        return [r["seq"] for r in await fetch_events(conn, buy_id=buy_id)]


async def _demand_rows(pool: Any, buy_id: str) -> list[tuple[str, str, int]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT council, lot_id, quantity FROM demand_lines WHERE buy_id = $1 ORDER BY council",
            buy_id,
        )
    return [(r["council"], r["lot_id"], r["quantity"]) for r in rows]


async def _count(pool: Any, sql: str, buy_id: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql, buy_id))


async def test_same_batch_twice_writes_once(pool: Any) -> None:
    buy_id = _buy_id()
    batch = history(6)

    assert await _append(pool, buy_id, batch) == 6
    assert await _append(pool, buy_id, batch) == 0

    assert await _seqs(pool, buy_id) == [1, 2, 3, 4, 5, 6]
    # Projections applied once: one buy, its two lots, one demand row per council.
    assert await _count(pool, "SELECT count(*) FROM joint_buys WHERE buy_id = $1", buy_id) == 1
    assert await _count(pool, "SELECT count(*) FROM buy_lots WHERE buy_id = $1", buy_id) == 2
    assert await _demand_rows(pool, buy_id) == [
        ("E06000003", "laptops", 30),
        ("E06000004", "laptops", 40),
        ("E06000005", "laptops", 50),
        ("E06000006", "laptops", 60),
    ]
    total = "SELECT sum(quantity) FROM demand_lines WHERE buy_id = $1"
    assert await _count(pool, total, buy_id) == 180
    async with pool.acquire() as conn:
        stage = await conn.fetchval("SELECT stage FROM joint_buys WHERE buy_id = $1", buy_id)
    assert stage == "demand"


async def test_overlapping_batch_writes_only_the_new_tail(pool: Any) -> None:
    buy_id = _buy_id()
    events = history(6)

    assert await _append(pool, buy_id, events[0:4]) == 4  # seq 1..4
    assert await _demand_rows(pool, buy_id) == [
        ("E06000003", "laptops", 30),
        ("E06000004", "laptops", 40),
    ]
    # A retried batch that straddles what landed: 3..6 after 1..4 writes only 5 and 6.
    assert await _append(pool, buy_id, events[2:6]) == 2

    assert await _seqs(pool, buy_id) == [1, 2, 3, 4, 5, 6]
    async with pool.acquire() as conn:
        types = [r["type"] for r in await fetch_events(conn, buy_id=buy_id)]
    assert types.count("demand.registered") == 4
    assert len(await _demand_rows(pool, buy_id)) == 4
    assert await _count(pool, "SELECT sum(quantity) FROM demand_lines WHERE buy_id = $1", buy_id) == 180


async def test_a_gap_is_refused_and_writes_nothing(pool: Any) -> None:
    buy_id = _buy_id()
    events = history(6)
    assert await _append(pool, buy_id, events[0:2]) == 2

    with pytest.raises(EventGap, match="log ends at 2, batch starts at 4"):
        await _append(pool, buy_id, events[3:6])

    assert await _seqs(pool, buy_id) == [1, 2]
    assert await _demand_rows(pool, buy_id) == []

    # A first batch must start at seq 1.
    with pytest.raises(EventGap):
        await _append(pool, _buy_id(), events[1:3])


async def test_migrate_again_applies_nothing(pool: Any) -> None:
    async with pool.acquire() as conn:
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    shipped = available_migrations()
    assert shipped, "no migrations found in db/migrations"
    assert [(r["version"], r["name"]) for r in rows] == [(v, name) for v, name, _ in shipped]
    on_disk = sorted(p.name for p in _migrations_dir().glob("*.sql"))
    assert [r["name"] for r in rows] == on_disk


def _migrations_dir() -> Path:
    return Path(db.__file__).parent / "migrations"


async def test_record_events_activity_is_idempotent(pool: Any) -> None:
    buy_id = _buy_id()
    batch = RecordEvents(buy_id=buy_id, events=history(5))
    activities = PersistenceActivities(pool)
    env = ActivityEnvironment()

    first = await env.run(activities.record_events, batch)
    # The same activity retried after a crash (the worker died before reporting completion).
    second = await env.run(activities.record_events, batch)

    assert (first, second) == (5, 0)
    assert await _seqs(pool, buy_id) == [1, 2, 3, 4, 5]
    assert len(await _demand_rows(pool, buy_id)) == 3
    assert await _count(pool, "SELECT count(*) FROM buy_councils WHERE buy_id = $1", buy_id) == 3


async def test_record_events_activity_gap_is_non_retryable(pool: Any) -> None:
    buy_id = _buy_id()
    activities = PersistenceActivities(pool)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as err:
        await env.run(activities.record_events, RecordEvents(buy_id=buy_id, events=history(4)[2:]))
    assert err.value.type == "InvalidEventBatch"
    assert err.value.non_retryable
    assert await _seqs(pool, buy_id) == []


async def test_data_postgresql_cannot_store_is_refused_for_good(pool: Any) -> None:
    """U+0000 cannot live in jsonb: the same batch would fail on every retry, so the activity says
    so at once (the API refuses such text before it gets this far) and writes nothing."""
    buy_id = _buy_id()
    events = history(3)
    events[2] = _event(3, "demand.registered", _demand("E0600\x000003", "laptops", 30), actor="E06000003")
    activities = PersistenceActivities(pool)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(activities.record_events, RecordEvents(buy_id=buy_id, events=events))
    assert (err.value.type, err.value.non_retryable) == ("InvalidEventBatch", True)
    assert await _seqs(pool, buy_id) == []


async def test_a_second_writer_waits_for_the_first_and_follows_its_events(pool: Any) -> None:
    """The worker and the API write the same buy's log: a writer whose batch follows events another
    writer has not yet committed waits for that writer, then sees them (no false gap), and a batch
    that overlaps them writes only what is new."""
    buy_id = _buy_id()
    events = history(8)
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            assert await append_events(first, buy_id=buy_id, events=events[:4]) == 4
            follows = asyncio.create_task(append_events(second, buy_id=buy_id, events=events[4:6]))
            overlaps = asyncio.create_task(_append(pool, buy_id, events[2:8]))
            await asyncio.sleep(0.3)
            assert not follows.done() and not overlaps.done(), "they wait for the first writer"
        written = await follows + await overlaps
    assert written == 4, "seq 5..8 written once between the two"
    assert await _seqs(pool, buy_id) == list(range(1, 9))
    assert len(await _demand_rows(pool, buy_id)) == 6


async def test_a_council_that_registers_again_keeps_only_its_new_lines_and_a_withdrawal_clears_them(
    pool: Any,
) -> None:
    buy_id = _buy_id()
    council = "E06000003"
    both = {
        "council": council,
        "lines": [
            DemandLine(lot_id="laptops", quantity=10, baseline_unit_price=Decimal("949.99")).model_dump(
                mode="json"
            ),
            DemandLine(
                lot_id="monitors",
                quantity=5,
                baseline_unit_price=Decimal("120.00"),
                budget_ceiling_gbp=Decimal("700.00"),
            ).model_dump(mode="json"),
        ],
    }
    opening = history(2)
    await _append(pool, buy_id, [*opening, _event(3, "demand.registered", both, actor=council)])
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT lot_id, quantity, baseline_unit_price, budget_ceiling_gbp FROM demand_lines"
            " WHERE buy_id = $1 ORDER BY lot_id",
            buy_id,
        )
    assert [tuple(r) for r in rows] == [
        ("laptops", 10, Decimal("949.99"), None),
        ("monitors", 5, Decimal("120.00"), Decimal("700.00")),
    ]
    await _append(
        pool, buy_id, [_event(4, "demand.registered", _demand(council, "monitors", 7), actor=council)]
    )
    assert await _demand_rows(pool, buy_id) == [(council, "monitors", 7)]
    status = "SELECT status FROM buy_councils WHERE buy_id = $1"
    async with pool.acquire() as conn:
        assert await conn.fetchval(status, buy_id) == "registered"
    await _append(pool, buy_id, [_event(5, "demand.withdrawn", {"council": council}, actor=council)])
    assert await _demand_rows(pool, buy_id) == []
    async with pool.acquire() as conn:
        assert await conn.fetchval(status, buy_id) == "withdrawn"
