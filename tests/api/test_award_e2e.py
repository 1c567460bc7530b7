"""End to end through HTTP: 20 councils, 2 lots, 4 qualified suppliers, 3 sealed rounds, the lead's
marks, the award and one contract per council per lot.

The expected winners and every contract row are computed here from the inputs alone (the scoring
formula, the ladders, each council's quantity and baseline), not read back from the engine.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.api.conftest import Api

COUNCILS = [
    "E06000030",
    "E06000031",
    "E06000032",
    "E06000033",
    "E06000034",
    "E06000035",
    "E06000036",
    "E06000037",
    "E06000038",
    "E06000039",
    "E06000040",
    "E06000041",
    "E06000042",
    "E06000043",
    "E06000044",
    "E06000045",
    "E06000046",
    "E06000047",
    "E06000049",
    "E06000050",
]
A, B, C, D = "30000001", "30000002", "30000003", "30000004"
LAPTOPS, MONITORS = "laptops", "monitors"
# Each supplier's evaluated price per round: every step beats its own previous by well over 0.5 %.
PRICES = {
    LAPTOPS: {A: (860, 845, 830), B: (850, 840, 832), C: (870, 850, 835), D: (865, 848, 838)},
    MONITORS: {A: (190, 187, 185), B: (188, 186, 184), C: (195, 189, 183), D: (192, 190, 188)},
}
# The lead's (quality, social value) marks per lot.
MARKS = {
    LAPTOPS: {A: (60, 50), B: (85, 70), C: (70, 60), D: (90, 90)},
    MONITORS: {A: (70, 50), B: (70, 50), C: (70, 50), D: (70, 50)},
}
WEIGHTS = (60, 30, 10)  # the buy's defaults: price, quality, social value


def demand(i: int) -> list[dict[str, Any]]:
    """Council i wants 40 + 7i laptops; every other council monitors too; baselines differ."""
    lines = [{"lot_id": LAPTOPS, "quantity": 40 + 7 * i, "baseline_unit_price": str(900 + 10 * (i % 5))}]
    if i % 2 == 0:
        lines.append({"lot_id": MONITORS, "quantity": 15 + 3 * i, "baseline_unit_price": f"{180 + i}.50"})
    return lines


def sign_up(i: int) -> list[dict[str, Any]]:
    """Some councils commit a little less than they indicated."""
    return [{"lot_id": d["lot_id"], "quantity": d["quantity"] - i % 3} for d in demand(i)]


def ladder(lot: str, price: int) -> list[tuple[int, Decimal]]:
    """The volume ladder whose top tier is `price`: dearer for smaller volumes."""
    steps = [(1, 120), (100, 60), (1000, 20), (2000, 0)] if lot == LAPTOPS else [(1, 25), (100, 0)]
    return [(qty, Decimal(price + extra)) for qty, extra in steps]


def price_at(tiers: list[tuple[int, Decimal]], quantity: int) -> Decimal:
    return [p for q, p in tiers if q <= quantity][-1]


def committed(lot: str) -> int:
    return sum(line["quantity"] for i in range(20) for line in sign_up(i) if line["lot_id"] == lot)


def expected_winner(lot: str) -> str:
    final = {s: Fraction(prices[-1]) for s, prices in PRICES[lot].items()}
    lowest = min(final.values())
    price_w, quality_w, social_w = WEIGHTS

    def total(s: str) -> Fraction:
        quality, social = MARKS[lot][s]
        return lowest / final[s] * price_w + Fraction(quality * quality_w + social * social_w, 100)

    return max(final, key=total)


def expected_contracts(winners: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for i, gss in enumerate(COUNCILS):
        baselines = {d["lot_id"]: Decimal(d["baseline_unit_price"]) for d in demand(i)}
        for line in sign_up(i):
            lot, qty = line["lot_id"], line["quantity"]
            tiers = ladder(lot, PRICES[lot][winners[lot]][-1])
            unit = price_at(tiers, committed(lot))
            standalone = price_at(tiers, qty)
            rows.append(
                {
                    "council": gss,
                    "lot": lot,
                    "supplier": winners[lot],
                    "quantity": qty,
                    "unit_price": f"{unit:.2f}",
                    "total": f"{qty * unit:.2f}",
                    "baseline_unit_price": f"{baselines[lot]:.2f}",
                    "baseline_total": f"{qty * baselines[lot]:.2f}",
                    "saving": f"{qty * (baselines[lot] - unit):.2f}",
                    "standalone_unit_price": f"{standalone:.2f}",
                    "aggregation_dividend": f"{qty * (standalone - unit):.2f}",
                }
            )
    return sorted(rows, key=lambda r: (r["council"], r["lot"]))


def expected_rank(lot: str, supplier: str, round_index: int) -> int:
    prices = sorted(PRICES[lot], key=lambda s: PRICES[lot][s][round_index])
    return prices.index(supplier) + 1


async def test_twenty_councils_four_suppliers_three_rounds(api: Api) -> None:
    buy = await api.negotiating_buy(
        "LEAD-E2E",
        {gss: demand(i) for i, gss in enumerate(COUNCILS)},
        dict.fromkeys((A, B, C, D), "active"),
        sign_up={gss: sign_up(i) for i, gss in enumerate(COUNCILS)},
        # Below the threshold a standstill of 0 working days is allowed: contracts follow the notice.
        estimated_value_gbp="200000",
        award={"standstill_working_days": 0},
    )
    view = (await api.http.get(buy.url, headers=buy.lead)).json()
    assert {lot: a["committed_quantity"] for lot, a in view["aggregate"].items()} == {
        lot: committed(lot) for lot in (LAPTOPS, MONITORS)
    }

    for round_index in range(3):
        for supplier in (A, B, C, D):
            for lot in (LAPTOPS, MONITORS):
                tiers = ladder(lot, PRICES[lot][supplier][round_index])
                body = {"lot_id": lot, "tiers": [{"min_quantity": q, "unit_price": str(p)} for q, p in tiers]}
                r = await api.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[supplier])
                assert r.status_code == 201, r.text
                assert r.json()["round"] == round_index + 1
                assert r.json()["evaluated_unit_price"] == f"{PRICES[lot][supplier][round_index]}.00"
        if round_index < 2:
            await api.wait_for(buy.url, buy.lead, lambda b, n=round_index + 2: b["round"]["number"] == n)
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")

    mine = (await api.http.get(f"{buy.url}/bids/mine", headers=buy.suppliers[D])).json()
    assert mine["ranks"] == [
        {"round": n + 1, "lot_id": lot, "rank": expected_rank(lot, D, n), "bidders": 4}
        for n in range(3)
        for lot in (LAPTOPS, MONITORS)
    ]

    for lot, marks in MARKS.items():
        for supplier, (quality, social) in marks.items():
            body = {"supplier": supplier, "lot_id": lot, "quality": quality, "social_value": social}
            r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)
            assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")

    winners = {lot: expected_winner(lot) for lot in (LAPTOPS, MONITORS)}
    # Laptops go to the dearest final bid on quality and social value; monitors on price.
    assert winners == {LAPTOPS: D, MONITORS: C}
    award = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()
    lots = {lot["lot_id"]: lot for lot in award["lots"]}
    for lot, winner in winners.items():
        unit = PRICES[lot][winner][-1]
        assert lots[lot]["winner"]["company_number"] == winner and lots[lot]["status"] == "awarded"
        assert lots[lot]["unit_price"] == f"{unit}.00"
        assert lots[lot]["committed_quantity"] == committed(lot)
        assert lots[lot]["total_value"] == f"{committed(lot) * unit}.00"
        assert len(lots[lot]["assessment_summaries"]) == 4

    contracts = (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()
    expected = expected_contracts(winners)
    shown = [{k: v for k, v in c.items() if k in expected[0]} for c in contracts["contracts"]]
    assert shown == expected
    assert len(shown) == 30 and {c["council"] for c in shown} == set(COUNCILS)
    for lot in (LAPTOPS, MONITORS):
        lot_total = sum(Decimal(c["total"]) for c in shown if c["lot"] == lot)
        assert lot_total == Decimal(lots[lot]["total_value"])
    assert contracts["totals"] == {
        "contracts": 30,
        "quantity": committed(LAPTOPS) + committed(MONITORS),
        **{
            name: f"{sum(Decimal(c[name]) for c in expected):.2f}"
            for name in ("total", "baseline_total", "saving", "aggregation_dividend")
        },
    }
    assert Decimal(contracts["totals"]["aggregation_dividend"]) > 0

    # Each council sees exactly its own rows; each winner the contracts it won.
    for gss, token in buy.councils.items():
        own = (await api.http.get(f"{buy.url}/contracts", headers=token)).json()["contracts"]
        assert [{k: v for k, v in c.items() if k in expected[0]} for c in own] == [
            row for row in expected if row["council"] == gss
        ]
    for lot, winner in winners.items():
        won = (await api.http.get(f"{buy.url}/contracts", headers=buy.suppliers[winner])).json()
        assert {c["lot"] for c in won["contracts"]} == {lot}
        assert won["totals"]["total"] == lots[lot]["total_value"]
    lost = (await api.http.get(f"{buy.url}/contracts", headers=buy.suppliers[A])).json()
    assert lost["contracts"] == []
