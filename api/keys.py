"""Issuing API keys, shared by the HTTP API and the `jointbuy keys` command."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from api.auth import Role, hash_token, new_key_id, new_token
from db.councils import find_current_council
from db.keys import insert_key
from procurement.councils import GSS_CODE
from procurement.errors import invalid
from procurement.suppliers import COMPANY_NUMBER


class IssuedKey(NamedTuple):
    row: Any  # key_id, role, organisation_id, name, created_at
    token: str  # shown once; only its hash is stored


async def check_organisation(conn: Any, role: Role, organisation_id: str) -> None:
    """A council key names a current council by GSS code; a supplier key a company number."""
    if role == Role.COUNCIL:
        if not GSS_CODE.match(organisation_id):
            raise invalid("a council key needs a GSS code such as E06000001", field="organisation_id")
        if await find_current_council(conn, gss_code=organisation_id) is None:
            raise invalid(
                f"{organisation_id} is not a current council: import the register first "
                "(POST /v1/councils/import or `jointbuy councils import`)",
                field="organisation_id",
            )
    if role == Role.SUPPLIER and not re.fullmatch(COMPANY_NUMBER, organisation_id):
        raise invalid(
            "a supplier key needs a Companies House number such as 01234567 or SC123456",
            field="organisation_id",
        )


async def issue_key(conn: Any, *, role: Role, organisation_id: str, name: str) -> IssuedKey:
    await check_organisation(conn, role, organisation_id)
    token = new_token()
    row = await insert_key(
        conn,
        key_id=new_key_id(),
        token_hash=hash_token(token),
        role=role.value,
        organisation_id=organisation_id,
        name=name,
    )
    return IssuedKey(row, token)
