"""Clarification questions and cancelling one lot, as tables: when a question is taken, answering
once, which lots may be cancelled in which stage, and what a cancelled lot no longer takes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from procurement.clarifications import MAX_TEXT, check_answer, check_ask, next_question_id
from procurement.demand import assess_viability, check_sign_up
from procurement.errors import ErrorKind
from procurement.lots import bids_set_aside, check_cancel_lot, last_open_lot
from procurement.models import LotCancellation, Question, SignUpLine, Stage
from procurement.rounds import check_bid, committed_quantities, round_complete
from procurement.suppliers import open_lots
from tests.unit.test_rounds_rules import T0, at, bid, one_price, refused, state_with


def cancelled(reason: str = "budget cut") -> LotCancellation:
    return LotCancellation(reason_code="expensesCut", reason=reason, at=T0)


# --- questions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.DEMAND, Stage.SIGN_UP, Stage.ASSURANCE])
def test_questions_are_taken_until_round_1_opens_by_default(stage: Stage) -> None:
    state = state_with(stage=stage)
    state.negotiation = None
    check_ask(state, None, "Is delivery included?", T0)
    check_ask(state, "laptops", "Which keyboard layout?", T0)


@pytest.mark.parametrize("stage", [Stage.NEGOTIATION, Stage.EVALUATION, Stage.DRAFT, Stage.CANCELLED])
def test_no_questions_once_round_1_opened_or_outside_the_buy(stage: Stage) -> None:
    state = state_with(stage=stage)  # round 1 is open
    if stage in (Stage.DRAFT, Stage.CANCELLED):
        state.negotiation = None
    refused(ErrorKind.CONFLICT, lambda: check_ask(state, None, "too late?", T0))


def test_a_clarification_deadline_in_the_terms_decides_instead() -> None:
    state = state_with(stage=Stage.NEGOTIATION, clarification_deadline=at(30))
    check_ask(state, None, "still open in round 1", at(29))
    refused(ErrorKind.CONFLICT, lambda: check_ask(state, None, "closed now", at(30)))
    early = state_with(stage=Stage.DEMAND, clarification_deadline=T0 - timedelta(days=1))
    early.negotiation = None
    refused(ErrorKind.CONFLICT, lambda: check_ask(early, None, "before round 1 but past it", T0))


@pytest.mark.parametrize(
    ("lot", "text", "field"),
    [
        (None, "   ", "question"),
        (None, "", "question"),
        (None, "x" * (MAX_TEXT + 1), "question"),
        ("printers", "which lot?", "lot_id"),
    ],
)
def test_bad_questions_are_invalid(lot: str | None, text: str, field: str) -> None:
    state = state_with(stage=Stage.DEMAND)
    state.negotiation = None
    assert refused(ErrorKind.INVALID, lambda: check_ask(state, lot, text, T0)).field == field


def test_a_question_is_answered_once() -> None:
    state = state_with(stage=Stage.NEGOTIATION)
    state.questions.append(Question(question_id=next_question_id(state), supplier="S1", asked_at=T0))
    assert next_question_id(state) == "q-2"
    assert check_answer(state, "q-1", "Yes, delivery is included").supplier == "S1"
    refused(ErrorKind.NOT_FOUND, lambda: check_answer(state, "q-9", "no such"))
    assert refused(ErrorKind.INVALID, lambda: check_answer(state, "q-1", " ")).field == "answer"
    state.questions[0].publish = "all"
    refused(ErrorKind.CONFLICT, lambda: check_answer(state, "q-1", "again"))


# --- cancelling one lot --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stage", [Stage.DEMAND, Stage.SIGN_UP, Stage.ASSURANCE, Stage.NEGOTIATION, Stage.EVALUATION]
)
def test_a_lot_may_be_cancelled_before_the_award_notice(stage: Stage) -> None:
    check_cancel_lot(state_with(stage=stage), "monitors")


@pytest.mark.parametrize(
    "stage", [Stage.STANDSTILL, Stage.SUSPENDED, Stage.AWARDED, Stage.CANCELLED, Stage.UNSUCCESSFUL]
)
def test_not_after_it(stage: Stage) -> None:
    refused(ErrorKind.CONFLICT, lambda: check_cancel_lot(state_with(stage=stage), "monitors"))


def test_not_twice_nor_an_unsuccessful_lot_nor_an_unknown_one() -> None:
    state = state_with(unsuccessful={"monitors": "no bids"})
    refused(ErrorKind.CONFLICT, lambda: check_cancel_lot(state, "monitors"))
    state.cancelled_lots["laptops"] = cancelled()
    refused(ErrorKind.CONFLICT, lambda: check_cancel_lot(state, "laptops"))
    refused(ErrorKind.NOT_FOUND, lambda: check_cancel_lot(state, "printers"))


def test_a_cancelled_lot_leaves_the_competition() -> None:
    state = state_with([bid("S1", "laptops", "900.00"), bid("S1", "monitors", "200.00")])
    assert bids_set_aside(state, "monitors") == 1
    assert not last_open_lot(state, "monitors")
    state.cancelled_lots["monitors"] = cancelled()
    assert open_lots(state) == ["laptops"] and last_open_lot(state, "laptops")
    assert list(committed_quantities(state)) == ["laptops"]
    err = refused(ErrorKind.CONFLICT, lambda: check_bid(state, "S2", "monitors", one_price("190.00"), at(1)))
    assert "cancelled" in err.message
    # its round closes for it: S1 and S2 bidding laptops is all the round waits for
    assert not round_complete(state)
    state.negotiation.take(bid("S2", "laptops", "890.00", 2))  # type: ignore[union-attr]
    assert round_complete(state)


def test_a_cancelled_lot_takes_no_sign_up_and_is_not_judged_viable() -> None:
    state = state_with(stage=Stage.SIGN_UP)
    state.cancelled_lots["monitors"] = cancelled()
    line = SignUpLine(lot_id="monitors", quantity=5, max_unit_price=D("10.00"))
    refused(ErrorKind.CONFLICT, lambda: check_sign_up(state, "E06000001", [line]))
    verdict = assess_viability(state)
    assert verdict.viable and "monitors" not in verdict.failed_lots
