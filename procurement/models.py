"""The vocabulary of a joint buy: its terms (what the lead sets up) and its live state."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from procurement.council_lines import CouncilLines, Packed, packed_entry
from procurement.pricing import PENNY, ContractLine, ScoredTender, Tier
from procurement.standstill import RecordedCalendar

MAX_QUANTITY = 1_000_000_000
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
# Strict: a quantity is an integer, never `true` or "12" quietly taken as one.
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY, strict=True)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Stage(StrEnum):
    DRAFT = "draft"
    DEMAND = "demand"
    SIGN_UP = "sign_up"
    ASSURANCE = "assurance"
    NEGOTIATION = "negotiation"
    EVALUATION = "evaluation"
    STANDSTILL = "standstill"
    SUSPENDED = "suspended"
    AWARDED = "awarded"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"

    @property
    def terminal(self) -> bool:
        return self in (Stage.AWARDED, Stage.CANCELLED, Stage.UNSUCCESSFUL)


# Stages with a window the lead may close early (in negotiation: the open round).
CLOSABLE_STAGES = frozenset({Stage.DEMAND, Stage.SIGN_UP, Stage.NEGOTIATION})


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lot(Frozen):
    id: Identifier
    title: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="item", min_length=1, max_length=40)


class Viability(Frozen):
    min_councils: int = Field(default=1, ge=1, le=10_000, strict=True)
    min_total_quantity: dict[str, Quantity] = Field(default_factory=dict)


class Requirements(Frozen):
    certifications: list[str] = Field(default_factory=list, max_length=20)
    min_employers_liability_gbp: Money = Decimal("5000000")
    turnover_ratio: Decimal = Field(default=Decimal("2.0"), ge=0, le=100)
    # A supplier flagged on a discretionary exclusion ground waits this long for the lead's
    # decision; then the default applies.
    discretionary_decision_window: timedelta = timedelta(days=5)
    discretionary_default: Literal["exclude", "include"] = "exclude"


class NegotiationTerms(Frozen):
    rounds: int = Field(default=3, ge=1, le=10, strict=True)
    round_window: timedelta = timedelta(days=2)
    min_decrement_pct: Decimal = Field(default=Decimal("0.5"), ge=0, le=50)
    extension_window: timedelta = timedelta(minutes=5)
    max_extensions: int = Field(default=10, ge=0, le=100, strict=True)


class AwardTerms(Frozen):
    price_weight: int = Field(default=60, ge=0, le=100, strict=True)
    quality_weight: int = Field(default=30, ge=0, le=100, strict=True)
    social_value_weight: int = Field(default=10, ge=10, le=100, strict=True)
    standstill_working_days: int = Field(default=8, ge=0, le=30, strict=True)
    calendar: Literal["england-and-wales", "scotland", "northern-ireland"] = "england-and-wales"

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> AwardTerms:
        total = self.price_weight + self.quality_weight + self.social_value_weight
        if total != 100:
            raise ValueError(f"price, quality and social value weights must add up to 100, not {total}")
        return self


class BuyTerms(Frozen):
    """What the lead sets up; fixed once the buy starts."""

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    cpv_code: str = Field(default="", pattern=r"^(\d{8})?$")
    lots: list[Lot] = Field(min_length=1, max_length=50)
    estimated_value_gbp: Money
    demand_closes_at: datetime
    sign_up_window: timedelta = timedelta(days=7)
    # How far above its registered demand a council may confirm at sign-up (0 = not at all).
    sign_up_tolerance_pct: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    viability: Viability = Viability()
    requirements: Requirements = Requirements()
    negotiation: NegotiationTerms = NegotiationTerms()
    award: AwardTerms = AwardTerms()
    contract_years: int = Field(default=1, ge=1, le=10, strict=True)
    # Suppliers may ask clarification questions until then; unset, until round 1 opens.
    clarification_deadline: datetime | None = None

    @field_validator("demand_closes_at", "clarification_deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a UTC offset, e.g. 2027-01-15T17:00:00+00:00")
        return value

    @field_validator("sign_up_window")
    @classmethod
    def _positive_window(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration such as P7D")
        return value

    @model_validator(mode="after")
    def _lots_consistent(self) -> BuyTerms:
        ids = [lot.id for lot in self.lots]
        if len(set(ids)) != len(ids):
            raise ValueError("lot ids must be unique")
        unknown = set(self.viability.min_total_quantity) - set(ids)
        if unknown:
            raise ValueError(f"viability names unknown lots: {sorted(unknown)}")
        return self

    def lot_ids(self) -> list[str]:
        return [lot.id for lot in self.lots]


LotRef = Annotated[str, Field(min_length=1, max_length=64)]


class DemandLine(Frozen):
    lot_id: LotRef
    quantity: Quantity
    baseline_unit_price: Money
    budget_ceiling_gbp: Money | None = None


# A council's price limit: a positive amount in pounds with at most two decimal places.
PriceLimit = Annotated[
    Decimal, Field(gt=0, max_digits=14, decimal_places=2), AfterValidator(lambda d: d.quantize(PENNY))
]


class SignUpLine(Frozen):
    lot_id: LotRef
    quantity: Quantity
    # Conditional sign-up: the council takes the contract at any awarded unit price up to this and
    # is priced out above it (the stable coalition). Confidential to the council and, from
    # evaluation on, the lead.
    max_unit_price: PriceLimit | None = None


class LotAggregate(BaseModel):
    councils: int = 0
    indicative_quantity: int = 0
    committed_quantity: int = 0
    signed_up_councils: int = 0


class DemandTotals(BaseModel):
    """The aggregate of every council's lines, kept command by command and carried from run to run,
    so neither a receipt nor a run's start walks the councils."""

    lots: dict[str, LotAggregate]
    lines: int = 0  # council-lot demand lines held (against MAX_DEMAND_LINES)


