"""Who may see each audit-log event of a joint buy: one table, deny by default.

While a competition is live, who bids and at what price is commercially confidential, and each
council's current price (its baseline) is its own business. Every event type the workflow records
has an entry in `EVENTS`: a list of grants, each naming an audience, an optional stage condition
and the shape that audience sees (the whole event, or a brief without the confidential fields).
The first grant that matches the caller wins; a caller no grant matches sees nothing, and an event
type without an entry is seen by nobody and cannot be recorded (`check_recordable`).

The audiences:

- `OVERSIGHT`: the platform's admins and operators;
- `LEAD`: the organisation that leads this buy (a lead of another buy is no one special);
- `PARTY`: the council or supplier the event concerns, named by a field of the event's data;
- `COUNCILS` / `SUPPLIERS`: councils and suppliers taking part in the buy (registered demand,
  registered interest), whatever became of them since;
- `ANYONE`: any authenticated caller, for what the buy publishes anyway (its OCDS releases);
- `PUBLICATION`: the public OCDS package, which folds the log into public facts; it sees only the
  events and fields granted here, so a sealed fact can never reach it.

The API's views of a buy, its events, award, contracts and OCDS package, the webhook deliveries
and the event stream all decide through `shown` / `visible`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from procurement.models import Stage


class Audience(StrEnum):
    OVERSIGHT = "oversight"
    LEAD = "lead"
    PARTY = "party"
    COUNCILS = "councils"
    SUPPLIERS = "suppliers"
    ANYONE = "anyone"
    PUBLICATION = "publication"


class Caller(Protocol):
    """Who is asking: `api.auth.Principal` fits, as does anything with a role and organisation."""

    @property
    def role(self) -> str: ...

    @property
    def organisation_id(self) -> str: ...


@dataclass(frozen=True)
class BuyScope:
    """What the table needs to know of the buy an event belongs to."""

    lead: str
    stage: str | None  # the buy's current stage; None (unknown) counts as sealed
    councils: frozenset[str] = frozenset()  # councils taking part
    suppliers: frozenset[str] = frozenset()  # suppliers that registered interest


Shape = Callable[[Mapping[str, Any]], dict[str, Any]]


def whole(data: Mapping[str, Any]) -> dict[str, Any]:
    return dict(data)


def without(*fields: str) -> Shape:
    """The event's data minus these fields."""

    def shape(data: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k not in fields}

    return shape


def only(*fields: str) -> Shape:
    """Just these fields of the event's data."""

    def shape(data: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k in fields}

    return shape


# Bids are sealed while these stages last: until then only the bidder sees its own.
SEALED_STAGES = frozenset({Stage.DRAFT, Stage.DEMAND, Stage.SIGN_UP, Stage.ASSURANCE, Stage.NEGOTIATION})
# Which role a party field names.
PARTY_ROLES = {"council": "council", "company_number": "supplier", "supplier": "supplier"}
# A council's own price and what can be worked back to it: nobody but that council and the lead.
BASELINE_FIELDS = ("baseline_unit_price", "baseline_total", "saving")


@dataclass(frozen=True)
class Grant:
    who: Audience
    shape: Shape = whole
    party: str | None = None  # for PARTY: the data field naming the council or supplier
    unsealed: bool = False  # only once the buy has left the sealed stages

    def __post_init__(self) -> None:
        if (self.who == Audience.PARTY) != (self.party is not None):
            raise ValueError("a PARTY grant names its party field, and only a PARTY grant does")
        if self.party is not None and self.party not in PARTY_ROLES:
            raise ValueError(f"unknown party field {self.party}")


OVERSIGHT = Grant(Audience.OVERSIGHT)
LEAD = Grant(Audience.LEAD)
LEAD_ONLY = (OVERSIGHT, LEAD)


def _party(field: str, shape: Shape = whole) -> Grant:
    return Grant(Audience.PARTY, shape, party=field)


def _everyone(shape: Shape = whole) -> tuple[Grant, ...]:
    """Everyone in the buy and anyone else authenticated: what the buy publishes anyway."""
    return (*LEAD_ONLY, Grant(Audience.ANYONE, shape), Grant(Audience.PUBLICATION, shape))


