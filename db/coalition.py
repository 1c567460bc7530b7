"""Reading the stable coalition, clarification questions and cancelled lots from their projections."""

from __future__ import annotations

from typing import Any

SELECT_PASSES = """
SELECT lot_id, pass, aggregate, councils, tenders, company_number, unit_price, priced_out, recorded_at
FROM coalition_passes WHERE buy_id = $1 ORDER BY lot_id, pass
"""
SELECT_MEMBERS = """
SELECT lot_id, council, quantity, max_unit_price, coalition, priced_out_unit_price
FROM sign_ups WHERE buy_id = $1 ORDER BY lot_id, council
"""
# Questions as the caller may see them: `$2` all (the lead), else published answers plus the
# caller's own (`$3`, a supplier; NULL for a council).
SELECT_QUESTIONS = """
SELECT question_id, company_number, lot_id, question, asked_at, answer, publish, answered_at
FROM questions
WHERE buy_id = $1 AND ($2 OR publish = 'all' OR company_number = $3)
ORDER BY asked_at, question_id
"""


async def coalition_passes(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_PASSES, buy_id))


async def coalition_members(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_MEMBERS, buy_id))


async def questions(conn: Any, *, buy_id: str, everything: bool, company_number: str | None) -> list[Any]:
    return list(await conn.fetch(SELECT_QUESTIONS, buy_id, everything, company_number))
