"""Rules of the supplier side before bidding: registering interest, the contract-value estimate the
assurance checks use, and the lead's decision on a flagged supplier."""

from __future__ import annotations

from decimal import Decimal

from procurement.assurance import CheckResult, annual_contract_value, outcome_of
from procurement.errors import conflict, invalid
from procurement.models import (
    SUPPLIER_REASON_KEPT,
    BuyState,
    CheckOutcome,
    Stage,
    SupplierEntry,
    SupplierStatus,
)

# A Companies House number: 8 digits, or 2 capital letters (SC, NI, OC…) and 6 digits.
COMPANY_NUMBER = r"^(?:[0-9]{8}|[A-Z]{2}[0-9]{6})$"
REGISTRATION_STAGES = frozenset({Stage.DEMAND, Stage.SIGN_UP})
# A buy takes at most this many suppliers: what keeps their part of the workflow's state, and so
# every payload that carries it, bounded (README, "Scale").
MAX_SUPPLIERS = 2_000


def check_register_supplier(state: BuyState, company_number: str) -> None:
    if state.stage not in REGISTRATION_STAGES:
        raise conflict(
            f"suppliers register interest before assurance starts; this buy is in {state.stage.value}"
        )
    if company_number not in state.suppliers and len(state.suppliers) >= MAX_SUPPLIERS:
        raise conflict(f"this buy already has {MAX_SUPPLIERS:,} suppliers, the most one buy takes")


def check_decide_exclusion(state: BuyState, company_number: str, reason: str) -> None:
    if state.stage != Stage.ASSURANCE:
        raise conflict(f"exclusion decisions are taken during assurance; this buy is in {state.stage.value}")
    entry = state.suppliers.get(company_number)
    if entry is None or entry.status != "flagged":
        status = entry.status if entry else "not registered"
        raise conflict(f"supplier {company_number} is {status}, not flagged for a decision")
    _check_reason(reason)


def _check_reason(reason: str) -> None:
    if not reason.strip():
        raise invalid("a decision on a flagged supplier needs a reason", field="reason")


def open_lots(state: BuyState) -> list[str]:
    """Lots still in the competition: neither unsuccessful nor cancelled."""
    return [
        lot
        for lot in state.terms.lot_ids()
        if lot not in state.unsuccessful_lots and lot not in state.cancelled_lots
    ]


def estimate_annual_contract_value(state: BuyState) -> Decimal:
    """Committed quantity per open lot × the lowest baseline unit price a signed-up council reported
    for that lot (the best price signal before any bid), spread over the contract years."""
    committed: dict[str, int] = dict.fromkeys(open_lots(state), 0)
    for lines in state.signups.values():
        for line in lines:
            if line.lot_id in committed:
                committed[line.lot_id] += line.quantity
    signal: dict[str, Decimal] = {}
    for council in state.signups:
        for demand in state.demand.get(council, []):
            if demand.lot_id in committed:
                price = demand.baseline_unit_price
                best = signal.get(demand.lot_id)
                signal[demand.lot_id] = price if best is None else min(best, price)
    for lot in committed:
        signal.setdefault(lot, Decimal(0))
    return annual_contract_value(committed, signal, state.terms.contract_years)


def decide(
    checks: list[CheckOutcome], exclude: bool, reason: str
) -> tuple[list[CheckOutcome], SupplierStatus]:
    """Apply the lead's (or the default's) decision to the flagged checks: new checks and status.

    Each flagged check becomes final (passed unless `exclude`), its reason followed by the
    decision's; checks already final stay as they are.
    """
    _check_reason(reason)
    decided = [
        c.model_copy(update={"flagged": False, "passed": not exclude, "reason": f"{c.reason}; {reason}"})
        if c.flagged
        else c
        for c in checks
    ]
    status = outcome_of(CheckResult.model_validate(c.model_dump()) for c in decided)
    return decided, status


def keep_what_decisions_need(entry: SupplierEntry) -> None:
    """Trim a supplier's verdict, as the workflow keeps it, to what later decisions need: its
    status and why. While it is flagged, why is its flagged checks (the lead's decision applies to
    them); once final, its failed checks' reasons (at most `SUPPLIER_REASON_KEPT` characters). The
    full verdict is the event's."""
    if entry.status == "flagged":
        entry.checks = [c for c in entry.checks if c.flagged]
        entry.reason = ""  # its flagged checks say why, and are what the decision applies to
        return
    entry.checks = []
    if len(entry.reason) > SUPPLIER_REASON_KEPT:
        entry.reason = entry.reason[: SUPPLIER_REASON_KEPT - 1] + "…"
