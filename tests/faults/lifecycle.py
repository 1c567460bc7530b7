"""One joint buy driven through its whole lifecycle over the HTTP API, as a patient client would:
every command carries an Idempotency-Key and is retried with the same key while the answer says
"retry" (5xx, 409 still in progress, 429) or never comes. A `disturb` hook runs at named points with
the command of that point in flight, so a test can kill something exactly there.

The same inputs always make the same buy: councils, suppliers, bids and marks are fixed, requests
within a step go one at a time, and rounds close early once every supplier has bid, so two runs can
be compared event for event.

The standstill is one working day (voluntary: the value is below the threshold), so it really runs:
its end is at least a day away, a durable timer in the workflow. A supplier that lost challenges
the award, which suspends it, and the lead decides. A challenge lodged on a working day is lodged on
the standstill's last day: it leaves 0 working days, so once the lead dismisses it the award
follows at once. On a Saturday, a Sunday or a bank holiday the standstill's day is still ahead
(a dismissal would leave it running for days), so the lead upholds the challenge and cancels the
buy instead; either way both runs of a test take the same path.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import REGISTER

SUPPLIERS = ["10000001", "10000002"]
RETRYABLE = {409, 429, 500, 502, 503, 504}
# The points of one lifecycle at which a disturbance can be made, in order.
POINTS = [
    "create",
    "demand",
    "supplier_interest",
    "demand_close",
    "sign_up",
    "sign_up_close",
    "assurance",
    "round_1",
    "round_1_close",
    "round_2",
    "evaluation",
    "evaluation_close",
    "standstill",
    "challenge_decision",
]
# The supplier whose tender did not win (it challenges the award) and the one that won.
CHALLENGER = SUPPLIERS[1]


def councils(n: int) -> list[str]:
    reader = csv.DictReader(io.StringIO(REGISTER.read_text(encoding="utf-8-sig")))
    current = sorted(row["gss-code"] for row in reader if row["current-authority"].strip().lower() == "true")
    return current[:n]


COUNCILS = councils(4)


def buy_body(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "cpv_code": "30213100",
        "lots": [{"id": "laptops", "title": "14-inch laptop", "unit": "device"}],
        "estimated_value_gbp": "150000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 50}},
        "negotiation": {"rounds": 2, "round_window": "PT2H", "min_decrement_pct": "0.5"},
        "award": {"standstill_working_days": 1},
        "requirements": {"certifications": ["cyber_essentials"]},
    }


def profile(number: str) -> dict[str, Any]:
    return {
        "name": f"Supplier {number} Ltd",
        "annual_turnover_gbp": "25000000",
        "employers_liability_gbp": "10000000",
        "certifications": ["cyber_essentials_plus"],
        "modern_slavery_statement": True,
        "carbon_reduction_plan": True,
    }


BIDS = {
    1: {
        SUPPLIERS[0]: [
            {"min_quantity": 1, "unit_price": "900.00"},
            {"min_quantity": 100, "unit_price": "860.00"},
        ],
        SUPPLIERS[1]: [{"min_quantity": 1, "unit_price": "880.00"}],
    },
    2: {
        SUPPLIERS[0]: [
            {"min_quantity": 1, "unit_price": "890.00"},
            {"min_quantity": 100, "unit_price": "840.00"},
        ],
        SUPPLIERS[1]: [{"min_quantity": 1, "unit_price": "870.00"}],
    },
}
MARKS = {SUPPLIERS[0]: (80, 60), SUPPLIERS[1]: (70, 55)}


def quantity(index: int) -> int:
    return 30 + 7 * index


Disturb = Callable[[str], Awaitable[None]]


async def undisturbed(_: str) -> None:
    return None


@dataclass
class Client:
    """A client that retries with the same Idempotency-Key until it gets a definite answer."""

    http: httpx.AsyncClient
    attempts: int = 0
    retried: dict[int, int] = field(default_factory=dict)
    patience: float = 300.0
    request_timeout: float | None = None

    async def send(
        self, method: str, url: str, *, key: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        headers = headers | {"Idempotency-Key": key}
        async with asyncio.timeout(self.patience):
            while True:
                self.attempts += 1
                try:
                    if self.request_timeout is None:
                        r = await self.http.request(method, url, headers=headers, **kw)
                    else:
                        async with asyncio.timeout(self.request_timeout):
                            r = await self.http.request(method, url, headers=headers, **kw)
                except (httpx.TransportError, TimeoutError):
                    self.retried[0] = self.retried.get(0, 0) + 1
                    await asyncio.sleep(0.5)
                    continue
                if r.status_code not in RETRYABLE or _definite_conflict(r):
                    return r
                self.retried[r.status_code] = self.retried.get(r.status_code, 0) + 1
                await asyncio.sleep(min(float(r.headers.get("retry-after", "1")), 2.0))

    async def get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        async with asyncio.timeout(self.patience):
            while True:
                try:
                    r = await self.http.get(url, headers=headers)
                except httpx.TransportError:
                    await asyncio.sleep(0.5)
                    continue
                if r.status_code < 500:
                    return r
                await asyncio.sleep(0.5)


def _definite_conflict(r: httpx.Response) -> bool:
    """A 409 that is a business answer (wrong stage, closed), not "in progress; retry"."""
    return r.status_code == 409 and "retry" not in r.json().get("detail", "")


@dataclass
class Parties:
    admin: dict[str, str]
    lead: dict[str, str]
    councils: dict[str, dict[str, str]]
    suppliers: dict[str, dict[str, str]]


async def parties(client: Client, admin: dict[str, str], lead_org: str) -> Parties:
    async def token(role: str, org: str) -> dict[str, str]:
        body = {"role": role, "organisation_id": org, "name": f"{role} {org}"}
        r = await client.send("POST", "/v1/api-keys", key=f"key-{role}-{org}", headers=admin, json=body)
        if r.status_code == 409 and r.json()["type"].endswith("/token-already-issued"):
            # The first answer, the only one that shows the token, was lost: revoke that key and
            # issue another, as the answer says.
            await client.send(
                "DELETE", f"/v1/api-keys/{r.json()['key_id']}", key=f"revoke-{org}", headers=admin
            )
            r = await client.send("POST", "/v1/api-keys", key=f"key-{role}-{org}-2", headers=admin, json=body)
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    lead = await token("lead", lead_org)
    council_tokens = {code: await token("council", code) for code in COUNCILS}
    supplier_tokens = {}
    for number in SUPPLIERS:
        r = await client.send(
            "PUT",
            f"/v1/registry/companies/{number}",
            key=f"company-{number}",
            headers=admin,
            json={"name": f"Supplier {number} Ltd", "status": "active"},
        )
        assert r.status_code == 200, r.text
        supplier_tokens[number] = await token("supplier", number)
        r = await client.send(
            "PUT",
            f"/v1/suppliers/{number}/profile",
            key=f"profile-{number}",
            headers=supplier_tokens[number],
            json=profile(number),
        )
        assert r.status_code == 200, r.text
    return Parties(admin=admin, lead=lead, councils=council_tokens, suppliers=supplier_tokens)


async def at(point: str, disturb: Disturb, command: Awaitable[httpx.Response]) -> httpx.Response:
    """Run `command` with the disturbance of `point` made while it is in flight."""
    task = asyncio.ensure_future(command)
    try:
        await asyncio.sleep(0.2)
        await disturb(point)
        return await task
    finally:
        task.cancel()


async def wait_for(
    client: Client, url: str, headers: dict[str, str], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(1200):
        r = await client.get(url, headers=headers)
        if r.status_code == 200 and done(r.json()):
            body: dict[str, Any] = r.json()
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never reached the condition")


async def run_lifecycle(client: Client, who: Parties, run: str, disturb: Disturb = undisturbed) -> str:
    """Drive one buy from creation to its contracts; returns its id."""

    def k(step: str) -> str:
        return f"{run}-{step}"

    r = await at(
        "create",
        disturb,
        client.send(
            "POST", "/v1/joint-buys", key=k("create"), headers=who.lead, json=buy_body("Laptops, faults")
        ),
    )
    assert r.status_code == 201, r.text
    buy = f"/v1/joint-buys/{r.json()['id']}"

    async def each(
        point: str, send: Callable[[int, str], Awaitable[httpx.Response]], items: list[str], ok: int
    ) -> None:
        # The disturbance lands while the second request of the step is in flight.
        for i, item in enumerate(items):
            command = send(i, item)
            r = await (at(point, disturb, command) if i == 1 else command)
            assert r.status_code == ok, f"{point} {item}: {r.status_code} {r.text}"

    await each(
        "demand",
        lambda i, code: client.send(
            "PUT",
            f"{buy}/demand",
            key=k(f"demand-{code}"),
            headers=who.councils[code],
            json={"lines": [{"lot_id": "laptops", "quantity": quantity(i), "baseline_unit_price": "949.00"}]},
        ),
        COUNCILS,
        200,
    )
    await each(
        "supplier_interest",
        lambda _, number: client.send(
            "POST", f"{buy}/suppliers", key=k(f"interest-{number}"), headers=who.suppliers[number]
        ),
        SUPPLIERS,
        201,
    )
    r = await at(
        "demand_close",
        disturb,
        client.send(
            "POST", f"{buy}/close-stage", key=k("close-demand"), headers=who.lead, json={"stage": "demand"}
        ),
    )
    assert r.status_code == 200 and r.json()["stage"] == "sign_up", r.text
    await each(
        "sign_up",
        lambda i, code: client.send(
            "POST",
            f"{buy}/sign-up",
            key=k(f"sign-up-{code}"),
            headers=who.councils[code],
            json={"lines": [{"lot_id": "laptops", "quantity": quantity(i)}]},
        ),
        COUNCILS,
        201,
    )
    r = await at(
        "sign_up_close",
        disturb,
        client.send(
            "POST", f"{buy}/close-stage", key=k("close-sign-up"), headers=who.lead, json={"stage": "sign_up"}
        ),
    )
    assert r.status_code == 200, r.text
    await disturb("assurance")
    await wait_for(
        client,
        buy,
        who.lead,
        lambda b: b["stage"] == "negotiation" and (b.get("round") or {}).get("number") == 1,
    )

    for number in (1, 2):
        await wait_for(
            client,
            buy,
            who.lead,
            lambda b, n=number: (b.get("round") or {}).get("number") == n and b["round"]["open"],
        )
        for i, supplier in enumerate(SUPPLIERS):
            command = client.send(
                "POST",
                f"{buy}/bids",
                key=k(f"bid-{number}-{supplier}"),
                headers=who.suppliers[supplier],
                json={"lot_id": "laptops", "tiers": BIDS[number][supplier]},
            )
            point = f"round_{number}" if i == 0 else ("round_1_close" if number == 1 else None)
            r = await (at(point, disturb, command) if point else command)
            assert r.status_code == 201, f"bid {number} {supplier}: {r.status_code} {r.text}"

    await wait_for(client, buy, who.lead, lambda b: b["stage"] == "evaluation")
    for i, supplier in enumerate(SUPPLIERS):
        quality, social = MARKS[supplier]
        command = client.send(
            "PUT",
            f"{buy}/scores",
            key=k(f"marks-{supplier}"),
            headers=who.lead,
            json={"supplier": supplier, "lot_id": "laptops", "quality": quality, "social_value": social},
        )
        point = "evaluation" if i == 0 else "evaluation_close"
        r = await at(point, disturb, command)
        assert r.status_code == 200, f"marks {supplier}: {r.status_code} {r.text}"

    # The worker dies while the standstill runs: its end is a day or more away.
    running = await wait_for(client, buy, who.lead, lambda b: b["stage"] == "standstill")
    assert datetime.fromisoformat(running["stage_deadline"]) > datetime.now(UTC), running
    await disturb("standstill")
    r = await client.send(
        "POST",
        f"{buy}/challenges",
        key=k("challenge"),
        headers=who.suppliers[CHALLENGER],
        json={"grounds": "our social value answers were marked against the wrong criteria"},
    )
    assert r.status_code == 201 and r.json()["stage"] == "suspended", r.text
    challenge, days_left = r.json()["challenge_id"], r.json()["working_days_left"]
    decision = (
        {"outcome": "dismissed", "note": "the marking followed the published criteria"}
        if days_left == 0
        else {"outcome": "upheld", "remedy": "cancel", "note": "the buy is cancelled to be run again"}
    )
    r = await at(
        "challenge_decision",
        disturb,
        client.send(
            "POST",
            f"{buy}/challenges/{challenge}/decision",
            key=k("decision"),
            headers=who.lead,
            json=decision,
        ),
    )
    assert r.status_code == 200, r.text
    ended = "awarded" if days_left == 0 else "cancelled"
    await wait_for(client, buy, who.lead, lambda b: b["stage"] == ended)
    return buy


_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+([+-]\d{2}:\d{2}|Z)?)?$")


def normalise(value: Any, buy_id: str) -> Any:
    """Drop what differs between two runs of the same inputs: instants and the buy's id."""
    if isinstance(value, dict):
        return {
            k: normalise(v, buy_id) for k, v in value.items() if not (isinstance(v, str) and _STAMP.match(v))
        }
    if isinstance(value, list):
        return [normalise(v, buy_id) for v in value]
    if isinstance(value, str):
        return value.replace(buy_id, "<buy>")
    return value


@dataclass
class Outcome:
    stage: str
    events: list[tuple[str, str, Any]]
    award: Any
    contracts: Any
    seqs_dense: bool


async def outcome(client: Client, who: Parties, buy: str, events_rows: list[Any]) -> Outcome:
    buy_id = buy.rsplit("/", 1)[1]
    stage = (await client.get(buy, headers=who.lead)).json()["stage"]
    award = (await client.get(f"{buy}/award", headers=who.lead)).json()
    contracts = (await client.get(f"{buy}/contracts", headers=who.lead)).json()
    seqs = [row["seq"] for row in events_rows]
    return Outcome(
        stage=stage,
        events=[(row["type"], row["actor"], normalise(row["data"], buy_id)) for row in events_rows],
        award=normalise(award, buy_id),
        contracts=normalise(contracts, buy_id),
        seqs_dense=seqs == list(range(1, len(seqs) + 1)),
    )
