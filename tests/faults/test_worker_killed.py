"""(a) The worker is SIGKILLed at every point of one buy's lifecycle and restarted each time.

Two buys with the same inputs: one undisturbed, one whose worker is killed (no shutdown, like a
node lost) while the command of each point is in flight, then a new worker started. The disturbed
buy ends exactly as the undisturbed one: the same award, the same contracts, the same event log
(no event missing, none twice, seqs dense), only later. Two of the points are in the standstill:
the worker is killed while it runs (its end a day away), then with the lead's decision on the
challenge that suspended it in flight (see `tests.faults.lifecycle`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.e2e.conftest import WorkerProcess
from tests.faults.conftest import FaultStack, fetch_all
from tests.faults.lifecycle import POINTS, Client, outcome, parties, run_lifecycle


def in_check_order(events: list[Any]) -> list[Any]:
    """The events, with each run of consecutive `assurance.checked` sorted by supplier."""
    out: list[Any] = []
    run: list[Any] = []
    for event in [*events, None]:
        if event is not None and event[0] == "assurance.checked":
            run.append(event)
            continue
        out += sorted(run, key=lambda e: e[2]["company_number"])
        run = []
        if event is not None:
            out.append(event)
    return out


EVENTS = "SELECT seq, type, actor, data FROM events WHERE buy_id = $1 ORDER BY seq"


async def test_worker_killed_at_every_point_changes_nothing_but_time(fault_stack: FaultStack) -> None:
    stack = fault_stack
    worker: list[WorkerProcess] = [await asyncio.to_thread(stack.workers.start)]
    client = Client(stack.http)
    who = await parties(client, stack.admin, "LEAD-FAULTS")

    started = time.perf_counter()
    calm = await run_lifecycle(client, who, "calm")
    calm_seconds = time.perf_counter() - started

    kills: list[str] = []

    async def kill_worker(point: str) -> None:
        assert worker[0].kill() == -9
        kills.append(point)
        worker[0] = await asyncio.to_thread(stack.workers.start)

    started = time.perf_counter()
    client.retried.clear()
    killed = await run_lifecycle(client, who, "killed", kill_worker)
    killed_seconds = time.perf_counter() - started
    print(
        f"\nundisturbed lifecycle {calm_seconds:.1f} s;"
        f" with {len(kills)} worker kills {killed_seconds:.1f} s;"
        f" client retries by status: {client.retried}"
    )
    assert kills == POINTS

    calm_out = await outcome(client, who, calm, await fetch_all(stack.pg.url, EVENTS, calm.rsplit("/", 1)[1]))
    killed_out = await outcome(
        client, who, killed, await fetch_all(stack.pg.url, EVENTS, killed.rsplit("/", 1)[1])
    )
    assert calm_out.seqs_dense and killed_out.seqs_dense
    assert [e[0] for e in killed_out.events] == [e[0] for e in calm_out.events]
    # Suppliers are checked concurrently: the checks of two suppliers finish in either order, in
    # any run. Everything else happens in the same order.
    assert in_check_order(killed_out.events) == in_check_order(calm_out.events)
    assert killed_out.award == calm_out.award
    assert killed_out.contracts == calm_out.contracts
    assert killed_out.stage == calm_out.stage
    # Awarded after a dismissed challenge (on a working day), else cancelled by an upheld one.
    challenged = [e for e in calm_out.events if e[0].startswith("challenge.")]
    assert [e[0] for e in challenged] == ["challenge.lodged", "challenge.decided"], challenged
    if calm_out.stage == "awarded":
        assert calm_out.contracts["totals"]["contracts"] == 4
        assert "standstill.resumed" in [e[0] for e in calm_out.events]
    else:
        assert calm_out.stage == "cancelled" and not calm_out.contracts["totals"]["contracts"]
    for w in stack.workers.started[:-1]:
        assert w.proc.returncode == -9
    assert worker[0].proc.poll() is None, worker[0].tail()
