"""A run that is due to hand over continues as new, whatever traffic it gets.

Temporal suggests continue-as-new once a run's history passes a length (4,096 events by default; this
module's dev server suggests it at `SUGGEST_AT`, so a test gets there in a few dozen commands). A
workflow task that carries only updates its validators refused leaves no trace in history. The
defect these tests pin: a run whose last *recorded* task came just before the suggestion, and which
then got only commands it refuses, saw the suggestion only in tasks that are dropped. It refused
every command "handing over; retry" and never persisted its handover (seen as a buy wedged at 4,097
events for 15 minutes). The tests bring a run's history exactly to the suggestion with accepted
commands, then send it nothing but commands it must refuse, and require the run to continue as new.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from messages.joint_buy import APPLIED_EARLIER, RUN_HANDOVER, JointBuyInput, RegisterDemand
from procurement.models import BuyState, DemandLine, Stage
from tests.conftest import _binary
from tests.support import new_state, search_attribute_keys
from tests.workflows.conftest import EventSink, buy_id
from workflows.joint_buy import JointBuyWorkflow
from workflows.once import APPLIED_ONCE_PATCH
from workflows.search import initial_search_attributes

SUGGEST_AT = 160  # history events after which this server suggests continue-as-new
COUNCILS = [f"E0600{n:04d}" for n in range(1, 40)]
LINE = DemandLine(lot_id="laptops", quantity=10, baseline_unit_price=Decimal("900.00"))
# A command the rules refuse in the demand stage: a lot the buy does not have.
REFUSED = RegisterDemand(
    council="E06000001",
    lines=[DemandLine(lot_id="no-such-lot", quantity=1, baseline_unit_price=Decimal("1.00"))],
)


@pytest.fixture(scope="module")
async def suggesting_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=search_attribute_keys(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AT}",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def sink(suggesting_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[EventSink]:
    sink = EventSink()
    async with Worker(
        suggesting_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events],
    ):
        yield sink


@pytest.fixture
async def client(
    suggesting_env: WorkflowEnvironment, sink: EventSink
) -> Client:  # the worker of `sink` runs its buys
    return suggesting_env.client


async def start(
    client: Client, task_queue: str, messages_per_run: int = 1800
) -> WorkflowHandle[JointBuyWorkflow, object]:
    state = new_state(buy_id(), datetime.now(UTC))
    handle = await client.start_workflow(
        JointBuyWorkflow.run,
        JointBuyInput(state=state, messages_per_run=messages_per_run),
        id=state.buy_id,
        task_queue=task_queue,
        search_attributes=initial_search_attributes(state),
    )
    await handle.execute_update(JointBuyWorkflow.confirm_started)
    return handle


async def length(handle: WorkflowHandle[JointBuyWorkflow, object], run_id: str) -> int:
    history = await handle._client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
    return len(history.events)


def plan(distance: int) -> list[int] | None:
    """Steps of 4 (an unknown signal) and 5 (an accepted no-op update) events that bring the history
    to within one event of the suggestion, or None."""
    for fives in range(distance // 5 + 2):
        for fours in range(distance // 4 + 2):
            if abs(distance - 5 * fives - 4 * fours) <= 1:
                return [5] * fives + [4] * fours
    return None


async def bring_to_suggestion(handle: WorkflowHandle[JointBuyWorkflow, object], run_id: str) -> bool:
    """Accepted commands only, until the run's last recorded workflow task sits within one event of
    `SUGGEST_AT`: no task so far carried the suggestion, the next one will. False if overshot."""
    councils = iter(COUNCILS)
    while SUGGEST_AT - await length(handle, run_id) > 16:
        await handle.execute_update(
            JointBuyWorkflow.register_demand, RegisterDemand(council=next(councils), lines=[LINE])
        )
    steps = plan(SUGGEST_AT - await length(handle, run_id))
    if steps is None:
        return False
    for step in steps:
        before = await length(handle, run_id)
        if step == 5:
            await handle.execute_update(JointBuyWorkflow.confirm_started)
        else:
            await handle.signal("nudge")  # no handler: recorded (4 events), otherwise ignored
        # Until the step's task is complete, not just its first event appended.
        while await length(handle, run_id) < before + step:
            await asyncio.sleep(0.02)
    return abs(SUGGEST_AT - await length(handle, run_id)) <= 1


async def refuse_until_handed_over(
    handle: WorkflowHandle[JointBuyWorkflow, object], first_run: str, attempts: int = 150
) -> list[str]:
    """Send only commands the rules refuse, a tenth of a second apart, until the buy is on a new
    run; the refusals' types. Fails if the run never hands over."""
    seen: list[str] = []
    for _ in range(attempts):
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(JointBuyWorkflow.register_demand, REFUSED)
        cause = err.value.cause
        assert isinstance(cause, ApplicationError)
        seen.append(cause.type or "")
        if (await handle.describe()).run_id != first_run:
            return seen
        await asyncio.sleep(0.1)
    last = await length(handle, first_run)
    raise AssertionError(f"the run never handed over: {last} events, refusals {seen[-5:]}")


