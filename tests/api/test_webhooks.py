"""Signed event push through a whole buy: real receivers on loopback, the real dispatcher, the real
workflow. Every event a subscriber may see arrives, every signature verifies (Standard Webhooks),
and receivers that fail their first three attempts (500s, time-outs) still end with each event
exactly once after de-duplication on `webhook-id`, while the buy itself never waits for them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.webhook_dispatch import Dispatcher, backoff
from core.settings import Settings
from jointbuy.devstack import free_port
from tests.api.conftest import Api
from tests.api.test_bad_input import assert_problem
from tests.api.test_ocds import BIDS, LEAD, S1, S2, buy_in_standstill

E5 = "E06000005"
FAILURES = 3


@dataclass
class Receiver:
    """A subscriber's endpoint: it fails the first FAILURES attempts of every message (by answering
    500, or by taking longer than the dispatcher waits), then takes it."""

    mode: str  # "500" or "slow"
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    accepted: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        msg_id = request.headers["webhook-id"]
        self.attempts[msg_id] += 1
        if self.attempts[msg_id] <= FAILURES:
            if self.mode == "slow":
                await asyncio.sleep(1.0)  # longer than the dispatcher's time-out
            return Response("not now", status_code=500)
        self.accepted.append((body, dict(request.headers)))
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def serve(receivers: dict[str, Receiver]) -> AsyncIterator[int]:
    """The receivers as one real HTTP server on 127.0.0.1 (one path each)."""
    app = Starlette(routes=[Route(f"/{name}", r.endpoint, methods=["POST"]) for name, r in receivers.items()])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def hooks(
    api: Api, api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> AsyncIterator[Api]:
    """The same API, where http to loopback is allowed (development) and retries come quickly."""
    settings = api_settings.model_copy(
        update={
            "webhook_allow_loopback_http": True,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_timeout_seconds": 0.3,
            "webhook_lease_seconds": 5.0,
            "webhook_poll_seconds": 0.05,
        }
    )
    app = create_app(settings, pool=pool, client=dev_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://jointbuy.test"
    ) as http:
        yield Api(http=http, admin=api.admin)


async def subscribe(hooks: Api, token: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "event_types": sorted(ALL_TYPES)} | extra
    r = await hooks.http.post("/v1/webhooks", json=body, headers=token)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    assert created["secret"].startswith("whsec_")
    return created


ALL_TYPES = {
    "buy.created", "stage.changed", "stage.close_requested", "demand.registered", "demand.withdrawn",
    "demand.closed", "sign_up.confirmed", "sign_up.closed", "lot.unsuccessful", "supplier.registered",
    "assurance.started", "assurance.checked", "assurance.awaiting_decisions", "exclusion.decided",
    "assurance.completed", "round.opened", "round.extended", "round.closed", "bid.submitted",
    "score.entered", "assessment.summary", "award.notice", "challenge.lodged", "challenge.decided",
    "standstill.resumed", "contract.created", "buy.awarded", "buy.cancelled",
    "coalition.pass", "coalition.priced_out", "coalition.settled", "question.asked", "question.answered",
    "clarification.published", "lot.cancelled",
}  # fmt: skip


async def test_every_visible_event_arrives_signed_once_despite_failing_receivers(
    hooks: Api, api: Api, pool: Any, api_settings: Settings
) -> None:
    receivers = {"lead": Receiver("500"), "council": Receiver("slow"), "supplier": Receiver("500")}
    tokens = {
        "lead": await hooks.token("lead", LEAD),
        "council": await hooks.token("council", E5),
        "supplier": await hooks.token("supplier", S1),
    }
    settings = api_settings.model_copy(
        update={
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_timeout_seconds": 0.3,
            "webhook_poll_seconds": 0.05,
            "webhook_sealed_recheck_seconds": 0.2,
        }
    )
    async with serve(receivers) as port:
        subs = {
            name: await subscribe(hooks, token, f"http://127.0.0.1:{port}/{name}")
            for name, token in tokens.items()
        }
        dispatcher = asyncio.create_task(Dispatcher(pool, settings).run())
        try:
            buy = await buy_in_standstill(api, working_days=0)
            await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")
            # What each may see, from the audit log as the API shows it to that organisation.
            expected: dict[str, set[str]] = {}
            for name, token in tokens.items():
                events = (await api.http.get(f"{buy.url}/events", headers=token)).json()
                expected[name] = {f"evt_{buy.id}_{e['seq']}" for e in events}
            assert {"award.notice", "contract.created", "bid.submitted"} <= {
                e["type"]
                for e in (await api.http.get(f"{buy.url}/events", headers=tokens["supplier"])).json()
            }
            for _ in range(600):
                got = {name: {h["webhook-id"] for _, h in r.accepted} for name, r in receivers.items()}
                if all(expected[n] <= got[n] for n in receivers):
                    break
                await asyncio.sleep(0.1)
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            for name, sub in subs.items():
                r = await hooks.http.delete(f"/v1/webhooks/{sub['webhook_id']}", headers=tokens[name])
                assert r.status_code == 204, r.text

    for name, receiver in receivers.items():
        verifier = Webhook(subs[name]["secret"])
        mine: dict[str, dict[str, Any]] = {}
        for body, headers in receiver.accepted:
            event = verifier.verify(body, headers)  # raises unless the signature verifies
            if event["data"]["buy_id"] == buy.id:
                assert headers["webhook-id"] == f"evt_{buy.id}_{event['data']['seq']}"
                mine.setdefault(headers["webhook-id"], event)
        assert set(mine) == expected[name], name
        assert all(receiver.attempts[i] == FAILURES + 1 for i in mine), "each retried until taken, once"
        if name == "council":
            others = [e for e in mine.values() if e["data"]["type"] == "sign_up.confirmed"]
            assert {e["data"]["data"]["council"] for e in others} == {E5}, "another council's sign-up leaked"
        if name == "lead":  # recorded while sealed, sent once the bids opened
            assert {e["data"]["type"] for e in mine.values()} >= {"bid.submitted", "score.entered"}
        if name == "supplier":
            bids = [e for e in mine.values() if e["data"]["type"] == "bid.submitted"]
            assert bids and {e["data"]["data"]["company_number"] for e in bids} == {S1}
            assert BIDS[S2]["laptops"] not in json.dumps(bids), "another supplier's price leaked"
        tampered_body, tampered_headers = receiver.accepted[0]
        with pytest.raises(WebhookVerificationError):
            verifier.verify(tampered_body.replace(b"}", b" }", 1), tampered_headers)

    metrics = (await hooks.http.get("/metrics")).text
    assert 'jointbuy_webhook_attempts_total{result="error"}' in metrics
    assert 'jointbuy_webhook_deliveries_total{outcome="delivered"}' in metrics
    assert 'jointbuy_http_requests_total{method="POST",route="/v1/webhooks",status="201"}' in metrics
    assert 'jointbuy_buys{stage="awarded"}' in metrics


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = [backoff(n, base=5, cap=3600).total_seconds() for n in range(1, 13)]
    assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    # At least 24 hours of retries: the default window is 25 hours (Settings.webhook_retry_for_seconds).
    assert Settings().webhook_retry_for_seconds >= 24 * 3600


async def test_subscriptions_refuse_bad_input_and_stay_private(hooks: Api, api: Api) -> None:
    council = await hooks.token("council", E5)
    ok = "https://council.example/hook"
    cases = [
        ({"url": "ftp://council.example/hook"}, "url"),
        ({"url": "http://council.example/hook"}, "url"),  # http is for loopback only
        ({"url": "https://user:pw@council.example/hook"}, "url"),
        ({"url": "https://token@council.example/hook"}, "url"),
        ({"url": "https://council.example:99999/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": ["stage.changed", "bid.peeked"]}, "event_types"),
        ({"event_types": []}, "event_types"),
    ]
    for change, named in cases:
        body = {"url": ok, "event_types": ["stage.changed"]} | change
        r = await hooks.http.post("/v1/webhooks", json=body, headers=council)
        assert_problem(r, 422)
        assert named in {e["field"] for e in r.json()["errors"]}, (change, r.json())
    r = await hooks.http.get("/v1/webhooks", headers=council)
    assert r.json() == [], "nothing was created by a refused request"

    # http to a non-loopback host is refused even in development; in production http is refused.
    r = await api.http.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["stage.changed"]},
        headers=council,
    )
    assert_problem(r, 422)

    # A lead may not subscribe to another lead's buy; unknown buys are 404.
    other = await hooks.token("lead", "LEAD-OTHER")
    mine = await hooks.token("lead", LEAD)
    buy_id = (await hooks.create_buy(other))["id"]
    r = await hooks.http.post(
        "/v1/webhooks", json={"url": ok, "event_types": ["stage.changed"], "buy_id": buy_id}, headers=mine
    )
    assert_problem(r, 403)
    r = await hooks.http.post(
        "/v1/webhooks",
        json={"url": ok, "event_types": ["stage.changed"], "buy_id": "jb-000000000000"},
        headers=mine,
    )
    assert_problem(r, 404)

    created = await subscribe(hooks, council, ok, buy_id=buy_id)
    listed = (await hooks.http.get("/v1/webhooks", headers=council)).json()
    assert [w["webhook_id"] for w in listed] == [created["webhook_id"]]
    assert "secret" not in listed[0], "the secret is shown once"
    assert (await hooks.http.get("/v1/webhooks", headers=mine)).json() == [], "another organisation's"
    r = await hooks.http.delete(f"/v1/webhooks/{created['webhook_id']}", headers=mine)
    assert_problem(r, 404)
    r = await hooks.http.delete(f"/v1/webhooks/{created['webhook_id']}", headers=council)
    assert r.status_code == 204
    assert (await hooks.http.get("/v1/webhooks", headers=council)).json() == []
    r = await hooks.http.delete(f"/v1/webhooks/{created['webhook_id']}", headers=council)
    assert_problem(r, 404)
    r = await hooks.http.get("/v1/webhooks")
    assert_problem(r, 401)


def sse(text: str) -> list[dict[str, str]]:
    """The events of a Server-Sent Events body: id, event, data."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "id" in fields:
            out.append(fields)
    return out


