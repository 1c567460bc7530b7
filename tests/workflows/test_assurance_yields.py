"""Assurance at scale, and a main loop that stays responsive while checks run.

The real check activities over in-memory providers (as `test_assurance.py`), on a time-skipping
server of this module's own. Suppliers are checked at most `IN_FLIGHT_SUPPLIERS` at a time; a run
takes only as many as its budget allows and hands the rest to its successor (continue-as-new). Held
registers (lookups that do not answer until the test lets them) keep checks in flight while the
buy is cancelled, its run hands over, or its event log fails: each is answered with those checks
still open, instead of after them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from activities.assurance import AssuranceActivities
from messages.joint_buy import (
    RECORD_EVENTS,
    Cancel,
    CloseStage,
    JointBuyInput,
    RecordEvents,
)
from procurement.assurance import DebarmentEntry
from procurement.models import BuyState, DemandLine, DomainEvent, SignUpLine, Stage, SupplierEntry
from tests.conftest import temporal_test_server_path
from tests.support import new_state, register_search_attributes
from tests.workflows.conftest import EventSink, buy_id, execute, terminate_quietly
from tests.workflows.test_assurance import Registries, profile
from workflows.assurance import CHECK_HISTORY_EVENTS, IN_FLIGHT_SUPPLIERS
from workflows.joint_buy import JointBuyWorkflow
from workflows.search import initial_search_attributes

HISTORY_WARNING = 10_240  # events: Temporal warns about a run's history beyond this
PAYLOAD_LIMIT = 1_000_000  # bytes: well under Temporal's 2 MB
CHECK_ACTIVITIES = frozenset(
    {
        "check_company_status",
        "check_debarment",
        "check_financial_standing",
        "check_insurance",
        "check_certifications",
        "check_modern_slavery",
        "check_carbon_reduction_plan",
    }
)


@dataclass
class HeldRegistries(Registries):
    """Registries whose company register does not answer for `held` companies until `release`."""

    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def company_status(self, company_number: str) -> str | None:
        if company_number in self.held:
            self.waiting += 1
            try:
                await self.release.wait()
            finally:
                self.waiting -= 1
        return await super().company_status(company_number)


@dataclass
class RefusingSink(EventSink):
    """Records events until `refuse` says no to a batch, then refuses it as the database does an
    event-sequence gap: for good."""

    refuse: Callable[[RecordEvents], bool] = lambda _batch: False
    seqs: set[int] = field(default_factory=set)
    kinds: Counter[str] = field(default_factory=Counter)

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, batch: RecordEvents) -> int:
        if self.refuse(batch):
            raise ApplicationError(
                "the log ends before this batch", type="InvalidEventBatch", non_retryable=True
            )
        new = [e for e in batch.events if e.seq not in self.seqs]  # a retried batch adds nothing
        self.events.extend(new)
        self.seqs.update(e.seq for e in new)
        self.kinds.update(e.type for e in new)
        return len(new)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server_path(),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@dataclass
class Setup:
    env: WorkflowEnvironment
    task_queue: str
    reg: HeldRegistries
    sink: RefusingSink

    @property
    def client(self) -> Client:
        return self.env.client


@contextlib.asynccontextmanager
async def running(
    env: WorkflowEnvironment, task_queue: str, *, sandboxed: bool = True
) -> AsyncIterator[Setup]:
    reg, sink = HeldRegistries(), RefusingSink()
    checks = AssuranceActivities(reg, reg, reg)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events, *checks.all()],
        max_concurrent_activities=200,
        **({} if sandboxed else {"workflow_runner": UnsandboxedWorkflowRunner()}),
    ):
        try:
            yield Setup(env, task_queue, reg, sink)
        finally:
            reg.release.set()  # held lookups answer, so the worker can stop
            for handle in sink.handles:
                await terminate_quietly(handle)


@pytest.fixture
async def setup(env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Setup]:
    async with running(env, task_queue) as s:
        yield s


@pytest.fixture
async def big_setup(env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Setup]:
    """Without the workflow sandbox: at 14,000 check activities its bookkeeping is a third of the
    worker's CPU. The other tests here run the same code in the sandbox, and every run of theirs is
    replayed."""
    async with running(env, task_queue, sandboxed=False) as s:
        yield s


def numbers(count: int) -> list[str]:
    return [f"{n:08d}" for n in range(1, count + 1)]


def signed_up_state(now: datetime, suppliers: list[str]) -> BuyState:
    """A buy in sign-up with two councils committed to 1,000 laptops and `suppliers` registered
    (as if each had registered its interest): closing sign-up starts assurance."""
    state = new_state(buy_id(), now, requirements={"certifications": ["cyber_essentials"]})
    state.stage = Stage.SIGN_UP
    state.stage_deadline = now + timedelta(days=7)
    state.demand = {
        "E06000001": [DemandLine(lot_id="laptops", quantity=600, baseline_unit_price=Decimal("900.00"))],
        "E06000002": [DemandLine(lot_id="laptops", quantity=400, baseline_unit_price=Decimal("950.00"))],
    }
    state.signups = {
        "E06000001": [SignUpLine(lot_id="laptops", quantity=600)],
        "E06000002": [SignUpLine(lot_id="laptops", quantity=400)],
    }
    state.suppliers = {number: SupplierEntry() for number in suppliers}
    return state


async def into_assurance(
    s: Setup, suppliers: list[str], messages_per_run: int = 1000
) -> WorkflowHandle[JointBuyWorkflow, Any]:
    """Start the buy in sign-up and close it: assurance begins."""
    state = signed_up_state(await s.env.get_current_time(), suppliers)
    handle = await s.client.start_workflow(
        JointBuyWorkflow.run,
        JointBuyInput(state=state, messages_per_run=messages_per_run),
        id=state.buy_id,
        task_queue=s.task_queue,
        search_attributes=initial_search_attributes(state),
    )
    s.sink.handles.append(handle)
    await execute(handle, JointBuyWorkflow.close_stage, CloseStage(stage=Stage.SIGN_UP, actor="CCS"))
    return handle


async def until(predicate: Callable[[], Any], what: str, seconds: float = 60.0) -> None:
    """Wait for `predicate` (a plain or an async callable) to hold; fail if it never does."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while True:
        held = predicate()
        if asyncio.iscoroutine(held):
            held = await held
        if held:
            return
        assert loop.time() < give_up, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def ended(handle: WorkflowHandle[JointBuyWorkflow, Any]) -> bool:
    """The buy's last run has closed (asked without waiting on its result, which would let the
    time-skipping server skip ahead past the checks' timeouts)."""
    description = await handle.describe()
    return description.close_time is not None


