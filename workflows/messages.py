"""Inputs and outputs of the joint-buy workflow and its activities: one model each, shared by
the workflow, the worker and the API (which reaches the workflow only through these types)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from procurement.models import BuyState, DemandLine, DomainEvent, LotAggregate, SignUpLine, Stage

WORKFLOW_NAME = "JointBuyWorkflow"
RECORD_EVENTS = "record_events"


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
