"""Read models for the stable coalition, clarification questions and cancelled lots.
`db.projections.PROJECTORS` maps the events to these projectors; each runs in the transaction that
records its event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from procurement.models import DomainEvent

DELETE_LOT_PASSES = "DELETE FROM coalition_passes WHERE buy_id = $1 AND lot_id = $2"
INSERT_PASS = """
INSERT INTO coalition_passes (buy_id, lot_id, pass, aggregate, councils, tenders, company_number,
                              unit_price, priced_out, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (buy_id, lot_id, pass) DO UPDATE
SET aggregate = excluded.aggregate, councils = excluded.councils, tenders = excluded.tenders,
    company_number = excluded.company_number, unit_price = excluded.unit_price,
    priced_out = excluded.priced_out, recorded_at = excluded.recorded_at
"""
# A lot settled: every council signed up for it is in its coalition or priced out.
SETTLE_LOT = """
UPDATE sign_ups
SET coalition = CASE WHEN council = ANY($3::text[]) THEN 'in' ELSE 'priced_out' END,
    priced_out_unit_price = CASE WHEN council = ANY($3::text[]) THEN NULL ELSE priced_out_unit_price END
WHERE buy_id = $1 AND lot_id = $2
"""
PRICE_OUT = """
UPDATE sign_ups SET priced_out_unit_price = $4 WHERE buy_id = $1 AND lot_id = $2 AND council = $3
"""
INSERT_QUESTION = """
INSERT INTO questions (buy_id, question_id, company_number, lot_id, question, asked_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (buy_id, question_id) DO NOTHING
"""
ANSWER_QUESTION = """
UPDATE questions SET answer = $3, publish = $4, answered_by = $5, answered_at = $6
WHERE buy_id = $1 AND question_id = $2
"""
# A re-evaluation settled a lot again that an earlier coalition had left unsuccessful.
REOPEN_LOT = """
UPDATE buy_lots SET status = 'open', status_reason = ''
WHERE buy_id = $1 AND lot_id = $2 AND status = 'unsuccessful'
"""
CANCEL_LOT = """
UPDATE buy_lots SET status = 'cancelled', status_reason = $3, status_code = $4
WHERE buy_id = $1 AND lot_id = $2
"""


async def coalition_pass(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    if d["pass"] == 1:
        await conn.execute(DELETE_LOT_PASSES, buy_id, d["lot_id"])
    price = d.get("unit_price")
    await conn.execute(
        INSERT_PASS,
        buy_id,
        d["lot_id"],
        d["pass"],
        d["aggregate"],
        d["councils"],
        d["tenders"],
        d.get("company_number"),
        None if price is None else Decimal(price),
        d["priced_out"],
        e.at,
    )


async def coalition_priced_out(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(PRICE_OUT, buy_id, d["lot_id"], d["council"], Decimal(d["unit_price"]))


async def coalition_settled(conn: Any, buy_id: str, e: DomainEvent) -> None:
    await conn.execute(SETTLE_LOT, buy_id, e.data["lot_id"], e.data["councils"])
    if not e.data.get("unsuccessful"):
        await conn.execute(REOPEN_LOT, buy_id, e.data["lot_id"])


async def question_asked(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(
        INSERT_QUESTION, buy_id, d["question_id"], d["company_number"], d.get("lot_id"), d["question"], e.at
    )


async def question_answered(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(ANSWER_QUESTION, buy_id, d["question_id"], d["answer"], d["publish"], e.actor, e.at)


async def lot_cancelled(conn: Any, buy_id: str, e: DomainEvent) -> None:
    d = e.data
    await conn.execute(CANCEL_LOT, buy_id, d["lot_id"], d["reason"], d["reason_code"])
