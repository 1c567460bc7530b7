"""Recorded histories replay against today's workflow code.

A joint buy lives for weeks: a deploy must never change the commands a running buy already made.
`tests/histories/*.json` are real histories (recorded by `python -m tests.histories.record`); each
must replay without a nondeterminism error. A deliberately changed workflow must fail on the same
history, which shows the check has teeth.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

# This module defines workflows, so the sandbox imports it again: our models must be the same
# module objects the workflow code uses, or pydantic sees two `DomainEvent` classes.
with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from procurement.models import Stage
    from workflows.joint_buy import JointBuyWorkflow
    from workflows.messages import BuyOutcome, JointBuyInput

# The sandbox re-imports this module (it defines workflows): nothing at import time may touch the
# file system, so paths are computed when a test runs.
DEMAND_SIGN_UP = "demand_sign_up.json"


def load(name: str) -> WorkflowHistory:
    path = Path(__file__).resolve().parents[1] / "histories" / name
    return WorkflowHistory.from_json("jb-replay-demand-sign-up", path.read_text(encoding="utf-8"))


def replayer(workflow_class: type) -> Replayer:
    return Replayer(workflows=[workflow_class], data_converter=pydantic_data_converter)


def test_recorded_history_is_the_full_scenario() -> None:
    """Guard the fixture itself: demand, withdrawal, early closes, sign-ups, checks, cancel."""
    history = load(DEMAND_SIGN_UP)
    updates = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert updates == [
        "confirm_started",
        *["register_demand"] * 5,
        "withdraw_demand",
        "register_supplier",
        "register_supplier",
        "close_stage",
        "sign_up",
        "sign_up",
        "close_stage",
        "cancel",
    ]
    activities = {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert {"record_events", "check_company_status", "check_debarment"} <= activities
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    [outcome] = pydantic_data_converter.payload_converter.from_payloads(
        last.workflow_execution_completed_event_attributes.result.payloads, [BuyOutcome]
    )
    assert outcome == BuyOutcome(stage=Stage.CANCELLED, reason="budget withdrawn")


async def test_demand_and_sign_up_history_replays() -> None:
    result = await replayer(JointBuyWorkflow).replay_workflow(load(DEMAND_SIGN_UP))
    assert result.replay_failure is None


@workflow.defn(name="JointBuyWorkflow")
class Unchanged(JointBuyWorkflow):
    """Control: a subclass that changes nothing replays, so the failures below come from the
    changes, not from subclassing."""

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)


async def test_unchanged_subclass_replays() -> None:
    result = await replayer(Unchanged).replay_workflow(load(DEMAND_SIGN_UP))
    assert result.replay_failure is None


@workflow.defn(name="JointBuyWorkflow")
class WaitsFirst(JointBuyWorkflow):
    """Changed: sleeps before doing anything (a new timer where the history has an activity)."""

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@workflow.defn(name="JointBuyWorkflow")
class NotifiesOnSignUpClose(JointBuyWorkflow):
    """Changed: an extra activity when sign-up closes (as if a notification step were added
    without a patch)."""

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)

    def _close_sign_up(self, how: str) -> None:
        self._notify = asyncio.create_task(
            workflow.execute_activity("notify_councils", how, start_to_close_timeout=timedelta(seconds=10))
        )
        super()._close_sign_up(how)


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        (WaitsFirst, "Timer machine does not handle"),
        (NotifiesOnSignUpClose, "'check_company_status' does not match .* 'notify_councils'"),
    ],
)
async def test_changed_workflow_fails_to_replay(changed: type, why: str) -> None:
    with pytest.raises(workflow.NondeterminismError, match=why):
        await replayer(changed).replay_workflow(load(DEMAND_SIGN_UP))
