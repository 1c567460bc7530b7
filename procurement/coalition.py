"""The stable coalition: which councils a lot is bought for when some committed only up to a price.

A council may sign up for a lot with `max_unit_price`: it takes the contract at any awarded unit price
up to that limit. Once every tender is marked, each lot settles before the assessment summaries:

    S := councils signed up for the lot
    repeat
        A := sum of the committed quantities over S
        price every final tender at aggregate A (its ladder's tier for A), score it with the lead's
        marks, and pick the winner as evaluation always does (ties: the earlier final bid)
        P := the winner's price at A
        D := councils in S whose max_unit_price is set and below P
        if D is empty: stop
        S := S - D

Every pass that does not stop removes at least one council, so there are at most |S| + 1 passes. A
tender whose ladder starts above A offers no price for that aggregate and takes no part in that pass.
Viability is then checked on the final coalition: `min_total_quantity` per lot, and `min_councils`
over the councils that hold at least one contract. Pure and deterministic: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from procurement.models import Bid, BuyState, LotAward, Marks, SignUpLine
from procurement.pricing import PENNY, EvaluatedBid, ScoredTender, Tier, Weights, price_at, score
from procurement.rounds import final_bids
from procurement.suppliers import open_lots


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PricedOut(_Frozen):
    """A council dropped from a lot's coalition: the price it would have paid was above its limit."""

    council: str
    quantity: int
    max_unit_price: Decimal
    unit_price: Decimal  # the price the lot earned at the aggregate that included this council


class CoalitionPass(_Frozen):
    """One pass of the rule over one lot."""

    lot_id: str
    number: int  # 1-based
    aggregate: int
    councils: int
    tenders: int  # final tenders with a price at this aggregate
    winner: str | None
    unit_price: Decimal | None
    priced_out: list[PricedOut] = Field(default_factory=list)

    def event_data(self) -> dict[str, Any]:
        """What the audit log records (the lead's view: it names each priced-out council's limit)."""
        return {
            "lot_id": self.lot_id,
            "pass": self.number,
            "aggregate": self.aggregate,
            "councils": self.councils,
            "tenders": self.tenders,
            "company_number": self.winner,
            "unit_price": None if self.unit_price is None else str(self.unit_price),
            "priced_out": [
                {"council": p.council, "quantity": p.quantity, "max_unit_price": str(p.max_unit_price)}
                for p in self.priced_out
            ],
        }


class LotSettlement(_Frozen):
    """Where one lot's coalition settled: the passes, the councils in it, and the tenders ranked at
    its aggregate (best first). `unsuccessful` is the reason when the lot cannot be awarded."""

    lot_id: str
    passes: list[CoalitionPass]
    coalition: list[str]  # councils in the final coalition, sorted
    aggregate: int
    ranked: list[ScoredTender]
    unsuccessful: str = ""

    @property
    def winner(self) -> ScoredTender | None:
        return self.ranked[0] if self.ranked and not self.unsuccessful else None

    @property
    def priced_out(self) -> list[PricedOut]:
        return [p for step in self.passes for p in step.priced_out]


class Settlement(_Frozen):
    lots: dict[str, LotSettlement]
    contract_holders: list[str]  # councils in the coalition of at least one awardable lot
    viable: bool
    reason: str = ""


def _priced(tenders: Sequence[Bid], aggregate: int) -> list[EvaluatedBid]:
    """Every final tender that offers a price at this aggregate, priced at it."""
    priced = []
    for bid in tenders:
        price = price_at(bid.tiers, aggregate)
        if price is not None:
            priced.append(
                EvaluatedBid(
                    supplier=bid.supplier,
                    evaluated_unit_price=price.quantize(PENNY),
                    submitted_at=bid.submitted_at,
                )
            )
    return priced


