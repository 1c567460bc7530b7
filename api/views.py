"""Joint buys as each role may see them, read from the PostgreSQL projections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from api.auth import Principal, Role
from api.problems import Problem
from db import award as award_q
from db import buys as buy_queries
from procurement.pricing import PENNY
from procurement.visibility import SEALED_STAGES, BuyScope, shown


@asynccontextmanager
async def snapshot(pool: Any) -> AsyncIterator[Any]:
    """A connection reading one consistent snapshot: a view built from several queries never mixes
    rows from before and after an event's projection (they are written in one transaction)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield conn


def can_see_everything(principal: Principal, lead: str) -> bool:
    if principal.role in (Role.ADMIN, Role.OPERATOR):
        return True
    return principal.role == Role.LEAD and principal.organisation_id == lead


async def load_buy(conn: Any, buy_id: str, principal: Principal) -> Any:
    """The buy's row, or 404; 403 for a lead reading another lead's buy."""
    row = await buy_queries.find_buy(conn, buy_id=buy_id)
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
    lots = await buy_queries.buy_lots(conn, buy_id=buy_id)
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
        "round": round_view(row),
        "standstill": standstill_view(row),
        "terms": {k: v for k, v in terms.items() if k not in ("title", "description", "lots")},
    }
    if principal.role == Role.COUNCIL:
        body |= await council_view(conn, buy_id, principal.organisation_id)
    if principal.role == Role.SUPPLIER:
        mine = await supplier_bids_view(conn, buy_id, principal.organisation_id)
        latest: dict[str, dict[str, Any]] = {}
        for r in mine["ranks"]:
            latest[r["lot_id"]] = {"round": r["round"], "rank": r["rank"], "bidders": r["bidders"]}
        body |= {"bids": mine["bids"], "ranks": latest}
    if can_see_everything(principal, row["lead"]):
        body["councils"] = [
            {"council": r["council"], "status": r["status"], "updated_at": r["updated_at"]}
            for r in await buy_queries.council_statuses(conn, buy_id=buy_id)
        ]
        body |= await bidding_view(conn, row)
    return body


def money(value: Any) -> str | None:
    """GBP as a decimal string with pence, e.g. "949.99"."""
    return None if value is None else str(Decimal(str(value)).quantize(PENNY))


def tiers_view(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"min_quantity": t["min_quantity"], "unit_price": money(t["unit_price"])} for t in tiers]


def round_view(row: Any) -> dict[str, Any] | None:
    """The open (or last) negotiation round; None before the first one opens."""
    if row["current_round"] is None:
        return None
    return {
        "number": row["current_round"],
        "rounds": row["rounds"],
        "closes_at": row["round_closes_at"],
        "extensions_used": row["round_extensions_used"],
        "best_and_final": row["best_and_final"],
        "open": row["round_open"],
    }


def standstill_view(row: Any) -> dict[str, Any] | None:
    """The standstill the latest award notice started (`working_days_left` is set while a challenge
    has it suspended); None before any notice."""
    if row["standstill_notice_on"] is None:
        return None
    return {
        "notice_on": row["standstill_notice_on"],
        "working_days": row["standstill_days"],
        "calendar": row["standstill_calendar"],
        "last_day": row["standstill_last_day"],
        "contracts_from": row["contracts_from"],
        "working_days_left": row["standstill_days_left"],
    }


async def supplier_bids_view(conn: Any, buy_id: str, company_number: str) -> dict[str, Any]:
    """A supplier's own bids and its rank after each closed round: never another supplier's price."""
    bids = await award_q.supplier_bids(conn, buy_id=buy_id, company_number=company_number)
    ranks = await award_q.supplier_ranks(conn, buy_id=buy_id, company_number=company_number)
    return {
        "bids": [
            {
                "round": b["round"],
                "lot_id": b["lot_id"],
                "tiers": tiers_view(b["tiers"]),
                "evaluated_unit_price": money(b["evaluated_unit_price"]),
                "previous_unit_price": money(b["previous_unit_price"]),
                "submitted_at": b["submitted_at"],
            }
            for b in bids
        ],
        "ranks": [
            {"round": r["round"], "lot_id": r["lot_id"], "rank": r["rank"], "bidders": r["bidders"]}
            for r in ranks
        ],
    }


