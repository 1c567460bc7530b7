"""Workflow tests: time-skipping server, real workflow code, an in-memory stand-in for persistence
(the point here is orchestration; the real activity is covered against PostgreSQL in tests/db)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from procurement.models import BuyState, DomainEvent
from workflows.joint_buy import JointBuyWorkflow, initial_search_attributes
from workflows.messages import RECORD_EVENTS, JointBuyInput, RecordEvents


@dataclass
class EventSink:
    events: list[DomainEvent] = field(default_factory=list)
    handles: list[WorkflowHandle[JointBuyWorkflow, object]] = field(default_factory=list)

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, batch: RecordEvents) -> int:
        known = {e.seq for e in self.events}
        new = [e for e in batch.events if e.seq not in known]
        self.events.extend(new)
        return len(new)

    def types(self) -> list[str]:
        return [e.type for e in sorted(self.events, key=lambda e: e.seq)]


@pytest.fixture
async def sink_worker(time_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[EventSink]:
    sink = EventSink()
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events],
    ):
        yield sink
        # A workflow left running would hold back time skipping for the tests after this one.
        for handle in sink.handles:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


async def start_buy(
    sink: EventSink,
    client: Client,
    task_queue: str,
    state: BuyState,
    messages_per_run: int = 1000,
) -> WorkflowHandle[JointBuyWorkflow, object]:
    handle = await client.start_workflow(
        JointBuyWorkflow.run,
        JointBuyInput(state=state, messages_per_run=messages_per_run),
        id=state.buy_id,
        task_queue=task_queue,
        search_attributes=initial_search_attributes(state),
    )
    sink.handles.append(handle)
    await handle.execute_update(JointBuyWorkflow.confirm_started)
    return handle


def buy_id() -> str:
    return f"jb-{uuid.uuid4().hex[:12]}"
