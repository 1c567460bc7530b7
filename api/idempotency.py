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
from db.idempotency import find_answer, store_answer

Produce = Callable[[], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 200


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
    async with pool.acquire() as conn:
        stored = await find_answer(conn, principal=principal.key_id, key=key)
    if stored is not None:
        if stored["request_hash"] != digest:
            raise Problem(
                422,
                "this Idempotency-Key was already used for a different request",
                slug="idempotency-key-reused",
            )
        return _response(stored["status_code"], stored["response"], replayed=True)
    status, body = await produce()
    encoded = jsonable_encoder(body)
    async with pool.acquire() as conn:
        await store_answer(
            conn,
            principal=principal.key_id,
            key=key,
            method=request.method,
            path=request.url.path,
            request_hash=digest,
            status_code=status,
            response=encoded,
        )
    return _response(status, encoded)
