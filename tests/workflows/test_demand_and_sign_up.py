"""The demand and sign-up stages on the time-skipping server."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import Cancel, CloseStage, RegisterDemand, SignUp, WithdrawDemand
from procurement.models import DemandLine, SignUpLine, Stage
from tests.support import new_state
from tests.workflows.conftest import EventSink, buy_id, execute, start_buy
from workflows.joint_buy import JointBuyWorkflow


def demand(lot: str, qty: int, price: str = "950.00") -> DemandLine:
    return DemandLine(lot_id=lot, quantity=qty, baseline_unit_price=Decimal(price))


async def _register(handle, council: str, *lines: DemandLine) -> None:
    await execute(
        handle, JointBuyWorkflow.register_demand, RegisterDemand(council=council, lines=list(lines))
    )


async def _sign_up(handle, council: str, lot: str, qty: int) -> None:
    await handle.execute_update(
        JointBuyWorkflow.sign_up,
        SignUp(council=council, lines=[SignUpLine(lot_id=lot, quantity=qty)]),
    )


def _rejection(err: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_fourteen_day_window_passes_on_its_deadline(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 120))
    await _register(handle, "E06000002", demand("laptops", 80), demand("monitors", 10))

    started = time.monotonic()
    await time_env.sleep(timedelta(days=14, seconds=1))
    state = await handle.query(JointBuyWorkflow.get_state)
    print(f"a 14-day demand window passed in {time.monotonic() - started:.3f} s of wall time")
    assert await time_env.get_current_time() - now >= timedelta(days=14)
    assert state.stage == Stage.SIGN_UP
    assert state.stage_deadline is not None
    # The sign-up window runs from when demand actually closed.
    window = state.stage_deadline - (now + timedelta(days=14))
    assert timedelta(days=7) <= window < timedelta(days=7, seconds=2)
    closed = next(e for e in sink_worker.events if e.type == "demand.closed")
    assert closed.data["aggregate"]["laptops"]["indicative_quantity"] == 200
    assert closed.data["aggregate"]["laptops"]["councils"] == 2
    assert closed.data["how"] == "deadline reached"


async def test_early_close_withdrawal_and_drop_out(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 120))
    await _register(handle, "E06000002", demand("laptops", 60))
    await _register(handle, "E06000003", demand("laptops", 50))
    await _register(handle, "E06000003", demand("laptops", 40))  # replaces, not adds
    await handle.execute_update(JointBuyWorkflow.withdraw_demand, WithdrawDemand(council="E06000002"))

    receipt = await handle.execute_update(
        JointBuyWorkflow.close_stage, CloseStage(stage=Stage.DEMAND, actor="CCS")
    )
    assert receipt.stage == Stage.SIGN_UP
    assert receipt.aggregate["laptops"].indicative_quantity == 160
    assert receipt.aggregate["laptops"].councils == 2

    await _sign_up(handle, "E06000001", "laptops", 110)
    # E06000003 registered but never confirms: it drops out when the lead closes sign-up.
    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.SIGN_UP, actor="CCS"))
    state = await handle.query(JointBuyWorkflow.get_state)
    # One council signed up but the buy needs two: unsuccessful, with the reason.
    assert state.dropped_out == ["E06000003"]
    assert state.stage == Stage.UNSUCCESSFUL
    assert "1 councils signed up; at least 2" in state.outcome_reason
    assert await handle.result() is not None
    types = sink_worker.types()
    assert types.count("demand.registered") == 4
    assert "demand.withdrawn" in types and "sign_up.closed" in types
    assert [e.seq for e in sorted(sink_worker.events, key=lambda e: e.seq)] == list(range(1, len(types) + 1))


async def test_viable_buy_moves_to_assurance_and_failed_lot_is_unsuccessful(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 120), demand("monitors", 5))
    await _register(handle, "E06000002", demand("laptops", 80))
    await time_env.sleep(timedelta(days=14, seconds=1))
    await _sign_up(handle, "E06000001", "laptops", 60)
    await _sign_up(handle, "E06000002", "laptops", 80)
    await time_env.sleep(timedelta(days=7, seconds=1))
    state = await handle.query(JointBuyWorkflow.get_state)
    # Nobody committed to monitors: that lot alone is unsuccessful; the buy goes on to assurance.
    assert set(state.unsuccessful_lots) == {"monitors"}
    assert state.dropped_out == []
    moves = [e.data["to"] for e in sink_worker.events if e.type == "stage.changed"]
    assert moves[:3] == ["demand", "sign_up", "assurance"]
    # No supplier registered interest, so assurance qualifies nobody.
    outcome = await handle.result()
    assert outcome.stage == Stage.UNSUCCESSFUL and outcome.reason == "no supplier qualified"


async def test_viability_failure_on_quantity(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 40))
    await _register(handle, "E06000002", demand("laptops", 40))
    await time_env.sleep(timedelta(days=14, seconds=1))
    await _sign_up(handle, "E06000001", "laptops", 40)
    await _sign_up(handle, "E06000002", "laptops", 40)
    outcome = await handle.result()
    assert outcome.stage == Stage.UNSUCCESSFUL
    assert outcome.reason == "no lot reached its minimum committed quantity"


async def test_refused_commands_change_nothing(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 100))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _register(handle, "E06000002", demand("tablets", 5))
    assert _rejection(err).type == "invalid"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _sign_up(handle, "E06000001", "laptops", 10)
    assert _rejection(err).type == "conflict"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            JointBuyWorkflow.close_stage, CloseStage(stage=Stage.SIGN_UP, actor="CCS")
        )
    assert _rejection(err).type == "conflict"

    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.DEMAND, actor="CCS"))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _register(handle, "E06000001", demand("laptops", 5))
    assert _rejection(err).type == "conflict"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _sign_up(handle, "E06000001", "laptops", 101)
    assert _rejection(err).type == "invalid"
    assert "exceeds the registered demand of 100" in str(_rejection(err))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _sign_up(handle, "E06000009", "laptops", 1)
    assert _rejection(err).type == "conflict"

    state = await handle.query(JointBuyWorkflow.get_state)
    assert state.signups == {}
    assert list(state.demand) == ["E06000001"]
    assert state.demand["E06000001"][0].quantity == 100


async def test_cancel_at_any_stage(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink_worker, time_env.client, task_queue, new_state(buy_id(), now))
    await _register(handle, "E06000001", demand("laptops", 100))
    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.DEMAND, actor="CCS"))
    receipt = await handle.execute_update(
        JointBuyWorkflow.cancel, Cancel(reason="budget withdrawn", actor="CCS")
    )
    assert receipt.stage == Stage.CANCELLED
    outcome = await handle.result()
    assert outcome.stage == Stage.CANCELLED and outcome.reason == "budget withdrawn"
    # The run has ended: Temporal itself refuses further commands.
    with pytest.raises(RPCError):
        await handle.execute_update(JointBuyWorkflow.cancel, Cancel(reason="again", actor="CCS"))
    cancelled = next(e for e in sink_worker.events if e.type == "buy.cancelled")
    assert cancelled.data == {"reason": "budget withdrawn", "stage": "sign_up"}


async def test_continues_as_new_before_message_limits_and_keeps_state(
    time_env: WorkflowEnvironment, task_queue: str, sink_worker: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(
        sink_worker, time_env.client, task_queue, new_state(buy_id(), now), messages_per_run=10
    )
    for n in range(25):
        await _register(handle, f"E0600{n:04d}", demand("laptops", n + 1))
    state = await handle.query(JointBuyWorkflow.get_state)
    assert len(state.demand) == 25
    assert sum(lines[0].quantity for lines in state.demand.values()) == sum(range(1, 26))
    assert await _run_count(time_env, handle.id, handle.first_execution_run_id) >= 3
    # The last answers' events were carried for a caller to record; nobody did here, so the
    # flusher writes them after its delay.
    await time_env.sleep(timedelta(seconds=2))
    assert sorted(e.seq for e in sink_worker.events) == list(range(1, state.next_seq))


async def _run_count(env: WorkflowEnvironment, workflow_id: str, run_id: str | None) -> int:
    """Follow the continue-as-new chain from the first run."""
    runs = 0
    while run_id:
        runs += 1
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return runs
