"""Every kind of bad input gets a clear 4xx problem+json answer and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int, contains: str = "") -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert contains.lower() in (body["detail"] + str(body.get("errors", ""))).lower(), body
    return body


@pytest.fixture(scope="module")
async def parties(api: Api) -> dict[str, dict[str, str]]:
    return {
        "lead": await api.token("lead", "CCS-BAD-INPUT"),
        "other_lead": await api.token("lead", "OTHER-LEAD"),
        "hartlepool": await api.token("council", "E06000001"),
        "middlesbrough": await api.token("council", "E06000002"),
        "redcar": await api.token("council", "E06000003"),
    }


async def _events(api: Api, buy_id: str, lead: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.http.get(f"/v1/joint-buys/{buy_id}/events", headers=lead)
    assert r.status_code == 200
    events: list[dict[str, Any]] = r.json()
    return events


async def test_demand_stage_bad_input(api: Api, parties: dict[str, dict[str, str]]) -> None:
    lead, council = parties["lead"], parties["hartlepool"]
    buy = await api.create_buy(lead)
    url = f"/v1/joint-buys/{buy['id']}/demand"
    ok = {"lines": [{"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "949.99"}]}
    r = await api.http.put(url, json=ok, headers=council)
    assert r.status_code == 200, r.text
    before = await _events(api, buy["id"], lead)

    def line(**kw: Any) -> dict[str, Any]:
        return {"lines": [{"lot_id": "laptops", "quantity": 10, "baseline_unit_price": "9"} | kw]}

    assert_problem(await api.http.put(url, json=line(lot_id="tablets"), headers=council), 422, "unknown lot")
    assert_problem(await api.http.put(url, json=line(quantity=0), headers=council), 422, "quantity")
    assert_problem(await api.http.put(url, json=line(quantity=-5), headers=council), 422, "quantity")
    assert_problem(await api.http.put(url, json=line(quantity=10**9 + 1), headers=council), 422, "quantity")
    assert_problem(
        await api.http.put(url, json=line(baseline_unit_price="-1"), headers=council),
        422,
        "baseline_unit_price",
    )
    assert_problem(
        await api.http.put(url, json=line(baseline_unit_price="cheap"), headers=council),
        422,
        "baseline_unit_price",
    )
    assert_problem(
        await api.http.put(
            url, content=b'{"lines": [', headers=council | {"Content-Type": "application/json"}
        ),
        400,
        "json",
    )
    assert_problem(
        await api.http.put(url, json=line() | {"council": "E06000002"}, headers=council),
        403,
        "E06000002",
    )
    assert_problem(
        await api.http.put(url, json=line(), headers={"Authorization": "Bearer nope"}), 401, "token"
    )
    assert_problem(await api.http.put(url, json=line()), 401)
    assert_problem(
        await api.http.put("/v1/joint-buys/jb-000000000000/demand", json=line(), headers=council),
        404,
    )
    assert_problem(await api.http.put(url, json=line(), headers=lead), 403, "council")
    # Sign-up and closing the wrong stage while demand is open.
    assert_problem(
        await api.http.post(
            f"/v1/joint-buys/{buy['id']}/sign-up",
            json={"lines": [{"lot_id": "laptops", "quantity": 1}]},
            headers=council,
        ),
        409,
        "sign",
    )
    assert_problem(
        await api.http.post(
            f"/v1/joint-buys/{buy['id']}/close-stage", json={"stage": "sign_up"}, headers=lead
        ),
        409,
        "sign_up",
    )
    assert_problem(
        await api.http.post(
            f"/v1/joint-buys/{buy['id']}/close-stage",
            json={"stage": "demand"},
            headers=parties["other_lead"],
        ),
        403,
    )

    assert await _events(api, buy["id"], lead) == before
    mine = (await api.http.get(f"/v1/joint-buys/{buy['id']}", headers=council)).json()
    assert mine["demand"][0]["quantity"] == 120 and mine["demand"][0]["baseline_unit_price"] == "949.99"


async def test_sign_up_stage_bad_input(api: Api, parties: dict[str, dict[str, str]]) -> None:
    lead = parties["lead"]
    buy = await api.create_buy(lead)
    base = f"/v1/joint-buys/{buy['id']}"
    for name in ("hartlepool", "middlesbrough"):
        demand = {"lines": [{"lot_id": "laptops", "quantity": 100, "baseline_unit_price": "900"}]}
        assert (await api.http.put(f"{base}/demand", json=demand, headers=parties[name])).status_code == 200
    r = await api.http.post(f"{base}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200 and r.json()["stage"] == "sign_up"
    before = await _events(api, buy["id"], lead)

    late = {"lines": [{"lot_id": "laptops", "quantity": 5, "baseline_unit_price": "900"}]}
    assert_problem(
        await api.http.put(f"{base}/demand", json=late, headers=parties["hartlepool"]),
        409,
        "demand",
    )
    assert_problem(await api.http.delete(f"{base}/demand", headers=parties["hartlepool"]), 409)
    too_many = {"lines": [{"lot_id": "laptops", "quantity": 101}]}
    body = assert_problem(
        await api.http.post(f"{base}/sign-up", json=too_many, headers=parties["hartlepool"]),
        422,
        "exceeds",
    )
    assert body["errors"][0]["field"] == "lines.0.quantity"
    assert_problem(
        await api.http.post(
            f"{base}/sign-up",
            json={"lines": [{"lot_id": "laptops", "quantity": 5}]},
            headers=parties["redcar"],
        ),
        409,
        "registered no demand",
    )
    assert_problem(
        await api.http.post(f"{base}/close-stage", json={"stage": "demand"}, headers=lead),
        409,
        "demand",
    )
    assert await _events(api, buy["id"], lead) == before


async def test_creation_and_identity_bad_input(api: Api, parties: dict[str, dict[str, str]]) -> None:
    lead = parties["lead"]
    from tests.api.conftest import buy_body

    assert_problem(
        await api.http.post("/v1/joint-buys", json=buy_body(estimated_value_gbp="-5"), headers=lead),
        422,
    )
    assert_problem(
        await api.http.post(
            "/v1/joint-buys",
            json=buy_body(demand_closes_at="2020-01-01T00:00:00+00:00"),
            headers=lead,
        ),
        422,
        "future",
    )
    assert_problem(
        await api.http.post(
            "/v1/joint-buys",
            json=buy_body(requirements={"certifications": ["iso_99999"]}),
            headers=lead,
        ),
        422,
        "unknown certifications",
    )
    standstill = {
        "price_weight": 60,
        "quality_weight": 30,
        "social_value_weight": 10,
        "standstill_working_days": 5,
    }
    assert_problem(
        await api.http.post("/v1/joint-buys", json=buy_body(award=standstill), headers=lead),
        422,
        "at least 8",
    )
    assert_problem(await api.http.post("/v1/joint-buys", json=buy_body(), headers=parties["hartlepool"]), 403)
    # Keys: only current councils, only the admin, revoked tokens stop at once.
    r = await api.http.post(
        "/v1/api-keys",
        json={
            "role": "council",
            "organisation_id": "E07000026",
            "name": "Allerdale (abolished 2023)",
        },
        headers=api.admin,
    )
    assert_problem(r, 422, "not a current council")
    assert_problem(
        await api.http.post(
            "/v1/api-keys", json={"role": "lead", "organisation_id": "X", "name": "n"}, headers=lead
        ),
        403,
    )
    created = await api.http.post(
        "/v1/api-keys",
        json={"role": "operator", "organisation_id": "ops", "name": "ops"},
        headers=api.admin,
    )
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await api.http.get("/v1/joint-buys", headers=token)).status_code == 200
    assert (
        await api.http.delete(f"/v1/api-keys/{created.json()['key_id']}", headers=api.admin)
    ).status_code == 204
    assert_problem(await api.http.get("/v1/joint-buys", headers=token), 401, "revoked")
    assert_problem(await api.http.delete("/v1/api-keys/key_nope", headers=api.admin), 404)
    assert_problem(await api.http.get("/v1/joint-buys/jb-doesnotexist", headers=lead), 404)


async def test_idempotency_key_replays_the_first_answer(api: Api, parties: dict[str, dict[str, str]]) -> None:
    lead = parties["lead"] | {"Idempotency-Key": "create-laptops-2027"}
    first = await api.http.post("/v1/joint-buys", json=buy_body_fixed(), headers=lead)
    again = await api.http.post("/v1/joint-buys", json=buy_body_fixed(), headers=lead)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await api.http.post("/v1/joint-buys", json=buy_body_fixed(title="Something else"), headers=lead)
    assert_problem(other, 422, "different request")
    listed = (await api.http.get("/v1/joint-buys", headers=parties["lead"])).json()
    assert sum(1 for b in listed if b["id"] == first.json()["id"]) == 1


_CLOSES = None


def buy_body_fixed(**overrides: Any) -> dict[str, Any]:
    from tests.api.conftest import buy_body

    global _CLOSES
    if _CLOSES is None:
        _CLOSES = buy_body()["demand_closes_at"]
    return buy_body(demand_closes_at=_CLOSES, **overrides)


async def test_nul_characters_are_refused_at_the_edge(api: Api, parties: dict[str, dict[str, str]]) -> None:
    """PostgreSQL cannot store U+0000: text carrying one is refused before it reaches a workflow."""
    lead, council = parties["lead"], parties["hartlepool"]
    buy = await api.create_buy(lead)
    base = f"/v1/joint-buys/{buy['id']}"
    before = await _events(api, buy["id"], lead)
    problem = assert_problem(
        await api.http.post(f"{base}/cancel", json={"reason": "budget\x00 withdrawn"}, headers=lead),
        422,
        "NUL",
    )
    assert problem["errors"] == [{"field": "reason", "message": "may not contain NUL (U+0000)"}]
    line = {"lot_id": "laptops", "quantity": 10, "baseline_unit_price": "900", "budget_ceiling_gbp": None}
    assert_problem(
        await api.http.put(f"{base}/demand", json={"lines": [line], "note\x00": 1}, headers=council), 422
    )
    assert_problem(await api.http.get("/v1/joint-buys/jb-%00", headers=lead), 400, "NUL")
    assert_problem(await api.http.get("/v1/joint-buys?stage=demand%00", headers=lead), 400, "NUL")
    csv = b"gss-code,official-name\nE06000001,Hartlepool\x00\n"
    r = await api.http.post(
        "/v1/councils/import", content=csv, headers=api.admin | {"Content-Type": "text/csv"}
    )
    assert_problem(r, 422, "NUL")
    assert await _events(api, buy["id"], lead) == before
    assert (await api.http.get(base, headers=lead)).json()["stage"] == "demand"
