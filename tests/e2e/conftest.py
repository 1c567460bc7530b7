"""End-to-end fixtures: the worker as a separate OS process (`python worker.py`, as in production),
the API in this process over ASGI, both on the session's Temporal dev server and PostgreSQL.

Every worker process started here is killed at teardown, whatever the test did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.support import PAYLOAD_KEYS

REPO = Path(__file__).resolve().parents[2]
REGISTER = REPO / "jointbuy" / "data" / "uk_local_authorities.csv"
ADMIN_TOKEN = "e2e-admin-token"


@dataclass
class WorkerProcess:
    """One `python worker.py` process, its JSON log in a file."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"event": raw})
        return lines

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def wait_started(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(line.get("event") == "worker started" for line in self.log_lines()):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"worker did not start within {seconds} s:\n{self.tail()}")

    def kill(self) -> int:
        """SIGKILL: no shutdown, no goodbye to the server, like a node lost."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(timeout=10)


@dataclass
class WorkerLauncher:
    env: dict[str, str]
    logs: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self) -> WorkerProcess:
        log_path = self.logs / f"worker-{len(self.started) + 1}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(proc, log_path)
        self.started.append(worker)
        worker.wait_started()
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()


@dataclass
class Stack:
    http: httpx.AsyncClient
    admin: dict[str, str]
    settings: Settings
    workers: WorkerLauncher

    async def token(self, role: str, organisation_id: str) -> dict[str, str]:
        r = await self.http.post(
            "/v1/api-keys",
            json={"role": role, "organisation_id": organisation_id, "name": f"{role} e2e"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def e2e_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
        jointbuy_admin_token=ADMIN_TOKEN,
        # Small, so a burst crosses continue-as-new and the crash may land in a handover.
        messages_per_run=50,
    )


@pytest.fixture
def workers(dev_env: WorkflowEnvironment, e2e_settings: Settings, tmp_path: Path) -> Iterator[WorkerLauncher]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTBUY_")}
    env |= {
        "DATABASE_URL": e2e_settings.database_url,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": e2e_settings.task_queue,
        "JOINTBUY_PAYLOAD_KEYS": PAYLOAD_KEYS,  # the processes encrypt as the test clients do
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    launcher = WorkerLauncher(env=env, logs=tmp_path)
    try:
        yield launcher
    finally:
        launcher.kill_all()


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, pool: Any, e2e_settings: Settings, workers: WorkerLauncher
) -> AsyncIterator[Stack]:
    app = create_app(e2e_settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.e2e", timeout=None) as http:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        r = await http.post(
            "/v1/councils/import",
            content=REGISTER.read_bytes(),
            headers=admin | {"Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        yield Stack(http=http, admin=admin, settings=e2e_settings, workers=workers)
