"""Reading joint buys from their projections."""

from __future__ import annotations

from typing import Any

SELECT_BUY = """
SELECT buy_id, lead, title, stage, stage_deadline, terms, outcome_reason, created_at, updated_at,
       current_round, rounds, best_and_final, round_open, round_closes_at, round_extensions_used,
       notice_published_at, standstill_notice_on, standstill_days, standstill_calendar,
       standstill_last_day, contracts_from, standstill_days_left
FROM joint_buys WHERE buy_id = $1
"""
SELECT_BUYS = """
SELECT buy_id, lead, title, stage, stage_deadline, outcome_reason, created_at, updated_at
FROM joint_buys
WHERE ($1::text IS NULL OR stage = $1) AND ($2::text IS NULL OR lead = $2)
ORDER BY created_at DESC, buy_id
LIMIT $3 OFFSET $4
"""
SELECT_LOTS = """
SELECT lot_id, title, unit, status, status_reason, status_code FROM buy_lots WHERE buy_id = $1
ORDER BY lot_id
"""
SELECT_AGGREGATE = """
SELECT l.lot_id,
       coalesce(d.councils, 0) AS councils,
       coalesce(d.quantity, 0) AS indicative_quantity,
       coalesce(s.councils, 0) AS signed_up_councils,
       coalesce(s.quantity, 0) AS committed_quantity
FROM buy_lots l
LEFT JOIN (SELECT lot_id, count(*) AS councils, sum(quantity)::bigint AS quantity
           FROM demand_lines WHERE buy_id = $1 GROUP BY lot_id) d USING (lot_id)
LEFT JOIN (SELECT lot_id, count(*) AS councils, sum(quantity)::bigint AS quantity
           FROM sign_ups WHERE buy_id = $1 GROUP BY lot_id) s USING (lot_id)
WHERE l.buy_id = $1
ORDER BY l.lot_id
"""
# A council's lines in a buy, by lot: the columns of its demand and of its sign-up.
DEMAND_COLUMNS = ("lot_id", "quantity", "baseline_unit_price", "budget_ceiling_gbp", "registered_at")
SIGN_UP_COLUMNS = (
    "lot_id",
    "quantity",
    "confirmed_at",
    "max_unit_price",
    "coalition",
    "priced_out_unit_price",
)
SELECT_COUNCIL_SIGN_UP = f"""
SELECT {", ".join(SIGN_UP_COLUMNS)} FROM sign_ups
WHERE buy_id = $1 AND council = $2 ORDER BY lot_id
"""
SELECT_COUNCIL_STATUSES = """
SELECT council, status, updated_at FROM buy_councils WHERE buy_id = $1 ORDER BY council
"""
SELECT_COUNCIL_STATUS = "SELECT status FROM buy_councils WHERE buy_id = $1 AND council = $2"
# A council's whole part in a buy in one statement (one snapshot, one round trip): its status,
# and its demand and sign-up lines as arrays of rows in the columns above.
SELECT_COUNCIL_PART = f"""
SELECT (SELECT status FROM buy_councils WHERE buy_id = $1 AND council = $2) AS status,
       array(SELECT ({", ".join(DEMAND_COLUMNS)})
             FROM demand_lines WHERE buy_id = $1 AND council = $2 ORDER BY lot_id) AS demand,
       array(SELECT ({", ".join(SIGN_UP_COLUMNS)})
             FROM sign_ups WHERE buy_id = $1 AND council = $2 ORDER BY lot_id) AS sign_up
"""
# Whether a council is current in the register, and the lead of a buy (None: no such buy).
SELECT_COUNCIL_AND_BUY = """
SELECT EXISTS (SELECT 1 FROM councils WHERE gss_code = $1 AND is_current) AS current,
       (SELECT lead FROM joint_buys WHERE buy_id = $2) AS lead
"""


async def find_buy(conn: Any, *, buy_id: str) -> Any:
    return await conn.fetchrow(SELECT_BUY, buy_id)


async def list_buys(conn: Any, *, stage: str | None, lead: str | None, limit: int, offset: int) -> list[Any]:
    return list(await conn.fetch(SELECT_BUYS, stage, lead, limit, offset))


async def buy_lots(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_LOTS, buy_id))


async def buy_aggregate(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_AGGREGATE, buy_id))


async def council_sign_up(conn: Any, *, buy_id: str, council: str) -> list[Any]:
    return list(await conn.fetch(SELECT_COUNCIL_SIGN_UP, buy_id, council))


async def council_statuses(conn: Any, *, buy_id: str) -> list[Any]:
    return list(await conn.fetch(SELECT_COUNCIL_STATUSES, buy_id))


async def council_part(conn: Any, *, buy_id: str, council: str) -> dict[str, Any]:
    """The council's status, demand lines and sign-up lines (dicts by column), at once."""
    row = await conn.fetchrow(SELECT_COUNCIL_PART, buy_id, council)
    return {
        "status": row["status"],
        "demand": [dict(zip(DEMAND_COLUMNS, r, strict=True)) for r in row["demand"]],
        "sign_up": [dict(zip(SIGN_UP_COLUMNS, r, strict=True)) for r in row["sign_up"]],
    }


async def council_and_buy(conn: Any, *, council: str, buy_id: str) -> tuple[bool, str | None]:
    """Whether `council` is current in the register, and `buy_id`'s lead (None: no such buy)."""
    row = await conn.fetchrow(SELECT_COUNCIL_AND_BUY, council, buy_id)
    return bool(row["current"]), row["lead"]


async def council_status(conn: Any, *, buy_id: str, council: str) -> str | None:
    status: str | None = await conn.fetchval(SELECT_COUNCIL_STATUS, buy_id, council)
    return status


SELECT_SUPPLIERS = """
SELECT company_number, name, status, reason, registered_at, updated_at
FROM buy_suppliers WHERE buy_id = $1 AND ($2::text IS NULL OR company_number = $2)
ORDER BY company_number
"""
SELECT_CHECKS = """
SELECT company_number, check_name, passed, flagged, reason, checked_at
FROM assurance_checks WHERE buy_id = $1 AND ($2::text IS NULL OR company_number = $2)
ORDER BY company_number, check_name
"""


async def buy_suppliers(conn: Any, *, buy_id: str, company_number: str | None = None) -> list[Any]:
    return list(await conn.fetch(SELECT_SUPPLIERS, buy_id, company_number))


async def assurance_checks(conn: Any, *, buy_id: str, company_number: str | None = None) -> list[Any]:
    return list(await conn.fetch(SELECT_CHECKS, buy_id, company_number))


# Who takes part in a buy (any status): the councils and suppliers its events may concern.
SELECT_PARTIES = """
SELECT 'council' AS role, council AS organisation_id FROM buy_councils WHERE buy_id = $1
UNION ALL
SELECT 'supplier', company_number FROM buy_suppliers WHERE buy_id = $1
"""


async def buy_parties(conn: Any, *, buy_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """(councils, suppliers) taking part in the buy, whatever became of them since."""
    rows = await conn.fetch(SELECT_PARTIES, buy_id)
    councils = frozenset(r["organisation_id"] for r in rows if r["role"] == "council")
    suppliers = frozenset(r["organisation_id"] for r in rows if r["role"] == "supplier")
    return councils, suppliers
