"""API tests: the real app over ASGI, the real Temporal dev server, a worker in this process with
the real persistence activities on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from worker import build_worker

ADMIN_TOKEN = "test-admin-token"
REGISTER = Path(__file__).resolve().parents[2] / "jointbuy" / "data" / "uk_local_authorities.csv"


@dataclass
class Api:
    http: httpx.AsyncClient
    admin: dict[str, str]

    async def token(self, role: str, organisation_id: str) -> dict[str, str]:
        r = await self.http.post(
            "/v1/api-keys",
            json={"role": role, "organisation_id": organisation_id, "name": f"{role} test"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def create_buy(self, lead: dict[str, str], **overrides: Any) -> dict[str, Any]:
        r = await self.http.post("/v1/joint-buys", json=buy_body(**overrides), headers=lead)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def wait_for(
        self, url: str, headers: dict[str, str], predicate: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """GET `url` until the answer meets `predicate` (the workflow moves on by itself)."""
        body: dict[str, Any] = {}
        for _ in range(300):
            body = (await self.http.get(url, headers=headers)).json()
            if predicate(body):
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"condition not met; last answer {body}")

    async def supplier(self, number: str, *, status: str = "active") -> dict[str, str]:
        """A supplier's token, with its company in the register and full assurance evidence on file."""
        r = await self.http.put(
            f"/v1/registry/companies/{number}",
            json={"name": f"Supplier {number}", "status": status},
            headers=self.admin,
        )
        assert r.status_code == 200, r.text
        token = await self.token("supplier", number)
        r = await self.http.put(
            f"/v1/suppliers/{number}/profile", json=supplier_profile(number), headers=token
        )
        assert r.status_code == 200, r.text
        return token

    async def negotiating_buy(
        self,
        lead_org: str,
        demand: dict[str, list[dict[str, Any]]],
        suppliers: dict[str, str],
        *,
        sign_up: dict[str, list[dict[str, Any]]] | None = None,
        **overrides: Any,
    ) -> Buy:
        """A buy driven through the real workflow into negotiation: every council in `demand`
        registers and signs up (its demanded quantities unless `sign_up` says otherwise), every
        supplier in `suppliers` (company number -> register status) registers interest and is
        assured. Returns once round 1 is open."""
        lead = await self.token("lead", lead_org)
        created = await self.create_buy(lead, **overrides)
        buy = Buy(id=created["id"], lead=lead)
        for gss, lines in demand.items():
            buy.councils[gss] = await self.token("council", gss)
            r = await self.http.put(f"{buy.url}/demand", json={"lines": lines}, headers=buy.councils[gss])
            assert r.status_code == 200, r.text
        for number, status in suppliers.items():
            buy.suppliers[number] = await self.supplier(number, status=status)
            r = await self.http.post(f"{buy.url}/suppliers", headers=buy.suppliers[number])
            assert r.status_code == 201, r.text
        await self.close(buy, "demand")
        for gss, token in buy.councils.items():
            lines = (sign_up or {}).get(gss) or [
                {"lot_id": line["lot_id"], "quantity": line["quantity"]} for line in demand[gss]
            ]
            r = await self.http.post(f"{buy.url}/sign-up", json={"lines": lines}, headers=token)
            assert r.status_code == 201, r.text
        await self.close(buy, "sign_up")
        body = await self.wait_for(buy.url, lead, lambda b: b["stage"] != "assurance")
        assert body["stage"] == "negotiation", body
        await self.wait_for(buy.url, lead, lambda b: b["round"] is not None)
        return buy

    async def close(self, buy: Buy, stage: str) -> None:
        r = await self.http.post(f"{buy.url}/close-stage", json={"stage": stage}, headers=buy.lead)
        assert r.status_code == 200, r.text


@dataclass
class Buy:
    """A buy under test and the tokens of everyone in it."""

    id: str
    lead: dict[str, str]
    councils: dict[str, dict[str, str]] = field(default_factory=dict)
    suppliers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"/v1/joint-buys/{self.id}"


def supplier_profile(number: str) -> dict[str, Any]:
    """Evidence that passes every assurance check of `buy_body`'s requirements."""
    return {
        "name": f"Supplier {number} Ltd",
        "annual_turnover_gbp": "25000000",
        "employers_liability_gbp": "10000000",
        "certifications": ["cyber_essentials_plus"],
        "modern_slavery_statement": True,
        "carbon_reduction_plan": True,
    }


def buy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Laptops for 2027",
        "description": "Business laptops",
        "cpv_code": "30213100",
        "lots": [
            {"id": "laptops", "title": "14-inch laptop", "unit": "device"},
            {"id": "monitors", "title": "27-inch monitor", "unit": "device"},
        ],
        "estimated_value_gbp": "1800000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 100}},
        "requirements": {"certifications": ["cyber_essentials"]},
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="session")
def api_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        task_queue="api-tests",
        jointbuy_admin_token=ADMIN_TOKEN,
        messages_per_run=150,
    )


@pytest.fixture(scope="session")
async def api(dev_env: WorkflowEnvironment, pool: Any, api_settings: Settings) -> AsyncIterator[Api]:
    async with build_worker(dev_env.client, pool, api_settings.task_queue):
        app = create_app(api_settings, pool=pool, client=dev_env.client)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.test") as http:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            r = await http.post(
                "/v1/councils/import",
                content=REGISTER.read_bytes(),
                headers=admin | {"Content-Type": "text/csv"},
            )
            assert r.status_code == 200, r.text
            yield Api(http=http, admin=admin)
