"""The authorization matrix: every endpoint × every kind of caller, each cell the exact status.

One buy in negotiation round 1 (two councils signed up, two suppliers qualified, one excluded).
The callers: the admin; the buy's lead and a lead of another buy; a council in the buy and one
outside it; a supplier in it, one outside it and an excluded one; an operator; no token; a
revoked token. A cell is the status that caller gets: a refusal (401, 403) or what an allowed
caller gets at this stage (a command the stage does not take is a 409, a read is a 200). Commands
an allowed caller makes are chosen so the buy stays in round 1 (the one bid keeps the round open)
until the last row, where the lead cancels it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import REGISTER, Api, Buy, buy_body, supplier_profile

S_IN, S_OTHER, S_EXCLUDED, S_OUT, S_SPARE = "51000001", "51000002", "51000003", "51000009", "51000008"
C_IN, C_IN2, C_OUT = "E06000040", "E06000041", "E06000042"
DEMAND = {
    C_IN: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "951.37"}],
    C_IN2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "947.13"}],
}
CALLERS = (
    "admin",
    "other_lead",
    "council_in",
    "council_out",
    "supplier_in",
    "supplier_out",
    "supplier_excluded",
    "operator",
    "none",
    "revoked",
    "lead",  # last: its cancel ends the buy
)
SIGNED_IN = [c for c in CALLERS if c not in ("none", "revoked")]


@dataclass
class World:
    api: Api
    buy: Buy
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
async def world(api: Api) -> World:
    buy = await api.negotiating_buy(
        "LEAD-MATRIX",
        DEMAND,
        {S_IN: "active", S_OTHER: "active", S_EXCLUDED: "liquidation"},
        negotiation={"rounds": 2, "round_window": "P1D"},
    )
    revoked = await api.http.post(
        "/v1/api-keys",
        json={"role": "lead", "organisation_id": "LEAD-MATRIX", "name": "revoked"},
        headers=api.admin,
    )
    assert revoked.status_code == 201, revoked.text
    gone = await api.http.delete(f"/v1/api-keys/{revoked.json()['key_id']}", headers=api.admin)
    assert gone.status_code == 204, gone.text
    headers = {
        "admin": api.admin,
        "lead": buy.lead,
        "other_lead": await api.token("lead", "LEAD-MATRIX-OTHER"),
        "council_in": buy.councils[C_IN],
        "council_out": await api.token("council", C_OUT),
        "supplier_in": buy.suppliers[S_IN],
        "supplier_out": await api.supplier(S_OUT),
        "supplier_excluded": buy.suppliers[S_EXCLUDED],
        "operator": await api.token("operator", "ops-matrix"),
        "none": {},
        "revoked": {"Authorization": f"Bearer {revoked.json()['token']}"},
    }
    return World(api, buy, headers)


def cells(allowed: dict[str, int], *, others: int = 403) -> dict[str, int]:
    """Every caller's status: `allowed` as given, other signed-in callers `others`, and 401 for
    no token or a revoked one."""
    out = dict.fromkeys(SIGNED_IN, others) | {"none": 401, "revoked": 401}
    return out | allowed


def everyone(status: int, **exceptions: int) -> dict[str, int]:
    return cells(dict.fromkeys(SIGNED_IN, status) | exceptions)


def public(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


ADMIN, READERS = ("admin",), ("admin", "lead", "operator")
SUPPLIERS = ("supplier_in", "supplier_out", "supplier_excluded")
BID = {"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": "913.37"}]}
CSV = b"\n".join(REGISTER.read_bytes().splitlines()[:3]) + b"\n"


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # `{buy}` is the buy's URL
    expected: dict[str, int]
    body: Any = None
    content: bytes | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROWS = [
    Row("GET", "/healthz", public()),
    Row("GET", "/readyz", public()),
    Row("GET", "/metrics", public()),
    Row(
        "POST",
        "/v1/api-keys",
        cells({"admin": 201}),
        body={"role": "operator", "organisation_id": "ops-matrix-2", "name": "matrix"},
    ),
    Row("DELETE", "/v1/api-keys/key_0000000000000000", cells({"admin": 404})),
    Row("POST", "/v1/councils/import", cells({"admin": 200}), content=CSV),
    Row("GET", "/v1/councils?nation=Wales", everyone(200)),
    Row("POST", "/v1/joint-buys", cells({"lead": 201, "other_lead": 201}), body=buy_body()),
    Row("GET", "/v1/joint-buys", everyone(200)),
    Row("GET", "{buy}", everyone(200, other_lead=403)),
    Row("GET", "{buy}/events", everyone(200, other_lead=403)),
    Row("POST", "{buy}/close-stage", cells({"lead": 409}), body={"stage": "demand"}),
    Row(
        "PUT",
        "{buy}/demand",
        cells({"council_in": 409, "council_out": 409}),
        body={"lines": [{"lot_id": "laptops", "quantity": 10, "baseline_unit_price": "900"}]},
    ),
    Row("DELETE", "{buy}/demand", cells({"council_in": 409, "council_out": 409})),
    Row(
        "POST",
        "{buy}/sign-up",
        cells({"council_in": 409, "council_out": 409}),
        body={"lines": [{"lot_id": "laptops", "quantity": 10}]},
    ),
    Row(
        "PUT",
        f"/v1/registry/companies/{S_SPARE}",
        cells({"admin": 200}),
        body={"name": "Spare Ltd", "status": "active"},
    ),
    Row(
        "GET",
        f"/v1/registry/companies/{S_IN}",
        cells({"admin": 200, "lead": 200, "other_lead": 200, "operator": 200}),
    ),
    Row(
        "PUT",
        f"/v1/registry/debarments/{S_SPARE}",
        cells({"admin": 200}),
        body={"ground": "fraud", "mandatory": True},
    ),
    Row(
        "GET",
        f"/v1/registry/debarments/{S_SPARE}",
        cells({"admin": 200, "lead": 200, "other_lead": 200, "operator": 200}),
    ),
    Row("DELETE", f"/v1/registry/debarments/{S_SPARE}", cells({"admin": 204})),
    Row(
        "PUT",
        f"/v1/suppliers/{S_IN}/profile",
        cells({"admin": 200, "supplier_in": 200}),
        body=supplier_profile(S_IN),
    ),
    Row(
        "GET",
        f"/v1/suppliers/{S_IN}/profile",
        cells({"admin": 200, "lead": 200, "other_lead": 200, "operator": 200, "supplier_in": 200}),
    ),
    Row(
        "POST",
        "{buy}/suppliers",
        cells({"supplier_in": 409, "supplier_out": 409, "supplier_excluded": 409}),
    ),
    Row(
        "GET",
        "{buy}/assurance",
        cells(dict.fromkeys((*READERS, "supplier_in", "supplier_out", "supplier_excluded"), 200)),
    ),
    Row(
        "POST",
        f"{{buy}}/exclusions/{S_EXCLUDED}",
        cells({"lead": 409}),
        body={"exclude": True, "reason": "matrix"},
    ),
    Row(
        "POST",
        "{buy}/bids",
        cells({"supplier_in": 201, "supplier_out": 403, "supplier_excluded": 403}),
        body=BID,
    ),
    Row(
        "GET",
        "{buy}/bids/mine",
        cells({"supplier_in": 200, "supplier_out": 200, "supplier_excluded": 200}),
    ),
    Row(
        "PUT",
        "{buy}/scores",
        cells({"lead": 409}),
        body={"supplier": S_IN, "lot_id": "laptops", "quality": 50, "social_value": 50},
    ),
    Row(
        "POST",
        "{buy}/challenges",
        cells({"supplier_in": 409, "supplier_out": 409, "supplier_excluded": 409}),
        body={"grounds": "matrix"},
    ),
    Row(
        "POST",
        "{buy}/challenges/ch-1/decision",
        cells({"lead": 404}),  # no such challenge
        body={"outcome": "dismissed", "note": "matrix"},
    ),
    Row(
        "GET",
        "{buy}/challenges",
        cells(dict.fromkeys((*READERS, "supplier_in", "supplier_out", "supplier_excluded"), 200)),
    ),
    Row("GET", "{buy}/award", everyone(409, other_lead=403)),
    Row("GET", "{buy}/contracts", everyone(200, other_lead=403)),
    Row("GET", "{buy}/ocds", public()),
    Row(
        "POST",
        "/v1/webhooks",
        everyone(201, other_lead=403),
        body={"url": "https://matrix.example/hook", "event_types": ["stage.changed"], "buy_id": "{buy_id}"},
    ),
    Row("GET", "/v1/webhooks", everyone(200)),
    Row("DELETE", "/v1/webhooks/wh_0000000000000000", everyone(404)),
    Row(
        "POST",
        "{buy}/questions",
        cells({"supplier_in": 409, "supplier_out": 409, "supplier_excluded": 409}),  # past the deadline
        body={"question": "Is delivery included?"},
    ),
    Row(
        "GET",
        "{buy}/questions",
        cells(
            dict.fromkeys((*READERS, "council_in", "supplier_in", "supplier_out", "supplier_excluded"), 200)
        ),
    ),
    Row(
        "POST",
        "{buy}/questions/q-99/answer",
        cells({"lead": 404}),  # no such question
        body={"answer": "Yes.", "publish": "all"},
    ),
    Row(
        "POST",
        "{buy}/lots/monitors/cancel",
        cells({"lead": 409}),  # no council wanted monitors: already unsuccessful
        body={"reason_code": "expensesCut", "reason": "matrix"},
    ),
    Row("POST", "/v1/codec/decode", cells({"admin": 200, "operator": 200}), body={"payloads": []}),
    Row("POST", "/v1/codec/encode", cells({"admin": 200, "operator": 200}), body={"payloads": []}),
    Row("POST", "{buy}/cancel", cells({"lead": 200}), body={"reason": "matrix done"}),
]
# The event stream of a live buy stays open: its refusals are in the matrix, its 200 in the SSE tests.
STREAM_REFUSALS = {"none": 401, "revoked": 401, "other_lead": 403}


def _fill(value: Any, buy: Buy) -> Any:
    if isinstance(value, str):
        return value.replace("{buy_id}", buy.id)
    if isinstance(value, dict):
        return {k: _fill(v, buy) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, buy) for v in value]
    return value


async def _send(world: World, row: Row, caller: str) -> int:
    path = row.path.replace("{buy}", world.buy.url)
    headers = dict(world.headers[caller])
    kwargs: dict[str, Any] = {}
    if row.content is not None:
        kwargs["content"] = row.content
        headers["Content-Type"] = "text/csv"
    elif row.body is not None:
        kwargs["json"] = _fill(row.body, world.buy)
    r = await world.api.http.request(row.method, path, headers=headers, **kwargs)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code


def _operations(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    document = api.http._transport.app.openapi()  # type: ignore[attr-defined]
    return {(m.upper(), path): op for path, ops in document["paths"].items() for m, op in ops.items()}


def _route_of(row: Row, routes: Any) -> tuple[str, str] | None:
    """The OpenAPI operation a row's concrete path calls."""
    concrete = row.path.split("?")[0].replace("{buy}", "/v1/joint-buys/{buy_id}").split("/")
    for method, route in routes:
        parts = route.split("/")
        if (
            method == row.method
            and len(parts) == len(concrete)
            and all(p == c or p.startswith("{") for p, c in zip(parts, concrete, strict=True))
        ):
            return method, route
    return None


