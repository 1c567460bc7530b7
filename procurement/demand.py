"""Rules of the demand and sign-up stages: who may register what, when, and what the total comes to.

Each `check_*` raises a `DomainError` and changes nothing; the caller applies the command only after
its check passed (the workflow runs checks in update validators, so a refused command leaves no trace
in history).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from procurement.errors import DomainError, ErrorKind, conflict, invalid
from procurement.models import (
    CLOSABLE_STAGES,
    MAX_DEMAND_LINES,
    BuyState,
    BuyTerms,
    DemandLine,
    DemandTotals,
    LotAggregate,
    SignUpLine,
    Stage,
)


def _require_stage(state: BuyState, stage: Stage, action: str) -> None:
    if state.stage != stage:
        raise conflict(f"{action} is only possible during {stage.value}; this buy is in {state.stage.value}")


def _check_lots(terms: BuyTerms, lot_ids: Sequence[str]) -> None:
    known = set(terms.lot_ids())
    for index, lot_id in enumerate(lot_ids):
        if lot_id not in known:
            raise invalid(
                f"unknown lot {lot_id!r}; this buy has {sorted(known)}",
                field=f"lines.{index}.lot_id",
            )
    if len(set(lot_ids)) != len(lot_ids):
        raise invalid("each lot may appear only once", field="lines")
    if not lot_ids:
        raise invalid("at least one line is required", field="lines")


def _check_not_cancelled(state: BuyState, lot_ids: Sequence[str]) -> None:
    for lot_id in lot_ids:
        if lot_id in state.cancelled_lots:
            raise conflict(f"lot {lot_id} was cancelled: {state.cancelled_lots[lot_id].reason}")


def check_register_demand(
    state: BuyState, lines: Sequence[DemandLine], council: str | None = None, held: int | None = None
) -> None:
    """`held`: the buy's demand lines so far, when the caller keeps count (else they are counted)."""
    _require_stage(state, Stage.DEMAND, "Registering demand")
    _check_lots(state.terms, [line.lot_id for line in lines])
    _check_not_cancelled(state, [line.lot_id for line in lines])
    if held is None:
        held = totals(state).lines
    replaced = len(state.demand.get(council, ())) if council is not None else 0
    if held - replaced + len(lines) > MAX_DEMAND_LINES:
        raise conflict(
            f"this buy already holds {held} council-lot demand lines, the most one buy takes is"
            f" {MAX_DEMAND_LINES}: start another buy for the rest"
        )


def check_withdraw_demand(state: BuyState, council: str) -> None:
    _require_stage(state, Stage.DEMAND, "Withdrawing demand")
    if council not in state.demand:
        raise conflict(f"council {council} has no demand registered in this buy")


def check_sign_up(state: BuyState, council: str, lines: Sequence[SignUpLine]) -> None:
    _require_stage(state, Stage.SIGN_UP, "Signing up")
    registered = {line.lot_id: line for line in state.demand.get(council, [])}
    if not registered:
        raise conflict(f"council {council} registered no demand in this buy, so it cannot sign up")
    _check_lots(state.terms, [line.lot_id for line in lines])
    _check_not_cancelled(state, [line.lot_id for line in lines])
    tolerance = state.terms.sign_up_tolerance_pct
    for index, line in enumerate(lines):
        demand = registered.get(line.lot_id)
        if demand is None:
            raise invalid(
                f"council {council} registered no demand for lot {line.lot_id!r}",
                field=f"lines.{index}.lot_id",
            )
        ceiling = max_sign_up_quantity(demand.quantity, tolerance)
        if line.quantity > ceiling:
            raise invalid(
                f"quantity {line.quantity} for lot {line.lot_id!r} exceeds the registered demand "
                f"of {demand.quantity}" + (f" plus {tolerance}% tolerance" if tolerance else ""),
                field=f"lines.{index}.quantity",
            )


def max_sign_up_quantity(registered: int, tolerance_pct: Decimal) -> int:
    return int(
        registered + (Decimal(registered) * tolerance_pct / 100).to_integral_value(rounding="ROUND_FLOOR")
    )


def check_close_stage(state: BuyState, stage: Stage) -> None:
    if stage not in CLOSABLE_STAGES:
        raise invalid(f"only {sorted(s.value for s in CLOSABLE_STAGES)} windows can be closed early")
    _require_stage(state, stage, f"Closing {stage.value}")
    if stage == Stage.NEGOTIATION and (state.negotiation is None or state.stage_deadline is None):
        raise conflict("no negotiation round is open to close")


def check_cancel(state: BuyState) -> None:
    if state.stage.terminal:
        raise conflict(f"this buy is already {state.stage.value}")


