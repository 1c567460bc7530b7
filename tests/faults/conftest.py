"""Fault tests: real processes, killed and restarted on purpose.

Each test gets its own PostgreSQL server (the pgserver package's binaries, `initdb` + `pg_ctl`, on a
free port, its data in the test's tmp dir), so stopping it disturbs nobody else; the session's
Temporal dev server; workers as `python worker.py` processes; and the API either in this process
(over ASGI, its own pool on that PostgreSQL) or as a `jointbuy api` process that can be killed too.
Run with `make test-faults` (not part of `make test`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from db.migrate import migrate_dsn
from db.pool import _init_connection, create_pool
from tests.e2e.conftest import REGISTER, WorkerLauncher
from tests.support import PAYLOAD_KEYS

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "faults-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pg_bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


@dataclass
class OwnPostgres:
    """A PostgreSQL server this test alone uses, which it may stop and start again. As root (CI
    containers), it runs as the unprivileged user the pgserver package uses for the same reason."""

    data: Path
    port: int = field(default_factory=free_port)
    user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/jointbuy"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, user=self.user)

    def init(self) -> None:
        if os.geteuid() == 0:
            import pwd
            import stat

            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self.user = "pgserver"
            entry = ensure_user_exists(self.user)
            assert entry is not None
            self.data.mkdir(parents=True)
            ensure_prefix_permissions(self.data)
            bin_dir = Path(_pg_bin("initdb")).parent
            ensure_prefix_permissions(bin_dir)
            read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(bin_dir, read | execute)
            ensure_folder_permissions(bin_dir.parent / "lib", read)
            os.chown(self.data, pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "jointbuy")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash (no checkpoint, clients cut off); `fast` a clean shutdown."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self.data), "status"], stdout=subprocess.DEVNULL, user=self.user
        )
        return status.returncode == 0


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    # Not under pytest's tmp dir: that is private to the user running the tests.
    home = Path(tempfile.mkdtemp(prefix="jointbuy-faults-pg-"))
    home.chmod(0o755)
    pg = OwnPostgres(home / "data")
    pg.init()
    asyncio.run(migrate_dsn(pg.url))
    try:
        yield pg
    finally:
        if pg.running():
            pg.stop("fast")
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class ApiProcess:
    """`jointbuy api` as its own process, on a fixed port so a restart answers at the same URL."""

    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within: float = 90) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        with (self.logs / f"api-{self.starts}.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jointbuy.cli", "api", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"api exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"api not ready within {ready_within} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class FaultStack:
    http: httpx.AsyncClient
    admin: dict[str, str]
    settings: Settings
    workers: WorkerLauncher
    pg: OwnPostgres
    pool: Any
    env: WorkflowEnvironment

    async def token(self, role: str, organisation_id: str) -> dict[str, str]:
        r = await self.http.post(
            "/v1/api-keys",
            json={"role": role, "organisation_id": organisation_id, "name": f"{role} faults"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


def process_env(settings: Settings, dev_env: WorkflowEnvironment) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTBUY_")}
    env |= {
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": settings.task_queue,
        "JOINTBUY_ADMIN_TOKEN": ADMIN_TOKEN,
        "JOINTBUY_PAYLOAD_KEYS": PAYLOAD_KEYS,  # the processes encrypt as the test clients do
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def fault_settings(own_pg: OwnPostgres) -> Settings:
    return Settings(
        database_url=own_pg.url,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        jointbuy_admin_token=ADMIN_TOKEN,
        messages_per_run=60,  # small, so a lifecycle crosses continue-as-new too
    )


@pytest.fixture
def fault_workers(
    dev_env: WorkflowEnvironment, fault_settings: Settings, tmp_path: Path
) -> Iterator[WorkerLauncher]:
    launcher = WorkerLauncher(env=process_env(fault_settings, dev_env), logs=tmp_path)
    try:
        yield launcher
    finally:
        launcher.kill_all()


async def import_register(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    r = await http.post(
        "/v1/councils/import", content=REGISTER.read_bytes(), headers=admin | {"Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text


@pytest.fixture
async def fault_stack(
    dev_env: WorkflowEnvironment,
    own_pg: OwnPostgres,
    fault_settings: Settings,
    fault_workers: WorkerLauncher,
) -> AsyncIterator[FaultStack]:
    pool = await create_pool(own_pg.url, max_size=10)
    app = create_app(fault_settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.faults") as http:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            await import_register(http, admin)
            yield FaultStack(
                http=http,
                admin=admin,
                settings=fault_settings,
                workers=fault_workers,
                pg=own_pg,
                pool=pool,
                env=dev_env,
            )
    finally:
        if not own_pg.running():
            own_pg.start()
        pool.terminate()


async def fetch_all(url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        await _init_connection(conn)  # JSON columns as Python values, as the app reads them
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
