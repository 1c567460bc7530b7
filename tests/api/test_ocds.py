"""The public OCDS release package over HTTP, for buys driven through the real workflow: read without
a token, valid against Find a Tender's UK profile (OCDS 1.1.5 + the UK extension) and its
codelists, award and contract values the same as /award and /contracts, and no sealed bid price
anywhere in it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.api.conftest import Api, Buy
from tests.api.test_bad_input import assert_problem
from tests.unit.test_ocds_builder import assert_valid, notices, quantities

LEAD = "LEAD-OCDS"
E5, E6, E7 = "E06000005", "E06000006", "E06000007"
OFFICIAL_NAMES = {
    E5: "Darlington Borough Council",
    E6: "Halton Borough Council",
    E7: "Warrington Borough Council",
}
S1, S2 = "40000001", "40000002"
DEMAND = {
    E5: [
        {"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "950.17"},
        {"lot_id": "monitors", "quantity": 30, "baseline_unit_price": "215.33"},
    ],
    E6: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "940.11"}],
    E7: [{"lot_id": "laptops", "quantity": 50, "baseline_unit_price": "960.29"}],
}
# One best-and-final round: laptops go to S2, monitors to S1 (equal marks, so on price).
BIDS = {S1: {"laptops": "861.37", "monitors": "188.20"}, S2: {"laptops": "845.50", "monitors": "193.99"}}
WINNERS = {"laptops": S2, "monitors": S1}
SEALED = ["861.37", "193.99", "950.17", "215.33", "940.11", "960.29"]


async def ocds(api: Api, buy: Buy) -> dict[str, Any]:
    """GET the package with no Authorization header at all."""
    r = await api.http.get(f"{buy.url}/ocds")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    for sealed in SEALED:
        assert sealed not in r.text
    package: dict[str, Any] = r.json()
    assert_valid(package)
    return package


async def buy_in_standstill(api: Api, working_days: int) -> Buy:
    """Three councils, two suppliers, one round, equal marks: the award notice is out."""
    buy = await api.negotiating_buy(
        LEAD,
        DEMAND,
        dict.fromkeys((S1, S2), "active"),
        estimated_value_gbp="200000",
        negotiation={"rounds": 1},
        award={"standstill_working_days": working_days},
    )
    for supplier, prices in BIDS.items():
        for lot, price in prices.items():
            body = {"lot_id": lot, "tiers": [{"min_quantity": 1, "unit_price": price}]}
            r = await api.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[supplier])
            assert r.status_code == 201, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    for supplier in BIDS:
        for lot in WINNERS:
            body = {"supplier": supplier, "lot_id": lot, "quality": 70, "social_value": 50}
            r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)
            assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] not in ("evaluation",))
    return buy


async def test_an_awarded_buy_is_published_with_the_api_award_and_contract_values(api: Api) -> None:
    buy = await buy_in_standstill(api, working_days=0)
    view = await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")
    package = await ocds(api, buy)
    assert package["uri"] == f"http://jointbuy.test{buy.url}/ocds"
    releases = package["releases"]
    assert [r["tag"] for r in releases] == [
        ["tender"],
        ["tenderUpdate"],
        ["tenderUpdate"],
        ["award"],
        *[["contract"]] * 4,
        ["awardUpdate", "contractUpdate"],
    ]
    assert [n[1] for n in notices(package)] == ["UK4", "UK6", "UK6", "UK7", "UK7", "UK7", "UK7"]
    assert {r["ocid"] for r in releases} == {f"ocds-jointbuy-{buy.id}"}
    assert len({r["id"] for r in releases}) == len(releases)
    assert package["publishedDate"] == releases[-1]["date"]
    committed = {lot: a["committed_quantity"] for lot, a in view["aggregate"].items()}
    assert quantities(releases[2]) == committed == {"laptops": 180, "monitors": 30}

    award_release, last = releases[3], releases[-1]
    assert {a["status"] for a in award_release["awards"]} == {"pending"}
    assert {a["status"] for a in last["awards"]} == {"active"}
    assert last["tender"]["status"] == "complete"
    award = (await api.http.get(f"{buy.url}/award", headers=buy.lead)).json()
    published = {a["relatedLots"][0]: a for a in last["awards"]}
    assert set(published) == set(WINNERS)
    for lot in award["lots"]:
        a = published[lot["lot_id"]]
        assert Decimal(str(a["value"]["amount"])) == Decimal(lot["total_value"])
        assert Decimal(str(a["items"][0]["unit"]["value"]["amount"])) == Decimal(lot["unit_price"])
        assert a["items"][0]["quantity"] == lot["committed_quantity"]
        assert a["suppliers"] == [{"id": f"GB-COH-{WINNERS[lot['lot_id']]}", "name": lot["winner"]["name"]}]

    contracts = (await api.http.get(f"{buy.url}/contracts", headers=buy.lead)).json()["contracts"]
    shown = {(c["buyer"]["id"], c["items"][0]["relatedLot"]): c for c in last["contracts"]}
    assert set(shown) == {(c["council"], c["lot"]) for c in contracts} and len(contracts) == 4
    for c in contracts:
        o = shown[(c["council"], c["lot"])]
        assert Decimal(str(o["value"]["amount"])) == Decimal(c["total"])
        assert o["items"][0]["quantity"] == c["quantity"]
        assert o["awardID"] == published[c["lot"]]["id"]
        assert o["buyer"]["name"] == OFFICIAL_NAMES[c["council"]]
    parties = {p["id"]: p for p in last["parties"]}
    assert {gss: (parties[gss]["name"], parties[gss]["roles"]) for gss in DEMAND} == {
        gss: (name, ["buyer"]) for gss, name in OFFICIAL_NAMES.items()
    }
    assert parties[LEAD]["roles"] == ["procuringEntity"]
    assert {p["id"]: p["roles"] for p in last["parties"] if p["id"].startswith("GB-COH-")} == {
        f"GB-COH-{S1}": ["tenderer", "supplier"],
        f"GB-COH-{S2}": ["tenderer", "supplier"],
    }

    assert await ocds(api, buy) == package, "the same buy publishes the same package"
    lead_view = (await api.http.get(f"{buy.url}/ocds", headers=buy.lead)).json()
    assert lead_view == package, "a token changes nothing: the package is the same for everyone"


async def test_a_buy_still_in_demand_publishes_its_tender(api: Api) -> None:
    lead = await api.token("lead", LEAD)
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    first = await ocds(api, buy)
    assert [r["tag"] for r in first["releases"]] == [["tender"]]
    assert first["releases"][0]["tender"]["status"] == "active"
    for gss in (E5, E6):
        token = await api.token("council", gss)
        r = await api.http.put(f"{buy.url}/demand", json={"lines": DEMAND[gss]}, headers=token)
        assert r.status_code == 200, r.text
    package = await ocds(api, buy)
    tender, update = package["releases"]
    assert tender == first["releases"][0], "the tender release does not change"
    assert update["tag"] == ["tenderUpdate"]
    view = (await api.http.get(buy.url, headers=lead)).json()
    indicative = {lot: a["indicative_quantity"] for lot, a in view["aggregate"].items()}
    assert quantities(update) == indicative == {"laptops": 130, "monitors": 30}
    assert [p["id"] for p in update["parties"]] == [LEAD], "councils are named once they commit"


async def test_a_cancelled_award_is_published_as_cancelled(api: Api) -> None:
    buy = await buy_in_standstill(api, working_days=8)
    view = (await api.http.get(buy.url, headers=buy.lead)).json()
    assert view["stage"] == "standstill"
    package = await ocds(api, buy)
    assert package["releases"][-1]["tag"] == ["award"]
    assert {a["status"] for a in package["releases"][-1]["awards"]} == {"pending"}
    assert "contracts" not in package["releases"][-1]

    r = await api.http.post(f"{buy.url}/cancel", json={"reason": "budget withdrawn"}, headers=buy.lead)
    assert r.status_code == 200, r.text
    cancelled = await ocds(api, buy)
    assert cancelled["releases"][:-1] == package["releases"]
    last = cancelled["releases"][-1]
    assert last["tag"] == ["tenderCancellation", "awardCancellation"]
    assert last["tender"]["documents"][0]["noticeType"] == "UK12"
    assert last["tender"]["status"] == "cancelled"
    assert {a["status"] for a in last["awards"]} == {"cancelled"}


async def test_an_unknown_buy_is_a_404_problem(api: Api) -> None:
    r = await api.http.get("/v1/joint-buys/jb-000000000000/ocds")
    assert_problem(r, 404, "jb-000000000000")


async def test_a_deployment_publishes_under_its_own_prefix_and_name(
    api: Api, api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> None:
    """OCDS_PREFIX and OCDS_PUBLISHER reach the package (a second app on the same database)."""
    lead = await api.token("lead", LEAD)
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    settings = api_settings.model_copy(
        update={"ocds_prefix": "ocds-b5fd17", "ocds_publisher": "North East Procurement Organisation"}
    )
    app = create_app(settings, pool=pool, client=dev_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x.test") as http:
        r = await http.get(f"/v1/joint-buys/{buy.id}/ocds")
    assert r.status_code == 200, r.text
    package = r.json()
    assert package["publisher"]["name"] == "North East Procurement Organisation"
    assert {release["ocid"] for release in package["releases"]} == {f"ocds-b5fd17-{buy.id}"}
    assert_valid(package)


async def test_an_unsuccessful_buy_publishes_a_termination_notice(api: Api) -> None:
    lead = await api.token("lead", LEAD)
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    await api.close(buy, "demand")  # nobody registered demand: not viable
    await api.wait_for(buy.url, lead, lambda b: b["stage"] == "unsuccessful")
    package = await ocds(api, buy)
    assert [n[1] for n in notices(package)] == ["UK4", "UK12"]
    last = package["releases"][-1]
    assert last["tender"]["status"] == "unsuccessful"
    assert last["tender"]["documents"][0]["description"].startswith(
        "The procurement was ended without an award"
    )


async def test_a_dismissed_challenge_is_published_as_an_award_update(api: Api) -> None:
    buy = await buy_in_standstill(api, working_days=8)
    r = await api.http.post(f"{buy.url}/challenges", json={"grounds": "marks"}, headers=buy.suppliers[S1])
    assert r.status_code == 201, r.text
    challenge = r.json()["challenge_id"]
    body = {"outcome": "dismissed", "note": "the marking followed the published criteria"}
    r = await api.http.post(f"{buy.url}/challenges/{challenge}/decision", json=body, headers=buy.lead)
    assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "standstill")
    package = await ocds(api, buy)
    assert [r["tag"] for r in package["releases"]][-2:] == [["award"], ["awardUpdate"]]
    assert [n[1] for n in notices(package)] == ["UK4", "UK6", "UK6"]
    award, update = package["releases"][-2]["awards"][0], package["releases"][-1]["awards"][0]
    assert update["standstillPeriod"]["endDate"] >= award["standstillPeriod"]["endDate"]
    assert award["aboveThreshold"] is False  # £200,000 incl. VAT is under £207,720


async def test_a_lot_that_fails_alone_is_marked_and_the_rest_is_awarded(api: Api) -> None:
    buy = await api.negotiating_buy(
        LEAD,
        DEMAND,
        dict.fromkeys((S1, S2), "active"),
        estimated_value_gbp="200000",
        negotiation={"rounds": 1},
        award={"standstill_working_days": 0},
        viability={"min_councils": 2, "min_total_quantity": {"laptops": 100, "monitors": 100}},
    )
    for supplier, prices in BIDS.items():
        body = {"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": prices["laptops"]}]}
        r = await api.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[supplier])
        assert r.status_code == 201, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    for supplier in BIDS:
        body = {"supplier": supplier, "lot_id": "laptops", "quality": 70, "social_value": 50}
        r = await api.http.put(f"{buy.url}/scores", json=body, headers=buy.lead)
        assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")
    package = await ocds(api, buy)
    assert [n[1] for n in notices(package)] == ["UK4", "UK6", "UK7", "UK7", "UK7"]
    last = package["releases"][-1]
    lots = {lot["id"]: lot["status"] for lot in last["tender"]["lots"]}
    assert lots == {"laptops": "complete", "monitors": "unsuccessful"}
