"""Refuse NUL characters and oversized bodies at the edge, before they reach PostgreSQL or Temporal.

No JSON body the API takes comes near 1 MiB (a ladder of 20 tiers is a few kB); anything larger is
refused with 413 before it is read into a command, so it can never exceed Temporal's payload limits
and stall a buy. The council register import has its own, larger limit.

PostgreSQL text and jsonb cannot hold U+0000: a NUL in a path would turn a lookup into a server
error, and one in free text (a challenge's grounds, a note) would be accepted by the workflow and
then refused by the event log on every retry. Nothing a user means to send contains one, so any
request that carries one, raw or as a JSON `\\u0000` escape, gets a 400/422 problem and changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from api.problems import PROBLEM_JSON, Problem

Scope = dict[str, Any]
Receive = Any
Send = Any

# `\u0000` as a JSON escape: preceded by an even number of backslashes (an odd number would make
# the backslash before `u0000` itself escaped, i.e. the literal text "\u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def carries_nul(body: bytes) -> bool:
    return b"\x00" in body or _JSON_NUL.search(body) is not None


MAX_BODY = 1024 * 1024
MAX_BODY_BY_PATH = {"/v1/councils/import": 20 * 1024 * 1024}


class NulGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = scope.get("raw_path") or scope["path"].encode()
        if b"\x00" in unquote_to_bytes(target) or b"\x00" in unquote_to_bytes(scope["query_string"]):
            await _refuse(send, Problem(400, "the request's path or query contains a NUL character"))
            return
        limit = MAX_BODY_BY_PATH.get(scope["path"], MAX_BODY)
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _refuse(send, Problem(413, f"the body may be at most {limit} bytes"))
                return
        if carries_nul(body):
            where = _nul_field(body)
            errors = [{"field": where, "message": "may not contain NUL (U+0000)"}] if where else None
            await _refuse(send, Problem(422, "text may not contain NUL (U+0000) characters", errors=errors))
            return
        await self.app(scope, _replay(body, receive), send)


def _nul_field(body: bytes) -> str | None:
    """The dotted path of the first JSON string (or key) holding a NUL, when the body is JSON."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _find(document, [])


def _find(node: Any, path: list[str]) -> str | None:
    if isinstance(node, str):
        return ".".join(path) if "\x00" in node else None
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        if "\x00" in str(key):
            return ".".join([*path, str(key)])
        found = _find(child, [*path, str(key)])
        if found is not None:
            return found
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())

    return replay


async def _refuse(send: Send, problem: Problem) -> None:
    payload = json.dumps(problem.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
