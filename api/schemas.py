"""Request and response bodies of the public API (see API.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.auth import Role
from messages.joint_buy import CorrectedMarks
from procurement.clarifications import MAX_TEXT
from procurement.councils import GSS_PATTERN
from procurement.models import BuyTerms, DemandLine, LotCancelReason, SignUpLine, Stage
from procurement.pricing import MAX_TIERS
from procurement.suppliers import COMPANY_NUMBER

GssCode = Annotated[str, Field(pattern=GSS_PATTERN, examples=["E06000001"])]
# A company number in a path (registry, supplier profile, exclusion decision).
CompanyNumber = Annotated[
    str,
    Path(
        pattern=COMPANY_NUMBER,
        description="Companies House number: 8 digits, or 2 capital letters and 6 digits",
        examples=["01234567", "SC123456"],
    ),
]
# Free text a person writes (reasons, grounds, names): trimmed, and never blank once trimmed.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
# An organisation id: a GSS code, a company number or a lead's short code; printable, no spaces.
OrganisationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["E06000001"])]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    organisation_id: OrganisationId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        examples=["Hartlepool procurement system"]
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    token: str
    role: Role
    organisation_id: str
    name: str


class JointBuyCreate(BuyTerms):
    """The lead's terms for a new joint buy."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Laptops for 2027",
                    "description": "14-inch business laptops for council staff",
                    "cpv_code": "30213100",
                    "lots": [{"id": "laptops", "title": "14-inch laptop", "unit": "device"}],
                    "estimated_value_gbp": "1800000",
                    "demand_closes_at": "2027-01-15T17:00:00+00:00",
                    "sign_up_window": "P7D",
                    "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 100}},
                }
            ]
        },
    )


class DemandRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"lines": [{"lot_id": "laptops", "quantity": 250, "baseline_unit_price": "949.99"}]}]
        },
    )
    # Optional: defaults to the caller's own GSS code; any other code is refused (403).
    council: GssCode | None = None
    lines: list[DemandLine] = Field(min_length=1, max_length=50)


class SignUpRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lines": [{"lot_id": "laptops", "quantity": 240}]}]},
    )
    council: GssCode | None = None
    lines: list[SignUpLine] = Field(min_length=1, max_length=50)


class CloseStageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Stage


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(examples=["budget withdrawn"])


class EventOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int
    at: datetime
    type: str
    actor: str
    data: dict[str, object]


class ImportCounts(BaseModel):
    read: int
    inserted: int
    updated: int


# Strict: a mark is a JSON integer, not `true` or "70".
Mark = Annotated[int, Field(ge=0, le=100, strict=True, examples=[70])]


