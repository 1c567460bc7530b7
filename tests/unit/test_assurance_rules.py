"""Supplier assurance rules, at and around every threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from procurement.assurance import (
    KNOWN_CERTIFICATIONS,
    CheckResult,
    DebarmentEntry,
    SupplierEvidence,
    annual_contract_value,
    check_carbon_reduction_plan,
    check_certifications,
    check_company_status,
    check_debarment,
    check_financial_standing,
    check_insurance,
    check_modern_slavery,
    format_gbp,
    outcome_of,
    unknown_certifications,
)

D = Decimal


# --- money formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (D("5000000"), "£5,000,000"),
        (D("5000000.00"), "£5,000,000"),
        (D("4999999.99"), "£4,999,999.99"),
        (D("36000000"), "£36,000,000"),
        (D("0"), "£0"),
        (D("1234.5"), "£1,234.50"),
        (D("0.005"), "£0.01"),
    ],
)
def test_format_gbp(amount: Decimal, text: str) -> None:
    assert format_gbp(amount) == text


# --- company status ----------------------------------------------------------------------------


def test_active_company_passes() -> None:
    result = check_company_status("active")
    assert (result.check, result.passed, result.flagged) == ("company_status", True, False)


@pytest.mark.parametrize(
    "status",
    [
        "liquidation",
        "administration",
        "dissolved",
        "active-proposal-to-strike-off",
        "receivership",
        "voluntary-arrangement",
        "insolvency-proceedings",
        "converted-closed",
        "closed",
        "removed",
        "open",
        "registered",
        "Active",
        " active",
        "",
    ],
)
def test_any_other_company_status_fails_naming_it(status: str) -> None:
    result = check_company_status(status)
    assert not result.passed
    assert not result.flagged
    assert f"'{status}'" in result.reason


def test_company_not_on_register_fails() -> None:
    result = check_company_status(None)
    assert not result.passed
    assert result.reason == "company not found on the register"


# --- debarment ---------------------------------------------------------------------------------


def test_no_debarment_entry_passes() -> None:
    assert check_debarment(None).passed


@pytest.mark.parametrize(
    ("mandatory", "flagged", "word"), [(True, False, "mandatory"), (False, True, "discretionary")]
)
def test_debarment_entry(mandatory: bool, flagged: bool, word: str) -> None:
    result = check_debarment(DebarmentEntry(ground="bribery conviction", mandatory=mandatory))
    assert (result.passed, result.flagged) == (False, flagged)
    assert "bribery conviction" in result.reason
    assert word in result.reason


# --- financial standing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("turnover", "acv", "ratio", "passed"),
    [
        (D("2000000"), D("1000000"), D("2.0"), True),  # exactly 2 x ACV
        (D("1999999.99"), D("1000000"), D("2.0"), False),  # 1p less
        (D("2000000.01"), D("1000000"), D("2.0"), True),
        (D("10000001"), D("5000000.50"), D("2.0"), True),  # pence in ACV, exact
        (D("10000000.99"), D("5000000.50"), D("2.0"), False),
        (D("1500000"), D("1000000"), D("1.5"), True),  # custom ratio, exact
        (D("1499999.99"), D("1000000"), D("1.5"), False),
        (D("2999999.99"), D("1000000"), D("3"), False),
        (D("0"), D("0"), D("2.0"), True),
        (D("0"), D("1000000"), D("0"), True),  # ratio 0 switches the check off
    ],
)
def test_financial_standing(turnover: Decimal, acv: Decimal, ratio: Decimal, passed: bool) -> None:
    result = check_financial_standing(turnover, acv, ratio)
    assert result.check == "financial_standing"
    assert result.passed is passed


def test_financial_standing_default_ratio_and_reason() -> None:
    result = check_financial_standing(D("1999999.99"), D("1000000"))
    assert not result.passed
    assert result.reason == (
        "annual turnover of £1,999,999.99 is below the £2,000,000 required "
        "(2.0 times the annual contract value of £1,000,000)"
    )


# --- insurance ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cover", "required", "passed"),
    [
        (D("5000000"), None, True),  # exactly £5m
        (D("4999999.99"), None, False),
        (D("5000000.01"), None, True),
        (D("5000000"), D("1000000"), True),  # a lower buy figure never lowers the £5m floor
        (D("4999999.99"), D("1000000"), False),
        (D("10000000"), D("10000000"), True),  # buy's higher figure, exactly
        (D("9999999.99"), D("10000000"), False),
        (D("5000000"), D("10000000"), False),
    ],
)
def test_insurance(cover: Decimal, required: Decimal | None, passed: bool) -> None:
    result = check_insurance(cover, required)
    assert result.check == "insurance"
    assert result.passed is passed


def test_insurance_reason_names_both_amounts() -> None:
    result = check_insurance(D("4999999.99"))
    assert result.reason == "employer's liability cover of £4,999,999.99 is below the £5,000,000 required"


# --- certifications ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "required", "missing"),
    [
        (set(), set(), None),
        ({"cyber_essentials"}, {"cyber_essentials"}, None),
        ({"cyber_essentials_plus"}, {"cyber_essentials"}, None),  # Plus satisfies CE
        # ...but plain Cyber Essentials does not satisfy Plus
        ({"cyber_essentials"}, {"cyber_essentials_plus"}, "Cyber Essentials Plus"),
        ({"cyber_essentials_plus"}, {"cyber_essentials", "cyber_essentials_plus"}, None),
        ({"iso_9001"}, {"iso_27001"}, "ISO 27001"),
        (set(), {"iso_27001", "iso_14001"}, "ISO 14001, ISO 27001"),
        ({"iso_27001", "iso_9001", "iso_14001"}, {"iso_27001", "iso_14001"}, None),
        ({"cyber_essentials_plus"}, {"cyber_essentials", "iso_9001"}, "ISO 9001"),
    ],
)
def test_certifications(held: set[str], required: set[str], missing: str | None) -> None:
    result = check_certifications(held, required)
    assert result.check == "certifications"
    assert result.passed is (missing is None)
    if missing is not None:
        assert result.reason == f"missing required certification(s): {missing}"


@pytest.mark.parametrize(
    ("held", "required"), [({"iso_9002"}, set()), (set(), {"cyber_essentials_plus_plus"})]
)
def test_certifications_rejects_unknown_names(held: set[str], required: set[str]) -> None:
    with pytest.raises(ValueError, match="unknown certifications"):
        check_certifications(held, required)


@pytest.mark.parametrize(
    ("names", "unknown"),
    [
        (sorted(KNOWN_CERTIFICATIONS), []),
        (["iso_9001", "ISO_9001", "soc2"], ["ISO_9001", "soc2"]),
        ([], []),
    ],
)
def test_unknown_certifications(names: list[str], unknown: list[str]) -> None:
    assert unknown_certifications(names) == unknown


# --- modern slavery and carbon reduction plan ----------------------------------------------------


@pytest.mark.parametrize(
    ("turnover", "has_statement", "passed"),
    [
        (D("35999999.99"), False, True),  # £36m - 1p: not required
        (D("36000000"), False, False),  # exactly £36m: required
        (D("36000000"), True, True),
        (D("36000000.01"), False, False),
        (D("100000000"), True, True),
        (D("0"), False, True),
    ],
)
def test_modern_slavery(turnover: Decimal, has_statement: bool, passed: bool) -> None:
    result = check_modern_slavery(turnover, has_statement)
    assert result.check == "modern_slavery"
    assert result.passed is passed
    if not passed:
        assert "£36,000,000" in result.reason


@pytest.mark.parametrize(
    ("acv", "has_plan", "passed"),
    [
        (D("4999999.99"), False, True),
        (D("5000000"), False, True),  # exactly £5m: not required
        (D("5000000.01"), False, False),  # £5m + 1p: required
        (D("5000000.01"), True, True),
        (D("20000000"), False, False),
    ],
)
def test_carbon_reduction_plan(acv: Decimal, has_plan: bool, passed: bool) -> None:
    result = check_carbon_reduction_plan(acv, has_plan)
    assert result.check == "carbon_reduction_plan"
    assert result.passed is passed
    if not passed:
        assert "over £5,000,000" in result.reason


# --- annual contract value ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantities", "prices", "years", "acv"),
    [
        ({"laptops": 1000}, {"laptops": D("650.00")}, 1, D("650000.00")),
        ({"laptops": 1000, "docks": 500}, {"laptops": D("650"), "docks": D("120")}, 2, D("355000")),
        ({"a": 1}, {"a": D("100")}, 3, D("33.34")),  # rounded up to the penny
        ({"a": 0}, {"a": D("100")}, 1, D("0")),
        ({}, {}, 1, D("0")),
        ({"a": 10}, {"a": D("1"), "unused": D("5")}, 1, D("10")),
    ],
)
def test_annual_contract_value(
    quantities: dict[str, int], prices: dict[str, Decimal], years: int, acv: Decimal
) -> None:
    assert annual_contract_value(quantities, prices, years) == acv


@pytest.mark.parametrize(
    ("quantities", "prices", "years"),
    [
        ({"a": 1}, {}, 1),
        ({"a": 1}, {"a": D("1")}, 0),
        ({"a": -1}, {"a": D("1")}, 1),
        ({"a": 1}, {"a": D("-1")}, 1),
    ],
)
def test_annual_contract_value_refuses(
    quantities: dict[str, int], prices: dict[str, Decimal], years: int
) -> None:
    with pytest.raises(ValueError):
        annual_contract_value(quantities, prices, years)


@pytest.mark.parametrize(
    ("checks", "outcome"),
    [
        ([], "qualified"),
        ([CheckResult(check="insurance", passed=True, reason="ok")], "qualified"),
        ([CheckResult(check="debarment", passed=False, flagged=True, reason="x")], "flagged"),
        ([CheckResult(check="insurance", passed=False, reason="x")], "excluded"),
    ],
)
def test_outcome_of(checks: list[CheckResult], outcome: str) -> None:
    assert outcome_of(checks) == outcome


# --- model validation --------------------------------------------------------------------------

EVIDENCE = {"name": "Acme Ltd", "annual_turnover_gbp": "1", "employers_liability_gbp": "1"}


@pytest.mark.parametrize(
    "changes",
    [
        {"annual_turnover_gbp": "-0.01"},
        {"employers_liability_gbp": "-1"},
        {"annual_turnover_gbp": "NaN"},
        {"annual_turnover_gbp": "Infinity"},
        {"annual_turnover_gbp": "1.001"},  # sub-penny
        {"name": ""},
        {"name": "   "},
        {"certifications": ["iso_9001", "iso_9002"]},
        {"certifications": ["Cyber Essentials"]},
        {"colour": "blue"},  # unknown field
    ],
)
def test_supplier_evidence_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SupplierEvidence.model_validate({**EVIDENCE, **changes})


def test_supplier_evidence_defaults_and_frozen() -> None:
    evidence = SupplierEvidence.model_validate({**EVIDENCE, "certifications": ["iso_9001"]})
    assert evidence.certifications == frozenset({"iso_9001"})
    assert evidence.annual_turnover_gbp == D("1")
    assert not evidence.modern_slavery_statement
    assert not evidence.carbon_reduction_plan
    with pytest.raises(ValidationError):
        evidence.name = "Other Ltd"  # type: ignore[misc]


@pytest.mark.parametrize("ground", ["", "   "])
def test_debarment_entry_rejects_empty_ground(ground: str) -> None:
    with pytest.raises(ValidationError):
        DebarmentEntry(ground=ground, mandatory=True)


@pytest.mark.parametrize(
    "data",
    [
        {"check": "credit_score", "passed": True, "reason": "x"},
        {"check": "insurance", "passed": True, "reason": ""},
        {"check": "debarment", "passed": True, "flagged": True, "reason": "x"},
    ],
)
def test_check_result_rejects(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CheckResult.model_validate(data)
