"""A council's part in a buy: register or withdraw indicative demand, then sign up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.auth import Principal
from api.deps import CouncilCaller, Gateway, Pool
from api.idempotency import idempotent
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import CouncilAnswer, DemandRegistration, SignUpRequest, answer
from api.views import council_view
from db.buys import council_and_buy
from messages.joint_buy import RegisterDemand, SignUp, WithdrawDemand
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys/{buy_id}", tags=["councils"])


async def _acting_council(pool: Any, buy_id: str, caller: Principal, claimed: str | None) -> str:
    """The council this request acts for: the caller's own, known and current; and a real buy."""
    council = caller.organisation_id
    if claimed is not None and claimed != council:
        raise Problem(403, f"your token acts for {council}, not {claimed}")
    async with pool.acquire() as conn:  # one statement: one snapshot, one round trip
        current, lead = await council_and_buy(conn, council=council, buy_id=buy_id)
    if not current:
        raise Problem(403, f"{council} is not a current council in the register")
    if lead is None:
        raise Problem(404, f"no joint buy {buy_id}")
    return council


async def _council_answer(pool: Any, buy_id: str, council: str, receipt: Any) -> dict[str, Any]:
    # The aggregate is the workflow's own, as the command left it (its receipt): summing every
    # council's lines again in PostgreSQL would make each command cost O(councils). The council's
    # own part is one statement, so it needs no transaction to be read from one snapshot.
    async with pool.acquire() as conn:
        body = {
            "buy_id": buy_id,
            "stage": receipt.stage.value,
            "seq": receipt.seq,
            **await council_view(conn, buy_id, council),
            "aggregate": {lot_id: agg.model_dump() for lot_id, agg in receipt.aggregate.items()},
        }
    return answer(CouncilAnswer, body)


@router.put("/demand", response_model=CouncilAnswer, responses=problems(ROLE, BUY, BODY, COMMAND))
async def register_demand(
    buy_id: str,
    body: DemandRegistration,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: CouncilCaller,
) -> Response:
    """Register or replace this council's indicative demand (during `demand`)."""
    council = await _acting_council(pool, buy_id, caller, body.council)

    async def produce() -> tuple[int, Any]:
        cmd = RegisterDemand(council=council, lines=body.lines)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.register_demand, cmd)
        return 200, await _council_answer(pool, buy_id, council, receipt)

    return await idempotent(request, pool, caller, produce)


@router.delete("/demand", response_model=CouncilAnswer, responses=problems(ROLE, BUY, BODY, COMMAND))
async def withdraw_demand(
    buy_id: str, request: Request, pool: Pool, gateway: Gateway, caller: CouncilCaller
) -> Response:
    """Withdraw this council's demand (during `demand`)."""
    council = await _acting_council(pool, buy_id, caller, None)

    async def produce() -> tuple[int, Any]:
        cmd = WithdrawDemand(council=council)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.withdraw_demand, cmd)
        return 200, await _council_answer(pool, buy_id, council, receipt)

    return await idempotent(request, pool, caller, produce)


@router.post(
    "/sign-up", status_code=201, response_model=CouncilAnswer, responses=problems(ROLE, BUY, BODY, COMMAND)
)
async def sign_up(
    buy_id: str,
    body: SignUpRequest,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: CouncilCaller,
) -> Response:
    """Binding opt-in (during `sign_up`): quantities up to the registered demand."""
    council = await _acting_council(pool, buy_id, caller, body.council)

    async def produce() -> tuple[int, Any]:
        cmd = SignUp(council=council, lines=body.lines)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.sign_up, cmd)
        return 201, await _council_answer(pool, buy_id, council, receipt)

    return await idempotent(request, pool, caller, produce)
