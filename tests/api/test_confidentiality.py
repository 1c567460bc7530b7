"""Confidential by default, stage by stage: at every stage of a buy, every kind of caller reads
every view it can reach, and no answer holds what the visibility table keeps from that caller.

Secrets with odd values, so a leak cannot hide among other numbers: each council's baseline (and
its totals), each bidder's price, who registered and who was excluded, a challenge's grounds.
While the competition is live a bidder learns nothing of the others; from the award notice on, the
winner and its price are public (and the tenderers named), the losing price never is; an excluded
supplier is never named to anyone but the lead. Two buys: one stops in standstill (a challenge
lodged and dismissed), one with no standstill goes on to its contracts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from procurement import visibility
from tests.api.conftest import Api, Buy

WINNER, LOSER, EXCLUDED, OUTSIDER = "61913370", "62927410", "63000003", "64000009"
C1, C2, C_OUT = "E06000050", "E06000051", "E06000052"
C1_BASELINE, C2_BASELINE = "951.37", "947.13"
C1_BASELINE_TOTAL, C2_BASELINE_TOTAL = "57082.20", "66299.10"  # 60 × 951.37, 70 × 947.13
CONTRACT_VALUE = "123126.90"  # assurance's estimate: 130 × the lowest baseline (C2's)
WIN_PRICE, LOSE_PRICE = "913.37", "927.41"
GROUNDS = "grounds-secret-4417"
DEMAND = {
    C1: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": C1_BASELINE}],
    C2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": C2_BASELINE}],
}
OVERSIGHT = ("admin", "operator", "lead")
VIEWS = ("", "/events", "/assurance", "/bids/mine", "/challenges", "/award", "/contracts", "/ocds")


@dataclass
class Stage:
    """What the buy has reached, so what each caller may know."""

    name: str
    bids_in: set[str] = field(default_factory=set)  # who has bid
    unsealed: bool = False  # negotiation is over: the lead sees the bids
    notice: bool = False  # the award notice is out: the winner, its price and the tenderers public
    challenged: bool = False


def forbidden(who: str, s: Stage) -> set[str]:
    """What `who` must not find in any answer at stage `s`."""
    if who in ("admin", "operator", "lead"):
        return set() if s.unsealed else {WIN_PRICE, LOSE_PRICE}
    out = {C1_BASELINE, C2_BASELINE, C1_BASELINE_TOTAL, C2_BASELINE_TOTAL, CONTRACT_VALUE, LOSE_PRICE}
    out |= {EXCLUDED, GROUNDS}
    if not s.notice:
        out |= {WINNER, LOSER, WIN_PRICE}
    if who == "council_1":
        out -= {C1_BASELINE, C1_BASELINE_TOTAL}
    if who == "council_2":
        out -= {C2_BASELINE, C2_BASELINE_TOTAL}
    if who == "winner":
        out -= {WINNER, WIN_PRICE}
    if who == "loser":
        out -= {LOSER, LOSE_PRICE, GROUNDS}
    if who == "excluded":
        out -= {EXCLUDED}
    return out


def expected(who: str, s: Stage) -> set[str]:
    """What `who` must find: the check above could fail."""
    if who in OVERSIGHT:
        found = {C1_BASELINE, C2_BASELINE} if s.name != "demand" else set()
        found |= {WINNER, LOSER, EXCLUDED}
        if s.unsealed:
            found |= {WIN_PRICE, LOSE_PRICE}
        return found | ({GROUNDS} if s.challenged else set())
    if who == "council_1":
        return {C1_BASELINE}
    if who == "council_2":
        return {C2_BASELINE}
    if who == "winner":
        return {WINNER} | ({WIN_PRICE} if "winner" in s.bids_in else set())
    if who == "loser":
        return (
            {LOSER}
            | ({LOSE_PRICE} if "loser" in s.bids_in else set())
            | ({GROUNDS} if s.challenged else set())
        )
    if who == "excluded":
        return {EXCLUDED}
    return {WINNER, WIN_PRICE} if s.notice else set()


@dataclass
class World:
    api: Api
    buy: Buy
    callers: dict[str, dict[str, str]]


async def read_everything(w: World, who: str) -> str:
    """Every view of the buy this caller can reach (refusals included), as one text."""
    headers = w.callers[who]
    answers = [await w.api.http.get(f"{w.buy.url}{v}", headers=headers) for v in VIEWS]
    answers.append(await w.api.http.get("/v1/joint-buys", headers=headers))
    for r in answers:
        assert r.status_code < 500, r.text
    return "\n".join(r.text for r in answers)


async def observe(w: World, s: Stage) -> None:
    leaks, missing = {}, {}
    for who in w.callers:
        text = await read_everything(w, who)
        if found := {x for x in forbidden(who, s) if x in text}:
            leaks[who] = found
        if absent := {x for x in expected(who, s) if x not in text}:
            missing[who] = absent
    assert not leaks, f"{s.name}: callers read what they may not: {leaks}"
    assert not missing, f"{s.name}: callers miss what is theirs (the check could not fail): {missing}"
    # Every event the buy recorded has an entry in the visibility table.
    admin_log = (await w.api.http.get(f"{w.buy.url}/events", headers=w.callers["admin"])).json()
    assert {e["type"] for e in admin_log} <= set(visibility.EVENTS)


async def ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


async def start(api: Api, lead_org: str, *, standstill_days: int) -> World:
    lead = await api.token("lead", lead_org)
    value = "1800000" if standstill_days else "150000"
    created = await api.create_buy(
        lead,
        lots=[{"id": "laptops", "title": "14-inch laptop", "unit": "device"}],
        estimated_value_gbp=value,
        negotiation={"rounds": 1, "round_window": "P1D"},
        award={"standstill_working_days": standstill_days},
    )
    buy = Buy(id=created["id"], lead=lead)
    callers = {
        "admin": api.admin,
        "operator": await api.token("operator", "ops-confidential"),
        "lead": lead,
        "other_lead": await api.token("lead", f"{lead_org}-OTHER"),
        "council_1": await api.token("council", C1),
        "council_2": await api.token("council", C2),
        "council_out": await api.token("council", C_OUT),
        "winner": await api.supplier(WINNER),
        "loser": await api.supplier(LOSER),
        "excluded": await api.supplier(EXCLUDED, status="liquidation"),
        "outsider": await api.supplier(OUTSIDER),
    }
    w = World(api, buy, callers)
    for who, gss in (("council_1", C1), ("council_2", C2)):
        await ok(await api.http.put(f"{buy.url}/demand", json={"lines": DEMAND[gss]}, headers=callers[who]))
    for who in ("winner", "loser", "excluded"):
        await ok(await api.http.post(f"{buy.url}/suppliers", headers=callers[who]), 201)
    return w


async def close(w: World, stage: str) -> None:
    await ok(
        await w.api.http.post(f"{w.buy.url}/close-stage", json={"stage": stage}, headers=w.callers["lead"])
    )


async def wait_stage(w: World, *stages: str) -> dict[str, Any]:
    for _ in range(300):
        body = await ok(await w.api.http.get(w.buy.url, headers=w.callers["lead"]))
        if body["stage"] in stages and (body["stage"] != "negotiation" or body["round"] is not None):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"the buy never reached {stages}")


async def bid(w: World, who: str, price: str) -> None:
    body = {"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": price}]}
    await ok(await w.api.http.post(f"{w.buy.url}/bids", json=body, headers=w.callers[who]), 201)


async def score(w: World, company: str, quality: int) -> dict[str, Any]:
    body = {"supplier": company, "lot_id": "laptops", "quality": quality, "social_value": 50}
    return await ok(await w.api.http.put(f"{w.buy.url}/scores", json=body, headers=w.callers["lead"]))


async def through_evaluation(w: World) -> Stage:
    s = Stage("demand")
    await observe(w, s)
    await close(w, "demand")
    for who, gss in (("council_1", C1), ("council_2", C2)):
        lines = [{"lot_id": "laptops", "quantity": DEMAND[gss][0]["quantity"]}]
        await ok(
            await w.api.http.post(f"{w.buy.url}/sign-up", json={"lines": lines}, headers=w.callers[who]), 201
        )
    s.name = "sign_up"
    await observe(w, s)
    await close(w, "sign_up")
    await wait_stage(w, "negotiation")
    s.name = "negotiation"
    await observe(w, s)
    await bid(w, "winner", WIN_PRICE)
    s.bids_in.add("winner")
    await observe(w, s)
    await bid(w, "loser", LOSE_PRICE)  # every qualified supplier has bid: the round closes
    s.bids_in.add("loser")
    await wait_stage(w, "evaluation")
    s.name, s.unsealed = "evaluation", True
    await observe(w, s)
    await score(w, WINNER, 80)
    await observe(w, s)
    return s


@pytest.mark.timeout(300)
async def test_nothing_leaks_from_demand_to_a_challenged_standstill(api: Api) -> None:
    w = await start(api, "LEAD-CONFIDENTIAL", standstill_days=8)
    s = await through_evaluation(w)
    assert (await score(w, LOSER, 60))["stage"] == "standstill"
    s.name, s.notice = "standstill", True
    await observe(w, s)
    r = await w.api.http.post(
        f"{w.buy.url}/challenges", json={"grounds": GROUNDS}, headers=w.callers["loser"]
    )
    challenge = await ok(r, 201)
    s.name, s.challenged = "suspended", True
    await observe(w, s)
    decision = {"outcome": "dismissed", "note": "marked as published"}
    url = f"{w.buy.url}/challenges/{challenge['challenge_id']}/decision"
    await ok(await w.api.http.post(url, json=decision, headers=w.callers["lead"]))
    s.name = "standstill resumed"
    await observe(w, s)


@pytest.mark.timeout(300)
async def test_nothing_leaks_through_the_award_and_contracts(api: Api) -> None:
    w = await start(api, "LEAD-CONFIDENTIAL-2", standstill_days=0)
    s = await through_evaluation(w)
    await score(w, LOSER, 60)
    await wait_stage(w, "awarded")
    s.name, s.notice = "awarded", True
    await observe(w, s)
    contracts = (await w.api.http.get(f"{w.buy.url}/contracts", headers=w.callers["winner"])).json()
    assert len(contracts["contracts"]) == 2  # the winner sees its contracts, without baselines
