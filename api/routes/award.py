"""After evaluation: the award and its assessment summaries, challenges during standstill, and each
council's contract, each shaped by who is asking."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.auth import Principal, Role
from api.deps import Caller, Gateway, LeadCaller, Pool, SupplierCaller
from api.idempotency import idempotent
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import (
    AwardOut,
    ChallengeDecided,
    ChallengeDecision,
    ChallengeLodge,
    ChallengeLodged,
    ChallengesOut,
    ContractsOut,
    answer,
)
from api.views import buy_scope, can_see_everything, load_buy, money, shown_rows, snapshot, standstill_view
from db import award as award_queries
from db import coalition as coalition_q
from db.buys import buy_lots, council_sign_up
from db.projections_award import CONTRACT_MONEY
from messages.joint_buy import DecideChallenge, LodgeChallenge
from procurement.councils import GSS_PATTERN
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys/{buy_id}", tags=["award"])
ChallengeId = Annotated[str, Path(min_length=1, max_length=64, examples=["ch-1"])]


def _challenge(r: Any) -> dict[str, Any]:
    return {
        "challenge_id": r["challenge_id"],
        "supplier": r["company_number"],
        "grounds": r["grounds"],
        "lodged_at": r["lodged_at"],
        "working_days_left": r["working_days_left"],
        "status": r["status"],
        "note": r["note"] or None,
        "remedy": r["remedy"],
        "corrected_scores": r["corrected_scores"],
        "decided_by": r["decided_by"],
        "decided_at": r["decided_at"],
    }


@router.post(
    "/challenges",
    status_code=201,
    response_model=ChallengeLodged,
    responses=problems(ROLE, BUY, BODY, COMMAND),
)
async def lodge_challenge(
    buy_id: str, body: ChallengeLodge, request: Request, pool: Pool, gateway: Gateway, caller: SupplierCaller
) -> Response:
    """Challenge the award during standstill (a supplier that bid); the buy is suspended."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = LodgeChallenge(company_number=caller.organisation_id, grounds=body.grounds)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.lodge_challenge, cmd)
        out = {
            "challenge_id": receipt.challenge_id,
            "buy_id": buy_id,
            "seq": receipt.seq,
            "stage": receipt.stage.value,
            "working_days_left": receipt.days_left,
        }
        return 201, answer(ChallengeLodged, out)

    return await idempotent(request, pool, caller, produce)


