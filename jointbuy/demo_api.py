"""The demo's HTTP client and console: every step goes through the public API, and any answer
other than the expected status stops the demo with the problem body."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console

console = Console()
if not console.is_terminal and "COLUMNS" not in os.environ:
    console.width = 200  # piped to a file or CI log: wide enough for the contract table


class DemoError(Exception):
    pass


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)

    def call(self, method: str, path: str, token: str, expect: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        if r.status_code != expect:
            raise DemoError(f"{method} {path} answered {r.status_code}: {r.text}")
        return r.json() if r.content else None

    def wait(self, path: str, token: str, done: Callable[[Any], bool], seconds: float = 60) -> Any:
        """GET `path` until `done(body)`; raise if it never is (a stuck demo must fail loudly)."""
        deadline = time.monotonic() + seconds
        while True:
            body = self.call("GET", path, token)
            if done(body):
                return body
            if time.monotonic() > deadline:
                raise DemoError(f"GET {path} did not reach the expected state within {seconds:.0f} s")
            time.sleep(0.2)


def money(amount: object) -> str:
    """£1,234.50 from a decimal string."""
    return f"£{Decimal(str(amount)):,.2f}"
