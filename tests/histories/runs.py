"""Reading a recorded run of the joint-buy workflow: how it began and ended, what it took.

A buy that continues as new is a chain of runs, each with its own history. The recorder names the
files of a chain by what this module reads from each run, and the replay tests check the chain with
it: the stage the run handed over in is the one its continue-as-new input carries, cross-checked
against the stage the run itself last published (its `JointBuyStage` upserts).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.api.enums.v1 import EventType
    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter

    from messages.joint_buy import BuyOutcome, JointBuyInput
    from procurement.models import Stage
    from workflows.search import STAGE_KEY

_CONVERT = pydantic_data_converter.payload_converter


@dataclass(frozen=True)
class Run:
    """One run of a chain: the stage it started in, the stage it ended in, whether it handed over
    (continued as new) or ended the buy, and the updates it accepted, in order."""

    run_id: str
    continued_from: str
    messages_per_run: int
    started_in: Stage
    ended_in: Stage
    handed_over_to: str  # the next run's id; "" when the run ended the buy
    updates: list[str]
    published_stage: Stage  # the last JointBuyStage the run upserted (else the one it started in)

    @property
    def handed_over(self) -> bool:
        return bool(self.handed_over_to)


def read(history: WorkflowHistory) -> Run:
    first, last = history.events[0], history.events[-1]
    assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, first.event_type
    started = first.workflow_execution_started_event_attributes
    [inp] = _CONVERT.from_payloads(started.input.payloads, [JointBuyInput])
    assert isinstance(inp, JointBuyInput)
    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        attrs = last.workflow_execution_continued_as_new_event_attributes
        [carried] = _CONVERT.from_payloads(attrs.input.payloads, [JointBuyInput])
        assert isinstance(carried, JointBuyInput)
        ended_in, next_run = carried.state.stage, attrs.new_execution_run_id
    elif last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        payloads = last.workflow_execution_completed_event_attributes.result.payloads
        [outcome] = _CONVERT.from_payloads(payloads, [BuyOutcome])
        assert isinstance(outcome, BuyOutcome)
        ended_in, next_run = outcome.stage, ""
    else:
        raise AssertionError(f"the run neither handed over nor completed: {last.event_type}")
    published = inp.state.stage
    for e in history.events:
        stage = _upserted_stage(e)
        if stage is not None:
            published = stage
    return Run(
        run_id=started.original_execution_run_id,
        continued_from=started.continued_execution_run_id,
        messages_per_run=inp.messages_per_run,
        started_in=inp.state.stage,
        ended_in=ended_in,
        handed_over_to=next_run,
        updates=accepted_updates(history),
        published_stage=published,
    )


def accepted_updates(history: WorkflowHistory) -> list[str]:
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


def _upserted_stage(event: HistoryEvent) -> Stage | None:
    if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        return None
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    if STAGE_KEY.name not in fields:
        return None
    value = _CONVERT.from_payloads([fields[STAGE_KEY.name]])[0]
    return Stage(value)


def updates_around_checks(history: WorkflowHistory) -> tuple[list[str], list[str]]:
    """The updates the run accepted while one of its supplier checks (`check_*` activities) was
    scheduled and not yet finished, and those it accepted after its last check had finished."""
    pending: set[int] = set()
    checked = False
    during: list[str] = []
    after: list[str] = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if e.activity_task_scheduled_event_attributes.activity_type.name.startswith("check_"):
                pending.add(e.event_id)
                checked = True
                after = []
        elif e.event_type in _ACTIVITY_ENDS:
            pending.discard(getattr(e, _ACTIVITY_ENDS[e.event_type]).scheduled_event_id)
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            name = e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            if pending:
                during.append(name)
            elif checked:
                after.append(name)
    return during, after


_ACTIVITY_ENDS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
