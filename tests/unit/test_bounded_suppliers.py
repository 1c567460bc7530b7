"""A buy's suppliers stay bounded in the workflow's state: at most `MAX_SUPPLIERS`, each kept only as
far as decisions need (`keep_what_decisions_need`), and packed with their reasons once each
(`packed_suppliers`). Measured exactly as the worker's data converter writes the payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from messages.joint_buy import JointBuyInput
from procurement.errors import DomainError, ErrorKind
from procurement.models import SUPPLIER_REASON_KEPT, BuyState, CheckOutcome, Stage, SupplierEntry
from procurement.suppliers import MAX_SUPPLIERS, check_register_supplier, keep_what_decisions_need
from tests.support import new_state

CHECKS = [
    "company_status",
    "debarment",
    "financial_standing",
    "insurance",
    "certifications",
    "modern_slavery",
    "carbon_reduction_plan",
]


def payload_bytes(value: object) -> int:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload.ByteSize()


def with_suppliers(make: object) -> BuyState:
    state = new_state("jb-suppliers", datetime(2027, 1, 4, tzinfo=UTC))
    state.stage = Stage.ASSURANCE
    state.suppliers = {f"{n:08d}": make(n) for n in range(MAX_SUPPLIERS)}  # type: ignore[operator]
    return state


def kept(entry: SupplierEntry) -> SupplierEntry:
    keep_what_decisions_need(entry)
    return entry


def outage(n: int) -> SupplierEntry:
    """Every check unavailable (a registry and the evidence store down past the buy's patience)."""
    checks = [
        CheckOutcome(
            check=c,
            passed=False,
            flagged=True,
            reason="check unavailable: the supplier's evidence on file could not be reached; "
            "the lead decides",
        )
        for c in CHECKS
    ]
    return kept(SupplierEntry(status="flagged", reason="; ".join(c.reason for c in checks), checks=checks))


def excluded(n: int) -> SupplierEntry:
    """Seven failed checks, every supplier's reasons its own (its turnover in each)."""
    checks = [
        CheckOutcome(
            check=c, passed=False, reason=f"annual turnover of £{n:,}.00 is below the £1,800,000 required"
        )
        for c in CHECKS
    ]
    return kept(SupplierEntry(status="excluded", reason="; ".join(c.reason for c in checks), checks=checks))


def qualified(n: int) -> SupplierEntry:
    checks = [CheckOutcome(check=c, passed=True, reason="company is active") for c in CHECKS]
    return kept(SupplierEntry(status="qualified", checks=checks))


def debarred(n: int) -> SupplierEntry:
    """The worst the models allow: flagged on a discretionary ground of its own, 500 characters
    long (a flagged check's reason is kept whole: the lead's decision carries it)."""
    ground = f"{n:05d}" * 100
    check = CheckOutcome(
        check="debarment",
        passed=False,
        flagged=True,
        reason=f"on the debarment list on a discretionary exclusion ground: {ground}",
    )
    return kept(SupplierEntry(status="flagged", reason=check.reason, checks=[check]))


@pytest.mark.parametrize(
    ("make", "limit"),
    [(qualified, 100_000), (outage, 250_000), (excluded, 600_000), (debarred, 1_300_000)],
    ids=[
        "qualified",
        "all flagged by an outage",
        "excluded, each with its own reasons",
        "each flagged on its own 500-character ground",
    ],
)
def test_the_most_suppliers_a_buy_takes_travel_well_under_the_payload_limit(make: object, limit: int) -> None:
    state = with_suppliers(make)
    bare = payload_bytes(JointBuyInput(state=new_state("jb-suppliers", datetime(2027, 1, 4, tzinfo=UTC))))
    carried = payload_bytes(JointBuyInput(state=state)) - bare
    assert carried <= limit, f"{MAX_SUPPLIERS} suppliers: {carried} bytes"


def test_kept_verdicts_are_what_decisions_need() -> None:
    flagged = outage(1)
    assert [c.check for c in flagged.checks] == CHECKS and flagged.reason == ""
    assert excluded(1).checks == [] and len(excluded(1).reason) == SUPPLIER_REASON_KEPT
    assert excluded(1).reason.endswith("…")
    assert qualified(1).checks == [] and qualified(1).reason == ""


def test_packed_suppliers_read_back_as_they_were() -> None:
    state = with_suppliers(lambda n: [outage, excluded, qualified][n % 3](n))
    state.suppliers["99999999"] = SupplierEntry(name="Registered Ltd")
    # A verdict recorded before the state kept only what decisions need: every check.
    state.suppliers["88888888"] = SupplierEntry(
        name="Old Ltd",
        status="flagged",
        reason="on the debarment list on a discretionary exclusion ground: poor performance",
        checks=[
            CheckOutcome(check="company_status", passed=True, reason="company is active"),
            CheckOutcome(check="debarment", passed=False, flagged=True, reason="on the debarment list"),
            CheckOutcome(check="insurance", passed=False, reason="below £5m"),
        ],
    )
    [payload] = pydantic_data_converter.payload_converter.to_payloads([JointBuyInput(state=state)])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [JointBuyInput])
    assert back.state == state


def test_suppliers_written_before_packing_still_read() -> None:
    state = with_suppliers(excluded)
    named = state.model_dump(mode="python")
    assert isinstance(named["suppliers"], dict)
    assert BuyState.model_validate(named) == state


def test_a_buy_takes_at_most_max_suppliers() -> None:
    state = with_suppliers(lambda n: SupplierEntry(name=f"Supplier {n}"))
    state.stage = Stage.SIGN_UP
    with pytest.raises(DomainError) as refused:
        check_register_supplier(state, "12345678")
    assert refused.value.kind == ErrorKind.CONFLICT
    assert f"{MAX_SUPPLIERS:,} suppliers" in refused.value.message
    check_register_supplier(state, "00000001")  # one already registered may register again