def settle_lot(
    lot_id: str,
    signups: Mapping[str, SignUpLine],
    tenders: Sequence[Bid],
    marks: Mapping[str, Marks],
    weights: Weights,
    *,
    min_total_quantity: int = 1,
) -> LotSettlement:
    """Run the rule on one lot. `signups` is council -> its line for this lot; `tenders` the final
    bids (one per supplier); `marks` the lead's marks per supplier."""
    members = sorted(signups)
    quality = {s: m.quality for s, m in marks.items()}
    social = {s: m.social_value for s, m in marks.items()}
    passes: list[CoalitionPass] = []
    ranked: list[ScoredTender] = []
    aggregate = 0
    while members:
        aggregate = sum(signups[c].quantity for c in members)
        ranked = score(_priced(tenders, aggregate), quality, social, weights)
        if not ranked:
            passes.append(
                CoalitionPass(
                    lot_id=lot_id,
                    number=len(passes) + 1,
                    aggregate=aggregate,
                    councils=len(members),
                    tenders=0,
                    winner=None,
                    unit_price=None,
                )
            )
            return LotSettlement(
                lot_id=lot_id,
                passes=passes,
                coalition=members,
                aggregate=aggregate,
                ranked=[],
                unsuccessful=f"no tender offers a price for an aggregate of {aggregate}",
            )
        price = ranked[0].evaluated_unit_price
        dropped = [
            PricedOut(
                council=c,
                quantity=signups[c].quantity,
                max_unit_price=limit,
                unit_price=price,
            )
            for c in members
            if (limit := signups[c].max_unit_price) is not None and limit < price
        ]
        passes.append(
            CoalitionPass(
                lot_id=lot_id,
                number=len(passes) + 1,
                aggregate=aggregate,
                councils=len(members),
                tenders=len(ranked),
                winner=ranked[0].supplier,
                unit_price=price,
                priced_out=dropped,
            )
        )
        if not dropped:
            break
        gone = {p.council for p in dropped}
        members = [c for c in members if c not in gone]
    if not members:
        return LotSettlement(
            lot_id=lot_id,
            passes=passes,
            coalition=[],
            aggregate=0,
            ranked=[],
            unsuccessful="every council that signed up was priced out",
        )
    reason = ""
    if aggregate < min_total_quantity:
        reason = f"the stable coalition commits {aggregate}, below the minimum of {min_total_quantity}"
    return LotSettlement(
        lot_id=lot_id,
        passes=passes,
        coalition=members,
        aggregate=aggregate,
        ranked=ranked,
        unsuccessful=reason,
    )


def lines_for(state: BuyState, lot_id: str) -> dict[str, SignUpLine]:
    """Council -> its sign-up line for the lot: the full sign-up the rule starts from."""
    return {
        council: line for council, lines in state.signups.items() for line in lines if line.lot_id == lot_id
    }


def settle(state: BuyState) -> Settlement:
    """Every open lot with tenders settles on its own; then `min_councils` is checked over the
    councils left holding a contract."""
    neg = state.negotiation
    assert neg is not None, "the coalition settles after negotiation"
    terms = state.terms
    lots: dict[str, LotSettlement] = {}
    for lot in open_lots(state):
        tenders = final_bids(neg, lot)
        if not tenders:
            continue
        lots[lot] = settle_lot(
            lot,
            lines_for(state, lot),
            tenders,
            state.marks.get(lot, {}),
            terms.award,
            min_total_quantity=terms.viability.min_total_quantity.get(lot, 1),
        )
    holders = sorted({c for s in lots.values() if not s.unsuccessful for c in s.coalition})
    minimum = terms.viability.min_councils
    if not any(not s.unsuccessful for s in lots.values()):
        return Settlement(lots=lots, contract_holders=holders, viable=False, reason="no lot can be awarded")
    if len(holders) < minimum:
        reason = f"{len(holders)} councils remain in the stable coalition; at least {minimum} are needed"
        return Settlement(lots=lots, contract_holders=holders, viable=False, reason=reason)
    return Settlement(lots=lots, contract_holders=holders, viable=True)


def lot_award(settled: LotSettlement, tenders: Sequence[Bid]) -> LotAward:
    """The award of a settled lot: the winner's ladder at the coalition's aggregate."""
    winner = settled.winner
    assert winner is not None, f"lot {settled.lot_id} has no winner: {settled.unsuccessful}"
    ladder: list[Tier] = next(b.tiers for b in tenders if b.supplier == winner.supplier)
    return LotAward(
        lot_id=settled.lot_id,
        supplier=winner.supplier,
        unit_price=winner.evaluated_unit_price,
        committed_quantity=settled.aggregate,
        value=settled.aggregate * winner.evaluated_unit_price,
        tiers=ladder,
    )


__all__ = [
    "CoalitionPass",
    "LotSettlement",
    "PricedOut",
    "Settlement",
    "lines_for",
    "lot_award",
    "settle",
    "settle_lot",
]