class DomainEvent(BaseModel):
    """One fact in a buy's audit log. `seq` is dense and per buy; time is the workflow's clock."""

    seq: int
    type: str
    actor: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


SupplierStatus = Literal["registered", "qualified", "flagged", "excluded"]


class CheckOutcome(BaseModel):
    check: str
    passed: bool
    reason: str
    flagged: bool = False


# What the workflow keeps of a supplier's reasons (its failed and flagged checks', or the lead's
# decision's); the full text of every check is in its `assurance.checked` event.
SUPPLIER_REASON_KEPT = 200


class SupplierEntry(BaseModel):
    """A supplier as the workflow's decisions need it: its verdict and why, as its failed checks'
    reasons (at most `SUPPLIER_REASON_KEPT` characters) or, while it awaits the lead's decision, its
    flagged checks. States recorded before that was so may hold its name and every check."""

    name: str = ""  # only in states recorded before: the name is the `supplier.registered` event's
    status: SupplierStatus = "registered"
    reason: str = ""
    checks: list[CheckOutcome] = Field(default_factory=list)


# A check as packed: whether it failed, passed or is flagged for the lead.
_FAILED, _PASSED, _FLAGGED = 0, 1, 2


def packed_suppliers(suppliers: dict[str, dict[str, Any]]) -> list[Any]:
    """The suppliers (as JSON-ready dicts) packed: `[texts, {company: [name, status, reason,
    checks]}]`, every reason and check name an index into `texts`, so the few texts many suppliers
    share ("check unavailable: the company register could not be reached…" in an outage, "company
    not found on the register") travel once. A check is `[name, reason, 0 failed | 1 passed | 2
    flagged]`; trailing empty parts are left off (a registered supplier is `[name, "registered"]`)."""
    texts: list[str] = []
    index: dict[str, int] = {}

    def ref(text: str) -> int:
        at = index.get(text)
        if at is None:
            at = index[text] = len(texts)
            texts.append(text)
        return at

    entries: dict[str, list[Any]] = {}
    for company, e in suppliers.items():
        entry: list[Any] = [e["name"], e["status"]]
        if e["reason"] or e["checks"]:
            entry.append(ref(e["reason"]))
        if e["checks"]:
            entry.append(
                [
                    [ref(c["check"]), ref(c["reason"]), _FLAGGED if c["flagged"] else int(c["passed"])]
                    for c in e["checks"]
                ]
            )
        entries[company] = entry
    return [texts, entries]


