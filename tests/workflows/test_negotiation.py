"""Negotiation rounds on the time-skipping server: early close, anti-sniping extensions, rounds that
close by their deadline, rank feedback, the single-supplier shortcut, lots and buys without bids,
and a run that continues as new in the middle of a round."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from messages.joint_buy import CloseStage
from procurement.models import Stage
from tests.workflows.conftest import (
    LAPTOPS,
    MONITORS,
    EventSink,
    bid,
    negotiation_state,
    of_type,
    rejection,
    run_count,
    score,
    settle,
    sleep_until,
    start_buy,
    wait_for,
)
from workflows.joint_buy import JointBuyWorkflow

WINDOW = timedelta(minutes=5)
EARLY = "closed early: every qualified supplier bid"
TWO = {"S1": "qualified", "S2": "qualified", "S3": "excluded"}


def closes_at(event_data: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event_data["closes_at"]))


async def test_three_rounds_early_close_extensions_and_deadline(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, negotiation={"extension_window": WINDOW, "max_extensions": 2})
    handle = await start_buy(sink, time_env.client, task_queue, state)

    # Round 1: both qualified suppliers bid on both lots (the excluded one is not awaited): early close.
    await bid(handle, "S1", LAPTOPS, "800.00")
    await bid(handle, "S1", MONITORS, "190.00")
    await bid(handle, "S2", LAPTOPS, "810.00")
    last = await bid(handle, "S2", MONITORS, "185.00")
    assert (last.round, last.evaluated_unit_price, last.committed_quantity) == (1, Decimal("185.00"), 10)
    [opened_1, opened_2] = await wait_for(sink, "round.opened", 2)
    [closed_1] = await wait_for(sink, "round.closed")
    assert closed_1.at < closes_at(opened_1.data)
    assert closed_1.data == {
        "round": 1,
        "how": EARLY,
        "bids": {LAPTOPS: 2, MONITORS: 2},
        "ranks": {LAPTOPS: {"S1": 1, "S2": 2}, MONITORS: {"S2": 1, "S1": 2}},
    }
    assert opened_1.data == {
        "round": 1,
        "rounds": 3,
        "best_and_final": False,
        "closes_at": opened_1.data["closes_at"],
        "committed_quantity": {LAPTOPS: 120, MONITORS: 10},
        "qualified": ["S1", "S2"],
    }
    assert closes_at(opened_1.data) - opened_1.at == timedelta(days=2)

    # Round 2: S1 bids early (no extension). S2 snipes laptops in the last minute, twice, and each
    # time the deadline moves by exactly the extension window; the third snipe finds the cap reached.
    # Nobody bids S2's monitors, so the round closes by its (extended) deadline.
    assert (opened_2.data["round"], opened_2.data["best_and_final"]) == (2, False)
    deadline = closes_at(opened_2.data)
    assert deadline - opened_2.at == timedelta(days=2)
    early = await bid(handle, "S1", LAPTOPS, "790.00")
    assert (early.round, early.round_closes_at, early.extensions_used) == (2, deadline, 0)
    assert (early.previous_unit_price, early.evaluated_unit_price) == (Decimal("800.00"), Decimal("790.00"))
    await bid(handle, "S1", MONITORS, "180.00")
    for used, price in ((1, "780.00"), (2, "770.00")):
        await sleep_until(time_env, deadline - timedelta(minutes=1))
        receipt = await bid(handle, "S2", LAPTOPS, price)
        assert (receipt.round_closes_at, receipt.extensions_used) == (deadline + WINDOW, used)
        deadline += WINDOW
    await sleep_until(time_env, deadline - timedelta(minutes=1))
    capped = await bid(handle, "S2", LAPTOPS, "760.00")
    assert (capped.round, capped.round_closes_at, capped.extensions_used) == (2, deadline, 2)
    extended = of_type(sink, "round.extended")
    assert [e.data for e in extended] == [
        {"round": 2, "closes_at": (closes_at(opened_2.data) + WINDOW).isoformat(), "extensions_used": 1,
         "max_extensions": 2},
        {"round": 2, "closes_at": (closes_at(opened_2.data) + 2 * WINDOW).isoformat(), "extensions_used": 2,
         "max_extensions": 2},
    ]  # fmt: skip
    mid = await handle.query(JointBuyWorkflow.get_state)
    assert mid.stage == Stage.NEGOTIATION and mid.negotiation is not None
    assert (mid.negotiation.round, mid.stage_deadline) == (2, deadline)

    await time_env.sleep(timedelta(minutes=2))
    closed_2 = (await wait_for(sink, "round.closed", 2))[1]
    assert deadline <= closed_2.at < deadline + timedelta(minutes=1)
    # Rank on the latest bids so far: S2's round-1 monitors price still stands against S1's new one.
    assert closed_2.data == {
        "round": 2,
        "how": "deadline reached",
        "bids": {LAPTOPS: 4, MONITORS: 1},
        "ranks": {LAPTOPS: {"S2": 1, "S1": 2}, MONITORS: {"S1": 1, "S2": 2}},
    }

    # Round 3 is best and final; both bid on both lots, it closes early, evaluation follows.
    opened_3 = (await wait_for(sink, "round.opened", 3))[2]
    assert (opened_3.data["round"], opened_3.data["best_and_final"]) == (3, True)
    assert closes_at(opened_3.data) - opened_3.at == timedelta(days=2)
    assert opened_3.at >= closed_2.at
    await bid(handle, "S1", LAPTOPS, "750.00")
    await bid(handle, "S1", MONITORS, "170.00")
    await bid(handle, "S2", LAPTOPS, "755.00")
    await bid(handle, "S2", MONITORS, "175.00")
    final = await settle(handle, sink)
    assert final.stage == Stage.EVALUATION and final.stage_deadline is None
    assert final.negotiation is not None
    assert [(r.round, r.how, r.ranks) for r in final.negotiation.results] == [
        (1, EARLY, closed_1.data["ranks"]),
        (2, "deadline reached", closed_2.data["ranks"]),
        (3, EARLY, {LAPTOPS: {"S1": 1, "S2": 2}, MONITORS: {"S1": 1, "S2": 2}}),
    ]
    # The state keeps each supplier's latest bid per lot; every bid is counted, and in the log.
    assert sorted((b.supplier, b.lot_id, b.round) for b in final.negotiation.bids) == [
        ("S1", LAPTOPS, 3), ("S1", MONITORS, 3), ("S2", LAPTOPS, 3), ("S2", MONITORS, 3),
    ]  # fmt: skip
    assert sum((final.negotiation.lot_bids or {}).values()) == 4 + 5 + 4
    assert len(of_type(sink, "bid.submitted")) == 4 + 5 + 4
    moved = of_type(sink, "stage.changed")[-1]
    assert moved.data == {
        "from": "negotiation",
        "to": "evaluation",
        "deadline": None,
        "reason": f"round 3 (best and final) {EARLY}",
    }
    assert "lot.unsuccessful" not in sink.types()
    assert len(of_type(sink, "round.extended")) == 2


async def test_single_qualified_supplier_makes_one_final_offer(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, {"S1": "qualified", "S2": "excluded"})
    handle = await start_buy(sink, time_env.client, task_queue, state)
    [opened] = await wait_for(sink, "round.opened")
    assert (opened.data["rounds"], opened.data["best_and_final"], opened.data["qualified"]) == (
        1,
        True,
        ["S1"],
    )

    await bid(handle, "S1", LAPTOPS, "850.00", (100, "820.00"))
    receipt = await bid(handle, "S1", MONITORS, "190.00")
    assert receipt.stage == Stage.EVALUATION
    [closed] = await wait_for(sink, "round.closed")
    assert closed.data["how"] == EARLY
    assert closed.data["ranks"] == {LAPTOPS: {"S1": 1}, MONITORS: {"S1": 1}}
    assert of_type(sink, "stage.changed")[-1].data["to"] == "evaluation"

    await score(handle, "S1", LAPTOPS, 60, 50)
    await score(handle, "S1", MONITORS, 60, 50)
    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED
    [notice] = of_type(sink, "award.notice")
    assert {lot: a["company_number"] for lot, a in notice.data["lots"].items()} == {
        LAPTOPS: "S1",
        MONITORS: "S1",
    }
    assert notice.data["lots"][LAPTOPS]["unit_price"] == "820.00"  # 120 committed reaches the 100 tier
    assert {c.data["supplier"] for c in of_type(sink, "contract.created")} == {"S1"}


async def test_lot_without_a_valid_bid_is_unsuccessful_and_the_other_goes_on(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, negotiation={"rounds": 2})
    handle = await start_buy(sink, time_env.client, task_queue, state)
    await bid(handle, "S1", LAPTOPS, "800.00")
    await bid(handle, "S2", LAPTOPS, "790.00")
    await time_env.sleep(timedelta(days=2, minutes=1))  # round 1 closes by its deadline
    await bid(handle, "S1", LAPTOPS, "780.00")
    await time_env.sleep(timedelta(days=2, minutes=1))  # and so does round 2

    await wait_for(sink, "stage.changed")
    assert [e.data["how"] for e in await wait_for(sink, "round.closed", 2)] == ["deadline reached"] * 2
    assert [e.data["bids"] for e in of_type(sink, "round.closed")] == [{LAPTOPS: 2}, {LAPTOPS: 1}]
    [unsuccessful] = await wait_for(sink, "lot.unsuccessful")
    assert unsuccessful.data == {"lot_id": MONITORS, "reason": "no valid bid in any round"}
    state = await handle.query(JointBuyWorkflow.get_state)
    assert state.stage == Stage.EVALUATION
    assert state.unsuccessful_lots == {MONITORS: "no valid bid in any round"}

    await score(handle, "S1", LAPTOPS, 50, 50)
    done = await score(handle, "S2", LAPTOPS, 50, 50)
    assert done.still_to_score == 0
    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED
    [notice] = of_type(sink, "award.notice")
    assert list(notice.data["lots"]) == [LAPTOPS]
    assert {(c.data["council"], c.data["lot"]) for c in of_type(sink, "contract.created")} == {
        ("E06000001", LAPTOPS),
        ("E06000002", LAPTOPS),
    }


async def test_no_bid_at_all_makes_the_buy_unsuccessful(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, negotiation={"rounds": 2})
    handle = await start_buy(sink, time_env.client, task_queue, state)
    outcome = await handle.result()  # waiting for the result lets the server skip both deadlines
    assert (outcome.stage, outcome.reason) == (Stage.UNSUCCESSFUL, "no valid bid on any lot")
    assert [(e.data["round"], e.data["bids"], e.data["ranks"]) for e in of_type(sink, "round.closed")] == [
        (1, {}, {}),
        (2, {}, {}),
    ]
    assert sorted(e.data["lot_id"] for e in of_type(sink, "lot.unsuccessful")) == [LAPTOPS, MONITORS]
    assert "evaluation" not in [e.data["to"] for e in of_type(sink, "stage.changed")]


async def test_continue_as_new_mid_round_keeps_round_bids_and_deadline(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, negotiation={"extension_window": WINDOW})
    handle = await start_buy(sink, time_env.client, task_queue, state, messages_per_run=10)
    [opened] = await wait_for(sink, "round.opened")
    deadline = closes_at(opened.data)

    # Round 1 stays open across a handover: S1 keeps improving, one bid extends the round.
    await sleep_until(time_env, deadline - timedelta(minutes=1))
    first = await bid(handle, "S1", LAPTOPS, "900.00")
    assert (first.round_closes_at, first.extensions_used) == (deadline + WINDOW, 1)
    price = Decimal("900.00")
    for _ in range(11):
        price -= 5
        await bid(handle, "S1", LAPTOPS, str(price))
    assert await run_count(time_env, handle.id, handle.first_execution_run_id) >= 2
    mid = await handle.query(JointBuyWorkflow.get_state)
    assert mid.negotiation is not None
    assert mid.negotiation.round == 1
    assert (mid.negotiation.extensions_used, mid.stage_deadline) == (1, deadline + WINDOW)
    # Twelve bids, across two runs: the state holds the latest, the counts hold all twelve.
    assert [(b.supplier, b.evaluated_unit_price) for b in mid.negotiation.bids] == [("S1", price)]
    assert mid.negotiation.bids_on(LAPTOPS) == mid.negotiation.bids_on(LAPTOPS, this_round=True) == 12
    # The decrement still holds against the bid made in the previous run.
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await bid(handle, "S1", LAPTOPS, str(price - Decimal("0.01")))
    assert rejection(err).type == "invalid"
    assert price == Decimal("845.00")
    # 845.00 × 0.995 = 840.775, rounded down to the penny
    assert rejection(err).details == ("tiers", {"required_unit_price": "840.77"})

    for rnd in range(3):
        await bid(handle, "S1", MONITORS, str(190 - rnd * 5))
        await bid(handle, "S2", LAPTOPS, str(880 - rnd * 10))
        await bid(handle, "S2", MONITORS, str(195 - rnd * 5))
        if rnd < 2:
            price -= 10
            await bid(handle, "S1", LAPTOPS, str(price))
    for supplier in ("S1", "S2"):
        for lot in (LAPTOPS, MONITORS):
            await score(handle, supplier, lot, 70, 70)
    outcome = await handle.result()
    assert outcome.stage == Stage.AWARDED
    assert await run_count(time_env, handle.id, handle.first_execution_run_id) >= 3
    assert [e.data["round"] for e in of_type(sink, "round.closed")] == [1, 2, 3]
    seqs = sorted(e.seq for e in sink.events)
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost or written twice across runs
    assert sink.types()[-1] == "stage.changed" and of_type(sink, "buy.awarded")


async def test_bid_that_closes_its_round_is_told_about_its_own_round(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    """The receipt describes the round as the bid left it, even when that bid closed the round
    early and the next round opened before the bid was recorded."""
    now = await time_env.get_current_time()
    state = negotiation_state(now, TWO, negotiation={"extension_window": WINDOW})
    handle = await start_buy(sink, time_env.client, task_queue, state)
    [opened_1] = await wait_for(sink, "round.opened")
    deadline = closes_at(opened_1.data)
    await bid(handle, "S1", LAPTOPS, "800.00")
    await bid(handle, "S1", MONITORS, "190.00")
    await bid(handle, "S2", MONITORS, "185.00")
    await sleep_until(time_env, deadline - timedelta(minutes=1))
    last = await bid(handle, "S2", LAPTOPS, "810.00")  # extends round 1, then completes it
    await settle(handle, sink)
    [closed] = of_type(sink, "round.closed")
    [_, opened_2] = of_type(sink, "round.opened")
    assert closed.data["how"] == EARLY
    assert (last.round, last.round_closes_at, last.extensions_used) == (1, deadline + WINDOW, 1)
    assert closes_at(opened_2.data) != last.round_closes_at


async def test_the_lead_closes_a_round_early_and_the_next_one_is_not_closed_by_it(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    handle = await start_buy(sink, time_env.client, task_queue, negotiation_state(now, TWO))
    await bid(handle, "S1", LAPTOPS, "800.00")  # S2 has not bid: the round would wait for it

    close = CloseStage(stage=Stage.NEGOTIATION, actor="CCS")
    receipt = await handle.execute_update(JointBuyWorkflow.close_stage, close)
    assert receipt.stage == Stage.NEGOTIATION
    [closed_1] = await wait_for(sink, "round.closed")
    assert (closed_1.data["round"], closed_1.data["how"]) == (1, "closed early by the lead")
    assert closed_1.data["ranks"] == {LAPTOPS: {"S1": 1}}
    [requested] = of_type(sink, "stage.close_requested")
    assert (requested.actor, requested.data) == ("CCS", {"stage": "negotiation", "round": 1})

    # Round 2 is open and stays open: the lead's request closed round 1 only.
    state = await handle.query(JointBuyWorkflow.get_state)
    assert state.negotiation is not None and state.negotiation.round == 2
    assert state.stage_deadline == closes_at(of_type(sink, "round.opened")[-1].data)
    await bid(handle, "S2", LAPTOPS, "790.00")
    state = await handle.query(JointBuyWorkflow.get_state)
    assert (state.stage, state.negotiation.round) == (Stage.NEGOTIATION, 2)


async def test_no_round_to_close_outside_negotiation(
    time_env: WorkflowEnvironment, task_queue: str, sink: EventSink
) -> None:
    now = await time_env.get_current_time()
    state = negotiation_state(now, {"S1": "qualified"})  # one supplier: one round, then evaluation
    handle = await start_buy(sink, time_env.client, task_queue, state)
    await bid(handle, "S1", LAPTOPS, "800.00")
    await bid(handle, "S1", MONITORS, "190.00")
    await wait_for(sink, "stage.changed")
    close = CloseStage(stage=Stage.NEGOTIATION, actor="CCS")
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(JointBuyWorkflow.close_stage, close)
    assert rejection(failed).type == "conflict"
