"""Shared test infrastructure: a real PostgreSQL and real Temporal servers, started once a session."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.migrate import migrate_dsn
from db.pool import create_pool
from jointbuy.pg import EmbeddedPostgres
from tests.support import CONVERTER, register_search_attributes, search_attribute_keys

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database per test session: on DATABASE_URL's server when set, else embedded."""
    server_url = os.environ.get("DATABASE_URL")
    embedded = None
    if not server_url:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
        server_url = embedded.start()
    name = f"jointbuy_test_{uuid.uuid4().hex[:10]}"
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(server_url, name)
    _run(migrate_dsn(url))
    yield url
    _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if embedded is not None:
        embedded.stop()


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[Any]:
    p = await create_pool(database_url, max_size=20)
    yield p
    await p.close()


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server: a 14-day window passes in well under a second."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=CONVERTER,
        test_server_existing_path=temporal_test_server_path(),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (the same binary `jointbuy dev` runs)."""
    env = await WorkflowEnvironment.start_local(
        data_converter=CONVERTER,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=search_attribute_keys(),
    )
    yield env
    await env.shutdown()


def temporal_test_server_path() -> str:
    return _binary("temporal-test-server")


def _binary(name: str) -> str:
    venv_bin = Path(os.sys.executable).parent / name
    found = shutil.which(name) or (str(venv_bin) if venv_bin.exists() else None)
    if not found:
        pytest.fail(f"{name} not found: install the project with `make test` (pyproject test extra)")
    return found


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def dev_client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client
