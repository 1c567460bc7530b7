"""Inputs and outputs of the joint-buy workflow and its activities: one model each, shared by
the workflow, the worker and the API (which reaches the workflow only through these types)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from procurement.models import (
    BuyState,
    DemandLine,
    DomainEvent,
    LotAggregate,
    Requirements,
    SignUpLine,
    Stage,
)

WORKFLOW_NAME = "JointBuyWorkflow"
RECORD_EVENTS = "record_events"
# Error type of a command refused only because the run is handing over to its successor
# (continue-as-new): nothing was applied, and the same command succeeds once the next run is up.
RUN_HANDOVER = "RunHandover"


class JointBuyInput(BaseModel):
    state: BuyState
    # A run accepts this many messages before it continues as new (Temporal caps a run at 2,000
    # updates; the server never suggests continue-as-new on message counts, so we count).
    messages_per_run: int = Field(default=1000, ge=10, le=1800)


class RegisterDemand(BaseModel):
    council: str
    lines: list[DemandLine]


class WithdrawDemand(BaseModel):
    council: str


class SignUp(BaseModel):
    council: str
    lines: list[SignUpLine]


class CloseStage(BaseModel):
    stage: Stage
    actor: str


class Cancel(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    actor: str


class Receipt(BaseModel):
    """What an accepted command returns once its event is in PostgreSQL."""

    seq: int
    stage: Stage
    aggregate: dict[str, LotAggregate] = Field(default_factory=dict)


class RecordEvents(BaseModel):
    buy_id: str
    events: list[DomainEvent]


class BuyOutcome(BaseModel):
    stage: Stage
    reason: str = ""


class RegisterSupplier(BaseModel):
    company_number: str
    name: str


class DecideExclusion(BaseModel):
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