def aggregate(
    terms: BuyTerms,
    demand: Mapping[str, Iterable[DemandLine]],
    signups: Mapping[str, Iterable[SignUpLine]],
) -> dict[str, LotAggregate]:
    """Per lot: councils with demand, indicative total, committed total and councils committed."""
    totals = {lot_id: LotAggregate() for lot_id in terms.lot_ids()}
    for lines in demand.values():
        for d in lines:
            totals[d.lot_id].councils += 1
            totals[d.lot_id].indicative_quantity += d.quantity
    for confirmed in signups.values():
        for s in confirmed:
            totals[s.lot_id].signed_up_councils += 1
            totals[s.lot_id].committed_quantity += s.quantity
    return totals


def totals(state: BuyState) -> DemandTotals:
    """The buy's aggregate, as the state carries it (a run keeps it, `RunningTotals`); computed from
    the lines for a state that does not carry it (written before it was carried, or built by hand)."""
    if state.totals is not None:
        return state.totals
    return DemandTotals(
        lots=aggregate(state.terms, state.demand, state.signups),
        lines=sum(len(v) for v in state.demand.values()),
    )


class RunningTotals:
    """`aggregate` kept up to date command by command in the state (`BuyState.totals`), so a receipt
    costs O(lots), not O(councils), and a new run starts without walking the councils.

    Told of every change to demand and sign-ups.
    """

    def __init__(self, state: BuyState) -> None:
        self._state = state
        state.totals = totals(state)

    @property
    def _totals(self) -> dict[str, LotAggregate]:
        return totals(self._state).lots

    @property
    def lines(self) -> int:
        return totals(self._state).lines

    def demand(self, old: Iterable[DemandLine], new: Iterable[DemandLine]) -> None:
        held = totals(self._state)
        for d in old:
            held.lots[d.lot_id].councils -= 1
            held.lots[d.lot_id].indicative_quantity -= d.quantity
            held.lines -= 1
        for d in new:
            held.lots[d.lot_id].councils += 1
            held.lots[d.lot_id].indicative_quantity += d.quantity
            held.lines += 1

    def sign_up(self, old: Iterable[SignUpLine], new: Iterable[SignUpLine]) -> None:
        for s in old:
            self._totals[s.lot_id].signed_up_councils -= 1
            self._totals[s.lot_id].committed_quantity -= s.quantity
        for s in new:
            self._totals[s.lot_id].signed_up_councils += 1
            self._totals[s.lot_id].committed_quantity += s.quantity

    def snapshot(self) -> dict[str, LotAggregate]:
        return {lot_id: agg.model_copy() for lot_id, agg in self._totals.items()}


@dataclass
class ViabilityOutcome:
    viable: bool
    signed_up_councils: int
    failed_lots: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def assess_viability(state: BuyState) -> ViabilityOutcome:
    """At sign-up close: enough councils overall, and enough committed volume per lot.

    A lot below its minimum is unsuccessful on its own; the buy fails when too few councils signed
    up or no lot is left.
    """
    terms = state.terms
    committed = {lot: agg for lot, agg in totals(state).lots.items() if lot not in state.cancelled_lots}
    councils = len(state.signups)
    failed: dict[str, str] = {}
    for lot_id, agg in committed.items():
        minimum = terms.viability.min_total_quantity.get(lot_id, 1)
        if agg.committed_quantity < minimum:
            failed[lot_id] = f"committed {agg.committed_quantity}, below the minimum of {minimum}"
    if councils < terms.viability.min_councils:
        reason = f"{councils} councils signed up; at least {terms.viability.min_councils} are needed"
        return ViabilityOutcome(False, councils, failed, reason)
    if len(failed) == len(committed):
        return ViabilityOutcome(False, councils, failed, "no lot reached its minimum committed quantity")
    return ViabilityOutcome(True, councils, failed)


def dropped_out(state: BuyState) -> list[str]:
    """Councils that registered demand but did not confirm by the sign-up deadline."""
    return sorted(set(state.demand) - set(state.signups))


def sign_up_deadline(closed_at: datetime, terms: BuyTerms) -> datetime:
    return closed_at + terms.sign_up_window


__all__ = [
    "DomainError",
    "ErrorKind",
    "RunningTotals",
    "ViabilityOutcome",
    "aggregate",
    "assess_viability",
    "check_cancel",
    "check_close_stage",
    "check_register_demand",
    "check_sign_up",
    "check_withdraw_demand",
    "dropped_out",
    "max_sign_up_quantity",
    "sign_up_deadline",
    "totals",
]
