"""Scale out: one council burst into two buys through two API processes and two worker processes,
against one Temporal server and one PostgreSQL.

Each API process keeps at most `MAX_UPDATES_IN_FLIGHT` updates in flight per buy, here 10: Temporal
allows 10 per workflow across every caller, so two processes at 10 each ask for twice what the
server takes and it refuses some with RESOURCE_EXHAUSTED. (At 8 each, since a command answers in
one workflow task, a burst of this size seldom has more than 10 at the server at once, and the
overload would go untested.) Those refusals are absorbed by backoff
and retry: first the Temporal client's own (the SDK retries RESOURCE_EXHAUSTED), then the gateway's.
Only when both run out does the client see a 429 problem with Retry-After, which this client
honours by sending the same request (same Idempotency-Key) again after that many seconds. Nothing
else may reach the client: no 5xx, no refusal.

Each buy's commands alternate between the two API processes, and a share of them is sent a second
time through the other process (a retry landing on another replica): that repeat is answered from
the first answer, not applied again. Afterwards the event log in PostgreSQL holds exactly one
`demand.registered` per council per buy, and the aggregate both processes answer is the burst's sum.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.conftest import _binary
from tests.e2e.conftest import WorkerLauncher
from tests.faults.conftest import (
    ADMIN_TOKEN,
    ApiProcess,
    OwnPostgres,
    fetch_all,
    free_port,
    import_register,
    process_env,
)
from tests.faults.lifecycle import buy_body, councils
from tests.support import search_attribute_keys

COUNCILS = 200
BUYS = 2
IN_FLIGHT = 60  # the client's concurrency: 30 per API process, well over its cap of 10 per buy
PER_PROCESS_CAP = 10  # MAX_UPDATES_IN_FLIGHT in each API process; Temporal takes 10 per workflow
REPEAT_EVERY = 4  # every fourth council's request is sent again through the other process


def quantity(index: int) -> int:
    return 5 + index


@dataclass
class MeteredTemporal:
    env: WorkflowEnvironment
    metrics_url: str

    async def refused_updates(self) -> float:
        """Updates the server refused as over its in-flight limit, from its Prometheus metrics."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.metrics_url)).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("service_errors_resource_exhausted")
            and 'operation="UpdateWorkflowExecution"' in line
        )


@pytest.fixture
async def metered_temporal() -> AsyncIterator[MeteredTemporal]:
    """A Temporal dev server of this test's own, its metrics on a known port."""
    port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=search_attribute_keys(),
        dev_server_extra_args=["--metrics-port", str(port)],
    )
    try:
        yield MeteredTemporal(env, f"http://127.0.0.1:{port}/metrics")
    finally:
        await env.shutdown()


async def test_two_apis_and_two_workers_take_a_burst_into_one_buy_each_command_once(
    metered_temporal: MeteredTemporal,
    own_pg: OwnPostgres,
    fault_settings: Settings,
    tmp_path: Path,
) -> None:
    dev_env = metered_temporal.env
    # One run holds the whole burst (the engine de-duplicates update ids per run).
    settings = fault_settings.model_copy(update={"messages_per_run": 1000})
    env = process_env(settings, dev_env) | {"MAX_UPDATES_IN_FLIGHT": str(PER_PROCESS_CAP)}
    launcher = WorkerLauncher(env=env, logs=tmp_path)
    try:
        await _run(metered_temporal, own_pg, settings, env, launcher, tmp_path)
    finally:
        launcher.kill_all()


