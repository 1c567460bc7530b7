"""The largest award the models allow: 10,000 councils on two lots (`MAX_DEMAND_LINES`), every one
signed up, one contract per council per lot. The award's workflow task builds 20,000 contracts and
their events; it must fit in one task (no task fails or times out, which would retry it forever),
every contract reaches the log once, in bounded batches, and no payload of the run comes near
Temporal's 2 MB limit."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from messages.joint_buy import BUY_BUSY, RECORD_EVENTS, Cancel, RecordEvents
from procurement.models import MAX_DEMAND_LINES, BuyState, DemandLine, SignUpLine, Stage
from tests.workflows.conftest import (
    LAPTOPS,
    MONITORS,
    EventSink,
    negotiation_state,
    of_type,
    start_buy,
    tender_two_lots,
    worker_activities,
)
from workflows.event_log import MAX_BATCH_BYTES
from workflows.joint_buy import JointBuyWorkflow
from workflows.standstill import CONTRACTS_PER_TASK

COUNCILS = MAX_DEMAND_LINES // 2
LIMIT = 1_000_000
FAILED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
}


async def test_the_largest_award_fits_its_tasks_and_payloads(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    state = councils_state(await time_env.get_current_time(), COUNCILS, standstill_days=8)
    handle = await start_buy(sink, time_env.client, task_queue, state)
    await tender_and_mark(handle)
    outcome = await handle.result()  # the standstill's eight working days pass on the test server
    assert outcome.stage == Stage.AWARDED, outcome

    contracts = of_type(sink, "contract.created")
    assert len(contracts) == 2 * COUNCILS
    assert len({(c.data["council"], c.data["lot"]) for c in contracts}) == 2 * COUNCILS, "each once"
    [awarded] = of_type(sink, "buy.awarded")
    assert awarded.data["totals"]["contracts"] == 2 * COUNCILS

    history = await handle.fetch_history()
    failed = [EventType.Name(e.event_type) for e in history.events if e.event_type in FAILED]
    assert failed == [], "the award fitted its workflow task and its batches their activities"
    largest = max(
        p.ByteSize()
        for e in history.events
        for p in (
            *e.activity_task_scheduled_event_attributes.input.payloads,
            *e.workflow_execution_started_event_attributes.input.payloads,
            *e.workflow_execution_update_completed_event_attributes.outcome.success.payloads,
        )
    )
    assert largest <= LIMIT, f"largest payload {largest} bytes"
    batches = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "record_events"
    ]
    assert all(
        b.activity_task_scheduled_event_attributes.input.payloads[0].ByteSize() <= 2 * MAX_BATCH_BYTES
        for b in batches
    )
    final = await handle.query(JointBuyWorkflow.get_state)
    assert final.contract_count == 2 * COUNCILS and final.contracts == []


def councils_state(now: datetime, councils: int, standstill_days: int) -> BuyState:
    """`councils` councils on two lots, every one signed up; two qualified suppliers, one round."""
    state = negotiation_state(
        now,
        {"S1": "qualified", "S2": "qualified"},
        standstill_days=standstill_days,
        negotiation={"rounds": 1},
    )
    state.demand = {
        f"E04{i:06d}": [
            DemandLine(lot_id=LAPTOPS, quantity=3, baseline_unit_price=Decimal("950.00")),
            DemandLine(lot_id=MONITORS, quantity=1, baseline_unit_price=Decimal("200.00")),
        ]
        for i in range(councils)
    }
    state.signups = {
        council: [SignUpLine(lot_id=LAPTOPS, quantity=3), SignUpLine(lot_id=MONITORS, quantity=1)]
        for council in state.demand
    }
    state.totals = None  # counted once from the lines, as for a state carried before totals
    return state


async def tender_and_mark(handle: WorkflowHandle[JointBuyWorkflow, object]) -> None:
    await tender_two_lots(handle, s2_monitors="180.00", marks=((60, 50), (60, 50)))


async def test_the_award_is_made_in_batches_and_takes_no_command_halfway(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The award writes its contracts a batch at a time; while a batch waits for the database, a
    cancel (or any command) is refused for the moment with BUY_BUSY, which the API retries, and the
    award completes whole."""
    sink = EventSink()
    gate, held = asyncio.Event(), asyncio.Event()

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(batch: RecordEvents) -> int:
        if any(e.type == "contract.created" for e in batch.events):
            held.set()
            await gate.wait()
        return await sink.record_events(batch)

    councils = CONTRACTS_PER_TASK // 2 + 1  # two batches: 2,000 contracts, then 2
    state = councils_state(await dev_env.get_current_time(), councils, standstill_days=0)
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[record_events, *worker_activities()],
    ):
        handle = await start_buy(sink, dev_env.client, task_queue, state)
        try:
            await tender_and_mark(handle)
            await asyncio.wait_for(held.wait(), timeout=60)  # the first batch waits for the database
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    JointBuyWorkflow.cancel, Cancel(reason="changed our minds", actor="CCS"), id="late-cancel"
                )
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == BUY_BUSY, cause
            gate.set()
            outcome = await asyncio.wait_for(handle.result(), timeout=120)
        finally:
            gate.set()
    assert outcome.stage == Stage.AWARDED, outcome
    assert len(of_type(sink, "contract.created")) == 2 * councils
    assert not of_type(sink, "buy.cancelled")