async def test_the_event_stream_is_the_audit_log_shaped_by_role_and_resumes(api: Api) -> None:
    buy = await buy_in_standstill(api, working_days=0)
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "awarded")
    for token in (buy.lead, buy.councils[E5], buy.suppliers[S1]):
        log = (await api.http.get(f"{buy.url}/events", headers=token)).json()
        r = await api.http.get(f"{buy.url}/events/stream", headers=token)  # a finished buy's stream ends
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        streamed = sse(r.text)
        assert [int(e["id"]) for e in streamed] == [e["seq"] for e in log]
        assert [e["event"] for e in streamed] == [e["type"] for e in log]
        assert [json.loads(e["data"]) for e in streamed] == log
        middle = log[len(log) // 2]["seq"]
        r = await api.http.get(f"{buy.url}/events/stream", headers=token | {"Last-Event-ID": str(middle)})
        assert [int(e["id"]) for e in sse(r.text)] == [e["seq"] for e in log if e["seq"] > middle]
    council_types = {
        e["event"]
        for e in sse((await api.http.get(f"{buy.url}/events/stream", headers=buy.councils[E5])).text)
    }
    assert "bid.submitted" not in council_types and "score.entered" not in council_types
    r = await api.http.get(f"{buy.url}/events/stream", headers=buy.lead | {"Last-Event-ID": "seven"})
    assert_problem(r, 422, "Last-Event-ID")
    other = await api.token("lead", "LEAD-OTHER")
    assert_problem(await api.http.get(f"{buy.url}/events/stream", headers=other), 403)
