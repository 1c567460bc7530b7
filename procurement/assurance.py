"""Rules of the supplier assurance stage: one pure function per check, and their combination.

Every check returns a `CheckResult` whose reason a supplier can read as it stands ("employer's
liability cover of £4,999,999.99 is below the £5,000,000 required"). Evidence is gathered by the
activities (PostgreSQL, Companies House, the debarment list); nothing here does I/O or reads a
clock. Money is GBP as `Decimal`; thresholds are compared exactly, never rounded first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
CheckName = Literal[
    "company_status",
    "debarment",
    "financial_standing",
    "insurance",
    "certifications",
    "modern_slavery",
    "carbon_reduction_plan",
]
Outcome = Literal["qualified", "excluded", "flagged"]

MIN_EMPLOYERS_LIABILITY = Decimal("5000000")
DEFAULT_TURNOVER_RATIO = Decimal("2.0")
MODERN_SLAVERY_TURNOVER = Decimal("36000000")  # statement required at or above (MSA 2015 s.54)
CARBON_PLAN_CONTRACT_VALUE = Decimal("5000000")  # plan required strictly above (PPN 006), incl. VAT

CERTIFICATION_LABELS = {
    "cyber_essentials": "Cyber Essentials",
    "cyber_essentials_plus": "Cyber Essentials Plus",
    "iso_27001": "ISO 27001",
    "iso_9001": "ISO 9001",
    "iso_14001": "ISO 14001",
}
KNOWN_CERTIFICATIONS = frozenset(CERTIFICATION_LABELS)
# A held certification also counts as each of these (Plus is Cyber Essentials and more).
_IMPLIES = {"cyber_essentials_plus": frozenset({"cyber_essentials"})}

_STATUS_WORDS = {
    "liquidation": "in liquidation",
    "administration": "in administration",
    "receivership": "in receivership",
    "dissolved": "dissolved",
    "active-proposal-to-strike-off": "subject to a proposal to strike it off the register",
    "voluntary-arrangement": "in a company voluntary arrangement",
    "insolvency-proceedings": "subject to insolvency proceedings",
    "converted-closed": "converted or closed",
    "closed": "closed",
    "removed": "removed from the register",
}


def format_gbp(amount: Decimal) -> str:
    """`£5,000,000` for whole pounds, `£4,999,999.99` otherwise (pence rounded half up)."""
    pence = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if pence == pence.to_integral_value():
        return f"£{pence:,.0f}"
    return f"£{pence:,.2f}"


def unknown_certifications(names: Iterable[str]) -> list[str]:
    """The names that are not in `KNOWN_CERTIFICATIONS`, sorted; empty when all are known."""
    return sorted(set(names) - KNOWN_CERTIFICATIONS)


def _known(names: frozenset[str]) -> frozenset[str]:
    unknown = unknown_certifications(names)
    if unknown:
        raise ValueError(f"unknown certifications {unknown}; known are {sorted(KNOWN_CERTIFICATIONS)}")
    return names


Certifications = Annotated[frozenset[str], AfterValidator(_known)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CheckResult(_Frozen):
    """One check's verdict. `flagged` means "not passed yet": the lead must decide."""

    check: CheckName
    passed: bool
    reason: str = Field(min_length=1)
    flagged: bool = False

    @model_validator(mode="after")
    def _flag_is_undecided(self) -> CheckResult:
        if self.flagged and self.passed:
            raise ValueError("a flagged check cannot also have passed")
        return self


class DebarmentEntry(_Frozen):
    ground: str = Field(min_length=1, max_length=500)
    mandatory: bool


class SupplierEvidence(_Frozen):
    name: str = Field(min_length=1, max_length=300)
    annual_turnover_gbp: Money
    employers_liability_gbp: Money
    certifications: Certifications = frozenset()
    modern_slavery_statement: bool = False
    carbon_reduction_plan: bool = False


def check_company_status(status: str | None) -> CheckResult:
    """Only Companies House `active` passes; `None` means the company is not on the register."""
    if status is None:
        return CheckResult(check="company_status", passed=False, reason="company not found on the register")
    if status == "active":
        return CheckResult(check="company_status", passed=True, reason="company is active")
    words = _STATUS_WORDS.get(status, "not active")
    return CheckResult(
        check="company_status",
        passed=False,
        reason=f"company status is '{status}' ({words}); only active companies can qualify",
    )


def check_debarment(entry: DebarmentEntry | None) -> CheckResult:
    """Mandatory ground excludes; a discretionary one is flagged for the lead's decision."""
    if entry is None:
        return CheckResult(check="debarment", passed=True, reason="not on the debarment list")
    if entry.mandatory:
        reason = f"on the debarment list on a mandatory exclusion ground: {entry.ground}"
        return CheckResult(check="debarment", passed=False, reason=reason)
    reason = f"on the debarment list on a discretionary exclusion ground: {entry.ground}"
    return CheckResult(check="debarment", passed=False, flagged=True, reason=reason)


