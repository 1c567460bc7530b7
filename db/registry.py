"""The company register, the debarment list and supplier evidence (default providers' data)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

UPSERT_COMPANY = """
INSERT INTO companies (company_number, name, status) VALUES ($1, $2, $3)
ON CONFLICT (company_number) DO UPDATE
SET name = excluded.name, status = excluded.status, updated_at = now()
RETURNING company_number, name, status, updated_at
"""
SELECT_COMPANY = "SELECT company_number, name, status, updated_at FROM companies WHERE company_number = $1"
UPSERT_DEBARMENT = """
INSERT INTO debarments (company_number, ground, mandatory) VALUES ($1, $2, $3)
ON CONFLICT (company_number) DO UPDATE
SET ground = excluded.ground, mandatory = excluded.mandatory, added_at = now()
RETURNING company_number, ground, mandatory, added_at
"""
DELETE_DEBARMENT = "DELETE FROM debarments WHERE company_number = $1 RETURNING company_number"
SELECT_DEBARMENT = (
    "SELECT company_number, ground, mandatory, added_at FROM debarments WHERE company_number = $1"
)
UPSERT_PROFILE = """
INSERT INTO supplier_profiles (company_number, name, annual_turnover_gbp, employers_liability_gbp,
                               certifications, modern_slavery_statement, carbon_reduction_plan)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (company_number) DO UPDATE
SET name = excluded.name, annual_turnover_gbp = excluded.annual_turnover_gbp,
    employers_liability_gbp = excluded.employers_liability_gbp,
    certifications = excluded.certifications,
    modern_slavery_statement = excluded.modern_slavery_statement,
    carbon_reduction_plan = excluded.carbon_reduction_plan, updated_at = now()
RETURNING *
"""
SELECT_PROFILE = "SELECT * FROM supplier_profiles WHERE company_number = $1"


async def upsert_company(conn: Any, *, company_number: str, name: str, status: str) -> Any:
    return await conn.fetchrow(UPSERT_COMPANY, company_number, name, status)


async def find_company(conn: Any, *, company_number: str) -> Any:
    return await conn.fetchrow(SELECT_COMPANY, company_number)


async def upsert_debarment(conn: Any, *, company_number: str, ground: str, mandatory: bool) -> Any:
    return await conn.fetchrow(UPSERT_DEBARMENT, company_number, ground, mandatory)


async def delete_debarment(conn: Any, *, company_number: str) -> bool:
    return await conn.fetchval(DELETE_DEBARMENT, company_number) is not None


async def find_debarment(conn: Any, *, company_number: str) -> Any:
    return await conn.fetchrow(SELECT_DEBARMENT, company_number)


async def upsert_profile(
    conn: Any,
    *,
    company_number: str,
    name: str,
    annual_turnover_gbp: Decimal,
    employers_liability_gbp: Decimal,
    certifications: Sequence[str],
    modern_slavery_statement: bool,
    carbon_reduction_plan: bool,
) -> Any:
    return await conn.fetchrow(
        UPSERT_PROFILE,
        company_number,
        name,
        annual_turnover_gbp,
        employers_liability_gbp,
        sorted(certifications),
        modern_slavery_statement,
        carbon_reduction_plan,
    )


async def find_profile(conn: Any, *, company_number: str) -> Any:
    return await conn.fetchrow(SELECT_PROFILE, company_number)
