"""Suppliers: the evidence each keeps on file for assurance (its profile)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import Principal, Role
from api.deps import Caller, Pool
from api.idempotency import idempotent_in_db
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import CompanyNumber
from db.registry import find_profile, upsert_profile
from procurement.assurance import KNOWN_CERTIFICATIONS, Money, unknown_certifications

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])


def _profile_access(*others: Role) -> Any:
    """The supplier whose company number is in the path, or a caller in one of `others`."""

    async def check(company_number: CompanyNumber, caller: Caller) -> Principal:
        if caller.role in others:
            return caller
        if caller.role == Role.SUPPLIER and caller.organisation_id == company_number:
            return caller
        if caller.role == Role.SUPPLIER:
            raise Problem(
                403,
                f"a supplier may only use its own profile: your token is for {caller.organisation_id}, "
                f"not {company_number}",
            )
        allowed = ", ".join(["supplier (its own)", *(r.value for r in others)])
        raise Problem(403, f"this needs the role {allowed}; your token is {caller.role.value}")

    return check


ProfileWriter = Annotated[Principal, Depends(_profile_access(Role.ADMIN))]
ProfileReader = Annotated[Principal, Depends(_profile_access(Role.ADMIN, Role.LEAD, Role.OPERATOR))]


class SupplierProfile(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme Laptops Ltd",
                    "annual_turnover_gbp": "42000000",
                    "employers_liability_gbp": "10000000",
                    "certifications": ["cyber_essentials_plus", "iso_27001"],
                    "modern_slavery_statement": True,
                    "carbon_reduction_plan": True,
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=300)
    annual_turnover_gbp: Money = Field(description="GBP as a decimal string, at least 0")
    employers_liability_gbp: Money = Field(description="employer's liability cover, GBP as a decimal string")
    certifications: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=len(KNOWN_CERTIFICATIONS) * 2,
        description="from: " + ", ".join(sorted(KNOWN_CERTIFICATIONS)),
    )
    # Strict: `true`/`false`, never "yes" or 1 quietly read as one.
    modern_slavery_statement: bool = Field(default=False, strict=True)
    carbon_reduction_plan: bool = Field(default=False, strict=True)

    @field_validator("certifications")
    @classmethod
    def _known_certifications(cls, names: list[str]) -> list[str]:
        unknown = unknown_certifications(names)
        if unknown:
            raise ValueError(
                f"unknown certification(s): {', '.join(unknown)}; "
                f"known are: {', '.join(sorted(KNOWN_CERTIFICATIONS))}"
            )
        return sorted(set(names))


class SupplierProfileOut(BaseModel):
    company_number: str
    name: str
    annual_turnover_gbp: Decimal
    employers_liability_gbp: Decimal
    certifications: list[str]
    modern_slavery_statement: bool
    carbon_reduction_plan: bool
    updated_at: datetime


def _out(row: Any) -> SupplierProfileOut:
    return SupplierProfileOut(**{name: row[name] for name in SupplierProfileOut.model_fields})


@router.put(
    "/{company_number}/profile", response_model=SupplierProfileOut, responses=problems(ROLE, BODY, COMMAND)
)
async def put_profile(
    company_number: CompanyNumber, body: SupplierProfile, request: Request, pool: Pool, caller: ProfileWriter
) -> Response:
    """Record or replace a supplier's assurance evidence (the supplier itself, or the admin)."""

    async def apply(conn: Any) -> tuple[int, Any]:
        row = await upsert_profile(
            conn,
            company_number=company_number,
            name=body.name,
            annual_turnover_gbp=body.annual_turnover_gbp,
            employers_liability_gbp=body.employers_liability_gbp,
            certifications=body.certifications,
            modern_slavery_statement=body.modern_slavery_statement,
            carbon_reduction_plan=body.carbon_reduction_plan,
        )
        return 200, _out(row)

    return await idempotent_in_db(request, pool, caller, apply)


@router.get("/{company_number}/profile", response_model=SupplierProfileOut, responses=problems(ROLE, BUY))
async def get_profile(company_number: CompanyNumber, pool: Pool, caller: ProfileReader) -> SupplierProfileOut:
    """A supplier's assurance evidence on file."""
    async with pool.acquire() as conn:
        row = await find_profile(conn, company_number=company_number)
    if row is None:
        raise Problem(404, f"no profile on file for company {company_number}")
    return _out(row)
