"""Every HTTP request through `api.app.RequestObserved`: its request id echoed (the client's, else
a new one), its status and latency counted by route template, and an error nothing else answered
turned into a 500 problem that carries the request id and nothing of the internals."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.responses import StreamingResponse

from api.app import create_app
from api.metrics import REGISTRY
from core.settings import Settings


def count(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("jointbuy_http_requests_total", labels) or 0.0


async def test_ids_metrics_and_the_last_resort_problem(pool: Any, api_settings: Settings) -> None:
    app = create_app(api_settings, pool=pool)

    async def boom(buy_id: str) -> None:
        raise RuntimeError("secret internals: row 42 of table x")

    async def trickle() -> StreamingResponse:
        async def chunks() -> Any:
            for part in (b"one\n", b"two\n"):
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_api_route("/v1/joint-buys/{buy_id}/boom", boom, methods=["POST"])
    app.add_api_route("/v1/trickle", trickle, methods=["GET"])
    route = "/v1/joint-buys/{buy_id}/boom"
    before = count("POST", route, "500"), count("GET", "/v1/trickle", "200"), count("GET", "/healthz", "200")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.test") as http:
        mine = await http.get("/healthz", headers={"X-Request-Id": "req-from-the-client"})
        assert mine.status_code == 200 and mine.headers["X-Request-Id"] == "req-from-the-client"
        fresh = await http.get("/healthz")
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-Id"])

        failed = await http.post("/v1/joint-buys/jb-1/boom", headers={"X-Request-Id": "req-boom"})
        assert failed.status_code == 500
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.headers["X-Request-Id"] == "req-boom"
        assert failed.json()["request_id"] == "req-boom"
        assert "secret" not in failed.text and "RuntimeError" not in failed.text

        streamed = await http.get("/v1/trickle")
        assert streamed.text == "one\ntwo\n" and streamed.headers["X-Request-Id"]
    after = count("POST", route, "500"), count("GET", "/v1/trickle", "200"), count("GET", "/healthz", "200")
    assert after[0] - before[0] == 1, "the failure is counted by its route template, as a 500"
    assert after[1] - before[1] == 1, "a streamed answer counts once"
    assert after[2] - before[2] == 2
