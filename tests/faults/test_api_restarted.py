"""(c) The API process is SIGKILLed in the middle of a burst of requests and started again.

Every request carries its own Idempotency-Key. A request that got an answer keeps it; one that lost
its connection (or got "retry") is sent again with the same key until it gets a definite answer.
Counted in the event log and the projections afterwards: every command took effect exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.e2e.conftest import WorkerLauncher
from tests.faults.conftest import (
    ADMIN_TOKEN,
    ApiProcess,
    OwnPostgres,
    fetch_all,
    import_register,
    process_env,
)
from tests.faults.lifecycle import buy_body, councils

COUNCILS = 60
LEADS = 6
IN_FLIGHT = 20
KILL_AFTER = 20  # answers before the API is killed


async def test_api_killed_during_a_burst_every_command_takes_effect_once(
    dev_env: WorkflowEnvironment,
    own_pg: OwnPostgres,
    fault_settings: Settings,
    fault_workers: WorkerLauncher,
    tmp_path: Path,
) -> None:
    # One run of the workflow holds the whole burst: the engine de-duplicates update ids per run.
    settings = fault_settings.model_copy(update={"messages_per_run": 1000})
    fault_workers.start()
    api = ApiProcess(env=process_env(settings, dev_env), logs=tmp_path)
    await asyncio.to_thread(api.start)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    codes = councils(COUNCILS)
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=httpx.Timeout(120, connect=5)) as http:
            await import_register(http, admin)

            async def token(role: str, org: str) -> dict[str, str]:
                r = await http.post(
                    "/v1/api-keys", json={"role": role, "organisation_id": org, "name": org}, headers=admin
                )
                assert r.status_code == 201, r.text
                return {"Authorization": f"Bearer {r.json()['token']}"}

            lead = await token("lead", "LEAD-BURST")
            r = await http.post("/v1/joint-buys", json=buy_body("Laptops, burst"), headers=lead)
            assert r.status_code == 201, r.text
            buy_id = r.json()["id"]
            council_tokens = [await token("council", code) for code in codes]
            leads = [await token("lead", f"LEAD-B{i}") for i in range(LEADS)]

            answered = 0
            first_answers: Counter[str] = Counter()
            retries: Counter[str] = Counter()
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def send(
                method: str, url: str, key: str, headers: dict[str, str], body: Any
            ) -> httpx.Response:
                nonlocal answered
                first = True
                async with gate:
                    while True:
                        try:
                            r = await http.request(
                                method, url, json=body, headers=headers | {"Idempotency-Key": key}
                            )
                        except httpx.TransportError as err:
                            outcome = type(err).__name__
                        else:
                            outcome = str(r.status_code)
                            if r.status_code < 500 and not (r.status_code == 409 and "retry" in r.text):
                                if first:
                                    answered += 1
                                return r
                        (first_answers if first else retries)[outcome] += 1
                        first = False
                        await asyncio.sleep(0.5)

            demand = [
                asyncio.create_task(
                    send(
                        "PUT",
                        f"/v1/joint-buys/{buy_id}/demand",
                        f"burst-demand-{code}",
                        council_tokens[i],
                        {
                            "lines": [
                                {"lot_id": "laptops", "quantity": 10 + i, "baseline_unit_price": "900.00"}
                            ]
                        },
                    )
                )
                for i, code in enumerate(codes)
            ]
            creates = [
                asyncio.create_task(
                    send("POST", "/v1/joint-buys", f"burst-create-{i}", leads[i], buy_body(f"Burst buy {i}"))
                )
                for i in range(LEADS)
            ]
            started = time.perf_counter()
            async with asyncio.timeout(120):
                while answered < KILL_AFTER:
                    await asyncio.sleep(0.01)
            api.kill()
            at_kill = answered
            await asyncio.to_thread(api.start)
            async with asyncio.timeout(300):
                demand_answers = await asyncio.gather(*demand)
                create_answers = await asyncio.gather(*creates)
            print(
                f"\nAPI killed after {at_kill} answers; all {COUNCILS + LEADS} answered after"
                f" {time.perf_counter() - started:.1f} s; failed first attempts {dict(first_answers)};"
                f" failed retries {dict(retries)}"
            )
            assert at_kill < COUNCILS + LEADS, "the burst ended before the kill: nothing was tested"
            assert [r.status_code for r in demand_answers] == [200] * COUNCILS, [
                r.text for r in demand_answers if r.status_code != 200
            ]
            assert [r.status_code for r in create_answers] == [201] * LEADS, [
                r.text for r in create_answers if r.status_code != 201
            ]
    finally:
        api.kill()

    events = await fetch_all(own_pg.url, "SELECT type, data FROM events WHERE buy_id = $1", buy_id)
    registered = Counter(e["data"]["council"] for e in events if e["type"] == "demand.registered")
    assert registered == Counter(codes), f"demand registered other than once: {registered - Counter(codes)}"
    rows = await fetch_all(own_pg.url, "SELECT council, quantity FROM demand_lines WHERE buy_id = $1", buy_id)
    assert sorted((r["council"], r["quantity"]) for r in rows) == sorted(
        (c, 10 + i) for i, c in enumerate(codes)
    )
    buys = await fetch_all(own_pg.url, "SELECT lead, buy_id FROM joint_buys WHERE lead ~ '^LEAD-B[0-9]$'")
    per_lead = Counter(r["lead"] for r in buys)
    assert per_lead == Counter({f"LEAD-B{i}": 1 for i in range(LEADS)}), per_lead
    assert {r.json()["id"] for r in create_answers} == {r["buy_id"] for r in buys}
    expected = {buy_id} | {r["buy_id"] for r in buys}
    for _ in range(100):  # visibility lags the starts a little
        listed = [w.id async for w in dev_env.client.list_workflows(f'TaskQueue="{settings.task_queue}"')]
        if expected <= set(listed):
            break
        await asyncio.sleep(0.2)
    assert sorted(listed) == sorted(expected), "a create started a second workflow"
