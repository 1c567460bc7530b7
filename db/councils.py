"""The register of UK local authorities that may take part."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from procurement.councils import Council

UPSERT_COUNCIL = """
INSERT INTO councils (gss_code, local_authority_code, official_name, nice_name, nation, region,
                      authority_type, start_date, end_date, is_current, imported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
ON CONFLICT (gss_code) DO UPDATE SET
    local_authority_code = excluded.local_authority_code,
    official_name = excluded.official_name, nice_name = excluded.nice_name,
    nation = excluded.nation, region = excluded.region, authority_type = excluded.authority_type,
    start_date = excluded.start_date, end_date = excluded.end_date,
    is_current = excluded.is_current, imported_at = excluded.imported_at
RETURNING (xmax = 0) AS inserted
"""
SELECT_CURRENT_COUNCIL = """
SELECT gss_code, official_name, nice_name, nation FROM councils
WHERE gss_code = $1 AND is_current
"""
SELECT_COUNCILS = """
SELECT gss_code, local_authority_code, official_name, nice_name, nation, region, authority_type,
       is_current
FROM councils
WHERE ($1::text IS NULL OR nation = $1) AND ($2 OR is_current)
ORDER BY gss_code
"""
SELECT_NAMES = "SELECT gss_code, nice_name FROM councils WHERE gss_code = ANY($1::text[])"


async def upsert_councils(conn: Any, *, councils: Sequence[Council]) -> tuple[int, int]:
    """(inserted, updated)."""
    inserted = 0
    async with conn.transaction():
        for c in councils:
            was_new = await conn.fetchval(
                UPSERT_COUNCIL,
                c.gss_code,
                c.local_authority_code,
                c.official_name,
                c.nice_name,
                c.nation,
                c.region,
                c.authority_type,
                c.start_date,
                c.end_date,
                c.is_current,
            )
            inserted += int(bool(was_new))
    return inserted, len(councils) - inserted


async def find_current_council(conn: Any, *, gss_code: str) -> Any:
    return await conn.fetchrow(SELECT_CURRENT_COUNCIL, gss_code)


async def list_councils(conn: Any, *, nation: str | None, include_former: bool) -> list[Any]:
    return list(await conn.fetch(SELECT_COUNCILS, nation, include_former))


async def council_names(conn: Any, *, gss_codes: Sequence[str]) -> dict[str, str]:
    return {r["gss_code"]: r["nice_name"] for r in await conn.fetch(SELECT_NAMES, list(gss_codes))}
