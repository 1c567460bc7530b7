"""Clarification questions: a supplier asks from when the buy opens until the clarification deadline
(a term of the buy; unset, until round 1 opens); the lead answers once, to everyone or to the asker.

Each `check_*` raises a `DomainError` and changes nothing. Time comes in as `now`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from procurement.errors import DomainError, ErrorKind, conflict, invalid
from procurement.models import BuyState, Question, Stage

MAX_QUESTIONS: Final = 500  # per buy: the state keeps one small entry per question
MAX_TEXT: Final = 5000  # characters in a question or an answer


def check_text(text: str, field: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise invalid(f"{field} may not be blank", field=field)
    if len(cleaned) > MAX_TEXT:
        raise invalid(f"{field} may be at most {MAX_TEXT} characters, not {len(cleaned)}", field=field)
    return cleaned


def clarification_open(state: BuyState, now: datetime) -> bool:
    if state.stage == Stage.DRAFT or state.stage.terminal:
        return False
    deadline = state.terms.clarification_deadline
    if deadline is not None:
        return now < deadline
    return state.negotiation is None or state.negotiation.round == 0


def check_ask(state: BuyState, lot_id: str | None, question: str, now: datetime) -> None:
    check_text(question, "question")
    if lot_id is not None and lot_id not in state.terms.lot_ids():
        raise invalid(f"unknown lot {lot_id!r}; this buy has {state.terms.lot_ids()}", field="lot_id")
    if not clarification_open(state, now):
        deadline = state.terms.clarification_deadline
        until = deadline.isoformat() if deadline else "round 1 opened"
        raise conflict(f"clarification questions closed ({until}); this buy is in {state.stage.value}")
    if len(state.questions) >= MAX_QUESTIONS:
        raise conflict(f"this buy has taken its limit of {MAX_QUESTIONS} clarification questions")


def find_question(state: BuyState, question_id: str) -> Question:
    for q in state.questions:
        if q.question_id == question_id:
            return q
    raise DomainError(ErrorKind.NOT_FOUND, f"no question {question_id} in this buy")


def check_answer(state: BuyState, question_id: str, answer: str) -> Question:
    check_text(answer, "answer")
    q = find_question(state, question_id)
    if q.publish is not None:
        raise conflict(f"question {question_id} is already answered")
    if state.stage.terminal:
        raise conflict(f"this buy is {state.stage.value}")
    return q


def next_question_id(state: BuyState) -> str:
    return f"q-{len(state.questions) + 1}"
