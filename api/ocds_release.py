"""One OCDS 1.1 release, in Find a Tender's UK profile, rendered from a buy's public facts as they
stand after a publication point.

Aggregates per lot, the councils that committed (each a buyer, classified as a sub-central public
authority with its GSS code), the lead as procuring entity, the tenderers from the award notice on,
the winners with award and contract values; nothing else reaches a release. A release that is a
statutory notice carries it as a `Document` (`api.ocds_notices`). Pure: a `Process` in, a dict out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api.ocds_facts import Award, Contract, Process
from api.ocds_notices import UK4, UK6, UK7, UK12, Notice, notice_for
from procurement.standstill import standstill_threshold

GBP = "GBP"
UK = ZoneInfo("Europe/London")
# The UK profile's classification of a contracting authority (Procurement Act 2023 s.2): a council.
COUNCIL_CLASSIFICATION = {
    "scheme": "UK_CA_TYPE",
    "id": "publicAuthoritySubCentralGovernment",
    "description": "Public authority - sub-central government",
}
# Councils are identified by their GSS code (ONS Government Statistical Service), suppliers by their
# Companies House number.
GSS_SCHEME = "GB-GSS"
COH_SCHEME = "GB-COH"


def release(
    p: Process, e: Mapping[str, Any], tags: list[str], *, names: Mapping[str, str], ocid: str
) -> dict[str, Any]:
    """The release for one publication point: a snapshot of `p` as it stands after event `e`."""
    notice = notice_for(e)
    tender = _tender(p, names)
    if notice in (UK4, UK12):
        tender["documents"] = [
            _document(notice, e, p, description=_termination(p) if notice is UK12 else None)
        ]
    out: dict[str, Any] = {
        "ocid": ocid,
        "id": f"{ocid}-{e['seq']}-{tags[0]}",
        "date": _iso(e["at"]),
        "tag": tags,
        "initiationType": "tender",
        "language": "en",
        "parties": _parties(p, names),
        "tender": tender,
    }
    if p.awards:
        out["awards"] = [
            _award(p, a, e if notice is UK6 and a.notice_seq == e["seq"] else None) for a in p.awards.values()
        ]
    if notice is UK7:
        # The contract details notice of one council's contract: that contract alone.
        out["contracts"] = [_contract(p, p.contracts[-1], names, e)]
    elif p.contracts and p.stage == "awarded":
        out["contracts"] = [_contract(p, c, names, None) for c in p.contracts]
    return out


def _parties(p: Process, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The lead (procuring entity), the councils once committed (each a buyer: its own budget pays
    its contract), and, from the award notice on, every tenderer (the winners also suppliers)."""
    roles: dict[str, list[str]] = {p.lead: ["procuringEntity"]}
    if p.committed:
        for council in sorted(p.signups):
            roles.setdefault(council, [])
            roles[council] = ["buyer", *roles[council]]
    parties = [_organisation(org, names, r) for org, r in roles.items()]
    winners = {a.supplier for a in p.awards.values()}
    for number in sorted(_tenderers(p) | winners):
        r = (["tenderer"] if number in _tenderers(p) else []) + (["supplier"] if number in winners else [])
        parties.append(
            _supplier_ref(p, number)
            | {
                "identifier": {
                    "scheme": COH_SCHEME,
                    "id": number,
                    "legalName": p.supplier_names.get(number, number),
                },
                "roles": r,
            }
        )
    return parties


def _organisation(org: str, names: Mapping[str, str], roles: list[str]) -> dict[str, Any]:
    party = _ref(org, names.get(org, org)) | {"roles": roles}
    if org in names:  # a council from the register
        party["identifier"] = {"scheme": GSS_SCHEME, "id": org, "legalName": names[org]}
        party["details"] = {"classifications": [dict(COUNCIL_CLASSIFICATION)]}
    return party


def _tenderers(p: Process) -> set[str]:
    """Everyone assessed for a lot, once the first award notice is out; nobody before."""
    if not p.tenderers_named:
        return set()
    return {supplier for assessed in p.assessed.values() for supplier in assessed}


def _document(
    notice: Notice,
    e: Mapping[str, Any],
    p: Process,
    *,
    lot: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": f"{notice.notice_type}-{e['seq']}" + (f"-{lot}" if lot else ""),
        "documentType": notice.document_type,
        "noticeType": notice.notice_type,
        "title": f"{notice.title}: {p.terms['title']}",
        "datePublished": _iso(e["at"]),
        "language": "en",
    }
    if description:
        doc["description"] = description
    if lot:
        doc["relatedLots"] = [lot]
    return doc


def _termination(p: Process) -> str:
    verb = "cancelled" if p.stage == "cancelled" else "ended without an award"
    return f"The procurement was {verb}" + (f": {p.outcome_reason}" if p.outcome_reason else "")


