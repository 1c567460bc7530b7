"""Registers and keys for benchmarks with more organisations than the 397 principal councils.

`parish_register(n)` writes n parish and town councils (GSS `E04…`) in the mySociety register format
the import reads (the same columns as `jointbuy/data/uk_local_authorities.csv`; a parish has no
local-authority code of its own). The names are made up; the codes follow the ONS pattern.
Keys are issued through `api.keys.issue_key`, the operator path `jointbuy keys create` uses,
because 10,000 HTTP round trips would only time the key endpoint.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from api.auth import Role
from api.keys import issue_key
from bench._stack import Stack, check

COLUMNS = [
    "local-authority-code",
    "official-name",
    "nice-name",
    "gss-code",
    "start-date",
    "end-date",
    "nation",
    "region",
    "local-authority-type",
    "local-authority-type-name",
    "current-authority",
]


def parish_code(i: int) -> str:
    return f"E04{i + 1:06d}"


def parish_register(n: int) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in range(n):
        name = f"Benchfield {i + 1} Parish"
        writer.writerow(
            {
                "local-authority-code": "",
                "official-name": f"{name} Council",
                "nice-name": name,
                "gss-code": parish_code(i),
                "start-date": "",
                "end-date": "",
                "nation": "England",
                "region": "",
                "local-authority-type": "PAR",
                "local-authority-type-name": "Parish council",
                "current-authority": "True",
            }
        )
    return out.getvalue()


async def import_parishes(s: Stack, n: int) -> list[str]:
    body = parish_register(n).encode()
    got = check(
        await s.http.post(
            "/v1/councils/import", content=body, headers=s.admin | {"Content-Type": "text/csv"}
        ),
        200,
    )
    assert got["read"] == n, got
    return [parish_code(i) for i in range(n)]


async def council_keys(s: Stack, codes: list[str]) -> list[tuple[str, dict[str, str]]]:
    gate = asyncio.Semaphore(10)

    async def one(code: str) -> tuple[str, dict[str, str]]:
        async with gate, s.pool.acquire() as conn:
            issued: Any = await issue_key(conn, role=Role.COUNCIL, organisation_id=code, name="bench")
        return code, {"Authorization": f"Bearer {issued.token}"}

    return list(await asyncio.gather(*(one(c) for c in codes)))
