"""Clarification questions and cancelling one lot: commands the lead and suppliers send alongside
the stages, recorded in the audit log. Runs inside the workflow (deterministic)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import AnswerQuestion, AskQuestion, CancelLot
    from procurement import clarifications as rules
    from procurement import lots as lot_rules
    from procurement.models import LotCancellation, Question, Stage
    from workflows.buy import Buy


class Clarifications:
    """Not a stage: these commands arrive alongside the stages' own."""

    def __init__(self, buy: Buy) -> None:
        self._buy = buy
        self._s = buy.state
        self._emit = buy.emit

    def ask(self, cmd: AskQuestion) -> tuple[str, int]:
        question = Question(
            question_id=rules.next_question_id(self._s),
            supplier=cmd.company_number,
            lot_id=cmd.lot_id,
            asked_at=workflow.now(),
        )
        self._s.questions.append(question)
        seq = self._emit(
            "question.asked",
            f"supplier:{cmd.company_number}",
            {
                "question_id": question.question_id,
                "company_number": cmd.company_number,
                "lot_id": cmd.lot_id,
                "question": cmd.question.strip(),
            },
        )
        return question.question_id, seq

    def answer(self, cmd: AnswerQuestion, question: Question) -> int:
        question.publish = cmd.publish
        data: dict[str, Any] = {
            "question_id": question.question_id,
            "lot_id": question.lot_id,
            "question": cmd.question,
            "answer": cmd.answer.strip(),
            "publish": cmd.publish,
        }
        if cmd.publish == "all":  # to every party in the buy: it never names the asker
            return self._emit("clarification.published", cmd.actor, data)
        return self._emit("question.answered", cmd.actor, data | {"company_number": question.supplier})

    def cancel_lot(self, cmd: CancelLot) -> int:
        last = lot_rules.last_open_lot(self._s, cmd.lot_id)
        set_aside = lot_rules.bids_set_aside(self._s, cmd.lot_id)
        self._s.cancelled_lots[cmd.lot_id] = LotCancellation(
            reason_code=cmd.reason_code, reason=cmd.reason, at=workflow.now()
        )
        self._s.marks.pop(cmd.lot_id, None)
        seq = self._emit(
            "lot.cancelled",
            cmd.actor,
            {
                "lot_id": cmd.lot_id,
                "reason_code": cmd.reason_code,
                "reason": cmd.reason,
                "stage": self._s.stage.value,
                "bids_set_aside": set_aside,
                "buy_cancelled": last,
            },
        )
        if last:
            reason = f"the last open lot, {cmd.lot_id}, was cancelled ({cmd.reason_code}): {cmd.reason}"
            self._emit("buy.cancelled", cmd.actor, {"reason": reason, "stage": self._s.stage.value})
            self._buy.move_to(Stage.CANCELLED, reason=reason)
        return seq
