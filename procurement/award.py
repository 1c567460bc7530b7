"""Rules from evaluation to contracts: the lead's marks, the most advantageous tender per lot, the
award notice's standstill, challenges, and one call-off contract per council per lot.

Each `check_*` raises a `DomainError` and changes nothing. Time comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from procurement.errors import DomainError, ErrorKind, conflict, invalid
from procurement.models import BuyState, Challenge, LotAward, Marks, Stage, StandstillState
from procurement.pricing import ContractLine, ScoredTender, contract_line, score
from procurement.rounds import as_evaluated, committed_quantities, final_bids, forbidden
from procurement.standstill import (
    AnyCalendar,
    RecordedCalendar,
    contracts_from,
    next_working_day,
    resume_standstill,
    standstill_end,
    working_days_left,
)
from procurement.suppliers import open_lots

Remedy = Literal["re-evaluate", "cancel"]


# --- evaluation ----------------------------------------------------------------------------------


def assessed(state: BuyState) -> dict[str, list[str]]:
    """Per open lot, the suppliers with a final bid on it: the tenders the lead must mark."""
    neg = state.negotiation
    if neg is None:
        return {}
    lots = {lot: [b.supplier for b in final_bids(neg, lot)] for lot in open_lots(state)}
    return {lot: suppliers for lot, suppliers in lots.items() if suppliers}


def check_marks(state: BuyState, supplier: str, lot_id: str, quality: int, social_value: int) -> Marks:
    for name, mark in (("quality", quality), ("social_value", social_value)):
        if isinstance(mark, bool) or not 0 <= mark <= 100:
            raise invalid(f"{name} must be a mark from 0 to 100, not {mark}", field=name)
    if state.stage != Stage.EVALUATION:
        raise conflict(f"scores are entered during evaluation; this buy is in {state.stage.value}")
    if lot_id not in state.terms.lot_ids():
        raise invalid(f"unknown lot {lot_id!r}; this buy has {state.terms.lot_ids()}", field="lot_id")
    if supplier not in assessed(state).get(lot_id, []):
        raise conflict(f"supplier {supplier} has no tender for lot {lot_id} to assess")
    return Marks(quality=quality, social_value=social_value)


def missing_marks(state: BuyState) -> list[tuple[str, str]]:
    """(lot, supplier) pairs the lead has still to mark."""
    return [
        (lot, supplier)
        for lot, suppliers in assessed(state).items()
        for supplier in suppliers
        if supplier not in state.marks.get(lot, {})
    ]


def evaluate(state: BuyState) -> dict[str, list[ScoredTender]]:
    """The most advantageous tender per lot, best first, on final bids and the lead's marks."""
    neg = state.negotiation
    assert neg is not None, "evaluation follows negotiation"
    results: dict[str, list[ScoredTender]] = {}
    for lot in assessed(state):
        marks = state.marks.get(lot, {})
        results[lot] = score(
            as_evaluated(final_bids(neg, lot)),
            {s: m.quality for s, m in marks.items()},
            {s: m.social_value for s, m in marks.items()},
            state.terms.award,
        )
    return results


def lot_awards(state: BuyState, results: dict[str, list[ScoredTender]]) -> dict[str, LotAward]:
    neg = state.negotiation
    assert neg is not None
    committed = committed_quantities(state)
    awards: dict[str, LotAward] = {}
    for lot, ranked in results.items():
        winner = ranked[0]
        bid = next(b for b in final_bids(neg, lot) if b.supplier == winner.supplier)
        quantity = committed[lot]
        awards[lot] = LotAward(
            lot_id=lot,
            supplier=winner.supplier,
            unit_price=bid.evaluated_unit_price,
            committed_quantity=quantity,
            value=quantity * bid.evaluated_unit_price,
            tiers=bid.tiers,
        )
    return awards


def _scores(t: ScoredTender) -> dict[str, Any]:
    return {
        "evaluated_unit_price": str(t.evaluated_unit_price),
        "quality": t.quality,
        "social_value": t.social_value,
        "price_score": str(t.price_score),
        "quality_score": str(t.quality_score),
        "social_value_score": str(t.social_value_score),
        "total_score": str(t.total_score),
    }


def assessment_summaries(lot_id: str, ranked: Sequence[ScoredTender]) -> list[dict[str, Any]]:
    """What each assessed supplier is told before the award notice: its own scores and rank, and
    the winning tender's scores to compare them with (Procurement Act 2023 s.50)."""
    winner = ranked[0]
    return [
        {
            "company_number": t.supplier,
            "lot_id": lot_id,
            "rank": t.rank,
            "tenders": len(ranked),
            "successful": t.winner,
            "own": _scores(t),
            "winning": {"company_number": winner.supplier, **_scores(winner)},
        }
        for t in ranked
    ]


