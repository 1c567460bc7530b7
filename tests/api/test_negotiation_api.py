"""Negotiation, evaluation, challenges and contracts through the API: every bad input gets its
problem+json and changes nothing, and each role sees only what it may (never another supplier's
price while bids are sealed).

One test takes the module's `buy` through every stage in steps: bad bids, then both rounds, then
marks and the award, then challenges."""

from __future__ import annotations

from typing import Any

import pytest

from api.auth import Principal, Role
from procurement import visibility
from procurement.visibility import BuyScope
from tests.api.conftest import Api, Buy
from tests.api.test_bad_input import assert_problem

S1, S2, EXCLUDED, STRANGER = "20000001", "20000002", "20000003", "20000009"
E1, E2, E3 = "E06000020", "E06000021", "E06000022"
DEMAND = {
    E1: [
        {"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "950"},
        {"lot_id": "monitors", "quantity": 30, "baseline_unit_price": "215"},
    ],
    E2: [
        {"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "940"},
        {"lot_id": "monitors", "quantity": 25, "baseline_unit_price": "220"},
    ],
    E3: [{"lot_id": "laptops", "quantity": 50, "baseline_unit_price": "960"}],
}


def ladder(*tiers: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"min_quantity": q, "unit_price": p} for q, p in tiers]


async def bid(api: Api, buy: Buy, supplier: str, lot: str, tiers: list[dict[str, Any]]) -> Any:
    return await api.http.post(
        f"{buy.url}/bids", json={"lot_id": lot, "tiers": tiers}, headers=buy.suppliers[supplier]
    )


async def placed(api: Api, buy: Buy, supplier: str, lot: str, tiers: list[dict[str, Any]]) -> dict[str, Any]:
    r = await bid(api, buy, supplier, lot, tiers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def events(api: Api, buy: Buy, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.http.get(f"{buy.url}/events", headers=headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def log_as_seen(api: Api, buy: Buy) -> list[list[dict[str, Any]]]:
    """The audit log as the admin and every supplier see it: a refused command changes none."""
    return [await events(api, buy, api.admin)] + [
        await events(api, buy, token) for token in buy.suppliers.values()
    ]


async def score(api: Api, buy: Buy, supplier: str, lot: str, quality: int, social_value: int) -> Any:
    body = {"supplier": supplier, "lot_id": lot, "quality": quality, "social_value": social_value}
    return await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)


def of_type(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in found if e["type"] == kind]


async def test_bid_outside_a_round_is_a_conflict(api: Api) -> None:
    lead = await api.token("lead", "LEAD-NEG-EARLY")
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    buy.suppliers[S1] = await api.supplier(S1)
    assert (await api.http.post(f"{buy.url}/suppliers", headers=buy.suppliers[S1])).status_code == 201
    r = await bid(api, buy, S1, "laptops", ladder((1, "900")))
    assert_problem(r, 409, "round")
    assert (await api.http.get(f"{buy.url}/bids/mine", headers=buy.suppliers[S1])).json()["bids"] == []


@pytest.fixture(scope="module")
async def buy(api: Api) -> Buy:
    suppliers = {S1: "active", S2: "active", EXCLUDED: "liquidation"}
    negotiation = {"rounds": 2, "round_window": "P1D"}
    buy = await api.negotiating_buy("LEAD-NEG", DEMAND, suppliers, negotiation=negotiation)
    buy.suppliers[STRANGER] = await api.supplier(STRANGER)
    return buy


async def bad_bids_are_refused_and_change_nothing(api: Api, buy: Buy) -> None:
    before = await log_as_seen(api, buy)
    refusals = [
        (STRANGER, "laptops", ladder((1, "900")), 403, "did not register"),
        (EXCLUDED, "laptops", ladder((1, "900")), 403, "excluded"),
        (S1, "laptops", ladder((100, "900"), (50, "850")), 422, "tiers.1.min_quantity"),
        (S1, "laptops", ladder((100, "900"), (100, "850")), 422, "tiers.1.min_quantity"),
        (S1, "laptops", ladder((1, "0")), 422, "tiers.0.unit_price"),
        (S1, "laptops", ladder((1, "-5")), 422, "tiers.0.unit_price"),
        (S1, "laptops", ladder((1, "899.999")), 422, "tiers.0.unit_price"),
        (S1, "laptops", ladder((1, "cheap")), 422, "tiers.0.unit_price"),
        (S1, "laptops", ladder((1, "800"), (100, "900")), 422, "tiers.1.unit_price"),
        (S1, "laptops", ladder((500, "800")), 422, "committed aggregate"),
        (S1, "laptops", [], 422, "tiers"),
        (S1, "laptops", [{"min_quantity": 0, "unit_price": "800"}], 422, "tiers.0.min_quantity"),
        (S1, "tablets", ladder((1, "900")), 422, "unknown lot"),
    ]
    for supplier, lot, tiers, status, says in refusals:
        body = assert_problem(await bid(api, buy, supplier, lot, tiers), status, says)
        if status == 422:
            assert body["errors"][0]["field"], body
    council = buy.councils[E1]
    r = await api.http.post(f"{buy.url}/bids", json={"lot_id": "laptops", "tiers": []}, headers=council)
    assert_problem(r, 403, "supplier")
    assert_problem(await score(api, buy, S1, "laptops", 50, 50), 409, "evaluation")
    r = await api.http.post(f"{buy.url}/challenges", json={"grounds": "unfair"}, headers=buy.suppliers[S1])
    assert_problem(r, 409, "standstill")
    assert_problem(await api.http.get(f"{buy.url}/award", headers=buy.lead), 409, "no award notice")
    contracts = (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()
    assert contracts["contracts"] == [] and contracts["totals"]["contracts"] == 0
    assert await log_as_seen(api, buy) == before
    assert (await api.http.get(f"{buy.url}/bids/mine", headers=buy.suppliers[S1])).json()["bids"] == []


async def rounds_rank_feedback_and_sealed_bids(api: Api, buy: Buy) -> None:
    first = await placed(api, buy, S1, "laptops", ladder((1, "950"), (100, "900")))
    assert first["round"] == 1 and first["evaluated_unit_price"] == "900.00"
    assert first["previous_unit_price"] is None and first["committed_quantity"] == 180
    assert first["tiers"] == ladder((1, "950.00"), (100, "900.00")) and first["stage"] == "negotiation"
    # The decrement runs against the supplier's own previous price, in this round too.
    before = await log_as_seen(api, buy)
    body = assert_problem(await bid(api, buy, S1, "laptops", ladder((1, "896"))), 422, "895.50")
    assert body["required_unit_price"] == "895.50"
    assert await log_as_seen(api, buy) == before

    # While bids are sealed the lead sees counts only; the other supplier sees nothing of it.
    lead_view = (await api.http.get(buy.url, headers=buy.lead)).json()
    assert lead_view["bidding"]["laptops"] == {"bids": 1, "bidders": 1, "bidders_this_round": 1}
    assert "tenders" not in lead_view and "900.00" not in str(lead_view)
    assert lead_view["round"] | {"closes_at": None} == {
        "number": 1,
        "rounds": 2,
        "closes_at": None,
        "extensions_used": 0,
        "best_and_final": False,
        "open": True,
    }
    s2_view = (await api.http.get(buy.url, headers=buy.suppliers[S2])).json()
    assert s2_view["bids"] == [] and s2_view["ranks"] == {} and "bidding" not in s2_view

    # A retried request with the same Idempotency-Key gets the first answer and bids once.
    keyed = {"lot_id": "monitors", "tiers": ladder((1, "210"), (50, "200"))}
    headers = buy.suppliers[S1] | {"Idempotency-Key": f"{buy.id}-s1-monitors"}
    answers = [await api.http.post(f"{buy.url}/bids", json=keyed, headers=headers) for _ in range(2)]
    assert [r.status_code for r in answers] == [201, 201] and answers[0].json() == answers[1].json()
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    await placed(api, buy, S2, "laptops", ladder((1, "940"), (100, "890")))
    last = await placed(api, buy, S2, "monitors", ladder((1, "205"), (50, "199")))
    assert last["round"] == 1
    # Every qualified supplier bid on every lot: round 1 closed early, round 2 is best and final.
    mine = await api.wait_for(f"{buy.url}/bids/mine", buy.suppliers[S1], lambda b: b["round"]["number"] == 2)
    assert mine["round"]["best_and_final"] and mine["round"]["open"]
    assert [(b["round"], b["lot_id"], b["evaluated_unit_price"]) for b in mine["bids"]] == [
        (1, "laptops", "900.00"),
        (1, "monitors", "200.00"),
    ]
    assert mine["ranks"] == [
        {"round": 1, "lot_id": "laptops", "rank": 2, "bidders": 2},
        {"round": 1, "lot_id": "monitors", "rank": 2, "bidders": 2},
    ]
    assert "890.00" not in str(mine) and "199.00" not in str(mine)
    theirs = (await api.http.get(buy.url, headers=buy.suppliers[S2])).json()
    assert theirs["ranks"] == {
        "laptops": {"round": 1, "rank": 1, "bidders": 2},
        "monitors": {"round": 1, "rank": 1, "bidders": 2},
    }

    # The audit log: a supplier sees its own bids only; councils and the lead see none yet.
    s1_events = await events(api, buy, buy.suppliers[S1])
    assert {e["data"]["company_number"] for e in of_type(s1_events, "bid.submitted")} == {S1}
    assert of_type(s1_events, "round.closed") == []
    council_events = await events(api, buy, buy.councils[E1])
    assert of_type(council_events, "bid.submitted") == [] and of_type(council_events, "round.closed") == []
    assert of_type(council_events, "round.opened")
    lead_events = await events(api, buy, buy.lead)
    assert of_type(lead_events, "bid.submitted") == []
    assert of_type(lead_events, "round.closed")[0]["data"]["ranks"]["laptops"] == {S1: 2, S2: 1}

    second = await placed(api, buy, S1, "laptops", ladder((1, "930"), (100, "880")))
    assert second["round"] == 2 and second["previous_unit_price"] == "900.00"
    await placed(api, buy, S1, "monitors", ladder((1, "205"), (50, "196")))
    await placed(api, buy, S2, "laptops", ladder((1, "930"), (100, "885")))
    await placed(api, buy, S2, "monitors", ladder((1, "205"), (50, "198")))
    evaluation = await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    assert not evaluation["round"]["open"]
    prices = {
        (t["company_number"], lot): t["evaluated_unit_price"]
        for lot, tenders in evaluation["tenders"].items()
        for t in tenders
    }
    assert prices == {
        (S1, "laptops"): "880.00",
        (S2, "laptops"): "885.00",
        (S1, "monitors"): "196.00",
        (S2, "monitors"): "198.00",
    }
    assert_problem(await bid(api, buy, S1, "laptops", ladder((1, "800"))), 409, "round")


async def scores_award_and_summaries_by_role(api: Api, buy: Buy) -> None:
    before = await log_as_seen(api, buy)
    assert_problem(await score(api, buy, S1, "laptops", 101, 50), 422, "quality")
    assert_problem(await score(api, buy, S1, "laptops", -1, 50), 422, "quality")
    assert_problem(await score(api, buy, S1, "laptops", 50, 150), 422, "social_value")
    assert_problem(await score(api, buy, EXCLUDED, "laptops", 50, 50), 409, "no tender")
    assert_problem(await score(api, buy, STRANGER, "monitors", 50, 50), 409, "no tender")
    assert_problem(await score(api, buy, S1, "tablets", 50, 50), 422, "unknown lot")
    body = {"supplier": S1, "lot_id": "laptops", "quality": 5, "social_value": 5}
    r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.suppliers[S1])
    assert_problem(r, 403, "lead")
    assert await log_as_seen(api, buy) == before

    marks = [
        (S1, "laptops", 50, 50),
        (S2, "laptops", 90, 60),
        (S1, "monitors", 80, 50),
        (S2, "monitors", 70, 50),
    ]
    for done, mark in enumerate(marks, start=1):
        if done < len(marks):
            assert_problem(await api.http.get(f"{buy.url}/award", headers=buy.lead), 409, "no award notice")
        r = await score(api, buy, *mark)
        assert r.status_code == 200, r.text
        assert r.json()["still_to_score"] == len(marks) - done
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "standstill")

    # laptops: S1 60 + 15 + 5 = 80; S2 880/885*60 + 27 + 6 = 92.66 -> S2 wins despite its price.
    award = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()
    lots = {lot["lot_id"]: lot for lot in award["lots"]}
    assert lots["laptops"]["winner"] == {"company_number": S2, "name": f"Supplier {S2} Ltd"}
    assert lots["laptops"]["unit_price"] == "885.00" and lots["laptops"]["total_value"] == "159300.00"
    assert lots["monitors"]["winner"]["company_number"] == S1
    assert lots["monitors"]["total_value"] == "10780.00" and lots["monitors"]["status"] == "notified"
    assert [s["company_number"] for s in lots["laptops"]["assessment_summaries"]] == [S2, S1]
    assert lots["laptops"]["assessment_summaries"][1]["own"]["total_score"] == "80.00"
    assert award["standstill"]["working_days"] == 8 and award["standstill"]["calendar"] == "england-and-wales"

    mine = (await api.http.get(f"{buy.url}/award", headers=buy.suppliers[S1])).json()
    for lot in mine["lots"]:
        assert [s["company_number"] for s in lot["assessment_summaries"]] == [S1]
    laptops_summary = next(lot for lot in mine["lots"] if lot["lot_id"] == "laptops")["assessment_summaries"][
        0
    ]
    assert laptops_summary["rank"] == 2 and laptops_summary["winning"]["company_number"] == S2
    council = (await api.http.get(f"{buy.url}/award", headers=buy.councils[E3])).json()
    assert all(lot["assessment_summaries"] == [] and lot["winner"] for lot in council["lots"])

    council_events = await events(api, buy, buy.councils[E1])
    assert of_type(council_events, "award.notice")
    for hidden in ("assessment.summary", "score.entered", "bid.submitted"):
        assert of_type(council_events, hidden) == []
    s1_events = await events(api, buy, buy.suppliers[S1])
    assert {e["data"]["company_number"] for e in of_type(s1_events, "assessment.summary")} == {S1}
    assert of_type(s1_events, "score.entered") == []


async def challenges_bad_input_dismissal_and_re_evaluation(api: Api, buy: Buy) -> None:
    url = f"{buy.url}/challenges"
    grounds = {"grounds": "our quality answers were marked against the wrong criteria"}
    before = await log_as_seen(api, buy)
    assert_problem(
        await api.http.post(url, json=grounds, headers=buy.suppliers[EXCLUDED]), 403, "did not bid"
    )
    assert_problem(await api.http.post(url, json=grounds, headers=buy.councils[E1]), 403, "supplier")
    assert_problem(await api.http.post(url, json={"grounds": ""}, headers=buy.suppliers[S1]), 422, "grounds")
    assert await log_as_seen(api, buy) == before

    r = await api.http.post(url, json=grounds, headers=buy.suppliers[S1])
    assert r.status_code == 201, r.text
    lodged = r.json()
    assert lodged["stage"] == "suspended" and 0 < lodged["working_days_left"] <= 8
    ch1 = lodged["challenge_id"]
    suspended = (await api.http.get(buy.url, headers=buy.lead)).json()
    assert suspended["standstill"]["working_days_left"] == lodged["working_days_left"]
    assert_problem(await api.http.post(url, json=grounds, headers=buy.suppliers[S2]), 409, "standstill")
    dismiss = {"outcome": "dismissed", "note": "marked as published"}
    assert_problem(await api.http.post(f"{url}/ch-99/decision", json=dismiss, headers=buy.lead), 404, "ch-99")
    r = await api.http.post(f"{url}/{ch1}/decision", json=dismiss, headers=buy.suppliers[S1])
    assert_problem(r, 403, "lead")
    r = await api.http.post(f"{url}/{ch1}/decision", json={"outcome": "maybe"}, headers=buy.lead)
    assert_problem(r, 422, "outcome")

    r = await api.http.post(f"{url}/{ch1}/decision", json=dismiss, headers=buy.lead)
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["stage"] == "standstill" and decided["status"] == "dismissed" and decided["supplier"] == S1
    assert (await api.http.get(buy.url, headers=buy.lead)).json()["standstill"]["working_days_left"] is None
    assert_problem(
        await api.http.post(f"{url}/{ch1}/decision", json=dismiss, headers=buy.lead), 409, "dismissed"
    )

    assert len((await api.http.get(url, headers=buy.lead)).json()["challenges"]) == 1
    assert [
        c["challenge_id"] for c in (await api.http.get(url, headers=buy.suppliers[S1])).json()["challenges"]
    ] == [ch1]
    assert (await api.http.get(url, headers=buy.suppliers[S2])).json()["challenges"] == []
    assert_problem(await api.http.get(url, headers=buy.councils[E1]), 403, "challenges")
    s2_events = await events(api, buy, buy.suppliers[S2])
    assert of_type(s2_events, "challenge.lodged") == [] and of_type(s2_events, "challenge.decided") == []

    # Upheld: S1's laptops tender is re-marked, evaluation runs again and S1 wins laptops.
    r = await api.http.post(url, json=grounds, headers=buy.suppliers[S1])
    assert r.status_code == 201, r.text
    ch2 = r.json()["challenge_id"]
    upheld = {
        "outcome": "upheld",
        "note": "quality re-marked",
        "remedy": "re-evaluate",
        "corrected_scores": [{"lot_id": "laptops", "quality": 100, "social_value": 100}],
    }
    r = await api.http.post(f"{url}/{ch2}/decision", json=upheld, headers=buy.lead)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "upheld" and r.json()["remedy"] == "re-evaluate"

    def s1_wins(body: dict[str, Any]) -> bool:
        lots = body.get("lots") or [{}]
        return (lots[0].get("winner") or {}).get("company_number") == S1

    award = await api.wait_for(f"{buy.url}/award", buy.lead, s1_wins)
    assert award["stage"] == "standstill" and award["lots"][0]["unit_price"] == "880.00"
    summaries = award["lots"][0]["assessment_summaries"]
    assert [(s["company_number"], s["own"]["total_score"]) for s in summaries] == [
        (S1, "100.00"),
        (S2, "92.66"),
    ]

    # Still in standstill: no contracts yet, and a council may not read another council's.
    r = await api.http.get(f"{buy.url}/contracts", headers=buy.councils[E1])
    assert r.status_code == 200 and r.json()["contracts"] == []
    assert_problem(await api.http.get(f"{buy.url}/contracts?council={E2}", headers=buy.councils[E1]), 403, E2)

    # Upheld with the remedy "cancel": the buy ends, its award shown as cancelled.
    r = await api.http.post(url, json=grounds, headers=buy.suppliers[S2])
    assert r.status_code == 201, r.text
    cancel = {"outcome": "upheld", "note": "the criteria were flawed", "remedy": "cancel"}
    r = await api.http.post(f"{url}/{r.json()['challenge_id']}/decision", json=cancel, headers=buy.lead)
    assert r.status_code == 200 and r.json()["stage"] == "cancelled", r.text
    award = (await api.http.get(f"{buy.url}/award", headers=buy.councils[E1])).json()
    assert {lot["status"] for lot in award["lots"]} == {"cancelled"} and award["stage"] == "cancelled"
    assert (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()["contracts"] == []


async def test_one_buy_from_bad_bids_to_challenges(api: Api, buy: Buy) -> None:
    """Each step takes the one buy a stage further, so they run in this order."""
    await bad_bids_are_refused_and_change_nothing(api, buy)
    await rounds_rank_feedback_and_sealed_bids(api, buy)
    await scores_award_and_summaries_by_role(api, buy)
    await challenges_bad_input_dismissal_and_re_evaluation(api, buy)


async def test_contracts_by_role(api: Api) -> None:
    demand = {gss: DEMAND[gss] for gss in (E1, E2)}
    buy = await api.negotiating_buy(
        "LEAD-NEG-AWARD",
        demand,
        {S1: "active", S2: "active"},
        negotiation={"rounds": 1},
        estimated_value_gbp="200000",
        award={"standstill_working_days": 0},
    )
    await placed(api, buy, S1, "laptops", ladder((1, "950"), (100, "900")))
    await placed(api, buy, S1, "monitors", ladder((1, "200")))
    await placed(api, buy, S2, "laptops", ladder((1, "960"), (100, "890")))
    await placed(api, buy, S2, "monitors", ladder((1, "210")))
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    for supplier in (S1, S2):
        for lot in ("laptops", "monitors"):
            assert (await score(api, buy, supplier, lot, 50, 50)).status_code == 200
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")

    url = f"{buy.url}/contracts"
    everything = (await api.http.get(url, headers=buy.lead)).json()
    rows = {(c["council"], c["lot"]): c for c in everything["contracts"]}
    assert set(rows) == {(E1, "laptops"), (E1, "monitors"), (E2, "laptops"), (E2, "monitors")}
    assert rows[E1, "laptops"] | {"council_name": None, "created_at": None} == {
        "council": E1,
        "council_name": None,
        "lot": "laptops",
        "supplier": S2,
        "supplier_name": f"Supplier {S2} Ltd",
        "quantity": 60,
        "unit_price": "890.00",
        "total": "53400.00",
        "baseline_unit_price": "950.00",
        "baseline_total": "57000.00",
        "saving": "3600.00",
        "standalone_unit_price": "960.00",
        "aggregation_dividend": "4200.00",
        "created_at": None,
    }
    assert rows[E1, "laptops"]["council_name"]
    assert everything["totals"] == {
        "contracts": 4,
        "quantity": 185,
        "total": "126700.00",
        "baseline_total": "134750.00",
        "saving": "8050.00",
        "aggregation_dividend": "9100.00",
    }

    own = (await api.http.get(url, headers=buy.councils[E2])).json()
    assert [(c["council"], c["lot"]) for c in own["contracts"]] == [(E2, "laptops"), (E2, "monitors")]
    named = (await api.http.get(f"{url}?council={E1}", headers=buy.councils[E1])).json()
    assert {c["council"] for c in named["contracts"]} == {E1} and named["totals"]["contracts"] == 2
    assert_problem(await api.http.get(f"{url}?council={E2}", headers=buy.councils[E1]), 403, E2)
    assert_problem(await api.http.get(f"{url}?council=nowhere", headers=buy.lead), 422, "council")
    won = (await api.http.get(url, headers=buy.suppliers[S1])).json()
    assert [(c["council"], c["lot"]) for c in won["contracts"]] == [(E1, "monitors"), (E2, "monitors")]
    # A council's baseline (and the saving worked from it) is its own and the lead's, not the winner's
    assert not [k for c in won["contracts"] for k in c if k.startswith("baseline") or k == "saving"]
    assert "baseline_total" not in won["totals"] and "saving" not in won["totals"]
    lead_filtered = (await api.http.get(f"{url}?council={E2}", headers=buy.lead)).json()
    assert lead_filtered["totals"]["contracts"] == 2

    e2_events = await events(api, buy, buy.councils[E2])
    assert {e["data"]["council"] for e in of_type(e2_events, "contract.created")} == {E2}
    s1_events = await events(api, buy, buy.suppliers[S1])
    assert {e["data"]["lot"] for e in of_type(s1_events, "contract.created")} == {"monitors"}
    assert not [k for e in of_type(s1_events, "contract.created") for k in e["data"] if "baseline" in k]
    award = (await api.http.get(f"{buy.url}/award", headers=buy.councils[E2])).json()
    assert {lot["status"] for lot in award["lots"]} == {"awarded"}


def _bid_event(company: str) -> dict[str, Any]:
    return {"type": "bid.submitted", "data": {"company_number": company, "lot_id": "laptops"}}


@pytest.mark.parametrize(
    ("role", "organisation", "stage", "visible"),
    [
        (Role.SUPPLIER, S1, "negotiation", True),
        (Role.SUPPLIER, S2, "negotiation", False),
        (Role.SUPPLIER, S2, "awarded", False),
        (Role.LEAD, "LEAD", "negotiation", False),
        (Role.OPERATOR, "ops", "negotiation", False),
        (Role.ADMIN, "admin", "negotiation", False),
        (Role.LEAD, "LEAD", None, False),
        (Role.LEAD, "LEAD", "evaluation", True),
        (Role.OPERATOR, "ops", "standstill", True),
        (Role.ADMIN, "admin", "awarded", True),
        (Role.COUNCIL, E1, "awarded", False),
    ],
)
def test_a_bid_is_sealed_until_negotiation_is_over(
    role: Role, organisation: str, stage: str | None, visible: bool
) -> None:
    caller = Principal(key_id="k", role=role, organisation_id=organisation)
    scope = BuyScope(lead="LEAD", stage=stage, councils=frozenset({E1}), suppliers=frozenset({S1, S2}))
    assert visibility.visible(_bid_event(S1), caller, scope) is visible
