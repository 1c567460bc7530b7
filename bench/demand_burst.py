"""Demand burst: many councils hitting one joint buy at once, against bare Temporal on the same server.

    .venv/bin/python -m bench.demand_burst [--councils 397] [--concurrency 50] [--repeat 1]

Starts its own real stack: the Temporal dev server (the venv's `temporal` binary), PostgreSQL
(a scratch database on `DATABASE_URL`'s server, dropped afterwards, else an embedded pgserver in a
temporary folder), the migrations, a worker and the FastAPI app in this process (over
`httpx.ASGITransport`). Then, on the same server, it measures:

(a) Joint Buy: N councils, each with its own API key, register demand concurrently through the HTTP
    API into one buy; the lead closes demand; the same councils sign up concurrently. Each request
    is auth + validated update + event written to PostgreSQL (with its projection) + read-back.
(b) bare Temporal: a workflow with one update handler that appends to a list and returns (no
    activity), sent the same number of updates, at most 8 in flight (the API's cap per workflow).
(c) bare Temporal signals: the same number of signals, at most 50 in flight.

Prints figures only; there is no assertion on speed. See bench/README.md for how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow

# The bare workflows below live in this module, so the workflow sandbox re-imports it: everything
# that is not the standard library is passed through rather than re-imported per workflow run.
with workflow.unsafe.imports_passed_through():
    from temporalio.client import WorkflowHandle

    from bench._measure import (
        BURST_HEADER,
        PERSISTENCE_HEADER,
        Burst,
        Persisted,
        burst,
        burst_row,
        persisted,
        persistence_row,
    )
    from bench._stack import BARE_QUEUE, MAX_COUNCILS, Stack, check, full_stack, issue_keys
    from messages.joint_buy import RegisterDemand
    from procurement.models import DemandLine

SIGNALS_IN_FLIGHT = 50


# ---- the bare Temporal baselines -----------------------------------------------------------------


@workflow.defn(name="BenchBareUpdates")
class BareUpdates:
    """One update handler that appends to a list and returns: no validator, no activity."""

    def __init__(self) -> None:
        self._received: list[str] = []
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done and workflow.all_handlers_finished())
        return len(self._received)

    @workflow.update
    def append(self, cmd: RegisterDemand) -> int:
        self._received.append(cmd.council)
        return len(self._received)

    @workflow.signal
    def finish(self) -> None:
        self._done = True


@workflow.defn(name="BenchBareSignals")
class BareSignals:
    """One signal handler that appends to a list; the run ends once `expected` have arrived."""

    def __init__(self) -> None:
        self._received: list[str] = []

    @workflow.run
    async def run(self, expected: int) -> int:
        await workflow.wait_condition(lambda: len(self._received) >= expected)
        return len(self._received)

    @workflow.signal
    def append(self, cmd: RegisterDemand) -> None:
        self._received.append(cmd.council)


# ---- the buy -------------------------------------------------------------------------------------


def buy_terms() -> dict[str, Any]:
    return {
        "title": "Laptops and monitors for 2027 (benchmark)",
        "description": "Business laptops and monitors",
        "cpv_code": "30213100",
        "lots": [
            {"id": "laptops", "title": "14-inch laptop", "unit": "device"},
            {"id": "monitors", "title": "27-inch monitor", "unit": "device"},
        ],
        "estimated_value_gbp": "1800000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 100}},
    }


def demand_lines(i: int) -> list[dict[str, Any]]:
    return [
        {"lot_id": "laptops", "quantity": 50 + i * 37 % 450, "baseline_unit_price": "949.99"},
        {"lot_id": "monitors", "quantity": 20 + i * 53 % 200, "baseline_unit_price": "189.00"},
    ]


def sign_up_lines(i: int) -> list[dict[str, Any]]:
    return [{"lot_id": line["lot_id"], "quantity": line["quantity"]} for line in demand_lines(i)]


# ---- one round of measurements -------------------------------------------------------------------


@dataclass
class Round:
    demand: Burst
    sign_up: Burst
    bare: Burst
    signals: Burst
    signals_processed: float  # seconds from the first signal until the workflow had them all
    close_ms: float
    phases: dict[str, tuple[Persisted, float]]  # phase -> (what it wrote, wall seconds)
    runs: int


async def joint_buy_round(
    s: Stack,
    lead: dict[str, str],
    councils: list[tuple[str, dict[str, str]]],
    concurrency: int,
) -> tuple[Burst, Burst, float, dict[str, tuple[Persisted, float]], int]:
    buy = check(await s.http.post("/v1/joint-buys", json=buy_terms(), headers=lead), 201)
    buy_id = buy["id"]
    path = f"/v1/joint-buys/{buy_id}"
    n = len(councils)
    before = await persisted(s, buy_id)

    async def register(i: int) -> None:
        code, token = councils[i]
        body = {"council": code, "lines": demand_lines(i)}
        check(await s.http.put(f"{path}/demand", json=body, headers=token), 200)

    demand = await burst("(a) Joint Buy: register demand", n, concurrency, register)
    after_demand = await persisted(s, buy_id)

    start = time.perf_counter()
    check(await s.http.post(f"{path}/close-stage", json={"stage": "demand"}, headers=lead), 200)
    close = time.perf_counter() - start
    after_close = await persisted(s, buy_id)

    async def sign_up(i: int) -> None:
        code, token = councils[i]
        body = {"council": code, "lines": sign_up_lines(i)}
        check(await s.http.post(f"{path}/sign-up", json=body, headers=token), 201)

    signed = await burst("(a) Joint Buy: sign up", n, concurrency, sign_up)
    after_sign_up = await persisted(s, buy_id)
    check(
        await s.http.post(f"{path}/cancel", json={"reason": "benchmark finished"}, headers=lead),
        200,
    )
    phases = {
        "register demand": (after_demand - before, demand.wall),
        "close demand (lead)": (after_close - after_demand, close),
        "sign up": (after_sign_up - after_close, signed.wall),
    }
    return demand, signed, close * 1000, phases, after_sign_up.runs


def _command(i: int) -> RegisterDemand:
    return RegisterDemand(
        council=f"X{i:08d}",
        lines=[DemandLine.model_validate(line) for line in demand_lines(i)],
    )


async def bare_update_round(s: Stack, n: int, concurrency: int) -> Burst:
    handle: WorkflowHandle[BareUpdates, int] = await s.client.start_workflow(
        BareUpdates.run, id=f"bench-bare-updates-{uuid.uuid4().hex[:8]}", task_queue=BARE_QUEUE
    )
    # Warm-up, like the buy's own start: the first workflow task is not part of the burst.
    await handle.execute_update(BareUpdates.append, _command(-1))
    commands = [_command(i) for i in range(n)]
    slots = asyncio.Semaphore(s.in_flight)

    async def update(i: int) -> None:
        async with slots:
            await handle.execute_update(BareUpdates.append, commands[i])

    result = await burst(f"(b) bare Temporal update, {s.in_flight} in flight", n, concurrency, update)
    await handle.signal(BareUpdates.finish)
    if (got := await handle.result()) != result.ok + 1:
        result.errors[f"workflow counted {got - 1} updates, callers saw {result.ok} succeed"] += 1
    return result


async def bare_signal_round(s: Stack, n: int) -> tuple[Burst, float]:
    handle: WorkflowHandle[BareSignals, int] = await s.client.start_workflow(
        BareSignals.run, n, id=f"bench-bare-signals-{uuid.uuid4().hex[:8]}", task_queue=BARE_QUEUE
    )
    commands = [_command(i) for i in range(n)]

    async def signal(i: int) -> None:
        await handle.signal(BareSignals.append, commands[i])

    start = time.perf_counter()
    result = await burst(
        f"(c) bare Temporal signal, {SIGNALS_IN_FLIGHT} in flight", n, SIGNALS_IN_FLIGHT, signal
    )
    if result.failed:
        await handle.terminate("some signals failed")
        return result, float("nan")
    await handle.result()  # the run ends once it has received all n signals
    return result, time.perf_counter() - start


# ---- report --------------------------------------------------------------------------------------


def print_table(rounds: list[Round], title: str) -> None:
    demand = Burst.pooled([r.demand for r in rounds])
    sign_up = Burst.pooled([r.sign_up for r in rounds])
    bare = Burst.pooled([r.bare for r in rounds])
    signals = Burst.pooled([r.signals for r in rounds])
    processed = sum(r.signals_processed for r in rounds)

    print(f"\n{title}")
    print(BURST_HEADER)
    for b in (demand, sign_up, bare, signals):
        print(burst_row(b))
    print(
        f"{'':40} signal latencies are acks; the workflow had all {signals.ok} signals"
        f" after {processed:.2f} s ({signals.ok / processed if processed else 0:.0f}/s)"
    )

    print(f"\n{'Joint Buy ÷ bare update':40} {'throughput':>10} {'p50 latency':>12}")
    for b in (demand, sign_up):
        tp = b.throughput / bare.throughput if bare.throughput else float("nan")
        p50 = b.pct_ms(50) / bare.pct_ms(50) if bare.latencies else float("nan")
        print(f"{'  ' + b.label.removeprefix('(a) Joint Buy: '):40} {tp:>9.2f}× {p50:>11.2f}×")

    print(f"\n{PERSISTENCE_HEADER}")
    for phase in rounds[0].phases:
        got = sum((r.phases[phase][0] for r in rounds), Persisted())
        print(persistence_row(phase, got, sum(r.phases[phase][1] for r in rounds)))
    closes = ", ".join(f"{r.close_ms:.0f}" for r in rounds)
    runs = ", ".join(str(r.runs) for r in rounds)
    print(f"  the lead's close-demand request took {closes} ms; workflow runs per buy: {runs}")


async def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    print(
        f"Demand burst: {args.councils} councils, {args.concurrency} concurrent callers,"
        f" {args.repeat} round(s)",
        flush=True,
    )
    async with full_stack([BareUpdates, BareSignals]) as s:
        print(s.describe(), flush=True)
        lead, councils = await issue_keys(s, args.councils)
        print(
            f"setup: register imported, {len(councils) + 1} API keys issued"
            f" ({time.perf_counter() - began:.1f} s since start)",
            flush=True,
        )
        rounds: list[Round] = []
        for number in range(1, args.repeat + 1):
            demand, sign_up, close_ms, phases, runs = await joint_buy_round(
                s, lead, councils, args.concurrency
            )
            bare = await bare_update_round(s, args.councils, args.concurrency)
            signals, processed = await bare_signal_round(s, args.councils)
            rounds.append(Round(demand, sign_up, bare, signals, processed, close_ms, phases, runs))
            if args.repeat > 1:
                print_table(rounds[-1:], f"Round {number} of {args.repeat}")
        print_table(rounds, f"All {args.repeat} rounds pooled" if args.repeat > 1 else "Results")
    failures: Counter[str] = Counter()
    for r in rounds:
        for b in (r.demand, r.sign_up, r.bare, r.signals):
            failures += b.errors
    if failures:
        print("\nFAILED requests (left out of the figures above):")
        for what, count in failures.most_common(10):
            print(f"  {count} × {what}")
    print(f"\ntotal {time.perf_counter() - began:.1f} s", flush=True)
    return 1 if failures else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.demand_burst", description=__doc__.splitlines()[0])
    parser.add_argument("--councils", type=int, default=MAX_COUNCILS, help="councils in the burst (2-397)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent callers (HTTP clients)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (a), (b) and (c)")
    args = parser.parse_args(argv)
    if not 2 <= args.councils <= MAX_COUNCILS:
        parser.error(f"--councils must be between 2 and {MAX_COUNCILS}")
    if args.concurrency < 1 or args.repeat < 1:
        parser.error("--concurrency and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    code = asyncio.run(run(args))
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    # Run the module under its own name, so the workflow classes the worker registers are
    # `bench.demand_burst.*` (the sandbox re-imports them by that name), not `__main__.*`.
    from bench.demand_burst import main as _main

    _main()
