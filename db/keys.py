"""API keys: stored as hashes, looked up by hash, revoked by time stamp."""

from __future__ import annotations

from typing import Any

INSERT_KEY = """
INSERT INTO api_keys (key_id, token_hash, role, organisation_id, name)
VALUES ($1, $2, $3, $4, $5)
RETURNING key_id, role, organisation_id, name, created_at
"""
SELECT_ACTIVE_BY_HASH = """
SELECT key_id, role, organisation_id, name
FROM api_keys
WHERE token_hash = $1 AND revoked_at IS NULL
"""
REVOKE_KEY = """
UPDATE api_keys SET revoked_at = now()
WHERE key_id = $1 AND revoked_at IS NULL
RETURNING key_id
"""
SELECT_KEY = "SELECT key_id, revoked_at FROM api_keys WHERE key_id = $1"
SELECT_KEYS = """
SELECT key_id, role, organisation_id, name, created_at, revoked_at
FROM api_keys
WHERE ($1::boolean OR revoked_at IS NULL)
ORDER BY created_at, key_id
"""


async def insert_key(
    conn: Any, *, key_id: str, token_hash: str, role: str, organisation_id: str, name: str
) -> Any:
    return await conn.fetchrow(INSERT_KEY, key_id, token_hash, role, organisation_id, name)


async def find_active_key(conn: Any, *, token_hash: str) -> Any:
    return await conn.fetchrow(SELECT_ACTIVE_BY_HASH, token_hash)


async def revoke_key(conn: Any, *, key_id: str) -> bool:
    """True if the key existed (revoking twice is not an error)."""
    if await conn.fetchval(REVOKE_KEY, key_id):
        return True
    return await conn.fetchrow(SELECT_KEY, key_id) is not None


async def list_keys(conn: Any, *, include_revoked: bool = False) -> list[Any]:
    """Every key (never a token: only hashes are stored), oldest first."""
    return list(await conn.fetch(SELECT_KEYS, include_revoked))
