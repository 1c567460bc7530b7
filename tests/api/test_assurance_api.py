"""Supplier assurance through the API: interest, parallel checks, the lead's decision, and who
sees what."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api
from tests.api.test_bad_input import assert_problem

CLEAN, FLAGGED, BUST = "10000001", "10000002", "10000003"


async def _wait_for(api: Api, url: str, headers: dict[str, str], predicate: Any) -> dict[str, Any]:
    for _ in range(200):
        body: dict[str, Any] = (await api.http.get(url, headers=headers)).json()
        if predicate(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met; last answer {body}")


async def test_assurance_end_to_end_and_shaped_by_role(api: Api) -> None:
    lead = await api.token("lead", "LEAD-ASSURE")
    councils = [await api.token("council", gss) for gss in ("E06000010", "E06000011")]
    suppliers = {n: await api.token("supplier", n) for n in (CLEAN, FLAGGED, BUST)}
    for number, status in ((CLEAN, "active"), (FLAGGED, "active"), (BUST, "liquidation")):
        r = await api.http.put(
            f"/v1/registry/companies/{number}",
            json={"name": f"Co {number}", "status": status},
            headers=api.admin,
        )
        assert r.status_code == 200, r.text
        profile = {
            "name": f"Co {number} Ltd",
            "annual_turnover_gbp": "25000000",
            "employers_liability_gbp": "10000000",
            "certifications": ["cyber_essentials_plus"],
            "modern_slavery_statement": False,
            "carbon_reduction_plan": False,
        }
        r = await api.http.put(f"/v1/suppliers/{number}/profile", json=profile, headers=suppliers[number])
        assert r.status_code == 200, r.text
    r = await api.http.put(
        f"/v1/registry/debarments/{FLAGGED}",
        json={"ground": "significant past performance failure", "mandatory": False},
        headers=api.admin,
    )
    assert r.status_code == 200, r.text

    buy = await api.create_buy(lead)
    base = f"/v1/joint-buys/{buy['id']}"
    for token in councils:
        demand = {"lines": [{"lot_id": "laptops", "quantity": 100, "baseline_unit_price": "900"}]}
        assert (await api.http.put(f"{base}/demand", json=demand, headers=token)).status_code == 200
    for number, token in suppliers.items():
        r = await api.http.post(f"{base}/suppliers", headers=token)
        assert r.status_code == 201, r.text
        assert r.json()["company_number"] == number and r.json()["status"] == "registered"
    assert (
        await api.http.post(f"{base}/close-stage", json={"stage": "demand"}, headers=lead)
    ).status_code == 200
    for token in councils:
        signup = {"lines": [{"lot_id": "laptops", "quantity": 100}]}
        assert (await api.http.post(f"{base}/sign-up", json=signup, headers=token)).status_code == 201
    assert (
        await api.http.post(f"{base}/close-stage", json={"stage": "sign_up"}, headers=lead)
    ).status_code == 200

    everything = await _wait_for(
        api,
        f"{base}/assurance",
        lead,
        lambda b: b["counts"].get("flagged") == 1 and "registered" not in b["counts"],
    )
    by_number = {s["company_number"]: s for s in everything["suppliers"]}
    assert by_number[CLEAN]["status"] == "qualified"
    assert by_number[BUST]["status"] == "excluded"
    assert "liquidation" in by_number[BUST]["reason"]
    assert len(by_number[CLEAN]["checks"]) == 7
    flagged_check = next(c for c in by_number[FLAGGED]["checks"] if c["check"] == "debarment")
    assert flagged_check["flagged"] and "past performance" in flagged_check["reason"]

    # A supplier sees its own checks and nobody else's; a council sees none.
    mine = (await api.http.get(f"{base}/assurance", headers=suppliers[BUST])).json()
    assert [s["company_number"] for s in mine["suppliers"]] == [BUST]
    assert mine["suppliers"][0]["checks"][0]["reason"]
    assert_problem(await api.http.get(f"{base}/assurance", headers=councils[0]), 403)
    events = (await api.http.get(f"{base}/events", headers=suppliers[BUST])).json()
    assert {e["data"].get("company_number") for e in events if e["type"] == "assurance.checked"} == {BUST}

    # Bad input: late interest, deciding on a supplier that is not flagged.
    assert_problem(
        await api.http.post(f"{base}/suppliers", headers=await api.token("supplier", "10000004")), 409
    )
    decision = {"exclude": True, "reason": "no"}
    assert_problem(
        await api.http.post(f"{base}/exclusions/{CLEAN}", json=decision, headers=lead), 409, "not flagged"
    )
    assert_problem(
        await api.http.post(f"{base}/exclusions/{FLAGGED}", json=decision, headers=suppliers[CLEAN]), 403
    )

    cleared = {"exclude": False, "reason": "remedial plan accepted"}
    r = await api.http.post(f"{base}/exclusions/{FLAGGED}", json=cleared, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "qualified"
    final = await _wait_for(api, base, lead, lambda b: b["stage"] != "assurance")
    assert final["stage"] == "negotiation"
    done = (await api.http.get(f"{base}/assurance", headers=lead)).json()
    assert done["counts"] == {"qualified": 2, "excluded": 1}
    # The decision's event names the check it decided; the supplier's other checks stand as checked.
    decided = next(s for s in done["suppliers"] if s["company_number"] == FLAGGED)
    assert len(decided["checks"]) == 7
    debarment = next(c for c in decided["checks"] if c["check"] == "debarment")
    assert debarment["passed"] and not debarment["flagged"]
    assert debarment["reason"].endswith("past performance failure; remedial plan accepted"), debarment
    assert all(c["passed"] for c in decided["checks"])