def _members(shape: Shape = whole) -> tuple[Grant, ...]:
    """The councils and suppliers taking part (the lead and oversight see the whole event)."""
    return (*LEAD_ONLY, Grant(Audience.COUNCILS, shape), Grant(Audience.SUPPLIERS, shape))


def _demand_lines_public(data: Mapping[str, Any]) -> dict[str, Any]:
    """A council's demand as published: who and how many, never its baseline or budget."""
    return {
        "council": data.get("council"),
        "lines": [
            {"lot_id": line.get("lot_id"), "quantity": line.get("quantity")} for line in data.get("lines", [])
        ],
    }


def _awarded_public(data: Mapping[str, Any]) -> dict[str, Any]:
    """The award as published: winners, prices and volumes; no baseline totals or savings (summed
    over two councils, one council's baseline gives away the other's)."""
    keep = ("company_number", "unit_price", "contracts", "councils", "quantity", "total")
    return {
        "lots": {
            lot: {k: v for k, v in values.items() if k in keep}
            for lot, values in data.get("lots", {}).items()
        },
        "totals": {k: v for k, v in data.get("totals", {}).items() if k in keep},
    }


def _without_limits(data: Mapping[str, Any]) -> dict[str, Any]:
    """A sign-up without the councils' price limits."""
    lines = [{k: v for k, v in line.items() if k != "max_unit_price"} for line in data.get("lines", [])]
    return {**data, "lines": lines}


_contract_public = without(*BASELINE_FIELDS, "standalone_unit_price", "aggregation_dividend")

EVENTS: Mapping[str, tuple[Grant, ...]] = {
    # The buy's life: published.
    "buy.created": _everyone(),
    "stage.changed": _everyone(),
    "lot.unsuccessful": _everyone(),
    "buy.cancelled": _everyone(),
    "award.notice": _everyone(),
    "standstill.resumed": _everyone(),
    "buy.awarded": (*LEAD_ONLY, Grant(Audience.ANYONE, _awarded_public)),
    # The lead's own actions and working.
    "stage.close_requested": LEAD_ONLY,
    # Demand and sign-up: each council's own; published as quantities only.
    "demand.registered": (
        *LEAD_ONLY,
        _party("council"),
        Grant(Audience.PUBLICATION, _demand_lines_public),
    ),
    "demand.withdrawn": (*LEAD_ONLY, _party("council"), Grant(Audience.PUBLICATION, only("council"))),
    # A council's price limits (`max_unit_price`) are its own; the lead sees them once the bids open.
    "sign_up.confirmed": (
        _party("council"),
        Grant(Audience.OVERSIGHT, unsealed=True),
        Grant(Audience.LEAD, unsealed=True),
        Grant(Audience.OVERSIGHT, _without_limits),
        Grant(Audience.LEAD, _without_limits),
        Grant(Audience.PUBLICATION, _demand_lines_public),
    ),
    "demand.closed": _members(),
    "sign_up.closed": _members(without("dropped_out")),  # which councils dropped out
    # Suppliers: who registered, who is assured or excluded, is the lead's and each supplier's own.
    # Published: a name, once it is the name of a winner (the fold publishes winners only).
    "supplier.registered": (
        *LEAD_ONLY,
        _party("company_number"),
        Grant(Audience.PUBLICATION, only("company_number", "name")),
    ),
    # Lists every registered supplier; its contract value is worked from councils' baselines.
    "assurance.started": LEAD_ONLY,
    "assurance.checked": (*LEAD_ONLY, _party("company_number")),
    "assurance.awaiting_decisions": LEAD_ONLY,  # names who is flagged
    "exclusion.decided": (*LEAD_ONLY, _party("company_number")),
    "assurance.completed": LEAD_ONLY,  # names who qualified and who is excluded
    # Negotiation: who qualified stays with the lead; a bid is its bidder's until the bids open.
    "round.opened": _members(without("qualified")),
    "round.extended": _members(),
    "bid.submitted": (
        _party("company_number"),
        Grant(Audience.OVERSIGHT, unsealed=True),
        Grant(Audience.LEAD, unsealed=True),
    ),
    "round.closed": LEAD_ONLY,  # every supplier's rank: each learns its own from its bids view
    # Evaluation and award.
    "score.entered": LEAD_ONLY,
    # Published: who was assessed for which lot (tenderers are named from the award notice on);
    # never a score, a rank or a price.
    "assessment.summary": (
        *LEAD_ONLY,
        _party("company_number"),
        Grant(Audience.PUBLICATION, only("company_number", "lot_id")),
    ),
    "challenge.lodged": (*LEAD_ONLY, _party("company_number")),
    "challenge.decided": (
        *LEAD_ONLY,
        _party("company_number"),
        Grant(Audience.PUBLICATION, only("challenge_id", "outcome", "remedy")),  # an award withdrawn
    ),
    "contract.created": (
        *LEAD_ONLY,
        _party("council"),
        _party("supplier", without(*BASELINE_FIELDS)),
        Grant(Audience.PUBLICATION, _contract_public),
    ),
    # The stable coalition: each pass names the councils priced out and their limits (the lead's
    # working); a priced-out council is told the price and its own limit.
    "coalition.pass": LEAD_ONLY,
    "coalition.priced_out": (*LEAD_ONLY, _party("council")),
    "coalition.settled": LEAD_ONLY,
    # Clarifications: a question is its asker's; an answer to everyone names no asker and reaches
    # every council and supplier in the buy; an answer to the asker only reaches the asker.
    "question.asked": (*LEAD_ONLY, _party("company_number")),
    "question.answered": (*LEAD_ONLY, _party("company_number")),
    "clarification.published": _members(),
    # One lot leaves the competition: published, with its reason.
    "lot.cancelled": _everyone(),
}

