"""Bids stay bounded in the workflow's state: it keeps each supplier's latest bid per lot (a tender),
at most `MAX_TENDERS` of them, with their ladders packed, so no resubmission, round or run makes the
continue-as-new input or the `get_state` result grow; every bid is still counted and in the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from messages.joint_buy import JointBuyInput
from procurement.errors import DomainError, ErrorKind
from procurement.models import MAX_TENDERS, Bid, NegotiationState
from procurement.pricing import MAX_TIERS, Tier
from procurement.rounds import check_bid
from tests.support import new_state
from tests.unit.test_rounds_rules import at, bid, one_price, state_with

LIMIT = 700_000  # the bids' share of a payload: well under Temporal's 2 MB beside the rest
T0 = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def payload_bytes(value: object) -> int:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload.ByteSize()


def widest_bid(n: int) -> Bid:
    """The biggest tender the models allow: a 64-character lot id, the most tiers, the largest
    quantities and prices, a late round and a large seq."""
    return Bid(
        supplier=f"SC{n:06d}",
        lot_id=f"lot-{n % 50:02d}-" + "x" * 57,
        round=10,
        tiers=[Tier(min_quantity=999_000 + i, unit_price=Decimal("99999.99") - i) for i in range(MAX_TIERS)],
        evaluated_unit_price=Decimal("99999.99"),
        submitted_at=T0 + timedelta(microseconds=123_457 + n),
        seq=9_999_000 + n,
    )


def test_the_most_tenders_a_buy_holds_travel_well_under_the_payload_limit() -> None:
    state = new_state("jb-tenders", T0)
    bare = payload_bytes(JointBuyInput(state=state))
    state.negotiation = NegotiationState(
        rounds=10, round=10, bids=[widest_bid(n) for n in range(MAX_TENDERS)]
    )
    carried = payload_bytes(JointBuyInput(state=state)) - bare
    assert carried <= LIMIT, f"{MAX_TENDERS} tenders of {MAX_TIERS} tiers: {carried} bytes"
    [payload] = pydantic_data_converter.payload_converter.to_payloads([state])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [type(state)])
    assert back.negotiation == state.negotiation, "the packed ladders read back as they were"


def test_a_resubmitted_bid_replaces_the_earlier_one_and_every_bid_is_counted() -> None:
    neg = NegotiationState(rounds=3, round=1)
    price = Decimal("900.00")
    for minute in range(200):
        neg.take(bid("S1", "laptops", str(price - minute), minute))
    neg.take(bid("S2", "laptops", "880.00", 5))
    neg.open_round(2, at(3000))
    neg.take(bid("S1", "laptops", "600.00", 3001, rnd=2))
    assert sorted((b.supplier, b.evaluated_unit_price) for b in neg.bids) == [
        ("S1", Decimal("600.00")),
        ("S2", Decimal("880.00")),
    ]
    assert (neg.bids_on("laptops"), neg.bids_on("laptops", this_round=True)) == (202, 1)
    size = payload_bytes(neg)
    for minute in range(3002, 3100):
        neg.take(bid("S1", "laptops", "600.00", minute, rnd=2))
    assert payload_bytes(neg) <= size + 20, "resubmissions do not grow the state"


def test_a_state_written_when_every_bid_was_kept_reads_as_its_latest_tenders() -> None:
    """States carried by runs from before: every bid in a list, ladders named, no counts."""
    every = [
        bid("S1", "laptops", "900.00", 1),
        bid("S2", "laptops", "890.00", 2),
        bid("S1", "laptops", "880.00", 3),
        bid("S1", "laptops", "800.00", 60, rnd=2),
    ]
    old = {"round": 2, "rounds": 3, "bids": [b.model_dump(mode="python") for b in every]}
    for b in old["bids"]:
        b["tiers"] = [
            {"min_quantity": t["min_quantity"], "unit_price": str(t["unit_price"])} for t in b["tiers"]
        ]
    neg = NegotiationState.model_validate_json(NegotiationState.model_validate(old).model_dump_json())
    assert [(b.supplier, b.evaluated_unit_price, b.round) for b in neg.bids] == [
        ("S1", Decimal("800.00"), 2),
        ("S2", Decimal("890.00"), 1),
    ]
    assert (neg.bids_on("laptops"), neg.bids_on("laptops", this_round=True)) == (4, 1)
    legacy = NegotiationState.model_validate(old)
    assert legacy.lot_bids == {"laptops": 4} and legacy.round_bids == {"laptops": 1}


def test_a_new_tender_past_the_bound_is_refused_and_an_improvement_is_taken() -> None:
    state = state_with()
    assert state.negotiation is not None
    state.negotiation.bids = [bid(f"X{n}", "laptops", "950.00") for n in range(MAX_TENDERS - 1)]
    state.negotiation.take(bid("S1", "laptops", "900.00"))
    assert len(state.negotiation.bids) == MAX_TENDERS
    with pytest.raises(DomainError) as refused:
        check_bid(state, "S2", "laptops", one_price("890.00"), at(1))
    assert refused.value.kind is ErrorKind.CONFLICT and f"{MAX_TENDERS:,} tenders" in refused.value.message
    # S1 improving its own tender on the lot is no new tender: taken.
    priced = check_bid(state, "S1", "laptops", one_price("850.00"), at(2))
    assert priced.previous == Decimal("900.00")
