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

    from messages.joint_buy import BuyOutcome, JointBuyInput, RecordEvents
    from procurement.models import DomainEvent, Stage
    from tests.support import CONVERTER
    from workflows.demand import SignUpStage
    from workflows.joint_buy import JointBuyWorkflow
    from workflows.negotiation import NegotiationStage
    from workflows.stage import Next

# The sandbox re-imports this module (it defines workflows): nothing at import time may touch the
# file system, so paths are computed when a test runs.
DEMAND_SIGN_UP = "demand_sign_up.json"
NEGOTIATION_AWARD = "negotiation_award.json"
COALITION = "coalition_questions_lots.json"
HISTORIES = [DEMAND_SIGN_UP, NEGOTIATION_AWARD, COALITION]
WORKFLOW_IDS = {
    DEMAND_SIGN_UP: "jb-replay-demand-sign-up",
    NEGOTIATION_AWARD: "jb-replay-negotiation-award",
    COALITION: "jb-replay-coalition",
}


def load(name: str) -> WorkflowHistory:
    path = Path(__file__).resolve().parents[1] / "histories" / name
    return WorkflowHistory.from_json(WORKFLOW_IDS[name], path.read_text(encoding="utf-8"))


def updates(history: WorkflowHistory) -> list[str]:
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


def outcome_of(history: WorkflowHistory) -> BuyOutcome:
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    [outcome] = pydantic_data_converter.payload_converter.from_payloads(
        last.workflow_execution_completed_event_attributes.result.payloads, [BuyOutcome]
    )
    assert isinstance(outcome, BuyOutcome)
    return outcome


def domain_events(history: WorkflowHistory) -> list[DomainEvent]:
    """The buy's events as the workflow handed them to `record_events`."""
    events: list[DomainEvent] = []
    for e in history.events:
        attrs = e.activity_task_scheduled_event_attributes
        if (
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and attrs.activity_type.name == "record_events"
        ):
            [batch] = pydantic_data_converter.payload_converter.from_payloads(
                attrs.input.payloads, [RecordEvents]
            )
            events += batch.events
    return events


def replayer(workflow_class: type) -> Replayer:
    return Replayer(workflows=[workflow_class], data_converter=CONVERTER)


def test_recorded_history_is_the_full_scenario() -> None:
    """Guard the fixture itself: demand, withdrawal, early closes, sign-ups, checks, cancel."""
    history = load(DEMAND_SIGN_UP)
    assert updates(history) == [
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
    assert outcome_of(history) == BuyOutcome(stage=Stage.CANCELLED, reason="budget withdrawn")


def test_negotiation_award_history_is_the_whole_lifecycle() -> None:
    """Guard the fixture: two rounds (an early close; an extension), evaluation, standstill, a
    dismissed challenge and the award, every stage of it driven by the workflow's own timers."""
    history = load(NEGOTIATION_AWARD)
    assert updates(history) == [
        "confirm_started",
        *["register_demand"] * 2,
        *["register_supplier"] * 2,
        "close_stage",
        *["sign_up"] * 2,
        "close_stage",
        *["submit_bid"] * 8,
        *["enter_scores"] * 4,
        "lodge_challenge",
        "decide_challenge",
    ]
    events = domain_events(history)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    stages = [e.data["to"] for e in events if e.type == "stage.changed"]
    assert stages == [
        "demand", "sign_up", "assurance", "negotiation", "evaluation",
        "standstill", "suspended", "standstill", "awarded",
    ]  # fmt: skip
    types = [e.type for e in events]
    assert types.count("round.opened") == 2 and types.count("round.extended") == 1
    assert [e.data["how"] for e in events if e.type == "round.closed"] == [
        "closed early: every qualified supplier bid"
    ] * 2
    [resumed] = [e for e in events if e.type == "standstill.resumed"]
    [notice] = [e for e in events if e.type == "award.notice"]
    assert resumed.data["last_day"] > notice.data["standstill"]["last_day"]  # the challenge held it up
    assert types.count("contract.created") == 3
    # The standstill ended by its timer, not by a command.
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in history.events)
    assert outcome_of(history) == BuyOutcome(stage=Stage.AWARDED, reason="3 contracts across 2 lots")


def test_coalition_history_is_the_new_path() -> None:
    history = load(COALITION)
    names = updates(history)
    assert {"ask_question", "answer_question", "cancel_lot"} <= set(names), names
    events = domain_events(history)
    types = [e.type for e in events]
    for kind in ("question.asked", "clarification.published", "question.answered", "lot.cancelled"):
        assert kind in types, kind
    passes = [e.data for e in events if e.type == "coalition.pass"]
    assert [
        (p["aggregate"], p["company_number"], [o["council"] for o in p["priced_out"]]) for p in passes
    ] == [
        (190, "00000001", ["E06000002"]),
        (140, "00000003", ["E06000003"]),
        (110, "00000003", []),
    ]
    assert {e.data["council"] for e in events if e.type == "contract.created"} == {"E06000001", "E06000004"}
    assert outcome_of(history) == BuyOutcome(stage=Stage.AWARDED, reason="2 contracts across 1 lots")


@pytest.mark.parametrize("name", HISTORIES)
async def test_recorded_history_replays(name: str) -> None:
    result = await replayer(JointBuyWorkflow).replay_workflow(load(name))
    assert result.replay_failure is None


@workflow.defn(name="JointBuyWorkflow")
class Unchanged(JointBuyWorkflow):
    """Control: a subclass that changes nothing replays, so the failures below come from the
    changes, not from subclassing."""

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)


@pytest.mark.parametrize("name", HISTORIES)
async def test_unchanged_subclass_replays(name: str) -> None:
    result = await replayer(Unchanged).replay_workflow(load(name))
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

    @workflow.init
    def __init__(self, inp: JointBuyInput) -> None:
        super().__init__(inp)
        self._sign_up = NotifyingSignUp(self._buy)

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)


class NotifyingSignUp(SignUpStage):
    def close(self, how: str) -> Next:
        self._notify = asyncio.create_task(
            workflow.execute_activity("notify_councils", how, start_to_close_timeout=timedelta(seconds=10))
        )
        return super().close(how)


@workflow.defn(name="JointBuyWorkflow")
class NotifiesOnRoundClose(JointBuyWorkflow):
    """Changed: an extra activity whenever a negotiation round closes (a supplier notification
    added without a patch)."""

    @workflow.init
    def __init__(self, inp: JointBuyInput) -> None:
        super().__init__(inp)
        self._negotiation = NotifyingNegotiation(self._buy)

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)


class NotifyingNegotiation(NegotiationStage):
    def close(self, how: str) -> Next | None:
        self._notify = asyncio.create_task(
            workflow.execute_activity(
                "notify_suppliers", "round closed", start_to_close_timeout=timedelta(seconds=10)
            )
        )
        return super().close(how)


@pytest.mark.parametrize(
    ("changed", "name", "why"),
    [
        (WaitsFirst, DEMAND_SIGN_UP, "Timer machine does not handle"),
        (WaitsFirst, NEGOTIATION_AWARD, "Timer machine does not handle"),
        (NotifiesOnSignUpClose, DEMAND_SIGN_UP, "'check_company_status' does not match .* 'notify_councils'"),
        (NotifiesOnRoundClose, NEGOTIATION_AWARD, "Activity machine does not handle"),
    ],
)
async def test_changed_workflow_fails_to_replay(changed: type, name: str, why: str) -> None:
    with pytest.raises(workflow.NondeterminismError, match=why):
        await replayer(changed).replay_workflow(load(name))
