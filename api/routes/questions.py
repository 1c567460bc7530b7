"""Clarification questions (suppliers ask, the lead answers to everyone or to the asker) and
cancelling one lot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api.auth import Role
from api.deps import Caller, Gateway, LeadCaller, Pool, SupplierCaller
from api.idempotency import idempotent
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import (
    LotCancelled,
    LotCancelRequest,
    QuestionAnswer,
    QuestionAnswered,
    QuestionAsk,
    QuestionAsked,
    QuestionsOut,
    answer,
)
from api.views import can_see_everything, load_buy, snapshot
from db import coalition as q
from db.buys import buy_suppliers, council_status
from messages.joint_buy import AnswerQuestion, AskQuestion, CancelLot, QuestionReceipt
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys/{buy_id}", tags=["clarifications and lots"])
QuestionId = Annotated[str, Path(min_length=1, max_length=64, examples=["q-1"])]
LotId = Annotated[str, Path(min_length=1, max_length=64, examples=["monitors"])]


def _question(r: Any, *, askers: bool, own: str | None) -> dict[str, Any]:
    body = {
        "question_id": r["question_id"],
        "lot_id": r["lot_id"],
        "question": r["question"],
        "asked_at": r["asked_at"],
        "answer": r["answer"],
        "published": r["publish"] == "all",
        "answered_at": r["answered_at"],
    }
    if askers:
        body["asked_by"] = r["company_number"]
        body["publish"] = r["publish"]
    elif own is not None:
        body["mine"] = r["company_number"] == own
    return body


@router.post(
    "/questions", status_code=201, response_model=QuestionAsked, responses=problems(ROLE, BUY, BODY, COMMAND)
)
async def ask_question(
    buy_id: str, body: QuestionAsk, request: Request, pool: Pool, gateway: Gateway, caller: SupplierCaller
) -> Response:
    """Ask a clarification question (any supplier), until the buy's clarification deadline."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = AskQuestion(company_number=caller.organisation_id, lot_id=body.lot_id, question=body.question)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.ask_question, cmd)
        assert isinstance(receipt, QuestionReceipt)
        out = {
            "question_id": receipt.question_id,
            "buy_id": buy_id,
            "seq": receipt.seq,
            "stage": receipt.stage.value,
        }
        return 201, answer(QuestionAsked, out)

    return await idempotent(request, pool, caller, produce)


@router.post(
    "/questions/{question_id}/answer",
    response_model=QuestionAnswered,
    response_model_exclude_unset=True,
    responses=problems(ROLE, BUY, BODY, COMMAND),
)
async def answer_question(
    buy_id: str,
    question_id: QuestionId,
    body: QuestionAnswer,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Answer a question once: `publish: "all"` tells every party in the buy, `"asker"` only the asker."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)
        asked = {
            r["question_id"]: r
            for r in await q.questions(conn, buy_id=buy_id, everything=True, company_number=None)
        }

    async def produce() -> tuple[int, Any]:
        row = asked.get(question_id)
        cmd = AnswerQuestion(
            question_id=question_id,
            answer=body.answer,
            publish=body.publish,
            actor=caller.actor,
            question=row["question"] if row is not None else "",
        )
        receipt = await gateway.update(buy_id, JointBuyWorkflow.answer_question, cmd)
        async with snapshot(pool) as conn:
            rows = await q.questions(conn, buy_id=buy_id, everything=True, company_number=None)
        answered = next(r for r in rows if r["question_id"] == question_id)
        out = {"buy_id": buy_id, "seq": receipt.seq, "stage": receipt.stage.value} | _question(
            answered, askers=True, own=None
        )
        return 200, answer(QuestionAnswered, out)

    return await idempotent(request, pool, caller, produce)


@router.get(
    "/questions",
    response_model=QuestionsOut,
    response_model_exclude_unset=True,
    responses=problems(ROLE, BUY),
)
async def list_questions(buy_id: str, pool: Pool, caller: Caller) -> dict[str, Any]:
    """Published answers with their questions (never who asked) for the buy's suppliers and
    councils, plus a supplier's own questions; everything, askers included, for the lead."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        if can_see_everything(caller, row["lead"]):
            rows = await q.questions(conn, buy_id=buy_id, everything=True, company_number=None)
            return {"buy_id": buy_id, "questions": [_question(r, askers=True, own=None) for r in rows]}
        if caller.role == Role.SUPPLIER:
            me = caller.organisation_id
            registered = bool(await buy_suppliers(conn, buy_id=buy_id, company_number=me))
            rows = await q.questions(conn, buy_id=buy_id, everything=False, company_number=me)
            if not registered:  # a supplier that has not registered interest sees only its own
                rows = [r for r in rows if r["company_number"] == me]
            return {"buy_id": buy_id, "questions": [_question(r, askers=False, own=me) for r in rows]}
        if caller.role == Role.COUNCIL:
            if await council_status(conn, buy_id=buy_id, council=caller.organisation_id) is None:
                raise Problem(403, f"council {caller.organisation_id} takes no part in joint buy {buy_id}")
            rows = await q.questions(conn, buy_id=buy_id, everything=False, company_number=None)
            return {"buy_id": buy_id, "questions": [_question(r, askers=False, own=None) for r in rows]}
    raise Problem(403, "clarifications are for the buy's lead, suppliers and councils")


@router.post(
    "/lots/{lot_id}/cancel", response_model=LotCancelled, responses=problems(ROLE, BUY, BODY, COMMAND)
)
async def cancel_lot(
    buy_id: str,
    lot_id: LotId,
    body: LotCancelRequest,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Cancel one lot before the award notice; the rest of the buy goes on. Cancelling the last
    open lot cancels the buy."""
    async with snapshot(pool) as conn:
        await load_buy(conn, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = CancelLot(lot_id=lot_id, reason_code=body.reason_code, reason=body.reason, actor=caller.actor)
        receipt = await gateway.update(buy_id, JointBuyWorkflow.cancel_lot, cmd)
        out = {
            "buy_id": buy_id,
            "lot_id": lot_id,
            "status": "cancelled",
            "reason_code": body.reason_code,
            "seq": receipt.seq,
            "stage": receipt.stage.value,
        }
        return 200, answer(LotCancelled, out)

    return await idempotent(request, pool, caller, produce)
