"""Bearer tokens: who is calling, in which role, for which organisation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from pydantic import BaseModel


class Role(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    COUNCIL = "council"
    SUPPLIER = "supplier"
    OPERATOR = "operator"


class Principal(BaseModel):
    key_id: str
    role: Role
    organisation_id: str

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log."""
        return f"{self.role.value}:{self.organisation_id}"


TOKEN_PREFIX = "jb_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(token: str, admin_token: str) -> bool:
    return bool(admin_token) and hmac.compare_digest(token.encode(), admin_token.encode())


BOOTSTRAP_ADMIN = Principal(key_id="bootstrap", role=Role.ADMIN, organisation_id="admin")