def _above_threshold(p: Process) -> bool:
    """Whether the estimated value (incl. VAT) is at or above the sub-central threshold."""
    start = (
        p.opened_at.date() if p.opened_at else datetime.fromisoformat(str(p.terms["demand_closes_at"])).date()
    )
    return Decimal(str(p.terms["estimated_value_gbp"])) >= standstill_threshold(start)


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
            "ladders against the committed volume. Volumes are conditional: a council may commit up to a "
            "unit price, and each lot is awarded at the volume of the councils its winning price keeps"
        ),
        "mainProcurementCategory": "goods",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": (
            f"Most advantageous tender: price {weights.get('price_weight', 60)} %, quality "
            f"{weights.get('quality_weight', 30)} %, social value {weights.get('social_value_weight', 10)} %"
        ),
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": _period(p.opened_at, p.interest_closes_at),
        "contractPeriod": {"durationInDays": 365 * int(terms.get("contract_years", 1))},
        "aboveThreshold": _above_threshold(p),
    }
    if p.interest_closes_at is not None:
        tender["expressionOfInterestDeadline"] = _iso(p.interest_closes_at)
    tenderers = sorted(_tenderers(p))
    if tenderers:
        tender["tenderers"] = [_supplier_ref(p, number) for number in tenderers]
        tender["numberOfTenderers"] = len(tenderers)
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
    if lot["id"] in p.cancelled_lots:
        code, reason = p.cancelled_lots[lot["id"]]
        description += f"; cancelled ({code}): {reason}"
    return {
        "id": lot["id"],
        "title": lot["title"],
        "description": description,
        "status": _lot_status(p, lot),
        "awardCriteria": _award_criteria(p),
    }


# The award criteria and their weights (percentages of the total score), as the terms set them.
CRITERIA = (
    ("price", "Price", "price_weight", 60),
    ("quality", "Quality", "quality_weight", 30),
    ("quality", "Social value", "social_value_weight", 10),
)


def _award_criteria(p: Process) -> dict[str, Any]:
    weights = p.terms.get("award", {})
    return {
        "criteria": [
            {
                "type": kind,
                "name": name,
                "numbers": [{"number": int(weights.get(key, default)), "weight": "percentageExact"}],
            }
            for kind, name, key, default in CRITERIA
        ],
        "description": (
            "Most advantageous tender: the evaluated unit price at the committed volume, quality "
            "and social value"
        ),
    }


def _tender_status(p: Process) -> str:
    return {"cancelled": "cancelled", "unsuccessful": "unsuccessful", "awarded": "complete"}.get(
        p.stage, "active"
    )


def _lot_status(p: Process, lot: Mapping[str, Any]) -> str:
    if lot["id"] in p.cancelled_lots:
        return "cancelled"
    if lot["id"] in p.unsuccessful_lots:
        return "unsuccessful"
    if p.stage == "awarded":
        return "complete" if lot["id"] in p.current else "unsuccessful"
    return p.stage if p.stage in ("cancelled", "unsuccessful") else "active"


def _award(p: Process, a: Award, notice: Mapping[str, Any] | None) -> dict[str, Any]:
    """An award; in the release of its award notice, it carries that notice (UK6)."""
    lot = _lot_terms(p, a.lot)
    award: dict[str, Any] = {
        "id": a.id,
        "title": lot["title"],
        "status": a.status,
        "date": _iso(a.notified_at),
        "value": _money(a.value),
        "suppliers": [_supplier_ref(p, a.supplier)],
        "items": [_priced_item(p, lot, a.quantity, a.unit_price)],
        "relatedLots": [a.lot],
        "contractPeriod": _contract_period(p, a.contracts_from),
        # s.51: from the notice to the end of its last working day (UK time).
        "standstillPeriod": _period(
            a.notified_at, _midnight(a.standstill_last_day + timedelta(days=1)) - timedelta(seconds=1)
        ),
        "aboveThreshold": _above_threshold(p),
    }
    if a.summaries_sent_at is not None:
        award["assessmentSummariesDateSent"] = _iso(a.summaries_sent_at)
    if notice is not None:
        award["documents"] = [_document(UK6, notice, p, lot=a.lot)]
    return award


def _contract(
    p: Process, c: Contract, names: Mapping[str, str], notice: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A council's contract; in the release of its contract details notice, it carries it (UK7)."""
    lot = _lot_terms(p, c.lot)
    council = names.get(c.council, c.council)
    contract: dict[str, Any] = {
        "id": f"{c.lot}-{c.council}",
        "awardID": c.award_id,
        "title": f"{lot['title']} for {council}",
        "status": "active",
        "buyer": _ref(c.council, council),
        "value": _money(c.total),
        "items": [_priced_item(p, lot, c.quantity, c.unit_price)],
        "period": _contract_period(p, p.awards[c.award_id].contracts_from),
        "aboveThreshold": _above_threshold(p),
    }
    if notice is not None:
        contract["documents"] = [_document(UK7, notice, p, lot=c.lot)]
    return contract


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
