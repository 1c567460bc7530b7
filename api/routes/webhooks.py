"""Webhook subscriptions: an organisation asks to be told of events instead of polling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppSettings, Caller, Pool
from api.idempotency import idempotent
from api.problems import AUTH, BODY, BUY, COMMAND, ROLE, Problem, problems
from api.views import snapshot
from api.webhooks import check_event_types, check_url, may_see_buy, new_secret, new_webhook_id
from db import buys as buys_q
from db import webhooks as q

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Path(pattern=r"^wh_[0-9a-f]{16}$", description="the subscription's id")


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://council.example/jointbuy-events",
                    "event_types": ["stage.changed", "award.notice", "contract.created"],
                    "buy_id": "jb-0123456789ab",
                }
            ]
        },
    )
    url: str = Field(min_length=1, max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=64)
    buy_id: str | None = Field(None, min_length=1, max_length=64)


class WebhookOut(BaseModel):
    webhook_id: str
    url: str
    event_types: list[str]
    buy_id: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs every delivery (Standard Webhooks); shown only here")


def _out(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("webhook_id", "url", "event_types", "buy_id", "created_at")}


@router.post("", status_code=201, response_model=WebhookCreated, responses=problems(ROLE, BUY, BODY, COMMAND))
async def create_webhook(
    body: WebhookCreate, request: Request, pool: Pool, caller: Caller, settings: AppSettings
) -> Response:
    """Subscribe a URL to event types (of one buy, or every buy this organisation may see)."""
    url = check_url(body.url, allow_loopback_http=settings.webhook_allow_loopback_http)
    event_types = check_event_types(body.event_types)
    if body.buy_id is not None:
        async with snapshot(pool) as conn:
            row = await buys_q.find_buy(conn, buy_id=body.buy_id)
        if row is None:
            raise Problem(404, f"no joint buy {body.buy_id}")
        if not may_see_buy(caller, row["lead"]):
            raise Problem(403, f"joint buy {body.buy_id} is led by another organisation")

    async def produce() -> tuple[int, Any]:
        secret = new_secret()
        async with pool.acquire() as conn:
            row = await q.insert_webhook(
                conn,
                webhook_id=new_webhook_id(),
                role=caller.role.value,
                organisation_id=caller.organisation_id,
                url=url,
                event_types=event_types,
                buy_id=body.buy_id,
                secret=secret,
            )
        return 201, _out(row) | {"secret": secret}

    return await idempotent(request, pool, caller, produce)


@router.get("", response_model=list[WebhookOut], responses=problems(AUTH))
async def list_webhooks(pool: Pool, caller: Caller) -> list[dict[str, Any]]:
    """This organisation's subscriptions (in the caller's role), without their secrets."""
    async with pool.acquire() as conn:
        rows = await q.list_webhooks(conn, role=caller.role.value, organisation_id=caller.organisation_id)
    return [_out(r) for r in rows]


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=problems(AUTH, BUY))
async def delete_webhook(pool: Pool, caller: Caller, webhook_id: str = WebhookId) -> Response:
    """Stop a subscription; deliveries still queued for it are dropped."""
    async with pool.acquire() as conn:
        deleted = await q.delete_webhook(
            conn, webhook_id=webhook_id, role=caller.role.value, organisation_id=caller.organisation_id
        )
    if not deleted:
        raise Problem(404, f"no webhook {webhook_id} of yours")
    return Response(status_code=204)