def test_the_matrix_covers_every_route(api: Api) -> None:
    """Every operation of the API's OpenAPI document has a row (the stream its refusals): a new
    route needs its cells."""
    routes = set(_operations(api))
    assert len(routes) > 40, routes  # the document lists the API
    covered = {_route_of(row, routes) for row in ROWS}
    missing = routes - covered - {("GET", "/v1/joint-buys/{buy_id}/events/stream")}
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_every_caller_gets_exactly_its_status(world: World, row: Row) -> None:
    got = {caller: await _send(world, row, caller) for caller in CALLERS}
    assert got == row.expected, {c: (got[c], row.expected[c]) for c in CALLERS if got[c] != row.expected[c]}
    # What `make fuzz` found before every route declared its answers: a status the OpenAPI document
    # does not list. Every status any caller gets here must be declared by the route.
    operations = _operations(world.api)
    route = _route_of(row, operations)
    assert route is not None, row.path
    declared = {int(code) for code in operations[route]["responses"] if code.isdigit()}
    undeclared = {c: s for c, s in got.items() if s not in declared}
    assert not undeclared, f"{route}: statuses not in /openapi.json {sorted(declared)}: {undeclared}"


async def test_the_event_stream_refuses_as_the_log_does(world: World) -> None:
    for caller, status in STREAM_REFUSALS.items():
        r = await world.api.http.get(f"{world.buy.url}/events/stream", headers=world.headers[caller])
        assert r.status_code == status, (caller, r.text)


def test_the_fuzz_runner_loads() -> None:
    """`make fuzz` (tests/fuzz/run.py) is not collected by pytest: at least it imports."""
    import tests.fuzz.run as fuzz

    assert fuzz.CHECKS.startswith("not_a_server_error")
