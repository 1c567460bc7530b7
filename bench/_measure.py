"""What a benchmark measures: bursts of concurrent requests (latencies, throughput, CPU) and what a
buy wrote while they ran (event rows, `record_events` batches from its workflow history)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from bench._stack import Stack
from messages.joint_buy import RECORD_EVENTS


@dataclass
class Burst:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    wall: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process (API, worker, callers) during the burst
    server_cpu: float = 0.0  # CPU seconds of the Temporal dev server during the burst
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
    def pooled(cls, bursts: list[Burst], label: str | None = None) -> Burst:
        out = cls(label or bursts[0].label)
        for b in bursts:
            out.latencies += b.latencies
            out.wall += b.wall
            out.cpu += b.cpu
            out.server_cpu += b.server_cpu
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
                result.errors[describe(err)] += 1
                return
            result.latencies.append(time.perf_counter() - start)

    start, cpu, server = time.perf_counter(), time.process_time(), server_cpu()
    await asyncio.gather(*(one(i) for i in range(n)))
    result.wall = time.perf_counter() - start
    result.cpu = time.process_time() - cpu
    result.server_cpu = server_cpu() - server
    return result


def server_cpu() -> float:
    """CPU seconds the Temporal dev server (a `temporal` child of this process) has used so far;
    0 where /proc does not tell."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:  # the process ended
            continue
        fields = rest.split()
        if head.endswith("(temporal") and int(fields[1]) == os.getpid():
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def describe(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:120]}"


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


def persistence_row(label: str, got: Persisted, wall: float) -> str:
    """One row under `PERSISTENCE_HEADER`: events, batches, ev/batch, events/s, activity ms, cycle ms."""
    nb = got.batches or float("nan")
    return (
        f"{'  ' + label:40} {got.events:>7} {got.batches:>7} {got.events / nb:>8.1f}"
        f" {got.events / wall if wall else 0:>8.0f}"
        f" {1000 * (got.queued + got.running) / nb:>11.1f} {1000 * wall / nb:>8.1f}"
    )


PERSISTENCE_HEADER = (
    f"{'Persistence: events rows vs record_events activities':40}"
    f" {'events':>7} {'batches':>7} {'ev/batch':>8} {'events/s':>8} {'activity ms':>11} {'cycle ms':>8}"
)


def burst_row(b: Burst) -> str:
    """One row under `BURST_HEADER`."""
    return (
        f"{b.label:40} {b.ok + b.failed:>8} {b.failed:>6} {b.wall:>7.2f} {b.throughput:>7.1f}"
        f" {b.pct_ms(50):>7.1f} {b.pct_ms(95):>7.1f} {b.pct_ms(99):>7.1f}"
        f" {100 * b.cpu / b.wall if b.wall else 0:>6.0f}"
    )


BURST_HEADER = (
    f"{'':40} {'requests':>8} {'failed':>6} {'wall s':>7} {'req/s':>7}"
    f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'CPU %':>6}"
)
