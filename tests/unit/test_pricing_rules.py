"""Price rules as tables: ladders, decrements, anti-sniping, ranking, scoring, savings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any, NamedTuple

import pytest

from procurement.errors import DomainError, ErrorKind
from procurement.pricing import (
    DecrementError,
    EvaluatedBid,
    PricingRuleError,
    Tier,
    check_decrement,
    contract_line,
    extend_deadline,
    price_at,
    rank,
    required_price,
    score,
    validate_ladder,
)

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ladder(*tiers: tuple[int, str]) -> list[Tier]:
    return [Tier(min_quantity=q, unit_price=D(p)) for q, p in tiers]


LAPTOPS = ladder((1, "1000.00"), (100, "950.00"), (500, "900.00"))


# --- ladders -------------------------------------------------------------------------------------

VALID_LADDERS = [
    pytest.param([{"min_quantity": 1, "unit_price": "10"}], id="single-tier"),
    pytest.param([{"min_quantity": 50, "unit_price": "9.99"}], id="first-tier-above-1"),
    pytest.param(
        [{"min_quantity": 1, "unit_price": "10"}, {"min_quantity": 10, "unit_price": "10"}],
        id="flat-price-is-non-increasing",
    ),
    pytest.param(
        [{"min_quantity": 1, "unit_price": "10"}, {"min_quantity": 10, "unit_price": "9.50"}],
        id="discount",
    ),
    pytest.param([Tier(min_quantity=5, unit_price=D("1.00"))], id="tier-instances"),
    pytest.param([{"min_quantity": i + 1, "unit_price": "1"} for i in range(20)], id="twenty-tiers"),
]


@pytest.mark.parametrize("tiers", VALID_LADDERS)
def test_valid_ladders(tiers: list[Any]) -> None:
    result = validate_ladder(tiers)
    assert [t.min_quantity for t in result] == [
        t.min_quantity if isinstance(t, Tier) else t["min_quantity"] for t in tiers
    ]


INVALID_LADDERS = [
    pytest.param([], "tiers", id="empty"),
    pytest.param([{"min_quantity": 0, "unit_price": "10"}], "tiers.0.min_quantity", id="zero-qty"),
    pytest.param([{"min_quantity": 1, "unit_price": "0"}], "tiers.0.unit_price", id="zero-price"),
    pytest.param([{"min_quantity": 1, "unit_price": "-1"}], "tiers.0.unit_price", id="negative"),
    pytest.param([{"min_quantity": 1, "unit_price": "1.001"}], "tiers.0.unit_price", id="3-dp"),
    pytest.param([{"min_quantity": 1, "unit_price": "NaN"}], "tiers.0.unit_price", id="nan"),
    pytest.param([{"min_quantity": 1}], "tiers.0.unit_price", id="missing-price"),
    pytest.param([{"min_quantity": 1, "unit_price": "1", "colour": "red"}], "tiers.0.colour", id="extra"),
    pytest.param(
        [{"min_quantity": 10, "unit_price": "10"}, {"min_quantity": 10, "unit_price": "9"}],
        "tiers.1.min_quantity",
        id="duplicate-min-quantity",
    ),
    pytest.param(
        [{"min_quantity": 10, "unit_price": "10"}, {"min_quantity": 5, "unit_price": "11"}],
        "tiers.1.min_quantity",
        id="decreasing-min-quantity",
    ),
    pytest.param(
        [{"min_quantity": 1, "unit_price": "10"}, {"min_quantity": 10, "unit_price": "10.01"}],
        "tiers.1.unit_price",
        id="price-rises-with-volume",
    ),
    pytest.param([{"min_quantity": i + 1, "unit_price": "1"} for i in range(21)], "tiers", id="too-many"),
]


@pytest.mark.parametrize(("tiers", "field"), INVALID_LADDERS)
def test_invalid_ladders(tiers: list[Any], field: str) -> None:
    with pytest.raises(PricingRuleError) as caught:
        validate_ladder(tiers)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, DomainError)
    assert caught.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, None),
        (1, D("1000.00")),
        (99, D("1000.00")),
        (100, D("950.00")),
        (101, D("950.00")),
        (499, D("950.00")),
        (500, D("900.00")),
        (10_000, D("900.00")),
    ],
)
def test_price_at_tier_boundaries(quantity: int, expected: D | None) -> None:
    assert price_at(LAPTOPS, quantity) == expected


@pytest.mark.parametrize(("quantity", "expected"), [(9, None), (10, D("5.00")), (20, D("4.00"))])
def test_price_at_below_a_first_tier_above_one(quantity: int, expected: D | None) -> None:
    assert price_at(ladder((10, "5.00"), (20, "4.00")), quantity) == expected


# --- decrement -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "pct", "expected"),
    [
        ("100.00", "0.5", "99.50"),
        ("99.99", "0.5", "99.49"),  # 99.49005 rounds DOWN
        ("949.99", "0.5", "945.24"),  # 945.240050
        ("1.00", "0.5", "0.99"),  # 0.995 rounds down, not to 1.00
        ("100.00", "0", "100.00"),
        ("100.00", "10", "90.00"),
    ],
)
def test_required_price(previous: str, pct: str, expected: str) -> None:
    assert required_price(D(previous), D(pct)) == D(expected)


@pytest.mark.parametrize(
    ("new", "ok"),
    [("99.50", True), ("99.49", True), ("50.00", True), ("99.51", False), ("100.00", False)],
)
def test_decrement_boundary(new: str, ok: bool) -> None:
    if ok:
        check_decrement(D("100.00"), D(new), D("0.5"))
        return
    with pytest.raises(DecrementError, match=r"at most 99\.50") as caught:
        check_decrement(D("100.00"), D(new), D("0.5"))
    assert caught.value.required == D("99.50")
    assert caught.value.field == "unit_price"


@pytest.mark.parametrize(("previous", "pct"), [("0", "0.5"), ("100", "-1"), ("100", "100")])
def test_decrement_rejects_nonsense_terms(previous: str, pct: str) -> None:
    with pytest.raises(PricingRuleError):
        required_price(D(previous), D(pct))


# --- anti-sniping extension ----------------------------------------------------------------------

WINDOW = timedelta(minutes=5)
DEADLINE = at(60)


@pytest.mark.parametrize(
    ("bid_at", "used", "max_ext", "expected_deadline", "expected_used"),
    [
        pytest.param(at(30), 0, 10, DEADLINE, 0, id="well-before-window"),
        pytest.param(at(54), 0, 10, DEADLINE, 0, id="just-before-window"),
        pytest.param(at(55), 0, 10, at(65), 1, id="window-start-inclusive"),
        pytest.param(at(59), 3, 10, at(65), 4, id="inside-window"),
        pytest.param(DEADLINE - timedelta(seconds=1), 0, 10, at(65), 1, id="last-second"),
        pytest.param(DEADLINE, 0, 10, DEADLINE, 0, id="at-deadline-is-late"),
        pytest.param(at(61), 0, 10, DEADLINE, 0, id="after-deadline"),
        pytest.param(at(59), 9, 10, at(65), 10, id="last-allowed-extension"),
        pytest.param(at(59), 10, 10, DEADLINE, 10, id="max-reached"),
        pytest.param(at(59), 0, 0, DEADLINE, 0, id="extensions-disabled"),
    ],
)
def test_extend_deadline(
    bid_at: datetime, used: int, max_ext: int, expected_deadline: datetime, expected_used: int
) -> None:
    assert extend_deadline(DEADLINE, bid_at, WINDOW, used, max_ext) == (
        expected_deadline,
        expected_used,
    )


def test_repeated_sniping_extends_from_each_new_deadline() -> None:
    deadline, used = DEADLINE, 0
    for _ in range(5):
        deadline, used = extend_deadline(deadline, deadline - timedelta(seconds=10), WINDOW, used, 3)
    assert (deadline, used) == (at(75), 3)


# --- ranking -------------------------------------------------------------------------------------


def bid(supplier: str, price: str, minute: int) -> EvaluatedBid:
    return EvaluatedBid(supplier=supplier, evaluated_unit_price=D(price), submitted_at=at(minute))


@pytest.mark.parametrize(
    ("bids", "expected"),
    [
        pytest.param([], [], id="none"),
        pytest.param([bid("a", "10", 0)], ["a"], id="one"),
        pytest.param([bid("a", "10", 0), bid("b", "9.99", 5)], ["b", "a"], id="cheapest-first"),
        pytest.param([bid("a", "10", 5), bid("b", "10", 1)], ["b", "a"], id="tie-earlier-wins"),
        pytest.param(
            [bid("c", "10", 1), bid("a", "11", 0), bid("b", "10", 1)],
            ["b", "c", "a"],
            id="full-tie-by-supplier-id",
        ),
    ],
)
def test_rank(bids: list[EvaluatedBid], expected: list[str]) -> None:
    ranked = rank(bids)
    assert [r.supplier for r in ranked] == expected
    assert [r.rank for r in ranked] == list(range(1, len(bids) + 1))


def test_rank_rejects_two_bids_from_one_supplier() -> None:
    with pytest.raises(PricingRuleError):
        rank([bid("a", "10", 0), bid("a", "9", 1)])


# --- scoring -------------------------------------------------------------------------------------


class W(NamedTuple):
    price_weight: int = 60
    quality_weight: int = 30
    social_value_weight: int = 10


# Worked by hand, weights 60/30/10, lowest evaluated price 90.00:
#   a: 90/100*60 = 54.00 + 70/100*30 = 21.00 + 50/100*10 =  5.00 -> 80.00
#   b: 90/ 90*60 = 60.00 + 60/100*30 = 18.00 + 80/100*10 =  8.00 -> 86.00  (winner)
#   c: 90/120*60 = 45.00 + 90/100*30 = 27.00 + 100/100*10 = 10.00 -> 82.00
WORKED = [bid("a", "100.00", 10), bid("b", "90.00", 15), bid("c", "120.00", 0)]
WORKED_EXPECTED = [
    ("b", "60.00", "18.00", "8.00", "86.00"),
    ("c", "45.00", "27.00", "10.00", "82.00"),
    ("a", "54.00", "21.00", "5.00", "80.00"),
]


def test_score_worked_example() -> None:
    scored = score(WORKED, {"a": 70, "b": 60, "c": 90}, {"a": 50, "b": 80, "c": 100}, W())
    got = [(s.supplier, s.price_score, s.quality_score, s.social_value_score, s.total_score) for s in scored]
    assert got == [(s, D(p), D(q), D(v), D(t)) for s, p, q, v, t in WORKED_EXPECTED]
    assert [(s.rank, s.winner) for s in scored] == [(1, True), (2, False), (3, False)]


# e: 100/100*60 = 60 + 0 + 0                                  = 60 exactly (09:00)
# c: 100/300*60 = 20 + 30 + 10                                 = 60 exactly (09:30)
# d: 100/299.99*60 = 20.000667 + 30 + 10 = 60.000667, shown 60.00 but highest (10:00)
# So d wins on the unrounded total although it bid last; e beats c as the earlier bid.
def test_score_compares_unrounded_totals_then_earlier_bid() -> None:
    bids = [bid("c", "300.00", 30), bid("d", "299.99", 60), bid("e", "100.00", 0)]
    scored = score(bids, {"c": 100, "d": 100, "e": 0}, {"c": 100, "d": 100, "e": 0}, W())
    assert [s.supplier for s in scored] == ["d", "e", "c"]
    assert {s.total_score for s in scored} == {D("60.00")}
    assert scored[0].winner and not any(s.winner for s in scored[1:])


def test_score_equal_totals_earlier_final_bid_wins() -> None:
    # x: 60 + 80/100*30 = 24 + 0 = 84 ; y: 100/120*60 = 50 + 30 + 40/100*10 = 4 = 84
    bids = [bid("y", "120.00", 1), bid("x", "100.00", 2)]
    scored = score(bids, {"x": 80, "y": 100}, {"x": 0, "y": 40}, W())
    assert [(s.supplier, s.total_score) for s in scored] == [("y", D("84.00")), ("x", D("84.00"))]


@pytest.mark.parametrize(
    ("quality", "social", "weights"),
    [
        pytest.param({}, {"a": 1}, W(), id="missing-quality"),
        pytest.param({"a": 101}, {"a": 1}, W(), id="quality-above-100"),
        pytest.param({"a": 50}, {"a": -1}, W(), id="negative-social"),
        pytest.param({"a": 50}, {"a": 50}, W(60, 30, 20), id="weights-not-100"),
    ],
)
def test_score_rejects(quality: dict[str, int], social: dict[str, int], weights: W) -> None:
    with pytest.raises(PricingRuleError):
        score([bid("a", "10", 0)], quality, social, weights)


def test_score_needs_no_mark_for_a_zero_weight() -> None:
    (only,) = score([bid("a", "10", 0)], {}, {"a": 50}, W(90, 0, 10))
    assert (only.total_score, only.winner) == (D("95.00"), True)


# --- savings and aggregation dividend ------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "awarded", "baseline", "tiers", "expected"),
    [
        pytest.param(
            50, "900.00", "1100.00", LAPTOPS,
            # total 45000.00, baseline 55000.00, standalone 1000.00 -> dividend 50 * 100
            ("45000.00", "55000.00", "10000.00", "1000.00", "5000.00"),
            id="small-council",
        ),
        pytest.param(
            150, "900.00", "1000.00", LAPTOPS,
            ("135000.00", "150000.00", "15000.00", "950.00", "7500.00"),
            id="mid-tier-council",
        ),
        pytest.param(
            600, "900.00", "850.00", LAPTOPS,
            ("540000.00", "510000.00", "-30000.00", "900.00", "0.00"),
            id="big-council-paid-less-before",
        ),
        pytest.param(
            5, "450.00", "520.00", ladder((10, "500.00"), (100, "450.00")),
            # 5 does not reach the first tier (10): the first tier's 500.00 stands in
            ("2250.00", "2600.00", "350.00", "500.00", "250.00"),
            id="below-first-tier",
        ),
        pytest.param(
            3, "10.00", "10.005", ladder((1, "12.00")),
            # baseline rounds half-up to 10.01 first, so 3 * 10.01 = 30.03
            ("30.00", "30.03", "0.03", "12.00", "6.00"),
            id="half-up-penny",
        ),
    ],
)  # fmt: skip
def test_contract_line(
    quantity: int, awarded: str, baseline: str, tiers: list[Tier], expected: tuple[str, ...]
) -> None:
    line = contract_line("E06000001", "laptops", "01234567", quantity, D(awarded), D(baseline), tiers)
    got = (line.total, line.baseline_total, line.saving, line.standalone_unit_price)
    assert (*got, line.aggregation_dividend) == tuple(D(x) for x in expected)
    assert (line.council, line.lot, line.supplier, line.quantity) == (
        "E06000001",
        "laptops",
        "01234567",
        quantity,
    )
    assert all(
        amount.as_tuple().exponent == -2
        for amount in (line.unit_price, line.total, line.saving, line.aggregation_dividend)
    )


@pytest.mark.parametrize(
    ("quantity", "awarded", "baseline", "tiers"),
    [(0, "1", "1", LAPTOPS), (1, "0", "1", LAPTOPS), (1, "1", "-1", LAPTOPS), (1, "1", "1", [])],
)
def test_contract_line_rejects(quantity: int, awarded: str, baseline: str, tiers: list[Tier]) -> None:
    with pytest.raises(PricingRuleError):
        contract_line("E06000001", "laptops", "01234567", quantity, D(awarded), D(baseline), tiers)
