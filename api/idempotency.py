"""`Idempotency-Key`: the same `(principal, key)` never has two effects, whatever failed in between.

A repeat with the same key and body returns the first answer. The key is claimed before the command
runs, and the command's ids are derived from it (`command_id()`): the buy id of a create and the
Temporal update id of every command, so a command run again after an unknown outcome is
de-duplicated by Temporal and answers with the first outcome (within one run by Temporal, across a
continue-as-new by the workflow: `workflows.once`). The claim is released only when the
command was definitely refused (a 4xx: nothing applied); after a timeout, a lost connection or a
crash it stays, and the next repeat takes it over once its lease has ended. Commands that only
write to PostgreSQL commit their effect and their answer in one transaction.

An answer may carry a secret shown only once (an issued API key's token, `ShownOnce`): the stored
answer leaves it out, so the table never holds it, and a repeat is answered with a problem saying
what was issued and that the secret cannot be shown again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.auth import Principal
from api.problems import Problem
from db.idempotency import (
    LEASE_SECONDS,
    abandon_key,
    claim_key,
    complete_key,
    find_answer,
    lock_own_claim,
    release_key,
    renew_lease,
)
from procurement.errors import DomainError

log = structlog.get_logger(__name__)

Produce = Callable[[], Awaitable[tuple[int, Any]]]
Apply = Callable[[Any], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 200
RETRY_SOON = {"Retry-After": "1"}

_COMMAND_ID: ContextVar[str | None] = ContextVar("command_id", default=None)


@dataclass(frozen=True)
class ShownOnce:
    """A member of a command's answer shown in the first answer only (a secret): stored without
    it, and a repeat is refused with `refusal(the stored answer)` instead of replaying it."""

    member: str
    refusal: Callable[[Any], Problem]

    def stored(self, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        return {k: v for k, v in body.items() if k != self.member}


def command_id() -> str | None:
    """The id of the command being produced under an Idempotency-Key (None without one): the same
    for every attempt of the same `(principal, key)`."""
    return _COMMAND_ID.get()


def derive_command_id(principal: str, key: str) -> str:
    return hashlib.sha256(f"{principal}\n{key}".encode()).hexdigest()[:32]


def _response(status: int, body: Any, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _definitely_refused(err: BaseException) -> bool:
    """A client error means the command was refused before it changed anything."""
    if isinstance(err, DomainError):
        return True
    return isinstance(err, Problem) and err.status < 500


class _Claim:
    def __init__(
        self,
        request: Request,
        principal: Principal,
        key: str,
        digest: str,
        shown_once: ShownOnce | None = None,
    ) -> None:
        self.who = {"principal": principal.key_id, "key": key}
        self.owner = uuid.uuid4().hex
        self.method = request.method
        self.path = request.url.path
        self.digest = digest
        self.shown_once = shown_once

    async def take(self, pool: Any) -> Response | None:
        """Claim the key; or the answer a repeat gets instead of running the command."""
        async with pool.acquire() as conn:
            claimed = await claim_key(
                conn,
                **self.who,
                method=self.method,
                path=self.path,
                request_hash=self.digest,
                owner=self.owner,
            )
            stored = None if claimed else await find_answer(conn, **self.who)
        if stored is not None:
            return _replay(stored, self.digest, self.shown_once)
        if not claimed:  # the claim vanished between the two statements: its command was refused
            raise Problem(409, "a request with this Idempotency-Key just failed; retry", headers=RETRY_SOON)
        return None

    @contextlib.asynccontextmanager
    async def held(self, pool: Any) -> AsyncIterator[None]:
        """Renew the lease while the command runs; settle the claim by how it ended."""
        renewing = asyncio.create_task(self._renew(pool))
        token = _COMMAND_ID.set(derive_command_id(self.who["principal"], self.who["key"]))
        try:
            yield
        except BaseException as err:
            await self._settle_failure(pool, err)
            raise
        finally:
            _COMMAND_ID.reset(token)
            renewing.cancel()

    async def _renew(self, pool: Any) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                async with pool.acquire() as conn:
                    if not await renew_lease(conn, **self.who, owner=self.owner):
                        return
            except Exception as err:  # the database is away: the lease may lapse, which is safe
                log.warning("idempotency lease not renewed", error=type(err).__name__)

    async def _settle_failure(self, pool: Any, err: BaseException) -> None:
        refused = _definitely_refused(err)
        try:
            async with pool.acquire() as conn:
                if refused:
                    await release_key(conn, **self.who, owner=self.owner)
                else:
                    await abandon_key(conn, **self.who, owner=self.owner)
        except Exception as settle_err:  # unsettled, the lease still runs out on its own
            log.warning("idempotency claim not settled", error=type(settle_err).__name__)
        if not refused:
            log.warning("command outcome unknown; the key is kept for a retry", error=type(err).__name__)

    async def complete(self, conn: Any, status: int, body: Any) -> None:
        stored = body if self.shown_once is None else self.shown_once.stored(body)
        await complete_key(conn, **self.who, status_code=status, response=stored)


async def _start(
    request: Request, principal: Principal, shown_once: ShownOnce | None = None
) -> _Claim | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    raw = await request.body()
    digest = hashlib.sha256(b"\n".join([request.method.encode(), request.url.path.encode(), raw])).hexdigest()
    return _Claim(request, principal, key, digest, shown_once)


async def idempotent(request: Request, pool: Any, principal: Principal, produce: Produce) -> Response:
    """Run a command that goes through the workflow engine, at most once per Idempotency-Key."""
    claim = await _start(request, principal)
    if claim is None:
        status, body = await produce()
        return _response(status, jsonable_encoder(body))
    answer = await claim.take(pool)
    if answer is not None:
        return answer
    async with claim.held(pool):
        status, body = await produce()
        encoded = jsonable_encoder(body)
        async with pool.acquire() as conn:
            await claim.complete(conn, status, encoded)
    return _response(status, encoded)


async def idempotent_in_db(
    request: Request, pool: Any, principal: Principal, apply: Apply, *, shown_once: ShownOnce | None = None
) -> Response:
    """Run a command that only writes to PostgreSQL: its effect and its answer commit together, and
    only while this attempt still holds the claim, so a crash leaves nothing half done."""
    claim = await _start(request, principal, shown_once)
    if claim is None:
        async with pool.acquire() as conn, conn.transaction():
            status, body = await apply(conn)
        return _response(status, jsonable_encoder(body))
    answer = await claim.take(pool)
    if answer is not None:
        return answer
    async with claim.held(pool), pool.acquire() as conn, conn.transaction():
        if not await lock_own_claim(conn, **claim.who, owner=claim.owner):
            raise Problem(
                409, "a request with this Idempotency-Key is still in progress; retry", headers=RETRY_SOON
            )
        status, body = await apply(conn)
        encoded = jsonable_encoder(body)
        await claim.complete(conn, status, encoded)
    return _response(status, encoded)


def _replay(stored: Any, digest: str, shown_once: ShownOnce | None = None) -> Response:
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
    if shown_once is not None:
        raise shown_once.refusal(stored["response"])
    return _response(stored["status_code"], stored["response"], replayed=True)
