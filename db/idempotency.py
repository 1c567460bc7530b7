"""Answers to requests that carried an Idempotency-Key, reserved before the command runs.

A key is first claimed with status 0 (in flight) by one attempt, its `owner`, under a lease the
owner renews while the command runs; it is then completed with the answer. A claim is never
released once its command may have taken effect: when the outcome is unknown (a timeout, a lost
connection, a crash) the claim stays, its lease ends, and the next repeat of the same request takes
it over and runs the command again under the same ids, which the workflow engine de-duplicates.
Only a definite refusal (nothing was applied) deletes the claim.
"""

from __future__ import annotations

from typing import Any

# How long a claim stays with its owner without a renewal; the owner renews every third of it.
LEASE_SECONDS = 15.0
# Claims made before leases existed count as abandoned this long after they were made.
LEGACY_STALE_AFTER = "5 minutes"

CLAIM_KEY = f"""
INSERT INTO idempotency_keys
    (principal, key, method, path, request_hash, status_code, response, owner, lease_until)
VALUES ($1, $2, $3, $4, $5, 0, NULL, $6, now() + make_interval(secs => $7))
ON CONFLICT (principal, key) DO UPDATE
SET owner = excluded.owner, lease_until = excluded.lease_until
WHERE idempotency_keys.status_code = 0
  AND idempotency_keys.request_hash = excluded.request_hash
  AND coalesce(idempotency_keys.lease_until,
               idempotency_keys.created_at + interval '{LEGACY_STALE_AFTER}') <= now()
RETURNING key
"""
SELECT_ANSWER = """
SELECT method, path, request_hash, status_code, response
FROM idempotency_keys WHERE principal = $1 AND key = $2
"""
RENEW_LEASE = """
UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => $4)
WHERE principal = $1 AND key = $2 AND owner = $3 AND status_code = 0
"""
COMPLETE_KEY = """
UPDATE idempotency_keys SET status_code = $3, response = $4
WHERE principal = $1 AND key = $2 AND status_code = 0
"""
LOCK_OWN_CLAIM = """
SELECT 1 FROM idempotency_keys
WHERE principal = $1 AND key = $2 AND owner = $3 AND status_code = 0
FOR UPDATE
"""
ABANDON_KEY = """
UPDATE idempotency_keys SET lease_until = now()
WHERE principal = $1 AND key = $2 AND owner = $3 AND status_code = 0
"""
RELEASE_KEY = """
DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND owner = $3 AND status_code = 0
"""


async def claim_key(
    conn: Any, *, principal: str, key: str, method: str, path: str, request_hash: str, owner: str
) -> bool:
    """True if `owner` now holds the key: first use, or a repeat of the same request taking over a
    claim whose lease ran out."""
    row = await conn.fetchval(CLAIM_KEY, principal, key, method, path, request_hash, owner, LEASE_SECONDS)
    return row is not None


async def find_answer(conn: Any, *, principal: str, key: str) -> Any:
    return await conn.fetchrow(SELECT_ANSWER, principal, key)


async def renew_lease(conn: Any, *, principal: str, key: str, owner: str) -> bool:
    """False once the claim is no longer this owner's (completed, or taken over)."""
    result: str = await conn.execute(RENEW_LEASE, principal, key, owner, LEASE_SECONDS)
    return result.endswith(" 1")


async def lock_own_claim(conn: Any, *, principal: str, key: str, owner: str) -> bool:
    """In a transaction: hold the claim row until commit; False if it is not ours any more."""
    return await conn.fetchval(LOCK_OWN_CLAIM, principal, key, owner) is not None


async def complete_key(conn: Any, *, principal: str, key: str, status_code: int, response: Any) -> None:
    """Store the answer; the first answer stored is the one every repeat gets."""
    await conn.execute(COMPLETE_KEY, principal, key, status_code, response)


async def abandon_key(conn: Any, *, principal: str, key: str, owner: str) -> None:
    """The outcome is unknown: keep the claim, end its lease so a repeat may take it over."""
    await conn.execute(ABANDON_KEY, principal, key, owner)


async def release_key(conn: Any, *, principal: str, key: str, owner: str) -> None:
    """The command was refused and changed nothing: the key may be used again."""
    await conn.execute(RELEASE_KEY, principal, key, owner)
