"""End to end through HTTP: 8 councils, 3 suppliers, one lot, and a cascade in the stable coalition.

Four councils commit up to a price. At the full aggregate (390) supplier A's top tier wins at 910.00
and prices out the council whose limit is 905.00; the aggregate falls to 330, below A's 350 tier, so
B wins at 920.00 and prices out the council whose limit is 915.00; at 300 nobody else is above their
limit and the coalition is stable.

The expected passes, coalition, winner, price and every contract are computed here from the inputs
alone (an independent implementation of the rule and the scoring formula), not read back from the
engine. A council's limit never reaches a supplier or the public package.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.api.conftest import Api
from tests.unit.test_ocds_builder import assert_valid

LOT = "laptops"
A, B, C = "50000001", "50000002", "50000003"
# council -> (quantity, limit or None, baseline)
COUNCILS: dict[str, tuple[int, str | None, str]] = {
    "E06000001": (100, None, "999.00"),
    "E06000002": (80, None, "1010.00"),
    "E06000003": (60, "905.00", "985.00"),
    "E06000004": (50, "930.00", "1001.00"),
    "E06000005": (40, None, "995.00"),
    "E06000006": (30, "915.00", "990.00"),
    "E06000007": (20, "950.00", "1020.00"),
    "E06000008": (10, None, "1005.00"),
}
LIMITS = {"905.00", "915.00", "930.00", "950.00"}
LADDERS = {
    A: [(1, "990.00"), (200, "940.00"), (350, "910.00")],
    B: [(1, "960.00"), (300, "920.00")],
    C: [(1, "945.00")],
}
MARKS = {A: (70, 50), B: (72, 50), C: (60, 40)}
WEIGHTS = (60, 30, 10)
BID_ORDER = (A, B, C)  # the earlier final bid wins a tie


def price(supplier: str, quantity: int) -> Decimal | None:
    reached = [Decimal(p) for q, p in LADDERS[supplier] if q <= quantity]
    return reached[-1] if reached else None


def winner_at(aggregate: int) -> tuple[str, Decimal]:
    priced = {s: p for s in BID_ORDER if (p := price(s, aggregate)) is not None}
    lowest = min(priced.values())
    price_w, quality_w, social_w = WEIGHTS

    def total(s: str) -> Fraction:
        quality, social = MARKS[s]
        return Fraction(lowest) / Fraction(priced[s]) * price_w + Fraction(
            quality * quality_w + social * social_w, 100
        )

    best = max(priced, key=lambda s: (total(s), -BID_ORDER.index(s)))
    return best, priced[best]


def expected_passes() -> tuple[list[tuple[int, str, Decimal, list[str]]], list[str]]:
    members = sorted(COUNCILS)
    passes = []
    while True:
        aggregate = sum(COUNCILS[c][0] for c in members)
        winner, unit = winner_at(aggregate)
        out = [c for c in members if (lim := COUNCILS[c][1]) is not None and Decimal(lim) < unit]
        passes.append((aggregate, winner, unit, out))
        if not out:
            return passes, members
        members = [c for c in members if c not in out]


def expected_contracts(members: list[str], winner: str, unit: Decimal) -> list[dict[str, Any]]:
    rows = []
    for council in members:
        qty, _, baseline = COUNCILS[council]
        standalone = price(winner, qty) or Decimal(LADDERS[winner][0][1])
        base = Decimal(baseline)
        rows.append(
            {
                "council": council,
                "lot": LOT,
                "supplier": winner,
                "quantity": qty,
                "unit_price": f"{unit:.2f}",
                "total": f"{qty * unit:.2f}",
                "baseline_unit_price": f"{base:.2f}",
                "baseline_total": f"{qty * base:.2f}",
                "saving": f"{qty * (base - unit):.2f}",
                "standalone_unit_price": f"{standalone:.2f}",
                "aggregation_dividend": f"{qty * (standalone - unit):.2f}",
            }
        )
    return rows


def sign_up_line(council: str) -> dict[str, Any]:
    qty, limit, _ = COUNCILS[council]
    return {"lot_id": LOT, "quantity": qty} | ({"max_unit_price": limit} if limit else {})


async def test_eight_councils_three_suppliers_one_cascade(api: Api) -> None:
    passes, members = expected_passes()
    # the inputs make the cascade this test is about: three passes, two councils priced out
    assert [(a, w, out) for a, w, _, out in passes] == [
        (390, A, ["E06000003"]),
        (330, B, ["E06000006"]),
        (300, B, []),
    ]
    _, winner, unit, _ = passes[-1]

    buy = await api.negotiating_buy(
        "LEAD-COALITION",
        {c: [{"lot_id": LOT, "quantity": q, "baseline_unit_price": b}] for c, (q, _, b) in COUNCILS.items()},
        dict.fromkeys((A, B, C), "active"),
        sign_up={c: [sign_up_line(c)] for c in COUNCILS},
        lots=[{"id": LOT, "title": "14-inch laptop", "unit": "device"}],
        viability={"min_councils": 3, "min_total_quantity": {LOT: 100}},
        negotiation={"rounds": 1},
        estimated_value_gbp="200000",
        award={"standstill_working_days": 0},
    )
    # a council sees its own limit; the lead does not while bids are sealed, nor does any supplier
    own = (await api.http.get(buy.url, headers=buy.councils["E06000003"])).json()
    assert own["sign_up"][0]["max_unit_price"] == "905.00"
    lead_log = (await api.http.get(f"{buy.url}/events", headers=buy.lead)).json()
    assert not any(
        "max_unit_price" in line
        for e in lead_log
        if e["type"] == "sign_up.confirmed"
        for line in e["data"]["lines"]
    )

    for supplier in BID_ORDER:
        tiers = [{"min_quantity": q, "unit_price": p} for q, p in LADDERS[supplier]]
        r = await api.http.post(
            f"{buy.url}/bids", json={"lot_id": LOT, "tiers": tiers}, headers=buy.suppliers[supplier]
        )
        assert r.status_code == 201, r.text
        assert r.json()["evaluated_unit_price"] == f"{price(supplier, 390):.2f}"
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    for supplier, (quality, social) in MARKS.items():
        body = {"supplier": supplier, "lot_id": LOT, "quality": quality, "social_value": social}
        r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)
        assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")

    # the lead: every pass and the final coalition
    award = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()
    [lot] = award["lots"]
    assert lot["winner"]["company_number"] == winner
    assert lot["unit_price"] == f"{unit:.2f}"
    assert lot["committed_quantity"] == 300 == sum(COUNCILS[c][0] for c in members)
    assert lot["total_value"] == f"{300 * unit:.2f}"
    coalition = lot["coalition"]
    assert [(p["pass"], p["aggregate"], p["winner"], p["unit_price"]) for p in coalition["passes"]] == [
        (n, a, w, f"{u:.2f}") for n, (a, w, u, _) in enumerate(passes, start=1)
    ]
    assert [[o["council"] for o in p["priced_out"]] for p in coalition["passes"]] == [
        out for *_, out in passes
    ]
    assert coalition["councils"] == members and coalition["aggregate"] == 300
    assert coalition["priced_out"] == [
        {"council": "E06000003", "quantity": 60, "unit_price": "910.00", "max_unit_price": "905.00"},
        {"council": "E06000006", "quantity": 30, "unit_price": "920.00", "max_unit_price": "915.00"},
    ]
    # summaries are at the final aggregate: B first, at 920.00
    ranks = {
        s["company_number"]: (s["rank"], s["own"]["evaluated_unit_price"])
        for s in lot["assessment_summaries"]
    }
    assert ranks == {B: (1, "920.00"), A: (2, "940.00"), C: (3, "945.00")}

    # contracts: the coalition only, at its price; savings and dividends from each council's own volume
    contracts = (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()
    expected = expected_contracts(members, winner, unit)
    assert [{k: v for k, v in c.items() if k in expected[0]} for c in contracts["contracts"]] == expected
    assert (
        contracts["totals"]["total"]
        == f"{sum(Decimal(r['total']) for r in expected):.2f}"
        == lot["total_value"]
    )
    assert (
        contracts["totals"]["aggregation_dividend"]
        == f"{sum(Decimal(r['aggregation_dividend']) for r in expected):.2f}"
    )

    # each council: in the coalition, or priced out at which price against its own limit
    for council, token in buy.councils.items():
        mine = (await api.http.get(f"{buy.url}/award", headers=token)).json()["lots"][0]["coalition"]
        qty, limit, _ = COUNCILS[council]
        if council in members:
            assert mine == {
                "in_coalition": True,
                "quantity": qty,
                "max_unit_price": limit,
                "priced_out_at": None,
            }
        else:
            at = {"E06000003": "910.00", "E06000006": "920.00"}[council]
            assert mine == {
                "in_coalition": False,
                "quantity": qty,
                "max_unit_price": limit,
                "priced_out_at": at,
            }
            events = (await api.http.get(f"{buy.url}/events", headers=token)).json()
            [told] = [e["data"] for e in events if e["type"] == "coalition.priced_out"]
            assert (told["unit_price"], told["max_unit_price"], told["lot_id"]) == (at, limit, LOT)
            assert (await api.http.get(f"{buy.url}/contracts", headers=token)).json()["contracts"] == []
        # no council reads another's limit
        others = LIMITS - {limit}
        text = (await api.http.get(f"{buy.url}/events", headers=token)).text
        assert not any(x in text for x in others), council

    # suppliers and the public never see a limit; the public package names only the coalition as buyers
    for supplier, token in buy.suppliers.items():
        for path in ("", "/events", "/award", "/contracts", "/bids/mine"):
            text = (await api.http.get(f"{buy.url}{path}", headers=token)).text
            assert not any(x in text for x in LIMITS), (supplier, path)
    package = (await api.http.get(f"{buy.url}/ocds")).json()
    assert_valid(package)
    text = str(package)
    assert not any(x in text for x in LIMITS)
    # suppliers learn at the tender notice that volumes are conditional
    assert "Volumes are conditional" in package["releases"][0]["tender"]["procurementMethodDetails"]
    last = package["releases"][-1]
    assert sorted(c["buyer"]["id"] for c in last["contracts"]) == members

    # after the award notice a lot cannot be cancelled
    r = await api.http.post(
        f"{buy.url}/lots/{LOT}/cancel", json={"reason_code": "noDemand", "reason": "late"}, headers=buy.lead
    )
    assert r.status_code == 409, r.text


async def test_an_upheld_challenge_settles_the_coalition_again_from_the_full_sign_up(api: Api) -> None:
    big, capped = "E06000020", "E06000021"
    cheap, dear = "50000011", "50000012"
    buy = await api.negotiating_buy(
        "LEAD-COALITION-2",
        {
            big: [{"lot_id": LOT, "quantity": 100, "baseline_unit_price": "990.00"}],
            capped: [{"lot_id": LOT, "quantity": 50, "baseline_unit_price": "995.00"}],
        },
        {cheap: "active", dear: "active"},
        sign_up={big: [sign_up_line_for(100)], capped: [sign_up_line_for(50, "880.00")]},
        lots=[{"id": LOT, "title": "14-inch laptop", "unit": "device"}],
        viability={"min_councils": 1, "min_total_quantity": {LOT: 100}},
        negotiation={"rounds": 1},
        estimated_value_gbp="200000",
        award={"standstill_working_days": 1},
    )
    for supplier, unit in ((cheap, "870.00"), (dear, "900.00")):
        tiers = [{"min_quantity": 1, "unit_price": unit}]
        r = await api.http.post(
            f"{buy.url}/bids", json={"lot_id": LOT, "tiers": tiers}, headers=buy.suppliers[supplier]
        )
        assert r.status_code == 201, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    # cheap 60 + 3 + 1 = 64 against dear 58 + 27 + 9 = 94: dear wins at 900.00, above the 880.00 limit
    for supplier, (quality, social) in ((cheap, (10, 10)), (dear, (90, 90))):
        body = {"supplier": supplier, "lot_id": LOT, "quality": quality, "social_value": social}
        assert (await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)).status_code == 200
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "standstill")
    [lot] = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()["lots"]
    assert (lot["winner"]["company_number"], lot["unit_price"], lot["committed_quantity"]) == (
        dear,
        "900.00",
        100,
    )
    assert lot["coalition"]["councils"] == [big]

    r = await api.http.post(f"{buy.url}/challenges", json={"grounds": "marks"}, headers=buy.suppliers[cheap])
    assert r.status_code == 201, r.text
    decision = {
        "outcome": "upheld",
        "note": "re-marked",
        "remedy": "re-evaluate",
        "corrected_scores": [{"lot_id": LOT, "quality": 95, "social_value": 95}],
    }
    r = await api.http.post(f"{buy.url}/challenges/ch-1/decision", json=decision, headers=buy.lead)
    assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "standstill")
    # cheap now 60 + 28.5 + 9.5 = 98 at the full 150: 870.00 is within the limit, so the council is back
    [lot] = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()["lots"]
    assert (lot["winner"]["company_number"], lot["unit_price"], lot["committed_quantity"]) == (
        cheap,
        "870.00",
        150,
    )
    assert lot["coalition"]["councils"] == [big, capped] and lot["coalition"]["priced_out"] == []
    assert [p["aggregate"] for p in lot["coalition"]["passes"]] == [150]
    mine = (await api.http.get(f"{buy.url}/award", headers=buy.councils[capped])).json()["lots"][0][
        "coalition"
    ]
    assert mine == {"in_coalition": True, "quantity": 50, "max_unit_price": "880.00", "priced_out_at": None}


def sign_up_line_for(quantity: int, limit: str | None = None) -> dict[str, Any]:
    return {"lot_id": LOT, "quantity": quantity} | ({"max_unit_price": limit} if limit else {})


async def test_a_price_limit_must_be_a_positive_amount_in_pence(api: Api) -> None:
    lead = await api.token("lead", "LEAD-COALITION-3")
    created = await api.create_buy(lead)
    url = f"/v1/joint-buys/{created['id']}"
    council = await api.token("council", "E06000022")
    line = {"lot_id": LOT, "quantity": 120, "baseline_unit_price": "950.00"}
    assert (await api.http.put(f"{url}/demand", json={"lines": [line]}, headers=council)).status_code == 200
    r = await api.http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200, r.text
    for bad in ("0", "0.00", "-5.00", "900.001", "nine hundred", "", "NaN", True, [900]):
        body = {"lines": [{"lot_id": LOT, "quantity": 100, "max_unit_price": bad}]}
        r = await api.http.post(f"{url}/sign-up", json=body, headers=council)
        assert r.status_code == 422, (bad, r.text)
        assert "max_unit_price" in r.text, (bad, r.text)
    view = (await api.http.get(url, headers=council)).json()
    assert view["sign_up"] == []  # nothing changed
    body = {"lines": [{"lot_id": LOT, "quantity": 100, "max_unit_price": "900.5"}]}
    r = await api.http.post(f"{url}/sign-up", json=body, headers=council)
    assert r.status_code == 201, r.text
    assert r.json()["sign_up"][0]["max_unit_price"] == "900.50"


async def test_everyone_priced_out_leaves_the_buy_unsuccessful_and_says_why(api: Api) -> None:
    first, second = "E06000023", "E06000024"
    supplier = "50000021"
    buy = await api.negotiating_buy(
        "LEAD-COALITION-4",
        {c: [{"lot_id": LOT, "quantity": 60, "baseline_unit_price": "990.00"}] for c in (first, second)},
        {supplier: "active"},
        sign_up={first: [sign_up_line_for(60, "800.00")], second: [sign_up_line_for(60, "850.00")]},
        lots=[{"id": LOT, "title": "14-inch laptop", "unit": "device"}],
        viability={"min_councils": 1, "min_total_quantity": {LOT: 100}},
        estimated_value_gbp="200000",
        award={"standstill_working_days": 0},
    )
    tiers = [{"min_quantity": 1, "unit_price": "900.00"}]
    r = await api.http.post(
        f"{buy.url}/bids", json={"lot_id": LOT, "tiers": tiers}, headers=buy.suppliers[supplier]
    )
    assert r.status_code == 201, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    body = {"supplier": supplier, "lot_id": LOT, "quality": 50, "social_value": 50}
    assert (await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)).status_code == 200
    view = await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] != "evaluation")
    assert view["stage"] == "unsuccessful" and view["outcome_reason"] == "no lot can be awarded"
    [lot] = [lot for lot in view["lots"] if lot["id"] == LOT]
    assert (lot["status"], lot["status_reason"]) == (
        "unsuccessful",
        "every council that signed up was priced out",
    )

    [shown] = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()["lots"]
    assert shown["winner"] is None and shown["status"] == "unsuccessful"
    assert [(p["aggregate"], p["unit_price"]) for p in shown["coalition"]["passes"]] == [(120, "900.00")]
    assert shown["coalition"]["councils"] == [] and len(shown["coalition"]["priced_out"]) == 2
    mine = (await api.http.get(f"{buy.url}/award", headers=buy.councils[first])).json()["lots"][0][
        "coalition"
    ]
    assert mine == {
        "in_coalition": False,
        "quantity": 60,
        "max_unit_price": "800.00",
        "priced_out_at": "900.00",
    }
    # the supplier learns the outcome, never the limits
    text = (await api.http.get(f"{buy.url}/events", headers=buy.suppliers[supplier])).text
    assert "800.00" not in text and "850.00" not in text
    assert (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()["contracts"] == []
