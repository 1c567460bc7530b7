"""Joint buys: start, list, read, close a window early, cancel, read the audit log."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from api.auth import Principal, Role
from api.deps import Caller, Gateway, LeadCaller, Pool
from api.idempotency import command_id, idempotent
from api.problems import AUTH, BODY, BUY, COMMAND, ROLE, problems
from api.schemas import (
    CancelRequest,
    CloseStageRequest,
    EventOut,
    JointBuyCreate,
    JointBuyOut,
    JointBuySummary,
    answer,
)
from api.views import buy_scope, buy_view, load_buy, shown_events, snapshot, summary
from db.buys import list_buys
from db.events import fetch_events
from messages.joint_buy import Cancel, CloseStage
from procurement.models import BuyState, BuyTerms, Stage
from procurement.setup import check_new_buy
from workflows.joint_buy import JointBuyWorkflow

router = APIRouter(prefix="/v1/joint-buys", tags=["joint buys"])


async def current_view(pool: Any, buy_id: str, principal: Principal) -> dict[str, Any]:
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, principal)
        return await buy_view(conn, row, principal)


@router.post("", status_code=201, response_model=JointBuyOut, responses=problems(ROLE, BODY, COMMAND))
async def create_joint_buy(
    body: JointBuyCreate, request: Request, pool: Pool, gateway: Gateway, caller: LeadCaller
) -> Response:
    """Start a joint buy led by the caller's organisation; demand opens at once."""

    async def produce() -> tuple[int, Any]:
        terms = BuyTerms.model_validate(body.model_dump())
        check_new_buy(terms, datetime.now(UTC))
        # Under an Idempotency-Key the buy id is derived from it: a create retried after a timeout
        # finds the buy its first attempt started instead of starting a second one.
        derived = command_id()
        buy_id = f"jb-{derived[:12]}" if derived else f"jb-{secrets.token_hex(6)}"
        state = BuyState(buy_id=buy_id, lead=caller.organisation_id, terms=terms)
        await gateway.start(state)
        return 201, answer(JointBuyOut, await current_view(pool, state.buy_id, caller))

    return await idempotent(request, pool, caller, produce)


@router.get("", response_model=list[JointBuySummary], responses=problems(AUTH))
async def list_joint_buys(
    pool: Pool,
    caller: Caller,
    stage: Stage | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[dict[str, Any]]:
    """Joint buys the caller may see (a lead sees those it leads), newest first."""
    lead = caller.organisation_id if caller.role == Role.LEAD else None
    async with snapshot(pool) as conn:
        rows = await list_buys(
            conn, stage=stage.value if stage else None, lead=lead, limit=limit, offset=offset
        )
    return [summary(r) for r in rows]


@router.get(
    "/{buy_id}", response_model=JointBuyOut, response_model_exclude_unset=True, responses=problems(ROLE, BUY)
)
async def get_joint_buy(buy_id: str, pool: Pool, caller: Caller) -> dict[str, Any]:
    """One joint buy, shaped by the caller's role."""
    return await current_view(pool, buy_id, caller)


@router.post(
    "/{buy_id}/close-stage", response_model=JointBuyOut, responses=problems(ROLE, BUY, BODY, COMMAND)
)
async def close_stage(
    buy_id: str,
    body: CloseStageRequest,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Close the named open window now (409 if that is not the current stage)."""
    await current_view(pool, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = CloseStage(stage=body.stage, actor=caller.actor)
        await gateway.update(buy_id, JointBuyWorkflow.close_stage, cmd)
        return 200, answer(JointBuyOut, await current_view(pool, buy_id, caller))

    return await idempotent(request, pool, caller, produce)


@router.post("/{buy_id}/cancel", response_model=JointBuyOut, responses=problems(ROLE, BUY, BODY, COMMAND))
async def cancel_joint_buy(
    buy_id: str,
    body: CancelRequest,
    request: Request,
    pool: Pool,
    gateway: Gateway,
    caller: LeadCaller,
) -> Response:
    """Cancel the buy at any stage, with a reason everyone affected will see."""
    await current_view(pool, buy_id, caller)

    async def produce() -> tuple[int, Any]:
        cmd = Cancel(reason=body.reason, actor=caller.actor)
        await gateway.update(buy_id, JointBuyWorkflow.cancel, cmd)
        return 200, answer(JointBuyOut, await current_view(pool, buy_id, caller))

    return await idempotent(request, pool, caller, produce)


@router.get("/{buy_id}/events", response_model=list[EventOut], responses=problems(ROLE, BUY))
async def get_events(
    buy_id: str,
    pool: Pool,
    caller: Caller,
    after: int = Query(0, ge=0, le=2**31 - 1, description="only events with a greater seq"),
    limit: int = Query(500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    """The audit log in order, as the caller may see it: the lead and operators most of it, a
    council or supplier what concerns it and the buy's progress, anyone else what is published."""
    async with snapshot(pool) as conn:
        row = await load_buy(conn, buy_id, caller)
        scope = await buy_scope(conn, row)
        events = await fetch_events(conn, buy_id=buy_id, after=after, limit=limit)
    return shown_events(events, caller, scope)
