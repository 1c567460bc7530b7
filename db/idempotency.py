"""Answers to requests that carried an Idempotency-Key, reserved before the command runs.

A key is first claimed with status 0 (in flight), then completed with the answer. A claim whose
owner died (never completed within `STALE_AFTER`) may be taken over, so a key never stays stuck.
"""

from __future__ import annotations

from typing import Any

STALE_AFTER = "5 minutes"

CLAIM_KEY = f"""
INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status_code, response)
VALUES ($1, $2, $3, $4, $5, 0, NULL)
ON CONFLICT (principal, key) DO UPDATE
SET method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
    created_at = now()
WHERE idempotency_keys.status_code = 0 AND idempotency_keys.created_at < now() - interval '{STALE_AFTER}'
RETURNING key
"""
SELECT_ANSWER = """
SELECT method, path, request_hash, status_code, response
FROM idempotency_keys WHERE principal = $1 AND key = $2
"""
COMPLETE_KEY = """
UPDATE idempotency_keys SET status_code = $3, response = $4
WHERE principal = $1 AND key = $2
"""
RELEASE_KEY = "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status_code = 0"


async def claim_key(
    conn: Any, *, principal: str, key: str, method: str, path: str, request_hash: str
) -> bool:
    """True if this request now owns the key (first use, or taking over an abandoned claim)."""
    return await conn.fetchval(CLAIM_KEY, principal, key, method, path, request_hash) is not None


async def find_answer(conn: Any, *, principal: str, key: str) -> Any:
    return await conn.fetchrow(SELECT_ANSWER, principal, key)


async def complete_key(conn: Any, *, principal: str, key: str, status_code: int, response: Any) -> None:
    await conn.execute(COMPLETE_KEY, principal, key, status_code, response)


async def release_key(conn: Any, *, principal: str, key: str) -> None:
    """The command failed without an answer to keep: the key may be used again."""
    await conn.execute(RELEASE_KEY, principal, key)
