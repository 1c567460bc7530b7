"""`make demo`: a realistic joint buy driven through the public HTTP API, as far as the lifecycle goes.

Fourteen real councils from four nations pool their demand for laptops and monitors; one amends,
one withdraws, the lead closes the demand window early, most councils sign up (some for less than
they first said), two drop out, and the lead closes sign-up. The summary shows, per lot, who is in
and what volume the suppliers will price against.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from jointbuy.devstack import DevStack, free_port, port_in_use, running_stack

console = Console()
LEAD_ORG = "NEPO"  # North East Procurement Organisation runs the competition

# (GSS code, laptops, monitors, baseline laptop price, baseline monitor price)
DEMAND: list[tuple[str, int, int, str, str]] = [
    ("E06000001", 120, 40, "949.00", "219.00"),  # Hartlepool
    ("E06000002", 200, 0, "979.99", "0"),  # Middlesbrough
    ("E06000003", 90, 30, "1010.00", "235.00"),  # Redcar and Cleveland
    ("E06000004", 150, 60, "965.00", "225.00"),  # Stockton-on-Tees
    ("E06000005", 80, 20, "999.00", "229.00"),  # Darlington
    ("E08000025", 1200, 400, "899.00", "199.00"),  # Birmingham
    ("E08000003", 800, 300, "915.00", "205.00"),  # Manchester
    ("E09000033", 450, 0, "1049.00", "0"),  # Westminster
    ("E10000003", 300, 120, "939.00", "215.00"),  # Cambridgeshire
    ("W06000015", 350, 100, "955.00", "219.00"),  # Cardiff
    ("W06000011", 180, 50, "989.00", "232.00"),  # Swansea
    ("S12000036", 500, 150, "925.00", "209.00"),  # City of Edinburgh
    ("S12000049", 650, 200, "909.00", "207.00"),  # Glasgow City
    ("N09000003", 260, 80, "969.00", "221.00"),  # Belfast
]
AMENDS = ("E06000004", 170, 60)  # Stockton-on-Tees raises its laptop estimate
WITHDRAWS = "E06000005"  # Darlington withdraws before the window closes
DROPS_OUT = ("W06000011", "N09000003")  # Swansea and Belfast do not confirm
SIGN_UP_SHARE = {"E08000025": 0.9, "E09000033": 0.8}  # these confirm less than they indicated

# (company number, name, Companies House status, certifications, debarment (ground, mandatory))
SUPPLIERS: list[tuple[str, str, str, list[str], tuple[str, bool] | None]] = [
    ("04567890", "Northern Devices Ltd", "active", ["cyber_essentials_plus", "iso_27001"], None),
    ("05678901", "Caledonian IT Supply Ltd", "active", ["cyber_essentials"], None),
    (
        "06789012",
        "Pennine Computing Ltd",
        "active",
        ["cyber_essentials"],
        ("past contract terminated for poor performance", False),
    ),
    ("07890123", "Severn Hardware Ltd", "active", ["cyber_essentials"], ("conviction for bribery", True)),
    ("08901234", "Thames Laptops Ltd", "liquidation", ["cyber_essentials"], None),
    ("09012345", "Mercia Office Tech Ltd", "active", [], None),
]
CLEARED = "06789012"  # the lead reviews the discretionary ground and keeps this supplier in


class DemoError(Exception):
    pass


def run_demo(data_dir: Path) -> int:
    started = time.monotonic()
    existing = running_stack(data_dir.resolve())
    if existing:
        console.print(f"using the dev stack already running at {existing['api']}")
        _drive(existing["api"], existing["admin_token"], existing["ui"])
    else:
        console.print("starting the dev stack (Temporal dev server, PostgreSQL, worker, API)…")
        defaults = (8000, 7233, 8233)
        ports = (
            defaults if not any(port_in_use(p) for p in defaults) else tuple(free_port() for _ in defaults)
        )
        stack = DevStack(
            data_dir=data_dir,
            api_port=ports[0],
            temporal_port=ports[1],
            ui_port=ports[2],
            database_url=os.environ.get("DATABASE_URL", ""),
            admin_token=os.environ.get("JOINTBUY_ADMIN_TOKEN", ""),
            quiet=True,
        )
        with stack:
            console.print(f"ready api={stack.api_url} ui={stack.ui_url}")
            _drive(stack.api_url, stack.admin_token, stack.ui_url)
    console.print(f"[green]demo finished in {time.monotonic() - started:.0f} s[/green]")
    return 0


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)

    def call(self, method: str, path: str, token: str, expect: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
        if r.status_code != expect:
            raise DemoError(f"{method} {path} answered {r.status_code}: {r.text}")
        return r.json() if r.content else None


def _drive(base: str, admin: str, ui: str) -> None:
    from jointbuy.cli import bundled_register

    api = Api(base)
    counts = _import(api, admin, bundled_register())
    console.print(f"council register: {counts['read']} current councils ({counts['inserted']} new)")
    names = {c["gss_code"]: c["nice_name"] for c in api.call("GET", "/v1/councils", admin)}

    def key(role: str, org: str) -> str:
        body = {"role": role, "organisation_id": org, "name": f"demo {role} {org}"}
        token: str = api.call("POST", "/v1/api-keys", admin, expect=201, json=body)["token"]
        return token

    lead = key("lead", LEAD_ORG)
    tokens = {gss: key("council", gss) for gss, *_ in DEMAND}

    buy = api.call("POST", "/v1/joint-buys", lead, expect=201, json=_terms())
    buy_id = buy["id"]
    console.print(f"joint buy [bold]{buy_id}[/bold] “{buy['title']}” is open for demand")

    _suppliers_register(api, admin, key, buy_id)

    for gss, laptops, monitors, p_laptop, p_monitor in DEMAND:
        lines = [{"lot_id": "laptops", "quantity": laptops, "baseline_unit_price": p_laptop}]
        if monitors:
            lines.append({"lot_id": "monitors", "quantity": monitors, "baseline_unit_price": p_monitor})
        api.call("PUT", f"/v1/joint-buys/{buy_id}/demand", tokens[gss], json={"lines": lines})
    gss, laptops, monitors = AMENDS
    amended = [
        {"lot_id": "laptops", "quantity": laptops, "baseline_unit_price": "965.00"},
        {"lot_id": "monitors", "quantity": monitors, "baseline_unit_price": "225.00"},
    ]
    api.call("PUT", f"/v1/joint-buys/{buy_id}/demand", tokens[gss], json={"lines": amended})
    api.call("DELETE", f"/v1/joint-buys/{buy_id}/demand", tokens[WITHDRAWS])
    console.print(
        f"{len(DEMAND)} councils registered demand; {names[gss]} amended, {names[WITHDRAWS]} withdrew"
    )

    after_demand = api.call("POST", f"/v1/joint-buys/{buy_id}/close-stage", lead, json={"stage": "demand"})
    console.print(f"lead closed the demand window early → stage {after_demand['stage']}")

    for gss, laptops, monitors, *_ in DEMAND:
        if gss in (WITHDRAWS, *DROPS_OUT):
            continue
        if gss == AMENDS[0]:
            laptops, monitors = AMENDS[1], AMENDS[2]
        share = SIGN_UP_SHARE.get(gss, 1.0)
        lines = [{"lot_id": "laptops", "quantity": int(laptops * share)}]
        if monitors:
            lines.append({"lot_id": "monitors", "quantity": int(monitors * share)})
        api.call(
            "POST",
            f"/v1/joint-buys/{buy_id}/sign-up",
            tokens[gss],
            expect=201,
            json={"lines": lines},
        )
    after_sign_up = api.call("POST", f"/v1/joint-buys/{buy_id}/close-stage", lead, json={"stage": "sign_up"})
    console.print(f"lead closed sign-up → stage {after_sign_up['stage']}")
    assurance = _wait(
        api, f"/v1/joint-buys/{buy_id}/assurance", lead, lambda b: not b["counts"].get("registered")
    )
    console.print(
        f"assurance checked {len(assurance['suppliers'])} suppliers in parallel: {assurance['counts']}"
    )
    api.call(
        "POST",
        f"/v1/joint-buys/{buy_id}/exclusions/{CLEARED}",
        lead,
        json={"exclude": False, "reason": "remedial plan and references accepted"},
    )
    final = _wait(api, f"/v1/joint-buys/{buy_id}", lead, lambda b: b["stage"] != "assurance")
    assurance = api.call("GET", f"/v1/joint-buys/{buy_id}/assurance", lead)
    events = api.call("GET", f"/v1/joint-buys/{buy_id}/events", lead)
    _summary(final, names, events, ui)
    _assurance_table(assurance)
    if final["stage"] != "negotiation":
        raise DemoError(f"expected the buy to move on to negotiation, it is {final['stage']}")


def _suppliers_register(api: Api, admin: str, key: Any, buy_id: str) -> None:
    """The admin mirrors Companies House and the debarment list; suppliers file evidence and
    register interest while demand is open."""
    for number, name, status, certs, debarment in SUPPLIERS:
        api.call("PUT", f"/v1/registry/companies/{number}", admin, json={"name": name, "status": status})
        if debarment:
            ground, mandatory = debarment
            api.call(
                "PUT",
                f"/v1/registry/debarments/{number}",
                admin,
                json={"ground": ground, "mandatory": mandatory},
            )
        token = key("supplier", number)
        profile = {
            "name": name,
            "annual_turnover_gbp": "48000000",
            "employers_liability_gbp": "10000000",
            "certifications": certs,
            "modern_slavery_statement": True,
            "carbon_reduction_plan": True,
        }
        api.call("PUT", f"/v1/suppliers/{number}/profile", token, json=profile)
        api.call("POST", f"/v1/joint-buys/{buy_id}/suppliers", token, expect=201)
    console.print(f"{len(SUPPLIERS)} suppliers registered interest with their evidence")


def _wait(api: Api, path: str, token: str, done: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        body = api.call("GET", path, token)
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def _assurance_table(assurance: dict[str, Any]) -> None:
    table = Table(title="Supplier assurance")
    for column in ("supplier", "company", "outcome", "why"):
        table.add_column(column)
    for s in assurance["suppliers"]:
        failed = [c["reason"] for c in s["checks"] if not c["passed"]]
        cleared = [
            c["reason"] for c in s["checks"] if c["check"] == "debarment" and "accepted" in c["reason"]
        ]
        why = "; ".join(failed) or ("; ".join(cleared) if cleared else "all 7 checks passed")
        table.add_row(s["name"], s["company_number"], s["status"], why)
    console.print(table)


def _import(api: Api, admin: str, path: Path) -> Any:
    r = api.http.post(
        "/v1/councils/import",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "text/csv"},
    )
    if r.status_code != 200:
        raise DemoError(f"council import answered {r.status_code}: {r.text}")
    return r.json()


def _terms() -> dict[str, Any]:
    return {
        "title": "Laptops and monitors for 2027",
        "description": "Business laptops and 27-inch monitors for council staff, 2027 refresh",
        "cpv_code": "30213100",
        "lots": [
            {"id": "laptops", "title": "14-inch business laptop", "unit": "device"},
            {"id": "monitors", "title": "27-inch USB-C monitor", "unit": "device"},
        ],
        "estimated_value_gbp": "5200000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 5, "min_total_quantity": {"laptops": 1000, "monitors": 300}},
        "requirements": {"certifications": ["cyber_essentials"]},
        "contract_years": 2,
    }


def _summary(buy: dict[str, Any], names: dict[str, str], events: list[Any], ui: str) -> None:
    table = Table(title=f"{buy['title']} — stage: {buy['stage']}")
    for column in ("lot", "councils in", "indicative quantity", "committed quantity"):
        table.add_column(column, justify="right" if column != "lot" else "left")
    for lot in buy["lots"]:
        agg = buy["aggregate"][lot["id"]]
        table.add_row(
            lot["title"],
            str(agg["signed_up_councils"]),
            f"{agg['indicative_quantity']:,}",
            f"{agg['committed_quantity']:,}",
        )
    console.print(table)
    by_status: dict[str, list[str]] = {}
    for c in buy["councils"]:
        by_status.setdefault(c["status"], []).append(names.get(c["council"], c["council"]))
    for status in ("signed_up", "dropped_out", "withdrawn"):
        console.print(f"{status.replace('_', ' ')}: {', '.join(sorted(by_status.get(status, []))) or '—'}")
    console.print(f"audit log: {len(events)} events ({events[0]['type']} … {events[-1]['type']})")
    console.print(f"Temporal UI: {ui}/namespaces/default/workflows/{buy['id']}")
