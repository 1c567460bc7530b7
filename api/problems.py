"""Errors as RFC 9457 problem+json: `type`, `title`, `status`, `detail`, and `errors` for fields."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from procurement.errors import DomainError, ErrorKind

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


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
