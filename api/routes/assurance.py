"""A supplier's part before bidding: register interest, see its assurance; the lead's decisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from api.auth import Role
from api.deps import Caller, Gateway, LeadCaller, Pool, SupplierCaller
from api.idempotency import idempotent
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import AssuranceOut, CompanyNumber, Reason, SupplierAnswer, answer
from api.views import assurance_view, buy_scope, can_see_everything, load_buy, shown_rows, snapshot
from db.registry import find_company, find_profile
from messages.joint_buy import DecideExclusion, RegisterSupplier
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys/{buy_id}", tags=["suppliers"])


class ExclusionDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"exclude": False, "reason": "self-cleaning evidence accepted"}]},
    )
    exclude: bool
    reason: Reason


async def _supplier_name(conn: Any, company_number: str) -> str:
    for row in (
        await find_profile(conn, company_number=company_number),
        await find_company(conn, company_number=company_number),
    ):
        if row is not None:
            return str(row["name"])
    return company_number


@router.post(
    "/suppliers", status_code=201, response_model=SupplierAnswer, responses=problems(ROLE, BUY, BODY, COMMAND)
)
async def register_interest(
    buy_id: str, request: Request, pool: Pool, gateway: Gateway, caller: SupplierCaller
) -> Response:
    """Register the calling supplier's interest (before assurance starts)."""
    company = caller.organisation_id
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)
        name = await _supplier_name(conn, company)

    async def produce() -> tuple[int, Any]:
        cmd = RegisterSupplier(company_number=company, name=name)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.register_supplier, cmd)
        async with snapshot(pool) as conn:
            mine = await assurance_view(conn, buy_id, company)
        return 201, answer(SupplierAnswer, {"buy_id": buy_id, "seq": receipt.seq, **mine[0]})

    return await idempotent(request, pool, caller, produce)


@router.get("/assurance", response_model=AssuranceOut, responses=problems(ROLE, BUY))
async def get_assurance(buy_id: str, pool: Pool, caller: Caller) -> dict[str, Any]:
    """Assurance results: the lead sees every supplier's checks, a supplier only its own."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        if can_see_everything(caller, row["lead"]):
            suppliers = await assurance_view(conn, buy_id, None)
        elif caller.role == Role.SUPPLIER:
            suppliers = await assurance_view(conn, buy_id, caller.organisation_id)
        else:
            raise Problem(403, "assurance results are for the lead and each supplier itself")
        # As the `assurance.checked` events they come from: the lead's, and each supplier's own.
        suppliers = shown_rows("assurance.checked", suppliers, caller, await buy_scope(conn, row))
    counts: dict[str, int] = {}
    for s in suppliers:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    return {"buy_id": buy_id, "stage": row["stage"], "counts": counts, "suppliers": suppliers}


@router.post(
    "/exclusions/{company_number}",
    response_model=SupplierAnswer,
    responses=problems(ROLE, BUY, BODY, COMMAND),
)
async def decide_exclusion(
    buy_id: str,
    company_number: CompanyNumber,
    body: ExclusionDecision,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Decide on a supplier flagged on a discretionary exclusion ground (409 if not flagged)."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = DecideExclusion(
            company_number=company_number, exclude=body.exclude, reason=body.reason, actor=caller.actor
        )
        receipt = await gateway.update(buy_id, JointBuyWorkflow.decide_exclusion, cmd)
        async with snapshot(pool) as conn:
            view = await assurance_view(conn, buy_id, company_number)
        return 200, answer(SupplierAnswer, {"buy_id": buy_id, "seq": receipt.seq, **view[0]})

    return await idempotent(request, pool, caller, produce)
