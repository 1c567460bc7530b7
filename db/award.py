"""Reading negotiation and award from their projections: bids, ranks, summaries, awards, challenges
and contracts."""

from __future__ import annotations

from typing import Any

SELECT_SUPPLIER_BIDS = """
SELECT seq, round, lot_id, tiers, evaluated_unit_price, previous_unit_price, submitted_at
FROM bids WHERE buy_id = $1 AND company_number = $2
ORDER BY seq
"""
# Counts only: what the lead and operators see while bids are sealed.
SELECT_BID_COUNTS = """
SELECT lot_id, count(*) AS bids, count(DISTINCT company_number) AS bidders,
       count(DISTINCT company_number) FILTER (WHERE round = $2) AS bidders_this_round
FROM bids WHERE buy_id = $1
GROUP BY lot_id ORDER BY lot_id
"""
# Each supplier's latest bid per lot: the tenders that are ranked and evaluated.
SELECT_FINAL_BIDS = """
SELECT DISTINCT ON (b.lot_id, b.company_number)
       b.lot_id, b.company_number, s.name, b.round, b.evaluated_unit_price, b.submitted_at
FROM bids b
LEFT JOIN buy_suppliers s ON s.buy_id = b.buy_id AND s.company_number = b.company_number
WHERE b.buy_id = $1
ORDER BY b.lot_id, b.company_number, b.seq DESC
"""
SELECT_SUPPLIER_RANKS = """
SELECT round, lot_id, rank, bidders, closed_at
FROM round_ranks WHERE buy_id = $1 AND company_number = $2
ORDER BY round, lot_id
"""
SELECT_LOT_AWARDS = """
SELECT a.lot_id, a.company_number, coalesce(s.name, a.company_number) AS name, a.unit_price,
       a.committed_quantity, a.value, a.total_score, a.tenders, a.notified_at
FROM lot_awards a
LEFT JOIN buy_suppliers s ON s.buy_id = a.buy_id AND s.company_number = a.company_number
WHERE a.buy_id = $1
ORDER BY a.lot_id
"""
SELECT_SUMMARIES = """
SELECT lot_id, company_number, rank, tenders, successful, own, winning, recorded_at
FROM assessment_summaries
WHERE buy_id = $1 AND ($2::text IS NULL OR company_number = $2)
ORDER BY lot_id, rank
"""
SELECT_CHALLENGES = """
SELECT challenge_id, company_number, grounds, working_days_left, lodged_at, status, note, remedy,
       corrected_scores, decided_by, decided_at
FROM challenges
WHERE buy_id = $1 AND ($2::text IS NULL OR company_number = $2)
  AND ($3::text IS NULL OR challenge_id = $3)
ORDER BY lodged_at, challenge_id
"""
SELECT_CONTRACTS = """
SELECT c.council, coalesce(k.nice_name, c.council) AS council_name, c.lot_id, c.supplier,
       coalesce(s.name, c.supplier) AS supplier_name, c.quantity, c.unit_price, c.total,
       c.baseline_unit_price, c.baseline_total, c.saving, c.standalone_unit_price,
       c.aggregation_dividend, c.created_at
FROM contracts c
LEFT JOIN councils k ON k.gss_code = c.council
LEFT JOIN buy_suppliers s ON s.buy_id = c.buy_id AND s.company_number = c.supplier
WHERE c.buy_id = $1 AND ($2::text IS NULL OR c.council = $2) AND ($3::text IS NULL OR c.supplier = $3)
ORDER BY c.council, c.lot_id
"""


async def supplier_bids(conn: Any, *, buy_id: str, company_number: str) -> list[Any]:
    return list(await conn.fetch(SELECT_SUPPLIER_BIDS, buy_id, company_number))


async def bid_counts(conn: Any, *, buy_id: str, current_round: int | None) -> list[Any]:
    return list(await conn.fetch(SELECT_BID_COUNTS, buy_id, current_round))


async def final_bids(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_FINAL_BIDS, buy_id))


async def supplier_ranks(conn: Any, *, buy_id: str, company_number: str) -> list[Any]:
    return list(await conn.fetch(SELECT_SUPPLIER_RANKS, buy_id, company_number))


async def lot_awards(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_LOT_AWARDS, buy_id))


async def assessment_summaries(conn: Any, *, buy_id: str, company_number: str | None = None) -> list[Any]:
    return list(await conn.fetch(SELECT_SUMMARIES, buy_id, company_number))


async def challenges(
    conn: Any, *, buy_id: str, company_number: str | None = None, challenge_id: str | None = None
) -> list[Any]:
    return list(await conn.fetch(SELECT_CHALLENGES, buy_id, company_number, challenge_id))


async def contracts(
    conn: Any, *, buy_id: str, council: str | None = None, supplier: str | None = None
) -> list[Any]:
    return list(await conn.fetch(SELECT_CONTRACTS, buy_id, council, supplier))
