"""The real stack a benchmark runs against, started in its own process and taken down afterwards.

The Temporal dev server (the venv's `temporal` binary, in memory, search attributes registered);
PostgreSQL: a scratch database on `DATABASE_URL`'s server (dropped afterwards), else an embedded
pgserver in a temporary folder (removed afterwards); the migrations; the Joint Buy worker and a
worker for the benchmark's bare baselines; the FastAPI app over `httpx.ASGITransport`. Also the
setup every benchmark shares: the council register and API keys, issued through the API.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import temporalio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.logs import configure_logging
from core.settings import Settings
from db.migrate import migrate_dsn
from db.pool import create_pool
from jointbuy.pg import EmbeddedPostgres
from worker import build_worker
from workflows.search import search_attribute_keys

JOINT_BUY_QUEUE = "bench-joint-buy"
BARE_QUEUE = "bench-bare"
LEAD = "CCS"
MAX_COUNCILS = 397  # current councils in the shipped register


class Refused(Exception):
    """A request that did not succeed (HTTP status >= 300)."""


@dataclass
class Stack:
    client: Client
    http: httpx.AsyncClient
    pool: Any  # the API's pool, also used by the benchmarks to count rows
    admin: dict[str, str]
    in_flight: int  # the API's cap on updates in flight per workflow
    postgres: str

    def describe(self) -> str:
        return (
            f"stack: Temporal dev server ({temporal_binary()}); PostgreSQL: {self.postgres};"
            f" worker and API (over ASGI) in this process; python {platform.python_version()},"
            f" temporalio {temporalio.__version__}, {os.cpu_count()} CPUs;"
            f" API cap {self.in_flight} updates in flight per workflow"
        )


def temporal_binary() -> str:
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
async def full_stack(bare_workflows: Sequence[type]) -> AsyncIterator[Stack]:
    """The whole stack; `bare_workflows` run on their own task queue (`BARE_QUEUE`)."""
    admin_token = "bench-" + secrets.token_urlsafe(16)
    async with AsyncExitStack() as stack:
        url, where = await stack.enter_async_context(scratch_database())
        keys = search_attribute_keys()
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=temporal_binary(),
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
            Worker(env.client, task_queue=BARE_QUEUE, workflows=list(bare_workflows))
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


# ---- answers and setup through the API -----------------------------------------------------------


def check(r: httpx.Response, *expected: int) -> dict[str, Any]:
    """The JSON body of an answer with one of the `expected` statuses; `Refused` otherwise."""
    if r.status_code not in expected:
        try:
            detail = r.json().get("title") or r.json().get("detail") or r.text
        except ValueError:
            detail = r.text
        raise Refused(f"HTTP {r.status_code} {r.request.method} {r.request.url.path}: {detail}")
    body: dict[str, Any] = r.json() if r.content else {}
    return body


def check_list(r: httpx.Response) -> list[Any]:
    if r.status_code != 200:
        raise Refused(f"HTTP {r.status_code} GET {r.request.url.path}: {r.text[:200]}")
    body: list[Any] = r.json()
    return body


async def api_key(s: Stack, role: str, organisation: str) -> dict[str, str]:
    body = check(
        await s.http.post(
            "/v1/api-keys",
            json={"role": role, "organisation_id": organisation, "name": "bench"},
            headers=s.admin,
        ),
        201,
    )
    return {"Authorization": f"Bearer {body['token']}"}


async def issue_keys(s: Stack, n: int) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """Import the register, pick n current councils (a fixed spread over the four nations) and
    issue each its own API key, plus one for the lead."""
    csv = resources.files("jointbuy").joinpath("data", "uk_local_authorities.csv").read_bytes()
    check(
        await s.http.post("/v1/councils/import", content=csv, headers=s.admin | {"Content-Type": "text/csv"}),
        200,
    )
    councils: list[Any] = check_list(await s.http.get("/v1/councils", headers=s.admin))
    if n > len(councils):
        raise SystemExit(f"{n} councils asked for: the register has only {len(councils)} current councils")
    codes = sorted(c["gss_code"] for c in councils)
    random.Random(2026).shuffle(codes)
    codes = codes[:n]

    gate = asyncio.Semaphore(20)

    async def key(role: str, organisation: str) -> dict[str, str]:
        async with gate:
            return await api_key(s, role, organisation)

    lead = await key("lead", LEAD)
    tokens = await asyncio.gather(*(key("council", code) for code in codes))
    return lead, list(zip(codes, tokens, strict=True))
