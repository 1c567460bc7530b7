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
import atexit
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from temporalio import workflow

# The bare workflows below live in this module, so the workflow sandbox re-imports it: everything
# that is not the standard library is passed through rather than re-imported per workflow run.
with workflow.unsafe.imports_passed_through():
    import asyncpg
    import httpx
    import temporalio
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle
    from temporalio.common import SearchAttributeKey
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from api.app import create_app
    from db.migrate import migrate_dsn
    from db.pool import create_pool
    from jointbuy.config import Settings
    from jointbuy.logs import configure_logging
    from jointbuy.pg import EmbeddedPostgres
    from procurement.models import DemandLine
    from worker import build_worker
    from workflows.joint_buy import SEARCH_ATTRIBUTES
    from workflows.messages import RECORD_EVENTS, RegisterDemand

JOINT_BUY_QUEUE = "bench-joint-buy"
BARE_QUEUE = "bench-bare"
SIGNALS_IN_FLIGHT = 50
LEAD = "CCS"
MAX_COUNCILS = 397  # current councils in the shipped register


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


# ---- measurement ---------------------------------------------------------------------------------


class Refused(Exception):
    """A request that did not succeed (HTTP status >= 300)."""


@dataclass
class Burst:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    wall: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process (API, worker, callers) during the burst
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def pct_ms(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
        return ordered[int(rank) - 1] * 1000

    @classmethod
    def pooled(cls, bursts: list[Burst]) -> Burst:
        out = cls(bursts[0].label)
        for b in bursts:
            out.latencies += b.latencies
            out.wall += b.wall
            out.cpu += b.cpu
            out.errors += b.errors
        return out


async def burst(label: str, n: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> Burst:
    """Run `call(0..n-1)` with at most `concurrency` callers at once. A request's latency runs from
    the moment its caller gets going (a free connection) to its answer, so it includes any wait for
    a per-workflow in-flight slot, as a real client sees it."""
    result = Burst(label)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            start = time.perf_counter()
            try:
                await call(i)
            except Exception as err:  # a benchmark counts failures instead of stopping on them
                result.errors[_describe(err)] += 1
                return
            result.latencies.append(time.perf_counter() - start)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    result.wall = time.perf_counter() - start
    result.cpu = time.process_time() - cpu
    return result


def _describe(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:120]}"


def _check(r: httpx.Response, *expected: int) -> dict[str, Any]:
    if r.status_code not in expected:
        try:
            detail = r.json().get("title") or r.json().get("detail") or r.text
        except ValueError:
            detail = r.text
        raise Refused(f"HTTP {r.status_code} {r.request.method} {r.request.url.path}: {detail}")
    body: dict[str, Any] = r.json() if r.content else {}
    return body


# ---- the stack -----------------------------------------------------------------------------------


@dataclass
class Stack:
    client: Client
    http: httpx.AsyncClient
    pool: Any  # the API's pool, also used here to count rows
    admin: dict[str, str]
    in_flight: int  # the API's cap on updates in flight per workflow
    postgres: str


def _temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` binary is missing: install the project (make bench does)")
    return found


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


async def _admin_sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_database() -> AsyncIterator[tuple[str, str]]:
    """A fresh, migrated database: on DATABASE_URL's server if set, else an embedded server."""
    server_url = os.environ.get("DATABASE_URL", "")
    embedded: EmbeddedPostgres | None = None
    tmp: str | None = None
    where = "DATABASE_URL's server"
    if not server_url:
        tmp = tempfile.mkdtemp(prefix="jointbuy-bench-")
        # pgserver's own exit hook (registered when it starts, so it runs before this one) takes a
        # lock under the runtime dir EmbeddedPostgres puts beside the data: remove the folder after.
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        embedded = EmbeddedPostgres(Path(tmp) / "pg")
        server_url = await asyncio.to_thread(embedded.start)
        where = "embedded pgserver"
    name = f"jointbuy_bench_{uuid.uuid4().hex[:10]}"
    try:
        await _admin_sql(server_url, f'CREATE DATABASE "{name}"')
        try:
            url = _with_database(server_url, name)
            await migrate_dsn(url)
            yield url, f"{where}, scratch database {name}"
        finally:
            await _admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def full_stack() -> AsyncIterator[Stack]:
    admin_token = "bench-" + secrets.token_urlsafe(16)
    async with AsyncExitStack() as stack:
        url, where = await stack.enter_async_context(scratch_database())
        keys = [
            SearchAttributeKey.for_keyword(name) if kind == "Keyword" else SearchAttributeKey.for_int(name)
            for name, kind in SEARCH_ATTRIBUTES.items()
        ]
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=_temporal_binary(),
            search_attributes=keys,
        )
        stack.push_async_callback(env.shutdown)
        settings = Settings(
            database_url=url,
            task_queue=JOINT_BUY_QUEUE,
            jointbuy_admin_token=admin_token,
            log_level="WARNING",
        )
        configure_logging(settings)
        # As in production, the API and the worker each have their own pool (sized as they are
        # when they open their own: 20 for the API, 10 for the worker).
        api_pool = await create_pool(url, max_size=20)
        stack.push_async_callback(api_pool.close)
        worker_pool = await create_pool(url)
        stack.push_async_callback(worker_pool.close)
        await stack.enter_async_context(build_worker(env.client, worker_pool, JOINT_BUY_QUEUE))
        await stack.enter_async_context(
            Worker(env.client, task_queue=BARE_QUEUE, workflows=[BareUpdates, BareSignals])
        )
        app = create_app(settings, pool=api_pool, client=env.client)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://jointbuy.bench",
                timeout=120,
            )
        )
        yield Stack(
            client=env.client,
            http=http,
            pool=api_pool,
            admin={"Authorization": f"Bearer {admin_token}"},
            in_flight=settings.max_updates_in_flight,
            postgres=where,
        )


# ---- setup through the API -----------------------------------------------------------------------


async def issue_keys(s: Stack, n: int) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """Import the register, pick n current councils (a fixed spread over the four nations) and
    issue each its own API key, plus one for the lead."""
    csv = resources.files("jointbuy").joinpath("data", "uk_local_authorities.csv").read_bytes()
    _check(
        await s.http.post("/v1/councils/import", content=csv, headers=s.admin | {"Content-Type": "text/csv"}),
        200,
    )
    r = await s.http.get("/v1/councils", headers=s.admin)
    councils: list[Any] = _check_list(r)
    if n > len(councils):
        raise SystemExit(f"--councils {n}: the register has only {len(councils)} current councils")
    codes = sorted(c["gss_code"] for c in councils)
    random.Random(2026).shuffle(codes)
    codes = codes[:n]

    gate = asyncio.Semaphore(20)

    async def key(role: str, organisation: str) -> dict[str, str]:
        async with gate:
            body = _check(
                await s.http.post(
                    "/v1/api-keys",
                    json={"role": role, "organisation_id": organisation, "name": "bench"},
                    headers=s.admin,
                ),
                201,
            )
        return {"Authorization": f"Bearer {body['token']}"}

    lead = await key("lead", LEAD)
    tokens = await asyncio.gather(*(key("council", code) for code in codes))
    return lead, list(zip(codes, tokens, strict=True))


def _check_list(r: httpx.Response) -> list[Any]:
    if r.status_code != 200:
        raise Refused(f"HTTP {r.status_code} GET {r.request.url.path}: {r.text[:200]}")
    body: list[Any] = r.json()
    return body


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


# ---- persistence figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Persisted:
    events: int = 0  # rows in the events table for the buy
    batches: int = 0  # record_events activities scheduled, across the run chain
    queued: float = 0.0  # seconds, summed over batches: scheduled -> started (worker picked it up)
    running: float = 0.0  # seconds, summed over batches: started -> completed (the PG transaction)
    runs: int = 0  # workflow runs in the chain (continue-as-new adds one)

    def __sub__(self, other: Persisted) -> Persisted:
        return Persisted(
            self.events - other.events,
            self.batches - other.batches,
            self.queued - other.queued,
            self.running - other.running,
            self.runs - other.runs,
        )

    def __add__(self, other: Persisted) -> Persisted:
        return Persisted(
            self.events + other.events,
            self.batches + other.batches,
            self.queued + other.queued,
            self.running + other.running,
            self.runs + other.runs,
        )


async def persisted(s: Stack, buy_id: str) -> Persisted:
    """What the buy has written so far: event rows in PostgreSQL, and the record_events activities
    in its workflow history (every run, walking back through continue-as-new)."""
    async with s.pool.acquire() as conn:
        events = await conn.fetchval("SELECT count(*) FROM events WHERE buy_id = $1", buy_id)
    batches = runs = 0
    queued = running = 0.0
    run_id: str | None = None  # None: the latest run
    while True:
        history = await s.client.get_workflow_handle(buy_id, run_id=run_id).fetch_history()
        runs += 1
        previous = ""
        scheduled_at: dict[int, int] = {}  # event id -> ns, for record_events only
        started_at: dict[int, int] = {}
        for event in history.events:
            at = event.event_time.ToNanoseconds()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                previous = event.workflow_execution_started_event_attributes.continued_execution_run_id
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                if event.activity_task_scheduled_event_attributes.activity_type.name == RECORD_EVENTS:
                    batches += 1
                    scheduled_at[event.event_id] = at
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                if attrs.scheduled_event_id in scheduled_at:
                    queued += (at - scheduled_at[attrs.scheduled_event_id]) / 1e9
                    started_at[attrs.scheduled_event_id] = at
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                done = event.activity_task_completed_event_attributes
                if done.scheduled_event_id in started_at:
                    running += (at - started_at[done.scheduled_event_id]) / 1e9
        if not previous:
            return Persisted(events, batches, queued, running, runs)
        run_id = previous


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
    buy = _check(await s.http.post("/v1/joint-buys", json=buy_terms(), headers=lead), 201)
    buy_id = buy["id"]
    path = f"/v1/joint-buys/{buy_id}"
    n = len(councils)
    before = await persisted(s, buy_id)

    async def register(i: int) -> None:
        code, token = councils[i]
        body = {"council": code, "lines": demand_lines(i)}
        _check(await s.http.put(f"{path}/demand", json=body, headers=token), 200)

    demand = await burst("(a) Joint Buy: register demand", n, concurrency, register)
    after_demand = await persisted(s, buy_id)

    start = time.perf_counter()
    _check(await s.http.post(f"{path}/close-stage", json={"stage": "demand"}, headers=lead), 200)
    close = time.perf_counter() - start
    after_close = await persisted(s, buy_id)

    async def sign_up(i: int) -> None:
        code, token = councils[i]
        body = {"council": code, "lines": sign_up_lines(i)}
        _check(await s.http.post(f"{path}/sign-up", json=body, headers=token), 201)

    signed = await burst("(a) Joint Buy: sign up", n, concurrency, sign_up)
    after_sign_up = await persisted(s, buy_id)
    _check(
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
    print(
        f"{'':40} {'requests':>8} {'failed':>6} {'wall s':>7} {'req/s':>7}"
        f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'CPU %':>6}"
    )
    for b in (demand, sign_up, bare, signals):
        print(
            f"{b.label:40} {b.ok + b.failed:>8} {b.failed:>6} {b.wall:>7.2f} {b.throughput:>7.1f}"
            f" {b.pct_ms(50):>7.1f} {b.pct_ms(95):>7.1f} {b.pct_ms(99):>7.1f}"
            f" {100 * b.cpu / b.wall if b.wall else 0:>6.0f}"
        )
    print(
        f"{'':40} signal latencies are acks; the workflow had all {signals.ok} signals"
        f" after {processed:.2f} s ({signals.ok / processed if processed else 0:.0f}/s)"
    )

    print(f"\n{'Joint Buy ÷ bare update':40} {'throughput':>10} {'p50 latency':>12}")
    for b in (demand, sign_up):
        tp = b.throughput / bare.throughput if bare.throughput else float("nan")
        p50 = b.pct_ms(50) / bare.pct_ms(50) if bare.latencies else float("nan")
        print(f"{'  ' + b.label.removeprefix('(a) Joint Buy: '):40} {tp:>9.2f}× {p50:>11.2f}×")

    print(
        f"\n{'Persistence: events rows vs record_events activities':40}"
        f" {'events':>7} {'batches':>7} {'ev/batch':>8} {'events/s':>8}"
        f" {'activity ms':>11} {'cycle ms':>8}"
    )
    for phase in rounds[0].phases:
        got = sum((r.phases[phase][0] for r in rounds), Persisted())
        wall = sum(r.phases[phase][1] for r in rounds)
        nb = got.batches or float("nan")
        print(
            f"{'  ' + phase:40} {got.events:>7} {got.batches:>7} {got.events / nb:>8.1f}"
            f" {got.events / wall if wall else 0:>8.0f}"
            f" {1000 * (got.queued + got.running) / nb:>11.1f} {1000 * wall / nb:>8.1f}"
        )
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
    async with full_stack() as s:
        print(
            f"stack: Temporal dev server ({_temporal_binary()}); PostgreSQL: {s.postgres};"
            f" worker and API (over ASGI) in this process; python {platform.python_version()},"
            f" temporalio {temporalio.__version__}, {os.cpu_count()} CPUs;"
            f" API cap {s.in_flight} updates in flight per workflow",
            flush=True,
        )
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
