"""Apply numbered `.sql` migrations in order, each once, recorded in `schema_migrations`."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import asyncpg

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
# Two processes migrating at once (API and worker starting together) take turns.
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(7451001)"
SELECT_APPLIED = "SELECT version FROM schema_migrations"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

_NAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped in the package, in order."""
    found = []
    for entry in resources.files("db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: Any) -> list[str]:
    """Apply what is missing; returns the names applied (empty on a second run)."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute(LOCK_MIGRATIONS)
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        done = {row["version"] for row in await conn.fetch(SELECT_APPLIED)}
        for version, name, sql in available_migrations():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(INSERT_APPLIED, version, name)
            applied_now.append(name)
    return applied_now


async def migrate_dsn(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
