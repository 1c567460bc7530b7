"""A command answers in one workflow task, carrying the events its caller must record (for a buy
started, as the API starts every buy, with `answers_carry_events`).

Before, a command's handler waited for the `record_events` activity: an update, a task that
scheduled the activity, the activity's round trip through the server and a second task that
answered. Now the answer carries the buy's events up to the command's own that are not yet known to
be in PostgreSQL (`Receipt.unrecorded`); the API records them before it answers the client, and
tells the workflow with its next command (`recorded_through`). The flusher still writes every
event, after a short delay, for an API that died before writing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from messages.joint_buy import RECORD_EVENTS, RecordEvents, RegisterDemand
from procurement.models import DemandLine
from tests.support import new_state
from tests.workflows.conftest import EventSink, buy_id, start_buy, terminate_quietly, worker_activities
from workflows.event_log import MAX_CARRIED_EVENTS
from workflows.joint_buy import JointBuyWorkflow

LINE = DemandLine(lot_id="laptops", quantity=120, baseline_unit_price=Decimal("949.00"))


def council(i: int) -> str:
    return f"E0{6000001 + i}"


@dataclass
class Marks:
    """Where things happened in a run's history, by event id."""

    accepted: dict[str, int] = field(default_factory=dict)  # update id -> its acceptance
    completed: dict[str, int] = field(default_factory=dict)  # update id -> its completion
    tasks: list[int] = field(default_factory=list)  # workflow tasks completed
    scheduled: dict[str, list[int]] = field(default_factory=dict)  # activity type -> scheduled