def unpacked_suppliers(packed: list[Any]) -> dict[str, dict[str, Any]]:
    texts, entries = packed
    suppliers: dict[str, dict[str, Any]] = {}
    for company, entry in entries.items():
        checks = entry[3] if len(entry) > 3 else []
        suppliers[company] = {
            "name": entry[0],
            "status": entry[1],
            "reason": texts[entry[2]] if len(entry) > 2 else "",
            "checks": [
                {
                    "check": texts[c],
                    "reason": texts[r],
                    "passed": code == _PASSED,
                    "flagged": code == _FLAGGED,
                }
                for c, r, code in checks
            ],
        }
    return suppliers


# A buy holds at most this many tenders, a tender being a supplier's latest bid on one lot (20
# suppliers on every one of 50 lots, or 330 on three): what keeps the bids' part of the workflow's
# state, and so every payload that carries it, bounded (README, "Scale"). A bid that replaces its
# supplier's earlier one on the lot is always taken.
MAX_TENDERS = 1_000


class Bid(BaseModel):
    """A supplier's sealed bid for one lot in one round, priced at the committed aggregate.

    As JSON its ladder is packed, each tier `[min_quantity, "unit_price"]`: under half the size of
    the named fields. Both are read."""

    supplier: str
    lot_id: str
    round: int
    tiers: list[Tier]
    evaluated_unit_price: Decimal
    submitted_at: datetime
    seq: int

    @field_validator("tiers", mode="before")
    @classmethod
    def _unpack_tiers(cls, tiers: Any) -> Any:
        if not isinstance(tiers, list):
            return tiers
        return [
            {"min_quantity": t[0], "unit_price": t[1]} if isinstance(t, list | tuple) and len(t) == 2 else t
            for t in tiers
        ]

    @field_serializer("tiers")
    def _pack_tiers(self, tiers: list[Tier], info: SerializationInfo) -> Any:
        if info.mode_is_json():
            return [[t.min_quantity, str(t.unit_price)] for t in tiers]
        return [t.model_dump() for t in tiers]


class RoundResult(BaseModel):
    """After a round closes: each supplier's rank per lot, on its latest bid so far."""

    round: int
    closed_at: datetime
    how: str
    ranks: dict[str, dict[str, int]] = Field(default_factory=dict)  # lot -> supplier -> rank


class NegotiationState(BaseModel):
    round: int = 0  # the open (or last) round, 1-based; 0 before the first opens
    rounds: int  # how many rounds this buy runs: the terms', or 1 with a single qualified supplier
    round_opened_at: datetime | None = None
    # The open round closes at the stage's deadline (`BuyState.stage_deadline`); states recorded
    # when it was also held here as `round_deadline` still load (the copy is ignored).
    extensions_used: int = 0
    # Each supplier's latest bid on each lot, at most one per (supplier, lot): all any rule reads
    # (the decrement, ranks, evaluation, the coalition's prices). Earlier bids are in the audit log
    # and PostgreSQL, so the state grows with suppliers and lots, never with rounds or resubmissions.
    bids: list[Bid] = Field(default_factory=list)
    results: list[RoundResult] = Field(default_factory=list)
    # How many bids each lot took in all (`lot.cancelled`'s bids set aside) and in the open round
    # (`round.closed`). None in states written when every bid was kept: then counted from those.
    lot_bids: dict[str, int] | None = None
    round_bids: dict[str, int] | None = None

    @model_validator(mode="after")
    def _latest_only(self) -> NegotiationState:
        if self.lot_bids is None:
            self.lot_bids = dict(Counter(b.lot_id for b in self.bids))
        if self.round_bids is None:
            self.round_bids = dict(Counter(b.lot_id for b in self.bids if b.round == self.round))
        latest = {(b.supplier, b.lot_id): b for b in self.bids}
        if len(latest) != len(self.bids):
            self.bids = list(latest.values())
        return self

    def take(self, bid: Bid) -> None:
        """A new bid replaces its supplier's earlier one on the lot."""
        self.bids = [b for b in self.bids if (b.supplier, b.lot_id) != (bid.supplier, bid.lot_id)]
        self.bids.append(bid)
        for counts in (self.lot_bids, self.round_bids):
            assert counts is not None, "counted on load"
            counts[bid.lot_id] = counts.get(bid.lot_id, 0) + 1

    def open_round(self, number: int, at: datetime) -> None:
        self.round = number
        self.round_opened_at = at
        self.extensions_used = 0
        self.round_bids = {}

    def bids_on(self, lot_id: str, *, this_round: bool = False) -> int:
        """How many bids the lot took, in all or in the open round (resubmissions included)."""
        counts = self.round_bids if this_round else self.lot_bids
        return (counts or {}).get(lot_id, 0)


