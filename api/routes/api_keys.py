"""API keys: the admin issues and revokes tokens for leads, councils, suppliers and operators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import AdminCaller, Pool
from api.idempotency import ShownOnce, idempotent_in_db
from api.keys import issue_key
from api.problems import BODY, BUY, COMMAND, ROLE, Problem, problems
from api.schemas import ApiKeyCreate, ApiKeyCreated
from db.keys import revoke_key

router = APIRouter(prefix="/v1/api-keys", tags=["identity"])


def _token_not_kept(answer: Any) -> Problem:
    """A repeat of a create that issued a key: only the token's hash is kept, so the token cannot
    be shown again, however the first answer went."""
    key_id = answer.get("key_id") if isinstance(answer, dict) else None
    return Problem(
        409,
        f"this request already issued API key {key_id}; its token was shown in that answer only and "
        f"cannot be shown again. If it was lost, revoke the key (DELETE /v1/api-keys/{key_id}) and "
        "issue another.",
        slug="token-already-issued",
        extra={"key_id": key_id},
    )


# The token is in the first answer only: the stored answer an Idempotency-Key replays leaves it out.
_TOKEN = ShownOnce("token", _token_not_kept)


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=problems(ROLE, BODY, COMMAND))
async def create_api_key(body: ApiKeyCreate, request: Request, pool: Pool, caller: AdminCaller) -> Response:
    """Issue a token for one principal; the token is shown only in this answer. A repeat with the
    same `Idempotency-Key` issues nothing: it answers 409 `token-already-issued` with the key's id,
    since only the token's hash is kept (revoke the key and issue another if the token was lost)."""

    async def apply(conn: Any) -> tuple[int, Any]:
        issued = await issue_key(conn, role=body.role, organisation_id=body.organisation_id, name=body.name)
        return 201, ApiKeyCreated(
            key_id=issued.row["key_id"],
            token=issued.token,
            role=body.role,
            organisation_id=issued.row["organisation_id"],
            name=issued.row["name"],
        )

    return await idempotent_in_db(request, pool, caller, apply, shown_once=_TOKEN)


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=problems(ROLE, BUY))
async def revoke_api_key(key_id: str, pool: Pool, caller: AdminCaller) -> Response:
    """Revoke a token; it stops working at once."""
    async with pool.acquire() as conn:
        if not await revoke_key(conn, key_id=key_id):
            raise Problem(404, f"no API key {key_id}")
    return Response(status_code=204)
