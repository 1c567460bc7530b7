"""Update handlers that await (their event's receipt) must not read state another handler may change
meanwhile: a lodged challenge and the lead's upheld decision on it, processed while the challenge's
event is still being recorded, both answer, and the buy goes on (no failed workflow task).

The event sink here holds every batch until the test lets it go, so both commands are inside their
handlers, awaiting receipts, at the same time: the interleaving is forced, not hoped for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import RECORD_EVENTS, CorrectedMarks, DecideChallenge, LodgeChallenge, RecordEvents
from tests.workflows.conftest import (
    LAPTOPS,
    MONITORS,
    EventSink,
    bid,
    negotiation_state,
    of_type,
    score,
    sink_running,
    start_buy,
    wait_for,
)
from workflows.joint_buy import JointBuyWorkflow

TWO = {"S1": "qualified", "S2": "qualified"}


@dataclass
class HeldSink(EventSink):
    """Records events only while `flowing` is set."""

    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, batch: RecordEvents) -> int:
        await self.flowing.wait()
        return await EventSink.record_events(self, batch)


@pytest.fixture
async def held(time_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[HeldSink]:
    sink = HeldSink()
    sink.flowing.set()
    async with sink_running(time_env, task_queue, sink):
        yield sink


async def test_a_challenge_and_its_upheld_decision_racing_both_answer(
    time_env: WorkflowEnvironment, task_queue: str, held: HeldSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, standstill_days=8, negotiation={"rounds": 1})
    handle = await start_buy(held, time_env.client, task_queue, state)
    for supplier, laptops, monitors in (("S1", "800.00", "190.00"), ("S2", "820.00", "195.00")):
        await bid(handle, supplier, LAPTOPS, laptops)
        await bid(handle, supplier, MONITORS, monitors)
    for lot in (LAPTOPS, MONITORS):
        await score(handle, "S1", lot, 50, 50)
        await score(handle, "S2", lot, 90, 90)
    await wait_for(held, "award.notice")
    await time_env.sleep(timedelta(days=1))

    held.flowing.clear()  # from here, no event is recorded until both commands are in
    lodge = await handle.start_update(
        JointBuyWorkflow.lodge_challenge,
        LodgeChallenge(company_number="S1", grounds="marks"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    decide = await handle.start_update(
        JointBuyWorkflow.decide_challenge,
        DecideChallenge(
            challenge_id="ch-1",
            outcome="upheld",
            note="quality was under-marked",
            remedy="re-evaluate",
            corrected_scores=[CorrectedMarks(lot_id=LAPTOPS, quality=100, social_value=100)],
            actor="CCS",
        ),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    held.flowing.set()
    async with asyncio.timeout(30):
        lodged, decided = await asyncio.gather(lodge.result(), decide.result())
    assert lodged.challenge_id == "ch-1"
    [challenge] = of_type(held, "challenge.lodged")
    # The days left as the challenge left the standstill, not as the decision did (none: cleared).
    assert lodged.days_left == challenge.data["working_days_left"] > 0
    assert decided.seq > lodged.seq
    # Not wedged: the upheld decision re-evaluates and a second notice is published.
    await wait_for(held, "award.notice", 2)