async def bidding_view(conn: Any, row: Any) -> dict[str, Any]:
    """For the lead and operators: bid counts while bids are sealed, the final tenders after."""
    buy_id = row["buy_id"]
    counts = await award_q.bid_counts(conn, buy_id=buy_id, current_round=row["current_round"])
    body: dict[str, Any] = {
        "bidding": {
            c["lot_id"]: {
                "bids": c["bids"],
                "bidders": c["bidders"],
                "bidders_this_round": c["bidders_this_round"],
            }
            for c in counts
        }
    }
    if row["stage"] not in SEALED_STAGES:  # the same stages that seal bid events
        tenders: dict[str, list[dict[str, Any]]] = {}
        for b in await award_q.final_bids(conn, buy_id=buy_id):
            tenders.setdefault(b["lot_id"], []).append(
                {
                    "company_number": b["company_number"],
                    "name": b["name"],
                    "round": b["round"],
                    "evaluated_unit_price": money(b["evaluated_unit_price"]),
                    "submitted_at": b["submitted_at"],
                }
            )
        body["tenders"] = tenders
    return body


async def aggregate_view(conn: Any, buy_id: str) -> dict[str, Any]:
    return {
        r["lot_id"]: {
            "councils": r["councils"],
            "indicative_quantity": r["indicative_quantity"],
            "signed_up_councils": r["signed_up_councils"],
            "committed_quantity": r["committed_quantity"],
        }
        for r in await buy_queries.buy_aggregate(conn, buy_id=buy_id)
    }


async def council_view(conn: Any, buy_id: str, council: str) -> dict[str, Any]:
    part = await buy_queries.council_part(conn, buy_id=buy_id, council=council)
    return {
        "council": council,
        "council_status": part["status"],
        "demand": [
            {
                "lot_id": r["lot_id"],
                "quantity": r["quantity"],
                "baseline_unit_price": r["baseline_unit_price"],
                "budget_ceiling_gbp": r["budget_ceiling_gbp"],
                "registered_at": r["registered_at"],
            }
            for r in part["demand"]
        ],
        "sign_up": [
            {
                "lot_id": r["lot_id"],
                "quantity": r["quantity"],
                "max_unit_price": money(r["max_unit_price"]),
                "confirmed_at": r["confirmed_at"],
                # once the lot settled: "in" the stable coalition, or "priced_out" at this price
                "coalition": r["coalition"],
                "priced_out_at": money(r["priced_out_unit_price"]),
            }
            for r in part["sign_up"]
        ],
    }


async def buy_scope(conn: Any, row: Any) -> BuyScope:
    """What the visibility table needs of this buy: its lead, stage and who takes part."""
    councils, suppliers = await buy_queries.buy_parties(conn, buy_id=row["buy_id"])
    return BuyScope(lead=row["lead"], stage=row["stage"], councils=councils, suppliers=suppliers)


def shown_rows(
    kind: str, rows: list[dict[str, Any]], principal: Principal, scope: BuyScope
) -> list[dict[str, Any]]:
    """Rows of a view, each as the caller may see the event of type `kind` it comes from (the
    same table as the audit log): rows the caller may not see are left out."""
    out = []
    for r in rows:
        seen = shown({"type": kind, "data": r}, principal, scope)
        if seen is not None:
            out.append(seen["data"])
    return out


def shown_events(events: list[Any], principal: Principal, scope: BuyScope) -> list[dict[str, Any]]:
    """The audit log as the caller may see it: deny by default (`procurement.visibility`)."""
    out = []
    for e in events:
        seen = shown(dict(e), principal, scope)
        if seen is not None:
            out.append(seen)
    return out


async def assurance_view(conn: Any, buy_id: str, only: str | None) -> list[dict[str, Any]]:
    """Each supplier with its status and every check's verdict and reason."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for c in await buy_queries.assurance_checks(conn, buy_id=buy_id, company_number=only):
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
        for s in await buy_queries.buy_suppliers(conn, buy_id=buy_id, company_number=only)
    ]