@router.post(
    "/challenges/{challenge_id}/decision",
    response_model=ChallengeDecided,
    responses=problems(ROLE, BUY, BODY, COMMAND),
)
async def decide_challenge(
    buy_id: str,
    challenge_id: ChallengeId,
    body: ChallengeDecision,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Dismiss a challenge (standstill resumes) or uphold it (re-evaluate or cancel)."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = DecideChallenge(challenge_id=challenge_id, actor=caller.actor, **body.model_dump())
        receipt = await gateway.update(buy_id, JointBuyWorkflow.decide_challenge, cmd)
        async with snapshot(pool) as conn:
            rows = await award_queries.challenges(conn, buy_id=buy_id, challenge_id=challenge_id)
        out = {"buy_id": buy_id, "seq": receipt.seq, "stage": receipt.stage.value} | _challenge(rows[0])
        return 200, answer(ChallengeDecided, out)

    return await idempotent(request, pool, caller, produce)


@router.get("/challenges", response_model=ChallengesOut, responses=problems(ROLE, BUY))
async def list_challenges(buy_id: str, pool: Pool, caller: Caller) -> dict[str, Any]:
    """Challenges: the lead and operators see all, a supplier its own."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        if can_see_everything(caller, row["lead"]):
            rows = await award_queries.challenges(conn, buy_id=buy_id)
        elif caller.role == Role.SUPPLIER:
            rows = await award_queries.challenges(conn, buy_id=buy_id, company_number=caller.organisation_id)
        else:
            raise Problem(403, "challenges are for the lead and the supplier that lodged each")
    return {"buy_id": buy_id, "stage": row["stage"], "challenges": [_challenge(r) for r in rows]}


def _summary(r: Any) -> dict[str, Any]:
    return {
        "company_number": r["company_number"],
        "rank": r["rank"],
        "tenders": r["tenders"],
        "successful": r["successful"],
        "own": r["own"],
        "winning": r["winning"],
        "recorded_at": r["recorded_at"],
    }


async def _summaries(conn: Any, row: Any, caller: Principal) -> dict[str, list[dict[str, Any]]]:
    """Every summary for the lead and operators, a supplier's own, none for a council: as the
    `assessment.summary` events they come from."""
    only = None if can_see_everything(caller, row["lead"]) else caller.organisation_id
    rows = await award_queries.assessment_summaries(conn, buy_id=row["buy_id"], company_number=only)
    scope = await buy_scope(conn, row)
    by_lot: dict[str, list[dict[str, Any]]] = {}
    for r in shown_rows("assessment.summary", [dict(r) for r in rows], caller, scope):
        by_lot.setdefault(r["lot_id"], []).append(_summary(r))
    return by_lot


async def _coalitions(conn: Any, row: Any, caller: Principal) -> dict[str, dict[str, Any]]:
    """Per lot, the stable coalition as the caller may see it: the lead every pass and the final
    coalition (with the councils priced out and their limits); a council only its own place in it
    (in, or priced out at which price against its limit); a supplier nothing."""
    buy_id = row["buy_id"]
    if can_see_everything(caller, row["lead"]):
        passes: dict[str, list[dict[str, Any]]] = {}
        for p in await coalition_q.coalition_passes(conn, buy_id=buy_id):
            passes.setdefault(p["lot_id"], []).append(
                {
                    "pass": p["pass"],
                    "aggregate": p["aggregate"],
                    "councils": p["councils"],
                    "tenders": p["tenders"],
                    "winner": p["company_number"],
                    "unit_price": money(p["unit_price"]),
                    "priced_out": p["priced_out"],
                }
            )
        members: dict[str, list[Any]] = {}
        for m in await coalition_q.coalition_members(conn, buy_id=buy_id):
            members.setdefault(m["lot_id"], []).append(m)
        return {
            lot: {
                "passes": lot_passes,
                "councils": [m["council"] for m in members.get(lot, []) if m["coalition"] == "in"],
                "aggregate": sum(m["quantity"] for m in members.get(lot, []) if m["coalition"] == "in"),
                "priced_out": [
                    {
                        "council": m["council"],
                        "quantity": m["quantity"],
                        "unit_price": money(m["priced_out_unit_price"]),
                        "max_unit_price": money(m["max_unit_price"]),
                    }
                    for m in members.get(lot, [])
                    if m["coalition"] == "priced_out"
                ],
            }
            for lot, lot_passes in passes.items()
        }
    if caller.role == Role.COUNCIL:
        return {
            r["lot_id"]: {
                "in_coalition": r["coalition"] == "in",
                "quantity": r["quantity"],
                "max_unit_price": money(r["max_unit_price"]),
                "priced_out_at": money(r["priced_out_unit_price"]),
            }
            for r in await council_sign_up(conn, buy_id=buy_id, council=caller.organisation_id)
            if r["coalition"] is not None
        }
    return {}


def _lot_status(stage: str) -> str:
    return {"awarded": "awarded", "cancelled": "cancelled"}.get(stage, "notified")


@router.get(
    "/award",
    response_model=AwardOut,
    response_model_exclude_unset=True,
    responses=problems(ROLE, BUY, (409,)),  # 409 before the award notice
)
async def get_award(buy_id: str, pool: Pool, caller: Caller) -> dict[str, Any]:
    """The award per lot: winner, unit price, total value and the assessment summaries (409 before).
    A buy the stable coalition left unsuccessful has no notice, but shows how its lots settled."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        awards = {a["lot_id"]: a for a in await award_queries.lot_awards(conn, buy_id=buy_id)}
        coalitions = await _coalitions(conn, row, caller)
        settled_unsuccessful = row["stage"] == "unsuccessful" and bool(coalitions)
        if (row["notice_published_at"] is None or not awards) and not settled_unsuccessful:
            raise Problem(409, f"joint buy {buy_id} has no award notice yet; it is in {row['stage']}")
        lots = await buy_lots(conn, buy_id=buy_id)
        summaries = await _summaries(conn, row, caller)
    out = []
    for lot in lots:
        a = awards.get(lot["lot_id"])
        extra = {"coalition": coalitions[lot["lot_id"]]} if lot["lot_id"] in coalitions else {}
        if a is None:
            status = lot["status"] if lot["status"] != "open" else "not_awarded"
            out.append(
                {"lot_id": lot["lot_id"], "status": status, "winner": None, "assessment_summaries": []}
                | extra
            )
            continue
        out.append(
            {
                "lot_id": lot["lot_id"],
                "status": _lot_status(row["stage"]),
                "winner": {"company_number": a["company_number"], "name": a["name"]},
                "unit_price": money(a["unit_price"]),
                "committed_quantity": a["committed_quantity"],
                "total_value": money(a["value"]),
                "total_score": str(a["total_score"]),
                "tenders": a["tenders"],
                "assessment_summaries": summaries.get(lot["lot_id"], []),
            }
            | extra
        )
    return {
        "buy_id": buy_id,
        "stage": row["stage"],
        "notice_published_at": row["notice_published_at"],
        "standstill": standstill_view(row),
        "lots": out,
    }


def _contract(r: Any) -> dict[str, Any]:
    return {
        "council": r["council"],
        "council_name": r["council_name"],
        "lot": r["lot_id"],
        "supplier": r["supplier"],
        "supplier_name": r["supplier_name"],
        "quantity": r["quantity"],
        **{name: money(r[name]) for name in CONTRACT_MONEY},
        "created_at": r["created_at"],
    }


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums of the amounts the caller sees in every row (a supplier sees no baselines)."""

    def total(name: str) -> str | None:
        return money(sum((Decimal(r[name] or 0) for r in rows), Decimal(0)))

    names = ("total", "baseline_total", "saving", "aggregation_dividend")
    return {
        "contracts": len(rows),
        "quantity": sum(r["quantity"] for r in rows),
        **{name: total(name) for name in names if all(name in r for r in rows)},
    }


@router.get(
    "/contracts",
    response_model=ContractsOut,
    response_model_exclude_unset=True,
    responses=problems(ROLE, BUY),
)
async def get_contracts(
    buy_id: str,
    pool: Pool,
    caller: Caller,
    council: str | None = Query(None, pattern=GSS_PATTERN, description="only this council's"),
) -> dict[str, Any]:
    """Per-council contracts: a council sees its own, a supplier those it won, the lead all."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        if can_see_everything(caller, row["lead"]):
            rows = await award_queries.contracts(conn, buy_id=buy_id, council=council)
        elif caller.role == Role.COUNCIL:
            if council is not None and council != caller.organisation_id:
                raise Problem(403, f"your token acts for {caller.organisation_id}, not {council}")
            rows = await award_queries.contracts(conn, buy_id=buy_id, council=caller.organisation_id)
        elif caller.role == Role.SUPPLIER:
            rows = await award_queries.contracts(
                conn, buy_id=buy_id, council=council, supplier=caller.organisation_id
            )
        else:
            raise Problem(403, "contracts are for the lead, each council and the winning suppliers")
        scope = await buy_scope(conn, row)
    # As the `contract.created` events: a council's baseline and saving are its own and the lead's.
    contracts = shown_rows("contract.created", [_contract(r) for r in rows], caller, scope)
    return {"buy_id": buy_id, "stage": row["stage"], "contracts": contracts, "totals": _totals(contracts)}
