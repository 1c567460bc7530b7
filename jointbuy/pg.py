"""PostgreSQL for the embedded stack: `DATABASE_URL` when set, else a pgserver under the data dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _private_runtime_dir(data_dir: Path) -> None:
    # pgserver asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR is unset
    # (typical in containers and CI); give it a private one beside the data.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = data_dir.parent / f".runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


class EmbeddedPostgres:
    """A real PostgreSQL server from the pgserver package, its data kept under `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _private_runtime_dir(self.data_dir)
        import pgserver

        # cleanup_mode="stop": the server stops when we let it go; its data stays on disk.
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            self.data_dir, cleanup_mode="stop"
        )
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
