"""Read models kept in step with the event log, in the same transaction as the events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from db import projections_award as award
from db import projections_coalition as coalition
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
# A council's lines and its status change together, in one statement per event: the lines the
# event names replace the council's lines ($3: their lot ids; the rest go), and its status ($4) is
# set as of the event ($5). No lines: the council's lines all go (a withdrawal).
_COUNCIL_STATUS = """
INSERT INTO buy_councils (buy_id, council, status, updated_at) VALUES ($1, $2, $4, $5)
ON CONFLICT (buy_id, council) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
"""
REPLACE_DEMAND = (
    """
WITH gone AS (
    DELETE FROM demand_lines WHERE buy_id = $1 AND council = $2 AND lot_id <> ALL ($3::text[])
), lines AS (
    INSERT INTO demand_lines (buy_id, council, lot_id, quantity, baseline_unit_price,
                              budget_ceiling_gbp, registered_at)
    SELECT $1, $2, l.lot_id, l.quantity, l.baseline_unit_price, l.budget_ceiling_gbp, $5
    FROM unnest($3::text[], $6::bigint[], $7::numeric[], $8::numeric[])
         AS l (lot_id, quantity, baseline_unit_price, budget_ceiling_gbp)
    ON CONFLICT (buy_id, council, lot_id) DO UPDATE
    SET quantity = excluded.quantity, baseline_unit_price = excluded.baseline_unit_price,
        budget_ceiling_gbp = excluded.budget_ceiling_gbp, registered_at = excluded.registered_at
)"""
    + _COUNCIL_STATUS
)
REPLACE_SIGN_UP = (
    """
WITH gone AS (
    DELETE FROM sign_ups WHERE buy_id = $1 AND council = $2 AND lot_id <> ALL ($3::text[])
), lines AS (
    INSERT INTO sign_ups (buy_id, council, lot_id, quantity, confirmed_at, max_unit_price)
    SELECT $1, $2, l.lot_id, l.quantity, $5, l.max_unit_price
    FROM unnest($3::text[], $6::bigint[], $7::numeric[]) AS l (lot_id, quantity, max_unit_price)
    ON CONFLICT (buy_id, council, lot_id) DO UPDATE
    SET quantity = excluded.quantity, confirmed_at = excluded.confirmed_at,
        max_unit_price = excluded.max_unit_price, coalition = NULL, priced_out_unit_price = NULL
)"""
    + _COUNCIL_STATUS
)
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
    await _replace_demand(conn, buy_id, e, e.data["lines"], "registered")


async def _demand_withdrawn(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await _replace_demand(conn, buy_id, e, [], "withdrawn")


async def _replace_demand(conn: Any, buy_id: str, e: DomainEvent, lines: list[Any], status: str) -> None:
    await conn.execute(
        REPLACE_DEMAND,
        buy_id,
        e.data["council"],
        [line["lot_id"] for line in lines],
        status,
        e.at,
        [line["quantity"] for line in lines],
        [line["baseline_unit_price"] for line in lines],
        [line.get("budget_ceiling_gbp") for line in lines],
    )


async def _sign_up_confirmed(conn: Any, buy_id: str, e: DomainEvent) -> None:
    lines = e.data["lines"]
    await conn.execute(
        REPLACE_SIGN_UP,
        buy_id,
        e.data["council"],
        [line["lot_id"] for line in lines],
        "signed_up",
        e.at,
        [line["quantity"] for line in lines],
        [line.get("max_unit_price") for line in lines],
    )


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
    "round.opened": award.round_opened,
    "round.extended": award.round_extended,
    "round.closed": award.round_closed,
    "bid.submitted": award.bid_submitted,
    "score.entered": award.score_entered,
    "assessment.summary": award.assessment_summary,
    "award.notice": award.award_notice,
    "standstill.resumed": award.standstill_resumed,
    "challenge.lodged": award.challenge_lodged,
    "challenge.decided": award.challenge_decided,
    "contract.created": award.contract_created,
    "coalition.pass": coalition.coalition_pass,
    "coalition.priced_out": coalition.coalition_priced_out,
    "coalition.settled": coalition.coalition_settled,
    "question.asked": coalition.question_asked,
    "question.answered": coalition.question_answered,
    "clarification.published": coalition.question_answered,
    "lot.cancelled": coalition.lot_cancelled,
}


async def project(conn: Any, *, buy_id: str, event: DomainEvent) -> None:
    """Apply one event to the read models; events without a projection live only in the log."""
    projector = PROJECTORS.get(event.type)
    if projector is not None:
        await projector(conn, buy_id, event)
