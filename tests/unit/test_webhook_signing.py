"""Deliveries are signed per Standard Webhooks, and the README's receiver example, run as written,
accepts a signed delivery once, refuses a tampered one, and ignores a repeat."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from api.webhooks import new_secret, signed_request

README = Path(__file__).resolve().parents[2] / "README.md"
EVENT = {"seq": 7, "at": datetime(2027, 1, 4, 9, 0, tzinfo=UTC), "type": "stage.changed", "actor": "system",
         "data": {"from": "demand", "to": "sign_up"}}  # fmt: skip


def readme_receiver() -> str:
    text = README.read_text()
    start = text.index("A receiver verifies it with the `standardwebhooks` package:")
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match is not None
    return match.group(1)


async def test_the_readme_receiver_verifies_a_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    secret = new_secret()
    code = readme_receiver()
    assert len(code.strip().splitlines()) <= 16
    namespace: dict[str, Any] = {}
    exec(compile(code.replace('"whsec_…"', repr(secret)), "README.md", "exec"), namespace)
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver.test") as client:
        await _exercise(client, secret, capsys)


async def _exercise(client: httpx.AsyncClient, secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    body, headers = signed_request(secret, buy_id="jb-1", event=EVENT, now=datetime.now(UTC))
    assert Webhook(secret).verify(body, headers)["data"]["seq"] == 7
    assert (await client.post("/jointbuy", content=body, headers=headers)).status_code == 200
    assert (await client.post("/jointbuy", content=body, headers=headers)).status_code == 200  # a repeat
    assert capsys.readouterr().out == "stage.changed 7\n", "handled once"
    tampered = body.replace(b"sign_up", b"awarded")
    assert (await client.post("/jointbuy", content=tampered, headers=headers)).status_code == 400
    _, forged = signed_request(new_secret(), buy_id="jb-1", event=EVENT, now=datetime.now(UTC))
    assert (await client.post("/jointbuy", content=body, headers=forged)).status_code == 400
