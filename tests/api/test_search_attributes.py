"""What an operator sees in the Temporal Web UI, on the real dev server: at every stage of a buy,
the query the UI runs (`WorkflowType = "JointBuyWorkflow" AND JointBuyStage = "…"`) finds it, with
its search attributes current; the memo carries the title and key dates, the static summary and
details what the buy is, and the current details what it is doing now."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecution
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import Api, Buy
from tests.api.test_ocds import BIDS, DEMAND, S1, S2, WINNERS

LEAD = "LEAD-UI"
TYPED = {
    "JointBuyStage": str,
    "JointBuyLead": str,
    "JointBuyCpvCategory": str,
    "JointBuyEstimatedValue": float,
    "JointBuyLots": list,
    "JointBuyCouncils": int,
    "JointBuyQualifiedSuppliers": int,
    "JointBuyRound": int,
}


async def found(client: Client, buy_id: str, stage: str) -> WorkflowExecution:
    """The buy, through the UI's list query for its stage (visibility is eventually consistent)."""
    query = f'WorkflowType = "JointBuyWorkflow" AND JointBuyStage = "{stage}" AND WorkflowId = "{buy_id}"'
    for _ in range(200):
        hits = [w async for w in client.list_workflows(query)]
        if hits:
            return hits[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no workflow for {query}")


def attributes(execution: WorkflowExecution) -> dict[str, Any]:
    values = {}
    for pair in execution.typed_search_attributes:
        if pair.key.name not in TYPED:  # the server's own (BuildIds, …)
            continue
        assert isinstance(pair.value, TYPED[pair.key.name]), pair
        values[pair.key.name] = pair.value
    return values


async def at_stage(client: Client, buy: Buy, stage: str, **expected: Any) -> dict[str, Any]:
    for _ in range(100):
        execution = await found(client, buy.id, stage)
        got = attributes(execution)
        if all(got.get(k) == v for k, v in expected.items()):
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stage}: {got} is not {expected}")


async def details(client: Client, buy: Buy) -> str:
    metadata = await client.get_workflow_handle(buy.id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details


async def test_an_operator_finds_and_reads_a_buy_at_every_stage(
    api: Api, dev_env: WorkflowEnvironment
) -> None:
    client = dev_env.client
    lead = await api.token("lead", LEAD)
    created = await api.create_buy(
        lead,
        estimated_value_gbp="200000",
        negotiation={"rounds": 1},
        award={"standstill_working_days": 8},
    )
    buy = Buy(id=created["id"], lead=lead)
    fixed = {
        "JointBuyLead": LEAD,
        "JointBuyCpvCategory": "30213100",
        "JointBuyEstimatedValue": 200000.0,
        "JointBuyLots": ["laptops", "monitors"],
    }
    got = await at_stage(client, buy, "demand", JointBuyCouncils=0, JointBuyRound=0)
    assert got == fixed | {
        "JointBuyStage": "demand",
        "JointBuyCouncils": 0,
        "JointBuyQualifiedSuppliers": 0,
        "JointBuyRound": 0,
    }

    description = await client.get_workflow_handle(buy.id).describe()
    assert await description.static_summary() == "Laptops for 2027 · led by LEAD-UI · 2 lots"
    assert "estimated value £200000" in (await description.static_details() or "")
    memo = await description.memo()
    assert memo["title"] == "Laptops for 2027" and memo["demand_closes_at"] and memo["sign_up_closes_at"]

    for gss, lines in DEMAND.items():
        buy.councils[gss] = await api.token("council", gss)
        r = await api.http.put(f"{buy.url}/demand", json={"lines": lines}, headers=buy.councils[gss])
        assert r.status_code == 200, r.text
    for number in (S1, S2):
        buy.suppliers[number] = await api.supplier(number)
        r = await api.http.post(f"{buy.url}/suppliers", headers=buy.suppliers[number])
        assert r.status_code == 201, r.text
    await at_stage(client, buy, "demand", JointBuyCouncils=3)
    assert (await details(client, buy)).startswith("Demand open · 3 councils")

    await api.close(buy, "demand")
    for gss in ("E06000005", "E06000006"):
        lines = [{"lot_id": line["lot_id"], "quantity": line["quantity"]} for line in DEMAND[gss]]
        r = await api.http.post(f"{buy.url}/sign-up", json={"lines": lines}, headers=buy.councils[gss])
        assert r.status_code == 201, r.text
    await at_stage(client, buy, "sign_up", JointBuyCouncils=2)

    await api.close(buy, "sign_up")
    await at_stage(client, buy, "negotiation", JointBuyQualifiedSuppliers=2, JointBuyRound=1)
    assert (await details(client, buy)).startswith("Round 1 of 1, closes ")

    for supplier, prices in BIDS.items():
        for lot, price in prices.items():
            body = {"lot_id": lot, "tiers": [{"min_quantity": 1, "unit_price": price}]}
            r = await api.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[supplier])
            assert r.status_code == 201, r.text
    await at_stage(client, buy, "evaluation", JointBuyRound=1)
    for supplier in BIDS:
        for lot in WINNERS:
            body = {"supplier": supplier, "lot_id": lot, "quality": 70, "social_value": 50}
            r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)
            assert r.status_code == 200, r.text
    got = await at_stage(client, buy, "standstill")
    assert got == fixed | {
        "JointBuyStage": "standstill",
        "JointBuyCouncils": 2,
        "JointBuyQualifiedSuppliers": 2,
        "JointBuyRound": 1,
    }
    assert (await details(client, buy)).startswith("Standstill, closes ")

    r = await api.http.post(f"{buy.url}/cancel", json={"reason": "budget withdrawn"}, headers=buy.lead)
    assert r.status_code == 200, r.text
    await at_stage(client, buy, "cancelled")
    hits = [w async for w in client.list_workflows(f'JointBuyLead = "{LEAD}" AND JointBuyLots = "monitors"')]
    assert buy.id in {w.id for w in hits}, "an operator's query across buys finds it"
