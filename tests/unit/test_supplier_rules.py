"""The lead's decision on a flagged supplier (`procurement.suppliers`), as the workflow applies it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from procurement.errors import DomainError, ErrorKind
from procurement.models import BuyState, CheckOutcome, Stage, SupplierEntry, SupplierStatus
from procurement.suppliers import check_decide_exclusion, decide
from tests.support import new_state

ACTIVE = CheckOutcome(check="company_status", passed=True, reason="company is active")
FLAGGED = CheckOutcome(
    check="debarment",
    passed=False,
    flagged=True,
    reason="on the debarment list on a discretionary exclusion ground: poor performance",
)
FAILED = CheckOutcome(check="insurance", passed=False, reason="employer's liability cover is below £5m")


@pytest.mark.parametrize(
    ("exclude", "passed", "status"), [(True, False, "excluded"), (False, True, "qualified")]
)
def test_decision_makes_the_flag_final(exclude: bool, passed: bool, status: str) -> None:
    checks, outcome = decide([ACTIVE, FLAGGED], exclude, "self-cleaning evidence")
    assert outcome == status
    assert checks[0] == ACTIVE
    assert (checks[1].check, checks[1].passed, checks[1].flagged) == ("debarment", passed, False)
    assert checks[1].reason == f"{FLAGGED.reason}; self-cleaning evidence"


def test_a_final_failure_outweighs_an_inclusion() -> None:
    checks, outcome = decide([FAILED, FLAGGED], False, "improved since")
    assert outcome == "excluded"
    assert checks[0] == FAILED


def test_every_flagged_check_is_decided() -> None:
    other = FLAGGED.model_copy(update={"check": "company_status", "reason": "dormant"})
    checks, outcome = decide([FLAGGED, other], False, "cleared")
    assert outcome == "qualified"
    assert [c.flagged for c in checks] == [False, False]


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_a_decision_needs_a_reason(reason: str) -> None:
    with pytest.raises(DomainError) as refused:
        decide([FLAGGED], True, reason)
    assert (refused.value.kind, refused.value.field) == (ErrorKind.INVALID, "reason")


def assurance_state(status: SupplierStatus) -> BuyState:
    state = new_state("jb-suppliers", datetime(2027, 1, 1, tzinfo=UTC))
    state.stage = Stage.ASSURANCE
    state.suppliers["04567890"] = SupplierEntry(name="Northern Devices Ltd", status=status, checks=[FLAGGED])
    return state


@pytest.mark.parametrize(
    ("status", "stage", "company", "reason", "kind"),
    [
        ("flagged", Stage.ASSURANCE, "04567890", "cleared", None),
        ("flagged", Stage.ASSURANCE, "04567890", "  ", ErrorKind.INVALID),
        ("qualified", Stage.ASSURANCE, "04567890", "cleared", ErrorKind.CONFLICT),
        ("flagged", Stage.ASSURANCE, "05678901", "cleared", ErrorKind.CONFLICT),
        ("flagged", Stage.NEGOTIATION, "04567890", "cleared", ErrorKind.CONFLICT),
    ],
)
def test_check_decide_exclusion(
    status: SupplierStatus, stage: Stage, company: str, reason: str, kind: ErrorKind | None
) -> None:
    state = assurance_state(status)
    state.stage = stage
    if kind is None:
        check_decide_exclusion(state, company, reason)
        return
    with pytest.raises(DomainError) as refused:
        check_decide_exclusion(state, company, reason)
    assert refused.value.kind == kind