EVENT_TYPES = frozenset(EVENTS)


class UnknownEventType(ValueError):
    """An event type nobody decided the audience of: it must not be recorded."""


def check_recordable(event_type: str) -> None:
    if event_type not in EVENTS:
        raise UnknownEventType(
            f"event type {event_type!r} has no entry in procurement.visibility.EVENTS: "
            "declare who may see it before recording it"
        )


def _sealed(scope: BuyScope) -> bool:
    return scope.stage is None or scope.stage in SEALED_STAGES


def _matches(grant: Grant, data: Mapping[str, Any], caller: Caller | None, scope: BuyScope) -> bool:
    if grant.unsealed and _sealed(scope):
        return False
    if grant.who == Audience.PUBLICATION:
        return caller is None
    if caller is None:
        return False
    role, org = str(caller.role), caller.organisation_id
    match grant.who:
        case Audience.OVERSIGHT:
            return role in ("admin", "operator")
        case Audience.LEAD:
            return role == "lead" and org == scope.lead
        case Audience.PARTY:
            assert grant.party is not None
            return role == PARTY_ROLES[grant.party] and data.get(grant.party) == org
        case Audience.COUNCILS:
            return role == "council" and org in scope.councils
        case Audience.SUPPLIERS:
            return role == "supplier" and org in scope.suppliers
        case Audience.ANYONE:
            return True
    return False


def shown(event: Mapping[str, Any], caller: Caller | None, scope: BuyScope) -> dict[str, Any] | None:
    """The event as this caller may see it (its `data` shaped by the grant), or None when it may
    not. `caller` None is the public OCDS package. `event` has at least `type` and `data`."""
    grants = EVENTS.get(event["type"])
    if grants is None:
        return None
    data = event["data"]
    for grant in grants:
        if _matches(grant, data, caller, scope):
            return {**event, "data": grant.shape(data)}
    return None


def visible(event: Mapping[str, Any], caller: Caller | None, scope: BuyScope) -> bool:
    return shown(event, caller, scope) is not None


def published(event: Mapping[str, Any], scope: BuyScope) -> dict[str, Any] | None:
    """The event as the public OCDS package may read it, or None."""
    return shown(event, None, scope)


PUBLISHED_TYPES = tuple(
    sorted(t for t, grants in EVENTS.items() if any(g.who == Audience.PUBLICATION for g in grants))
)
