"""A council's command through the API: one workflow task, its event in PostgreSQL before the
answer, and nothing lost when no API records an answer's events.

The workflow answers a command at once with the events the API must record (`Receipt.unrecorded`,
see `workflows.buy.Buy.receipt`); the API writes them (`api.gateway`) before it answers. The worker's
flusher writes every event too, after a short delay, in case the API died in between.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import RegisterDemand
from procurement.models import DemandLine
from tests.api.conftest import Api
from tests.workflows.test_command_answers import tasks_between_accepted_and_completed
from workflows.joint_buy import JointBuyWorkflow

LINES = [{"lot_id": "laptops", "quantity": 40, "baseline_unit_price": "951.37"}]


async def event_seqs(pool: Any, buy_id: str) -> list[int]:
    async with pool.acquire() as conn:
        return [
            r["seq"]
            for r in await conn.fetch("SELECT seq FROM events WHERE buy_id = $1 ORDER BY seq", buy_id)
        ]


async def test_a_council_command_is_answered_in_one_task_with_its_event_in_postgres(
    api: Api, dev_env: WorkflowEnvironment, pool: Any
) -> None:
    lead = await api.token("lead", "E09000033")
    buy = await api.create_buy(lead)
    buy_id = buy["id"]
    answers = []
    for gss in ("E09000001", "E09000002", "E09000003"):
        council = await api.token("council", gss)
        r = await api.http.put(
            f"/v1/joint-buys/{buy_id}/demand",
            json={"lines": LINES},
            headers=council | {"Idempotency-Key": f"demand-{gss}"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "unrecorded" not in body, "the carried events are never part of an answer"
        # Read at once, before the worker's flusher could have written it: the API did.
        seqs = await event_seqs(pool, buy_id)
        assert body["seq"] in seqs and seqs == list(range(1, max(seqs) + 1)), "in the log, with no gap"
        answers.append(body)

    handle = dev_env.client.get_workflow_handle_for(JointBuyWorkflow.run, buy_id)
    # Every command was accepted and answered within one workflow task.
    history_ids = []
    async for event in handle.fetch_history_events():
        attrs = event.workflow_execution_update_accepted_event_attributes
        if attrs.protocol_instance_id:
            history_ids.append(attrs.protocol_instance_id)
    assert len(history_ids) >= 4  # confirm_started and the three commands
    for update_id in history_ids:
        assert await tasks_between_accepted_and_completed(handle, update_id) == 0

    # The council's own view in the answer is read after the API recorded the event.
    assert [line["quantity"] for line in answers[-1]["demand"]] == [40]
    assert answers[-1]["aggregate"]["laptops"]["indicative_quantity"] == 120


async def test_an_answer_no_api_recorded_still_reaches_postgres(
    api: Api, dev_env: WorkflowEnvironment, pool: Any
) -> None:
    """A command applied by the workflow whose answer no API wrote down (the API died between the
    update and its write): the worker's flusher writes the event within a few seconds."""
    lead = await api.token("lead", "E09000033")
    buy = await api.create_buy(lead)
    buy_id = buy["id"]
    handle = dev_env.client.get_workflow_handle_for(JointBuyWorkflow.run, buy_id)
    line = DemandLine.model_validate(LINES[0])
    receipt = await handle.execute_update(
        JointBuyWorkflow.register_demand, RegisterDemand(council="E09000004", lines=[line])
    )
    assert receipt.unrecorded and receipt.unrecorded[-1].seq == receipt.seq
    for _ in range(100):
        seqs = await event_seqs(pool, buy_id)
        if receipt.seq in seqs:
            break
        await asyncio.sleep(0.1)
    assert seqs == list(range(1, receipt.seq + 1)), "the flusher wrote it, with no gap"
