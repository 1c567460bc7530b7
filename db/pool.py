"""The asyncpg pool, with JSON columns decoded to Python values."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Any:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