def recorded(s: Setup, type_: str) -> list[DomainEvent]:
    if not s.sink.kinds[type_]:
        return []
    return sorted((e for e in s.sink.events if e.type == type_), key=lambda e: e.seq)


async def runs_of(client: Client, workflow_id: str, first_run: str) -> list[list[HistoryEvent]]:
    """The histories of every run of the buy so far, first to last."""
    runs: list[list[HistoryEvent]] = []
    run_id: str | None = first_run
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(list(history.events))
        last = history.events[-1]
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        else:
            run_id = None
    return runs


async def replay(client: Client, workflow_id: str, first_run: str) -> None:
    """Every run of the buy replays on today's workflow (the checks' order is deterministic)."""
    run_id: str | None = first_run
    replayer = Replayer(workflows=[JointBuyWorkflow], data_converter=pydantic_data_converter)
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
        last = history.events[-1]
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        else:
            run_id = None


_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


def open_checks(run: list[HistoryEvent]) -> Counter[str]:
    """Check activities the run scheduled and never saw close, by kind, when the run ended."""
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in run
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name in CHECK_ACTIVITIES
    }
    for e in run:
        if e.event_type in _CLOSED:
            scheduled.pop(getattr(e, _CLOSED[e.event_type]).scheduled_event_id, None)
    return Counter(scheduled.values())


def verdicts(s: Setup) -> Counter[str]:
    return Counter(e.data["company_number"] for e in recorded(s, "assurance.checked"))


# ---- 2,000 suppliers --------------------------------------------------------------------------

SUPPLIERS = 2_000


