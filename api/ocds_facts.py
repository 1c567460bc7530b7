"""What the public may know of one joint buy, folded from its event log event by event.

`apply` folds one event into a `Process` and says whether that event is a publication point (and with
which OCDS release tags); `api.ocds_release` renders the snapshot. Only the event types in
`SOURCE_EVENTS` reach the fold, and of an assessment summary only who was assessed for which lot and
when it was sent (`db.ocds` selects nothing else): sealed facts (bids, scores, ranks) never do. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

# The only event types the builder reads: the sealed ones (bids, scores, summaries) never reach it.
SOURCE_EVENTS = (
    "stage.changed",
    "demand.registered",
    "demand.withdrawn",
    "sign_up.confirmed",
    "lot.unsuccessful",
    "lot.cancelled",
    "supplier.registered",
    "assessment.summary",
    "award.notice",
    "standstill.resumed",
    "challenge.decided",
    "contract.created",
)
# Suppliers register interest until sign-up closes; only those assured are invited to bid.
OPEN_FOR_INTEREST = frozenset({"draft", "demand", "sign_up"})
_DURATION = TypeAdapter(timedelta)


@dataclass
class Award:
    id: str
    lot: str
    notice_seq: int
    supplier: str
    unit_price: Decimal
    quantity: int
    value: Decimal
    notified_at: datetime
    contracts_from: date
    standstill_last_day: date
    tenderers: int
    summaries_sent_at: datetime | None = None
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
    outcome_reason: str = ""
    cancelled_lots: dict[str, tuple[str, str]] = field(default_factory=dict)  # lot -> (code, reason)
    supplier_names: dict[str, str] = field(default_factory=dict)
    # lot -> who was assessed for it, and when the summaries went out (before the award notice)
    assessed: dict[str, set[str]] = field(default_factory=dict)
    summaries_sent: dict[str, datetime] = field(default_factory=dict)
    # Tenderers are named from the first award notice on, never before.
    tenderers_named: bool = False
    awards: dict[str, Award] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)  # lot -> id of its live award
    contracts: list[Contract] = field(default_factory=list)


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
    elif kind == "assessment.summary":
        p.assessed.setdefault(data["lot_id"], set()).add(data["company_number"])
        p.summaries_sent[data["lot_id"]] = e["at"]
    elif kind == "lot.cancelled":
        p.cancelled_lots[data["lot_id"]] = (data["reason_code"], data.get("reason", ""))
        # one lot ended: a tender update says which and why (the buy's own end is a stage change)
        return [] if data.get("buy_cancelled") else ["tenderUpdate"]
    elif kind == "supplier.registered":
        p.supplier_names[data["company_number"]] = data["name"]
    elif kind == "award.notice":
        return _award_notice(p, e)
    elif kind == "standstill.resumed":
        for award_id in p.current.values():
            p.awards[award_id].contracts_from = date.fromisoformat(data["contracts_from"])
            p.awards[award_id].standstill_last_day = date.fromisoformat(data["last_day"])
        return ["awardUpdate"] if p.current else []
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
        return ["contract"]
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
    if p.stage in ("cancelled", "unsuccessful"):
        p.outcome_reason = e["data"].get("reason") or ""
    if p.stage == "awarded":
        for award_id in p.current.values():
            p.awards[award_id].status = "active"
        return ["awardUpdate", "contractUpdate"] if p.contracts else ["awardUpdate"]
    if p.stage == "cancelled":
        return ["tenderCancellation"] + (["awardCancellation"] if _cancel_pending(p) else [])
    if p.stage == "unsuccessful":
        return ["tenderUpdate"]
    return []


def _award_notice(p: Process, e: Mapping[str, Any]) -> list[str]:
    standstill = e["data"]["standstill"]
    contracts_from = date.fromisoformat(standstill["contracts_from"])
    last_day = date.fromisoformat(standstill.get("last_day", standstill["contracts_from"]))
    p.tenderers_named = True
    for lot, a in e["data"]["lots"].items():
        award = Award(
            id=f"{lot}-{e['seq']}",
            lot=lot,
            notice_seq=e["seq"],
            supplier=a["company_number"],
            unit_price=Decimal(a["unit_price"]),
            quantity=int(a["committed_quantity"]),
            value=Decimal(a["value"]),
            notified_at=e["at"],
            contracts_from=contracts_from,
            standstill_last_day=last_day,
            tenderers=int(a.get("tenders") or len(p.assessed.get(lot, ())) or 1),
            summaries_sent_at=p.summaries_sent.get(lot),
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