# --- standstill and challenges -------------------------------------------------------------------


def open_standstill(state: BuyState, notice_on: date) -> StandstillState:
    days = state.terms.award.standstill_working_days
    cal: AnyCalendar = state.bank_holidays or state.terms.award.calendar
    return StandstillState(
        notice_on=notice_on,
        working_days=days,
        calendar=state.terms.award.calendar,
        last_day=standstill_end(notice_on, days, cal),
        contracts_from=contracts_from(notice_on, days, cal),
    )


def bidders(state: BuyState) -> set[str]:
    neg = state.negotiation
    return {b.supplier for b in neg.bids} if neg else set()


def check_challenge(state: BuyState, supplier: str) -> None:
    if state.stage != Stage.STANDSTILL:
        raise conflict(f"challenges are lodged during standstill; this buy is in {state.stage.value}")
    if supplier not in bidders(state):
        raise forbidden(f"supplier {supplier} did not bid in this buy and may not challenge its award")


def suspend(
    standstill: StandstillState, today: date, recorded: RecordedCalendar | None = None
) -> StandstillState:
    """The clock stops: remember the working days still to run after today."""
    left = working_days_left(standstill.last_day, today, recorded or standstill.calendar)
    return standstill.model_copy(update={"suspended_on": today, "days_left": left})


def resume(
    standstill: StandstillState, today: date, recorded: RecordedCalendar | None = None
) -> StandstillState:
    """A dismissed challenge restarts the clock with the days that were left, counted from the
    working day after the decision: the day of suspension was counted as used, so counting the
    decision day too would count a challenge lodged and dismissed on one day twice, and shorten the
    statutory period. With nothing left, contracts may be entered into from the decision day."""
    left = standstill.days_left or 0
    cal: AnyCalendar = recorded or standstill.calendar
    start = next_working_day(today, cal) if left else today
    return standstill.model_copy(
        update={
            "last_day": resume_standstill(start, left, cal),
            "contracts_from": contracts_from(start, left, cal),
            "suspended_on": None,
            "days_left": None,
        }
    )


def find_challenge(state: BuyState, challenge_id: str) -> Challenge:
    for challenge in state.challenges:
        if challenge.challenge_id == challenge_id:
            return challenge
    raise DomainError(ErrorKind.NOT_FOUND, f"no challenge {challenge_id} in this buy")


def check_decide_challenge(
    state: BuyState, challenge_id: str, upheld: bool, remedy: Remedy, corrected: dict[str, Marks]
) -> Challenge:
    challenge = find_challenge(state, challenge_id)
    if challenge.status != "open" or state.stage != Stage.SUSPENDED:
        raise conflict(f"challenge {challenge_id} is {challenge.status}, not awaiting a decision")
    if corrected and not (upheld and remedy == "re-evaluate"):
        raise invalid(
            "corrected scores go with an upheld challenge that is re-evaluated", field="corrected_scores"
        )
    lots = {lot for lot, suppliers in assessed(state).items() if challenge.supplier in suppliers}
    for lot in corrected:
        if lot not in lots:
            raise invalid(
                f"supplier {challenge.supplier} has no tender for lot {lot!r} to re-score",
                field="corrected_scores",
            )
    return challenge


# --- award ---------------------------------------------------------------------------------------


def build_contracts(state: BuyState, councils: Sequence[str] | None = None) -> list[ContractLine]:
    """One call-off per council in each awarded lot's stable coalition (every signed-up council,
    for a lot settled before coalitions existed), at the price the coalition's aggregate earned.
    Of `councils` only, when given (in order), else of every signed-up council."""
    lines: list[ContractLine] = []
    for council in sorted(state.signups) if councils is None else councils:
        baselines = {d.lot_id: d.baseline_unit_price for d in state.demand.get(council, [])}
        for line in sorted(state.signups[council], key=lambda s: s.lot_id):
            award = state.award.get(line.lot_id)
            if award is None:
                continue
            coalition = state.coalition.get(line.lot_id)
            if coalition is not None and council not in coalition:
                continue  # priced out: its limit was below the price the lot earned
            lines.append(
                contract_line(
                    council,
                    line.lot_id,
                    award.supplier,
                    line.quantity,
                    award.unit_price,
                    baselines.get(line.lot_id, Decimal(0)),
                    award.tiers,
                )
            )
    return lines


def contract_totals(lines: Sequence[ContractLine]) -> dict[str, Any]:
    def total(field: str) -> str:
        return str(sum((getattr(c, field) for c in lines), Decimal(0)))

    return {
        "contracts": len(lines),
        "councils": len({c.council for c in lines}),
        "quantity": sum(c.quantity for c in lines),
        "total": total("total"),
        "baseline_total": total("baseline_total"),
        "saving": total("saving"),
        "aggregation_dividend": total("aggregation_dividend"),
    }
