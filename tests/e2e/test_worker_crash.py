"""The worker process dies (SIGKILL) in the middle of a demand burst and another one takes over.

Every council's request still ends 200 (the API waits on Temporal updates; Temporal hands the lost
workflow and activity tasks to the new worker), nothing is lost, nothing is written twice, and the
buy carries on.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REGISTER, Stack

pytestmark = pytest.mark.e2e

COUNCILS = 120
KILL_AFTER = 25  # accepted registrations before the worker is killed


def councils(n: int) -> list[str]:
    reader = csv.DictReader(io.StringIO(REGISTER.read_text(encoding="utf-8-sig")))
    current = sorted(row["gss-code"] for row in reader if row["current-authority"].strip().lower() == "true")
    assert len(current) >= n
    return current[:n]


def quantity(index: int) -> int:
    return 20 + (index * 13) % 90


def buy_body() -> dict[str, Any]:
    return {
        "title": "Laptops, crash-tested",
        "lots": [{"id": "laptops", "title": "14-inch laptop", "unit": "device"}],
        "estimated_value_gbp": "900000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 100}},
    }


async def test_worker_killed_mid_burst_loses_and_doubles_nothing(stack: Stack, pool: Any) -> None:
    first = stack.workers.start()
    codes = councils(COUNCILS)
    lead = await stack.token("lead", "CCS-E2E")
    keys = await asyncio.gather(*(stack.token("council", code) for code in codes))
    r = await stack.http.post("/v1/joint-buys", json=buy_body(), headers=lead)
    assert r.status_code == 201, r.text
    buy_id = r.json()["id"]
    url = f"/v1/joint-buys/{buy_id}"

    accepted = 0

    async def register(index: int) -> httpx.Response:
        nonlocal accepted
        body = {
            "lines": [{"lot_id": "laptops", "quantity": quantity(index), "baseline_unit_price": "899.00"}]
        }
        response = await stack.http.put(f"{url}/demand", json=body, headers=keys[index])
        if response.status_code == 200:
            accepted += 1
        return response

    started = time.perf_counter()
    burst = [asyncio.create_task(register(i)) for i in range(COUNCILS)]
    try:
        async with asyncio.timeout(60):
            while accepted < KILL_AFTER:
                assert not all(t.done() for t in burst), "burst ended before the kill"
                await asyncio.sleep(0.01)
        assert first.kill() == -9
        at_kill = accepted
        print(f"\nworker {first.proc.pid} killed after {at_kill}/{COUNCILS} accepted")
        assert at_kill < COUNCILS, "every request finished before the kill: nothing was tested"
        await asyncio.sleep(1.0)
        second = stack.workers.start()
        print(f"worker {second.proc.pid} started {time.perf_counter() - started:.1f} s into the burst")

        async with asyncio.timeout(180):
            responses = await asyncio.gather(*burst)
    finally:
        for task in burst:
            task.cancel()
    print(f"all {COUNCILS} answered {time.perf_counter() - started:.1f} s after the burst began")

    statuses = Counter(r.status_code for r in responses)
    first_bad = next((r.text for r in responses if r.status_code != 200), "")
    assert statuses == Counter({200: COUNCILS}), f"{dict(statuses)}; first: {first_bad}"

    # Nothing lost: every council's demand row, with the quantity it sent.
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT council, lot_id, quantity FROM demand_lines WHERE buy_id = $1", buy_id
        )
        events = await conn.fetch("SELECT seq, type, data FROM events WHERE buy_id = $1 ORDER BY seq", buy_id)
    assert sorted((r["council"], r["lot_id"], r["quantity"]) for r in rows) == sorted(
        (code, "laptops", quantity(i)) for i, code in enumerate(codes)
    )
    # Nothing doubled: one demand.registered per council; seqs dense 1..N, no gap, no repeat.
    registered = Counter(e["data"]["council"] for e in events if e["type"] == "demand.registered")
    assert registered == Counter(codes)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == 2 + COUNCILS

    r = await stack.http.get(url, headers=lead)
    assert r.status_code == 200, r.text
    agg = r.json()["aggregate"]["laptops"]
    assert agg["councils"] == COUNCILS
    assert agg["indicative_quantity"] == sum(quantity(i) for i in range(COUNCILS))

    # The buy carries on with the new worker.
    r = await stack.http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "sign_up"
    r = await stack.http.post(
        f"{url}/sign-up", json={"lines": [{"lot_id": "laptops", "quantity": 10}]}, headers=keys[0]
    )
    assert r.status_code == 201, r.text
    assert r.json()["council_status"] == "signed_up"
    assert r.json()["aggregate"]["laptops"]["committed_quantity"] == 10
    assert second.proc.poll() is None, f"the new worker died:\n{second.tail()}"
