"""Errors as RFC 9457 problem+json: `type`, `title`, `status`, `detail`, and `errors` for fields."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from procurement.errors import DomainError, ErrorKind

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
KIND_STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
}


class ProblemOut(BaseModel):
    """An error: RFC 9457 problem+json. Extension members (e.g. `required_unit_price` on a bid
    that does not beat the previous one) may follow."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


_PROBLEM_SCHEMA = ProblemOut.model_json_schema()
# What a route can answer besides success, by what it does: every route may meet a malformed
# request (400), an invalid parameter (422), a server fault (500) or an outage (503); then by what
# it needs and takes.
ANY = (400, 422, 500, 503)
AUTH = (401,)  # needs a token
ROLE = (401, 403)  # needs a token of some role, or a party of the buy
BUY = (404,)  # names a buy (or another resource) that may not exist
BODY = (413,)  # takes a body: at most 1 MiB
COMMAND = (409, 429)  # changes a buy: may conflict with its stage, or find it busy


def problems(*groups: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status it may answer with, as problem+json."""
    statuses = sorted({s for g in (ANY, *groups) for s in g})
    return {
        s: {"description": TITLES[s], "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
        for s in statuses
    }


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        slug: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.extra = extra or {}
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.slug = slug

    def body(self) -> dict[str, Any]:
        title = TITLES.get(self.status, "Error")
        slug = self.slug or title.lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": f"https://jointbuy.example/problems/{slug}",
            "title": title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        # Extension members (RFC 9457 s.3.2), e.g. the price a refused bid had to beat.
        return self.extra | body


def from_domain(err: DomainError) -> Problem:
    errors = [{"field": err.field, "message": err.message}] if err.field else None
    return Problem(KIND_STATUS[err.kind], err.message, errors=errors, extra=err.extra)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(from_domain(exc))


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(Problem(exc.status_code, str(exc.detail), headers=headers))


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in err["loc"] if part != "body"),
            "message": err["msg"],
        }
        for err in exc.errors()
    ]
    malformed = any(err["type"] == "json_invalid" for err in exc.errors())
    status = 400 if malformed else 422
    detail = "the body is not valid JSON" if malformed else "the request has invalid fields"
    return problem_response(Problem(status, detail, errors=errors))


# PostgreSQL is away (stopped, restarting, unreachable, or refusing connections for now): the
# request changed nothing it can keep, and the same request may be retried shortly.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # includes a connection lost mid-statement
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,  # refused or reset (the server is down)
    TimeoutError,
)


def database_unavailable() -> Problem:
    return Problem(
        503,
        "the database is unavailable; retry shortly",
        headers={"Retry-After": "5"},
        slug="database-unavailable",
    )


def is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return True
    # asyncpg reports a connection closed under it as an InterfaceError with this wording.
    return isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc) and "closed" in str(exc)


async def _database(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", error=type(exc).__name__)
    return problem_response(database_unavailable())


def unexpected_error(exc: BaseException, request_id: str | None) -> JSONResponse:
    """Any error nothing else handled: logged with its traceback, answered as a 500 problem that
    carries the request id and nothing of the internals."""
    if is_database_unavailable(exc):
        log.warning("database unavailable", error=type(exc).__name__)
        return problem_response(database_unavailable())
    log.error("unexpected error", error_type=type(exc).__name__, exc_info=exc)
    extra = {"request_id": request_id} if request_id else None
    return problem_response(
        Problem(500, "an unexpected error occurred; it is logged under this request id", extra=extra)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The last resort, outside every middleware: the request id is the one the client sent, if any.
    return unexpected_error(exc, request.headers.get("x-request-id"))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    for exc_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_type, _database)
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
