"""Signed event push: which subscriptions are acceptable, who may receive which event, and what a
delivery looks like on the wire (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
`webhook-signature`, signed by the `standardwebhooks` package).

A receiver gets an event only if its organisation may see it, and in the shape it may see it, by the
same table as the audit log (`procurement.visibility`, as `GET /v1/joint-buys/{id}/events` uses it):
a lead only its own buys; deny by default.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from api.auth import Principal, Role
from api.problems import Problem
from api.schemas import EventOut
from procurement.visibility import EVENT_TYPES, BuyScope, shown

MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"


def new_webhook_id() -> str:
    return "wh_" + secrets.token_hex(8)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _field(field: str, message: str) -> Problem:
    return Problem(422, message, errors=[{"field": field, "message": message}])


def check_url(url: str, *, allow_loopback_http: bool) -> str:
    """An https URL without credentials; http only to a loopback address, and only where allowed
    (development). Raises a 422 problem naming `url`."""
    if len(url) > MAX_URL_LENGTH:
        raise _field("url", f"the URL must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as err:
        raise _field("url", f"not a URL: {err}") from err
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _field("url", "the URL must not carry credentials: the signature authenticates us to you")
    if not host:
        raise _field("url", "the URL needs a host")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_loopback_http and _is_loopback(host):
        return url
    allowed = "https (or http to a loopback address in development)" if allow_loopback_http else "https"
    raise _field("url", f"the URL must be {allowed}, not {parts.scheme or 'schemeless'}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if unknown:
        raise _field("event_types", f"unknown event types: {', '.join(unknown)}")
    if not event_types:
        raise _field("event_types", "name at least one event type")
    return sorted(set(event_types))


def may_see_buy(principal: Principal, lead: str) -> bool:
    """As `GET /v1/joint-buys/{id}`: a lead sees only the buys it leads."""
    return principal.role != Role.LEAD or principal.organisation_id == lead


def as_received(principal: Principal, event: Mapping[str, Any], scope: BuyScope) -> dict[str, Any] | None:
    """The event as a subscriber of this organisation may be sent it now, or None."""
    if not may_see_buy(principal, scope.lead):
        return None
    return shown(dict(event), principal, scope)


def payload(buy_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery body (Standard Webhooks' type, timestamp, data): the event as the audit log
    shows it, with its buy."""
    shown = EventOut.model_validate({k: event[k] for k in ("seq", "at", "type", "actor", "data")})
    return {
        "type": event["type"],
        "timestamp": shown.model_dump(mode="json")["at"],
        "data": {"buy_id": buy_id, **shown.model_dump(mode="json")},
    }


def message_id(buy_id: str, seq: int) -> str:
    """The event's id: the same on every attempt, so a receiver de-duplicates on it."""
    return f"evt_{buy_id}_{seq}"


def signed_request(
    secret: str, *, buy_id: str, event: Mapping[str, Any], now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and the Standard Webhooks headers of one delivery attempt."""
    body = json.dumps(payload(buy_id, event), separators=(",", ":"))
    msg_id = message_id(buy_id, event["seq"])
    at = now.astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "user-agent": "JointBuy-Webhooks/1",
    }
    return body.encode(), headers
