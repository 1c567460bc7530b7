"""Typed dependencies: the pool, the Temporal gateway, settings and the calling principal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import BOOTSTRAP_ADMIN, Principal, Role, hash_token, is_admin_token
from api.gateway import BuyGateway
from api.problems import Problem
from core.settings import Settings
from db.keys import find_active_key


# Async, though they only read app state: FastAPI runs a plain `def` dependency in its thread pool,
# a thread hop per dependency per request.
async def get_pool(request: Request) -> Any:
    return request.app.state.pool


async def get_gateway(request: Request) -> BuyGateway:
    gateway: BuyGateway = request.app.state.gateway
    return gateway


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Pool = Annotated[Any, Depends(get_pool)]
Gateway = Annotated[BuyGateway, Depends(get_gateway)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def get_principal(request: Request, pool: Pool, settings: AppSettings) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "send `Authorization: Bearer <token>`", headers=_UNAUTHORIZED)
    token = token.strip()
    if is_admin_token(token, settings.jointbuy_admin_token):
        return BOOTSTRAP_ADMIN
    async with pool.acquire() as conn:
        row = await find_active_key(conn, token_hash=hash_token(token))
    if row is None:
        raise Problem(401, "unknown or revoked token", headers=_UNAUTHORIZED)
    principal = Principal(
        key_id=row["key_id"], role=Role(row["role"]), organisation_id=row["organisation_id"]
    )
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[..., Any]:
    async def check(principal: Caller) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Problem(403, f"this needs the role {allowed}; your token is {principal.role.value}")
        return principal

    return check


AdminCaller = Annotated[Principal, Depends(require(Role.ADMIN))]
LeadCaller = Annotated[Principal, Depends(require(Role.LEAD))]
CouncilCaller = Annotated[Principal, Depends(require(Role.COUNCIL))]
SupplierCaller = Annotated[Principal, Depends(require(Role.SUPPLIER))]
