"""A command is applied once per update id, even when its repeat reaches a later run.

Temporal de-duplicates update ids only within one run. The API derives a command's update id from
its `(principal, Idempotency-Key)`, so a retry of a command whose answer was lost (a timeout, a
crash) carries the same id; if the run continued as new in between, the next run never saw that id.
These tests apply a command, make the run hand over (a small message budget), and send the same
update id again, to the next run and to the one after: the command has one event, and the repeat is
refused with `APPLIED_EARLIER` naming the run that applied it, whose outcome is the first answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import APPLIED_EARLIER, Receipt, RegisterDemand
from procurement.models import DemandLine
from tests.support import new_state
from tests.workflows.conftest import EventSink, buy_id, execute, of_type, settle, sink_running, start_buy
from workflows.joint_buy import JointBuyWorkflow

BUDGET = 10  # messages per run: a handover every few commands
LINE = DemandLine(lot_id="laptops", quantity=10, baseline_unit_price=Decimal("900.00"))
COUNCIL = "E06000001"
UPDATE_ID = "demand-from-E06000001"


async def run_id(handle: WorkflowHandle[JointBuyWorkflow, object]) -> str:
    return (await handle.describe()).run_id or ""


async def hand_over(handle: WorkflowHandle[JointBuyWorkflow, object], councils: list[str]) -> str:
    """Other councils' demand until the run continues as new; the new run's id."""
    before = await run_id(handle)
    for council in councils:
        await execute(handle, JointBuyWorkflow.register_demand, RegisterDemand(council=council, lines=[LINE]))
    for _ in range(200):
        if (now := await run_id(handle)) != before:
            return now
        await asyncio.sleep(0.05)
    raise AssertionError("the run never handed over")


async def repeat(handle: WorkflowHandle[JointBuyWorkflow, object]) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            JointBuyWorkflow.register_demand, RegisterDemand(council=COUNCIL, lines=[LINE]), id=UPDATE_ID
        )
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_command_repeated_in_later_runs_is_applied_once(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    async with sink_running(dev_env, task_queue, EventSink()) as sink:
        state = new_state(buy_id(), datetime.now(UTC))
        handle = await start_buy(sink, dev_env.client, task_queue, state, messages_per_run=BUDGET)
        first_run = await run_id(handle)
        first: Receipt = await handle.execute_update(
            JointBuyWorkflow.register_demand, RegisterDemand(council=COUNCIL, lines=[LINE]), id=UPDATE_ID
        )

        # The run takes confirm_started, this command and eight more, then continues as new.
        second_run = await hand_over(handle, [f"E0700{n:04d}" for n in range(1, 9)])
        refusal = await repeat(handle)
        assert refusal.type == APPLIED_EARLIER, refusal
        assert refusal.details[0] == first_run
        # The refusal names the run that applied it, and that run still holds the first answer.
        earlier = dev_env.client.get_workflow_handle_for(JointBuyWorkflow.run, state.buy_id, run_id=first_run)
        again = await earlier.get_update_handle_for(JointBuyWorkflow.register_demand, UPDATE_ID).result()
        assert again == first

        # Carried on through a further handover: the run after next refuses it too.
        assert await hand_over(handle, [f"E0800{n:04d}" for n in range(1, 11)]) != second_run
        refusal = await repeat(handle)
        assert refusal.type == APPLIED_EARLIER and refusal.details[0] == first_run

        await settle(handle, sink)
        registered = [e for e in of_type(sink, "demand.registered") if e.actor == COUNCIL]
        assert [e.seq for e in registered] == [first.seq], registered
