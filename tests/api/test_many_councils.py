"""Every current council in the UK register joins one buy at once, through the HTTP API.

397 councils register demand concurrently into one buy (two lots), then all sign up concurrently.
The API keeps at most 8 updates in flight per buy and the workflow continues as new every 150
messages (the `api` fixture's settings), so this crosses several runs. Nothing may be lost,
doubled or refused, and the published aggregate must equal what was sent.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.api.conftest import REGISTER, Api

EXPECTED_CURRENT = 397
UPDATE_ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
PRICE = {"laptops": "949.99", "monitors": "189.50"}


def current_councils() -> tuple[list[str], bytes | None]:
    """GSS codes of the current councils, read straight from the register CSV.

    Without the register, 397 GSS-shaped codes and a minimal CSV to import them with.
    """
    if REGISTER.exists():
        reader = csv.DictReader(io.StringIO(REGISTER.read_text(encoding="utf-8-sig")))
        codes = sorted(
            row["gss-code"].strip() for row in reader if row["current-authority"].strip().lower() == "true"
        )
        return codes, None
    codes = [f"E99{n:06d}" for n in range(1, EXPECTED_CURRENT + 1)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "local-authority-code",
            "official-name",
            "nice-name",
            "gss-code",
            "nation",
            "current-authority",
        ]
    )
    for n, code in enumerate(codes, start=1):
        writer.writerow([f"T{n:03d}", f"Test Council {n}", f"Test {n}", code, "England", "True"])
    return codes, out.getvalue().encode()


def demand_lines(index: int) -> list[dict[str, Any]]:
    """Deterministic demand: everyone wants laptops, every third council monitors too."""
    lines = [
        {
            "lot_id": "laptops",
            "quantity": 10 + (index * 37) % 200,
            "baseline_unit_price": PRICE["laptops"],
        }
    ]
    if index % 3 == 0:
        lines.append(
            {
                "lot_id": "monitors",
                "quantity": 5 + (index * 11) % 60,
                "baseline_unit_price": PRICE["monitors"],
            }
        )
    return lines


def sign_up_lines(index: int) -> list[dict[str, Any]]:
    """A binding part of the demand: three quarters of the laptops, half the monitors (at least 1)."""
    lines = []
    for line in demand_lines(index):
        share = 3 / 4 if line["lot_id"] == "laptops" else 1 / 2
        lines.append({"lot_id": line["lot_id"], "quantity": max(1, int(line["quantity"] * share))})
    return lines


def totals(per_council: list[list[dict[str, Any]]]) -> dict[str, tuple[int, int]]:
    """(councils, quantity) per lot."""
    out: dict[str, tuple[int, int]] = {}
    for lines in per_council:
        for line in lines:
            councils, quantity = out.get(line["lot_id"], (0, 0))
            out[line["lot_id"]] = (councils + 1, quantity + line["quantity"])
    return out


async def _gather_statuses(calls: list[Any]) -> tuple[list[httpx.Response], float]:
    started = time.perf_counter()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - started
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, f"{len(errors)} requests raised, first: {errors[0]!r}"
    responses: list[httpx.Response] = list(answers)  # type: ignore[arg-type]
    return responses, elapsed


def _assert_all(responses: list[httpx.Response], status: int) -> None:
    bad = Counter(r.status_code for r in responses if r.status_code != status)
    sample = next((r.text for r in responses if r.status_code != status), "")
    assert not bad, f"unexpected statuses {dict(bad)}; first: {sample}"


async def _runs(env: WorkflowEnvironment, buy_id: str) -> list[Any]:
    return [wf async for wf in env.client.list_workflows(f"WorkflowId = '{buy_id}'")]


async def _updates_per_run(env: WorkflowEnvironment, buy_id: str) -> list[int]:
    """How many updates each closed run accepted, oldest first (from the run's own history)."""
    counts = []
    for wf in sorted(await _runs(env, buy_id), key=lambda wf: wf.start_time):
        if wf.status == WorkflowExecutionStatus.RUNNING:
            continue
        history = await env.client.get_workflow_handle(buy_id, run_id=wf.run_id).fetch_history()
        counts.append(sum(1 for e in history.events if e.event_type == UPDATE_ACCEPTED))
    return counts


async def test_every_council_joins_one_buy_at_once(
    api: Api, pool: Any, dev_env: WorkflowEnvironment, api_settings: Settings
) -> None:
    codes, generated_register = current_councils()
    assert len(codes) == EXPECTED_CURRENT == len(set(codes))
    if generated_register is not None:
        r = await api.http.post(
            "/v1/councils/import",
            content=generated_register,
            headers=api.admin | {"Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text

    lead = await api.token("lead", "CCS-MANY-COUNCILS")
    keys = await asyncio.gather(*(api.token("council", code) for code in codes))
    buy = await api.create_buy(lead, title="Laptops and monitors for every council")
    buy_id = buy["id"]
    url = f"/v1/joint-buys/{buy_id}"

    # ---- demand: all councils at once --------------------------------------------------------
    sent = [demand_lines(i) for i in range(len(codes))]
    responses, elapsed = await _gather_statuses(
        [
            api.http.put(f"{url}/demand", json={"lines": lines}, headers=key)
            for lines, key in zip(sent, keys, strict=True)
        ]
    )
    print(
        f"\n{len(codes)} demand registrations in {elapsed:.2f} s "
        f"({len(codes) / elapsed:.0f}/s, {api_settings.max_updates_in_flight} in flight per buy)"
    )
    _assert_all(responses, 200)
    for code, r in zip(codes, responses, strict=True):
        body = r.json()
        assert body["council"] == code and body["council_status"] == "registered", body

    expected = totals(sent)
    r = await api.http.get(url, headers=lead)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["stage"] == "demand"
    for lot_id, (councils, quantity) in expected.items():
        agg = view["aggregate"][lot_id]
        assert (agg["councils"], agg["indicative_quantity"]) == (councils, quantity), lot_id
        assert agg["committed_quantity"] == 0
    assert expected["laptops"][0] == len(codes)
    assert {c["council"] for c in view["councils"]} == set(codes)

    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT council, lot_id, quantity FROM demand_lines WHERE buy_id = $1", buy_id
        )
        events = await conn.fetch("SELECT seq, type, data FROM events WHERE buy_id = $1 ORDER BY seq", buy_id)
    want_rows = Counter(
        (code, line["lot_id"], line["quantity"])
        for code, lines in zip(codes, sent, strict=True)
        for line in lines
    )
    assert Counter((r["council"], r["lot_id"], r["quantity"]) for r in rows) == want_rows
    registered = Counter(e["data"]["council"] for e in events if e["type"] == "demand.registered")
    assert registered == Counter(codes), "expected exactly one demand.registered per council"
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "event seqs must be dense from 1"
    assert len(seqs) == 2 + len(codes)  # buy.created, stage.changed, one event per council

    runs = await _runs(dev_env, buy_id)
    continued = [wf for wf in runs if wf.status == WorkflowExecutionStatus.CONTINUED_AS_NEW]
    running = [wf for wf in runs if wf.status == WorkflowExecutionStatus.RUNNING]
    print(f"workflow runs so far: {len(runs)} ({len(continued)} continued as new)")
    assert len(continued) >= 1, [wf.status for wf in runs]
    assert len(running) == 1
    # Each run hands over near its message budget even while updates keep arriving: a run may
    # overshoot by what was already in flight, not by the rest of the burst (the server caps a
    # run at 2,000 updates).
    per_run = await _updates_per_run(dev_env, buy_id)
    print(f"updates accepted per closed run: {per_run}")
    budget = api_settings.messages_per_run + api_settings.max_updates_in_flight
    assert max(per_run) <= budget, f"a run accepted {max(per_run)} updates; budget {budget}"

    # ---- close demand early, then everyone signs up at once ----------------------------------
    r = await api.http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "sign_up"

    committed = [sign_up_lines(i) for i in range(len(codes))]
    responses, elapsed = await _gather_statuses(
        [
            api.http.post(f"{url}/sign-up", json={"lines": lines}, headers=key)
            for lines, key in zip(committed, keys, strict=True)
        ]
    )
    print(f"{len(codes)} sign-ups in {elapsed:.2f} s ({len(codes) / elapsed:.0f}/s)")
    _assert_all(responses, 201)

    r = await api.http.get(url, headers=lead)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["stage"] == "sign_up"
    for lot_id, (councils, quantity) in totals(committed).items():
        agg = view["aggregate"][lot_id]
        assert (agg["signed_up_councils"], agg["committed_quantity"]) == (councils, quantity)
        # Indicative demand is unchanged by signing up.
        assert (agg["councils"], agg["indicative_quantity"]) == expected[lot_id]
    assert {c["status"] for c in view["councils"]} == {"signed_up"}

    async with pool.acquire() as conn:
        signed = await conn.fetch("SELECT council, lot_id, quantity FROM sign_ups WHERE buy_id = $1", buy_id)
        seqs = [
            r["seq"]
            for r in await conn.fetch("SELECT seq FROM events WHERE buy_id = $1 ORDER BY seq", buy_id)
        ]
        confirmed = await conn.fetchval(
            "SELECT count(DISTINCT data->>'council') FROM events "
            "WHERE buy_id = $1 AND type = 'sign_up.confirmed'",
            buy_id,
        )
    assert Counter((r["council"], r["lot_id"], r["quantity"]) for r in signed) == Counter(
        (code, line["lot_id"], line["quantity"])
        for code, lines in zip(codes, committed, strict=True)
        for line in lines
    )
    assert confirmed == len(codes)
    assert seqs == list(range(1, len(seqs) + 1))

    runs = await _runs(dev_env, buy_id)
    print(f"workflow runs at the end: {len(runs)}")
    assert len(runs) >= 3  # ~800 messages at 150 a run