async def _run(
    metered_temporal: MeteredTemporal,
    own_pg: OwnPostgres,
    settings: Settings,
    env: dict[str, str],
    launcher: WorkerLauncher,
    tmp_path: Path,
) -> None:
    dev_env = metered_temporal.env
    workers = [launcher.start() for _ in range(2)]
    apis = [ApiProcess(env=env, logs=tmp_path / name) for name in ("api-a", "api-b")]
    for api in apis:
        api.logs.mkdir()
    await asyncio.gather(*(asyncio.to_thread(api.start) for api in apis))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    codes = councils(COUNCILS)
    assert len(codes) == COUNCILS
    seen: Counter[str] = Counter()  # every status the client saw, retried ones included
    timeout = httpx.Timeout(120, connect=5)
    try:
        async with (
            httpx.AsyncClient(base_url=apis[0].url, timeout=timeout) as a,
            httpx.AsyncClient(base_url=apis[1].url, timeout=timeout) as b,
        ):
            https = [a, b]
            await import_register(a, admin)

            async def token(role: str, org: str) -> dict[str, str]:
                r = await a.post(
                    "/v1/api-keys", json={"role": role, "organisation_id": org, "name": org}, headers=admin
                )
                assert r.status_code == 201, r.text
                return {"Authorization": f"Bearer {r.json()['token']}"}

            lead = await token("lead", "LEAD-SCALE")
            buy_ids = []
            for n in range(BUYS):
                r = await https[n % 2].post("/v1/joint-buys", json=buy_body(f"Laptops {n}"), headers=lead)
                assert r.status_code == 201, r.text
                buy_ids.append(r.json()["id"])
            tokens = [await token("council", code) for code in codes]
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def send(http: httpx.AsyncClient, buy_id: str, i: int) -> httpx.Response:
                """PUT this council's demand until a definite answer, honouring Retry-After."""
                body = {
                    "lines": [{"lot_id": "laptops", "quantity": quantity(i), "baseline_unit_price": "900.00"}]
                }
                headers = tokens[i] | {"Idempotency-Key": f"scale-out-{buy_id}-{codes[i]}"}
                async with gate, asyncio.timeout(240):
                    while True:
                        sent = time.perf_counter()
                        try:
                            r = await http.put(f"/v1/joint-buys/{buy_id}/demand", json=body, headers=headers)
                        except httpx.TransportError as err:
                            waited = time.perf_counter() - sent
                            raise AssertionError(
                                f"{codes[i]} into {buy_id} via {http.base_url}: {err!r} after {waited:.0f} s"
                            ) from err
                        seen[str(r.status_code)] += 1
                        if r.status_code == 429:
                            assert r.headers.get("content-type") == "application/problem+json", r.text
                            await asyncio.sleep(float(r.headers["retry-after"]))
                            continue
                        return r

            started = time.perf_counter()
            # Councils in turn, each into every buy; each buy's commands alternate between the processes.
            burst = [(buy_id, i) for i in range(COUNCILS) for buy_id in buy_ids]
            firsts = await asyncio.gather(
                *(send(https[(n + n // BUYS) % 2], *cmd) for n, cmd in enumerate(burst))
            )
            elapsed = time.perf_counter() - started
            repeated = list(range(0, len(burst), REPEAT_EVERY))
            repeats = await asyncio.gather(
                *(send(https[(n + n // BUYS + 1) % 2], *burst[n]) for n in repeated)
            )

            problems = [
                (burst[n], r.status_code, r.text) for n, r in enumerate(firsts) if r.status_code != 200
            ]
            assert not problems, problems[:5]
            assert set(seen) <= {"200", "429"}, f"the client saw other answers than 200 and 429: {seen}"
            for n, r in zip(repeated, repeats, strict=True):
                assert r.status_code == 200, r.text
                assert r.headers.get("idempotent-replayed") == "true", r.headers
                assert r.json() == firsts[n].json()

            expected = {
                "councils": COUNCILS,
                "indicative_quantity": sum(quantity(i) for i in range(COUNCILS)),
            }
            for buy_id in buy_ids:
                for http in https:
                    r = await http.get(f"/v1/joint-buys/{buy_id}", headers=lead)
                    assert r.status_code == 200, r.text
                    aggregate = r.json()["aggregate"]["laptops"]
                    assert {k: aggregate[k] for k in expected} == expected, aggregate
    finally:
        for api in apis:
            api.kill()

    for buy_id in buy_ids:
        events = await fetch_all(own_pg.url, "SELECT type, data FROM events WHERE buy_id = $1", buy_id)
        registered = Counter(e["data"]["council"] for e in events if e["type"] == "demand.registered")
        assert registered == Counter(codes), f"registered other than once: {registered - Counter(codes)}"
        rows = await fetch_all(
            own_pg.url, "SELECT council, quantity FROM demand_lines WHERE buy_id = $1", buy_id
        )
        assert sorted((r["council"], r["quantity"]) for r in rows) == sorted(
            (c, quantity(i)) for i, c in enumerate(codes)
        )

    # Both workers served the task queue; which of them ran what is Temporal's choice (a buy's
    # workflow tasks stick to the worker that has it cached), so it is reported, not asserted.
    pollers = await dev_env.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    identities = {p.identity for p in pollers.pollers}
    assert len(identities) >= len(workers), f"not every worker polled the task queue: {identities}"
    ran: Counter[str] = Counter()
    for buy_id in buy_ids:
        async for event in dev_env.client.get_workflow_handle(buy_id).fetch_history_events():
            if event.HasField("workflow_task_started_event_attributes"):
                ran[event.workflow_task_started_event_attributes.identity] += 1
    # The server refused updates over its limit; the Temporal client retried them with backoff
    # (the SDK's own retry) and, past that, the gateway (an info line each).
    refused = await metered_temporal.refused_updates()
    gateway = sum(_lines(api.logs, "temporal busy; backing off") for api in apis)
    print(
        f"\n{len(burst)} commands ({COUNCILS} councils x {BUYS} buys) through 2 API processes"
        f" (cap {PER_PROCESS_CAP} each) and 2 workers in {elapsed:.1f} s; client saw {dict(seen)};"
        f" updates the server refused as over its limit {refused:.0f}, retried past the SDK's own"
        f" retry by the gateway {gateway};"
        f" workflow tasks per worker {dict(ran)}"
    )
    assert refused > 0, "the burst never went over Temporal's limit: the overload was not tested"


def _lines(logs: Path, *words: str) -> int:
    return sum(
        all(word in line for word in words)
        for path in logs.glob("api-*.log")
        for line in path.read_text(errors="replace").splitlines()
    )
