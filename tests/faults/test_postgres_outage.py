"""(b) PostgreSQL is stopped for 30 s in the middle of assurance, and again in the middle of a round.

While it is down: the workflow's activities retry (Temporal shows their attempts climbing), the API
answers what needs the database with 503 problem+json and `Retry-After`, and `/readyz` says so.
After the restart nothing accepted is lost, a retried command takes effect once, and the buy goes on.
This test's PostgreSQL is its own (tests/faults/conftest.py), never the machine's shared one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from temporalio.client import WorkflowHandle

from messages.joint_buy import CloseStage
from procurement.models import Stage
from tests.faults.conftest import FaultStack, fetch_all
from tests.faults.lifecycle import BIDS, COUNCILS, SUPPLIERS, Client, buy_body, parties, quantity, wait_for
from workflows.joint_buy import JointBuyWorkflow

OUTAGE = 30.0


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["status"] == 503


async def retrying_activities(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, int]]:
    described = await handle.describe()
    return [
        (a.activity_type.name, a.attempt)
        for a in described.raw_description.pending_activities
        if a.attempt > 1
    ]


async def outage(
    stack: FaultStack, handle: WorkflowHandle[Any, Any], probe: dict[str, Any]
) -> dict[str, Any]:
    """Stop PostgreSQL for OUTAGE seconds; meanwhile probe the API and watch the activities retry."""
    stopped = time.monotonic()
    stack.pg.stop("immediate")
    seen: dict[str, Any] = {"retrying": []}
    try:
        ready = await stack.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["postgresql"].startswith("unavailable"), (
            ready.text
        )
        assert ready.json()["checks"]["temporal"] == "ok"
        assert_unavailable(await stack.http.get(probe["read"], headers=probe["headers"]))
        assert_unavailable(await stack.http.request(**probe["write"]))
        while time.monotonic() - stopped < OUTAGE:
            if not seen["retrying"]:
                seen["retrying"] = await retrying_activities(handle)
            await asyncio.sleep(1)
    finally:
        stack.pg.start()
    seen["down_for"] = time.monotonic() - stopped
    return seen


async def test_postgres_stopped_mid_assurance_and_mid_round(fault_stack: FaultStack) -> None:
    stack = fault_stack
    await asyncio.to_thread(stack.workers.start)
    client = Client(stack.http)
    who = await parties(client, stack.admin, "LEAD-PG")
    r = await client.send(
        "POST", "/v1/joint-buys", key="pg-create", headers=who.lead, json=buy_body("Laptops, PG")
    )
    assert r.status_code == 201, r.text
    buy_id = r.json()["id"]
    buy = f"/v1/joint-buys/{buy_id}"
    for i, code in enumerate(COUNCILS):
        line = {"lot_id": "laptops", "quantity": quantity(i), "baseline_unit_price": "949.00"}
        r = await client.send(
            "PUT", f"{buy}/demand", key=f"pg-d-{code}", headers=who.councils[code], json={"lines": [line]}
        )
        assert r.status_code == 200, r.text
    for number in SUPPLIERS:
        r = await client.send("POST", f"{buy}/suppliers", key=f"pg-i-{number}", headers=who.suppliers[number])
        assert r.status_code == 201, r.text
    r = await client.send(
        "POST", f"{buy}/close-stage", key="pg-cd", headers=who.lead, json={"stage": "demand"}
    )
    assert r.status_code == 200, r.text
    for i, code in enumerate(COUNCILS):
        line = {"lot_id": "laptops", "quantity": quantity(i)}
        r = await client.send(
            "POST", f"{buy}/sign-up", key=f"pg-s-{code}", headers=who.councils[code], json={"lines": [line]}
        )
        assert r.status_code == 201, r.text

    # --- mid-assurance: the lead's close reaches the engine with the database already gone (through
    # the engine's own client: the API would need the database to authenticate the lead).
    handle = stack.env.client.get_workflow_handle_for(JointBuyWorkflow.run, buy_id)
    late_demand = {
        "method": "PUT",
        "url": f"{buy}/demand",
        "headers": who.councils[COUNCILS[0]] | {"Idempotency-Key": "pg-late"},
        "json": {"lines": [{"lot_id": "laptops", "quantity": 1, "baseline_unit_price": "1.00"}]},
    }
    probe = {"read": buy, "headers": who.lead, "write": late_demand}

    async def close_sign_up() -> Any:
        return await handle.execute_update(
            JointBuyWorkflow.close_stage,
            CloseStage(stage=Stage.SIGN_UP, actor="LEAD-PG"),
            id=f"pg-{uuid.uuid4()}",
        )

    closing: asyncio.Task[Any] | None = None

    async def during_assurance() -> dict[str, Any]:
        nonlocal closing
        seen_task = asyncio.create_task(outage(stack, handle, probe))
        await asyncio.sleep(0.5)
        closing = asyncio.create_task(close_sign_up())
        for _ in range(200):
            state = await handle.query(JointBuyWorkflow.get_state)
            if state.stage == Stage.ASSURANCE:
                break
            await asyncio.sleep(0.1)
        assert state.stage == Stage.ASSURANCE, state.stage
        return await seen_task

    first = await during_assurance()
    assert closing is not None
    async with asyncio.timeout(180):
        receipt = await closing
    print(f"\nPostgreSQL down {first['down_for']:.0f} s in assurance; retrying: {first['retrying']}")
    assert first["retrying"], "no activity was retried while PostgreSQL was down"
    assert receipt.stage in (Stage.ASSURANCE, Stage.NEGOTIATION)
    body = await wait_for(client, buy, who.lead, lambda b: (b.get("round") or {}).get("number") == 1)
    assert body["stage"] == "negotiation", body
    assessed = (await client.get(f"{buy}/assurance", headers=who.lead)).json()
    assert sorted(s["status"] for s in assessed["suppliers"]) == ["qualified", "qualified"], assessed

    # --- mid-round: one bid accepted, then the database goes; the other bid is refused with 503
    # while it is down and accepted once, on its retry with the same key, after.
    s1, s2 = SUPPLIERS
    r = await client.send(
        "POST",
        f"{buy}/bids",
        key="pg-b1",
        headers=who.suppliers[s1],
        json={"lot_id": "laptops", "tiers": BIDS[1][s1]},
    )
    assert r.status_code == 201, r.text
    bid_2 = {
        "method": "POST",
        "url": f"{buy}/bids",
        "headers": who.suppliers[s2] | {"Idempotency-Key": "pg-b2"},
        "json": {"lot_id": "laptops", "tiers": BIDS[1][s2]},
    }
    second = await outage(
        stack, handle, {"read": f"{buy}/bids/mine", "headers": who.suppliers[s1], "write": bid_2}
    )
    print(f"PostgreSQL down {second['down_for']:.0f} s in round 1; retrying: {second['retrying']}")
    r = await client.send("POST", bid_2["url"], key="pg-b2", headers=who.suppliers[s2], json=bid_2["json"])
    assert r.status_code == 201, r.text
    again = await client.send(
        "POST", bid_2["url"], key="pg-b2", headers=who.suppliers[s2], json=bid_2["json"]
    )
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    await wait_for(client, buy, who.lead, lambda b: (b.get("round") or {}).get("number") == 2)

    events = await fetch_all(
        stack.pg.url, "SELECT seq, type, data FROM events WHERE buy_id = $1 ORDER BY seq", buy_id
    )
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    bids = [(e["data"]["company_number"], e["data"]["round"]) for e in events if e["type"] == "bid.submitted"]
    assert sorted(bids) == [(s1, 1), (s2, 1)], bids
    assert sum(1 for e in events if e["type"] == "sign_up.confirmed") == len(COUNCILS)
    assert not [
        e for e in events if e["type"] == "demand.registered" and e["data"]["lines"][0]["quantity"] == 1
    ]
