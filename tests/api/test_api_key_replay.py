"""An issued token is a secret: PostgreSQL keeps only its hash, and the stored answer that an
`Idempotency-Key` replays never holds it. A repeat of the create is told which key it issued and
that the token cannot be shown again (revoke it and issue another if it was lost); it issues no
second key."""

from __future__ import annotations

from typing import Any

from api.auth import TOKEN_PREFIX
from db.migrate import available_migrations
from tests.api.conftest import Api
from tests.api.hostile import assert_problem

BODY = {"role": "lead", "organisation_id": "LEAD-REPLAY", "name": "Replay buyers"}


async def test_the_stored_answer_of_a_key_create_holds_no_token(api: Api, pool: Any) -> None:
    headers = api.admin | {"Idempotency-Key": "issue-replay-buyers"}
    first = await api.http.post("/v1/api-keys", json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    token, key_id = first.json()["token"], first.json()["key_id"]

    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT i::text AS row FROM idempotency_keys i WHERE key = 'issue-replay-buyers'"
        )
        issued = await conn.fetchval("SELECT count(*) FROM api_keys WHERE name = $1", BODY["name"])
    assert len(rows) == 1 and key_id in rows[0]["row"], rows
    assert token not in rows[0]["row"], "the token is stored in plain text"
    assert token.removeprefix(TOKEN_PREFIX) not in rows[0]["row"]

    again = await api.http.post("/v1/api-keys", json=BODY, headers=headers)
    problem = assert_problem(again, 409, "cannot be shown again")
    assert problem["key_id"] == key_id and problem["type"].endswith("/token-already-issued"), problem
    assert token not in again.text
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM api_keys WHERE name = $1", BODY["name"]) == issued == 1
        )
    # The token the first answer showed still works.
    assert (
        await api.http.get("/v1/joint-buys", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


async def test_answers_stored_before_keep_no_token_once_migrated(api: Api, pool: Any) -> None:
    """A create answered before this release stored its token: migration 007 removes it, and a
    repeat of that create is then told the token cannot be shown again."""
    [(_, _, scrub)] = [m for m in available_migrations() if m[0] == 7]
    token = "jb_" + "t" * 43
    headers = api.admin | {"Idempotency-Key": "issued-before-007"}
    body = {"role": "lead", "organisation_id": "LEAD-OLD", "name": "Issued before"}
    answer = {"key_id": "key_00000000000000aa", "token": token, "role": "lead", "name": "Issued before"}
    first = await api.http.post("/v1/api-keys", json=body, headers=headers)  # the claim and its hash
    assert first.status_code == 201, first.text
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET response = $1 WHERE key = 'issued-before-007'", answer
        )
        other = {"id": "jb-kept", "token": "not an API key's"}  # another route's answer is left as it is
        await conn.execute(
            "INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status_code, response)"
            " VALUES ('p', 'other-007', 'POST', '/v1/joint-buys', 'h', 201, $1)",
            other,
        )
        await conn.execute(scrub)
        rows = await conn.fetch("SELECT key, response FROM idempotency_keys WHERE key LIKE '%007'")
    stored = {r["key"]: r["response"] for r in rows}
    assert stored["issued-before-007"] == {k: v for k, v in answer.items() if k != "token"}
    assert stored["other-007"] == other
    again = await api.http.post("/v1/api-keys", json=body, headers=headers)
    assert assert_problem(again, 409, "cannot be shown again")["key_id"] == answer["key_id"]
