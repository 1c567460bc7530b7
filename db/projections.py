"""Read models kept in step with the event log, in the same transaction as the events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from procurement.models import DomainEvent

INSERT_BUY = """
INSERT INTO joint_buys (buy_id, lead, title, stage, terms, created_at, updated_at)
VALUES ($1, $2, $3, 'draft', $4, $5, $5)
"""
INSERT_LOT = "INSERT INTO buy_lots (buy_id, lot_id, title, unit) VALUES ($1, $2, $3, $4)"
UPDATE_STAGE = """
UPDATE joint_buys
SET stage = $2, stage_deadline = $3, updated_at = $4,
    outcome_reason = CASE WHEN $2 IN ('awarded', 'cancelled', 'unsuccessful') THEN $5 ELSE outcome_reason END
WHERE buy_id = $1
"""
DELETE_DEMAND = "DELETE FROM demand_lines WHERE buy_id = $1 AND council = $2"
INSERT_DEMAND = """
INSERT INTO demand_lines (buy_id, council, lot_id, quantity, baseline_unit_price,
                          budget_ceiling_gbp, registered_at)
VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7)
"""
DELETE_SIGN_UP = "DELETE FROM sign_ups WHERE buy_id = $1 AND council = $2"
INSERT_SIGN_UP = """
INSERT INTO sign_ups (buy_id, council, lot_id, quantity, confirmed_at)
VALUES ($1, $2, $3, $4, $5)
"""
UPSERT_COUNCIL_STATUS = """
INSERT INTO buy_councils (buy_id, council, status, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (buy_id, council) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
"""
MARK_DROPPED_OUT = """
UPDATE buy_councils SET status = 'dropped_out', updated_at = $3
WHERE buy_id = $1 AND council = ANY($2::text[])
"""
MARK_LOT = "UPDATE buy_lots SET status = $3, status_reason = $4 WHERE buy_id = $1 AND lot_id = $2"

UPSERT_SUPPLIER = """
INSERT INTO buy_suppliers (buy_id, company_number, name, status, registered_at, updated_at)
VALUES ($1, $2, $3, 'registered', $4, $4)
ON CONFLICT (buy_id, company_number) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
"""
UPDATE_SUPPLIER_STATUS = """
UPDATE buy_suppliers SET status = $3, reason = $4, updated_at = $5
WHERE buy_id = $1 AND company_number = $2
"""
UPSERT_CHECK = """
INSERT INTO assurance_checks (buy_id, company_number, check_name, passed, flagged, reason, checked_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (buy_id, company_number, check_name) DO UPDATE
SET passed = excluded.passed, flagged = excluded.flagged, reason = excluded.reason,
    checked_at = excluded.checked_at
"""


# --- negotiation and award -----------------------------------------------------------------------

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

Projector = Callable[[Any, str, DomainEvent], Awaitable[None]]


async def _buy_created(conn: Any, buy_id: str, e: DomainEvent) -> None:
    terms = e.data["terms"]
    await conn.execute(INSERT_BUY, buy_id, e.actor, terms["title"], terms, e.at)
    await conn.executemany(
        INSERT_LOT, [(buy_id, lot["id"], lot["title"], lot["unit"]) for lot in terms["lots"]]
    )


async def _stage_changed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    deadline = e.data.get("deadline")
    await conn.execute(
        UPDATE_STAGE,
        buy_id,
        e.data["to"],
        datetime.fromisoformat(deadline) if deadline else None,
        e.at,
        e.data.get("reason", ""),
    )


async def _demand_registered(conn: Any, buy_id: str, e: DomainEvent) -> None:
    council = e.data["council"]
    await conn.execute(DELETE_DEMAND, buy_id, council)
    await conn.executemany(
        INSERT_DEMAND,
        [
            (
                buy_id,
                council,
                line["lot_id"],
                line["quantity"],
                line["baseline_unit_price"],
                line.get("budget_ceiling_gbp"),
                e.at,
            )
            for line in e.data["lines"]
        ],
    )
    await conn.execute(UPSERT_COUNCIL_STATUS, buy_id, council, "registered", e.at)


async def _demand_withdrawn(conn: Any, buy_id: str, e: DomainEvent) -> None:
    council = e.data["council"]
    await conn.execute(DELETE_DEMAND, buy_id, council)
    await conn.execute(UPSERT_COUNCIL_STATUS, buy_id, council, "withdrawn", e.at)


async def _sign_up_confirmed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    council = e.data["council"]
    await conn.execute(DELETE_SIGN_UP, buy_id, council)
    await conn.executemany(
        INSERT_SIGN_UP,
        [(buy_id, council, line["lot_id"], line["quantity"], e.at) for line in e.data["lines"]],
    )
    await conn.execute(UPSERT_COUNCIL_STATUS, buy_id, council, "signed_up", e.at)


async def _sign_up_closed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await conn.execute(MARK_DROPPED_OUT, buy_id, e.data["dropped_out"], e.at)


async def _lot_unsuccessful(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await conn.execute(MARK_LOT, buy_id, e.data["lot_id"], "unsuccessful", e.data["reason"])


async def _supplier_registered(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await conn.execute(UPSERT_SUPPLIER, buy_id, e.data["company_number"], e.data["name"], e.at)


async def _supplier_assessed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    """`assurance.checked` and `exclusion.decided` both carry the supplier's checks and outcome."""
    company = e.data["company_number"]
    checks = e.data["checks"]
    await conn.executemany(
        UPSERT_CHECK,
        [(buy_id, company, c["check"], c["passed"], c["flagged"], c["reason"], e.at) for c in checks],
    )
    reason = "; ".join(c["reason"] for c in checks if not c["passed"])
    await conn.execute(UPDATE_SUPPLIER_STATUS, buy_id, company, e.data["outcome"], reason, e.at)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _round_opened(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        OPEN_ROUND, buy_id, d["round"], d["rounds"], d["best_and_final"], _instant(d["closes_at"]), e.at
    )


async def _round_extended(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(EXTEND_ROUND, buy_id, d["round"], _instant(d["closes_at"]), d["extensions_used"], e.at)


async def _round_closed(conn: Any, buy_id: str, e: DomainEvent) -> None:
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


async def _bid_submitted(conn: Any, buy_id: str, e: DomainEvent) -> None:
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


async def _score_entered(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        UPSERT_SCORE, buy_id, d["lot_id"], d["company_number"], d["quality"], d["social_value"], e.actor, e.at
    )


async def _assessment_summary(conn: Any, buy_id: str, e: DomainEvent) -> None:
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


async def _award_notice(conn: Any, buy_id: str, e: DomainEvent) -> None:
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


async def _standstill_resumed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await _set_standstill(conn, buy_id, e, e.data, notice=False)


async def _challenge_lodged(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    left = d.get("working_days_left")
    await conn.execute(
        INSERT_CHALLENGE, buy_id, d["challenge_id"], d["company_number"], d["grounds"], left, e.at
    )
    await conn.execute(SUSPEND_STANDSTILL, buy_id, left, e.at)


async def _challenge_decided(conn: Any, buy_id: str, e: DomainEvent) -> None:
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


async def _contract_created(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        INSERT_CONTRACT,
        buy_id,
        d["council"],
        d["lot"],
        d["supplier"],
        d["quantity"],
        *(
            _money(d[name])
            for name in (
                "unit_price",
                "total",
                "baseline_unit_price",
                "baseline_total",
                "saving",
                "standalone_unit_price",
                "aggregation_dividend",
            )
        ),
        e.at,
    )


PROJECTORS: dict[str, Projector] = {
    "buy.created": _buy_created,
    "stage.changed": _stage_changed,
    "demand.registered": _demand_registered,
    "demand.withdrawn": _demand_withdrawn,
    "sign_up.confirmed": _sign_up_confirmed,
    "sign_up.closed": _sign_up_closed,
    "lot.unsuccessful": _lot_unsuccessful,
    "supplier.registered": _supplier_registered,
    "assurance.checked": _supplier_assessed,
    "exclusion.decided": _supplier_assessed,
    "round.opened": _round_opened,
    "round.extended": _round_extended,
    "round.closed": _round_closed,
    "bid.submitted": _bid_submitted,
    "score.entered": _score_entered,
    "assessment.summary": _assessment_summary,
    "award.notice": _award_notice,
    "standstill.resumed": _standstill_resumed,
    "challenge.lodged": _challenge_lodged,
    "challenge.decided": _challenge_decided,
    "contract.created": _contract_created,
}


async def project(conn: Any, *, buy_id: str, event: DomainEvent) -> None:
    """Apply one event to the read models; events without a projection live only in the log."""
    projector = PROJECTORS.get(event.type)
    if projector is not None:
        await projector(conn, buy_id, event)
