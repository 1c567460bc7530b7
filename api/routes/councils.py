"""The register of councils that may take part."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from api.deps import AdminCaller, Caller, Pool
from api.problems import AUTH, BODY, ROLE, Problem, problems
from api.schemas import CouncilOut, ImportCounts
from db.councils import list_councils, upsert_councils
from procurement.councils import parse_local_authorities

router = APIRouter(prefix="/v1/councils", tags=["councils"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.post(
    "/import",
    response_model=ImportCounts,
    responses=problems(ROLE, BODY, (415,)),
    openapi_extra={
        "requestBody": {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The mySociety / ONS local-authority register as CSV",
        }
    },
)
async def import_councils(
    request: Request,
    pool: Pool,
    caller: AdminCaller,
    include_former: bool = Query(False, description="also import authorities that no longer exist"),
) -> ImportCounts:
    """Import (or refresh) councils from the local-authority register CSV."""
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, f"the register may be at most {MAX_IMPORT_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Problem(400, "the CSV must be UTF-8") from err
    councils = parse_local_authorities(text, include_former=include_former)
    async with pool.acquire() as conn:
        inserted, updated = await upsert_councils(conn, councils=councils)
    return ImportCounts(read=len(councils), inserted=inserted, updated=updated)


@router.get("", response_model=list[CouncilOut], responses=problems(AUTH))
async def get_councils(
    pool: Pool,
    caller: Caller,
    nation: str | None = Query(None, examples=["Wales"]),
    include_former: bool = False,
) -> list[dict[str, Any]]:
    """Councils known to the register (current ones unless asked otherwise)."""
    async with pool.acquire() as conn:
        rows = await list_councils(conn, nation=nation, include_former=include_former)
    return [dict(r) for r in rows]
