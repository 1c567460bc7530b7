"""`make demo`: a realistic joint buy driven through the public HTTP API, from the first demand
line to the last contract.

Fourteen real councils from four nations pool their demand for docking stations and headsets; one
amends, one withdraws, the lead closes the demand window early, most councils sign up (some for
less than they first said), two drop out, and the lead closes sign-up. Six suppliers are assured
(three excluded, one cleared by the lead), the three qualified bid volume ladders in three sealed
rounds, the lead scores quality and social value, the award notice opens a 0-day standstill (the
buy is below the threshold) and every council gets its own contract with its saving.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table

from jointbuy import demo_award, demo_rounds
from jointbuy.demo_api import Api, DemoError, console, money
from jointbuy.demo_data import (
    AMENDS,
    CLARIFICATION,
    CLEARED,
    DEMAND,
    DROPS_OUT,
    LEAD_ORG,
    LIMITS,
    SIGN_UP_SHARE,
    SUPPLIERS,
    WITHDRAWS,
    terms,
)
from jointbuy.devstack import DevStack, free_port, port_in_use, running_stack
from procurement.standstill import standstill_threshold

__all__ = ["DemoError", "run_demo"]


def run_demo(data_dir: Path) -> int:
    """Drive the demo; 0 when it ends awarded with contracts that add up, 1 (and why) otherwise."""
    started = time.monotonic()
    try:
        _run(data_dir)
    except DemoError as err:
        console.print(f"[red]demo failed after {time.monotonic() - started:.0f} s: {err}[/red]")
        return 1
    console.print(f"[green]demo finished in {time.monotonic() - started:.0f} s[/green]")
    return 0


def _run(data_dir: Path) -> None:
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

    now = datetime.now(UTC)
    body = terms(now)
    buy = api.call("POST", "/v1/joint-buys", lead, expect=201, json=body)
    buy_id = buy["id"]
    console.print(f"joint buy [bold]{buy_id}[/bold] “{buy['title']}” is open for demand")
    estimate = Decimal(body["estimated_value_gbp"])
    console.print(
        f"estimated value {money(estimate)} incl. VAT (every indicative line at today's price + VAT) is "
        f"below the {money(standstill_threshold(now.date()))} threshold: the lead sets a voluntary "
        f"standstill of 0 working days"
    )

    supplier_tokens = _suppliers_register(api, admin, key, buy_id)
    names |= {number: name for number, name, *_ in SUPPLIERS}
    _demand(api, lead, buy_id, tokens, names)
    _clarify(api, lead, buy_id, supplier_tokens, tokens, names)
    _sign_up(api, lead, buy_id, tokens, names)
    qualified = _assurance(api, lead, buy_id, ui, names)

    bidders = {number: supplier_tokens[number] for number in qualified}
    ladders = demo_rounds.negotiate(api, lead, buy_id, bidders, names)
    award = demo_award.evaluate(api, lead, buy_id, names)
    demo_award.contracts(api, lead, buy_id, award, ladders)

    events = api.call("GET", f"/v1/joint-buys/{buy_id}/events", lead)
    console.print(f"audit log: {len(events)} events ({events[0]['type']} … {events[-1]['type']})")
    console.print(f"Temporal UI: {ui}/namespaces/default/workflows/{buy_id}")
    final = api.call("GET", f"/v1/joint-buys/{buy_id}", lead)
    console.print(f"joint buy {buy_id}: [bold]{final['stage']}[/bold]")


def _demand(api: Api, lead: str, buy_id: str, tokens: dict[str, str], names: dict[str, str]) -> None:
    """Indicative demand from every council; one amends, one withdraws; the lead closes early."""
    baselines: dict[str, dict[str, str]] = {}
    for gss, docks, headsets, p_docks, p_headsets in DEMAND:
        baselines[gss] = {"docks": p_docks, "headsets": p_headsets}
        _register(api, buy_id, tokens[gss], {"docks": docks, "headsets": headsets}, baselines[gss])
    gss, docks, headsets = AMENDS
    _register(api, buy_id, tokens[gss], {"docks": docks, "headsets": headsets}, baselines[gss])
    api.call("DELETE", f"/v1/joint-buys/{buy_id}/demand", tokens[WITHDRAWS])
    console.print(
        f"{len(DEMAND)} councils registered demand; {names[gss]} amended, {names[WITHDRAWS]} withdrew"
    )
    after = api.call("POST", f"/v1/joint-buys/{buy_id}/close-stage", lead, json={"stage": "demand"})
    console.print(f"lead closed the demand window early → stage {after['stage']}")


def _register(
    api: Api, buy_id: str, token: str, quantities: dict[str, int], baselines: dict[str, str]
) -> None:
    lines = [
        {"lot_id": lot, "quantity": qty, "baseline_unit_price": baselines[lot]}
        for lot, qty in quantities.items()
        if qty
    ]
    api.call("PUT", f"/v1/joint-buys/{buy_id}/demand", token, json={"lines": lines})


def _clarify(
    api: Api,
    lead: str,
    buy_id: str,
    suppliers: dict[str, str],
    councils: dict[str, str],
    names: dict[str, str],
) -> None:
    """A supplier asks a clarification question; the lead answers it to everyone in the buy."""
    supplier, lot, question, answer = CLARIFICATION
    asked = api.call(
        "POST",
        f"/v1/joint-buys/{buy_id}/questions",
        suppliers[supplier],
        expect=201,
        json={"question": question, "lot_id": lot},
    )
    api.call(
        "POST",
        f"/v1/joint-buys/{buy_id}/questions/{asked['question_id']}/answer",
        lead,
        json={"answer": answer, "publish": "all"},
    )
    # every supplier and council in the buy reads it, without learning who asked
    other = next(token for number, token in suppliers.items() if number != supplier)
    for reader in (other, councils[DEMAND[0][0]]):
        seen = api.call("GET", f"/v1/joint-buys/{buy_id}/questions", reader)["questions"]
        if [q["question_id"] for q in seen] != [asked["question_id"]] or "asked_by" in seen[0]:
            raise DemoError(f"the published clarification is not what the others see: {seen}")
    console.print(
        f"clarification {asked['question_id']} on {lot}, asked by {names[supplier]} (nobody else is told "
        f"who), [bold]published to all[/bold]: “{question}” → “{answer}”"
    )


def _sign_up(api: Api, lead: str, buy_id: str, tokens: dict[str, str], names: dict[str, str]) -> None:
    """Binding sign-up: most confirm, two confirm less, two never do (they drop out); one commits
    only up to a price."""
    for gss, docks, headsets, *_ in DEMAND:
        if gss in (WITHDRAWS, *DROPS_OUT):
            continue
        if gss == AMENDS[0]:
            docks, headsets = AMENDS[1], AMENDS[2]
        share = SIGN_UP_SHARE.get(gss, 1.0)
        limits = LIMITS.get(gss, {})
        lines = [
            {"lot_id": lot, "quantity": int(qty * share)}
            | ({"max_unit_price": limits[lot]} if lot in limits else {})
            for lot, qty in (("docks", docks), ("headsets", headsets))
            if qty
        ]
        api.call("POST", f"/v1/joint-buys/{buy_id}/sign-up", tokens[gss], expect=201, json={"lines": lines})
        for lot, limit in limits.items():
            console.print(
                f"{names[gss]} signs up for {lot} only up to {money(limit)} a unit (binding up to that "
                f"price; only it and, after negotiation, the lead see the limit)"
            )
    after = api.call("POST", f"/v1/joint-buys/{buy_id}/close-stage", lead, json={"stage": "sign_up"})
    console.print(f"lead closed sign-up → stage {after['stage']}")


def _assurance(api: Api, lead: str, buy_id: str, ui: str, names: dict[str, str]) -> list[str]:
    """Every supplier checked in parallel; the lead clears the flagged one; returns the qualified."""
    path = f"/v1/joint-buys/{buy_id}/assurance"
    assurance = api.wait(path, lead, lambda b: not b["counts"].get("registered"))
    console.print(
        f"assurance checked {len(assurance['suppliers'])} suppliers in parallel: {assurance['counts']}"
    )
    api.call(
        "POST",
        f"/v1/joint-buys/{buy_id}/exclusions/{CLEARED}",
        lead,
        json={"exclude": False, "reason": "remedial plan and references accepted"},
    )
    buy = api.wait(f"/v1/joint-buys/{buy_id}", lead, lambda b: b["stage"] != "assurance")
    if buy["stage"] != "negotiation":
        raise DemoError(f"expected the buy to move on to negotiation, it is {buy['stage']}")
    assurance = api.call("GET", path, lead)
    _summary(buy, names, ui)
    _assurance_table(assurance)
    return [s["company_number"] for s in assurance["suppliers"] if s["status"] == "qualified"]


def _suppliers_register(api: Api, admin: str, key: Any, buy_id: str) -> dict[str, str]:
    """The admin mirrors Companies House and the debarment list; suppliers file evidence and
    register interest while demand is open. Returns each supplier's token."""
    tokens: dict[str, str] = {}
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
        tokens[number] = token = key("supplier", number)
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
    return tokens


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


def _summary(buy: dict[str, Any], names: dict[str, str], ui: str) -> None:
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
    console.print(f"follow it in the Temporal UI: {ui}/namespaces/default/workflows/{buy['id']}")
