"""Workflow tests: time-skipping server, real workflow code, an in-memory stand-in for persistence
(the point here is orchestration; the real activity is covered against PostgreSQL in tests/db)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar import fetch_bank_holidays
from messages.joint_buy import (
    RECORD_EVENTS,
    RUN_HANDOVER,
    BidReceipt,
    Cancel,
    EnterScores,
    JointBuyInput,
    RecordEvents,
    ScoresReceipt,
    SubmitBid,
)
from procurement.models import (
    BuyState,
    DemandLine,
    DomainEvent,
    SignUpLine,
    Stage,
    SupplierEntry,
    SupplierStatus,
)
from tests.support import new_state
from workflows.joint_buy import JointBuyWorkflow
from workflows.search import initial_search_attributes


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


async def terminate_quietly(handle: WorkflowHandle[Any, Any], reason: str = "test finished") -> None:
    """Terminate a buy once no workflow task of it is in progress. The time-skipping test server
    keeps time locked for good when a run is terminated in the middle of a task (a command now
    answers in its first task, and the flusher's task may still be running when a test ends)."""
    for _ in range(100):
        try:
            described = await handle.describe()
        except RPCError:
            return
        if not described.raw_description.HasField("pending_workflow_task"):
            break
        await asyncio.sleep(0.02)
    with contextlib.suppress(RPCError):
        await handle.terminate(reason)


def worker_activities() -> list[Any]:
    """The activities the workflow calls besides recording events and checking suppliers."""
    return [fetch_bank_holidays]


@contextlib.asynccontextmanager
async def sink_running(
    env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> AsyncIterator[EventSink]:
    """A worker whose events go to `sink`; the buys it started are ended when it stops."""
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events, *worker_activities()],
    ):
        yield sink
        # A workflow left running would hold back time skipping for the tests after this one.
        for handle in sink.handles:
            await terminate_quietly(handle)


@pytest.fixture
async def sink_worker(time_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[EventSink]:
    async with sink_running(time_env, task_queue, EventSink()) as sink:
        yield sink


async def start_buy(
    sink: EventSink,
    client: Client,
    task_queue: str,
    state: BuyState,
    messages_per_run: int = 1000,
    check_patience_seconds: int = 900,
    answers_carry_events: bool = False,
) -> WorkflowHandle[JointBuyWorkflow, object]:
    handle = await client.start_workflow(
        JointBuyWorkflow.run,
        JointBuyInput(
            state=state,
            messages_per_run=messages_per_run,
            check_patience_seconds=check_patience_seconds,
            answers_carry_events=answers_carry_events,
        ),
        id=state.buy_id,
        task_queue=task_queue,
        search_attributes=initial_search_attributes(state),
    )
    sink.handles.append(handle)
    await handle.execute_update(JointBuyWorkflow.confirm_started)
    return handle


def buy_id() -> str:
    return f"jb-{uuid.uuid4().hex[:12]}"


# ---- helpers for the stages from negotiation on ---------------------------------------------------

LAPTOPS, MONITORS = "laptops", "monitors"
COUNCIL_1, COUNCIL_2 = "E06000001", "E06000002"


def negotiation_state(
    now: datetime, suppliers: dict[str, SupplierStatus], *, standstill_days: int = 0, **terms: Any
) -> BuyState:
    """A buy that has just passed assurance: two councils have committed 60 + 60 laptops and 10
    monitors, suppliers have the given statuses, and round 1 opens when the workflow starts.
    The estimated value is below the standstill threshold, so any standstill length is allowed."""
    award = {"standstill_working_days": standstill_days, **terms.pop("award", {})}
    state = new_state(buy_id(), now, estimated_value_gbp="100000", award=award, **terms)
    state.stage = Stage.NEGOTIATION
    state.demand = {
        COUNCIL_1: [
            DemandLine(lot_id=LAPTOPS, quantity=60, baseline_unit_price=Decimal("900.00")),
            DemandLine(lot_id=MONITORS, quantity=10, baseline_unit_price=Decimal("200.00")),
        ],
        COUNCIL_2: [DemandLine(lot_id=LAPTOPS, quantity=60, baseline_unit_price=Decimal("950.00"))],
    }
    state.signups = {
        COUNCIL_1: [SignUpLine(lot_id=LAPTOPS, quantity=60), SignUpLine(lot_id=MONITORS, quantity=10)],
        COUNCIL_2: [SignUpLine(lot_id=LAPTOPS, quantity=60)],
    }
    state.suppliers = {
        number: SupplierEntry(
            name=f"Supplier {number} Ltd",
            status=status,
            reason="on the debarment list" if status == "excluded" else "",
        )
        for number, status in suppliers.items()
    }
    return state


def ladder(*tiers: tuple[int, str]) -> list[dict[str, object]]:
    return [{"min_quantity": q, "unit_price": p} for q, p in tiers]


async def execute(handle: WorkflowHandle[Any, Any], update: Any, arg: Any) -> Any:
    """An update, retried while the run hands over to its successor (as the API does)."""
    for _ in range(50):
        try:
            return await handle.execute_update(update, arg)
        except WorkflowUpdateFailedError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == RUN_HANDOVER):
                raise
            await asyncio.sleep(0.05)
    raise AssertionError("the run never handed over")


