"""Negotiation and evaluation: suppliers' sealed bids, their own view of them, the lead's marks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import Gateway, LeadCaller, Pool, SupplierCaller
from api.idempotency import idempotent
from api.problems import BODY, BUY, COMMAND, ROLE, problems
from api.schemas import BidAnswer, BidSubmission, MyBids, ScoresAnswer, ScoresEntry, answer
from api.views import load_buy, money, round_view, snapshot, supplier_bids_view, tiers_view
from messages.joint_buy import BidReceipt, EnterScores, SubmitBid
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys/{buy_id}", tags=["negotiation"])


def _bid_answer(buy_id: str, receipt: BidReceipt) -> dict[str, Any]:
    return answer(
        BidAnswer,
        {
            "buy_id": buy_id,
            "seq": receipt.seq,
            "stage": receipt.stage.value,
            "round": receipt.round,
            "lot_id": receipt.lot_id,
            "evaluated_unit_price": money(receipt.evaluated_unit_price),
            "previous_unit_price": money(receipt.previous_unit_price),
            "committed_quantity": receipt.committed_quantity,
            "round_closes_at": receipt.round_closes_at,
            "extensions_used": receipt.extensions_used,
            "tiers": tiers_view([t.model_dump() for t in receipt.tiers]),
        },
    )


@router.post("/bids", status_code=201, response_model=BidAnswer, responses=problems(ROLE, BUY, BODY, COMMAND))
async def submit_bid(
    buy_id: str, body: BidSubmission, request: Request, pool: Pool, gateway: Gateway, caller: SupplierCaller
) -> Response:
    """Submit a sealed bid for one lot in the open round (a late one extends the round)."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = SubmitBid(company_number=caller.organisation_id, lot_id=body.lot_id, tiers=body.tiers)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.submit_bid, cmd)
        return 201, _bid_answer(buy_id, receipt)

    return await idempotent(request, pool, caller, produce)


@router.get("/bids/mine", response_model=MyBids, responses=problems(ROLE, BUY))
async def my_bids(buy_id: str, pool: Pool, caller: SupplierCaller) -> dict[str, Any]:
    """The caller's own bids and its rank per lot after each closed round."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        mine = await supplier_bids_view(conn, buy_id, caller.organisation_id)
    return {"buy_id": buy_id, "stage": row["stage"], "round": round_view(row), **mine}


@router.put("/scores", response_model=ScoresAnswer, responses=problems(ROLE, BUY, BODY, COMMAND))
async def enter_scores(
    buy_id: str, body: ScoresEntry, request: Request, pool: Pool, gateway: Gateway, caller: LeadCaller
) -> Response:
    """Mark one supplier's tender for one lot on quality and social value (during evaluation)."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = EnterScores(
            company_number=body.supplier,
            lot_id=body.lot_id,
            quality=body.quality,
            social_value=body.social_value,
            actor=caller.actor,
        )
        receipt = await gateway.update(buy_id, JointBuyWorkflow.enter_scores, cmd)
        out = {
            "buy_id": buy_id,
            "seq": receipt.seq,
            "stage": receipt.stage.value,
            "still_to_score": receipt.still_to_score,
        }
        return 200, answer(ScoresAnswer, out)

    return await idempotent(request, pool, caller, produce)