async def marks(handle: WorkflowHandle[JointBuyWorkflow, object]) -> Marks:
    out = Marks()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            out.accepted[event.workflow_execution_update_accepted_event_attributes.protocol_instance_id] = (
                event.event_id
            )
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            out.completed[event.workflow_execution_update_completed_event_attributes.meta.update_id] = (
                event.event_id
            )
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            out.tasks.append(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            out.scheduled.setdefault(name, []).append(event.event_id)
    return out


async def tasks_between_accepted_and_completed(
    handle: WorkflowHandle[JointBuyWorkflow, object], update_id: str
) -> int:
    """How many workflow tasks completed after the update was accepted and before it completed."""
    m = await marks(handle)
    accepted, completed = m.accepted[update_id], m.completed[update_id]
    return sum(1 for t in m.tasks if accepted < t < completed)


async def test_an_answer_carries_its_events_and_takes_one_workflow_task(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    state = new_state(buy_id(), await time_env.get_current_time())
    handle = await start_buy(sink_worker, time_env.client, task_queue, state, answers_carry_events=True)

    first = await handle.execute_update(
        JointBuyWorkflow.register_demand, RegisterDemand(council=council(1), lines=[LINE]), id="first"
    )
    assert first.unrecorded, "the answer carries the events its caller must record"
    assert first.unrecorded[-1].seq == first.seq
    assert first.unrecorded[-1].type == "demand.registered"
    assert first.unrecorded[-1].data["council"] == council(1)
    assert [e.seq for e in first.unrecorded] == list(range(first.unrecorded[0].seq, first.seq + 1))

    # The caller records what the answer carried (as the API does) and says so with its next
    # command: that answer carries only its own event.
    await sink_worker.record_events(RecordEvents(buy_id=state.buy_id, events=first.unrecorded))
    second = await handle.execute_update(
        JointBuyWorkflow.register_demand,
        RegisterDemand(council=council(2), lines=[LINE], recorded_through=first.seq),
        id="second",
    )
    assert [(e.seq, e.type) for e in second.unrecorded] == [(second.seq, "demand.registered")]

    # Accepted and answered in the same workflow task: no activity round trip in between.
    assert await tasks_between_accepted_and_completed(handle, "second") == 0

    # Nobody recorded the second answer's event: the flusher writes it anyway, after its delay.
    await time_env.sleep(5)
    for _ in range(100):
        if second.seq in {e.seq for e in sink_worker.events}:
            break
        await asyncio.sleep(0.05)
    recorded = sorted(e.seq for e in sink_worker.events)
    assert recorded == list(range(1, second.seq + 1)), "every event reaches the log, once"


async def test_an_answer_carries_at_most_the_bound_then_waits_for_the_log(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    """While the database does not answer, the events to carry pile up; past `MAX_CARRIED_EVENTS`
    a command waits for the flusher, as before, instead of carrying an ever larger answer."""
    gate = asyncio.Event()
    sink = EventSink()

    @activity.defn(name=RECORD_EVENTS)
    async def slow_record_events(batch: RecordEvents) -> int:
        await gate.wait()
        return await sink.record_events(batch)

    state = new_state(buy_id(), await dev_env.get_current_time())
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[slow_record_events, *worker_activities()],
    ):
        handle = await start_buy(sink, dev_env.client, task_queue, state, answers_carry_events=True)
        try:
            carried: list[int] = []
            waiting = None
            for i in range(MAX_CARRIED_EVENTS + 5):
                update = await handle.start_update(
                    JointBuyWorkflow.register_demand,
                    RegisterDemand(council=council(i), lines=[LINE]),
                    id=f"demand-{i}",
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                )
                answer = asyncio.ensure_future(update.result())
                done, _ = await asyncio.wait({answer}, timeout=2)
                if not done:
                    waiting = answer
                    break
                carried.append(len(answer.result().unrecorded))
            assert waiting is not None, "a command waited once there was too much to carry"
            assert carried == sorted(carried) and max(carried) <= MAX_CARRIED_EVENTS
            assert max(carried) > MAX_CARRIED_EVENTS - 5, "it carried up to the bound first"

            gate.set()  # the database answers again
            receipt = await asyncio.wait_for(waiting, timeout=30)
            assert receipt.unrecorded == [], "it answered once the flusher had recorded its event"
            assert receipt.seq in {e.seq for e in sink.events}
        finally:
            gate.set()
            await handle.terminate("test finished")


async def activities_scheduled_between(
    handle: WorkflowHandle[JointBuyWorkflow, object], first_update: str, last_update: str, name: str
) -> int:
    """How many `name` activities were scheduled after `first_update` was accepted and before
    `last_update` completed."""
    m = await marks(handle)
    start, end = m.accepted[first_update], m.completed[last_update]
    return sum(1 for s in m.scheduled.get(name, []) if start < s < end)


async def test_commands_whose_callers_record_them_schedule_no_background_write(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    """A run of commands, each caller recording what its answer carried and saying so with the
    next command (as the API does), costs no `record_events` activity while it lasts: the flusher
    waits its delay for events an answer will carry, and they are acknowledged before it ends.
    (Before, the flusher looked while the handler let the stage act, took the command's event for
    one no answer carries, and wrote it at once: an activity and two more tasks per command.)"""
    state = new_state(buy_id(), await time_env.get_current_time())
    handle = await start_buy(sink_worker, time_env.client, task_queue, state, answers_carry_events=True)
    # The start's own events (the buy opening, its first stage) are written at once; let that end.
    for _ in range(200):
        if sink_worker.events:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)

    commands = 8
    recorded = 0
    for i in range(commands):
        receipt = await handle.execute_update(
            JointBuyWorkflow.register_demand,
            RegisterDemand(council=council(i), lines=[LINE], recorded_through=recorded),
            id=f"hinted-{i}",
        )
        await sink_worker.record_events(RecordEvents(buy_id=state.buy_id, events=receipt.unrecorded))
        recorded = receipt.seq

    writes = await activities_scheduled_between(handle, "hinted-0", f"hinted-{commands - 1}", RECORD_EVENTS)
    # At most one timed safety-net write per second the run took, never one per command.
    assert writes <= 1, f"{writes} background writes for {commands} recorded commands"
    await terminate_quietly(handle)
