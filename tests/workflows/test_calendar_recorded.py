"""The bank-holiday calendar a buy decides its standstill with is in its history.

A buy reaches standstill and is challenged under one release of the `holidays` library. Then the
library learns a bank holiday it did not know (as a new release would), and the lead dismisses the
challenge. The worker keeps no workflow in its cache, so that task replays the whole history first
under the new library. The resumed standstill is counted with the calendar recorded when the buy
first needed it, not with the new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from messages.joint_buy import DecideChallenge, LodgeChallenge
from procurement import standstill as calendar_rules
from procurement.standstill import contracts_from, next_working_day, resume_standstill
from tests.workflows.conftest import (
    LAPTOPS,
    MONITORS,
    EventSink,
    bid,
    execute,
    negotiation_state,
    of_type,
    score,
    start_buy,
    terminate_quietly,
    wait_for,
    worker_activities,
)
from workflows.joint_buy import JointBuyWorkflow

TWO = {"S1": "qualified", "S2": "qualified"}


def uk_date(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo("Europe/London")).date()


@contextlib.contextmanager
def extra_bank_holiday(day: date) -> Iterator[None]:
    original = calendar_rules._bank_holidays

    def with_extra(calendar: calendar_rules.Calendar, year: int) -> frozenset[date]:
        known = original(calendar, year)
        return known | {day} if day.year == year else known

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(calendar_rules, "_bank_holidays", with_extra)
        yield


async def test_a_later_calendar_does_not_move_a_recorded_standstill(
    time_env: WorkflowEnvironment, task_queue: str
) -> None:
    sink = EventSink()
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, standstill_days=8, negotiation={"rounds": 1})
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events, *worker_activities()],
        max_cached_workflows=0,  # every workflow task replays the history from the start
    ):
        handle = await start_buy(sink, time_env.client, task_queue, state)
        for supplier, laptops, monitors in (("S1", "800.00", "190.00"), ("S2", "820.00", "195.00")):
            await bid(handle, supplier, LAPTOPS, laptops)
            await bid(handle, supplier, MONITORS, monitors)
        for lot in (LAPTOPS, MONITORS):
            await score(handle, "S1", lot, 50, 50)
            await score(handle, "S2", lot, 90, 90)
        await wait_for(sink, "award.notice")
        await time_env.sleep(timedelta(days=1))
        challenge = LodgeChallenge(company_number="S1", grounds="marks")
        await execute(handle, JointBuyWorkflow.lodge_challenge, challenge)
        [lodged] = await wait_for(sink, "challenge.lodged")

        # The decision comes on the next working day; the new library adds a bank holiday two
        # working days after it, inside the resumed standstill.
        decided_on = next_working_day(uk_date(lodged.at))
        surprise = next_working_day(next_working_day(decided_on))
        days_left = lodged.data["working_days_left"]
        assert days_left >= 3, lodged.data
        start = next_working_day(decided_on)
        expected = {
            "last_day": resume_standstill(start, days_left).isoformat(),
            "contracts_from": contracts_from(start, days_left).isoformat(),
        }
        while uk_date(await time_env.get_current_time()) < decided_on:
            await time_env.sleep(timedelta(hours=6))
        with extra_bank_holiday(surprise):
            moved = resume_standstill(start, days_left)
            assert moved != date.fromisoformat(expected["last_day"]), "the new calendar would move it"
            dismiss = DecideChallenge(
                challenge_id="ch-1", outcome="dismissed", note="marks stand", actor="CCS"
            )
            await execute(handle, JointBuyWorkflow.decide_challenge, dismiss)
            [resumed] = await wait_for(sink, "standstill.resumed")
        await terminate_quietly(handle)
    assert {k: resumed.data[k] for k in expected} == expected
    [notice] = of_type(sink, "award.notice")
    assert notice.data["standstill"]["calendar"] == "england-and-wales"
