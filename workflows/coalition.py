"""The stable coalition in the workflow: once every tender is marked, each lot settles (pure rule
in `procurement.coalition`) before the assessment summaries, and every pass is an audit event.
Runs inside the workflow (deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procurement import coalition as rules
    from procurement.models import BuyState
    from procurement.rounds import final_bids

# Buys evaluated before the stable coalition existed were evaluated at the full sign-up: replaying
# them must not settle coalitions (it would record events they never recorded).
COALITION_PATCH = "stable-coalition"

Emit = Callable[[str, str, dict[str, Any]], int]


def settle(state: BuyState, emit: Emit) -> str | None:
    """Settle every lot's coalition and set the evaluation and the award to follow it. Returns the
    reason the buy is unsuccessful (too few councils left holding a contract, no lot awardable), or
    None. Always starts from the full sign-up, so a re-evaluation recomputes it."""
    settlement = rules.settle(state)
    negotiation = state.negotiation
    assert negotiation is not None, "evaluation follows negotiation"
    state.coalition = {}
    for lot, settled in settlement.lots.items():
        for step in settled.passes:
            emit("coalition.pass", "system", step.event_data())
            for out in step.priced_out:
                emit(
                    "coalition.priced_out",
                    "system",
                    {
                        "council": out.council,
                        "lot_id": lot,
                        "quantity": out.quantity,
                        "unit_price": str(out.unit_price),
                        "max_unit_price": str(out.max_unit_price),
                        "pass": step.number,
                    },
                )
        emit(
            "coalition.settled",
            "system",
            {
                "lot_id": lot,
                "councils": settled.coalition,
                "aggregate": settled.aggregate,
                "passes": len(settled.passes),
                "unsuccessful": settled.unsuccessful or None,
            },
        )
        if settled.unsuccessful:
            state.unsuccessful_lots[lot] = settled.unsuccessful
            state.coalition_failed.append(lot)
            emit("lot.unsuccessful", "system", {"lot_id": lot, "reason": settled.unsuccessful})
        else:
            state.coalition[lot] = settled.coalition
    if not settlement.viable:
        return settlement.reason
    awardable = {lot: s for lot, s in settlement.lots.items() if not s.unsuccessful}
    state.evaluation = {lot: s.ranked for lot, s in awardable.items()}
    state.award = {lot: rules.lot_award(s, final_bids(negotiation, lot)) for lot, s in awardable.items()}
    return None


def unsettle(state: BuyState) -> None:
    """An upheld challenge re-evaluates from the full sign-up: lots the coalition left unsuccessful
    are open again, and no council is priced out until the lots settle anew."""
    for lot in state.coalition_failed:
        state.unsuccessful_lots.pop(lot, None)
    state.coalition_failed = []
    state.coalition = {}
