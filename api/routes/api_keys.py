"""API keys: the admin issues and revokes tokens for leads, councils, suppliers and operators."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from api.auth import Role, hash_token, new_key_id, new_token
from api.deps import AdminCaller, Pool
from api.idempotency import idempotent
from api.problems import Problem
from api.schemas import ApiKeyCreate, ApiKeyCreated
from db.councils import find_current_council
from db.keys import insert_key, revoke_key
from procurement.councils import GSS_CODE

router = APIRouter(prefix="/v1/api-keys", tags=["identity"])
COMPANY_NUMBER = r"^(?:[0-9]{8}|[A-Z]{2}[0-9]{6})$"


async def _check_organisation(conn: Any, body: ApiKeyCreate) -> None:
    if body.role == Role.COUNCIL:
        if not GSS_CODE.match(body.organisation_id):
            raise Problem(
                422,
                "a council key needs a GSS code such as E06000001",
                errors=[{"field": "organisation_id", "message": "not a GSS code"}],
            )
        if await find_current_council(conn, gss_code=body.organisation_id) is None:
            raise Problem(
                422,
                f"{body.organisation_id} is not a current council: import the register first "
                "(POST /v1/councils/import)",
                errors=[{"field": "organisation_id", "message": "unknown or former council"}],
            )
    if body.role == Role.SUPPLIER and not re.match(COMPANY_NUMBER, body.organisation_id):
        raise Problem(
            422,
            "a supplier key needs a Companies House number such as 01234567 or SC123456",
            errors=[{"field": "organisation_id", "message": "not a company number"}],
        )


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, request: Request, pool: Pool, caller: AdminCaller) -> Response:
    """Issue a token for one principal; the token is shown only in this answer."""

    async def produce() -> tuple[int, Any]:
        async with pool.acquire() as conn:
            await _check_organisation(conn, body)
            token = new_token()
            row = await insert_key(
                conn,
                key_id=new_key_id(),
                token_hash=hash_token(token),
                role=body.role.value,
                organisation_id=body.organisation_id,
                name=body.name,
            )
        return 201, ApiKeyCreated(
            key_id=row["key_id"],
            token=token,
            role=body.role,
            organisation_id=row["organisation_id"],
            name=row["name"],
        )

    return await idempotent(request, pool, caller, produce)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, pool: Pool, caller: AdminCaller) -> Response:
    """Revoke a token; it stops working at once."""
    async with pool.acquire() as conn:
        if not await revoke_key(conn, key_id=key_id):
            raise Problem(404, f"no API key {key_id}")
    return Response(status_code=204)
