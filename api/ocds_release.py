"""One OCDS 1.1 release rendered from a buy's public facts as they stand after a publication point.

Aggregates per lot, the councils that committed, the winners with award and contract values; nothing
else reaches a release. Pure: a `Process` in, a plain dict out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api.ocds_facts import Award, Contract, Process

GBP = "GBP"
UK = ZoneInfo("Europe/London")


def release(
    p: Process, e: Mapping[str, Any], tags: list[str], *, names: Mapping[str, str], ocid: str
) -> dict[str, Any]:
    """The release for one publication point: a snapshot of `p` as it stands after event `e`."""
    out: dict[str, Any] = {
        "ocid": ocid,
        "id": f"{ocid}-{e['seq']}-{tags[0]}",
        "date": _iso(e["at"]),
        "tag": tags,
        "initiationType": "tender",
        "language": "en",
        "parties": _parties(p, names),
        "buyer": _ref(p.lead, names.get(p.lead, p.lead)),
        "tender": _tender(p, names),
    }
    if p.awards:
        out["awards"] = [_award(p, a) for a in p.awards.values()]
    if p.contracts:
        out["contracts"] = [_contract(p, c, names) for c in p.contracts]
    return out


def _parties(p: Process, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The lead, the councils once committed (each a buyer: its own budget pays its contract), and
    every supplier named in an award."""
    roles: dict[str, list[str]] = {p.lead: ["buyer", "procuringEntity"]}
    if p.committed:
        for council in sorted(p.signups):
            roles.setdefault(council, ["buyer"])
    parties = [_ref(org, names.get(org, org)) | {"roles": r} for org, r in roles.items()]
    for number in sorted({a.supplier for a in p.awards.values()}):
        name = p.supplier_names.get(number, number)
        parties.append(
            _supplier_ref(p, number)
            | {"identifier": {"scheme": "GB-COH", "id": number, "legalName": name}, "roles": ["supplier"]}
        )
    return parties


def _tender(p: Process, names: Mapping[str, str]) -> dict[str, Any]:
    terms = p.terms
    weights = terms.get("award", {})
    tender: dict[str, Any] = {
        "id": p.buy_id,
        "title": terms["title"],
        "description": terms.get("description") or terms["title"],
        "status": _tender_status(p),
        "procuringEntity": _ref(p.lead, names.get(p.lead, p.lead)),
        "items": [_item(p, lot, _aggregate(p, lot["id"])[1]) for lot in terms["lots"]],
        "lots": [_lot(p, lot) for lot in terms["lots"]],
        "value": _money(terms["estimated_value_gbp"]),
        "procurementMethod": "selective",
        "procurementMethodDetails": (
            "Joint buy: councils' demand is aggregated, interested suppliers are assured, and the qualified "
            f"ones bid in up to {terms.get('negotiation', {}).get('rounds', 3)} sealed rounds of unit-price "
            "ladders against the committed volume"
        ),
        "mainProcurementCategory": "goods",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": (
            f"Most advantageous tender: price {weights.get('price_weight', 60)} %, quality "
            f"{weights.get('quality_weight', 30)} %, social value {weights.get('social_value_weight', 10)} %"
        ),
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": _period(p.opened_at, p.interest_closes_at),
    }
    if p.evaluation_from is not None:
        notices = [a.notified_at for a in p.awards.values()]
        tender["awardPeriod"] = _period(p.evaluation_from, max(notices) if notices else None)
    return tender


def _aggregate(p: Process, lot: str) -> tuple[int, int]:
    """(councils, quantity) for a lot: committed once sign-up has closed, indicative before."""
    source = p.signups if p.committed else p.demand
    quantities = [lines[lot] for lines in source.values() if lot in lines]
    return len(quantities), sum(quantities)


