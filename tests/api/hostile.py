"""What the hostile-input sweeps share: one request as a table row, sending it with a deadline, and
the problem+json answer every refusal must be."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

PROBLEM = "application/problem+json"
ANSWER_WITHIN = 5.0  # seconds; every refusal takes milliseconds
UNKNOWN = "/v1/joint-buys/jb-000000000000"
NUL_ID = "/v1/joint-buys/jb-%00"
NOTHING = object()
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Req:
    """One hostile request. `path` may hold `{buy}` (the target buy's URL); `who` names a token (each
    sweep's `headers_for`); `body` is sent as JSON unless it is bytes; `buy` names the shared buy the
    request aims at (`fresh-<stage>` for a buy of its own; None for the sweep's default)."""

    method: str
    path: str
    body: Any = NOTHING
    who: str = "lead"
    status: int = 422
    says: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    buy: str | None = None


def case(name: str, req: Req) -> Any:
    return pytest.param(req, id=name)


async def send(http: httpx.AsyncClient, req: Req, headers: dict[str, str], buy_url: str) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers | req.headers}
    if isinstance(req.body, bytes):
        kwargs["content"] = req.body
    elif req.body is not NOTHING:
        kwargs["json"] = req.body
    try:
        async with asyncio.timeout(ANSWER_WITHIN):
            return await http.request(req.method, req.path.replace("{buy}", buy_url), **kwargs)
    except TimeoutError:
        raise AssertionError(f"no answer within {ANSWER_WITHIN} s") from None


def assert_problem(r: httpx.Response, status: int, says: str = "") -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code} {r.headers.get('content-type')}: {r.text[:500]}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status, body
    assert all(isinstance(body[k], str) and body[k] for k in ("type", "title", "detail")), body
    assert says.lower() in (body["detail"] + str(body.get("errors", ""))).lower(), body
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer", r.headers
    return body
