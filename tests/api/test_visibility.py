"""The audit log is deny by default: who bids stays confidential while the competition is live.

Round 1 of a buy with three qualified suppliers: a bidder never reads another's company number;
a council or supplier outside the buy reads only what the buy publishes anyway."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from procurement import visibility
from procurement.visibility import BuyScope, UnknownEventType, check_recordable, shown
from tests.api.conftest import Api, Buy

ROOT = Path(__file__).resolve().parents[2]
S1, S2, S3, OUTSIDE_SUPPLIER = "30000001", "30000002", "30000003", "30000009"
E1, E2, OUTSIDE_COUNCIL = "E06000030", "E06000031", "E06000032"
DEMAND = {
    E1: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "951.37"}],
    E2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "947.13"}],
}


def emitted_types() -> dict[str, str]:
    """Every event type the workflow code records: the literal first argument of each `emit` or
    `_emit` call (type -> where). An `emit` whose type is not a literal fails the scan."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "workflows").glob("**/*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr not in ("emit", "_emit") or not node.args:
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                f"{where}: an event's type must be a literal, so its visibility can be checked"
            )
            found.setdefault(first.value, where)
    return found


def test_every_event_type_the_workflow_records_declares_who_may_see_it() -> None:
    found = emitted_types()
    assert len(found) >= 20, found  # the scan sees the workflow's events
    missing = {t: where for t, where in found.items() if t not in visibility.EVENTS}
    assert not missing, f"event types without an entry in procurement.visibility.EVENTS: {missing}"


def test_an_event_type_without_an_entry_cannot_be_recorded() -> None:
    with pytest.raises(UnknownEventType, match=r"bid\.leaked"):
        check_recordable("bid.leaked")
    check_recordable("bid.submitted")
    assert shown({"type": "bid.leaked", "data": {}}, None, BuyScope(lead="L", stage="awarded")) is None


def test_the_ocds_fold_reads_only_published_event_types() -> None:
    from api.ocds import SOURCE_EVENTS

    assert set(SOURCE_EVENTS) <= set(visibility.PUBLISHED_TYPES)


async def events(api: Api, buy: Buy, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.http.get(f"{buy.url}/events", headers=headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


@pytest.fixture(scope="module")
async def round_one(api: Api) -> Buy:
    return await api.negotiating_buy("LEAD-VISIBILITY", DEMAND, {S1: "active", S2: "active", S3: "active"})


async def test_a_bidder_never_reads_another_bidders_company_number(api: Api, round_one: Buy) -> None:
    buy = round_one
    lead_log = await events(api, buy, buy.lead)
    assert {"assurance.started", "assurance.completed", "round.opened"} <= {e["type"] for e in lead_log}
    assert all(s in str(lead_log) for s in (S1, S2, S3))
    for me, token in buy.suppliers.items():
        text = str(await events(api, buy, token))
        assert me in text
        others = [s for s in buy.suppliers if s != me]
        assert not [s for s in others if s in text], f"{me} reads {others} in the audit log"
        assert "951.37" not in text and "947.13" not in text


async def test_outside_the_buy_a_council_or_supplier_reads_only_what_is_published(
    api: Api, round_one: Buy
) -> None:
    buy = round_one
    outsiders = [
        await api.token("council", OUTSIDE_COUNCIL),
        await api.supplier(OUTSIDE_SUPPLIER),
    ]
    for token in outsiders:
        seen = await events(api, buy, token)
        assert {e["type"] for e in seen} <= {"buy.created", "stage.changed", "lot.unsuccessful"}, seen
        assert [e["type"] for e in seen][:1] == ["buy.created"]
        text = str(seen)
        assert not [s for s in (S1, S2, S3, E1, E2) if s in text], text
        assert "951.37" not in text and "947.13" not in text


async def test_a_council_in_the_buy_reads_its_own_demand_and_no_supplier(api: Api, round_one: Buy) -> None:
    buy = round_one
    seen = await events(api, buy, buy.councils[E1])
    text = str(seen)
    assert "951.37" in text  # its own baseline
    assert "947.13" not in text and E2 not in text
    assert not [s for s in (S1, S2, S3) if s in text], text
    opened = [e for e in seen if e["type"] == "round.opened"]
    assert opened and "qualified" not in opened[0]["data"]
