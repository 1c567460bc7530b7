"""Inputs and outputs of the joint-buy workflow and its activities: one model each, shared by
the workflow, the worker and the API (which reaches the workflow only through these types)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from procurement.models import (
    BuyState,
    DemandLine,
    DomainEvent,
    LotAggregate,
    LotCancelReason,
    Requirements,
    SignUpLine,
    Stage,
)
from procurement.pricing import Tier

RECORD_EVENTS = "record_events"
BANK_HOLIDAYS = "bank_holidays"
# Error type of a command refused only because the run is handing over to its successor
# (continue-as-new): nothing was applied, and the same command succeeds once the next run is up.
RUN_HANDOVER = "RunHandover"
# Error type of a command refused for a moment because the buy is in the middle of work that takes
# several workflow tasks and must not be interleaved (the award writing its contracts): nothing was
# applied, and the same command is taken (or refused by the rules) once that work is done.
BUY_BUSY = "BuyBusy"
# Error type of a command whose event could not be recorded (the API answers 503).
EVENT_LOG_FAILURE = "EventLogFailure"
# Error type of a repeat of a command (the same update id) that an earlier run of the buy applied:
# nothing was applied again; details: (the id of the run that applied it,), whose update outcome is
# the first answer.
APPLIED_EARLIER = "AppliedEarlier"


class JointBuyInput(BaseModel):
    state: BuyState
    # A run accepts this many messages before it continues as new (Temporal caps a run at 2,000
    # updates; the server never suggests continue-as-new on message counts, so we count).
    messages_per_run: int = Field(default=1000, ge=10, le=1800)
    # How long one assurance check may keep failing (its provider down, its answer unreadable)
    # before it is reported unavailable and the supplier flagged for the lead's decision.
    check_patience_seconds: int = Field(default=900, ge=5, le=7 * 24 * 3600)
    # Whoever sends this buy's commands records the events their answers carry before it answers
    # (`Receipt.unrecorded`; the API does, `api.gateway`). Without it a command waits for the
    # worker's own write, so a client of Temporal alone still answers only once its event is in
    # PostgreSQL.
    answers_carry_events: bool = False


class Command(BaseModel):
    """A command to a buy's workflow, from the API.

    `recorded_through`: the buy's events up to this seq are in PostgreSQL, as far as the API that
    sends the command knows (it recorded them itself from earlier answers, see `Receipt`). The
    workflow then stops carrying them in later answers, so an answer carries only the events of the
    commands still in flight. Set by the API (`api.gateway`), never from a request body.
    """

    recorded_through: int = 0


class RegisterDemand(Command):
    council: str
    lines: list[DemandLine]


class WithdrawDemand(Command):
    council: str


class SignUp(Command):
    council: str
    lines: list[SignUpLine]


class CloseStage(Command):
    stage: Stage
    actor: str


class Cancel(Command):
    reason: str = Field(min_length=1, max_length=2000)
    actor: str


class Receipt(BaseModel):
    """What an accepted command returns: its event's seq, the stage and the aggregate it left.

    `unrecorded` holds the buy's events up to `seq` that the workflow did not yet know to be in
    PostgreSQL (at most `MAX_CARRIED_EVENTS`); the API records them (idempotently, by seq) before it
    answers, so a command still answers only once its event is in PostgreSQL. Empty when the
    workflow waited for its own event log instead. Never part of an HTTP answer.
    """

    seq: int
    stage: Stage
    aggregate: dict[str, LotAggregate] = Field(default_factory=dict)
    unrecorded: list[DomainEvent] = Field(default_factory=list)


class RecordEvents(BaseModel):
    buy_id: str
    events: list[DomainEvent]


class BuyOutcome(BaseModel):
    stage: Stage
    reason: str = ""


class RegisterSupplier(Command):
    company_number: str
    name: str


class DecideExclusion(Command):
    company_number: str
    exclude: bool
    reason: str = Field(min_length=1, max_length=2000)
    actor: str


class CheckSupplier(BaseModel):
    """Input of every assurance check activity."""

    buy_id: str
    company_number: str
    requirements: Requirements
    annual_contract_value: Decimal


# One activity per kind of check, each with its own timeout and retry policy in the workflow.
CHECK_COMPANY_STATUS = "check_company_status"
CHECK_DEBARMENT = "check_debarment"
CHECK_FINANCIAL_STANDING = "check_financial_standing"
CHECK_INSURANCE = "check_insurance"
CHECK_CERTIFICATIONS = "check_certifications"
CHECK_MODERN_SLAVERY = "check_modern_slavery"
CHECK_CARBON_REDUCTION_PLAN = "check_carbon_reduction_plan"


class SubmitBid(Command):
    company_number: str
    lot_id: str
    # Checked by the workflow's rules (422 with the field), not here: a malformed ladder must reach
    # the validator, never fail to deserialize inside the workflow.
    tiers: list[dict[str, object]]


class BidReceipt(Receipt):
    round: int
    lot_id: str
    evaluated_unit_price: Decimal
    previous_unit_price: Decimal | None = None
    committed_quantity: int
    round_closes_at: datetime
    extensions_used: int
    tiers: list[Tier]


class EnterScores(Command):
    company_number: str
    lot_id: str
    quality: int
    social_value: int
    actor: str


class ScoresReceipt(Receipt):
    still_to_score: int


class LodgeChallenge(Command):
    company_number: str
    grounds: str = Field(min_length=1, max_length=10_000)


class ChallengeReceipt(Receipt):
    challenge_id: str
    days_left: int


class CorrectedMarks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_id: str
    quality: int = Field(ge=0, le=100, strict=True)
    social_value: int = Field(ge=0, le=100, strict=True)


class DecideChallenge(Command):
    challenge_id: str
    outcome: Literal["dismissed", "upheld"]
    note: str = Field(default="", max_length=10_000)
    remedy: Literal["re-evaluate", "cancel"] = "re-evaluate"
    corrected_scores: list[CorrectedMarks] = Field(default_factory=list)
    actor: str


class AskQuestion(Command):
    company_number: str
    lot_id: str | None = None
    # Checked by the workflow's rule (422 naming the field): never refused while deserializing.
    question: str


class QuestionReceipt(Receipt):
    question_id: str


class AnswerQuestion(Command):
    question_id: str
    answer: str
    publish: Literal["all", "asker"]
    actor: str
    # The question as recorded when asked (the API reads it back), so the answer's event carries
    # both; the workflow's state keeps no question texts.
    question: str = Field(default="", max_length=10_000)


class CancelLot(Command):
    lot_id: str
    reason_code: LotCancelReason
    reason: str = Field(min_length=1, max_length=2000)
    actor: str


class BankHolidaysRequest(BaseModel):
    """The bank holidays of `calendar` for `years` years from `first_year`."""

    calendar: str
    first_year: int
    years: int = Field(default=3, ge=1, le=10)
