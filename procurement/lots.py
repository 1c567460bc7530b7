"""Cancelling one lot: the lead takes a lot out of the competition before the award notice; the rest
of the buy goes on, and cancelling the last open lot cancels the buy."""

from __future__ import annotations

from typing import Final

from procurement.errors import DomainError, ErrorKind, conflict
from procurement.models import BuyState, Stage
from procurement.suppliers import open_lots

# Before the award notice: after it, a lot's award stands or falls with its challenge.
LOT_CANCEL_STAGES: Final = frozenset(
    {Stage.DRAFT, Stage.DEMAND, Stage.SIGN_UP, Stage.ASSURANCE, Stage.NEGOTIATION, Stage.EVALUATION}
)


def check_cancel_lot(state: BuyState, lot_id: str) -> None:
    if lot_id not in state.terms.lot_ids():
        raise DomainError(
            ErrorKind.NOT_FOUND, f"no lot {lot_id!r} in this buy; it has {state.terms.lot_ids()}"
        )
    if lot_id in state.cancelled_lots:
        raise conflict(f"lot {lot_id} is already cancelled")
    if lot_id in state.unsuccessful_lots:
        raise conflict(f"lot {lot_id} is already unsuccessful: {state.unsuccessful_lots[lot_id]}")
    if state.stage.terminal:
        raise conflict(f"this buy is already {state.stage.value}")
    if state.stage not in LOT_CANCEL_STAGES:
        raise conflict(
            f"lot {lot_id} is awarded: the award notice is published; this buy is in {state.stage.value}"
        )


def bids_set_aside(state: BuyState, lot_id: str) -> int:
    neg = state.negotiation
    return neg.bids_on(lot_id) if neg else 0


def last_open_lot(state: BuyState, lot_id: str) -> bool:
    return open_lots(state) == [lot_id]
