"""Joint buys as each role may see them, read from the PostgreSQL projections."""

from __future__ import annotations

from typing import Any

from api.auth import Principal, Role
from api.problems import Problem
from db import buys as q

# Events that concern one council or one supplier: only that party, the lead and operators see them.
COUNCIL_EVENTS = frozenset({"demand.registered", "demand.withdrawn", "sign_up.confirmed"})
SUPPLIER_EVENTS = frozenset({"supplier.registered", "assurance.checked", "exclusion.decided"})


def can_see_everything(principal: Principal, lead: str) -> bool:
    if principal.role in (Role.ADMIN, Role.OPERATOR):
        return True
    return principal.role == Role.LEAD and principal.organisation_id == lead


async def load_buy(conn: Any, buy_id: str, principal: Principal) -> Any:
    """The buy's row, or 404; 403 for a lead reading another lead's buy."""
    row = await q.find_buy(conn, buy_id=buy_id)
    if row is None:
        raise Problem(404, f"no joint buy {buy_id}")
    if principal.role == Role.LEAD and row["lead"] != principal.organisation_id:
        raise Problem(403, f"joint buy {buy_id} is led by another organisation")
    return row


def summary(row: Any) -> dict[str, Any]:
    return {
        "id": row["buy_id"],
        "title": row["title"],
        "stage": row["stage"],
        "lead": row["lead"],
        "stage_deadline": row["stage_deadline"],
        "outcome_reason": row["outcome_reason"] or None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def buy_view(conn: Any, row: Any, principal: Principal) -> dict[str, Any]:
    buy_id = row["buy_id"]
    terms = row["terms"]
    lots = await q.buy_lots(conn, buy_id=buy_id)
    body = summary(row) | {
        "description": terms.get("description", ""),
        "cpv_code": terms.get("cpv_code", ""),
        "deadlines": {
            "demand_closes_at": terms["demand_closes_at"],
            "sign_up_window": terms["sign_up_window"],
            "current_stage_closes_at": row["stage_deadline"],
        },
        "lots": [
            {
                "id": lot["lot_id"],
                "title": lot["title"],
                "unit": lot["unit"],
                "status": lot["status"],
                "status_reason": lot["status_reason"] or None,
            }
            for lot in lots
        ],
        "aggregate": await aggregate_view(conn, buy_id),
        "round": None,
        "terms": {k: v for k, v in terms.items() if k not in ("title", "description", "lots")},
    }
    if principal.role == Role.COUNCIL:
        body |= await council_view(conn, buy_id, principal.organisation_id)
    if can_see_everything(principal, row["lead"]):
        body["councils"] = [
            {"council": r["council"], "status": r["status"], "updated_at": r["updated_at"]}
            for r in await q.council_statuses(conn, buy_id=buy_id)
        ]
    return body


async def aggregate_view(conn: Any, buy_id: str) -> dict[str, Any]:
    return {
        r["lot_id"]: {
            "councils": r["councils"],
            "indicative_quantity": r["indicative_quantity"],
            "signed_up_councils": r["signed_up_councils"],
            "committed_quantity": r["committed_quantity"],
        }
        for r in await q.buy_aggregate(conn, buy_id=buy_id)
    }


async def council_view(conn: Any, buy_id: str, council: str) -> dict[str, Any]:
    demand = await q.council_demand(conn, buy_id=buy_id, council=council)
    sign_up = await q.council_sign_up(conn, buy_id=buy_id, council=council)
    return {
        "council": council,
        "council_status": await q.council_status(conn, buy_id=buy_id, council=council),
        "demand": [
            {
                "lot_id": r["lot_id"],
                "quantity": r["quantity"],
                "baseline_unit_price": r["baseline_unit_price"],
                "budget_ceiling_gbp": r["budget_ceiling_gbp"],
                "registered_at": r["registered_at"],
            }
            for r in demand
        ],
        "sign_up": [
            {"lot_id": r["lot_id"], "quantity": r["quantity"], "confirmed_at": r["confirmed_at"]}
            for r in sign_up
        ],
    }


def event_visible(event: Any, principal: Principal, lead: str) -> bool:
    private = event["type"] in COUNCIL_EVENTS or event["type"] in SUPPLIER_EVENTS
    if not private or can_see_everything(principal, lead):
        return True
    if event["type"] in COUNCIL_EVENTS:
        council = event["data"].get("council")
        return principal.role == Role.COUNCIL and council == principal.organisation_id
    company = event["data"].get("company_number")
    return principal.role == Role.SUPPLIER and company == principal.organisation_id


async def assurance_view(conn: Any, buy_id: str, only: str | None) -> list[dict[str, Any]]:
    """Each supplier with its status and every check's verdict and reason."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for c in await q.assurance_checks(conn, buy_id=buy_id, company_number=only):
        checks.setdefault(c["company_number"], []).append(
            {
                "check": c["check_name"],
                "passed": c["passed"],
                "flagged": c["flagged"],
                "reason": c["reason"],
                "checked_at": c["checked_at"],
            }
        )
    return [
        {
            "company_number": s["company_number"],
            "name": s["name"],
            "status": s["status"],
            "reason": s["reason"] or None,
            "registered_at": s["registered_at"],
            "checks": checks.get(s["company_number"], []),
        }
        for s in await q.buy_suppliers(conn, buy_id=buy_id, company_number=only)
    ]
