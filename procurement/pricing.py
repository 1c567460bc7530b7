"""Price rules of negotiation, evaluation and award: ladders, decrements, anti-sniping, ranking,
scoring and each council's saving. Money is `Decimal` GBP; time comes in as arguments.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Annotated, Any, Final, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from procurement.errors import DomainError, ErrorKind

PENNY: Final = Decimal("0.01")
MAX_TIERS: Final = 20
UnitPrice = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class PricingRuleError(DomainError, ValueError):
    """A price rule is broken; maps to 422 like every `ErrorKind.INVALID` domain error."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(ErrorKind.INVALID, message, field=field)


class DecrementError(PricingRuleError):
    """A new bid does not beat the supplier's previous price by the minimum decrement."""

    def __init__(self, message: str, *, required: Decimal, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.required = required
        self.extra = {"required_unit_price": str(required)}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tier(_Frozen):
    """From `min_quantity` units of committed aggregate volume, every unit costs `unit_price`."""

    min_quantity: int = Field(ge=1, strict=True)  # an integer, never `true` taken as 1
    unit_price: UnitPrice


def _penny(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


# --- ladders -------------------------------------------------------------------------------------


def validate_ladder(tiers: Iterable[Tier | Mapping[str, Any]]) -> list[Tier]:
    """A volume-discount ladder: 1 to 50 tiers, `min_quantity` strictly increasing (so no two tiers
    share one), every price > 0 with at most 2 decimal places, and prices non-increasing: a higher
    tier may repeat the price below it but never charge more per unit for more volume.
    The first tier may start at any quantity ≥ 1; below it the supplier offers no price.
    """
    ladder: list[Tier] = []
    for index, raw in enumerate(tiers):
        try:
            ladder.append(raw if isinstance(raw, Tier) else Tier.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in (index, *first["loc"]))
            raise PricingRuleError(first["msg"], field=f"tiers.{where}") from None
    if not ladder:
        raise PricingRuleError("a price ladder needs at least one tier", field="tiers")
    if len(ladder) > MAX_TIERS:
        raise PricingRuleError(f"at most {MAX_TIERS} tiers, not {len(ladder)}", field="tiers")
    for index, (lower, upper) in enumerate(itertools.pairwise(ladder), start=1):
        if upper.min_quantity <= lower.min_quantity:
            raise PricingRuleError(
                f"min_quantity must increase from tier to tier: {upper.min_quantity} follows "
                f"{lower.min_quantity}",
                field=f"tiers.{index}.min_quantity",
            )
        if upper.unit_price > lower.unit_price:
            raise PricingRuleError(
                f"a volume discount ladder may not charge more for more volume: {upper.unit_price} "
                f"from {upper.min_quantity} units is above {lower.unit_price} from "
                f"{lower.min_quantity}",
                field=f"tiers.{index}.unit_price",
            )
    return ladder


def price_at(tiers: Sequence[Tier], quantity: int) -> Decimal | None:
    """The unit price of the highest tier reached by `quantity`; None below the first tier."""
    reached = [tier for tier in tiers if tier.min_quantity <= quantity]
    if not reached:
        return None
    return max(reached, key=lambda tier: tier.min_quantity).unit_price


# --- negotiation ---------------------------------------------------------------------------------


def required_price(previous: Decimal, min_decrement_pct: Decimal) -> Decimal:
    """The highest price that beats `previous` by `min_decrement_pct` percent, rounded DOWN to the
    penny (rounding down never lets a bid through that falls short of the decrement).
    """
    if previous <= 0:
        raise PricingRuleError(f"previous price must be positive, not {previous}")
    if not 0 <= min_decrement_pct < 100:
        raise PricingRuleError(
            f"minimum decrement must be at least 0% and below 100%, not {min_decrement_pct}%"
        )
    exact = previous * (100 - min_decrement_pct) / 100
    return exact.quantize(PENNY, rounding=ROUND_FLOOR)


def check_decrement(
    previous: Decimal, new: Decimal, min_decrement_pct: Decimal, *, field: str = "unit_price"
) -> None:
    """A supplier's new price must be at most `required_price(previous, min_decrement_pct)`;
    `field` names where the caller's price came from."""
    required = required_price(previous, min_decrement_pct)
    if new > required:
        raise DecrementError(
            f"unit price {new} must be at most {required}: {min_decrement_pct}% below your "
            f"previous {previous}",
            required=required,
            field=field,
        )


class Extension(NamedTuple):
    deadline: datetime
    extensions_used: int


def extend_deadline(
    deadline: datetime,
    bid_at: datetime,
    extension_window: timedelta,
    extensions_used: int,
    max_extensions: int,
) -> Extension:
    """Anti-sniping: a bid in the last `extension_window` before `deadline` (from deadline - window
    inclusive up to the deadline exclusive) moves the deadline to deadline + window, at most
    `max_extensions` times per round. Extending from the deadline, not from the bid, gives every
    round the same predictable extra time. A bid at or after the deadline extends nothing: it is
    late, and the caller refuses it.
    """
    if extension_window < timedelta(0) or extensions_used < 0 or max_extensions < 0:
        raise PricingRuleError("extension window and counts must not be negative")
    in_window = deadline - extension_window <= bid_at < deadline
    if in_window and extensions_used < max_extensions:
        return Extension(deadline + extension_window, extensions_used + 1)
    return Extension(deadline, extensions_used)


# --- ranking and scoring -------------------------------------------------------------------------


class EvaluatedBid(_Frozen):
    """A supplier's bid for one lot, priced at the committed aggregate (its evaluated price)."""

    supplier: str
    evaluated_unit_price: UnitPrice
    submitted_at: datetime


class RankedBid(EvaluatedBid):
    rank: int


def _check_unique(bids: Sequence[EvaluatedBid]) -> None:
    suppliers = [bid.supplier for bid in bids]
    if len(set(suppliers)) != len(suppliers):
        raise PricingRuleError("each supplier may have only one bid in a ranking", field="bids")


def rank(bids: Sequence[EvaluatedBid]) -> list[RankedBid]:
    """Cheapest evaluated price first; a tie goes to the earlier bid (then supplier id, so the
    order never depends on input order). Ranks run 1..n with no shared places.
    """
    _check_unique(bids)
    ordered = sorted(bids, key=lambda b: (b.evaluated_unit_price, b.submitted_at, b.supplier))
    return [RankedBid(**bid.model_dump(), rank=place) for place, bid in enumerate(ordered, start=1)]


class Weights(Protocol):
    """Award weights in percent, adding up to 100; `procurement.models.AwardTerms` fits."""

    @property
    def price_weight(self) -> int: ...
    @property
    def quality_weight(self) -> int: ...
    @property
    def social_value_weight(self) -> int: ...


class ScoredTender(EvaluatedBid):
    """Scores are quantized to 2 dp for display; rank and winner come from the unrounded totals."""

    quality: int
    social_value: int
    price_score: Decimal
    quality_score: Decimal
    social_value_score: Decimal
    total_score: Decimal
    rank: int
    winner: bool


def _display(value: Fraction) -> Decimal:
    """A non-negative score rounded half-up to 2 dp, straight from the exact value."""
    return Decimal(math.floor(value * 100 + Fraction(1, 2))).scaleb(-2)


def _mark(marks: Mapping[str, int], supplier: str, weight: int, name: str) -> int:
    if supplier not in marks:
        if weight == 0:
            return 0  # a criterion that weighs nothing need not be marked
        raise PricingRuleError(f"no {name} score for supplier {supplier}", field=name)
    mark = marks[supplier]
    if isinstance(mark, bool) or not 0 <= mark <= 100:
        raise PricingRuleError(f"{name} score for {supplier} must be 0-100, not {mark}", field=name)
    return mark


def score(
    bids: Sequence[EvaluatedBid],
    quality: Mapping[str, int],
    social: Mapping[str, int],
    weights: Weights,
) -> list[ScoredTender]:
    """Most advantageous tender, best first.

    price score = lowest evaluated price / this price * price weight;
    quality = mark / 100 * quality weight; social value = mark / 100 * its weight.
    Highest total wins; equal totals go to the earlier final bid (then supplier id).
    """
    _check_unique(bids)
    w = (weights.price_weight, weights.quality_weight, weights.social_value_weight)
    if min(w) < 0 or sum(w) != 100:
        raise PricingRuleError(f"weights must be non-negative and add up to 100, not {w}")
    if not bids:
        return []
    # Exact rational arithmetic: totals that are equal on paper compare equal (so the tie rule,
    # not a rounding artefact, decides) and a replayed workflow scores identically.
    lowest = Fraction(min(bid.evaluated_unit_price for bid in bids))
    rows = []
    for bid in bids:
        q = _mark(quality, bid.supplier, weights.quality_weight, "quality")
        s = _mark(social, bid.supplier, weights.social_value_weight, "social_value")
        parts = (
            lowest * weights.price_weight / Fraction(bid.evaluated_unit_price),
            Fraction(q * weights.quality_weight, 100),
            Fraction(s * weights.social_value_weight, 100),
        )
        rows.append((bid, q, s, parts, sum(parts, Fraction(0))))
    rows.sort(key=lambda row: (-row[4], row[0].submitted_at, row[0].supplier))
    return [
        ScoredTender(
            **bid.model_dump(),
            quality=q,
            social_value=s,
            price_score=_display(parts[0]),
            quality_score=_display(parts[1]),
            social_value_score=_display(parts[2]),
            total_score=_display(total),
            rank=place,
            winner=place == 1,
        )
        for place, (bid, q, s, parts, total) in enumerate(rows, start=1)
    ]


# --- award ---------------------------------------------------------------------------------------


class ContractLine(_Frozen):
    """One council's call-off for one lot. Amounts are pennies; `saving` is against the council's
    own baseline and `aggregation_dividend` is what pooling saved it over buying its volume alone.
    """

    council: str
    lot: str
    supplier: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    baseline_unit_price: Decimal
    baseline_total: Decimal
    saving: Decimal
    standalone_unit_price: Decimal
    aggregation_dividend: Decimal


def contract_line(
    council: str,
    lot: str,
    supplier: str,
    quantity: int,
    awarded_unit_price: Decimal,
    baseline_unit_price: Decimal,
    ladder: Sequence[Tier],
) -> ContractLine:
    """The contract a council gets: committed quantity * the price the aggregate earned.

    Unit prices are rounded half-up to the penny first and every amount is computed from those,
    so total == quantity * unit_price holds on the contract as printed. The standalone price is
    the winner's ladder price at the council's own quantity; when that quantity does not reach
    the first tier the supplier quoted nothing for it, and the first tier's price is used: a
    smaller volume would cost at least that, so the dividend shown is never overstated.
    """
    if quantity < 1:
        raise PricingRuleError(f"quantity must be at least 1, not {quantity}", field="quantity")
    if awarded_unit_price <= 0 or baseline_unit_price < 0:
        raise PricingRuleError("awarded price must be positive and baseline not negative")
    if not ladder:
        raise PricingRuleError("the winning ladder has no tiers", field="tiers")
    own = price_at(ladder, quantity)
    if own is None:
        own = min(ladder, key=lambda tier: tier.min_quantity).unit_price
    unit, baseline, standalone = (_penny(p) for p in (awarded_unit_price, baseline_unit_price, own))
    total, baseline_total = quantity * unit, quantity * baseline
    return ContractLine(
        council=council,
        lot=lot,
        supplier=supplier,
        quantity=quantity,
        unit_price=unit,
        total=total,
        baseline_unit_price=baseline,
        baseline_total=baseline_total,
        saving=baseline_total - total,
        standalone_unit_price=standalone,
        aggregation_dividend=quantity * (standalone - unit),
    )
