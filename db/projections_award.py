"""Read models for negotiation to award: rounds, sealed bids, ranks, scores, assessment summaries, the
award notice and standstill, challenges and contracts. `db.projections.PROJECTORS` maps the events to
these projectors; each runs in the transaction that records its event.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from procurement.models import DomainEvent

OPEN_ROUND = """
UPDATE joint_buys
SET current_round = $2, rounds = $3, best_and_final = $4, round_open = true, round_closes_at = $5,
    round_extensions_used = 0, stage_deadline = $5, updated_at = $6
WHERE buy_id = $1
"""
EXTEND_ROUND = """
UPDATE joint_buys
SET round_closes_at = $3, round_extensions_used = $4, stage_deadline = $3, updated_at = $5
WHERE buy_id = $1 AND current_round = $2
"""
CLOSE_ROUND = """
UPDATE joint_buys SET round_open = false, updated_at = $3 WHERE buy_id = $1 AND current_round = $2
"""
INSERT_BID = """
INSERT INTO bids (buy_id, seq, company_number, lot_id, round, tiers, evaluated_unit_price,
                  previous_unit_price, submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (buy_id, seq) DO NOTHING
"""
UPSERT_RANK = """
INSERT INTO round_ranks (buy_id, round, lot_id, company_number, rank, bidders, closed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (buy_id, round, lot_id, company_number) DO UPDATE
SET rank = excluded.rank, bidders = excluded.bidders, closed_at = excluded.closed_at
"""
UPSERT_SCORE = """
INSERT INTO scores (buy_id, lot_id, company_number, quality, social_value, entered_by, entered_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (buy_id, lot_id, company_number) DO UPDATE
SET quality = excluded.quality, social_value = excluded.social_value,
    entered_by = excluded.entered_by, entered_at = excluded.entered_at
"""
UPSERT_SUMMARY = """
INSERT INTO assessment_summaries (buy_id, lot_id, company_number, rank, tenders, successful, own, winning,
                                  recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (buy_id, lot_id, company_number) DO UPDATE
SET rank = excluded.rank, tenders = excluded.tenders, successful = excluded.successful,
    own = excluded.own, winning = excluded.winning, recorded_at = excluded.recorded_at
"""
UPSERT_LOT_AWARD = """
INSERT INTO lot_awards (buy_id, lot_id, company_number, unit_price, committed_quantity, value, total_score,
                        tenders, notified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (buy_id, lot_id) DO UPDATE
SET company_number = excluded.company_number, unit_price = excluded.unit_price,
    committed_quantity = excluded.committed_quantity, value = excluded.value,
    total_score = excluded.total_score, tenders = excluded.tenders, notified_at = excluded.notified_at
"""
DELETE_OTHER_LOT_AWARDS = "DELETE FROM lot_awards WHERE buy_id = $1 AND NOT (lot_id = ANY($2::text[]))"
SET_STANDSTILL = """
UPDATE joint_buys
SET notice_published_at = coalesce($2, notice_published_at), standstill_notice_on = $3,
    standstill_days = $4, standstill_calendar = $5, standstill_last_day = $6, contracts_from = $7,
    standstill_days_left = NULL, updated_at = $8
WHERE buy_id = $1
"""
# An upheld challenge sent back to evaluation voids the notice until the next one is published.
VOID_AWARD = """
UPDATE joint_buys
SET notice_published_at = NULL, standstill_notice_on = NULL, standstill_days = NULL,
    standstill_calendar = NULL, standstill_last_day = NULL, contracts_from = NULL,
    standstill_days_left = NULL, updated_at = $2
WHERE buy_id = $1
"""
DELETE_LOT_AWARDS = "DELETE FROM lot_awards WHERE buy_id = $1"
SUSPEND_STANDSTILL = "UPDATE joint_buys SET standstill_days_left = $2, updated_at = $3 WHERE buy_id = $1"
INSERT_CHALLENGE = """
INSERT INTO challenges (buy_id, challenge_id, company_number, grounds, working_days_left, lodged_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (buy_id, challenge_id) DO NOTHING
"""
DECIDE_CHALLENGE = """
UPDATE challenges
SET status = $3, note = $4, remedy = $5, corrected_scores = $6, decided_by = $7, decided_at = $8
WHERE buy_id = $1 AND challenge_id = $2
"""
INSERT_CONTRACT = """
INSERT INTO contracts (buy_id, council, lot_id, supplier, quantity, unit_price, total, baseline_unit_price,
                       baseline_total, saving, standalone_unit_price, aggregation_dividend, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (buy_id, council, lot_id) DO NOTHING
"""


# A contract's amounts, in the order INSERT_CONTRACT takes them (the API shows the same ones).
CONTRACT_MONEY = (
    "unit_price",
    "total",
    "baseline_unit_price",
    "baseline_total",
    "saving",
    "standalone_unit_price",
    "aggregation_dividend",
)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def round_opened(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        OPEN_ROUND, buy_id, d["round"], d["rounds"], d["best_and_final"], _instant(d["closes_at"]), e.at
    )


async def round_extended(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(EXTEND_ROUND, buy_id, d["round"], _instant(d["closes_at"]), d["extensions_used"], e.at)


async def round_closed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    number = e.data["round"]
    ranks: dict[str, dict[str, int]] = e.data.get("ranks", {})
    await conn.executemany(
        UPSERT_RANK,
        [
            (buy_id, number, lot, company, place, len(places), e.at)
            for lot, places in ranks.items()
            for company, place in places.items()
        ],
    )
    await conn.execute(CLOSE_ROUND, buy_id, number, e.at)


async def bid_submitted(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        INSERT_BID,
        buy_id,
        e.seq,
        d["company_number"],
        d["lot_id"],
        d["round"],
        d["tiers"],
        _money(d["evaluated_unit_price"]),
        _money(d.get("previous_unit_price")),
        e.at,
    )


async def score_entered(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        UPSERT_SCORE, buy_id, d["lot_id"], d["company_number"], d["quality"], d["social_value"], e.actor, e.at
    )


async def assessment_summary(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        UPSERT_SUMMARY,
        buy_id,
        d["lot_id"],
        d["company_number"],
        d["rank"],
        d["tenders"],
        d["successful"],
        d["own"],
        d["winning"],
        e.at,
    )


async def _set_standstill(
    conn: Any, buy_id: str, e: DomainEvent, facts: dict[str, Any], *, notice: bool
) -> None:
    await conn.execute(
        SET_STANDSTILL,
        buy_id,
        e.at if notice else None,
        date.fromisoformat(facts["notice_on"]),
        facts["working_days"],
        facts["calendar"],
        date.fromisoformat(facts["last_day"]),
        date.fromisoformat(facts["contracts_from"]),
        e.at,
    )


async def award_notice(conn: Any, buy_id: str, e: DomainEvent) -> None:
    lots: dict[str, dict[str, Any]] = e.data["lots"]
    await conn.execute(DELETE_OTHER_LOT_AWARDS, buy_id, list(lots))
    await conn.executemany(
        UPSERT_LOT_AWARD,
        [
            (
                buy_id,
                lot,
                a["company_number"],
                _money(a["unit_price"]),
                a["committed_quantity"],
                _money(a["value"]),
                _money(a["total_score"]),
                a["tenders"],
                e.at,
            )
            for lot, a in lots.items()
        ],
    )
    await _set_standstill(conn, buy_id, e, e.data["standstill"], notice=True)


async def standstill_resumed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await _set_standstill(conn, buy_id, e, e.data, notice=False)


async def challenge_lodged(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    left = d.get("working_days_left")
    await conn.execute(
        INSERT_CHALLENGE, buy_id, d["challenge_id"], d["company_number"], d["grounds"], left, e.at
    )
    await conn.execute(SUSPEND_STANDSTILL, buy_id, left, e.at)


async def challenge_decided(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        DECIDE_CHALLENGE,
        buy_id,
        d["challenge_id"],
        d["outcome"],
        d.get("note", ""),
        d.get("remedy"),
        d.get("corrected_scores", []),
        e.actor,
        e.at,
    )
    if d["outcome"] == "upheld" and d.get("remedy") == "re-evaluate":
        await conn.execute(DELETE_LOT_AWARDS, buy_id)
        await conn.execute(VOID_AWARD, buy_id, e.at)


async def contract_created(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        INSERT_CONTRACT,
        buy_id,
        d["council"],
        d["lot"],
        d["supplier"],
        d["quantity"],
        *(_money(d[name]) for name in CONTRACT_MONEY),
        e.at,
    )
