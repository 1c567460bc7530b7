"""What an operator sees of a buy in the Temporal Web UI and finds through the visibility API:
search attributes kept current, a memo with the title and key dates, a static summary and details
given at start, and the workflow's current details ("Round 2 of 3, closes 14:00")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

with workflow.unsafe.imports_passed_through():
    from procurement.models import BuyState, Stage

STAGE_KEY = SearchAttributeKey.for_keyword("JointBuyStage")
LEAD_KEY = SearchAttributeKey.for_keyword("JointBuyLead")
CPV_KEY = SearchAttributeKey.for_keyword("JointBuyCpvCategory")
VALUE_KEY = SearchAttributeKey.for_float("JointBuyEstimatedValue")
LOTS_KEY = SearchAttributeKey.for_keyword_list("JointBuyLots")
COUNCILS_KEY = SearchAttributeKey.for_int("JointBuyCouncils")
QUALIFIED_KEY = SearchAttributeKey.for_int("JointBuyQualifiedSuppliers")
ROUND_KEY = SearchAttributeKey.for_int("JointBuyRound")
# Every search attribute the engine sets: each must be registered on every server it runs on
# (dev stack, tests, compose, benchmarks), or the workflow task fails every 10 s forever.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "JointBuyStage": "Keyword",
    "JointBuyLead": "Keyword",
    "JointBuyCpvCategory": "Keyword",
    "JointBuyEstimatedValue": "Double",
    # The lots' ids (the dev server allows only three Int attributes).
    "JointBuyLots": "KeywordList",
    "JointBuyCouncils": "Int",
    "JointBuyQualifiedSuppliers": "Int",
    "JointBuyRound": "Int",
}
UK = ZoneInfo("Europe/London")


def councils(state: BuyState) -> int:
    """Councils taking part: signed up once sign-up has begun, else those with demand."""
    return len(state.signups) if state.signups else len(state.demand)


def qualified(state: BuyState) -> int:
    return sum(1 for s in state.suppliers.values() if s.status == "qualified")


def current_round(state: BuyState) -> int:
    return state.negotiation.round if state.negotiation else 0


def initial_search_attributes(state: BuyState) -> TypedSearchAttributes:
    """Set when the workflow starts: what never changes, and the progress counters at zero."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(STAGE_KEY, state.stage.value),
            SearchAttributePair(LEAD_KEY, state.lead),
            SearchAttributePair(CPV_KEY, state.terms.cpv_code),
            SearchAttributePair(VALUE_KEY, float(state.terms.estimated_value_gbp)),
            SearchAttributePair(LOTS_KEY, [lot.id for lot in state.terms.lots]),
            SearchAttributePair(COUNCILS_KEY, councils(state)),
            SearchAttributePair(QUALIFIED_KEY, qualified(state)),
            SearchAttributePair(ROUND_KEY, current_round(state)),
        ]
    )


def progress(state: BuyState) -> dict[str, int]:
    """The counters the workflow keeps current as the buy moves on."""
    return {
        COUNCILS_KEY.name: councils(state),
        QUALIFIED_KEY.name: qualified(state),
        ROUND_KEY.name: current_round(state),
    }


_PROGRESS_KEYS = {k.name: k for k in (COUNCILS_KEY, QUALIFIED_KEY, ROUND_KEY)}


def progress_updates(before: dict[str, int], now: dict[str, int]) -> list[SearchAttributeUpdate[Any]]:
    return [_PROGRESS_KEYS[name].value_set(value) for name, value in now.items() if before.get(name) != value]


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone(UK)
    return local.strftime("%-d %b %H:%M")


def current_details(state: BuyState) -> str:
    """One line an operator reads in the UI: the stage and what ends it."""
    stage = state.stage
    n = state.negotiation
    if stage == Stage.NEGOTIATION and n is not None and n.round:
        closes = f", closes {_when(state.stage_deadline)}" if state.stage_deadline else ""
        return f"Round {n.round} of {n.rounds}{closes} · {qualified(state)} qualified suppliers"
    label = {
        Stage.DEMAND: f"Demand open · {councils(state)} councils",
        Stage.SIGN_UP: f"Sign-up open · {councils(state)} councils signed up",
        Stage.ASSURANCE: f"Assuring {len(state.suppliers)} suppliers",
        Stage.EVALUATION: "Evaluation: marks being entered",
        Stage.STANDSTILL: "Standstill",
        Stage.SUSPENDED: "Standstill suspended: a challenge is open",
        Stage.AWARDED: f"Awarded: {state.contract_count or len(state.contracts)} contracts",
        Stage.CANCELLED: f"Cancelled: {state.outcome_reason}",
        Stage.UNSUCCESSFUL: f"Unsuccessful: {state.outcome_reason}",
    }.get(stage, stage.value)
    if state.stage_deadline is not None and not stage.terminal:
        label += f", closes {_when(state.stage_deadline)}"
    return label


def memo(state: BuyState) -> dict[str, Any]:
    """The title and key dates, readable in the UI without decoding anything."""
    terms = state.terms
    return {
        "title": terms.title,
        "lead": state.lead,
        "demand_closes_at": terms.demand_closes_at.isoformat(),
        "sign_up_closes_at": (terms.demand_closes_at + terms.sign_up_window).isoformat(),
    }


def static_summary(state: BuyState) -> str:
    lots = len(state.terms.lots)
    return f"{state.terms.title} · led by {state.lead} · {lots} lot{'s' * (lots != 1)}"


def static_details(state: BuyState) -> str:
    terms = state.terms
    lots = "\n".join(f"- {lot.id}: {lot.title} ({lot.unit})" for lot in terms.lots)
    return (
        f"**{terms.title}** (joint buy `{state.buy_id}`, led by {state.lead})\n\n"
        f"CPV {terms.cpv_code or 'not given'} · estimated value £{terms.estimated_value_gbp} incl. VAT\n\n"
        f"Demand closes {_when(terms.demand_closes_at)}; sign-up closes "
        f"{_when(terms.demand_closes_at + terms.sign_up_window)}\n\n"
        f"Up to {terms.negotiation.rounds} negotiation rounds; standstill "
        f"{terms.award.standstill_working_days} working days\n\nLots:\n{lots}"
    )


KEYS: tuple[SearchAttributeKey[Any], ...] = (
    STAGE_KEY,
    LEAD_KEY,
    CPV_KEY,
    VALUE_KEY,
    LOTS_KEY,
    COUNCILS_KEY,
    QUALIFIED_KEY,
    ROUND_KEY,
)


def search_attribute_keys() -> list[SearchAttributeKey[Any]]:
    """Every key, typed: what a test or dev server is started with."""
    return list(KEYS)
