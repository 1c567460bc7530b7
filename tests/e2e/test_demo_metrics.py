"""After the demo, on the dev stack it ran against, `GET /metrics` shows the request, stage and
webhook series, and the worker's port the Temporal SDK's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from jointbuy.devstack import free_port
from tests.e2e.test_dev_stack import _read_until

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_metrics_after_the_demo(tmp_path: Path, database_url: str) -> None:
    api_port, temporal_port, ui_port, worker_port = (free_port() for _ in range(4))
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTBUY_")}
    env |= {"DATABASE_URL": database_url, "TASK_QUEUE": "demo-metrics", "COLUMNS": "200"}
    cmd = [
        sys.executable, "-m", "jointbuy.cli", "dev",
        "--api-port", str(api_port), "--temporal-port", str(temporal_port), "--ui-port", str(ui_port),
        "--worker-metrics-port", str(worker_port), "--data-dir", str(data),
    ]  # fmt: skip
    dev = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        _read_until(dev, "ready ", 120)
        demo = subprocess.run(
            [sys.executable, "-m", "jointbuy.cli", "demo", "--data-dir", str(data)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert "using the dev stack already running" in demo.stdout
        metrics = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5).text
        series = {line.split(" ")[0] for line in metrics.splitlines() if line and not line.startswith("#")}
        assert 'jointbuy_buys{stage="awarded"}' in series
        assert any(
            s.startswith("jointbuy_http_requests_total{") and 'route="/v1/joint-buys/{buy_id}/bids"' in s
            for s in series
        )
        assert any(s.startswith("jointbuy_http_request_duration_seconds_bucket{") for s in series)
        assert {
            'jointbuy_webhook_deliveries_total{outcome="delivered"}',
            'jointbuy_webhook_attempts_total{result="error"}',
            "jointbuy_webhook_deliveries_pending",
        } <= series
        worker = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text
        assert 'task_queue="demo-metrics"' in worker
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