class Marks(BaseModel):
    """The lead's quality and social value marks (0-100) for one supplier's tender for one lot."""

    quality: int = Field(ge=0, le=100)
    social_value: int = Field(ge=0, le=100)


ChallengeStatus = Literal["open", "dismissed", "upheld"]


class Challenge(BaseModel):
    challenge_id: str
    supplier: str
    grounds: str
    lodged_at: datetime
    status: ChallengeStatus = "open"
    note: str = ""
    remedy: str = ""
    decided_at: datetime | None = None


class StandstillState(BaseModel):
    notice_on: date  # the day the award notice was published (standstill day 1 if a working day)
    working_days: int
    calendar: str
    last_day: date
    contracts_from: date
    suspended_on: date | None = None
    days_left: int | None = None  # working days still to run while suspended


class Question(BaseModel):
    """A supplier's clarification question. Its text lives in the audit log, not in the state."""

    question_id: str
    supplier: str
    lot_id: str | None = None
    asked_at: datetime
    publish: Literal["all", "asker"] | None = None  # set once answered


LotCancelReason = Literal["noDemand", "expensesCut", "unFixable", "forceMajeure", "noOffer"]


class LotCancellation(BaseModel):
    reason_code: LotCancelReason
    reason: str
    at: datetime


class LotAward(BaseModel):
    lot_id: str
    supplier: str
    unit_price: Decimal
    committed_quantity: int
    value: Decimal
    tiers: list[Tier]


# A buy holds at most this many council-lot demand lines (10,000 councils on two lots, or 400 on 50):
# what keeps the workflow's state, and so every payload that carries it, bounded (README, "Scale").
MAX_DEMAND_LINES = 20_000


def _pence(amount: Decimal) -> int:
    return int(amount * 100)


def _pounds(pence: int) -> Decimal:
    return Decimal(pence).scaleb(-2)


# Update ids of applied commands a buy carries from run to run: two full runs at the largest
# message budget (`JointBuyInput.messages_per_run` <= 1,800). About 40 bytes each, so 150 kB at most.
RECENT_COMMANDS = 3_600


class AppliedCommands(BaseModel):
    """The update ids of the commands one run of the buy's workflow applied (see `workflows.once`)."""

    run_id: str
    update_ids: list[str] = Field(default_factory=list)


