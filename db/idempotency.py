"""Stored answers to requests that carried an Idempotency-Key."""

from __future__ import annotations

from typing import Any

SELECT_ANSWER = """
SELECT method, path, request_hash, status_code, response
FROM idempotency_keys WHERE principal = $1 AND key = $2
"""
INSERT_ANSWER = """
INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status_code, response)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (principal, key) DO NOTHING
"""


async def find_answer(conn: Any, *, principal: str, key: str) -> Any:
    return await conn.fetchrow(SELECT_ANSWER, principal, key)


async def store_answer(
    conn: Any,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    status_code: int,
    response: Any,
) -> None:
    await conn.execute(INSERT_ANSWER, principal, key, method, path, request_hash, status_code, response)
