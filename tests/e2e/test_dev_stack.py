"""`jointbuy dev`: one command brings the stack up, one signal takes all of it down."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from jointbuy.devstack import free_port

pytestmark = pytest.mark.e2e


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _read_until(proc: subprocess.Popen[str], marker: str, seconds: float) -> list[str]:
    """Lines the process prints until one starts with `marker` (read by a thread: a select() on a
    buffered pipe would miss lines already read into the buffer)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.startswith(marker):
            return seen
    raise AssertionError(f"no {marker!r} line within {seconds} s; got {seen}")


def test_dev_starts_everything_and_stops_everything(tmp_path: Path, database_url: str) -> None:
    api_port, temporal_port, ui_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "JOINTBUY_ADMIN_TOKEN"}
    env["DATABASE_URL"] = database_url
    env["TASK_QUEUE"] = "dev-stack-test"
    cmd = [
        sys.executable, "-m", "jointbuy.cli", "dev",
        "--api-port", str(api_port), "--temporal-port", str(temporal_port),
        "--ui-port", str(ui_port), "--data-dir", str(tmp_path / "data"),
        "--worker-metrics-port", str(metrics_port),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = _read_until(proc, "ready ", 120)
        assert lines[-1] == (
            f"ready api=http://127.0.0.1:{api_port} temporal=127.0.0.1:{temporal_port} "
            f"ui=http://127.0.0.1:{ui_port}"
        )
        token = next(line for line in lines if line.startswith("admin token: ")).split()[2]
        assert (tmp_path / "data" / "admin_token").read_text() == token
        ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"postgresql": "ok", "temporal": "ok"}
        assert httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=5).status_code == 200
        keys = httpx.post(
            f"http://127.0.0.1:{api_port}/v1/api-keys",
            json={"role": "operator", "organisation_id": "ops", "name": "ops"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert keys.status_code == 201
        assert (
            "jointbuy_http_requests_total"
            in httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5).text
        )
        for _ in range(100):  # the worker's first polls make its series
            worker_metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            if 'task_queue="dev-stack-test"' in worker_metrics:
                break
            time.sleep(0.1)
        assert "temporal_" in worker_metrics and 'task_queue="dev-stack-test"' in worker_metrics
        started = _descendants(proc.pid)
        assert len(started) >= 3  # temporal, worker, api (and their helpers)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        time.sleep(0.5)
        assert [pid for pid in started if _alive(pid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