class BidSubmission(BaseModel):
    """A sealed bid for one lot: a unit-price ladder by volume. The ladder's rules (quantities
    increasing, prices above zero with at most 2 decimal places, no dearer tier for more volume)
    are the workflow's, so a broken rule comes back as a 422 naming the tier."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lot_id": "laptops",
                    "tiers": [
                        {"min_quantity": 1, "unit_price": "899.00"},
                        {"min_quantity": 1000, "unit_price": "829.50"},
                    ],
                }
            ]
        },
    )
    lot_id: str = Field(min_length=1, max_length=64)
    tiers: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_TIERS)


class ScoresEntry(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"supplier": "01234567", "lot_id": "laptops", "quality": 70, "social_value": 55}]
        },
    )
    supplier: str = Field(min_length=1, max_length=64)
    lot_id: str = Field(min_length=1, max_length=64)
    quality: Mark
    social_value: Mark


class ChallengeLodge(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"grounds": "our quality answers were marked against the wrong lot"}]
        },
    )
    grounds: LongText


class ChallengeDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "dismissed", "note": "the marking followed the published criteria"},
                {
                    "outcome": "upheld",
                    "note": "quality re-marked",
                    "remedy": "re-evaluate",
                    "corrected_scores": [{"lot_id": "laptops", "quality": 85, "social_value": 60}],
                },
            ]
        },
    )
    outcome: Literal["dismissed", "upheld"]
    note: str = Field(default="", max_length=10_000)
    remedy: Literal["re-evaluate", "cancel"] = "re-evaluate"
    corrected_scores: list[CorrectedMarks] = Field(default_factory=list, max_length=50)


# A question or an answer: trimmed, never blank, at most MAX_TEXT characters.
ClarificationText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
]


class QuestionAsk(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "Is delivery to each council's depot included?"}]},
    )
    question: ClarificationText
    lot_id: str | None = Field(default=None, min_length=1, max_length=64)


class QuestionAnswer(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"answer": "Yes: one delivery point per council.", "publish": "all"}]
        },
    )
    answer: ClarificationText
    publish: Literal["all", "asker"]


class LotCancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason_code": "expensesCut", "reason": "monitor budgets withdrawn"}]
        },
    )
    reason_code: LotCancelReason
    reason: Reason


# ---- Responses ------------------------------------------------------------------------------
# What each route answers, by resource. Money is a decimal string in GBP ("949.99"). Fields that
# only some callers see (a council its own demand, a supplier its bids, the lead the bidding) are
# optional and left out for everyone else.


class Out(BaseModel):
    """A response body: the documented fields, nothing else."""

    model_config = ConfigDict(extra="forbid")


MoneyOut = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["949.99"])]


# Joint buys


class JointBuySummary(Out):
    id: str
    title: str
    stage: Stage
    lead: str
    stage_deadline: datetime | None
    outcome_reason: str | None
    created_at: datetime
    updated_at: datetime


class Deadlines(Out):
    demand_closes_at: datetime
    sign_up_window: str = Field(examples=["P7D"])
    current_stage_closes_at: datetime | None


class LotOut(Out):
    id: str
    title: str
    unit: str
    status: str
    status_reason: str | None


class LotAggregateOut(Out):
    councils: int
    indicative_quantity: int
    signed_up_councils: int
    committed_quantity: int


class RoundOut(Out):
    number: int
    rounds: int | None
    closes_at: datetime | None
    extensions_used: int
    best_and_final: bool
    open: bool


class StandstillOut(Out):
    notice_on: date
    working_days: int | None
    calendar: str | None
    last_day: date | None
    contracts_from: date | None
    working_days_left: int | None


class DemandLineOut(Out):
    lot_id: str
    quantity: int
    baseline_unit_price: Decimal
    budget_ceiling_gbp: Decimal | None
    registered_at: datetime


class SignUpLineOut(Out):
    lot_id: str
    quantity: int
    max_unit_price: MoneyOut | None = None  # the council's price limit, if it set one
    confirmed_at: datetime
    coalition: Literal["in", "priced_out"] | None = None  # once the lot settled
    priced_out_at: MoneyOut | None = None


class CouncilPart(Out):
    """A council's own part in a buy."""

    council: str
    council_status: str | None
    demand: list[DemandLineOut]
    sign_up: list[SignUpLineOut]


class TierOut(Out):
    min_quantity: int
    unit_price: MoneyOut | None


class OwnBid(Out):
    round: int
    lot_id: str
    tiers: list[TierOut]
    evaluated_unit_price: MoneyOut | None
    previous_unit_price: MoneyOut | None
    submitted_at: datetime


class OwnRank(Out):
    round: int
    lot_id: str
    rank: int
    bidders: int


class LatestRank(Out):
    round: int
    rank: int
    bidders: int


class CouncilStatus(Out):
    council: str
    status: str
    updated_at: datetime


class LotBidding(Out):
    bids: int
    bidders: int
    bidders_this_round: int


class Tender(Out):
    company_number: str
    name: str | None
    round: int
    evaluated_unit_price: MoneyOut | None
    submitted_at: datetime


class JointBuyOut(JointBuySummary):
    """One joint buy as the caller may see it."""

    description: str
    cpv_code: str
    deadlines: Deadlines
    lots: list[LotOut]
    aggregate: dict[str, LotAggregateOut]
    round: RoundOut | None
    standstill: StandstillOut | None
    terms: dict[str, Any]
    # a council: its own part
    council: str | None = None
    council_status: str | None = None
    demand: list[DemandLineOut] | None = None
    sign_up: list[SignUpLineOut] | None = None
    # a supplier: its own bids and its latest rank per lot
    bids: list[OwnBid] | None = None
    ranks: dict[str, LatestRank] | None = None
    # the lead and operators
    councils: list[CouncilStatus] | None = None
    bidding: dict[str, LotBidding] | None = None
    tenders: dict[str, list[Tender]] | None = None


class CouncilAnswer(CouncilPart):
    """A council's command accepted: its part and the buy's aggregate after it."""

    buy_id: str
    stage: Stage
    seq: int
    aggregate: dict[str, LotAggregateOut]


# Councils register


class CouncilOut(Out):
    gss_code: str
    local_authority_code: str
    official_name: str
    nice_name: str
    nation: str
    region: str
    authority_type: str
    is_current: bool


# Negotiation


class BidAnswer(Out):
    buy_id: str
    seq: int
    stage: Stage
    round: int
    lot_id: str
    evaluated_unit_price: MoneyOut | None
    previous_unit_price: MoneyOut | None
    committed_quantity: int
    round_closes_at: datetime | None
    extensions_used: int
    tiers: list[TierOut]


