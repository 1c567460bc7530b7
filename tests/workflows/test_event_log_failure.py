"""When the database refuses a batch of events for good (an event-sequence gap: a defect, not an
outage), commands waiting for their events fail with a clear error and the buy stops loudly, as a
failed workflow an operator sees, instead of hanging with every command timing out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from messages.joint_buy import EVENT_LOG_FAILURE, RECORD_EVENTS, JointBuyInput, RecordEvents, RegisterDemand
from procurement.models import DemandLine, Stage
from tests.support import new_state
from tests.workflows.conftest import buy_id
from workflows.joint_buy import JointBuyWorkflow
from workflows.search import initial_search_attributes

batches: list[RecordEvents] = []


@activity.defn(name=RECORD_EVENTS)
async def refuse_after_the_opening(batch: RecordEvents) -> int:
    """Takes the buy's opening events, then refuses everything as the real one does on a gap."""
    batches.append(batch)
    if batch.events[0].seq > 1:
        raise ApplicationError("event 7 follows 4: a gap", type="InvalidEventBatch", non_retryable=True)
    return len(batch.events)


async def test_a_refused_batch_fails_the_command_and_stops_the_buy(
    time_env: WorkflowEnvironment, task_queue: str
) -> None:
    state = new_state(buy_id(), await time_env.get_current_time())
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[refuse_after_the_opening],
    ):
        handle = await time_env.client.start_workflow(
            JointBuyWorkflow.run,
            JointBuyInput(state=state),
            id=state.buy_id,
            task_queue=task_queue,
            search_attributes=initial_search_attributes(state),
        )
        receipt = await handle.execute_update(JointBuyWorkflow.confirm_started)
        assert receipt.stage == Stage.DEMAND

        line = DemandLine(lot_id="laptops", quantity=120, baseline_unit_price=Decimal("949.00"))
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(
                JointBuyWorkflow.register_demand, RegisterDemand(council="E06000001", lines=[line])
            )
        assert isinstance(failed.value.cause, ApplicationError)
        assert failed.value.cause.type == EVENT_LOG_FAILURE

        with pytest.raises(WorkflowFailureError) as stopped:
            await handle.result()
        assert isinstance(stopped.value.cause, ActivityError)
        assert isinstance(stopped.value.cause.cause, ApplicationError)
        assert stopped.value.cause.cause.type == "InvalidEventBatch"
    refused = [b for b in batches if b.events[0].seq > 1]
    assert len(refused) == 1, "a refused batch is not retried"
