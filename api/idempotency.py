"""`Idempotency-Key`: a repeat with the same key and body returns the first answer, no second effect."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.problems import Problem
from db.idempotency import claim_key, complete_key, find_answer, release_key

Produce = Callable[[], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 200
RETRY_SOON = {"Retry-After": "1"}


def _response(status: int, body: Any, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


async def idempotent(request: Request, pool: Any, principal: Principal, produce: Produce) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        status, body = await produce()
        return _response(status, jsonable_encoder(body))
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    raw = await request.body()
    digest = hashlib.sha256(b"\n".join([request.method.encode(), request.url.path.encode(), raw])).hexdigest()
    who = {"principal": principal.key_id, "key": key}
    async with pool.acquire() as conn:
        claimed = await claim_key(
            conn, **who, method=request.method, path=request.url.path, request_hash=digest
        )
        stored = None if claimed else await find_answer(conn, **who)
    if stored is not None:
        return _replay(stored, digest)
    if not claimed:  # the claim vanished between the two statements: its owner failed; retry
        raise Problem(409, "a request with this Idempotency-Key just failed; retry", headers=RETRY_SOON)
    try:
        status, body = await produce()
    except BaseException:
        async with pool.acquire() as conn:
            await release_key(conn, **who)
        raise
    encoded = jsonable_encoder(body)
    async with pool.acquire() as conn:
        await complete_key(conn, **who, status_code=status, response=encoded)
    return _response(status, encoded)


def _replay(stored: Any, digest: str) -> Response:
    if stored["request_hash"] != digest:
        raise Problem(
            422,
            "this Idempotency-Key was already used for a different request",
            slug="idempotency-key-reused",
        )
    if stored["status_code"] == 0:
        raise Problem(
            409, "a request with this Idempotency-Key is still in progress; retry", headers=RETRY_SOON
        )
    return _response(stored["status_code"], stored["response"], replayed=True)
