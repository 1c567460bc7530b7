"""PostgreSQL for the embedded stack: `DATABASE_URL` when set, else a pgserver under the data dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _quiet_runtime_dir() -> None:
    # pgserver's platformdirs warns when XDG_RUNTIME_DIR is unset (typical in containers and CI).
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")


class EmbeddedPostgres:
    """A real PostgreSQL server from the pgserver package, its data kept under `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        _quiet_runtime_dir()
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server keeps running only while we hold it; data stays on disk.
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
