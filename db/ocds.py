"""Reading what a buy's OCDS release package is built from: the buy, the public part of its event
log, and the names of the councils that take part."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SELECT_BUY = "SELECT buy_id, lead, terms FROM joint_buys WHERE buy_id = $1"
# Only the event types asked for: the caller names the public ones, sealed bids never leave the table.
# Of an assessment summary only who was assessed for which lot (its time says when it was sent):
# the scores and ranks in it stay here.
SELECT_EVENTS = """
SELECT seq, at, type,
       CASE WHEN type = 'assessment.summary'
            THEN jsonb_build_object('company_number', data->'company_number', 'lot_id', data->'lot_id')
            ELSE data END AS data
FROM events
WHERE buy_id = $1 AND type = ANY($2::text[])
ORDER BY seq
"""
# The lead (when it is a council) and every council that signed up or holds a contract.
SELECT_COUNCIL_NAMES = """
SELECT gss_code, official_name FROM councils
WHERE gss_code IN (SELECT lead FROM joint_buys WHERE buy_id = $1
                   UNION SELECT council FROM sign_ups WHERE buy_id = $1
                   UNION SELECT council FROM contracts WHERE buy_id = $1)
"""


async def find_buy(conn: Any, *, buy_id: str) -> Any:
    return await conn.fetchrow(SELECT_BUY, buy_id)


async def public_events(conn: Any, *, buy_id: str, types: Sequence[str]) -> list[Any]:
    return list(await conn.fetch(SELECT_EVENTS, buy_id, list(types)))


async def council_names(conn: Any, *, buy_id: str) -> dict[str, str]:
    return {r["gss_code"]: r["official_name"] for r in await conn.fetch(SELECT_COUNCIL_NAMES, buy_id)}
