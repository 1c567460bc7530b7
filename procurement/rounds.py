"""Rules of the negotiation stage: who may bid on what and when, what a bid is worth against the
committed aggregate, when a round may close early, and the rank feedback after each round.

Each `check_*` raises a `DomainError` and changes nothing; the workflow applies the bid only after
the check passed. Time comes in as `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from procurement.demand import totals as demand_totals
from procurement.errors import DomainError, ErrorKind, conflict, invalid
from procurement.models import MAX_TENDERS, Bid, BuyState, NegotiationState, Stage
from procurement.pricing import (
    PENNY,
    EvaluatedBid,
    Tier,
    check_decrement,
    price_at,
    rank,
    validate_ladder,
)
from procurement.suppliers import open_lots


def forbidden(message: str) -> DomainError:
    return DomainError(ErrorKind.FORBIDDEN, message)


def qualified_suppliers(state: BuyState) -> list[str]:
    return sorted(c for c, e in state.suppliers.items() if e.status == "qualified")


def committed_quantities(state: BuyState) -> dict[str, int]:
    """The committed aggregate per open lot: the volume every ladder is priced at."""
    totals = demand_totals(state).lots
    return {lot: totals[lot].committed_quantity for lot in open_lots(state)}


def rounds_to_run(state: BuyState) -> int:
    """With a single qualified supplier there is no competition to negotiate against: it makes one
    sealed, final offer and the buy goes straight on to evaluation."""
    return 1 if len(qualified_suppliers(state)) == 1 else state.terms.negotiation.rounds


class PricedBid(NamedTuple):
    tiers: list[Tier]
    evaluated_unit_price: Decimal
    previous: Decimal | None


def latest_bid(neg: NegotiationState, supplier: str, lot_id: str) -> Bid | None:
    """The supplier's most recent bid on the lot in any round so far."""
    for bid in reversed(neg.bids):
        if bid.supplier == supplier and bid.lot_id == lot_id:
            return bid
    return None


def _open_round(state: BuyState, now: datetime) -> NegotiationState:
    neg, closes_at = state.negotiation, state.stage_deadline
    if state.stage != Stage.NEGOTIATION or neg is None or closes_at is None:
        raise conflict(
            f"bids are taken only while a negotiation round is open; this buy is in {state.stage.value}"
        )
    if now >= closes_at:
        raise conflict(f"round {neg.round} closed at {closes_at.isoformat()}")
    return neg


def _check_bidder(state: BuyState, supplier: str) -> None:
    entry = state.suppliers.get(supplier)
    if entry is None:
        raise forbidden(f"supplier {supplier} did not register interest in this buy and may not bid")
    if entry.status != "qualified":
        why = f": {entry.reason}" if entry.reason else ""
        raise forbidden(f"supplier {supplier} is {entry.status} and may not bid{why}")


def check_bid(
    state: BuyState, supplier: str, lot_id: str, tiers: Iterable[Tier | Mapping[str, Any]], now: datetime
) -> PricedBid:
    """A bid is taken when a round is open, the bidder qualified, the lot open, the ladder valid,
    its price at the committed aggregate defined, and that price beats the bidder's own previous
    evaluated price on the lot by the minimum decrement."""
    neg = _open_round(state, now)
    _check_bidder(state, supplier)
    if lot_id not in state.terms.lot_ids():
        raise invalid(f"unknown lot {lot_id!r}; this buy has {state.terms.lot_ids()}", field="lot_id")
    if lot_id in state.unsuccessful_lots:
        raise conflict(f"lot {lot_id} is unsuccessful and takes no bids: {state.unsuccessful_lots[lot_id]}")
    if lot_id in state.cancelled_lots:
        raise conflict(f"lot {lot_id} was cancelled and takes no bids: {state.cancelled_lots[lot_id].reason}")
    ladder = validate_ladder(tiers)
    committed = committed_quantities(state)[lot_id]
    evaluated = price_at(ladder, committed)
    if evaluated is None:
        raise invalid(
            f"the ladder starts at {ladder[0].min_quantity} units but the committed aggregate for "
            f"{lot_id} is {committed}: it offers no price for this buy",
            field="tiers.0.min_quantity",
        )
    evaluated = evaluated.quantize(PENNY)
    previous = latest_bid(neg, supplier, lot_id)
    if previous is None and len(neg.bids) >= MAX_TENDERS:
        raise conflict(
            f"this buy already holds {MAX_TENDERS:,} tenders (a supplier's bid on a lot), the most one"
            " buy takes; bidders may still improve the tenders they have made"
        )
    if previous is not None:
        pct = state.terms.negotiation.min_decrement_pct
        # The evaluated price comes from the ladder as a whole, so the ladder is what must change.
        check_decrement(previous.evaluated_unit_price, evaluated, pct, field="tiers")
    return PricedBid(ladder, evaluated, previous.evaluated_unit_price if previous else None)


def round_complete(state: BuyState) -> bool:
    """Every qualified supplier has bid in the open round on every open lot."""
    neg = state.negotiation
    if state.stage != Stage.NEGOTIATION or neg is None or state.stage_deadline is None:
        return False
    lots = open_lots(state)
    done = {(b.supplier, b.lot_id) for b in neg.bids if b.round == neg.round}
    return all((s, lot) in done for s in qualified_suppliers(state) for lot in lots)


def final_bids(neg: NegotiationState, lot_id: str) -> list[Bid]:
    """Each supplier's latest bid on the lot: the tender that is ranked and evaluated."""
    latest: dict[str, Bid] = {}
    for bid in neg.bids:
        if bid.lot_id == lot_id:
            latest[bid.supplier] = bid
    return [latest[s] for s in sorted(latest)]


def as_evaluated(bids: Sequence[Bid]) -> list[EvaluatedBid]:
    return [
        EvaluatedBid(
            supplier=b.supplier, evaluated_unit_price=b.evaluated_unit_price, submitted_at=b.submitted_at
        )
        for b in bids
    ]


def round_ranks(state: BuyState) -> dict[str, dict[str, int]]:
    """Rank per lot per supplier on the latest bids so far; lots without bids are absent."""
    neg = state.negotiation
    if neg is None:
        return {}
    ranks: dict[str, dict[str, int]] = {}
    for lot in open_lots(state):
        ranked = rank(as_evaluated(final_bids(neg, lot)))
        if ranked:
            ranks[lot] = {r.supplier: r.rank for r in ranked}
    return ranks


def lots_without_bids(state: BuyState) -> list[str]:
    neg = state.negotiation
    bid_lots = {b.lot_id for b in neg.bids} if neg else set()
    return [lot for lot in open_lots(state) if lot not in bid_lots]
