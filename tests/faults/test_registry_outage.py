"""(d) The company register is down for the whole assurance window.

The register's table is taken away before sign-up closes and given back only after the lead has
decided: every company-status check fails and is retried until the buy's patience for a check runs
out. The buy does not fail: each supplier is flagged "check unavailable" for the lead, who decides,
and the buy goes on to negotiation.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus

from core.settings import Settings
from tests.faults.conftest import ADMIN_TOKEN, FaultStack, OwnPostgres
from tests.faults.lifecycle import COUNCILS, SUPPLIERS, Client, buy_body, parties, quantity, wait_for

PATIENCE = 20  # seconds a check may keep failing before it is reported unavailable


@pytest.fixture
def fault_settings(own_pg: OwnPostgres) -> Settings:
    return Settings(
        database_url=own_pg.url,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        jointbuy_admin_token=ADMIN_TOKEN,
        assurance_check_patience_seconds=PATIENCE,
    )


async def test_register_down_for_all_of_assurance_leaves_the_lead_a_decision(fault_stack: FaultStack) -> None:
    stack = fault_stack
    await asyncio.to_thread(stack.workers.start)
    client = Client(stack.http)
    who = await parties(client, stack.admin, "LEAD-REG")
    r = await client.send(
        "POST", "/v1/joint-buys", key="reg-create", headers=who.lead, json=buy_body("Laptops, register")
    )
    assert r.status_code == 201, r.text
    buy_id = r.json()["id"]
    buy = f"/v1/joint-buys/{buy_id}"
    for i, code in enumerate(COUNCILS):
        line = {"lot_id": "laptops", "quantity": quantity(i), "baseline_unit_price": "949.00"}
        r = await client.send(
            "PUT", f"{buy}/demand", key=f"reg-d-{code}", headers=who.councils[code], json={"lines": [line]}
        )
        assert r.status_code == 200, r.text
    for number in SUPPLIERS:
        r = await client.send(
            "POST", f"{buy}/suppliers", key=f"reg-i-{number}", headers=who.suppliers[number]
        )
        assert r.status_code == 201, r.text
    r = await client.send(
        "POST", f"{buy}/close-stage", key="reg-cd", headers=who.lead, json={"stage": "demand"}
    )
    assert r.status_code == 200, r.text
    for i, code in enumerate(COUNCILS):
        line = {"lot_id": "laptops", "quantity": quantity(i)}
        r = await client.send(
            "POST", f"{buy}/sign-up", key=f"reg-s-{code}", headers=who.councils[code], json={"lines": [line]}
        )
        assert r.status_code == 201, r.text

    conn = await asyncpg.connect(stack.pg.url)
    try:
        await conn.execute("ALTER TABLE companies RENAME TO companies_unreachable")
        r = await client.send(
            "POST", f"{buy}/close-stage", key="reg-cs", headers=who.lead, json={"stage": "sign_up"}
        )
        assert r.status_code == 200, r.text
        assessed = await wait_for(
            client,
            f"{buy}/assurance",
            who.lead,
            lambda a: all(s["status"] == "flagged" for s in a["suppliers"]),
        )
        handle = stack.env.client.get_workflow_handle(buy_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        for supplier in assessed["suppliers"]:
            [status_check] = [c for c in supplier["checks"] if c["check"] == "company_status"]
            assert status_check["flagged"] and "unavailable" in status_check["reason"], supplier
        for number in SUPPLIERS:
            r = await client.send(
                "POST",
                f"{buy}/exclusions/{number}",
                key=f"reg-x-{number}",
                headers=who.lead,
                json={"exclude": False, "reason": "register status confirmed by phone with Companies House"},
            )
            assert r.status_code == 200, r.text
    finally:
        await conn.execute("ALTER TABLE IF EXISTS companies_unreachable RENAME TO companies")
        await conn.close()
    body = await wait_for(client, buy, who.lead, lambda b: (b.get("round") or {}).get("number") == 1)
    assert body["stage"] == "negotiation", body
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