class BuyState(BaseModel):
    """Everything a run of the joint-buy workflow needs to carry into the next run.

    As JSON (every Temporal payload that carries it: the continue-as-new input, the `get_state`
    query result) the per-council maps are packed: a council's demand line is `[lot index, quantity,
    baseline, quantity signed up, budget ceiling, sign-up price limit]` (amounts as strings),
    trailing zeros and nulls left off; a sign-up without demand on its lot (not reachable through the
    rules) `[lot index, quantity, limit]`. A third of the size of the named fields; both are read.
    The suppliers travel packed too, their reasons once each (`packed_suppliers`).
    """

    buy_id: str
    lead: str
    terms: BuyTerms
    stage: Stage = Stage.DRAFT
    # When the stage's window ends (in negotiation: the open round's); None while it has none.
    stage_deadline: datetime | None = None
    # council -> lines; read from a payload, each council's lines are decoded when first used
    demand: CouncilLines[DemandLine] = Field(default_factory=CouncilLines)
    signups: CouncilLines[SignUpLine] = Field(default_factory=CouncilLines)
    # The aggregate of `demand` and `signups` (None in states written before it was carried: then
    # computed once from the lines, `procurement.demand.totals`).
    totals: DemandTotals | None = None
    dropped_out: list[str] = Field(default_factory=list)
    unsuccessful_lots: dict[str, str] = Field(default_factory=dict)
    cancelled_lots: dict[str, LotCancellation] = Field(default_factory=dict)
    suppliers: dict[str, SupplierEntry] = Field(default_factory=dict)
    annual_contract_value: Decimal | None = None
    negotiation: NegotiationState | None = None
    # lot -> supplier -> the lead's marks, entered during evaluation
    marks: dict[str, dict[str, Marks]] = Field(default_factory=dict)
    evaluation: dict[str, list[ScoredTender]] = Field(default_factory=dict)  # lot -> best first
    award: dict[str, LotAward] = Field(default_factory=dict)  # lots with a notified winner
    # lot -> the councils of its stable coalition (set at evaluation; absent: every signed-up council)
    coalition: dict[str, list[str]] = Field(default_factory=dict)
    # lots the coalition left unsuccessful: a re-evaluation settles them again from the full sign-up
    coalition_failed: list[str] = Field(default_factory=list)
    standstill: StandstillState | None = None
    # The bank holidays the buy decides its standstill with, fetched once (an activity) and kept.
    bank_holidays: RecordedCalendar | None = None
    challenges: list[Challenge] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    # How many contracts the award created (one per council per lot). The contracts themselves are
    # the `contract.created` events and their projection in PostgreSQL, not state: at 20,000
    # council-lot lines they would make the `get_state` result several MB. `contracts` is read only
    # in states written when it held them.
    contract_count: int = 0
    contracts: list[ContractLine] = Field(default_factory=list)
    outcome_reason: str = ""
    next_seq: int = 1
    # The commands recent runs applied, oldest first, at most RECENT_COMMANDS ids in all: a repeat
    # that reaches a later run is answered from the run that applied it, never applied again.
    applied: list[AppliedCommands] = Field(default_factory=list)

    @field_serializer("demand", "signups")
    def _lines(self, lines: Any, info: SerializationInfo) -> Any:
        if info.mode_is_json():
            return None  # packed, both maps together, by `_packed`
        return {council: [line.model_dump() for line in ls] for council, ls in lines.items()}

    @model_serializer(mode="wrap")
    def _packed(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not (info.mode_is_json() and isinstance(data, dict)):
            return data
        # Plain lists only: this runs in the workflow task that continues as new. A council whose
        # lines nothing read this run goes out as it came in, without being decoded.
        index = {lot_id: i for i, lot_id in enumerate(self.terms.lot_ids())}
        demand: dict[str, list[list[Any]]] = {}
        signups: dict[str, list[list[Any]]] = {}
        for council in self.demand:
            as_read = _unchanged(self.demand, self.signups, council)
            if as_read is not None:
                demand[council] = as_read
                continue
            signed = {s.lot_id: s for s in self.signups.get(council, ())}
            demand[council] = [
                _packed_line(index, d, signed.pop(d.lot_id, None)) for d in self.demand[council]
            ]
            if signed:  # signed up on a lot it registered no demand for: kept on its own
                signups[council] = [_packed_sign_up(index, s) for s in signed.values()]
        for council in self.signups:
            if council not in self.demand:
                entry = packed_entry(self.signups, council)
                if entry is not None and entry.raw[0] is None:
                    signups[council] = entry.raw[1]
                else:
                    signups[council] = [_packed_sign_up(index, s) for s in self.signups[council]]
        data["demand"], data["signups"] = demand, signups
        if data.get("suppliers"):
            data["suppliers"] = packed_suppliers(data["suppliers"])
        return data

    @model_validator(mode="before")
    @classmethod
    def _unpacked(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("suppliers"), list):
            data = {**data, "suppliers": unpacked_suppliers(data["suppliers"])}
        if not isinstance(data, dict) or not _is_packed(data):
            return data
        terms = data["terms"]
        lots = terms.lot_ids() if isinstance(terms, BuyTerms) else [lot["id"] for lot in terms["lots"]]
        # Kept packed: each council's models are built when something first reads that council.
        demand: dict[str, list[DemandLine] | Packed] = {}
        signups: dict[str, list[SignUpLine] | Packed] = {}
        read_demand = _demand_reader(lots)
        read_signups = _sign_up_reader(lots)
        extra = data.get("signups") or {}
        for council, lines in (data.get("demand") or {}).items():
            demand[council] = Packed(lines, read_demand)
            alone = extra.get(council)
            if alone or any(len(line) > 3 and line[3] for line in lines):
                signups[council] = Packed((lines, alone or []), read_signups)
        for council, alone in extra.items():
            if council not in signups:
                signups[council] = Packed((None, alone), read_signups)
        return {**data, "demand": CouncilLines(demand), "signups": CouncilLines(signups)}


def _packed_line(index: dict[str, int], d: DemandLine, s: SignUpLine | None) -> list[Any]:
    """`[lot index, quantity, baseline, quantity signed up, budget ceiling, sign-up price limit]`,
    amounts as strings, trailing zeros and nulls left off."""
    line: list[Any] = [
        index[d.lot_id],
        d.quantity,
        str(d.baseline_unit_price),
        s.quantity if s else 0,
        None if d.budget_ceiling_gbp is None else str(d.budget_ceiling_gbp),
        None if s is None or s.max_unit_price is None else str(s.max_unit_price),
    ]
    while len(line) > 3 and not line[-1]:
        line.pop()  # trailing zeros and nulls: not signed up, no ceiling, no limit
    return line


def _packed_sign_up(index: dict[str, int], s: SignUpLine) -> list[Any]:
    line: list[Any] = [index[s.lot_id], s.quantity]
    if s.max_unit_price is not None:
        line.append(str(s.max_unit_price))
    return line


def _unchanged(demand: Any, signups: Any, council: str) -> list[list[Any]] | None:
    """The council's packed lines as they were read, if neither its demand nor its sign-up changed."""
    entry = packed_entry(demand, council)
    if entry is None:
        return None
    signed = packed_entry(signups, council)
    if signed is not None:
        joint, alone = signed.raw
        return cast(list[list[Any]], entry.raw) if joint is entry.raw and not alone else None
    if council in signups or any(len(line) > 3 and line[3] for line in entry.raw):
        return None  # signed up since it was read, or its sign-up was taken away
    return cast(list[list[Any]], entry.raw)


def _demand_reader(lots: list[str]) -> Any:
    def read(lines: list[list[Any]]) -> list[DemandLine]:
        return [
            DemandLine(
                lot_id=lots[line[0]],
                quantity=line[1],
                baseline_unit_price=line[2],
                budget_ceiling_gbp=line[4] if len(line) > 4 else None,
            )
            for line in lines
        ]

    return read


def _sign_up_reader(lots: list[str]) -> Any:
    def read(raw: tuple[list[list[Any]] | None, list[list[Any]]]) -> list[SignUpLine]:
        joint, alone = raw
        confirmed = [
            SignUpLine(
                lot_id=lots[line[0]],
                quantity=line[3],
                max_unit_price=line[5] if len(line) > 5 else None,
            )
            for line in joint or ()
            if len(line) > 3 and line[3]
        ]
        confirmed.extend(
            SignUpLine(
                lot_id=lots[line[0]], quantity=line[1], max_unit_price=line[2] if len(line) > 2 else None
            )
            for line in alone
        )
        return confirmed

    return read


def _is_packed(data: dict[str, Any]) -> bool:
    for key in ("demand", "signups"):
        lines_by_council = data.get(key)
        if isinstance(lines_by_council, CouncilLines):
            return False
        for lines in (lines_by_council or {}).values():
            return bool(lines) and isinstance(lines[0], list)
    return False
