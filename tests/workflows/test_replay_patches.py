"""Buys already running when negotiation rounds shipped must keep replaying.

`tests/histories/pre_negotiation_wait.json` was recorded with the release before rounds existed: the
buy passed assurance, entered `negotiation`, waited there (that release had nothing to do in it) for
three days, and was cancelled (recorded at commit 1207736 on the time-skipping server, with the drive
of `tests/histories/record.py` cut down to two councils and two clean suppliers). Today's workflow
opens round 1 on entering negotiation, a timer the old history never made;
`workflow.patched("negotiation-rounds")` keeps old runs on the old path.
"""

from __future__ import annotations

from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from messages.joint_buy import BuyOutcome, JointBuyInput, RecordEvents
    from procurement.models import Stage
    from tests.support import CONVERTER
    from workflows.joint_buy import JointBuyWorkflow
    from workflows.stage import StageWindow

PRE_NEGOTIATION = "pre_negotiation_wait.json"


def load() -> WorkflowHistory:
    path = Path(__file__).resolve().parents[1] / "histories" / PRE_NEGOTIATION
    return WorkflowHistory.from_json("jb-replay-pre-negotiation", path.read_text(encoding="utf-8"))


def replayer(workflow_class: type) -> Replayer:
    return Replayer(workflows=[workflow_class], data_converter=CONVERTER)


def recorded_stages(history: WorkflowHistory) -> list[str]:
    convert = pydantic_data_converter.payload_converter
    stages = []
    for e in history.events:
        if e.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attrs = e.activity_task_scheduled_event_attributes
        if attrs.activity_type.name != "record_events":
            continue
        [batch] = convert.from_payloads(attrs.input.payloads, [RecordEvents])
        stages += [ev.data["to"] for ev in batch.events if ev.type == "stage.changed"]
    return stages


def test_history_is_a_buy_parked_in_negotiation() -> None:
    """Guard the fixture: it reached negotiation under the old release, opened no round, waited
    (a timer-free three days), then was cancelled."""
    history = load()
    assert recorded_stages(history) == ["demand", "sign_up", "assurance", "negotiation", "cancelled"]
    assert "round.opened" not in history.to_json()
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    [outcome] = pydantic_data_converter.payload_converter.from_payloads(
        last.workflow_execution_completed_event_attributes.result.payloads, [BuyOutcome]
    )
    assert outcome == BuyOutcome(stage=Stage.CANCELLED, reason="rounds move to the new release")


async def test_buy_parked_in_negotiation_replays_on_todays_workflow() -> None:
    result = await replayer(JointBuyWorkflow).replay_workflow(load())
    assert result.replay_failure is None


@workflow.defn(name="JointBuyWorkflow")
class UnguardedRounds(JointBuyWorkflow):
    """Changed: opens the round whenever it waits in negotiation, as if the patch were forgotten."""

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)

    async def _through(self, stage: StageWindow) -> None:
        if self._buy.state.stage == Stage.NEGOTIATION:
            self._negotiation.start()
        await super()._through(stage)


async def test_rounds_without_the_patch_would_break_running_buys() -> None:
    with pytest.raises(workflow.NondeterminismError):
        await replayer(UnguardedRounds).replay_workflow(load())