def mixed(reg: Registries, suppliers: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """A tenth in liquidation, a tenth on the debarment list on a discretionary ground (flagged, and
    left to the buy's default: exclude), a tenth with no evidence on file, the rest clean. The
    verdict each gets from its checks, and its status once assurance is complete."""
    checked: dict[str, str] = {}
    final: dict[str, str] = {}
    for i, number in enumerate(suppliers):
        reg.statuses[number] = "active"
        reg.profiles[number] = profile(i)
        kind = i % 10
        if kind == 3:
            reg.statuses[number] = "liquidation"
            checked[number] = final[number] = "excluded"
        elif kind == 7:
            reg.debarred[number] = DebarmentEntry(ground="poor performance", mandatory=False)
            checked[number], final[number] = "flagged", "excluded"
        elif kind == 9:
            del reg.profiles[number]
            checked[number] = final[number] = "excluded"
        else:
            checked[number] = final[number] = "qualified"
    return checked, final


async def test_two_thousand_suppliers_are_assured_across_runs(big_setup: Setup) -> None:
    s = big_setup
    suppliers = numbers(SUPPLIERS)
    checked, final = mixed(s.reg, suppliers)
    # A small budget: a run checks about a hundred suppliers, then hands over.
    handle = await into_assurance(s, suppliers, messages_per_run=400)
    await until(lambda: recorded(s, "assurance.awaiting_decisions"), "every supplier checked", 600)

    # Every supplier has exactly one verdict, the one its checks give; no check ran twice.
    assert verdicts(s) == Counter(suppliers)
    assert {e.data["company_number"]: e.data["outcome"] for e in recorded(s, "assurance.checked")} == checked
    assert all(len(e.data["checks"]) == 7 for e in recorded(s, "assurance.checked"))
    assert s.reg.calls == dict.fromkeys(suppliers, 1)
    [awaiting] = recorded(s, "assurance.awaiting_decisions")
    assert sorted(awaiting.data["flagged"]) == sorted(c for c, v in checked.items() if v == "flagged")

    await s.env.sleep(timedelta(days=5, seconds=1))  # the lead decides nothing: the default applies
    await until(lambda: recorded(s, "assurance.completed"), "assurance completed")
    state: BuyState = await handle.query(JointBuyWorkflow.get_state)
    assert state.stage == Stage.NEGOTIATION
    assert {c: e.status for c, e in state.suppliers.items()} == final
    [completed] = recorded(s, "assurance.completed")
    assert completed.data["qualified"] == sorted(c for c, v in final.items() if v == "qualified")

    runs = await runs_of(s.client, handle.id, handle.first_execution_run_id or "")
    lengths = [len(run) for run in runs]
    largest = max(e.ByteSize() for run in runs for e in run)  # an event holds its payloads
    print(f"\n{SUPPLIERS} suppliers: {len(runs)} runs, histories {lengths}, largest event {largest} bytes")
    assert len(runs) > 1
    assert max(lengths) <= HISTORY_WARNING, lengths
    assert largest < PAYLOAD_LIMIT


async def test_a_long_history_hands_over_whatever_the_budget(setup: Setup) -> None:
    """With the largest budget a run may have, the run's history decides: no supplier's checks
    start past `CHECK_HISTORY_EVENTS`, the checks in flight finish, and the run hands over before
    Temporal would suggest it."""
    s = setup
    suppliers = numbers(300)
    for i, number in enumerate(suppliers):
        s.reg.statuses[number] = "active"
        s.reg.profiles[number] = profile(i)
    handle = await into_assurance(s, suppliers, messages_per_run=1800)
    await until(lambda: recorded(s, "assurance.completed"), "assurance completed", 300)
    assert verdicts(s) == Counter(suppliers)
    assert s.reg.calls == dict.fromkeys(suppliers, 1)
    runs = await runs_of(s.client, handle.id, handle.first_execution_run_id or "")
    lengths = [len(run) for run in runs]
    assert len(runs) > 1
    print(f"\nhistories {lengths}")
    assert all(CHECK_HISTORY_EVENTS <= n < 4_096 for n in lengths[:-1]), lengths


# ---- the loop answers while checks wait ----------------------------------------------------------


async def test_cancel_during_a_long_assurance_ends_the_buy_with_its_checks_still_open(setup: Setup) -> None:
    s = setup
    suppliers = numbers(3 * IN_FLIGHT_SUPPLIERS)
    for i, number in enumerate(suppliers):
        s.reg.statuses[number] = "active"
        s.reg.profiles[number] = profile(i)
    s.reg.held = set(suppliers)  # the company register does not answer while the buy is cancelled
    handle = await into_assurance(s, suppliers)
    await until(lambda: s.reg.waiting == IN_FLIGHT_SUPPLIERS, "checks in flight")

    receipt = await execute(handle, JointBuyWorkflow.cancel, Cancel(reason="budget withdrawn", actor="CCS"))
    assert receipt.stage == Stage.CANCELLED
    await until(lambda: ended(handle), "the cancelled buy's run to end")
    outcome = await handle.result()
    assert (outcome.stage, outcome.reason) == (Stage.CANCELLED, "budget withdrawn")

    # The buy ended while the register still had not answered: it did not wait for the checks,
    # and recorded no verdict after the cancel.
    assert s.reg.waiting == IN_FLIGHT_SUPPLIERS
    [run] = await runs_of(s.client, handle.id, handle.first_execution_run_id or "")
    assert open_checks(run) == Counter({"check_company_status": IN_FLIGHT_SUPPLIERS})
    assert verdicts(s) == Counter()
    types = s.sink.types()
    assert types[types.index("assurance.started") :] == [
        "assurance.started",
        "buy.cancelled",
        "stage.changed",
    ]


async def test_a_run_due_to_hand_over_during_a_long_assurance_does_so_and_its_successor_finishes(
    setup: Setup,
) -> None:
    s = setup
    suppliers = numbers(2 * IN_FLIGHT_SUPPLIERS)
    for i, number in enumerate(suppliers):
        s.reg.statuses[number] = "active"
        s.reg.profiles[number] = profile(i)
    s.reg.held = set(suppliers)
    handle = await into_assurance(s, suppliers, messages_per_run=100)
    first_run = handle.first_execution_run_id or ""
    await until(lambda: s.reg.waiting == IN_FLIGHT_SUPPLIERS, "checks in flight")

    # Accepted commands spend the run's budget while every check in flight waits on the register:
    # the run hands over without waiting for them.
    refusals = 0
    for _ in range(200):
        if (await handle.describe()).run_id != first_run:
            break
        try:
            await handle.execute_update(JointBuyWorkflow.confirm_started)
        except WorkflowUpdateFailedError as err:
            assert isinstance(err.cause, ApplicationError), err
            refusals += 1
            await asyncio.sleep(0.05)
    else:
        pytest.fail("the run never handed over while its checks were in flight")
    assert refusals <= 5
    [first, *_] = await runs_of(s.client, handle.id, first_run)
    assert open_checks(first)["check_company_status"] == IN_FLIGHT_SUPPLIERS
    assert verdicts(s) == Counter()
    state: BuyState = await handle.query(JointBuyWorkflow.get_state)
    assert {e.status for e in state.suppliers.values()} == {"registered"}

    # The register answers: the next runs check every supplier, each exactly once.
    s.reg.release.set()
    await until(lambda: recorded(s, "assurance.completed"), "assurance completed")
    assert verdicts(s) == Counter(suppliers)
    state = await handle.query(JointBuyWorkflow.get_state)
    assert state.stage == Stage.NEGOTIATION
    assert {e.status for e in state.suppliers.values()} == {"qualified"}
    await replay(s.client, handle.id, first_run)


async def test_an_event_log_failure_during_a_long_assurance_stops_the_buy_with_its_checks_still_open(
    setup: Setup,
) -> None:
    s = setup
    suppliers = numbers(2 * IN_FLIGHT_SUPPLIERS)
    for i, number in enumerate(suppliers):
        s.reg.statuses[number] = "active"
        s.reg.profiles[number] = profile(i)
    s.reg.held = set(suppliers[1:])  # one supplier is checked; the register holds the rest
    s.sink.refuse = lambda batch: any(e.type == "assurance.checked" for e in batch.events)
    handle = await into_assurance(s, suppliers)

    await until(lambda: ended(handle), "the buy to stop")
    with pytest.raises(WorkflowFailureError) as stopped:
        await handle.result()
    cause = stopped.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "InvalidEventBatch"
    assert s.reg.waiting >= IN_FLIGHT_SUPPLIERS - 1  # the register still holds them
    [run] = await runs_of(s.client, handle.id, handle.first_execution_run_id or "")
    assert open_checks(run)["check_company_status"] >= IN_FLIGHT_SUPPLIERS - 1