async def test_a_run_at_the_suggestion_hands_over_while_it_gets_only_refused_commands(
    client: Client, task_queue: str
) -> None:
    for _attempt in range(4):
        handle = await start(client, task_queue)
        first_run = (await handle.describe()).run_id
        if await bring_to_suggestion(handle, first_run):
            break
        await handle.terminate("overshot the suggestion; trying again with a fresh buy")
    else:
        pytest.fail("could not bring a run's history to the suggestion")
    assert (await handle.describe()).run_id == first_run  # not handed over yet
    registered: BuyState = await handle.query(JointBuyWorkflow.get_state)

    refusals = await refuse_until_handed_over(handle, first_run)

    # Every command was refused by the rules; none was refused "handing over; retry" more than
    # the few that arrive while the run drains.
    assert refusals[0] != RUN_HANDOVER
    assert refusals.count(RUN_HANDOVER) <= 3, refusals
    # The next run carries the buy on, and takes commands.
    state: BuyState = await handle.query(JointBuyWorkflow.get_state)
    assert state.stage == Stage.DEMAND
    assert state.demand == registered.demand
    receipt = await handle.execute_update(
        JointBuyWorkflow.register_demand, RegisterDemand(council="E09000001", lines=[LINE])
    )
    assert receipt.aggregate["laptops"].councils == len(registered.demand) + 1
    await handle.terminate("test finished")


async def test_a_run_at_its_message_budget_hands_over_while_it_gets_only_refused_commands(
    client: Client, task_queue: str
) -> None:
    handle = await start(client, task_queue, messages_per_run=10)
    first_run = (await handle.describe()).run_id
    # confirm_started was the first message; nine more accepted ones reach the budget.
    for council in COUNCILS[:9]:
        await handle.execute_update(
            JointBuyWorkflow.register_demand, RegisterDemand(council=council, lines=[LINE])
        )
    refusals = await refuse_until_handed_over(handle, first_run)
    assert refusals.count(RUN_HANDOVER) <= 3, refusals
    state: BuyState = await handle.query(JointBuyWorkflow.get_state)
    assert sorted(state.demand) == COUNCILS[:9]
    await handle.terminate("test finished")


async def test_a_repeat_admitted_unchecked_at_the_suggestion_is_refused_by_its_handler(
    client: Client, task_queue: str, sink: EventSink
) -> None:
    """A command an earlier run applied, sent again (the same update id) just as the next run sees
    the suggestion: its validator admits it unchecked, so its handler refuses it as a repeat
    (`workflows.once`, under its patch), and the command still has one event."""
    repeated = RegisterDemand(council="E09000001", lines=[LINE])
    for _attempt in range(4):
        handle = await start(client, task_queue)
        first_run = (await handle.describe()).run_id
        await handle.execute_update(JointBuyWorkflow.register_demand, repeated, id="demand-E09000001")
        assert await bring_to_suggestion(handle, first_run), "overshot the first run's suggestion"
        await refuse_until_handed_over(handle, first_run)
        second_run = (await handle.describe()).run_id
        if await bring_to_suggestion(handle, second_run):
            break
        await handle.terminate("overshot the suggestion; trying again with a fresh buy")
    else:
        pytest.fail("could not bring a run's history to the suggestion")

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(JointBuyWorkflow.register_demand, repeated, id="demand-E09000001")
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == APPLIED_EARLIER, cause
    assert cause.details[0] == first_run
    history = await client.get_workflow_handle(handle.id, run_id=second_run).fetch_history()
    assert APPLIED_ONCE_PATCH in patches(history), "refused by its validator, not its handler"
    await handle.query(JointBuyWorkflow.get_state)
    registered = [e for e in sink.events if e.type == "demand.registered" and e.actor == "E09000001"]
    assert len(registered) == 1, registered
    await handle.terminate("test finished")


def patches(history: WorkflowHistory) -> list[str]:
    """The patches a run's history recorded (`workflow.patched` markers)."""
    convert = pydantic_data_converter.payload_converter
    found = []
    for e in history.events:
        if e.HasField("marker_recorded_event_attributes"):
            data = e.marker_recorded_event_attributes.details["patch-data"].payloads
            found.append(convert.from_payloads(data)[0]["id"])
    return found
