"""`jointbuy keys` and `jointbuy councils import` against a real database: an operator issues, lists and
revokes keys without the HTTP API, under the same rules the API applies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from api.auth import hash_token
from core.settings import get_settings
from db.keys import find_active_key
from db.pool import create_pool
from jointbuy.cli import app


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _active(database_url: str, token: str) -> bool:
    async def lookup() -> bool:
        pool = await create_pool(database_url, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await find_active_key(conn, token_hash=hash_token(token)) is not None
        finally:
            await pool.close()

    return asyncio.run(lookup())


def test_issue_list_and_revoke_a_key(cli: CliRunner, database_url: str) -> None:
    made = cli.invoke(
        app, ["keys", "create", "--role", "lead", "--organisation", "NEPO", "--name", "NEPO buyers"]
    )
    assert made.exit_code == 0, made.output
    key_line, token_line = made.output.splitlines()
    key_id, token = key_line.split()[1], token_line.split()[1]
    assert key_id.startswith("key_") and token.startswith("jb_")
    assert _active(database_url, token)

    listed = cli.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and key_id in listed.output and "NEPO buyers" in listed.output
    assert token not in listed.output, "a token is shown once, when it is issued"

    revoked = cli.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0 and f"revoked {key_id}" in revoked.output
    assert not _active(database_url, token)
    assert key_id not in cli.invoke(app, ["keys", "list"]).output
    assert "revoked" in cli.invoke(app, ["keys", "list", "--revoked"]).output
    again = cli.invoke(app, ["keys", "revoke", "key_0000000000000000"])
    assert again.exit_code == 2 and "no API key" in again.output


def test_keys_follow_the_api_rules(cli: CliRunner) -> None:
    unknown_council = cli.invoke(
        app, ["keys", "create", "--role", "council", "--organisation", "E06999999", "--name", "nobody"]
    )
    assert unknown_council.exit_code == 2 and "not a current council" in unknown_council.output
    bad_company = cli.invoke(
        app, ["keys", "create", "--role", "supplier", "--organisation", "ACME", "--name", "Acme"]
    )
    assert bad_company.exit_code == 2 and "Companies House number" in bad_company.output
    bad_role = cli.invoke(app, ["keys", "create", "--role", "king", "--organisation", "X", "--name", "x"])
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output

    imported = cli.invoke(app, ["councils", "import"])
    assert imported.exit_code == 0 and "read 397 councils" in imported.output  # the bundled register
    council = cli.invoke(
        app, ["keys", "create", "--role", "council", "--organisation", "E06000001", "--name", "Hartlepool"]
    )
    assert council.exit_code == 0, council.output