def _item(p: Process, lot: Mapping[str, Any], quantity: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": lot["id"],
        "description": lot["title"],
        "quantity": quantity,
        "unit": {"name": lot.get("unit", "item")},
        "relatedLot": lot["id"],
    }
    if p.terms.get("cpv_code"):
        item["classification"] = {"scheme": "CPV", "id": p.terms["cpv_code"]}
    return item


def _lot(p: Process, lot: Mapping[str, Any]) -> dict[str, Any]:
    councils, quantity = _aggregate(p, lot["id"])
    kind = "committed by" if p.committed else "indicative demand of"
    description = f"{quantity} × {lot.get('unit', 'item')}: {kind} {councils} council{'s' * (councils != 1)}"
    if lot["id"] in p.unsuccessful_lots:
        description += f"; unsuccessful: {p.unsuccessful_lots[lot['id']]}"
    return {"id": lot["id"], "title": lot["title"], "description": description, "status": _lot_status(p, lot)}


def _tender_status(p: Process) -> str:
    return {"cancelled": "cancelled", "unsuccessful": "unsuccessful", "awarded": "complete"}.get(
        p.stage, "active"
    )


def _lot_status(p: Process, lot: Mapping[str, Any]) -> str:
    if lot["id"] in p.unsuccessful_lots:
        return "unsuccessful"
    if p.stage == "awarded":
        return "complete" if lot["id"] in p.current else "unsuccessful"
    return p.stage if p.stage in ("cancelled", "unsuccessful") else "active"


def _award(p: Process, a: Award) -> dict[str, Any]:
    lot = _lot_terms(p, a.lot)
    return {
        "id": a.id,
        "title": lot["title"],
        "status": a.status,
        "date": _iso(a.notified_at),
        "value": _money(a.value),
        "suppliers": [_supplier_ref(p, a.supplier)],
        "items": [_priced_item(p, lot, a.quantity, a.unit_price)],
        "relatedLots": [a.lot],
        "contractPeriod": _contract_period(p, a.contracts_from),
    }


def _contract(p: Process, c: Contract, names: Mapping[str, str]) -> dict[str, Any]:
    lot = _lot_terms(p, c.lot)
    council = names.get(c.council, c.council)
    return {
        "id": f"{c.lot}-{c.council}",
        "awardID": c.award_id,
        "title": f"{lot['title']} for {council}",
        "status": "active",
        "buyer": _ref(c.council, council),
        "value": _money(c.total),
        "items": [_priced_item(p, lot, c.quantity, c.unit_price)],
        "period": _contract_period(p, p.awards[c.award_id].contracts_from),
    }


def _priced_item(p: Process, lot: Mapping[str, Any], quantity: int, unit_price: Decimal) -> dict[str, Any]:
    item = _item(p, lot, quantity)
    item["unit"]["value"] = _money(unit_price)
    return item


def _lot_terms(p: Process, lot_id: str) -> Mapping[str, Any]:
    return next(lot for lot in p.terms["lots"] if lot["id"] == lot_id)


def _ref(org: str, name: str) -> dict[str, Any]:
    return {"id": org, "name": name}


def _supplier_ref(p: Process, number: str) -> dict[str, Any]:
    return {"id": f"GB-COH-{number}", "name": p.supplier_names.get(number, number)}


def _contract_period(p: Process, start: date) -> dict[str, Any]:
    """From the first day contracts may be made, for the buy's contract years (to the day before)."""
    years = int(p.terms.get("contract_years", 1))
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + years, day=28)
    return _period(_midnight(start), _midnight(anniversary) - timedelta(seconds=1))


def _period(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    period = {"startDate": start, "endDate": end}
    return {k: _iso(v) for k, v in period.items() if v is not None}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UK)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _money(value: Any) -> dict[str, Any]:
    """OCDS amounts are JSON numbers: whole pounds as integers, pence as decimals."""
    amount = Decimal(str(value))
    number: int | float = int(amount) if amount == amount.to_integral_value() else float(amount)
    return {"amount": number, "currency": GBP}