async def bid(
    handle: WorkflowHandle[Any, Any], supplier: str, lot: str, price: str, *more: tuple[int, str]
) -> BidReceipt:
    """A single-price bid (from 1 unit), or a ladder when `more` tiers follow."""
    tiers = ladder((1, price), *more)
    receipt: BidReceipt = await execute(
        handle, JointBuyWorkflow.submit_bid, SubmitBid(company_number=supplier, lot_id=lot, tiers=tiers)
    )
    return receipt


async def score(
    handle: WorkflowHandle[Any, Any], supplier: str, lot: str, quality: int, social_value: int
) -> ScoresReceipt:
    cmd = EnterScores(
        company_number=supplier, lot_id=lot, quality=quality, social_value=social_value, actor="CCS"
    )
    receipt: ScoresReceipt = await execute(handle, JointBuyWorkflow.enter_scores, cmd)
    return receipt


async def tender_two_lots(
    handle: WorkflowHandle[Any, Any],
    s2_monitors: str = "195.00",
    marks: tuple[tuple[int, int], tuple[int, int]] = ((50, 50), (90, 90)),
) -> None:
    """S1 and S2 bid on both lots (S1 cheaper on laptops) and the lead marks all four tenders:
    `marks` are S1's and S2's (quality, social value), the same on both lots."""
    await bid(handle, "S1", LAPTOPS, "800.00")
    await bid(handle, "S1", MONITORS, "190.00")
    await bid(handle, "S2", LAPTOPS, "820.00")
    await bid(handle, "S2", MONITORS, s2_monitors)
    for lot in (LAPTOPS, MONITORS):
        for supplier, (quality, social_value) in zip(("S1", "S2"), marks, strict=True):
            await score(handle, supplier, lot, quality, social_value)


def rejection(err: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


def of_type(sink: EventSink, type_: str) -> list[DomainEvent]:
    return [e for e in sorted(sink.events, key=lambda e: e.seq) if e.type == type_]


async def sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip the test server's clock forward to `moment` (it must lie ahead)."""
    ahead = moment - await env.get_current_time()
    assert ahead > timedelta(0), f"{moment} has passed"
    await env.sleep(ahead)


async def run_count(env: WorkflowEnvironment, workflow_id: str, run_id: str | None) -> int:
    """Follow the continue-as-new chain from the first run."""
    runs = 0
    while run_id:
        runs += 1
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        continued = last.HasField("workflow_execution_continued_as_new_event_attributes")
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if continued
            else None
        )
    return runs


async def wait_for(sink: EventSink, type_: str, count: int = 1, timeout: float = 10.0) -> list[DomainEvent]:
    """The recorded events of a type, once at least `count` of them are in (they are written by an
    activity, so they may land a moment after the command or timer that caused them)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while len(found := of_type(sink, type_)) < count:
        assert loop.time() < give_up, f"{count} {type_} events expected, {len(found)} recorded"
        await asyncio.sleep(0.02)
    return found


async def settle(handle: WorkflowHandle[Any, Any], sink: EventSink, timeout: float = 10.0) -> BuyState:
    """Wait until every event the workflow has emitted so far is recorded, and return its state."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while True:
        state: BuyState = await handle.query(JointBuyWorkflow.get_state)
        if {e.seq for e in sink.events} >= set(range(1, state.next_seq)):
            return state
        assert loop.time() < give_up, f"events up to {state.next_seq - 1} not all recorded"
        await asyncio.sleep(0.02)


async def end_buy(handle: WorkflowHandle[Any, Any]) -> None:
    """Cancel a buy that is still running and wait for its run to end."""
    description = await handle.describe()
    if description.status == WorkflowExecutionStatus.RUNNING:
        with contextlib.suppress(WorkflowUpdateFailedError, RPCError):
            await execute(handle, JointBuyWorkflow.cancel, Cancel(reason="test finished", actor="CCS"))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(handle.result(), 10)


@pytest.fixture
async def sink(sink_worker: EventSink) -> AsyncIterator[EventSink]:
    """`sink_worker`, whose buys end by themselves at teardown: terminating a run while one of its
    activities or workflow tasks is in flight can leave the time-skipping server's clock locked, and
    every later test that waits for time to pass then hangs."""
    yield sink_worker
    for handle in sink_worker.handles:
        await end_buy(handle)
