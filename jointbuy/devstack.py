"""The whole stack on one machine with one command: Temporal dev server (with its Web UI and every
search attribute registered), PostgreSQL (DATABASE_URL or embedded), migrations, worker and API.

Every process started here is stopped again on exit, Ctrl-C or SIGTERM; data stays under the
data dir for next time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from core.codec import new_key
from db.migrate import migrate_dsn
from jointbuy.pg import EmbeddedPostgres
from workflows.search import SEARCH_ATTRIBUTES

STATE_FILE = "dev.json"


@dataclass
class DevStack:
    data_dir: Path
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    # The worker's Temporal SDK Prometheus metrics (0: not served).
    worker_metrics_port: int = 0
    database_url: str = ""
    admin_token: str = ""
    task_queue: str = "joint-buy"
    quiet: bool = False
    _procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _pg: EmbeddedPostgres | None = None
    payload_keys: str = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for port in (self.api_port, self.temporal_port, self.ui_port, self.worker_metrics_port):
            if port and port_in_use(port):
                raise SystemExit(f"port {port} is already in use: is a dev stack running already?")
        self.admin_token = self.admin_token or _stored_token(self.data_dir)
        self.payload_keys = _stored_payload_keys(self.data_dir)
        self._start_temporal()
        self._start_postgres()
        self._log("migrating", applied=_run_async(migrate_dsn(self.database_url)))
        env = self._child_env()
        worker_env = dict(env)
        if self.worker_metrics_port:
            worker_env["WORKER_METRICS_ADDRESS"] = f"127.0.0.1:{self.worker_metrics_port}"
        self._spawn("worker", [sys.executable, "-m", "worker"], worker_env)
        self._spawn(
            "api",
            [sys.executable, "-m", "jointbuy.cli", "api", "--port", str(self.api_port)],
            env,
        )
        self._wait_ready()
        (self.data_dir / STATE_FILE).write_text(
            json.dumps({"api": self.api_url, "ui": self.ui_url, "temporal": self.temporal_address})
        )

    def stop(self) -> None:
        for name, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._log(f"{name} did not stop in time; killing it")
                    proc.kill()
                    proc.wait()
        self._procs.clear()
        if self._pg is not None:
            self._pg.stop()
            self._pg = None
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)

    def __enter__(self) -> DevStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until a signal arrives or a child dies; then stop everything."""
        stopping = False

        def _stop(_signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not stopping:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    self._log(f"{name} exited with {proc.returncode}; stopping the stack")
                    return
            time.sleep(0.5)

    # ---- parts -----------------------------------------------------------------------------

    def _start_temporal(self) -> None:
        binary = _venv_binary("temporal")
        cmd = [
            binary, "server", "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(self.temporal_port),
            "--ui-port", str(self.ui_port),
            "--db-filename", str(self.data_dir / "temporal.db"),
            "--log-level", "warn",
            # The Web UI decodes payloads through the API's codec (`/v1/codec/decode`).
            "--ui-codec-endpoint", f"{self.api_url}/v1/codec",
        ]  # fmt: skip
        for name, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        self._spawn("temporal", cmd, dict(os.environ))
        _wait_for(lambda: port_in_use(self.temporal_port), 60, "Temporal dev server")
        _wait_for(lambda: port_in_use(self.ui_port), 30, "Temporal Web UI")

    def _start_postgres(self) -> None:
        if self.database_url:
            return
        self._pg = EmbeddedPostgres(self.data_dir / "postgres")
        self.database_url = self._pg.start()

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            TEMPORAL_ADDRESS=self.temporal_address,
            TASK_QUEUE=self.task_queue,
            JOINTBUY_ADMIN_TOKEN=self.admin_token,
            JOINTBUY_PAYLOAD_KEYS=self.payload_keys,
            TEMPORAL_UI_URL=self.ui_url,
            # This stack's Web UI may call the codec from a browser on this machine.
            CODEC_UI_ORIGINS=f"{self.ui_url},http://localhost:{self.ui_port}",
        )
        # Development: webhook receivers may be plain http on this machine.
        env.setdefault("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._procs.append((name, proc))
        self._log(f"started {name}", pid=proc.pid, log=str(self.data_dir / f"{name}.log"))

    def _wait_ready(self) -> None:
        def ready() -> bool:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited early; see {self.data_dir / (name + '.log')}")
            try:
                return httpx.get(f"{self.api_url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(ready, 90, "API readiness")

    def _log(self, message: str, **fields: object) -> None:
        if not self.quiet:
            extra = " ".join(f"{k}={v}" for k, v in fields.items())
            print(f"jointbuy dev: {message} {extra}".rstrip(), file=sys.stderr, flush=True)


def _stored_token(data_dir: Path) -> str:
    """The admin token: JOINTBUY_ADMIN_TOKEN when set, else one generated once and kept (0600)."""
    from_env = os.environ.get("JOINTBUY_ADMIN_TOKEN", "")
    if from_env:
        return from_env
    path = data_dir / "admin_token"
    if path.exists():
        return path.read_text().strip()
    token = "jb_admin_" + secrets.token_urlsafe(24)
    path.write_text(token)
    path.chmod(0o600)
    return token


def _stored_payload_keys(data_dir: Path) -> str:
    """The payload keys: JOINTBUY_PAYLOAD_KEYS when set, else one key generated once and kept (0600)
    in the data folder, so the history of earlier runs still decodes."""
    from_env = os.environ.get("JOINTBUY_PAYLOAD_KEYS", "")
    if from_env:
        return from_env
    path = data_dir / "payload_keys"
    if path.exists():
        return path.read_text().strip()
    keys = new_key()
    path.write_text(keys)
    path.chmod(0o600)
    return keys


def running_stack(data_dir: Path) -> dict[str, str] | None:
    """The dev stack already running from this data dir, if it answers."""
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    state: dict[str, str] = json.loads(path.read_text())
    try:
        if httpx.get(f"{state['api']}/readyz", timeout=2).status_code != 200:
            return None
    except httpx.HTTPError:
        return None
    state["admin_token"] = _stored_token(data_dir)
    return state


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _venv_binary(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"`{name}` not found: install the project (make dev) to get it")
    return found


def _wait_for(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise SystemExit(f"{what} did not come up within {seconds:.0f} s")


def _run_async(coro: object) -> object:
    import asyncio

    return asyncio.run(coro)  # type: ignore[arg-type]
