"""Registries (company register, debarment list) and supplier profiles over HTTP: round trips, and
every bad input gets a clear 4xx problem+json answer and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_bad_input import assert_problem

ACME = "09900001"
BRAVO = "SC990002"
KNOWN = ("cyber_essentials", "cyber_essentials_plus", "iso_14001", "iso_27001", "iso_9001")


@pytest.fixture(scope="module")
async def parties(api: Api) -> dict[str, dict[str, str]]:
    return {
        "lead": await api.token("lead", "CCS-REGISTRY"),
        "operator": await api.token("operator", "ops-registry"),
        "council": await api.token("council", "E06000001"),
        "acme": await api.token("supplier", ACME),
        "bravo": await api.token("supplier", BRAVO),
    }


def profile(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme Laptops Ltd",
        "annual_turnover_gbp": "42000000",
        "employers_liability_gbp": "10000000.50",
        "certifications": ["iso_27001", "cyber_essentials_plus"],
        "modern_slavery_statement": True,
        "carbon_reduction_plan": False,
    }
    body.update(overrides)
    return body


async def _get(api: Api, url: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await api.http.get(url, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# Company register ---------------------------------------------------------------------------------


async def test_company_round_trip(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = "/v1/registry/companies/09900010"
    r = await api.http.put(url, json={"name": "Acme Laptops Ltd", "status": "active"}, headers=api.admin)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["company_number"] == "09900010"
    assert stored["name"] == "Acme Laptops Ltd" and stored["status"] == "active"
    assert stored["updated_at"]
    for reader in ("lead", "operator"):
        assert await _get(api, url, parties[reader]) == stored
    assert await _get(api, url, api.admin) == stored

    r = await api.http.put(
        url, json={"name": "Acme Laptops Ltd", "status": "active-proposal-to-strike-off"}, headers=api.admin
    )
    assert r.status_code == 200, r.text
    assert (await _get(api, url, parties["lead"]))["status"] == "active-proposal-to-strike-off"

    assert_problem(await api.http.get("/v1/registry/companies/09900099", headers=api.admin), 404, "09900099")


async def test_company_put_is_idempotent(api: Api) -> None:
    url = "/v1/registry/companies/SC990011"
    headers = api.admin | {"Idempotency-Key": "registry-sc990011"}
    first = await api.http.put(url, json={"name": "Bravo Ltd", "status": "active"}, headers=headers)
    again = await api.http.put(url, json={"name": "Bravo Ltd", "status": "active"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await api.http.put(url, json={"name": "Bravo Ltd", "status": "dissolved"}, headers=headers)
    assert_problem(other, 422, "different request")
    assert (await _get(api, url, api.admin))["status"] == "active"


async def test_company_bad_input_changes_nothing(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = "/v1/registry/companies/09900020"
    ok = {"name": "Charlie Ltd", "status": "active"}
    assert (await api.http.put(url, json=ok, headers=api.admin)).status_code == 200
    before = await _get(api, url, api.admin)

    for status in ("Active", "in liquidation", "active_proposal", "", "active-", "-active"):
        body = assert_problem(
            await api.http.put(url, json={"name": "Charlie Ltd", "status": status}, headers=api.admin),
            422,
            "status",
        )
        assert body["errors"][0]["field"] == "status"
    assert_problem(await api.http.put(url, json={"name": "Charlie Ltd"}, headers=api.admin), 422, "status")
    assert_problem(
        await api.http.put(url, json={"name": "  ", "status": "active"}, headers=api.admin), 422, "name"
    )
    assert_problem(
        await api.http.put(url, json=ok | {"incorporated": "1999-01-01"}, headers=api.admin),
        422,
        "incorporated",
    )
    # Company numbers: 8 digits, or two capitals and six digits.
    for number in ("1234567", "123456789", "sc123456", "SC12345", "SCX23456"):
        assert_problem(
            await api.http.put(f"/v1/registry/companies/{number}", json=ok, headers=api.admin),
            422,
            "company_number",
        )
        assert_problem(await api.http.get(f"/v1/registry/companies/{number}", headers=api.admin), 422)
    # Only the admin writes the register; suppliers and councils cannot read it.
    changed = {"name": "Charlie Ltd", "status": "liquidation"}
    for who in ("lead", "operator", "council", "acme"):
        assert_problem(await api.http.put(url, json=changed, headers=parties[who]), 403, "admin")
    for who in ("council", "acme"):
        assert_problem(await api.http.get(url, headers=parties[who]), 403)
    assert_problem(await api.http.put(url, json=changed), 401)
    assert_problem(await api.http.put(url, json=changed, headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(await api.http.get(url), 401)

    assert await _get(api, url, api.admin) == before


# Debarment list -----------------------------------------------------------------------------------


async def test_debarment_round_trip(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = "/v1/registry/debarments/09900030"
    entry = {"ground": "convicted of fraud", "mandatory": True}
    r = await api.http.put(url, json=entry, headers=api.admin)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["company_number"] == "09900030"
    assert stored["ground"] == "convicted of fraud" and stored["mandatory"] is True and stored["added_at"]
    for reader in ("lead", "operator"):
        assert await _get(api, url, parties[reader]) == stored

    r = await api.http.put(url, json={"ground": "poor performance", "mandatory": False}, headers=api.admin)
    assert r.status_code == 200, r.text
    now = await _get(api, url, parties["lead"])
    assert now["ground"] == "poor performance" and now["mandatory"] is False

    headers = api.admin | {"Idempotency-Key": "undebar-09900030"}
    r = await api.http.delete(url, headers=headers)
    assert r.status_code == 204 and r.content == b""
    again = await api.http.delete(url, headers=headers)
    assert again.status_code == 204 and again.headers.get("Idempotent-Replayed") == "true"
    assert_problem(await api.http.get(url, headers=api.admin), 404, "not on the debarment list")
    assert_problem(await api.http.delete(url, headers=api.admin), 404, "09900030")


async def test_debarment_bad_input_changes_nothing(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = "/v1/registry/debarments/SC990040"
    entry = {"ground": "bid rigging", "mandatory": True}
    assert (await api.http.put(url, json=entry, headers=api.admin)).status_code == 200
    before = await _get(api, url, api.admin)

    changed = {"ground": "something else", "mandatory": False}
    body = assert_problem(
        await api.http.put(url, json={"mandatory": False}, headers=api.admin), 422, "ground"
    )
    assert body["errors"][0]["field"] == "ground"
    for blank in ("", "   ", "\t\n"):
        body = assert_problem(
            await api.http.put(url, json={"ground": blank, "mandatory": False}, headers=api.admin),
            422,
            "ground",
        )
        assert body["errors"][0]["field"] == "ground"
    assert_problem(
        await api.http.put(url, json={"ground": None, "mandatory": False}, headers=api.admin), 422, "ground"
    )
    assert_problem(
        await api.http.put(url, json={"ground": "x" * 501, "mandatory": False}, headers=api.admin),
        422,
        "ground",
    )
    assert_problem(await api.http.put(url, json={"ground": "late"}, headers=api.admin), 422, "mandatory")
    assert_problem(
        await api.http.put("/v1/registry/debarments/ABC", json=changed, headers=api.admin),
        422,
        "company_number",
    )
    for who in ("lead", "operator", "council", "acme"):
        assert_problem(await api.http.put(url, json=changed, headers=parties[who]), 403, "admin")
        assert_problem(await api.http.delete(url, headers=parties[who]), 403, "admin")
    assert_problem(await api.http.get(url, headers=parties["acme"]), 403)
    assert_problem(await api.http.put(url, json=changed), 401)
    assert_problem(await api.http.delete(url), 401)
    assert_problem(await api.http.delete("/v1/registry/debarments/09900041", headers=api.admin), 404)

    assert await _get(api, url, api.admin) == before


# Supplier profiles --------------------------------------------------------------------------------


async def test_profile_round_trip(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = f"/v1/suppliers/{ACME}/profile"
    r = await api.http.put(url, json=profile(), headers=parties["acme"])
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["company_number"] == ACME
    assert stored["name"] == "Acme Laptops Ltd"
    assert stored["annual_turnover_gbp"] == "42000000.00"
    assert stored["employers_liability_gbp"] == "10000000.50"
    assert stored["certifications"] == ["cyber_essentials_plus", "iso_27001"]
    assert stored["modern_slavery_statement"] is True and stored["carbon_reduction_plan"] is False
    for reader in ("acme", "lead", "operator"):
        assert await _get(api, url, parties[reader]) == stored
    assert await _get(api, url, api.admin) == stored

    # The admin may file or correct a supplier's evidence too; defaults apply to omitted flags.
    bravo = f"/v1/suppliers/{BRAVO}/profile"
    minimal = {"name": "Bravo Ltd", "annual_turnover_gbp": "0", "employers_liability_gbp": "5000000"}
    r = await api.http.put(bravo, json=minimal, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["certifications"] == [] and r.json()["modern_slavery_statement"] is False
    assert await _get(api, bravo, parties["bravo"]) == r.json()

    r = await api.http.put(
        url, json=profile(certifications=[], annual_turnover_gbp="1.5"), headers=parties["acme"]
    )
    assert r.status_code == 200, r.text
    now = await _get(api, url, parties["lead"])
    assert now["certifications"] == [] and now["annual_turnover_gbp"] == "1.50"

    assert_problem(await api.http.get("/v1/suppliers/09900099/profile", headers=api.admin), 404, "09900099")


async def test_profile_put_is_idempotent(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = f"/v1/suppliers/{BRAVO}/profile"
    headers = parties["bravo"] | {"Idempotency-Key": "bravo-profile-1"}
    first = await api.http.put(url, json=profile(name="Bravo Ltd"), headers=headers)
    again = await api.http.put(url, json=profile(name="Bravo Ltd"), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"


async def test_profile_bad_input_changes_nothing(api: Api, parties: dict[str, dict[str, str]]) -> None:
    url = f"/v1/suppliers/{ACME}/profile"
    acme = parties["acme"]
    assert (await api.http.put(url, json=profile(), headers=acme)).status_code == 200
    before = await _get(api, url, acme)

    # Another supplier's company number, by either supplier.
    assert_problem(await api.http.put(url, json=profile(), headers=parties["bravo"]), 403, BRAVO)
    assert_problem(await api.http.get(url, headers=parties["bravo"]), 403, "own profile")
    assert_problem(
        await api.http.put(f"/v1/suppliers/{BRAVO}/profile", json=profile(), headers=acme), 403, ACME
    )
    # The refusal comes before the body is looked at.
    assert_problem(
        await api.http.put(url, json=profile(annual_turnover_gbp="-1"), headers=parties["bravo"]), 403
    )
    for who in ("lead", "operator", "council"):
        assert_problem(await api.http.put(url, json=profile(), headers=parties[who]), 403, "supplier")
    assert_problem(await api.http.get(url, headers=parties["council"]), 403, "supplier")
    assert_problem(await api.http.put(url, json=profile()), 401)
    assert_problem(await api.http.get(url), 401)

    body = assert_problem(
        await api.http.put(url, json=profile(annual_turnover_gbp="-0.01"), headers=acme),
        422,
        "annual_turnover_gbp",
    )
    assert body["errors"][0]["field"] == "annual_turnover_gbp"
    body = assert_problem(
        await api.http.put(url, json=profile(employers_liability_gbp="-5000000"), headers=acme),
        422,
        "employers_liability_gbp",
    )
    assert body["errors"][0]["field"] == "employers_liability_gbp"
    for bad in ("lots", "NaN", "Infinity", "1.001", "1" * 15):
        assert_problem(
            await api.http.put(url, json=profile(annual_turnover_gbp=bad), headers=acme),
            422,
            "annual_turnover_gbp",
        )

    body = assert_problem(
        await api.http.put(url, json=profile(certifications=["iso_27001", "iso_99999"]), headers=acme),
        422,
        "iso_99999",
    )
    assert body["errors"][0]["field"] == "certifications"
    message = body["errors"][0]["message"]
    assert all(name in message for name in KNOWN)

    assert_problem(await api.http.put(url, json=profile(name=""), headers=acme), 422, "name")
    assert_problem(await api.http.put(url, json=profile(website="x"), headers=acme), 422, "website")
    incomplete = profile()
    del incomplete["employers_liability_gbp"]
    assert_problem(await api.http.put(url, json=incomplete, headers=acme), 422, "employers_liability_gbp")
    assert_problem(await api.http.put("/v1/suppliers/acme/profile", json=profile(), headers=api.admin), 422)

    assert await _get(api, url, acme) == before


async def test_openapi_documents_the_registries(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    paths = spec["paths"]
    assert paths["/v1/registry/companies/{company_number}"]["put"]["summary"]
    assert paths["/v1/registry/debarments/{company_number}"]["delete"]["summary"]
    assert paths["/v1/suppliers/{company_number}/profile"]["put"]["summary"]
    schemas = spec["components"]["schemas"]
    for name in ("CompanyRecord", "DebarmentRecord", "SupplierProfile"):
        assert schemas[name]["additionalProperties"] is False
        assert schemas[name]["examples"]
