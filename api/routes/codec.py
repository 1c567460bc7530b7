"""The payload codec over HTTP, for the Temporal Web UI and CLI (`--codec-endpoint`): an operator
reads a buy's history decoded. The remote-codec protocol: `POST …/decode` and `…/encode` with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`, answered in the same shape."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.common.v1 import Payloads

from api.auth import Principal, Role
from api.deps import AppSettings, get_gateway, get_pool, get_principal
from api.problems import BODY, ROLE, Problem, problems
from core.codec import CodecError

router = APIRouter(prefix="/v1/codec", tags=["operations"])

UI = Principal(key_id="codec-ui", role=Role.OPERATOR, organisation_id="temporal-ui")


class PayloadJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict, max_length=32, description="metadata values, base64"
    )
    data: str = Field("", description="the payload's bytes, base64")


class PayloadsJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payloads: list[PayloadJson] = Field(default_factory=list, max_length=10_000)


def _from_local_ui(request: Request, origins: str) -> bool:
    """A browser on this machine showing one of the configured Temporal Web UIs (development)."""
    allowed = {o.strip().rstrip("/") for o in origins.split(",") if o.strip()}
    origin = request.headers.get("origin", "").rstrip("/")
    if not allowed or origin not in allowed or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def codec_caller(request: Request, settings: AppSettings) -> Principal:
    """An operator or the admin; or, in development, the local Web UI (`codec_ui_origins`)."""
    if _from_local_ui(request, settings.codec_ui_origins):
        return UI
    principal = await get_principal(request, await get_pool(request), settings)
    if principal.role not in (Role.OPERATOR, Role.ADMIN):
        raise Problem(
            403, f"decoding payloads needs an operator or admin token; yours is {principal.role.value}"
        )
    return principal


CodecCaller = Annotated[Principal, Depends(codec_caller)]


async def _apply(request: Request, body: PayloadsJson, decode: bool) -> dict[str, Any]:
    codec = (await get_gateway(request)).client.data_converter.payload_codec
    if codec is None:
        raise Problem(503, "payload encryption is not configured (JOINTBUY_PAYLOAD_KEYS)")
    try:
        payloads = json_format.ParseDict(body.model_dump(), Payloads())
    except (json_format.ParseError, DecodeError) as err:
        raise Problem(422, f"not Temporal payloads: {err}") from err
    try:
        out = await (codec.decode if decode else codec.encode)(payloads.payloads)
    except (CodecError, DecodeError) as err:
        raise Problem(422, str(err)) from err
    result: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=out))
    return {"payloads": result.get("payloads", [])}


@router.post("/decode", response_model=PayloadsJson, responses=problems(ROLE, BODY))
async def decode(body: PayloadsJson, request: Request, caller: CodecCaller) -> dict[str, Any]:
    """Decrypt payloads (unencrypted ones come back as they are)."""
    return await _apply(request, body, decode=True)


@router.post("/encode", response_model=PayloadsJson, responses=problems(ROLE, BODY))
async def encode(body: PayloadsJson, request: Request, caller: CodecCaller) -> dict[str, Any]:
    """Encrypt payloads with the newest key."""
    return await _apply(request, body, decode=False)
