"""Request and response bodies of the public API (see API.md)."""

from __future__ import annotations

from datetime import datetime
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
