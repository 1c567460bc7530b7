"""Negotiation rules as tables: who may bid on what and when, the price at the committed aggregate,
the decrement against the bidder's own previous price, early close, rank feedback and round count."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from procurement.errors import DomainError, ErrorKind
from procurement.models import (
    Bid,
    BuyState,
    DemandLine,
    NegotiationState,
    SignUpLine,
    Stage,
    SupplierEntry,
    SupplierStatus,
)
from procurement.pricing import DecrementError, Tier
from procurement.rounds import (
    check_bid,
    committed_quantities,
    final_bids,
    latest_bid,
    lots_without_bids,
    qualified_suppliers,
    round_complete,
    round_ranks,
    rounds_to_run,
)
from tests.support import new_state

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)  # round 1 opens on a Monday morning
DEADLINE = T0 + timedelta(days=2)
# Committed aggregate: laptops 60 + 60 = 120 units, monitors 10 units.
SUPPLIERS: dict[str, SupplierStatus] = {"S1": "qualified", "S2": "qualified", "S3": "excluded"}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tiers(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"min_quantity": q, "unit_price": p} for q, p in pairs]


def one_price(price: str) -> list[dict[str, Any]]:
    return tiers((1, price))


def bid(supplier: str, lot: str, price: str, minute: int = 0, rnd: int = 1, seq: int = 0) -> Bid:
    return Bid(
        supplier=supplier,
        lot_id=lot,
        round=rnd,
        tiers=[Tier(min_quantity=1, unit_price=D(price))],
        evaluated_unit_price=D(price),
        submitted_at=at(minute),
        seq=seq,
    )


def state_with(
    bids: Iterable[Bid] = (),
    *,
    stage: Stage = Stage.NEGOTIATION,
    rnd: int = 1,
    rounds: int = 3,
    deadline: datetime | None = DEADLINE,
    suppliers: dict[str, SupplierStatus] | None = None,
    unsuccessful: dict[str, str] | None = None,
    **terms: Any,
) -> BuyState:
    """A buy in negotiation: two councils, two lots, suppliers by status, bids so far."""
    state = new_state("jb-rules", T0 - timedelta(days=30), estimated_value_gbp="100000", **terms)
    state.stage = stage
    state.demand = {
        "E06000001": [
            DemandLine(lot_id="laptops", quantity=60, baseline_unit_price=D("900.00")),
            DemandLine(lot_id="monitors", quantity=10, baseline_unit_price=D("200.00")),
        ],
        "E06000002": [DemandLine(lot_id="laptops", quantity=60, baseline_unit_price=D("950.00"))],
    }
    state.signups = {
        "E06000001": [SignUpLine(lot_id="laptops", quantity=60), SignUpLine(lot_id="monitors", quantity=10)],
        "E06000002": [SignUpLine(lot_id="laptops", quantity=60)],
    }
    statuses = SUPPLIERS if suppliers is None else suppliers
    state.suppliers = {
        c: SupplierEntry(name=f"{c} Ltd", status=s, reason="debarred" if s == "excluded" else "")
        for c, s in statuses.items()
    }
    state.unsuccessful_lots = dict(unsuccessful or {})
    state.negotiation = NegotiationState(round=rnd, rounds=rounds, round_opened_at=T0, bids=list(bids))
    state.stage_deadline = deadline  # the open round's
    return state


def refused(kind: ErrorKind, call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.kind is kind, caught.value.message
    return caught.value


# --- check_bid: refusals -------------------------------------------------------------------------

NO_NEGOTIATION = state_with()
NO_NEGOTIATION.stage, NO_NEGOTIATION.negotiation = Stage.ASSURANCE, None

REFUSALS = [
    pytest.param(NO_NEGOTIATION, "S1", "laptops", one_price("900"), T0, ErrorKind.CONFLICT, None,
                 "while a negotiation round is open", id="before-negotiation"),
    pytest.param(state_with(stage=Stage.EVALUATION, deadline=None), "S1", "laptops", one_price("900"), T0,
                 ErrorKind.CONFLICT, None, "this buy is in evaluation", id="in-evaluation"),
    pytest.param(state_with(deadline=None), "S1", "laptops", one_price("900"), T0,
                 ErrorKind.CONFLICT, None, "round is open", id="between-rounds"),
    pytest.param(state_with(), "S1", "laptops", one_price("900"), DEADLINE, ErrorKind.CONFLICT, None,
                 "round 1 closed at", id="at-the-deadline"),
    pytest.param(state_with(), "S1", "laptops", one_price("900"), DEADLINE + timedelta(hours=1),
                 ErrorKind.CONFLICT, None, "round 1 closed", id="after-the-deadline"),
    pytest.param(state_with(), "S9", "laptops", one_price("900"), T0, ErrorKind.FORBIDDEN, None,
                 "did not register interest", id="unregistered"),
    pytest.param(state_with(), "S3", "laptops", one_price("900"), T0, ErrorKind.FORBIDDEN, None,
                 "is excluded and may not bid: debarred", id="excluded"),
    pytest.param(state_with(suppliers={"S1": "flagged"}), "S1", "laptops", one_price("900"), T0,
                 ErrorKind.FORBIDDEN, None, "is flagged", id="flagged-awaiting-decision"),
    pytest.param(state_with(suppliers={"S1": "registered"}), "S1", "laptops", one_price("900"), T0,
                 ErrorKind.FORBIDDEN, None, "is registered", id="never-checked"),
    pytest.param(state_with(), "S1", "tablets", one_price("900"), T0, ErrorKind.INVALID, "lot_id",
                 "unknown lot 'tablets'", id="unknown-lot"),
    pytest.param(state_with(unsuccessful={"monitors": "too few"}), "S1", "monitors", one_price("150"), T0,
                 ErrorKind.CONFLICT, None, "lot monitors is unsuccessful", id="unsuccessful-lot"),
    pytest.param(state_with(), "S1", "laptops", [], T0, ErrorKind.INVALID, "tiers", "at least one tier",
                 id="empty-ladder"),
    pytest.param(state_with(), "S1", "laptops", tiers((1, "900"), (1, "890")), T0, ErrorKind.INVALID,
                 "tiers.1.min_quantity", "must increase", id="duplicate-tier"),
    pytest.param(state_with(), "S1", "laptops", tiers((100, "900"), (50, "950")), T0, ErrorKind.INVALID,
                 "tiers.1.min_quantity", "must increase", id="tiers-not-increasing"),
    pytest.param(state_with(), "S1", "laptops", one_price("0"), T0, ErrorKind.INVALID,
                 "tiers.0.unit_price", "greater than 0", id="zero-price"),
    pytest.param(state_with(), "S1", "laptops", one_price("-5"), T0, ErrorKind.INVALID,
                 "tiers.0.unit_price", "greater than 0", id="negative-price"),
    pytest.param(state_with(), "S1", "laptops", tiers((1, "900"), (100, "910")), T0, ErrorKind.INVALID,
                 "tiers.1.unit_price", "more for more volume", id="price-rises-with-volume"),
    pytest.param(state_with(), "S1", "laptops", tiers((121, "800")), T0, ErrorKind.INVALID,
                 "tiers.0.min_quantity", "committed aggregate for laptops is 120", id="above-aggregate"),
]  # fmt: skip


@pytest.mark.parametrize(("state", "supplier", "lot", "ladder", "now", "kind", "field", "says"), REFUSALS)
def test_check_bid_refuses(
    state: BuyState,
    supplier: str,
    lot: str,
    ladder: list[dict[str, Any]],
    now: datetime,
    kind: ErrorKind,
    field: str | None,
    says: str,
) -> None:
    before = state.model_copy(deep=True)
    err = refused(kind, lambda: check_bid(state, supplier, lot, ladder, now))
    assert says in err.message
    assert err.field == field
    assert state == before  # a check changes nothing


# --- check_bid: the evaluated price and the decrement -------------------------------------------


@pytest.mark.parametrize(
    ("ladder", "lot", "evaluated"),
    [
        pytest.param(one_price("900"), "laptops", D("900.00"), id="single-tier"),
        # 120 committed reaches the 100 tier but not the 500 one
        pytest.param(tiers((1, "950"), (100, "900"), (500, "850")), "laptops", D("900.00"), id="middle-tier"),
        pytest.param(tiers((1, "950"), (120, "899.99")), "laptops", D("899.99"), id="tier-at-aggregate"),
        pytest.param(tiers((10, "180"), (100, "150")), "monitors", D("180.00"), id="monitors-at-10"),
    ],
)
def test_check_bid_prices_the_committed_aggregate(
    ladder: list[dict[str, Any]], lot: str, evaluated: D
) -> None:
    priced = check_bid(state_with(), "S1", lot, ladder, T0)
    assert priced.evaluated_unit_price == evaluated
    assert priced.evaluated_unit_price.as_tuple().exponent == -2
    assert priced.previous is None
    assert [t.model_dump() for t in priced.tiers] == [
        {"min_quantity": t["min_quantity"], "unit_price": D(t["unit_price"])} for t in ladder
    ]


# S1's own previous evaluated price on laptops is 100.00; 0.5 % below it is 99.50 exactly.
PREVIOUS = [
    bid("S2", "laptops", "50.00", 1),
    bid("S1", "laptops", "100.00", 2),
    bid("S1", "monitors", "300.00", 3),
]


@pytest.mark.parametrize(
    ("price", "rnd", "ok"),
    [
        pytest.param("99.50", 1, True, id="exact-boundary-same-round"),
        pytest.param("99.49", 1, True, id="below-boundary"),
        pytest.param("60.00", 2, True, id="next-round-well-below"),
        pytest.param("99.51", 1, False, id="a-penny-short"),
        pytest.param("100.00", 2, False, id="same-price-next-round"),
        pytest.param("120.00", 1, False, id="higher"),
    ],
)
def test_decrement_against_own_previous_price(price: str, rnd: int, ok: bool) -> None:
    state = state_with(PREVIOUS, rnd=rnd)
    if ok:
        priced = check_bid(state, "S1", "laptops", one_price(price), T0)
        assert (priced.evaluated_unit_price, priced.previous) == (D(price), D("100.00"))
        return
    err = refused(ErrorKind.INVALID, lambda: check_bid(state, "S1", "laptops", one_price(price), T0))
    assert isinstance(err, DecrementError)
    assert err.field == "tiers"
    assert err.extra == {"required_unit_price": "99.50"}
    assert "at most 99.50" in err.message


def test_decrement_is_against_the_latest_of_several_previous_bids() -> None:
    state = state_with([bid("S1", "laptops", "100.00", 1), bid("S1", "laptops", "90.00", 2)], rnd=2)
    err = refused(ErrorKind.INVALID, lambda: check_bid(state, "S1", "laptops", one_price("89.56"), T0))
    assert err.extra == {"required_unit_price": "89.55"}  # 90 × 0.995 = 89.55
    assert check_bid(state, "S1", "laptops", one_price("89.55"), T0).previous == D("90.00")


def test_decrement_ignores_other_suppliers_and_other_lots() -> None:
    # S2 bid 50.00 on laptops and S1 300.00 on monitors: neither binds S1's first laptops bid,
    # and S1's laptops price does not bind its monitors bid.
    first = check_bid(state_with(PREVIOUS[:1]), "S1", "laptops", one_price("500"), T0)
    assert first.previous is None
    monitors = check_bid(state_with(PREVIOUS), "S1", "monitors", one_price("298.50"), T0)
    assert monitors.previous == D("300.00")


def test_decrement_uses_the_buys_percentage() -> None:
    state = state_with(PREVIOUS, negotiation={"min_decrement_pct": "2"})
    err = refused(ErrorKind.INVALID, lambda: check_bid(state, "S1", "laptops", one_price("98.01"), T0))
    assert err.extra == {"required_unit_price": "98.00"}


def test_bid_just_before_the_deadline_is_taken() -> None:
    priced = check_bid(state_with(), "S1", "laptops", one_price("900"), DEADLINE - timedelta(microseconds=1))
    assert priced.evaluated_unit_price == D("900.00")


def test_latest_bid() -> None:
    neg = state_with(PREVIOUS).negotiation
    assert neg is not None
    assert latest_bid(neg, "S1", "laptops") == PREVIOUS[1]
    assert latest_bid(neg, "S2", "monitors") is None


# --- early close ---------------------------------------------------------------------------------

ALL_ROUND_1 = [bid(s, lot, "100", m) for m, (s, lot) in enumerate(
    [("S1", "laptops"), ("S1", "monitors"), ("S2", "laptops"), ("S2", "monitors")])]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "complete"),
    [
        pytest.param(state_with(), False, id="no-bids"),
        pytest.param(state_with(ALL_ROUND_1[:3]), False, id="one-lot-missing"),
        pytest.param(state_with(ALL_ROUND_1), True, id="everyone-everything"),
        pytest.param(state_with(ALL_ROUND_1, rnd=2), False, id="bids-of-an-earlier-round"),
        pytest.param(
            state_with([*ALL_ROUND_1, bid("S1", "laptops", "99", 9, rnd=2)], rnd=2),
            False,
            id="part-of-round-2",
        ),
        pytest.param(
            state_with(ALL_ROUND_1[::2], unsuccessful={"monitors": "x"}),
            True,
            id="unsuccessful-lot-not-needed",
        ),
        pytest.param(
            state_with(ALL_ROUND_1[:2], suppliers={"S1": "qualified", "S2": "excluded"}),
            True,
            id="excluded-supplier-not-awaited",
        ),
        pytest.param(state_with(ALL_ROUND_1, deadline=None), False, id="round-closed"),
        pytest.param(state_with(ALL_ROUND_1, stage=Stage.EVALUATION), False, id="not-negotiating"),
    ],
)
def test_round_complete(state: BuyState, complete: bool) -> None:
    assert round_complete(state) is complete


# --- rank feedback -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "expected"),
    [
        pytest.param([], {}, id="no-bids"),
        pytest.param(
            [bid("S1", "laptops", "100", 0), bid("S2", "laptops", "99.99", 5)],
            {"laptops": {"S2": 1, "S1": 2}},
            id="cheapest-first-lot-without-bids-absent",
        ),
        pytest.param(
            [bid("S1", "laptops", "100", 5), bid("S2", "laptops", "100", 1)],
            {"laptops": {"S2": 1, "S1": 2}},
            id="tie-goes-to-earlier-bid",
        ),
        pytest.param(
            [
                bid("S1", "laptops", "100", 0),
                bid("S2", "laptops", "99", 1),
                bid("S1", "laptops", "98", 9, rnd=2),
                bid("S2", "monitors", "150", 2),
            ],
            {"laptops": {"S1": 1, "S2": 2}, "monitors": {"S2": 1}},
            id="latest-bid-counts",
        ),
        pytest.param(
            [bid("S1", "laptops", "100", 0), bid("S2", "laptops", "99", 1, rnd=1)],
            {"laptops": {"S2": 1, "S1": 2}},
            id="earlier-round-bids-still-rank",
        ),
    ],
)
def test_round_ranks(bids: list[Bid], expected: dict[str, dict[str, int]]) -> None:
    assert round_ranks(state_with(bids, rnd=2)) == expected


def test_round_ranks_leave_out_unsuccessful_lots() -> None:
    state = state_with([bid("S1", "monitors", "150")], unsuccessful={"monitors": "no demand"})
    assert round_ranks(state) == {}


def test_round_ranks_before_negotiation() -> None:
    assert round_ranks(NO_NEGOTIATION) == {}


def test_final_bids_are_each_suppliers_latest() -> None:
    neg = state_with([bid("S2", "laptops", "99", 0), bid("S1", "laptops", "100", 1),
                      bid("S1", "laptops", "97", 2, rnd=2)]).negotiation  # fmt: skip
    assert neg is not None
    assert [(b.supplier, b.evaluated_unit_price) for b in final_bids(neg, "laptops")] == [
        ("S1", D("97")),
        ("S2", D("99")),
    ]
    assert final_bids(neg, "monitors") == []


@pytest.mark.parametrize(
    ("bids", "unsuccessful", "expected"),
    [
        ([], {}, ["laptops", "monitors"]),
        ([bid("S1", "laptops", "100")], {}, ["monitors"]),
        ([bid("S1", "laptops", "100")], {"monitors": "x"}, []),
        (ALL_ROUND_1, {}, []),
    ],
)
def test_lots_without_bids(bids: list[Bid], unsuccessful: dict[str, str], expected: list[str]) -> None:
    assert lots_without_bids(state_with(bids, unsuccessful=unsuccessful)) == expected


# --- how many rounds, and on what volume ---------------------------------------------------------


@pytest.mark.parametrize(
    ("suppliers", "rounds", "expected"),
    [
        pytest.param({"S1": "qualified"}, 3, 1, id="single-supplier"),
        pytest.param({"S1": "qualified", "S2": "excluded", "S3": "flagged"}, 3, 1, id="single-qualified"),
        pytest.param({"S1": "qualified", "S2": "qualified"}, 3, 3, id="two"),
        pytest.param({"S1": "qualified", "S2": "qualified"}, 5, 5, id="terms-rounds"),
        pytest.param({"S1": "qualified", "S2": "qualified", "S3": "qualified"}, 1, 1, id="one-round-terms"),
    ],
)
def test_rounds_to_run(suppliers: dict[str, SupplierStatus], rounds: int, expected: int) -> None:
    state = state_with(suppliers=suppliers, negotiation={"rounds": rounds})
    assert rounds_to_run(state) == expected


def test_qualified_suppliers_sorted() -> None:
    assert qualified_suppliers(
        state_with(suppliers={"S9": "qualified", "S1": "qualified", "S5": "excluded"})
    ) == [
        "S1",
        "S9",
    ]


@pytest.mark.parametrize(
    ("unsuccessful", "expected"),
    [({}, {"laptops": 120, "monitors": 10}), ({"monitors": "x"}, {"laptops": 120})],
)
def test_committed_quantities_of_open_lots(unsuccessful: dict[str, str], expected: dict[str, int]) -> None:
    assert committed_quantities(state_with(unsuccessful=unsuccessful)) == expected
