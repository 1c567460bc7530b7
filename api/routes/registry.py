"""Stand-ins for Companies House and the central debarment list, kept by the admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import AdminCaller, Pool, require
from api.idempotency import idempotent_in_db
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import CompanyNumber
from db.registry import delete_debarment, find_company, find_debarment, upsert_company, upsert_debarment

router = APIRouter(prefix="/v1/registry", tags=["registries"])

# Companies House spells statuses as lowercase words joined by hyphens.
COMPANY_STATUS = r"^[a-z]+(?:-[a-z]+)*$"
RegistryReader = Annotated[Principal, Depends(require(Role.ADMIN, Role.LEAD, Role.OPERATOR))]


class CompanyRecord(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "Acme Laptops Ltd", "status": "active"}]},
    )
    name: str = Field(min_length=1, max_length=300, examples=["Acme Laptops Ltd"])
    status: str = Field(
        max_length=64,
        pattern=COMPANY_STATUS,
        description="as Companies House spells it: active, liquidation, active-proposal-to-strike-off, …",
        examples=["active", "liquidation", "active-proposal-to-strike-off"],
    )


class CompanyOut(BaseModel):
    company_number: str
    name: str
    status: str
    updated_at: datetime


class DebarmentRecord(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"ground": "convicted of fraud (Procurement Act 2023, Sch 6)", "mandatory": True}]
        },
    )
    ground: str = Field(min_length=1, max_length=500, description="why the company is on the list")
    mandatory: bool = Field(
        strict=True, description="true excludes outright; false is discretionary (the lead decides)"
    )


class DebarmentOut(BaseModel):
    company_number: str
    ground: str
    mandatory: bool
    added_at: datetime


@router.put("/companies/{company_number}", response_model=CompanyOut, responses=problems(ROLE, BODY, COMMAND))
async def put_company(
    company_number: CompanyNumber, body: CompanyRecord, request: Request, pool: Pool, caller: AdminCaller
) -> Response:
    """Record a company's name and status as Companies House has them."""

    async def apply(conn: Any) -> tuple[int, Any]:
        row = await upsert_company(conn, company_number=company_number, name=body.name, status=body.status)
        return 200, CompanyOut(**dict(row))

    return await idempotent_in_db(request, pool, caller, apply)


@router.get("/companies/{company_number}", response_model=CompanyOut, responses=problems(ROLE, BUY))
async def get_company(company_number: CompanyNumber, pool: Pool, caller: RegistryReader) -> CompanyOut:
    """A company's name and status on the register."""
    async with pool.acquire() as conn:
        row = await find_company(conn, company_number=company_number)
    if row is None:
        raise Problem(404, f"company {company_number} is not on the register")
    return CompanyOut(**dict(row))


@router.put(
    "/debarments/{company_number}", response_model=DebarmentOut, responses=problems(ROLE, BODY, COMMAND)
)
async def put_debarment(
    company_number: CompanyNumber, body: DebarmentRecord, request: Request, pool: Pool, caller: AdminCaller
) -> Response:
    """Put a company on the debarment list, or replace its entry."""

    async def apply(conn: Any) -> tuple[int, Any]:
        row = await upsert_debarment(
            conn, company_number=company_number, ground=body.ground, mandatory=body.mandatory
        )
        return 200, DebarmentOut(**dict(row))

    return await idempotent_in_db(request, pool, caller, apply)


@router.delete(
    "/debarments/{company_number}",
    status_code=204,
    response_class=Response,
    responses=problems(ROLE, BUY, BODY, COMMAND),
)
async def remove_debarment(
    company_number: CompanyNumber, request: Request, pool: Pool, caller: AdminCaller
) -> Response:
    """Take a company off the debarment list."""

    async def apply(conn: Any) -> tuple[int, Any]:
        if not await delete_debarment(conn, company_number=company_number):
            raise Problem(404, f"company {company_number} is not on the debarment list")
        return 204, None

    return await idempotent_in_db(request, pool, caller, apply)


@router.get("/debarments/{company_number}", response_model=DebarmentOut, responses=problems(ROLE, BUY))
async def get_debarment(company_number: CompanyNumber, pool: Pool, caller: RegistryReader) -> DebarmentOut:
    """A company's entry on the debarment list."""
    async with pool.acquire() as conn:
        row = await find_debarment(conn, company_number=company_number)
    if row is None:
        raise Problem(404, f"company {company_number} is not on the debarment list")
    return DebarmentOut(**dict(row))
