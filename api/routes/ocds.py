"""Transparency: a joint buy as a public OCDS 1.1 release package, readable without a token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import AppSettings, Pool
from api.ocds import SOURCE_EVENTS, build_package, build_releases, ocid_for
from api.problems import BUY, Problem, problems
from db import ocds as ocds_queries
from procurement.visibility import BuyScope, published

router = APIRouter(prefix="/v1/joint-buys", tags=["transparency"])


@router.get("/{buy_id}/ocds", responses=problems(BUY))
async def get_ocds(buy_id: str, request: Request, pool: Pool, settings: AppSettings) -> dict[str, Any]:
    """The buy's OCDS release package: one release per publication point; public, no token."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        buy = await ocds_queries.find_buy(conn, buy_id=buy_id)
        if buy is None:
            raise Problem(404, f"no joint buy {buy_id}")
        rows = await ocds_queries.public_events(conn, buy_id=buy_id, types=SOURCE_EVENTS)
        names = await ocds_queries.council_names(conn, buy_id=buy_id)
    # Only what the visibility table publishes reaches the fold: never a baseline or a sealed bid.
    scope = BuyScope(lead=buy["lead"], stage=None)
    events = [e for e in (published(dict(r), scope) for r in rows) if e is not None]
    ocid = ocid_for(buy_id, settings.ocds_prefix)
    releases = build_releases(buy=buy, events=events, names=names, ocid=ocid)
    if not releases:
        raise Problem(404, f"joint buy {buy_id} has published nothing yet")
    uri = str(request.url_for("get_ocds", buy_id=buy_id))
    return build_package(uri=uri, releases=releases, publisher=settings.ocds_publisher)
