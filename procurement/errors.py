"""Domain errors carry a kind that every outer layer maps the same way (HTTP status, Temporal type)."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the command breaks a rule: 422
    CONFLICT = "conflict"  # right command, wrong stage or state: 409
    FORBIDDEN = "forbidden"  # not yours to do: 403
    NOT_FOUND = "not_found"  # no such thing: 404


class DomainError(Exception):
    def __init__(self, kind: ErrorKind, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field
        # Facts a client can act on, e.g. the price a bid must beat; they reach the problem body.
        self.extra: dict[str, str] = {}


def invalid(message: str, *, field: str | None = None) -> DomainError:
    return DomainError(ErrorKind.INVALID, message, field=field)


def conflict(message: str) -> DomainError:
    return DomainError(ErrorKind.CONFLICT, message)
