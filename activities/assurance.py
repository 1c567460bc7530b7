"""Supplier assurance checks: one activity per kind of check, each asking its provider.

Providers are interfaces so a real registry (Companies House's API, the central debarment list)
can replace the default PostgreSQL-backed ones without touching workflow code: implement the
Protocol and pass the adapter to `AssuranceActivities` in `worker.py`. A provider that is down
raises; the activity fails and Temporal retries it with backoff. A provider that answers "no such
company" returns None, which is a failed check with a reason, not a retry.
"""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import activity

from db.registry import find_company, find_debarment, find_profile
from messages.joint_buy import (
    CHECK_CARBON_REDUCTION_PLAN,
    CHECK_CERTIFICATIONS,
    CHECK_COMPANY_STATUS,
    CHECK_DEBARMENT,
    CHECK_FINANCIAL_STANDING,
    CHECK_INSURANCE,
    CHECK_MODERN_SLAVERY,
    CheckSupplier,
)
from procurement import assurance as assurance_rules
from procurement.assurance import CheckName, CheckResult, DebarmentEntry, SupplierEvidence


class CompanyRegister(Protocol):
    async def company_status(self, company_number: str) -> str | None:
        """The Companies House status (`active`, `liquidation`, …), or None if no such company."""


class DebarmentList(Protocol):
    async def entry(self, company_number: str) -> DebarmentEntry | None:
        """The supplier's entry on the debarment list, or None."""


class EvidenceStore(Protocol):
    async def evidence(self, company_number: str) -> SupplierEvidence | None:
        """What the supplier submitted (turnover, insurance, certifications…), or None."""


class PostgresCompanyRegister:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def company_status(self, company_number: str) -> str | None:
        async with self._pool.acquire() as conn:
            row = await find_company(conn, company_number=company_number)
        return None if row is None else str(row["status"])


class PostgresDebarmentList:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def entry(self, company_number: str) -> DebarmentEntry | None:
        async with self._pool.acquire() as conn:
            row = await find_debarment(conn, company_number=company_number)
        return None if row is None else DebarmentEntry(ground=row["ground"], mandatory=row["mandatory"])


class PostgresEvidenceStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def evidence(self, company_number: str) -> SupplierEvidence | None:
        async with self._pool.acquire() as conn:
            row = await find_profile(conn, company_number=company_number)
        if row is None:
            return None
        return SupplierEvidence(
            name=row["name"],
            annual_turnover_gbp=row["annual_turnover_gbp"],
            employers_liability_gbp=row["employers_liability_gbp"],
            certifications=frozenset(row["certifications"]),
            modern_slavery_statement=row["modern_slavery_statement"],
            carbon_reduction_plan=row["carbon_reduction_plan"],
        )


NO_EVIDENCE = "no assurance evidence on file: submit a supplier profile"


def _no_evidence(check: CheckName) -> CheckResult:
    """A check that needs the supplier's evidence fails, with that reason, when none is on file."""
    return CheckResult(check=check, passed=False, reason=NO_EVIDENCE)


class AssuranceActivities:
    def __init__(self, register: CompanyRegister, debarments: DebarmentList, evidence: EvidenceStore) -> None:
        self._register = register
        self._debarments = debarments
        self._evidence = evidence

    @classmethod
    def from_pool(cls, pool: Any) -> AssuranceActivities:
        return cls(PostgresCompanyRegister(pool), PostgresDebarmentList(pool), PostgresEvidenceStore(pool))

    def all(self) -> list[Any]:
        return [
            self.check_company_status,
            self.check_debarment,
            self.check_financial_standing,
            self.check_insurance,
            self.check_certifications,
            self.check_modern_slavery,
            self.check_carbon_reduction_plan,
        ]

    @activity.defn(name=CHECK_COMPANY_STATUS)
    async def check_company_status(self, inp: CheckSupplier) -> CheckResult:
        return assurance_rules.check_company_status(await self._register.company_status(inp.company_number))

    @activity.defn(name=CHECK_DEBARMENT)
    async def check_debarment(self, inp: CheckSupplier) -> CheckResult:
        return assurance_rules.check_debarment(await self._debarments.entry(inp.company_number))

    @activity.defn(name=CHECK_FINANCIAL_STANDING)
    async def check_financial_standing(self, inp: CheckSupplier) -> CheckResult:
        ev = await self._evidence.evidence(inp.company_number)
        if ev is None:
            return _no_evidence("financial_standing")
        return assurance_rules.check_financial_standing(
            ev.annual_turnover_gbp, inp.annual_contract_value, inp.requirements.turnover_ratio
        )

    @activity.defn(name=CHECK_INSURANCE)
    async def check_insurance(self, inp: CheckSupplier) -> CheckResult:
        ev = await self._evidence.evidence(inp.company_number)
        if ev is None:
            return _no_evidence("insurance")
        return assurance_rules.check_insurance(
            ev.employers_liability_gbp, inp.requirements.min_employers_liability_gbp
        )

    @activity.defn(name=CHECK_CERTIFICATIONS)
    async def check_certifications(self, inp: CheckSupplier) -> CheckResult:
        ev = await self._evidence.evidence(inp.company_number)
        if ev is None:
            return _no_evidence("certifications")
        return assurance_rules.check_certifications(ev.certifications, inp.requirements.certifications)

    @activity.defn(name=CHECK_MODERN_SLAVERY)
    async def check_modern_slavery(self, inp: CheckSupplier) -> CheckResult:
        ev = await self._evidence.evidence(inp.company_number)
        if ev is None:
            return _no_evidence("modern_slavery")
        return assurance_rules.check_modern_slavery(ev.annual_turnover_gbp, ev.modern_slavery_statement)

    @activity.defn(name=CHECK_CARBON_REDUCTION_PLAN)
    async def check_carbon_reduction_plan(self, inp: CheckSupplier) -> CheckResult:
        ev = await self._evidence.evidence(inp.company_number)
        has_plan = ev is not None and ev.carbon_reduction_plan
        return assurance_rules.check_carbon_reduction_plan(inp.annual_contract_value, has_plan)
