"""The demo's cast and script: councils and what they need, suppliers and their evidence, the price
ladders each supplier bids round by round, and the lead's marks.

The buy is USB-C docking stations and headsets for council staff. Its estimated value is honest:
every council's indicative quantity × the unit price it pays today, plus VAT. That is below the
sub-central threshold, so the lead may (and does) set a voluntary standstill of 0 working days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Final, NamedTuple

from procurement.standstill import standstill_threshold

LEAD_ORG = "NEPO"  # North East Procurement Organisation runs the competition
VAT: Final = Decimal("0.20")
MIN_DECREMENT_PCT: Final = Decimal("0.5")
ROUNDS: Final = 3

LOTS: list[dict[str, str]] = [
    {"id": "docks", "title": "USB-C docking station", "unit": "device"},
    {"id": "headsets", "title": "Noise-cancelling USB headset", "unit": "device"},
]

# (GSS code, docks, headsets, baseline dock price, baseline headset price): what each pays today
DEMAND: list[tuple[str, int, int, str, str]] = [
    ("E06000001", 40, 30, "128.00", "44.50"),  # Hartlepool
    ("E06000002", 60, 0, "131.99", "0"),  # Middlesbrough
    ("E06000003", 30, 20, "135.00", "46.00"),  # Redcar and Cleveland
    ("E06000004", 50, 40, "129.00", "45.00"),  # Stockton-on-Tees
    ("E06000005", 25, 15, "133.00", "46.50"),  # Darlington
    ("E08000025", 200, 150, "119.00", "41.00"),  # Birmingham
    ("E08000003", 150, 100, "121.50", "42.00"),  # Manchester
    ("E09000033", 80, 0, "139.00", "0"),  # Westminster
    ("E10000003", 60, 40, "126.00", "43.50"),  # Cambridgeshire
    ("W06000015", 70, 50, "124.00", "43.00"),  # Cardiff
    ("W06000011", 35, 25, "130.00", "45.50"),  # Swansea
    ("S12000036", 100, 70, "122.00", "42.50"),  # City of Edinburgh
    ("S12000049", 120, 90, "120.00", "41.50"),  # Glasgow City
    ("N09000003", 45, 30, "127.00", "44.00"),  # Belfast
]
AMENDS = ("E06000004", 60, 40)  # Stockton-on-Tees raises its docking-station estimate
WITHDRAWS = "E06000005"  # Darlington withdraws before the window closes
DROPS_OUT = ("W06000011", "N09000003")  # Swansea and Belfast do not confirm
SIGN_UP_SHARE = {"E08000025": 0.9, "E09000033": 0.8}  # these confirm less than they indicated
# Conditional sign-up: Westminster commits its docking stations only up to £102.50 each.
LIMITS = {"E09000033": {"docks": "102.50"}}
# A clarification question (supplier, lot, question) the lead answers to everyone.
CLARIFICATION = (
    "05678901",
    "docks",
    "Must the docking stations support two 4K displays at 60 Hz?",
    "Yes: two 4K displays at 60 Hz over one USB-C cable, as the specification says.",
)

# (company number, name, Companies House status, certifications, debarment (ground, mandatory))
SUPPLIERS: list[tuple[str, str, str, list[str], tuple[str, bool] | None]] = [
    ("04567890", "Northern Devices Ltd", "active", ["cyber_essentials_plus", "iso_27001"], None),
    ("05678901", "Caledonian IT Supply Ltd", "active", ["cyber_essentials"], None),
    (
        "06789012",
        "Pennine Computing Ltd",
        "active",
        ["cyber_essentials"],
        ("past contract terminated for poor performance", False),
    ),
    ("07890123", "Severn Hardware Ltd", "active", ["cyber_essentials"], ("conviction for bribery", True)),
    ("08901234", "Thames Laptops Ltd", "liquidation", ["cyber_essentials"], None),
    ("09012345", "Mercia Office Tech Ltd", "active", [], None),
]
CLEARED = "06789012"  # the lead reviews the discretionary ground and keeps this supplier in


class Ladder(NamedTuple):
    """A supplier's opening ladder for a lot, [(min_quantity, unit price)], and the percentage it
    takes off every tier in rounds 2 and 3."""

    tiers: list[tuple[int, str]]
    cuts_pct: tuple[str, str]


# The qualified suppliers' ladders. Every top tier starts above any single council's volume and
# below the committed aggregate: only by buying together do councils reach it.
LADDERS: dict[str, dict[str, Ladder]] = {
    "04567890": {
        "docks": Ladder([(1, "134.00"), (100, "126.00"), (250, "119.00"), (500, "112.00"), (900, "106.00")],
                        ("2.0", "2.0")),
        "headsets": Ladder([(1, "46.00"), (100, "43.00"), (250, "40.00"), (500, "37.50")], ("2.0", "2.0")),
    },
    "05678901": {
        "docks": Ladder([(1, "129.00"), (250, "118.00"), (750, "109.50")], ("1.5", "4.5")),
        "headsets": Ladder([(1, "45.00"), (300, "39.90")], ("1.5", "2.0")),
    },
    "06789012": {
        "docks": Ladder([(1, "131.00"), (200, "121.00"), (600, "104.90")], ("1.0", "1.2")),
        "headsets": Ladder([(1, "44.50"), (150, "41.00"), (400, "36.90")], ("2.5", "2.5")),
    },
}  # fmt: skip

# The lead's marks after reading each tender: {lot: {supplier: (quality, social value)}}
MARKS: dict[str, dict[str, tuple[int, int]]] = {
    "docks": {"04567890": (75, 60), "05678901": (85, 70), "06789012": (70, 55)},
    "headsets": {"04567890": (80, 60), "05678901": (85, 70), "06789012": (70, 55)},
}


def ladder_for_round(ladder: Ladder, round_number: int) -> list[dict[str, str | int]]:
    """The tiers as bid in `round_number`: each round's cut off every tier, rounded down to the
    penny (so the cut is never smaller than stated, and always beats the minimum decrement)."""
    prices = [Decimal(price) for _, price in ladder.tiers]
    for cut in ladder.cuts_pct[: round_number - 1]:
        if Decimal(cut) <= MIN_DECREMENT_PCT:
            raise ValueError(f"a cut of {cut}% does not beat the {MIN_DECREMENT_PCT}% minimum decrement")
        factor = 1 - Decimal(cut) / 100
        prices = [(p * factor).quantize(Decimal("0.01"), rounding=ROUND_FLOOR) for p in prices]
    return [
        {"min_quantity": qty, "unit_price": str(price)}
        for (qty, _), price in zip(ladder.tiers, prices, strict=True)
    ]


def indicative_lines() -> list[tuple[str, str, int, Decimal]]:
    """(council, lot, quantity, baseline) for every line any council means to register (the larger
    of a council's first and amended figure): what the lead expects before demand opens."""
    lines = []
    for gss, docks, headsets, p_docks, p_headsets in DEMAND:
        if gss == AMENDS[0]:
            docks, headsets = max(docks, AMENDS[1]), max(headsets, AMENDS[2])
        for lot, qty, price in (("docks", docks, p_docks), ("headsets", headsets, p_headsets)):
            if qty:
                lines.append((gss, lot, qty, Decimal(price)))
    return lines


def estimated_value_incl_vat() -> Decimal:
    """Every indicative line at the council's current price, plus VAT: an honest upper estimate
    (the competition exists to beat those prices)."""
    net = sum((qty * price for _, _, qty, price in indicative_lines()), Decimal(0))
    return (net * (1 + VAT)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def terms(now: datetime | None = None) -> dict[str, Any]:
    """The lead's terms: short rounds that close early once everyone has bid, and a 0-day
    standstill, lawful only because the estimate is below the threshold (checked here and again
    by the engine when the buy is created)."""
    now = now or datetime.now(UTC)
    estimate = estimated_value_incl_vat()
    threshold = standstill_threshold(now.date())
    if estimate >= threshold:
        raise ValueError(f"the demo buy (£{estimate}) must be below the £{threshold} threshold")
    return {
        "title": "Docking stations and headsets for 2027",
        "description": "USB-C docking stations and noise-cancelling headsets for hybrid working, 2027",
        "cpv_code": "30237000",
        "lots": LOTS,
        "estimated_value_gbp": str(estimate),
        "demand_closes_at": (now + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 5, "min_total_quantity": {"docks": 500, "headsets": 300}},
        "requirements": {"certifications": ["cyber_essentials"]},
        "negotiation": {
            "rounds": ROUNDS,
            "round_window": "PT2M",
            "min_decrement_pct": str(MIN_DECREMENT_PCT),
            "extension_window": "PT15S",
            "max_extensions": 2,
        },
        "award": {
            "price_weight": 60,
            "quality_weight": 30,
            "social_value_weight": 10,
            "standstill_working_days": 0,
            "calendar": "england-and-wales",
        },
        "contract_years": 2,
    }
