"""The stable coalition as tables: the cascade, ties, no-one priced out, everyone priced out, a
coalition below the viability minimum, and properties the rule keeps on any input (it terminates,
its answer is stable, and it does not depend on input order)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from procurement.award import evaluate
from procurement.coalition import lot_award, settle, settle_lot
from procurement.models import AwardTerms, Bid, Marks, SignUpLine, Stage
from procurement.pricing import Tier, price_at
from tests.unit.test_award_rules import marked

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
WEIGHTS = AwardTerms()  # price 60, quality 30, social value 10


def tender(supplier: str, *ladder: tuple[int, str], minute: int = 0, lot: str = "laptops") -> Bid:
    tiers = [Tier(min_quantity=q, unit_price=D(p)) for q, p in ladder]
    return Bid(
        supplier=supplier,
        lot_id=lot,
        round=3,
        tiers=tiers,
        evaluated_unit_price=tiers[0].unit_price,  # the rule prices every tender afresh
        submitted_at=T0 + timedelta(minutes=minute),
        seq=minute,
    )


def line(quantity: int, limit: str | None = None, lot: str = "laptops") -> SignUpLine:
    return SignUpLine(lot_id=lot, quantity=quantity, max_unit_price=None if limit is None else D(limit))


def same_marks(*suppliers: str) -> dict[str, Marks]:
    return {s: Marks(quality=50, social_value=50) for s in suppliers}


# X is cheapest from 100 units, dear below; Y has one flat price.
X = tender("X", (1, "120.00"), (100, "96.00"), minute=5)
Y = tender("Y", (1, "100.00"), minute=9)
CASCADE = {
    "E06000001": line(60),  # unconditional
    "E06000002": line(30, "95.00"),  # out at X's 96.00
    "E06000003": line(20, "99.50"),  # out at Y's 100.00, once the aggregate falls below X's tier
    "E06000004": line(10),
}


def test_cascade_a_drop_falls_below_a_tier_changes_the_winner_and_prices_out_another() -> None:
    s = settle_lot("laptops", CASCADE, [X, Y], same_marks("X", "Y"), WEIGHTS)
    summary = [
        (p.number, p.aggregate, p.councils, p.winner, p.unit_price, [o.council for o in p.priced_out])
        for p in s.passes
    ]
    assert summary == [
        (1, 120, 4, "X", D("96.00"), ["E06000002"]),
        (2, 90, 3, "Y", D("100.00"), ["E06000003"]),
        (3, 70, 2, "Y", D("100.00"), []),
    ]
    assert s.coalition == ["E06000001", "E06000004"]
    assert s.aggregate == 70
    assert s.unsuccessful == ""
    assert s.winner is not None and s.winner.supplier == "Y"
    # each priced-out council is told the price and its own limit
    assert [(o.council, o.unit_price, o.max_unit_price, o.quantity) for o in s.priced_out] == [
        ("E06000002", D("96.00"), D("95.00"), 30),
        ("E06000003", D("100.00"), D("99.50"), 20),
    ]
    award = lot_award(s, [X, Y])
    assert (award.supplier, award.unit_price, award.committed_quantity, award.value) == (
        "Y",
        D("100.00"),
        70,
        D("7000.00"),
    )
    assert award.tiers == Y.tiers


def test_a_limit_equal_to_the_price_stays_in() -> None:
    lines = {"E06000001": line(60), "E06000002": line(40, "96.00")}
    s = settle_lot("laptops", lines, [X, Y], same_marks("X", "Y"), WEIGHTS)
    assert len(s.passes) == 1
    assert s.coalition == ["E06000001", "E06000002"]
    assert s.winner is not None and (s.winner.supplier, s.winner.evaluated_unit_price) == ("X", D("96.00"))


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        pytest.param(("P", 1), ("Q", 2), "P", id="earlier-final-bid-wins"),
        pytest.param(("P", 7), ("Q", 2), "Q", id="order-of-input-does-not-matter"),
    ],
)
def test_ties_go_to_the_earlier_final_bid(
    first: tuple[str, int], second: tuple[str, int], winner: str
) -> None:
    a = tender(first[0], (1, "100.00"), minute=first[1])
    b = tender(second[0], (1, "100.00"), minute=second[1])
    lines = {"E06000001": line(10), "E06000002": line(5, "99.99")}
    s = settle_lot("laptops", lines, [a, b], same_marks("P", "Q"), WEIGHTS)
    assert [p.winner for p in s.passes] == [winner, winner]
    assert s.coalition == ["E06000001"]


def test_a_tie_after_a_drop_is_decided_by_the_earlier_bid_too() -> None:
    # at 100 units P is cheapest; once the 50 priced out leave, P and Q tie at 100.00 and Q bid first
    p = tender("P", (1, "100.00"), (100, "90.00"), minute=8)
    q = tender("Q", (1, "100.00"), minute=3)
    lines = {"E06000001": line(50, "100.00"), "E06000002": line(50, "89.00")}
    s = settle_lot("laptops", lines, [p, q], same_marks("P", "Q"), WEIGHTS)
    assert [(x.winner, x.unit_price) for x in s.passes] == [("P", D("90.00")), ("Q", D("100.00"))]
    assert s.ranked[0].total_score == s.ranked[1].total_score


def test_no_one_priced_out_is_one_pass_and_exactly_todays_evaluation() -> None:
    bids = [tender("S1", (1, "100.00"), minute=1), tender("S2", (1, "90.00"), minute=2)]
    marks = {"S1": (80, 60), "S2": (40, 20)}
    state = marked(bids, {"laptops": marks})
    settled = settle(state)
    lot = settled.lots["laptops"]
    assert len(lot.passes) == 1 and lot.passes[0].priced_out == []
    assert lot.coalition == sorted(state.signups)
    assert lot.ranked == evaluate(state)["laptops"]
    assert settled.viable


def test_everyone_priced_out_leaves_no_coalition_and_the_lot_unsuccessful() -> None:
    lines = {"E06000001": line(60, "80.00"), "E06000002": line(40, "90.00")}
    s = settle_lot("laptops", lines, [X, Y], same_marks("X", "Y"), WEIGHTS)
    assert [(p.winner, p.unit_price, len(p.priced_out)) for p in s.passes] == [("X", D("96.00"), 2)]
    assert s.coalition == [] and s.aggregate == 0 and s.winner is None
    assert s.unsuccessful == "every council that signed up was priced out"


def test_a_coalition_below_the_lots_minimum_quantity_is_unsuccessful() -> None:
    s = settle_lot("laptops", CASCADE, [X, Y], same_marks("X", "Y"), WEIGHTS, min_total_quantity=80)
    assert s.coalition == ["E06000001", "E06000004"] and s.aggregate == 70
    assert s.winner is None
    assert s.unsuccessful == "the stable coalition commits 70, below the minimum of 80"


def test_when_the_aggregate_falls_below_every_ladder_the_lot_is_unsuccessful() -> None:
    big = tender("Z", (100, "50.00"))
    lines = {"E06000001": line(60), "E06000002": line(40, "40.00")}
    s = settle_lot("laptops", lines, [big], same_marks("Z"), WEIGHTS)
    assert [(p.aggregate, p.winner, p.tenders) for p in s.passes] == [(100, "Z", 1), (60, None, 0)]
    assert s.unsuccessful == "no tender offers a price for an aggregate of 60"


def test_min_councils_counts_only_councils_that_keep_a_contract() -> None:
    bids = [tender("S1", (1, "100.00"), lot="laptops"), tender("S2", (1, "90.00"), lot="laptops")]
    state = marked(
        bids,
        {"laptops": {"S1": (50, 50), "S2": (50, 50)}},
        viability={"min_councils": 2, "min_total_quantity": {}},
    )
    assert settle(state).viable
    first = sorted(state.signups)[0]
    state.signups[first] = [
        ln.model_copy(update={"max_unit_price": D("50.00")}) if ln.lot_id == "laptops" else ln
        for ln in state.signups[first]
    ]
    settled = settle(state)
    assert settled.lots["laptops"].coalition == sorted(state.signups)[1:]
    # the priced-out council still signed up for monitors, but monitors has no tender to award
    assert "monitors" not in settled.lots
    assert not settled.viable
    assert settled.reason == "1 councils remain in the stable coalition; at least 2 are needed"


def test_cancelled_and_unsuccessful_lots_do_not_settle() -> None:
    bids = [tender("S1", (1, "100.00")), tender("S2", (1, "90.00"), lot="monitors")]
    state = marked(
        bids, {"laptops": {"S1": (50, 50)}, "monitors": {"S2": (50, 50)}}, unsuccessful={"monitors": "x"}
    )
    assert state.stage == Stage.EVALUATION
    assert list(settle(state).lots) == ["laptops"]


# --- properties ----------------------------------------------------------------------------------


def _random_case(rng: random.Random) -> tuple[dict[str, SignUpLine], list[Bid]]:
    lines = {}
    for i in range(rng.randint(1, 9)):
        limit = None if rng.random() < 0.3 else f"{rng.randint(60, 120)}.{rng.randint(0, 99):02d}"
        lines[f"E0600{i:04d}"] = line(rng.randint(1, 60), limit)
    bids = []
    for s in range(rng.randint(1, 4)):
        qty, price, ladder = 1, rng.randint(90, 130), []
        for _ in range(rng.randint(1, 4)):
            ladder.append((qty, f"{price}.00"))
            qty += rng.randint(10, 120)
            price -= rng.randint(0, 12)
        bids.append(tender(f"S{s}", *ladder, minute=rng.randint(0, 1000)))
    return lines, bids


@pytest.mark.parametrize("seed", range(300))
def test_the_rule_terminates_is_stable_and_ignores_input_order(seed: int) -> None:
    rng = random.Random(seed)
    lines, bids = _random_case(rng)
    marks = {b.supplier: Marks(quality=rng.randint(0, 100), social_value=rng.randint(0, 100)) for b in bids}
    s = settle_lot("laptops", lines, bids, marks, WEIGHTS)
    assert len(s.passes) <= len(lines) + 1
    # each pass only removes councils, and exactly those it names
    remaining = set(lines)
    for p in s.passes:
        assert p.councils == len(remaining)
        assert p.aggregate == sum(lines[c].quantity for c in remaining)
        remaining -= {o.council for o in p.priced_out}
    assert sorted(remaining) == s.coalition
    if s.winner is not None:
        # stable: at the final aggregate nobody left in is above its limit, and the winner is the
        # best tender priced at that aggregate
        price = s.winner.evaluated_unit_price
        assert all((lim := lines[c].max_unit_price) is None or lim >= price for c in s.coalition)
        winning = next(b for b in bids if b.supplier == s.winner.supplier)
        assert price_at(winning.tiers, s.aggregate) == price
    shuffled = list(bids)
    rng.shuffle(shuffled)
    reordered = dict(sorted(lines.items(), reverse=True))
    assert settle_lot("laptops", reordered, shuffled, marks, WEIGHTS) == s


# --- the limit on a sign-up line -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["0", "0.00", "-1", "-0.01", "1.234", "abc", "", "NaN", "Infinity", True])
def test_a_limit_is_a_positive_amount_in_pence(bad: object) -> None:
    with pytest.raises(ValueError, match="max_unit_price"):
        SignUpLine.model_validate({"lot_id": "laptops", "quantity": 1, "max_unit_price": bad})


@pytest.mark.parametrize(("given", "kept"), [("850", "850.00"), ("850.5", "850.50"), ("1e3", "1000.00")])
def test_a_limit_is_kept_in_pence(given: str, kept: str) -> None:
    line = SignUpLine.model_validate({"lot_id": "laptops", "quantity": 1, "max_unit_price": given})
    assert line.model_dump(mode="json")["max_unit_price"] == kept
    assert SignUpLine(lot_id="laptops", quantity=1).max_unit_price is None


def test_contracts_go_to_the_coalition_only_at_its_price() -> None:
    from procurement.award import build_contracts
    from procurement.rounds import final_bids

    x = tender("S1", (1, "120.00"), (100, "96.00"), minute=1)
    y = tender("S2", (1, "100.00"), minute=2)
    state = marked([x, y], {"laptops": {"S1": (50, 50), "S2": (50, 50)}}, viability={"min_councils": 1})
    first, second = sorted(state.signups)  # 60 + 60 laptops; the first also 10 monitors
    state.signups[second] = [line(60, "95.00")]
    settled = settle(state)
    lot = settled.lots["laptops"]
    assert [(p.aggregate, p.winner, p.unit_price) for p in lot.passes] == [
        (120, "S1", D("96.00")),
        (60, "S2", D("100.00")),
    ]
    assert state.negotiation is not None
    state.award = {"laptops": lot_award(lot, final_bids(state.negotiation, "laptops"))}
    state.coalition = {"laptops": lot.coalition}
    contracts = build_contracts(state)
    assert [(c.council, c.lot, c.supplier, c.quantity, c.unit_price, c.total) for c in contracts] == [
        (first, "laptops", "S2", 60, D("100.00"), D("6000.00"))
    ]
    # before coalitions existed (no coalition recorded) every signed-up council got its contract
    state.coalition = {}
    assert {c.council for c in build_contracts(state)} == {first, second}
