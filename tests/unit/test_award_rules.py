"""Award rules as tables: the lead's marks, the most advantageous tender per lot, assessment
summaries, the standstill a challenge suspends and a dismissal resumes, the lead's decision, and
one contract per council per lot with its saving and aggregation dividend."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from procurement.award import (
    assessed,
    assessment_summaries,
    build_contracts,
    check_challenge,
    check_decide_challenge,
    check_marks,
    contract_totals,
    evaluate,
    lot_awards,
    missing_marks,
    open_standstill,
    resume,
    suspend,
)
from procurement.errors import ErrorKind
from procurement.models import Bid, BuyState, Challenge, LotAward, Marks, Stage, SupplierStatus
from procurement.pricing import Tier
from tests.unit.test_rounds_rules import at, bid, refused, state_with

EW = "england-and-wales"
QUALIFIED: dict[str, SupplierStatus] = {"S1": "qualified", "S2": "qualified", "S4": "qualified"}
# Final bids: laptops S1 100.00 (minute 10), S2 90.00 (minute 15); monitors S2 only.
BIDS = [
    bid("S1", "laptops", "110.00", 0),
    bid("S1", "laptops", "100.00", 10, rnd=2),
    bid("S2", "laptops", "90.00", 15, rnd=2),
    bid("S2", "monitors", "150.00", 16, rnd=2),
]


def marked(
    bids: list[Bid],
    marks: dict[str, dict[str, tuple[int, int]]] | None = None,
    *,
    stage: Stage = Stage.EVALUATION,
    **terms: Any,
) -> BuyState:
    state = state_with(bids, stage=stage, rnd=3, deadline=None, suppliers=QUALIFIED, **terms)
    for lot, by_supplier in (marks or {}).items():
        for supplier, (quality, social) in by_supplier.items():
            state.marks.setdefault(lot, {})[supplier] = Marks(quality=quality, social_value=social)
    return state


# --- who is assessed, and the lead's marks -------------------------------------------------------


def test_assessed_are_the_suppliers_with_a_final_bid_per_open_lot() -> None:
    assert assessed(marked(BIDS)) == {"laptops": ["S1", "S2"], "monitors": ["S2"]}
    assert assessed(marked(BIDS[:3])) == {"laptops": ["S1", "S2"]}
    assert assessed(marked(BIDS, unsuccessful={"monitors": "x"})) == {"laptops": ["S1", "S2"]}


@pytest.mark.parametrize(
    ("marks", "missing"),
    [
        pytest.param({}, [("laptops", "S1"), ("laptops", "S2"), ("monitors", "S2")], id="none-yet"),
        pytest.param({"laptops": {"S2": (50, 50)}}, [("laptops", "S1"), ("monitors", "S2")], id="one"),
        # S2's laptops marks do not cover its monitors tender
        pytest.param(
            {"laptops": {"S1": (1, 1), "S2": (1, 1)}}, [("monitors", "S2")], id="per-lot-not-per-supplier"
        ),
        pytest.param({"laptops": {"S1": (0, 0), "S2": (0, 0)}, "monitors": {"S2": (100, 100)}}, [], id="all"),
    ],
)
def test_missing_marks(marks: dict[str, dict[str, tuple[int, int]]], missing: list[tuple[str, str]]) -> None:
    assert missing_marks(marked(BIDS, marks)) == missing


@pytest.mark.parametrize(
    ("quality", "social"), [(0, 0), (100, 100), (0, 100), (55, 45)], ids=["zeros", "hundreds", "mixed", "mid"]
)
def test_check_marks_takes_0_to_100(quality: int, social: int) -> None:
    assert check_marks(marked(BIDS), "S1", "laptops", quality, social) == Marks(
        quality=quality, social_value=social
    )


EVALUATING = marked(BIDS)


@pytest.mark.parametrize(
    ("state", "supplier", "lot", "quality", "social", "kind", "field"),
    [
        pytest.param(EVALUATING, "S1", "laptops", -1, 50, ErrorKind.INVALID, "quality", id="quality-neg"),
        pytest.param(EVALUATING, "S1", "laptops", 101, 50, ErrorKind.INVALID, "quality", id="quality-101"),
        pytest.param(EVALUATING, "S1", "laptops", 50, 101, ErrorKind.INVALID, "social_value", id="social-hi"),
        pytest.param(EVALUATING, "S1", "laptops", 50, -5, ErrorKind.INVALID, "social_value", id="social-neg"),
        pytest.param(EVALUATING, "S1", "laptops", True, 50, ErrorKind.INVALID, "quality", id="boolean"),
        pytest.param(EVALUATING, "S4", "laptops", 50, 50, ErrorKind.CONFLICT, None, id="did-not-bid"),
        pytest.param(EVALUATING, "S1", "monitors", 50, 50, ErrorKind.CONFLICT, None, id="no-tender-for-lot"),
        pytest.param(EVALUATING, "S9", "laptops", 50, 50, ErrorKind.CONFLICT, None, id="unregistered"),
        pytest.param(EVALUATING, "S1", "tablets", 50, 50, ErrorKind.INVALID, "lot_id", id="unknown-lot"),
        pytest.param(marked(BIDS, stage=Stage.NEGOTIATION), "S1", "laptops", 50, 50, ErrorKind.CONFLICT, None,
                     id="during-negotiation"),
        pytest.param(marked(BIDS, stage=Stage.STANDSTILL), "S1", "laptops", 50, 50, ErrorKind.CONFLICT, None,
                     id="after-evaluation"),
    ],
)  # fmt: skip
def test_check_marks_refuses(
    state: BuyState, supplier: str, lot: str, quality: int, social: int, kind: ErrorKind, field: str | None
) -> None:
    err = refused(kind, lambda: check_marks(state, supplier, lot, quality, social))
    assert err.field == field


# --- evaluation ----------------------------------------------------------------------------------


def test_most_advantageous_tender_is_not_necessarily_the_cheapest() -> None:
    # 60/30/10; lowest laptops price 90.00:
    #   S1: 90/100*60 = 54.00 + 90/100*30 = 27.00 + 80/100*10 = 8.00 -> 89.00 (winner)
    #   S2: 90/ 90*60 = 60.00 + 50/100*30 = 15.00 + 50/100*10 = 5.00 -> 80.00
    state = marked(BIDS, {"laptops": {"S1": (90, 80), "S2": (50, 50)}, "monitors": {"S2": (0, 0)}})
    results = evaluate(state)
    laptops = [
        (t.supplier, t.price_score, t.quality_score, t.social_value_score, t.total_score, t.rank, t.winner)
        for t in results["laptops"]
    ]
    assert laptops == [
        ("S1", D("54.00"), D("27.00"), D("8.00"), D("89.00"), 1, True),
        ("S2", D("60.00"), D("15.00"), D("5.00"), D("80.00"), 2, False),
    ]
    # A single tender takes the full price score.
    [only] = results["monitors"]
    assert (only.supplier, only.price_score, only.total_score, only.winner) == (
        "S2",
        D("60.00"),
        D("60.00"),
        True,
    )
    # Final bids only: S1's first-round 110.00 plays no part.
    assert results["laptops"][0].evaluated_unit_price == D("100.00")


def test_evaluation_uses_the_buys_weights() -> None:
    # 80/10/10: S2: 80 + 5 + 5 = 90.00 beats S1: 72 + 9 + 8 = 89.00
    state = marked(
        BIDS,
        {"laptops": {"S1": (90, 80), "S2": (50, 50)}, "monitors": {"S2": (0, 0)}},
        award={"price_weight": 80, "quality_weight": 10, "social_value_weight": 10},
    )
    assert [(t.supplier, t.total_score) for t in evaluate(state)["laptops"]] == [
        ("S2", D("90.00")),
        ("S1", D("89.00")),
    ]


# x: 100.00, q80 s0   -> 60 + 24 + 0 = 84 ; y: 120.00, q100 s40 -> 50 + 30 + 4 = 84
@pytest.mark.parametrize(
    ("bids", "winner"),
    [
        pytest.param([bid("S1", "laptops", "100.00", 2), bid("S2", "laptops", "120.00", 1)], "S2",
                     id="equal-totals-earlier-bid-wins"),
        pytest.param([bid("S1", "laptops", "100.00", 1), bid("S2", "laptops", "120.00", 2)], "S1",
                     id="swap-times-swap-winner"),
        # S2 bid first in round 1 but its *final* bid (round 2) came after S1's
        pytest.param([bid("S2", "laptops", "125.00", 0), bid("S1", "laptops", "100.00", 5),
                      bid("S2", "laptops", "120.00", 9, rnd=2)], "S1", id="earlier-final-bid-not-first-bid"),
    ],
)  # fmt: skip
def test_tie_goes_to_the_earlier_final_bid(bids: list[Bid], winner: str) -> None:
    state = marked(bids, {"laptops": {"S1": (80, 0), "S2": (100, 40)}})
    ranked = evaluate(state)["laptops"]
    assert [t.total_score for t in ranked] == [D("84.00"), D("84.00")]
    assert ranked[0].supplier == winner and ranked[0].winner


def test_lot_awards_price_the_committed_aggregate_at_the_winners_final_bid() -> None:
    ladder = [Tier(min_quantity=1, unit_price=D("120.00")), Tier(min_quantity=100, unit_price=D("100.00"))]
    final = Bid(supplier="S1", lot_id="laptops", round=2, tiers=ladder, evaluated_unit_price=D("100.00"),
                submitted_at=at(10), seq=2)  # fmt: skip
    bids = [bid("S1", "laptops", "110.00", 0), final, *BIDS[2:]]
    state = marked(bids, {"laptops": {"S1": (90, 80), "S2": (50, 50)}, "monitors": {"S2": (10, 10)}})
    awards = lot_awards(state, evaluate(state))
    assert awards == {
        "laptops": LotAward(
            lot_id="laptops", supplier="S1", unit_price=D("100.00"), committed_quantity=120,
            value=D("12000.00"), tiers=ladder,
        ),
        "monitors": LotAward(
            lot_id="monitors", supplier="S2", unit_price=D("150.00"), committed_quantity=10,
            value=D("1500.00"), tiers=[Tier(min_quantity=1, unit_price=D("150.00"))],
        ),
    }  # fmt: skip


def test_assessment_summaries_tell_each_supplier_its_own_and_the_winning_scores() -> None:
    state = marked(BIDS, {"laptops": {"S1": (90, 80), "S2": (50, 50)}, "monitors": {"S2": (0, 0)}})
    summaries = assessment_summaries("laptops", evaluate(state)["laptops"])
    winning = {
        "company_number": "S1",
        "evaluated_unit_price": "100.00",
        "quality": 90,
        "social_value": 80,
        "price_score": "54.00",
        "quality_score": "27.00",
        "social_value_score": "8.00",
        "total_score": "89.00",
    }
    assert summaries == [
        {
            "company_number": "S1",
            "lot_id": "laptops",
            "rank": 1,
            "tenders": 2,
            "successful": True,
            "own": {k: v for k, v in winning.items() if k != "company_number"},
            "winning": winning,
        },
        {
            "company_number": "S2",
            "lot_id": "laptops",
            "rank": 2,
            "tenders": 2,
            "successful": False,
            "own": {
                "evaluated_unit_price": "90.00",
                "quality": 50,
                "social_value": 50,
                "price_score": "60.00",
                "quality_score": "15.00",
                "social_value_score": "5.00",
                "total_score": "80.00",
            },
            "winning": winning,
        },
    ]


# --- standstill, suspended and resumed -----------------------------------------------------------


@pytest.mark.parametrize(
    ("notice", "days", "calendar", "last_day", "contracts"),
    [
        pytest.param(date(2025, 3, 4), 8, EW, date(2025, 3, 13), date(2025, 3, 14), id="4-mar"),
        pytest.param(date(2024, 12, 24), 8, EW, date(2025, 1, 7), date(2025, 1, 8), id="xmas-ew"),
        pytest.param(date(2024, 12, 24), 8, "scotland", date(2025, 1, 8), date(2025, 1, 9), id="xmas-sct"),
        pytest.param(date(2025, 3, 8), 8, EW, date(2025, 3, 19), date(2025, 3, 20), id="saturday"),
        pytest.param(date(2025, 3, 8), 0, EW, date(2025, 3, 8), date(2025, 3, 8), id="none"),
    ],
)
def test_open_standstill(notice: date, days: int, calendar: str, last_day: date, contracts: date) -> None:
    state = marked(BIDS, award={"standstill_working_days": days, "calendar": calendar})
    st = open_standstill(state, notice)
    assert (st.notice_on, st.working_days, st.calendar) == (notice, days, calendar)
    assert (st.last_day, st.contracts_from, st.suspended_on, st.days_left) == (
        last_day,
        contracts,
        None,
        None,
    )


# Notice Tue 4 Mar 2025, 8 working days: 4 5 6 7 10 11 12 13 March; contracts from Fri 14.
SUSPEND_RESUME = [
    # suspended on, days left, resumed on, new last day, contracts from. The remaining days count
    # from the working day after the decision (the suspension day itself was counted as used).
    pytest.param(date(2025, 3, 6), 5, date(2025, 3, 18), date(2025, 3, 25), date(2025, 3, 26),
                 id="thu-to-next-tue"),  # 19 20 21 24 25
    pytest.param(date(2025, 3, 4), 7, date(2025, 3, 7), date(2025, 3, 18), date(2025, 3, 19),
                 id="on-notice-day"),  # 10 11 12 13 14 17 18
    pytest.param(date(2025, 3, 8), 4, date(2025, 3, 10), date(2025, 3, 14), date(2025, 3, 17),
                 id="weekend-challenge-dismissed-monday"),  # 11 12 13 14
    pytest.param(date(2025, 3, 7), 4, date(2025, 3, 15), date(2025, 3, 20), date(2025, 3, 21),
                 id="resumed-on-saturday"),  # 17 18 19 20
    pytest.param(date(2025, 3, 13), 0, date(2025, 3, 17), date(2025, 3, 17), date(2025, 3, 17),
                 id="on-the-last-day"),
    # Resumed Thu 17 Apr: Good Friday, Easter Monday | 22 23 24
    pytest.param(date(2025, 3, 10), 3, date(2025, 4, 17), date(2025, 4, 24), date(2025, 4, 25),
                 id="over-easter"),
]  # fmt: skip


@pytest.mark.parametrize(("suspended_on", "left", "resumed_on", "last_day", "contracts"), SUSPEND_RESUME)
def test_suspend_then_resume(
    suspended_on: date, left: int, resumed_on: date, last_day: date, contracts: date
) -> None:
    original = open_standstill(marked(BIDS), date(2025, 3, 4))
    held = suspend(original, suspended_on)
    assert (held.suspended_on, held.days_left) == (suspended_on, left)
    assert (held.last_day, held.contracts_from) == (original.last_day, original.contracts_from)
    again = resume(held, resumed_on)
    assert (again.last_day, again.contracts_from) == (last_day, contracts)
    assert (again.suspended_on, again.days_left) == (None, None)
    assert (again.notice_on, again.working_days, again.calendar) == (date(2025, 3, 4), 8, EW)


def test_suspend_and_resume_in_scotland_over_new_year() -> None:
    # Notice Tue 24 Dec 2024: 24 27 30 31 3 6 7 8 Jan. Suspended on the notice day: 7 left.
    # Resumed Thu 2 Jan (a Scottish bank holiday): from Fri 3, 3 6 7 8 9 10 13 -> last day Mon 13 Jan.
    state = marked(BIDS, award={"calendar": "scotland"})
    held = suspend(open_standstill(state, date(2024, 12, 24)), date(2024, 12, 24))
    assert held.days_left == 7
    again = resume(held, date(2025, 1, 2))
    assert (again.last_day, again.contracts_from) == (date(2025, 1, 13), date(2025, 1, 14))


def test_challenge_lodged_and_dismissed_the_same_day_does_not_shorten_standstill() -> None:
    original = open_standstill(marked(BIDS), date(2025, 3, 4))  # last day Thu 13 Mar
    again = resume(suspend(original, date(2025, 3, 6)), date(2025, 3, 6))
    assert (again.last_day, again.contracts_from) == (original.last_day, original.contracts_from)


# --- challenges and the lead's decision ----------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "supplier", "kind"),
    [
        pytest.param(Stage.STANDSTILL, "S1", None, id="losing-bidder"),
        pytest.param(Stage.STANDSTILL, "S2", None, id="any-bidder"),
        pytest.param(Stage.STANDSTILL, "S4", ErrorKind.FORBIDDEN, id="qualified-but-never-bid"),
        pytest.param(Stage.STANDSTILL, "S9", ErrorKind.FORBIDDEN, id="unregistered"),
        pytest.param(Stage.EVALUATION, "S1", ErrorKind.CONFLICT, id="before-the-notice"),
        pytest.param(Stage.SUSPENDED, "S1", ErrorKind.CONFLICT, id="while-suspended"),
        pytest.param(Stage.AWARDED, "S1", ErrorKind.CONFLICT, id="after-award"),
        pytest.param(Stage.NEGOTIATION, "S4", ErrorKind.CONFLICT, id="stage-checked-first"),
    ],
)
def test_check_challenge(stage: Stage, supplier: str, kind: ErrorKind | None) -> None:
    state = marked(BIDS, stage=stage)
    if kind is None:
        check_challenge(state, supplier)
        return
    refused(kind, lambda: check_challenge(state, supplier))


def challenged(status: str = "open", stage: Stage = Stage.SUSPENDED) -> BuyState:
    state = marked(BIDS, stage=stage)
    state.challenges = [Challenge(challenge_id="ch-1", supplier="S1", grounds="g", lodged_at=at(0),
                                  status=status)]  # type: ignore[arg-type]  # fmt: skip
    return state


MARKS = {"laptops": Marks(quality=100, social_value=100)}


@pytest.mark.parametrize(
    ("state", "challenge_id", "upheld", "remedy", "corrected", "kind", "field"),
    [
        pytest.param(challenged(), "ch-1", False, "re-evaluate", {}, None, None, id="dismiss"),
        pytest.param(challenged(), "ch-1", True, "cancel", {}, None, None, id="uphold-cancel"),
        pytest.param(challenged(), "ch-1", True, "re-evaluate", MARKS, None, None, id="uphold-re-score"),
        pytest.param(challenged(), "ch-1", True, "re-evaluate", {}, None, None, id="uphold-as-is"),
        pytest.param(challenged(), "ch-9", False, "re-evaluate", {}, ErrorKind.NOT_FOUND, None, id="unknown"),
        pytest.param(challenged("dismissed"), "ch-1", False, "re-evaluate", {}, ErrorKind.CONFLICT, None,
                     id="already-decided"),
        pytest.param(challenged(stage=Stage.STANDSTILL), "ch-1", True, "cancel", {}, ErrorKind.CONFLICT, None,
                     id="not-suspended"),
        pytest.param(challenged(), "ch-1", False, "re-evaluate", MARKS, ErrorKind.INVALID, "corrected_scores",
                     id="scores-with-a-dismissal"),
        pytest.param(challenged(), "ch-1", True, "cancel", MARKS, ErrorKind.INVALID, "corrected_scores",
                     id="scores-with-a-cancel"),
        pytest.param(challenged(), "ch-1", True, "re-evaluate", {"monitors": MARKS["laptops"]},
                     ErrorKind.INVALID, "corrected_scores", id="scores-for-a-lot-it-did-not-tender"),
    ],
)  # fmt: skip
def test_check_decide_challenge(
    state: BuyState,
    challenge_id: str,
    upheld: bool,
    remedy: Any,
    corrected: dict[str, Marks],
    kind: ErrorKind | None,
    field: str | None,
) -> None:
    if kind is None:
        assert check_decide_challenge(state, challenge_id, upheld, remedy, corrected) is state.challenges[0]
        return
    err = refused(kind, lambda: check_decide_challenge(state, challenge_id, upheld, remedy, corrected))
    assert err.field == field


# --- contracts -----------------------------------------------------------------------------------

LAPTOP_LADDER = [
    Tier(min_quantity=1, unit_price=D("1000.00")),
    Tier(min_quantity=100, unit_price=D("900.00")),
]


def awarded(monitors: bool = True) -> BuyState:
    state = marked(BIDS, stage=Stage.STANDSTILL)
    state.award = {
        "laptops": LotAward(lot_id="laptops", supplier="S2", unit_price=D("900.00"), committed_quantity=120,
                            value=D("108000.00"), tiers=LAPTOP_LADDER),
    }  # fmt: skip
    if monitors:
        state.award["monitors"] = LotAward(
            lot_id="monitors", supplier="S1", unit_price=D("150.00"), committed_quantity=10,
            value=D("1500.00"), tiers=[Tier(min_quantity=20, unit_price=D("150.00"))],
        )  # fmt: skip
    return state


def test_one_contract_per_council_per_awarded_lot() -> None:
    lines = build_contracts(awarded())
    got = [
        (c.council, c.lot, c.supplier, c.quantity, c.unit_price, c.total, c.baseline_unit_price,
         c.baseline_total, c.saving, c.standalone_unit_price, c.aggregation_dividend)
        for c in lines
    ]  # fmt: skip
    assert got == [
        # 60 alone would cost 1000.00 on the winner's ladder: 60 × 100 dividend; baseline 900 -> no saving
        ("E06000001", "laptops", "S2", 60, D("900.00"), D("54000.00"), D("900.00"), D("54000.00"),
         D("0.00"), D("1000.00"), D("6000.00")),
        # 10 monitors do not reach the 20-unit first tier: its price stands in, dividend 0
        ("E06000001", "monitors", "S1", 10, D("150.00"), D("1500.00"), D("200.00"), D("2000.00"),
         D("500.00"), D("150.00"), D("0.00")),
        ("E06000002", "laptops", "S2", 60, D("900.00"), D("54000.00"), D("950.00"), D("57000.00"),
         D("3000.00"), D("1000.00"), D("6000.00")),
    ]  # fmt: skip


def test_contracts_add_up_to_the_award_value() -> None:
    state = awarded()
    lines = build_contracts(state)
    for lot, award in state.award.items():
        assert sum(c.total for c in lines if c.lot == lot) == award.value
    assert contract_totals([c for c in lines if c.lot == "laptops"]) == {
        "contracts": 2,
        "councils": 2,
        "quantity": 120,
        "total": "108000.00",
        "baseline_total": "111000.00",
        "saving": "3000.00",
        "aggregation_dividend": "12000.00",
    }
    assert contract_totals(lines) == {
        "contracts": 3,
        "councils": 2,
        "quantity": 130,
        "total": "109500.00",
        "baseline_total": "113000.00",
        "saving": "3500.00",
        "aggregation_dividend": "12000.00",
    }


def test_no_contract_for_a_lot_without_an_award() -> None:
    lines = build_contracts(awarded(monitors=False))
    assert {(c.council, c.lot) for c in lines} == {("E06000001", "laptops"), ("E06000002", "laptops")}


def test_contract_totals_of_nothing() -> None:
    assert contract_totals([]) == {
        "contracts": 0,
        "councils": 0,
        "quantity": 0,
        "total": "0",
        "baseline_total": "0",
        "saving": "0",
        "aggregation_dividend": "0",
    }
