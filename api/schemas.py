"""Request and response bodies of the public API (see API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.auth import Role
from procurement.models import BuyTerms, DemandLine, SignUpLine, Stage

GssCode = Annotated[str, Field(pattern=r"^[ENSW]\d{8}$", examples=["E06000001"])]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    organisation_id: str = Field(min_length=1, max_length=64, examples=["E06000001"])
    name: str = Field(min_length=1, max_length=200, examples=["Hartlepool procurement system"])


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
    reason: str = Field(min_length=1, max_length=2000, examples=["budget withdrawn"])


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
