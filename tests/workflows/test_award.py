"""Evaluation, standstill, challenges and award on the time-skipping server.

Working days are counted here independently of the rules under test: weekdays minus the bank
holidays the `holidays` package lists for England, from the UK dates the events carry (the test
server's clock starts at the real time, so Christmas may well fall inside a standstill)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import (
    ChallengeReceipt,
    CorrectedMarks,
    DecideChallenge,
    EnterScores,
    LodgeChallenge,
    SubmitBid,
)
from procurement.models import Stage
from tests.workflows.conftest import (
    COUNCIL_1,
    COUNCIL_2,
    LAPTOPS,
    MONITORS,
    EventSink,
    bid,
    execute,
    negotiation_state,
    of_type,
    rejection,
    score,
    settle,
    start_buy,
    tender_two_lots,
    wait_for,
)
from workflows.joint_buy import JointBuyWorkflow

UK = ZoneInfo("Europe/London")
TWO = {"S1": "qualified", "S2": "qualified"}


# ---- an independent working-day count -------------------------------------------------------------


def working(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays.country_holidays("GB", subdiv="ENG", years=day.year)


def nth_working_day(start: date, n: int) -> date:
    """The n-th working day counting `start` as the first when it is one; `start` itself for 0."""
    day, counted = start, 0
    while n:
        counted += working(day)
        if counted == n:
            return day
        day += timedelta(days=1)
    return start


def first_working_day_after(day: date) -> date:
    return nth_working_day(day + timedelta(days=1), 1)


def working_days(first: date, last: date) -> int:
    """Working days from `first` to `last`, both included."""
    return sum(working(first + timedelta(days=n)) for n in range((last - first).days + 1))


def uk_day(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UK)


# ---- driving a buy to its award notice --------------------------------------------------------------


async def tendered(
    env: WorkflowEnvironment, task_queue: str, sink: EventSink, standstill_days: int
) -> WorkflowHandle[Any, Any]:
    """One round, two suppliers: S1 is cheaper on both lots, S2 better on quality, and S2 wins both."""
    now = await env.get_current_time()
    state = negotiation_state(now, TWO, standstill_days=standstill_days, negotiation={"rounds": 1})
    handle = await start_buy(sink, env.client, task_queue, state)
    await tender_two_lots(handle)
    await wait_for(sink, "award.notice")
    return handle


def winners(notice_data: dict[str, Any]) -> dict[str, str]:
    return {lot: award["company_number"] for lot, award in notice_data["lots"].items()}


async def test_most_advantageous_tender_wins_and_summaries_precede_the_notice(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    three = {"S1": "qualified", "S2": "qualified", "S4": "qualified"}
    handle = await start_buy(
        sink, time_env.client, task_queue, negotiation_state(now, three, negotiation={"rounds": 1})
    )
    await bid(handle, "S1", LAPTOPS, "850.00", (100, "800.00"))  # 120 committed: 800.00
    await bid(handle, "S2", LAPTOPS, "780.00")
    await bid(handle, "S4", LAPTOPS, "790.00")
    await bid(handle, "S1", MONITORS, "190.00")
    await bid(handle, "S2", MONITORS, "180.00")
    await bid(handle, "S4", MONITORS, "185.00")
    await wait_for(sink, "stage.changed")

    # 60/30/10. Laptops (lowest 780.00): S1 58.50 + 30 + 10 = 98.50 beats the cheapest,
    # S2: 60 + 15 + 5 = 80.00, and S4: 59.24 + 21 + 7 = 87.24.
    # Monitors (lowest 180.00): S2 60 + 24 + 8 = 92.00; S4 58.38 + 24 + 8 = 90.38; S1 56.84 + 3 + 1 = 60.84.
    marks = [
        ("S1", LAPTOPS, 10, 10), ("S1", LAPTOPS, 100, 100),  # a later mark replaces an earlier one
        ("S2", LAPTOPS, 50, 50), ("S4", LAPTOPS, 70, 70),
        ("S1", MONITORS, 10, 10), ("S2", MONITORS, 80, 80), ("S4", MONITORS, 80, 80),
    ]  # fmt: skip
    receipts = [await score(handle, *m) for m in marks]
    assert [r.still_to_score for r in receipts] == [5, 5, 4, 3, 2, 1, 0]
    assert all(r.stage == Stage.EVALUATION for r in receipts[:-1])
    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED  # below the threshold, with no standstill

    [notice] = of_type(sink, "award.notice")
    summaries = of_type(sink, "assessment.summary")
    assert len(summaries) == 6
    assert max(s.seq for s in summaries) < notice.seq
    award = {"unit_price", "committed_quantity", "value", "total_score", "tenders"}
    assert {
        lot: (a["company_number"], *(a[k] for k in sorted(award))) for lot, a in notice.data["lots"].items()
    } == {
        # company, committed quantity, tenders, total score, unit price, value
        LAPTOPS: ("S1", 120, 3, "98.50", "800.00", "96000.00"),
        MONITORS: ("S2", 10, 3, "92.00", "180.00", "1800.00"),
    }
    assert all(set(a) == {"company_number", *award} for a in notice.data["lots"].values())
    ranks = {
        (s.data["lot_id"], s.data["company_number"]): (s.data["rank"], s.data["successful"])
        for s in summaries
    }
    assert ranks == {
        (LAPTOPS, "S1"): (1, True), (LAPTOPS, "S4"): (2, False), (LAPTOPS, "S2"): (3, False),
        (MONITORS, "S2"): (1, True), (MONITORS, "S4"): (2, False), (MONITORS, "S1"): (3, False),
    }  # fmt: skip
    s2_laptops = next(
        s for s in summaries if s.data["lot_id"] == LAPTOPS and s.data["company_number"] == "S2"
    )
    assert s2_laptops.data["own"]["total_score"] == "80.00"
    assert s2_laptops.data["winning"]["company_number"] == "S1"
    assert s2_laptops.data["winning"]["total_score"] == "98.50"
    standstill = notice.data["standstill"]
    assert standstill["working_days"] == 0
    assert standstill["notice_on"] == standstill["last_day"] == standstill["contracts_from"]
    assert standstill["notice_on"] == uk_day(notice.at).isoformat()

    contracts = [(c.data["council"], c.data["lot"], c.data["supplier"], c.data["quantity"], c.data["total"],
                  c.data["saving"], c.data["standalone_unit_price"], c.data["aggregation_dividend"])
                 for c in of_type(sink, "contract.created")]  # fmt: skip
    assert contracts == [
        (COUNCIL_1, LAPTOPS, "S1", 60, "48000.00", "6000.00", "850.00", "3000.00"),
        (COUNCIL_1, MONITORS, "S2", 10, "1800.00", "200.00", "180.00", "0.00"),
        (COUNCIL_2, LAPTOPS, "S1", 60, "48000.00", "9000.00", "850.00", "3000.00"),
    ]
    [awarded] = of_type(sink, "buy.awarded")
    for lot, award in notice.data["lots"].items():
        assert awarded.data["lots"][lot]["total"] == award["value"]  # Σ council totals = award value
    assert awarded.data["totals"] == {
        "contracts": 3,
        "councils": 2,
        "quantity": 130,
        "total": "97800.00",
        "baseline_total": "113000.00",
        "saving": "15200.00",
        "aggregation_dividend": "6000.00",
    }
    # The contracts are the events (and PostgreSQL's projection of them), not the workflow's state:
    # the state an operator queries holds their count, whatever the number of councils.
    final = await handle.query(JointBuyWorkflow.get_state)
    assert (final.stage, final.contract_count, final.contracts) == (Stage.AWARDED, 3, [])


async def test_dismissed_challenge_resumes_standstill_with_the_days_left(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    handle = await tendered(time_env, task_queue, sink, standstill_days=8)
    [notice] = of_type(sink, "award.notice")
    assert winners(notice.data) == {LAPTOPS: "S2", MONITORS: "S2"}
    notice_on = uk_day(notice.at)
    last_day = nth_working_day(notice_on, 8)
    contracts_from = first_working_day_after(last_day)
    assert notice.data["standstill"] == {
        "notice_on": notice_on.isoformat(),
        "working_days": 8,
        "calendar": "england-and-wales",
        "last_day": last_day.isoformat(),
        "contracts_from": contracts_from.isoformat(),
    }
    entered = of_type(sink, "stage.changed")[-1]
    assert (entered.data["to"], entered.data["deadline"]) == (
        "standstill",
        midnight(contracts_from).isoformat(),
    )

    await time_env.sleep(timedelta(days=3))
    lodged_receipt: ChallengeReceipt = await execute(
        handle,
        JointBuyWorkflow.lodge_challenge,
        LodgeChallenge(company_number="S1", grounds="quality marking"),
    )
    [lodged] = await wait_for(sink, "challenge.lodged")
    lodged_on = uk_day(lodged.at)
    left = working_days(lodged_on + timedelta(days=1), last_day)  # the day it was lodged counts as used
    assert 0 < left < 8
    assert (lodged_receipt.challenge_id, lodged_receipt.days_left, lodged_receipt.stage) == (
        "ch-1",
        left,
        Stage.SUSPENDED,
    )
    assert lodged.data == {
        "challenge_id": "ch-1",
        "company_number": "S1",
        "grounds": "quality marking",
        "working_days_left": left,
    }

    # Suspended, the clock stops: days pass and nothing happens.
    await time_env.sleep(timedelta(days=6))
    held = await handle.query(JointBuyWorkflow.get_state)
    assert (held.stage, held.stage_deadline) == (Stage.SUSPENDED, None)
    assert not of_type(sink, "contract.created")

    decision = DecideChallenge(
        challenge_id="ch-1", outcome="dismissed", note="marking was consistent", actor="CCS"
    )
    await execute(handle, JointBuyWorkflow.decide_challenge, decision)
    [decided] = await wait_for(sink, "challenge.decided")
    resumed_on = uk_day(decided.at)
    assert resumed_on > lodged_on
    # The days left count from the working day after the decision (the lodging day was used).
    new_last_day = nth_working_day(first_working_day_after(resumed_on), left)
    new_contracts_from = first_working_day_after(new_last_day)
    [resumed] = await wait_for(sink, "standstill.resumed")
    assert resumed.data == {
        "notice_on": notice_on.isoformat(),
        "working_days": 8,
        "calendar": "england-and-wales",
        "last_day": new_last_day.isoformat(),
        "contracts_from": new_contracts_from.isoformat(),
    }
    # Standstill still runs 8 working days in all: those up to the challenge and those after the
    # decision day.
    assert (
        working_days(notice_on, lodged_on) + working_days(resumed_on + timedelta(days=1), new_last_day) == 8
    )
    back = of_type(sink, "stage.changed")[-1]
    assert (back.data["to"], back.data["deadline"]) == (
        "standstill",
        midnight(new_contracts_from).isoformat(),
    )

    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED
    first_contract = of_type(sink, "contract.created")[0]
    assert (
        midnight(new_contracts_from)
        <= first_contract.at
        < midnight(new_contracts_from) + timedelta(minutes=1)
    )
    state = await handle.query(JointBuyWorkflow.get_state)
    assert [(c.status, c.note, c.remedy) for c in state.challenges] == [
        ("dismissed", "marking was consistent", "")
    ]


async def test_upheld_challenge_re_evaluates_with_corrected_scores(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    handle = await tendered(time_env, task_queue, sink, standstill_days=8)
    [first_notice] = of_type(sink, "award.notice")
    assert winners(first_notice.data) == {LAPTOPS: "S2", MONITORS: "S2"}
    await time_env.sleep(timedelta(days=1))
    await execute(
        handle, JointBuyWorkflow.lodge_challenge, LodgeChallenge(company_number="S1", grounds="marks")
    )
    await time_env.sleep(timedelta(days=2))

    # S1's laptops tender re-marked 100/100: 60 + 30 + 10 = 100.00 beats S2's 800/820*60 + 27 + 9 = 94.54.
    decision = DecideChallenge(
        challenge_id="ch-1",
        outcome="upheld",
        note="quality was under-marked",
        remedy="re-evaluate",
        corrected_scores=[CorrectedMarks(lot_id=LAPTOPS, quality=100, social_value=100)],
        actor="CCS",
    )
    await execute(handle, JointBuyWorkflow.decide_challenge, decision)
    [_, second_notice] = await wait_for(sink, "award.notice", 2)
    [decided] = of_type(sink, "challenge.decided")
    assert decided.data == {
        "challenge_id": "ch-1",
        "company_number": "S1",
        "outcome": "upheld",
        "note": "quality was under-marked",
        "remedy": "re-evaluate",
        "corrected_scores": [{"lot_id": LAPTOPS, "quality": 100, "social_value": 100}],
    }
    after = [e for e in sorted(sink.events, key=lambda e: e.seq) if decided.seq < e.seq <= second_notice.seq]
    assert [e.type for e in after] == [
        "score.entered",
        "stage.changed",
        *["coalition.pass", "coalition.settled"] * 2,  # no limits: one pass per lot, nobody priced out
        *["assessment.summary"] * 4,
        "award.notice",
    ]
    assert after[0].data == {"company_number": "S1", "lot_id": LAPTOPS, "quality": 100, "social_value": 100}
    assert after[1].data["to"] == "evaluation"
    assert winners(second_notice.data) == {LAPTOPS: "S1", MONITORS: "S2"}
    assert second_notice.data["lots"][LAPTOPS]["total_score"] == "100.00"
    new_laptops = {
        s.data["company_number"]: s.data["successful"] for s in after[6:10] if s.data["lot_id"] == LAPTOPS
    }
    assert new_laptops == {"S1": True, "S2": False}
    # A fresh standstill, the full 8 working days from the new notice.
    notice_on = uk_day(second_notice.at)
    assert notice_on == uk_day(decided.at) > uk_day(first_notice.at)
    last_day = nth_working_day(notice_on, 8)
    assert second_notice.data["standstill"]["notice_on"] == notice_on.isoformat()
    assert second_notice.data["standstill"]["last_day"] == last_day.isoformat()
    assert second_notice.data["standstill"]["contracts_from"] == first_working_day_after(last_day).isoformat()

    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED
    suppliers = {
        (c.data["council"], c.data["lot"]): c.data["supplier"] for c in of_type(sink, "contract.created")
    }
    assert suppliers == {(COUNCIL_1, LAPTOPS): "S1", (COUNCIL_2, LAPTOPS): "S1", (COUNCIL_1, MONITORS): "S2"}
    [awarded] = of_type(sink, "buy.awarded")
    assert awarded.data["lots"][LAPTOPS]["company_number"] == "S1"
    assert awarded.data["lots"][LAPTOPS]["total"] == "96000.00"  # 120 × S1's 800.00
    state = await handle.query(JointBuyWorkflow.get_state)
    assert [(c.status, c.remedy) for c in state.challenges] == [("upheld", "re-evaluate")]


async def test_upheld_challenge_with_cancel_cancels_the_buy(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    handle = await tendered(time_env, task_queue, sink, standstill_days=8)
    await execute(
        handle, JointBuyWorkflow.lodge_challenge, LodgeChallenge(company_number="S1", grounds="flawed")
    )
    decision = DecideChallenge(
        challenge_id="ch-1",
        outcome="upheld",
        note="the specification was flawed",
        remedy="cancel",
        actor="CCS",
    )
    await execute(handle, JointBuyWorkflow.decide_challenge, decision)
    outcome = await handle.result()
    assert (outcome.stage, outcome.reason) == (
        Stage.CANCELLED,
        "challenge ch-1 upheld: the specification was flawed",
    )
    assert not of_type(sink, "contract.created") and not of_type(sink, "buy.awarded")
    assert [e.data["to"] for e in of_type(sink, "stage.changed")][-2:] == ["suspended", "cancelled"]


# ---- refusals ---------------------------------------------------------------------------------------


async def refused(
    handle: WorkflowHandle[Any, Any], sink: EventSink, update: Any, arg: Any, kind: str
) -> ApplicationError:
    """The command is refused with `kind` and the buy is exactly as it was."""
    before = await settle(handle, sink)
    recorded = len(sink.events)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(update, arg)
    cause = rejection(err)
    assert cause.type == kind, cause.message
    assert await handle.query(JointBuyWorkflow.get_state) == before
    assert len(sink.events) == recorded
    return cause


def submit(supplier: str, lot: str, *tiers: tuple[int, str]) -> SubmitBid:
    return SubmitBid(
        company_number=supplier, lot_id=lot, tiers=[{"min_quantity": q, "unit_price": p} for q, p in tiers]
    )


def marks(supplier: str, lot: str, quality: int, social_value: int) -> EnterScores:
    return EnterScores(
        company_number=supplier, lot_id=lot, quality=quality, social_value=social_value, actor="CCS"
    )


async def test_refused_commands_change_nothing(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    suppliers = {"S1": "qualified", "S2": "qualified", "S3": "excluded", "S4": "qualified"}
    state = negotiation_state(now, suppliers, standstill_days=8, negotiation={"rounds": 1})
    handle = await start_buy(sink, time_env.client, task_queue, state)
    submit_bid, enter_scores = JointBuyWorkflow.submit_bid, JointBuyWorkflow.enter_scores
    lodge, decide = JointBuyWorkflow.lodge_challenge, JointBuyWorkflow.decide_challenge
    challenge = LodgeChallenge(company_number="S1", grounds="g")

    # Negotiation.
    err = await refused(handle, sink, submit_bid, submit("S3", LAPTOPS, (1, "700")), "forbidden")
    assert "excluded" in err.message
    await refused(handle, sink, submit_bid, submit("S9", LAPTOPS, (1, "700")), "forbidden")
    await refused(handle, sink, submit_bid, submit("S1", "tablets", (1, "700")), "invalid")
    err = await refused(handle, sink, submit_bid, submit("S1", LAPTOPS, (1, "900"), (1, "850")), "invalid")
    assert err.details[0] == "tiers.1.min_quantity"
    err = await refused(handle, sink, submit_bid, submit("S1", LAPTOPS, (1, "0")), "invalid")
    assert err.details[0] == "tiers.0.unit_price"
    await bid(handle, "S1", LAPTOPS, "800.00")
    err = await refused(handle, sink, submit_bid, submit("S1", LAPTOPS, (1, "796.01")), "invalid")
    assert err.details == ("tiers", {"required_unit_price": "796.00"})  # 0.5 % below 800.00
    await refused(handle, sink, enter_scores, marks("S1", LAPTOPS, 50, 50), "conflict")
    await refused(handle, sink, lodge, challenge, "conflict")
    await bid(handle, "S1", LAPTOPS, "796.00")  # exactly the required price is taken
    await bid(handle, "S2", LAPTOPS, "810.00")
    await bid(handle, "S1", MONITORS, "190.00")
    # S4 never bids, so the round runs to its deadline.
    await time_env.sleep(timedelta(days=2, minutes=1))
    assert (await settle(handle, sink)).stage == Stage.EVALUATION

    # Evaluation.
    await refused(handle, sink, submit_bid, submit("S2", MONITORS, (1, "150")), "conflict")
    err = await refused(handle, sink, enter_scores, marks("S1", LAPTOPS, 101, 50), "invalid")
    assert err.details[0] == "quality"
    err = await refused(handle, sink, enter_scores, marks("S1", LAPTOPS, 50, -1), "invalid")
    assert err.details[0] == "social_value"
    await refused(handle, sink, enter_scores, marks("S4", LAPTOPS, 50, 50), "conflict")  # no tender
    await refused(handle, sink, enter_scores, marks("S2", MONITORS, 50, 50), "conflict")  # not for this lot
    await refused(handle, sink, lodge, challenge, "conflict")
    for supplier, lot in (("S1", LAPTOPS), ("S2", LAPTOPS), ("S1", MONITORS)):
        await score(handle, supplier, lot, 50, 50)
    await wait_for(sink, "award.notice")
    assert (await settle(handle, sink)).stage == Stage.STANDSTILL

    # Standstill.
    await refused(handle, sink, lodge, LodgeChallenge(company_number="S4", grounds="g"), "forbidden")
    await refused(handle, sink, lodge, LodgeChallenge(company_number="S3", grounds="g"), "forbidden")
    await refused(handle, sink, enter_scores, marks("S1", LAPTOPS, 60, 60), "conflict")
    await refused(handle, sink, submit_bid, submit("S1", LAPTOPS, (1, "700")), "conflict")
    dismiss = DecideChallenge(challenge_id="ch-1", outcome="dismissed", actor="CCS")
    await refused(handle, sink, decide, dismiss, "not_found")

    # Suspended by S2, which tendered for laptops only.
    await execute(handle, lodge, LodgeChallenge(company_number="S2", grounds="g"))
    await refused(handle, sink, lodge, challenge, "conflict")
    corrected = [CorrectedMarks(lot_id=LAPTOPS, quality=1, social_value=1)]
    err = await refused(
        handle, sink, decide, dismiss.model_copy(update={"corrected_scores": corrected}), "invalid"
    )
    assert err.details[0] == "corrected_scores"
    monitors = [CorrectedMarks(lot_id=MONITORS, quality=1, social_value=1)]
    upheld = DecideChallenge(challenge_id="ch-1", outcome="upheld", corrected_scores=monitors, actor="CCS")
    err = await refused(handle, sink, decide, upheld, "invalid")
    assert err.details[0] == "corrected_scores"
    await execute(handle, decide, dismiss)
    await refused(handle, sink, decide, dismiss, "conflict")  # already decided
    assert (await settle(handle, sink)).award[LAPTOPS].unit_price == Decimal("796.00")
