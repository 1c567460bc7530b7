"""A joint buy as an Open Contracting Data Standard 1.1 release package, built from its event log.

One release per publication point the buy has reached (demand opens, demand closes, sign-up closes,
the award notice, an award withdrawn, the contracts, a cancellation or an unsuccessful end). Each
release is the public picture *as at* the event that made it, so a release once published never
changes and its id (ocid, event seq, first tag) is stable. While demand is open, one extra
`tenderUpdate` carries the indicative aggregate as at the latest change.

Only facts the public may see are published: aggregates per lot, the councils that committed, the
winners with award and contract values. Never a losing supplier, a sealed bid, a score, a council's
baseline price or budget, or a price from a winner's ladder other than the awarded one. Pure: plain
rows in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

OCDS_PREFIX = "ocds-jointbuy"
OCDS_VERSION = "1.1"
PUBLISHER = "Joint Buy"
# Lots (tender.lots, item.relatedLot, award.relatedLots) and a buyer per contract (each council's own).
EXTENSIONS = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_contract_buyer_extension/master/extension.json",
)
# The only event types the builder reads: the sealed ones (bids, scores, summaries) never reach it.
SOURCE_EVENTS = (
    "stage.changed",
    "demand.registered",
    "demand.withdrawn",
    "sign_up.confirmed",
    "lot.unsuccessful",
    "supplier.registered",
    "award.notice",
    "standstill.resumed",
    "challenge.decided",
    "contract.created",
)
GBP = "GBP"
UK = ZoneInfo("Europe/London")
# Suppliers register interest until sign-up closes; only those assured are invited to bid.
OPEN_FOR_INTEREST = frozenset({"draft", "demand", "sign_up"})
_DURATION = TypeAdapter(timedelta)


def ocid_for(buy_id: str, prefix: str = OCDS_PREFIX) -> str:
    return f"{prefix}-{buy_id}"


@dataclass
class Award:
    id: str
    lot: str
    supplier: str
    unit_price: Decimal
    quantity: int
    value: Decimal
    notified_at: datetime
    contracts_from: date
    status: str = "pending"


@dataclass
class Contract:
    council: str
    lot: str
    award_id: str
    quantity: int
    unit_price: Decimal
    total: Decimal


@dataclass
class Process:
    """What the public may know of one buy, folded event by event."""

    buy_id: str
    lead: str
    terms: Mapping[str, Any]
    stage: str = "draft"
    opened_at: datetime | None = None
    interest_closes_at: datetime | None = None
    evaluation_from: datetime | None = None
    demand: dict[str, dict[str, int]] = field(default_factory=dict)
    signups: dict[str, dict[str, int]] = field(default_factory=dict)
    committed: bool = False
    unsuccessful_lots: dict[str, str] = field(default_factory=dict)
    supplier_names: dict[str, str] = field(default_factory=dict)
    awards: dict[str, Award] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)  # lot -> id of its live award
    contracts: list[Contract] = field(default_factory=list)


def build_releases(
    *, buy: Mapping[str, Any], events: Iterable[Mapping[str, Any]], names: Mapping[str, str], ocid: str
) -> list[dict[str, Any]]:
    """Every release the buy has published so far, oldest first. `buy` has buy_id, lead and terms;
    `events` are log rows (seq, at, type, data) in seq order; `names` maps GSS codes to names."""
    p = Process(buy_id=buy["buy_id"], lead=buy["lead"], terms=buy["terms"])
    releases: list[dict[str, Any]] = []
    live_demand: Mapping[str, Any] | None = None
    for e in events:
        tags = apply(p, e)
        if tags:
            releases.append(release(p, e, tags, names=names, ocid=ocid))
            live_demand = None
        elif e["type"] in ("demand.registered", "demand.withdrawn") and p.stage == "demand":
            live_demand = e
    if live_demand is not None:
        releases.append(release(p, live_demand, ["tenderUpdate"], names=names, ocid=ocid))
    return releases


def build_package(*, uri: str, releases: list[dict[str, Any]], publisher: str = PUBLISHER) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": list(EXTENSIONS),
        "publishedDate": releases[-1]["date"],  # releases are in log order: the last change
        "publisher": {"name": publisher},
        "releases": releases,
    }


# --- folding the log ------------------------------------------------------------------------------


def apply(p: Process, e: Mapping[str, Any]) -> list[str]:
    """Fold one event into `p`; the release tags when it is a publication point, else []."""
    kind, data = e["type"], e["data"]
    if kind == "stage.changed":
        return _stage_changed(p, e)
    if kind == "demand.registered":
        p.demand[data["council"]] = _quantities(data["lines"])
    elif kind == "demand.withdrawn":
        p.demand.pop(data["council"], None)
    elif kind == "sign_up.confirmed":
        p.signups[data["council"]] = _quantities(data["lines"])
    elif kind == "lot.unsuccessful":
        p.unsuccessful_lots[data["lot_id"]] = data.get("reason", "")
    elif kind == "supplier.registered":
        p.supplier_names[data["company_number"]] = data["name"]
    elif kind == "award.notice":
        return _award_notice(p, e)
    elif kind == "standstill.resumed":
        for award_id in p.current.values():
            p.awards[award_id].contracts_from = date.fromisoformat(data["contracts_from"])
    elif kind == "challenge.decided" and data["outcome"] == "upheld" and data.get("remedy") == "re-evaluate":
        return ["awardCancellation"] if _cancel_pending(p) else []
    elif kind == "contract.created":
        p.contracts.append(
            Contract(
                council=data["council"],
                lot=data["lot"],
                award_id=p.current[data["lot"]],
                quantity=data["quantity"],
                unit_price=Decimal(data["unit_price"]),
                total=Decimal(data["total"]),
            )
        )
    return []


def _quantities(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return {line["lot_id"]: int(line["quantity"]) for line in lines}


def _stage_changed(p: Process, e: Mapping[str, Any]) -> list[str]:
    previous, p.stage = p.stage, e["data"]["to"]
    deadline = e["data"].get("deadline")
    if p.stage == "demand":
        p.opened_at = e["at"]
        closes = datetime.fromisoformat(str(p.terms["demand_closes_at"]))
        p.interest_closes_at = closes + _duration(p.terms.get("sign_up_window", "P7D"))
        return ["tender"]
    if p.stage == "sign_up":
        p.interest_closes_at = datetime.fromisoformat(deadline) if deadline else p.interest_closes_at
        return ["tenderUpdate"]
    if previous in OPEN_FOR_INTEREST:
        p.interest_closes_at, p.committed = e["at"], previous == "sign_up"
    if p.stage == "assurance":
        return ["tenderUpdate"]
    if p.stage == "evaluation" and p.evaluation_from is None:
        p.evaluation_from = e["at"]
    if p.stage == "awarded":
        for award_id in p.current.values():
            p.awards[award_id].status = "active"
        return ["contract", "awardUpdate"]
    if p.stage == "cancelled":
        return ["tenderCancellation"] + (["awardCancellation"] if _cancel_pending(p) else [])
    if p.stage == "unsuccessful":
        return ["tenderUpdate"]
    return []


def _award_notice(p: Process, e: Mapping[str, Any]) -> list[str]:
    contracts_from = date.fromisoformat(e["data"]["standstill"]["contracts_from"])
    for lot, a in e["data"]["lots"].items():
        award = Award(
            id=f"{lot}-{e['seq']}",
            lot=lot,
            supplier=a["company_number"],
            unit_price=Decimal(a["unit_price"]),
            quantity=int(a["committed_quantity"]),
            value=Decimal(a["value"]),
            notified_at=e["at"],
            contracts_from=contracts_from,
        )
        p.awards[award.id] = award
        p.current[lot] = award.id
    return ["award"]


def _cancel_pending(p: Process) -> bool:
    """Withdraw every award still in standstill; whether there was one."""
    pending = [a for a in p.awards.values() if a.status == "pending"]
    for a in pending:
        a.status = "cancelled"
    p.current = {lot: i for lot, i in p.current.items() if p.awards[i].status != "cancelled"}
    return bool(pending)


def _duration(value: Any) -> timedelta:
    """A duration from the terms as stored: ISO 8601 ("P7D", "PT30S") or seconds."""
    return _DURATION.validate_python(value)


# --- rendering one release ------------------------------------------------------------------------


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