def check_financial_standing(
    annual_turnover: Decimal,
    annual_contract_value: Decimal,
    turnover_ratio: Decimal = DEFAULT_TURNOVER_RATIO,
) -> CheckResult:
    required = turnover_ratio * annual_contract_value
    acv = format_gbp(annual_contract_value)
    basis = f"{turnover_ratio} times the annual contract value of {acv}"
    if annual_turnover >= required:
        reason = f"annual turnover of {format_gbp(annual_turnover)} meets {basis}"
        return CheckResult(check="financial_standing", passed=True, reason=reason)
    reason = (
        f"annual turnover of {format_gbp(annual_turnover)} is below the "
        f"{format_gbp(required)} required ({basis})"
    )
    return CheckResult(check="financial_standing", passed=False, reason=reason)


def check_insurance(employers_liability: Decimal, required: Decimal | None = None) -> CheckResult:
    """Employer's liability must be at least £5m, or the buy's higher figure."""
    floor = max(MIN_EMPLOYERS_LIABILITY, required or MIN_EMPLOYERS_LIABILITY)
    cover = f"employer's liability cover of {format_gbp(employers_liability)}"
    if employers_liability >= floor:
        reason = f"{cover} meets the {format_gbp(floor)} required"
        return CheckResult(check="insurance", passed=True, reason=reason)
    reason = f"{cover} is below the {format_gbp(floor)} required"
    return CheckResult(check="insurance", passed=False, reason=reason)


def check_certifications(held: Iterable[str], required: Iterable[str]) -> CheckResult:
    """Every required certification must be held; Cyber Essentials Plus counts as plain CE."""
    held_set, required_set = _known(frozenset(held)), _known(frozenset(required))
    effective = held_set.union(*(_IMPLIES.get(name, frozenset()) for name in held_set))
    missing = [CERTIFICATION_LABELS[n] for n in sorted(required_set - effective)]
    if missing:
        reason = f"missing required certification(s): {', '.join(missing)}"
        return CheckResult(check="certifications", passed=False, reason=reason)
    if not required_set:
        return CheckResult(check="certifications", passed=True, reason="no certifications required")
    names = ", ".join(CERTIFICATION_LABELS[n] for n in sorted(required_set))
    return CheckResult(check="certifications", passed=True, reason=f"holds {names}")


def check_modern_slavery(turnover: Decimal, has_statement: bool) -> CheckResult:
    """A modern slavery statement is required at a turnover of £36m or more."""
    threshold = format_gbp(MODERN_SLAVERY_TURNOVER)
    if turnover < MODERN_SLAVERY_TURNOVER:
        reason = f"not required: annual turnover of {format_gbp(turnover)} is below {threshold}"
        return CheckResult(check="modern_slavery", passed=True, reason=reason)
    if has_statement:
        return CheckResult(check="modern_slavery", passed=True, reason="statement provided")
    reason = (
        f"a modern slavery statement is required at an annual turnover of {threshold} or more "
        f"(yours is {format_gbp(turnover)}) and none was provided"
    )
    return CheckResult(check="modern_slavery", passed=False, reason=reason)


def check_carbon_reduction_plan(annual_contract_value: Decimal, has_plan: bool) -> CheckResult:
    """A carbon reduction plan is required when the annual contract value is over £5m."""
    threshold = format_gbp(CARBON_PLAN_CONTRACT_VALUE)
    acv = format_gbp(annual_contract_value)
    if annual_contract_value <= CARBON_PLAN_CONTRACT_VALUE:
        reason = f"not required: annual contract value of {acv} is not over {threshold}"
        return CheckResult(check="carbon_reduction_plan", passed=True, reason=reason)
    if has_plan:
        return CheckResult(check="carbon_reduction_plan", passed=True, reason="plan provided")
    reason = (
        f"a carbon reduction plan is required when the annual contract value is over {threshold} "
        f"(this one is {acv}) and none was provided"
    )
    return CheckResult(check="carbon_reduction_plan", passed=False, reason=reason)


def annual_contract_value(
    committed_quantity_by_lot: Mapping[str, int],
    unit_price_signal_by_lot: Mapping[str, Decimal],
    contract_years: int,
) -> Decimal:
    """Estimated annual contract value: sum of committed quantity * unit price signal / years.

    The caller chooses the signal; the engine passes, per lot, the lowest baseline unit price that
    councils reported (the best indicative price available before any bid). Bids usually come in
    below today's prices, so the estimate errs high-ish, which is the conservative side for the
    thresholds it feeds (financial standing, carbon reduction plan). Rounded up to the penny.
    """
    if contract_years < 1:
        raise ValueError(f"contract_years must be at least 1, not {contract_years}")
    total = Decimal(0)
    for lot, quantity in committed_quantity_by_lot.items():
        if quantity < 0:
            raise ValueError(f"committed quantity for lot {lot!r} is negative")
        if lot not in unit_price_signal_by_lot:
            raise ValueError(f"no unit price signal for lot {lot!r}")
        price = unit_price_signal_by_lot[lot]
        if price < 0:
            raise ValueError(f"unit price signal for lot {lot!r} is negative")
        total += quantity * price
    return (total / contract_years).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def outcome_of(checks: Iterable[CheckResult]) -> Outcome:
    """Any final failure excludes; otherwise any flag awaits the lead; otherwise qualified."""
    results = list(checks)
    if any(not c.passed and not c.flagged for c in results):
        return "excluded"
    return "flagged" if any(c.flagged for c in results) else "qualified"