class MyBids(Out):
    buy_id: str
    stage: Stage
    round: RoundOut | None
    bids: list[OwnBid]
    ranks: list[OwnRank]


class ScoresAnswer(Out):
    buy_id: str
    seq: int
    stage: Stage
    still_to_score: int


# Assurance


class CheckOut(Out):
    check: str
    passed: bool
    flagged: bool
    reason: str
    checked_at: datetime


class SupplierAssurance(Out):
    company_number: str
    name: str
    status: str
    reason: str | None
    registered_at: datetime
    checks: list[CheckOut]


class SupplierAnswer(SupplierAssurance):
    buy_id: str
    seq: int


class AssuranceOut(Out):
    buy_id: str
    stage: Stage
    counts: dict[str, int]
    suppliers: list[SupplierAssurance]


# Award, challenges and contracts


class ChallengeOut(Out):
    challenge_id: str
    supplier: str
    grounds: str
    lodged_at: datetime
    working_days_left: int | None
    status: str
    note: str | None
    remedy: str | None
    corrected_scores: list[dict[str, Any]]
    decided_by: str | None
    decided_at: datetime | None


class ChallengeLodged(Out):
    challenge_id: str
    buy_id: str
    seq: int
    stage: Stage
    working_days_left: int | None


class ChallengeDecided(ChallengeOut):
    buy_id: str
    seq: int
    stage: Stage


class ChallengesOut(Out):
    buy_id: str
    stage: Stage
    challenges: list[ChallengeOut]


class AssessmentSummaryOut(Out):
    company_number: str
    rank: int
    tenders: int
    successful: bool
    own: dict[str, Any]
    winning: dict[str, Any]
    recorded_at: datetime


class Winner(Out):
    company_number: str
    name: str


class LotAward(Out):
    lot_id: str
    status: str
    winner: Winner | None
    unit_price: MoneyOut | None = None
    committed_quantity: int | None = None
    total_value: MoneyOut | None = None
    total_score: str | None = None
    tenders: int | None = None
    assessment_summaries: list[AssessmentSummaryOut]
    # the lead: every pass and the final coalition; a council: its own place in it
    coalition: dict[str, Any] | None = None


class AwardOut(Out):
    buy_id: str
    stage: Stage
    notice_published_at: datetime | None
    standstill: StandstillOut | None
    lots: list[LotAward]


class ContractOut(Out):
    """One council's contract for one lot; a supplier sees no baseline or saving."""

    council: str
    council_name: str
    lot: str
    supplier: str
    supplier_name: str
    quantity: int
    unit_price: MoneyOut | None
    total: MoneyOut | None
    baseline_unit_price: MoneyOut | None = None
    baseline_total: MoneyOut | None = None
    saving: MoneyOut | None = None
    standalone_unit_price: MoneyOut | None = None
    aggregation_dividend: MoneyOut | None = None
    created_at: datetime


class ContractTotals(Out):
    contracts: int
    quantity: int
    total: MoneyOut | None = None
    baseline_total: MoneyOut | None = None
    saving: MoneyOut | None = None
    aggregation_dividend: MoneyOut | None = None


class ContractsOut(Out):
    buy_id: str
    stage: Stage
    contracts: list[ContractOut]
    totals: ContractTotals


# Operations


class Health(Out):
    status: Literal["ok"]


class Readiness(Out):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


def answer(model: type[BaseModel], body: Any) -> dict[str, Any]:
    """A command's answer checked against its declared model (an idempotent answer is stored and
    replayed as plain JSON, so it is checked here, once): what the model leaves out is not sent."""
    out: dict[str, Any] = model.model_validate(body).model_dump(mode="json", exclude_unset=True)
    return out


# Clarification questions and lots


class QuestionOut(Out):
    question_id: str
    lot_id: str | None
    question: str
    asked_at: datetime
    answer: str | None
    published: bool
    answered_at: datetime | None
    asked_by: str | None = None  # the lead only
    publish: str | None = None  # the lead only
    mine: bool | None = None  # a supplier: whether it asked


class QuestionAsked(Out):
    question_id: str
    buy_id: str
    seq: int
    stage: Stage


class QuestionAnswered(QuestionOut):
    buy_id: str
    seq: int
    stage: Stage


class QuestionsOut(Out):
    buy_id: str
    questions: list[QuestionOut]


class LotCancelled(Out):
    buy_id: str
    lot_id: str
    status: Literal["cancelled"]
    reason_code: str
    seq: int
    stage: Stage
