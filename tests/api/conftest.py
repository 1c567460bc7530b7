"""API tests: the real app over ASGI, the real Temporal dev server, a worker in this process with
the real persistence activities on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from jointbuy.config import Settings
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
