"""Exactly once under faults: a request whose outcome the client never learned (it timed out, the
workflow engine had no worker, the claim looked stale) is retried with the same Idempotency-Key and
has exactly one effect. And every answer, even to an unexpected error, is problem+json.

These run the real app over ASGI against the real Temporal dev server and PostgreSQL. "No worker"
is real too: the buy's task queue simply has no worker polling it for a while, as when every worker
is down; the API's requests wait on the server as they would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.gateway import BuyGateway, _first_outcome, _refusal
from api.problems import Problem
from core.settings import Settings
from procurement.models import BuyState, BuyTerms
from tests.api.conftest import ADMIN_TOKEN, REGISTER, buy_body
from worker import build_worker

GIVE_UP_AFTER = 2.0  # seconds a client waits before it abandons a request (no worker answers)


@dataclass
class Lonely:
    """An app whose task queue has a worker only when the test starts one."""

    http: httpx.AsyncClient
    admin: dict[str, str]
    task_queue: str
    env: WorkflowEnvironment
    pool: Any
    worker: Worker | None = None

    async def token(self, role: str, organisation_id: str) -> dict[str, str]:
        r = await self.http.post(
            "/v1/api-keys",
            json={"role": role, "organisation_id": organisation_id, "name": f"{role} faults"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def start_worker(self) -> None:
        assert self.worker is None
        self.worker = build_worker(self.env.client, self.pool, self.task_queue)
        await self.worker.__aenter__()

    async def stop_worker(self) -> None:
        assert self.worker is not None
        await self.worker.__aexit__(None, None, None)
        self.worker = None

    async def abandoned(self, method: str, url: str, **kwargs: Any) -> None:
        """Send a request and give up on it, as a client whose timeout ran out."""
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(GIVE_UP_AFTER):
                await self.http.request(method, url, **kwargs)


@contextlib.asynccontextmanager
async def lonely_app(
    dev_env: WorkflowEnvironment, pool: Any, database_url: str, **settings_: Any
) -> AsyncIterator[Lonely]:
    settings = Settings(
        database_url=database_url,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        jointbuy_admin_token=ADMIN_TOKEN,
        **settings_,
    )
    app = create_app(settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.faults") as http:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        r = await http.post(
            "/v1/councils/import", content=REGISTER.read_bytes(), headers=admin | {"Content-Type": "text/csv"}
        )
        assert r.status_code == 200, r.text
        world = Lonely(http=http, admin=admin, task_queue=settings.task_queue, env=dev_env, pool=pool)
        try:
            yield world
        finally:
            if world.worker is not None:
                await world.stop_worker()


@pytest.fixture
async def lonely(dev_env: WorkflowEnvironment, pool: Any, database_url: str) -> AsyncIterator[Lonely]:
    async with lonely_app(dev_env, pool, database_url) as world:
        yield world


async def _workflows_on(env: WorkflowEnvironment, task_queue: str, must_include: str) -> list[str]:
    """Ids of the workflows started on `task_queue`, once visibility lists `must_include`."""
    for _ in range(200):
        ids = [w.id async for w in env.client.list_workflows(f'TaskQueue="{task_queue}"')]
        if must_include in ids:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{must_include} never listed on {task_queue}")


async def test_a_create_retried_after_the_client_gave_up_starts_one_buy(lonely: Lonely) -> None:
    """No worker is up: the create cannot be confirmed and the client gives up. Its retry, with the
    same key once a worker is back, answers with the buy the first attempt started: no second buy."""
    lead = await lonely.token("lead", f"LEAD-{uuid.uuid4().hex[:6]}")
    headers = lead | {"Idempotency-Key": "create-once"}
    body = buy_body(title="Laptops, created once")
    await lonely.abandoned("POST", "/v1/joint-buys", json=body, headers=headers)

    await lonely.start_worker()
    for _ in range(100):  # the first attempt's claim may still be settling: 409 says retry
        retry = await lonely.http.post("/v1/joint-buys", json=body, headers=headers)
        if retry.status_code != 409:
            break
        await asyncio.sleep(0.2)
    assert retry.status_code == 201, retry.text
    buy_id = retry.json()["id"]
    started = await _workflows_on(lonely.env, lonely.task_queue, buy_id)
    assert started == [buy_id], f"one create started {len(started)} buys: {started}"
    again = await lonely.http.post("/v1/joint-buys", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == buy_id
    assert again.headers.get("Idempotent-Replayed") == "true"


async def _buy_in_demand(lonely: Lonely) -> tuple[str, dict[str, str]]:
    lead = await lonely.token("lead", f"LEAD-{uuid.uuid4().hex[:6]}")
    r = await lonely.http.post("/v1/joint-buys", json=buy_body(), headers=lead)
    assert r.status_code == 201, r.text
    return r.json()["id"], lead


async def test_an_update_retried_after_the_client_gave_up_applies_once(lonely: Lonely) -> None:
    """The demand reaches the workflow engine, but no worker runs it before the client gives up.
    Retried with the same key once a worker is back: one registration, not two."""
    await lonely.start_worker()
    buy_id, _ = await _buy_in_demand(lonely)
    await lonely.stop_worker()
    council = await lonely.token("council", "E06000001") | {"Idempotency-Key": "demand-once"}
    body = {"lines": [{"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "949.00"}]}
    url = f"/v1/joint-buys/{buy_id}/demand"
    await lonely.abandoned("PUT", url, json=body, headers=council)

    await lonely.start_worker()
    for _ in range(100):
        retry = await lonely.http.put(url, json=body, headers=council)
        if retry.status_code != 409:
            break
        await asyncio.sleep(0.2)
    assert retry.status_code == 200, retry.text
    # Whatever the server still held of the first attempt has run by now: close demand and wait for
    # it, so a second registration, if any, is in the log before we count.
    lead_events = await _settled(lonely, buy_id)
    registered = [e for e in lead_events if e["type"] == "demand.registered"]
    assert len(registered) == 1, f"one request registered demand {len(registered)} times"


async def _settled(lonely: Lonely, buy_id: str) -> list[Any]:
    """Every update the server holds for the buy has been applied: a query answers only after the
    workflow task that delivers pending updates, so we query, then read the log."""
    handle = lonely.env.client.get_workflow_handle(buy_id)
    for _ in range(3):
        await handle.query("get_state")
        await asyncio.sleep(0.5)
    async with lonely.pool.acquire() as conn:
        return list(await conn.fetch("SELECT seq, type, actor, data FROM events WHERE buy_id = $1", buy_id))


async def test_a_takeover_of_a_stale_claim_never_runs_the_command_twice(lonely: Lonely) -> None:
    """A claim that looks abandoned (its lease ran out, or it is old) while its command is in fact
    still waiting on the engine: the repeat that takes it over joins the same command."""
    await lonely.start_worker()
    buy_id, _ = await _buy_in_demand(lonely)
    await lonely.stop_worker()
    council = await lonely.token("council", "E06000005") | {"Idempotency-Key": "demand-stale"}
    body = {"lines": [{"lot_id": "laptops", "quantity": 45, "baseline_unit_price": "999.00"}]}
    url = f"/v1/joint-buys/{buy_id}/demand"
    first = asyncio.create_task(lonely.http.put(url, json=body, headers=council))
    try:
        async with lonely.pool.acquire() as conn:
            for _ in range(100):
                if await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'demand-stale'"):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the first attempt's update is with the engine by now
            columns = {
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'idempotency_keys'"
                )
            }
            stale = "created_at = now() - interval '1 hour'"
            if "lease_until" in columns:
                stale += ", lease_until = now() - interval '1 hour'"
            await conn.execute(f"UPDATE idempotency_keys SET {stale} WHERE key = 'demand-stale'")
        second = asyncio.create_task(lonely.http.put(url, json=body, headers=council))
        await asyncio.sleep(1.0)
        await lonely.start_worker()
        async with asyncio.timeout(60):
            answers = await asyncio.gather(first, second)
    finally:
        first.cancel()
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    events = await _settled(lonely, buy_id)
    registered = [e for e in events if e["type"] == "demand.registered"]
    assert len(registered) == 1, f"one request registered demand {len(registered)} times"


async def test_an_update_retried_after_the_buy_continued_as_new_applies_once(
    dev_env: WorkflowEnvironment, pool: Any, database_url: str
) -> None:
    """The demand is applied, but its answer never reaches the client; before the client retries,
    the buy's run takes its ten messages and continues as new, and the next run has never seen the
    command's update id. The retry, with the same key, is answered with the first registration."""
    async with lonely_app(dev_env, pool, database_url, messages_per_run=10) as lonely:
        await lonely.start_worker()
        buy_id, _ = await _buy_in_demand(lonely)  # the run's first message: confirm_started
        first_run = (await lonely.env.client.get_workflow_handle(buy_id).describe()).run_id
        await lonely.stop_worker()
        council = await lonely.token("council", "E06000001") | {"Idempotency-Key": "demand-across-runs"}
        body = {"lines": [{"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "949.00"}]}
        url = f"/v1/joint-buys/{buy_id}/demand"
        await lonely.abandoned("PUT", url, json=body, headers=council)

        await lonely.start_worker()  # the first attempt is applied now, its answer lost
        registered = await _registered(lonely, buy_id, "E06000001", count=1)
        for code in OTHER_COUNCILS:  # eight more messages: the run's budget is spent
            other = await lonely.token("council", code)
            r = await lonely.http.put(url, json=body, headers=other)
            assert r.status_code == 200, r.text
        handle = lonely.env.client.get_workflow_handle(buy_id)
        for _ in range(100):
            if (await handle.describe()).run_id != first_run:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the buy never continued as new")

        for _ in range(100):  # the first attempt's claim may still be settling: 409 says retry
            retry = await lonely.http.put(url, json=body, headers=council)
            if retry.status_code != 409:
                break
            await asyncio.sleep(0.2)
        assert retry.status_code == 200, retry.text
        assert retry.json()["seq"] == registered[0]["seq"]
        assert retry.json()["aggregate"]["laptops"]["councils"] == 1  # as the first registration left it
        events = await _settled(lonely, buy_id)
        again = [e for e in events if e["type"] == "demand.registered" and e["actor"] == "E06000001"]
        assert len(again) == 1, f"one request registered demand {len(again)} times"
        replayed = await lonely.http.put(url, json=body, headers=council)
        assert replayed.json() == retry.json() and replayed.headers.get("Idempotent-Replayed") == "true"


# Councils in the register besides E06000001.
OTHER_COUNCILS = ["E06000002", "E06000003", "E06000004", "E06000005", "E06000006", "E06000007",
                  "E06000008", "E06000009"]  # fmt: skip


async def _registered(lonely: Lonely, buy_id: str, council: str, count: int) -> list[Any]:
    for _ in range(200):
        async with lonely.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq FROM events WHERE buy_id = $1 AND type = 'demand.registered' AND actor = $2",
                buy_id,
                council,
            )
        if len(rows) >= count:
            return list(rows)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{council}'s demand never recorded")


async def test_a_second_start_of_the_same_buy_is_a_409_problem_not_a_crash(
    dev_env: WorkflowEnvironment, pool: Any
) -> None:
    """Starting a buy whose workflow already exists (a retried start) is a problem, never an
    unhandled WorkflowAlreadyStartedError (a 500)."""
    task_queue = f"faults-start-{uuid.uuid4().hex[:6]}"
    gateway = BuyGateway(
        dev_env.client, task_queue=task_queue, max_in_flight=8, messages_per_run=100, pool=lambda: pool
    )
    terms = BuyTerms.model_validate(buy_body())
    state = BuyState(buy_id=f"jb-{uuid.uuid4().hex[:12]}", lead="LEAD-START", terms=terms)
    async with build_worker(dev_env.client, pool, task_queue):
        await gateway.start(state)
        with pytest.raises(Problem) as refused:
            await gateway.start(state)
    assert refused.value.status == 409


async def test_a_repeat_whose_first_run_is_no_longer_kept_is_a_409_problem() -> None:
    """The run that applied the command is past the namespace's retention: the repeat is told it
    was applied, never applied again or answered with a 500."""

    class Gone:
        async def result(self) -> Any:
            raise RPCError("workflow execution not found", RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(Problem) as refused:
        await _first_outcome(Gone())  # type: ignore[arg-type]
    assert refused.value.status == 409 and "already applied" in refused.value.detail


def test_an_unknown_update_failure_is_a_500_without_internals() -> None:
    err = WorkflowUpdateFailedError(ApplicationError("pool exhausted at db/secret.py:42", type="KeyError"))
    with structlog.testing.capture_logs() as logs:
        problem = _refusal(err)
    assert problem.status == 500
    assert "secret" not in problem.detail and "KeyError" not in problem.detail
    assert any("secret.py" in str(line) for line in logs), logs


async def test_an_unexpected_error_is_a_500_problem_with_a_request_id(
    dev_env: WorkflowEnvironment, pool: Any, database_url: str
) -> None:
    app = create_app(Settings(database_url=database_url, jointbuy_admin_token=ADMIN_TOKEN), pool=pool)

    @app.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("internal detail: password=hunter2")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with structlog.testing.capture_logs() as logs:
        async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.faults") as http:
            r = await http.get("/v1/broken", headers={"X-Request-Id": "req-4711"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    problem = r.json()
    assert problem["status"] == 500 and problem["request_id"] == "req-4711", problem
    assert "hunter2" not in r.text and "RuntimeError" not in r.text
    logged = [line for line in logs if line.get("log_level") == "error"]
    assert logged and logged[0].get("exc_info"), logs
