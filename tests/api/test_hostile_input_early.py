"""Hostile and malformed requests to the endpoints a buy meets before negotiation: starting, listing and
cancelling buys, closing a window, demand and sign-up, supplier registration and profiles, the
registries, API keys, the council register import, and the Authorization and Idempotency-Key headers.
Every one gets a prompt 4xx problem+json answer with the status the contract implies, and a refused
command changes nothing: neither the target buy's audit log nor any register, key or buy.

The buys (one per stage) are driven through the real workflow once per module and shared by every
case; a case that would wreck a shared buy if the API took it gets a fresh buy of its own."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.api.conftest import Api, Buy, buy_body, supplier_profile
from tests.api.hostile import ANSWER_WITHIN, JSON, NOTHING, NUL_ID, UNKNOWN, Req, assert_problem, case, send

E1, E2, E3 = "E06000052", "E06000054", "E06000003"  # E3 registers no demand anywhere here
S_NEG, S_PROFILE, S_OTHER = "52000001", "52000002", "52000003"
DEMAND = {
    E1: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "950"}],
    E2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "940"}],
}
STAGES = ("demand", "sign_up", "negotiation", "cancelled")
CSV = {"Content-Type": "text/csv"}
_fresh = itertools.count(1)
# What a refused request must leave exactly as it was, besides the target buy's audit log.
WITNESSED = (
    "joint_buys",
    "demand_lines",
    "sign_ups",
    "buy_suppliers",
    "api_keys",
    "councils",
    "companies",
    "debarments",
    "supplier_profiles",
    "idempotency_keys",
)
WITNESS = "SELECT (SELECT count(*) FROM events) AS events, " + ", ".join(
    f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t) AS {table}"
    for table in WITNESSED
)


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


# --- POST /v1/joint-buys -----------------------------------------------------------------------------


def create(
    status: int = 422,
    says: str = "",
    *,
    body: Any = NOTHING,
    who: str = "lead",
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> Req:
    sent = buy_body(**overrides) if body is NOTHING else body
    return Req("POST", "/v1/joint-buys", sent, who, status, says, headers or {})


def raw_create(field_name: str, literal: str) -> Req:
    """A create body whose `field_name` is a bare JSON literal httpx will not write (NaN, 1e400)."""
    body = buy_body(**{field_name: "@"})
    raw = httpx.Request("POST", "/", json=body).content.replace(b'"@"', literal.encode())
    return Req("POST", "/v1/joint-buys", raw, headers=JSON, says=field_name)


def terms(section: str, **values: Any) -> dict[str, Any]:
    defaults = {
        "negotiation": {"rounds": 3, "round_window": "P2D"},
        "award": {"price_weight": 60, "quality_weight": 30, "social_value_weight": 10},
        "viability": {"min_councils": 2},
        "requirements": {"certifications": ["cyber_essentials"]},
    }
    return {section: defaults[section] | values}


def lots(*items: Any) -> dict[str, Any]:
    return {"lots": list(items)}


def lot(lot_id: Any = "laptops", **kw: Any) -> dict[str, Any]:
    return {"id": lot_id, "title": "14-inch laptop", "unit": "device"} | kw


FIFTY_ONE_LOTS = [lot(f"lot-{n}") for n in range(51)]
CREATE = [
    case("title-missing", create(body=without(buy_body(), "title"), says="title")),
    case("title-empty", create(title="", says="title")),
    case("title-301-chars", create(title="t" * 301, says="title")),
    case("title-number", create(title=42, says="title")),
    case("title-null", create(title=None, says="title")),
    case("title-whitespace", create(title="   ", says="title")),
    case("description-10001-chars", create(description="d" * 10_001, says="description")),
    case("description-list", create(description=["d"], says="description")),
    case("cpv-7-digits", create(cpv_code="3021310", says="cpv_code")),
    case("cpv-letters", create(cpv_code="3021310A", says="cpv_code")),
    case("cpv-number", create(cpv_code=30213100, says="cpv_code")),
    case("lots-missing", create(body=without(buy_body(), "lots"), says="lots")),
    case("lots-empty", create(**lots(), says="lots")),
    case("lots-object", create(lots=lot(), says="lots")),
    case("lots-string", create(lots="laptops", says="lots")),
    case("lots-51", create(lots=FIFTY_ONE_LOTS, says="lots")),
    case("lots-duplicate-ids", create(**lots(lot(), lot(title="other")), says="unique")),
    case("lot-id-upper-case", create(**lots(lot("Laptops")), says="lots.0.id")),
    case("lot-id-space", create(**lots(lot("lap tops")), says="lots.0.id")),
    case("lot-id-dotdot", create(**lots(lot("../admin")), says="lots.0.id")),
    case("lot-id-leading-dash", create(**lots(lot("-laptops")), says="lots.0.id")),
    case("lot-id-trailing-newline", create(**lots(lot("laptops\n")), says="lots.0.id")),
    case("lot-id-65-chars", create(**lots(lot("l" * 65)), says="lots.0.id")),
    case("lot-id-unicode", create(**lots(lot("ノートパソコン")), says="lots.0.id")),
    case("lot-id-empty", create(**lots(lot("")), says="lots.0.id")),
    case("lot-id-number", create(**lots(lot(7)), says="lots.0.id")),
    case("lot-id-missing", create(**lots(without(lot(), "id")), says="lots.0.id")),
    case("lot-title-missing", create(**lots(without(lot(), "title")), says="lots.0.title")),
    case("lot-unit-empty", create(**lots(lot(unit="")), says="lots.0.unit")),
    case("lot-extra-field", create(**lots(lot(price="900")), says="lots.0.price")),
    case("value-missing", create(body=without(buy_body(), "estimated_value_gbp"), says="estimated_value")),
    case("value-negative", create(estimated_value_gbp="-0.01", says="estimated_value")),
    case("value-15-digits", create(estimated_value_gbp="100000000000000", says="estimated_value")),
    case("value-1e20", create(estimated_value_gbp="1e20", says="estimated_value")),
    case("value-3-dp", create(estimated_value_gbp="1800000.001", says="estimated_value")),
    case("value-float-artefact", create(estimated_value_gbp=0.1 + 0.2, says="estimated_value")),
    case("value-NaN-string", create(estimated_value_gbp="NaN", says="estimated_value")),
    case("value-NaN-literal", raw_create("estimated_value_gbp", "NaN")),
    case("value-1e400-literal", raw_create("estimated_value_gbp", "1e400")),
    case("value-infinity", create(estimated_value_gbp="Infinity", says="estimated_value")),
    case("value-pounds", create(estimated_value_gbp="£1.8m", says="estimated_value")),
    case("value-thousands", create(estimated_value_gbp="1,800,000", says="estimated_value")),
    case("value-true", create(estimated_value_gbp=True, says="estimated_value")),
    case("value-null", create(estimated_value_gbp=None, says="estimated_value")),
    case("value-object", create(estimated_value_gbp={"gbp": 1}, says="estimated_value")),
    case("closes-missing", create(body=without(buy_body(), "demand_closes_at"), says="demand_closes_at")),
    case("closes-naive", create(demand_closes_at="2030-01-15T17:00:00", says="UTC offset")),
    case("closes-date-only", create(demand_closes_at="2030-01-15", says="demand_closes_at")),
    case("closes-past", create(demand_closes_at="2020-01-15T17:00:00+00:00", says="future")),
    case("closes-year-1", create(demand_closes_at="0001-01-01T00:00:00+01:00", says="future")),
    case("closes-garbage", create(demand_closes_at="next tuesday", says="demand_closes_at")),
    case("closes-empty", create(demand_closes_at="", says="demand_closes_at")),
    case("closes-null", create(demand_closes_at=None, says="demand_closes_at")),
    case("closes-year-99999", create(demand_closes_at="99999-01-15T17:00:00+00:00", says="demand_closes_at")),
    case("closes-february-30", create(demand_closes_at="2030-02-30T17:00:00+00:00", says="demand_closes_at")),
    case("closes-offset-24h", create(demand_closes_at="2030-01-15T17:00:00+24:00", says="demand_closes_at")),
    case("closes-timestamp-10e20", create(demand_closes_at=10**20, says="demand_closes_at")),
    case(
        "closes-year-10000-utc",
        create(demand_closes_at="9999-12-31T23:59:59-23:59", says="demand_closes_at"),
    ),
    case("sign-up-P-1D", create(sign_up_window="P-1D", says="sign_up_window")),
    case("sign-up-minus-P1D", create(sign_up_window="-P1D", says="sign_up_window")),
    case("sign-up-PT0S", create(sign_up_window="PT0S", says="sign_up_window")),
    case("sign-up-0-seconds", create(sign_up_window=0, says="sign_up_window")),
    case("sign-up-minus-5-seconds", create(sign_up_window=-5, says="sign_up_window")),
    case("sign-up-forever", create(sign_up_window="forever", says="sign_up_window")),
    case("sign-up-empty", create(sign_up_window="", says="sign_up_window")),
    case("sign-up-null", create(sign_up_window=None, says="sign_up_window")),
    case("sign-up-too-large", create(sign_up_window="P9999999999D", says="sign_up_window")),
    case("sign-up-P999999999D", create(sign_up_window="P999999999D", says="sign_up_window")),
    case("tolerance-minus-1", create(sign_up_tolerance_pct="-1", says="sign_up_tolerance_pct")),
    case("tolerance-101", create(sign_up_tolerance_pct="101", says="sign_up_tolerance_pct")),
    case("rounds-0", create(**terms("negotiation", rounds=0), says="rounds")),
    case("rounds-11", create(**terms("negotiation", rounds=11), says="rounds")),
    case("rounds-1.5", create(**terms("negotiation", rounds=1.5), says="rounds")),
    case("rounds-three", create(**terms("negotiation", rounds="three"), says="rounds")),
    case("rounds-null", create(**terms("negotiation", rounds=None), says="rounds")),
    case("rounds-true", create(**terms("negotiation", rounds=True), says="rounds")),
    case("rounds-string-3", create(**terms("negotiation", rounds="3"), says="rounds")),
    case("round-window-P-1D", create(**terms("negotiation", round_window="P-1D"), says="round_window")),
    case("round-window-forever", create(**terms("negotiation", round_window="forever"), says="round_window")),
    case(
        "round-window-minus-P1D",
        create(**terms("negotiation", round_window="-P1D"), says="round_window"),
    ),
    case(
        "round-window-PT0S",
        create(**terms("negotiation", round_window="PT0S"), says="round_window"),
    ),
    case(
        "round-window-minus-5-seconds",
        create(**terms("negotiation", round_window=-5), says="round_window"),
    ),
    case(
        "round-window-P999999999D",
        create(**terms("negotiation", round_window="P999999999D"), says="round_window"),
    ),
    case(
        "extension-minus-PT5M",
        create(**terms("negotiation", extension_window="-PT5M"), says="extension_window"),
    ),
    case("extensions-minus-1", create(**terms("negotiation", max_extensions=-1), says="max_extensions")),
    case("extensions-101", create(**terms("negotiation", max_extensions=101), says="max_extensions")),
    case("decrement-minus-1", create(**terms("negotiation", min_decrement_pct="-1"), says="decrement")),
    case("decrement-51", create(**terms("negotiation", min_decrement_pct="51"), says="decrement")),
    case("negotiation-extra-field", create(**terms("negotiation", sealed=False), says="sealed")),
    case("negotiation-string", create(negotiation="fast", says="negotiation")),
    case("weights-sum-90", create(**terms("award", price_weight=50), says="add up to 100")),
    case("weights-sum-110", create(**terms("award", price_weight=70), says="add up to 100")),
    case("weight-negative", create(**terms("award", price_weight=-10, quality_weight=100), says="price")),
    case("weight-float", create(**terms("award", price_weight=59.5, quality_weight=30.5), says="weight")),
    case("social-value-5", create(**terms("award", social_value_weight=5, price_weight=65), says="social")),
    case("standstill-31", create(**terms("award", standstill_working_days=31), says="standstill")),
    case("standstill-minus-1", create(**terms("award", standstill_working_days=-1), says="standstill")),
    case(
        "standstill-5-above-threshold", create(**terms("award", standstill_working_days=5), says="at least 8")
    ),
    case(
        "standstill-string-8",
        create(**terms("award", standstill_working_days="8"), says="standstill"),
    ),
    case("calendar-unknown", create(**terms("award", calendar="wales"), says="calendar")),
    case("calendar-other-case", create(**terms("award", calendar="England-and-Wales"), says="calendar")),
    case("calendar-null", create(**terms("award", calendar=None), says="calendar")),
    case("award-extra-field", create(**terms("award", winner="52000001"), says="winner")),
    case("viability-unknown-lot", create(viability={"min_total_quantity": {"tablets": 5}}, says="tablets")),
    case("viability-councils-0", create(**terms("viability", min_councils=0), says="min_councils")),
    case("viability-councils-10001", create(**terms("viability", min_councils=10_001), says="min_councils")),
    case("viability-quantity-0", create(viability={"min_total_quantity": {"laptops": 0}}, says="laptops")),
    case(
        "viability-quantity-string",
        create(viability={"min_total_quantity": {"laptops": "9"}}, says="laptops"),
    ),
    case(
        "viability-quantity-true", create(viability={"min_total_quantity": {"laptops": True}}, says="laptops")
    ),
    case("viability-list", create(viability=[2], says="viability")),
    case("certifications-unknown", create(**terms("requirements", certifications=["iso_99999"]), says="iso")),
    case("certifications-string", create(**terms("requirements", certifications="iso_27001"), says="cert")),
    case("certifications-numbers", create(**terms("requirements", certifications=[1]), says="cert")),
    case(
        "certifications-200000",
        create(413, "at most", **terms("requirements", certifications=["cyber_essentials"] * 200_000)),
    ),
    case(
        "liability-negative",
        create(**terms("requirements", min_employers_liability_gbp="-1"), says="liability"),
    ),
    case(
        "liability-3-dp",
        create(**terms("requirements", min_employers_liability_gbp="5000000.001"), says="liability"),
    ),
    case("turnover-ratio-101", create(**terms("requirements", turnover_ratio="101"), says="turnover")),
    case("turnover-ratio-negative", create(**terms("requirements", turnover_ratio="-1"), says="turnover")),
    case(
        "decision-window-minus-P1D",
        create(**terms("requirements", discretionary_decision_window="-P1D"), says="decision_window"),
    ),
    case(
        "decision-default-unknown",
        create(**terms("requirements", discretionary_default="maybe"), says="discretionary_default"),
    ),
    case("contract-years-0", create(contract_years=0, says="contract_years")),
    case("contract-years-11", create(contract_years=11, says="contract_years")),
    case("contract-years-1.5", create(contract_years=1.5, says="contract_years")),
    case("contract-years-true", create(contract_years=True, says="contract_years")),
    case("contract-years-1.0", create(contract_years=1.0, says="contract_years")),
    case("extra-field-id", create(id="jb-mine", says="id")),
    case("extra-field-lead", create(lead="SOMEONE-ELSE", says="lead")),
    case("extra-field-stage", create(stage="awarded", says="stage")),
    case("body-not-json", create(400, "json", body=b'{"title": "Laptops", ', headers=JSON)),
    case("body-array", create(body=[buy_body()])),
    case("body-string", create(body="Laptops for 2027")),
    case("body-null", create(body=None)),
    case("body-empty", create(body=b"", headers=JSON)),
    case("text-plain", create(body=b'{"title": "x"}', headers={"Content-Type": "text/plain"})),
    case("as-council", create(403, "lead", who="council")),
    case("as-supplier", create(403, "lead", who="supplier")),
    case("as-operator", create(403, "lead", who="operator")),
    case("as-admin", create(403, "lead", who="admin")),
    case("no-token", create(401, who="none")),
    case("revoked-token", create(401, "revoked", who="revoked")),
    case("idempotency-key-empty", create(400, "idempotency", headers={"Idempotency-Key": ""})),
    case("idempotency-key-201-chars", create(400, "idempotency", headers={"Idempotency-Key": "k" * 201})),
    case("idempotency-key-10k-chars", create(400, "idempotency", headers={"Idempotency-Key": "k" * 10_000})),
]


# --- GET /v1/joint-buys and the audit log --------------------------------------------------------------


def get(path: str, status: int = 422, says: str = "", who: str = "lead", buy: str | None = None) -> Req:
    return Req("GET", path, who=who, status=status, says=says, buy=buy)


def events(query: str, status: int = 422, says: str = "") -> Req:
    return get(f"{{buy}}/events?{query}", status, says, buy="demand")


LISTS = [
    case("stage-bogus", get("/v1/joint-buys?stage=bogus", says="stage")),
    case("stage-other-case", get("/v1/joint-buys?stage=DEMAND", says="stage")),
    case("stage-empty", get("/v1/joint-buys?stage=", says="stage")),
    case("stage-nul", get("/v1/joint-buys?stage=demand%00", 400, "NUL")),
    case("limit-minus-1", get("/v1/joint-buys?limit=-1", says="limit")),
    case("limit-0", get("/v1/joint-buys?limit=0", says="limit")),
    case("limit-501", get("/v1/joint-buys?limit=501", says="limit")),
    case("limit-ten", get("/v1/joint-buys?limit=ten", says="limit")),
    case("limit-1.5", get("/v1/joint-buys?limit=1.5", says="limit")),
    case("offset-minus-1", get("/v1/joint-buys?offset=-1", says="offset")),
    case("offset-abc", get("/v1/joint-buys?offset=abc", says="offset")),
    case("offset-2**63", get(f"/v1/joint-buys?offset={2**63}", says="offset")),
    case("offset-10**30", get(f"/v1/joint-buys?offset={10**30}", says="offset")),
    case("all-wrong-at-once", get(f"/v1/joint-buys?stage=bogus&limit=-1&offset={10**30}", says="stage")),
    case("list-no-token", get("/v1/joint-buys", 401, who="none")),
    case("list-revoked-token", get("/v1/joint-buys", 401, who="revoked")),
    case("events-after-minus-1", events("after=-1", says="after")),
    case("events-after-2**63", events(f"after={2**63}", says="after")),
    case("events-limit-0", events("limit=0", says="limit")),
    case("events-limit-5001", events("limit=5001", says="limit")),
    case("events-no-token", get("{buy}/events", 401, who="none", buy="demand")),
    case("events-another-lead", get("{buy}/events", 403, "another organisation", "other_lead", "demand")),
    case("events-unknown-buy", get(f"{UNKNOWN}/events", 404)),
    case("buy-another-lead", get("{buy}", 403, "another organisation", "other_lead", "demand")),
    case("buy-unknown", get(UNKNOWN, 404)),
    case("buy-id-dotdot", get("/v1/joint-buys/%2e%2e", 404)),
    case("buy-id-5000-chars", get(f"/v1/joint-buys/jb-{'a' * 5000}", 404)),
    case("buy-id-nul", get(NUL_ID, 400, "NUL")),
]


# --- PUT/DELETE /demand ------------------------------------------------------------------------------


def line(**kw: Any) -> dict[str, Any]:
    return {"lot_id": "laptops", "quantity": 10, "baseline_unit_price": "900"} | kw


def demand_req(body: Any = NOTHING, status: int = 422, says: str = "", method: str = "PUT", **kw: Any) -> Req:
    sent = {"lines": [line()]} if body is NOTHING else body
    fields = {"method": method, "path": "{buy}/demand", "who": "council", "buy": "demand"} | kw
    return Req(**fields, body=sent if method == "PUT" else NOTHING, status=status, says=says)


def lines(*items: Any) -> dict[str, Any]:
    return {"lines": list(items)}


def withdraw(status: int = 409, says: str = "", **kw: Any) -> Req:
    return demand_req(status=status, says=says, method="DELETE", **kw)


FAT_LINES = [line(lot_id=f"{n}{'l' * 50_000}") for n in range(50)]  # 2.5 MB, each lot unknown
FATTER_LINES = [line(lot_id=f"{n}{'l' * 100_000}") for n in range(50)]  # 5 MB
DEMAND_CASES = [
    case("lines-missing", demand_req({}, says="lines")),
    case("lines-empty", demand_req(lines(), says="lines")),
    case("lines-null", demand_req({"lines": None}, says="lines")),
    case("lines-object", demand_req({"lines": line()}, says="lines")),
    case("lines-string", demand_req({"lines": "laptops x10"}, says="lines")),
    case("lines-51", demand_req(lines(*[line()] * 51), says="lines")),
    case("lines-of-strings", demand_req(lines("laptops"), says="lines.0")),
    case("line-extra-field", demand_req(lines(line(council=E2)), says="council")),
    case("duplicate-lots", demand_req(lines(line(), line(quantity=5)), says="only once")),
    case("unknown-lot", demand_req(lines(line(lot_id="tablets")), says="unknown lot")),
    case("lot-other-case", demand_req(lines(line(lot_id="LAPTOPS")), says="unknown lot")),
    case("lot-empty", demand_req(lines(line(lot_id="")), says="lot_id")),
    case("lot-number", demand_req(lines(line(lot_id=7)), says="lot_id")),
    case("lot-null", demand_req(lines(line(lot_id=None)), says="lot_id")),
    case("lot-100k-chars", demand_req(lines(line(lot_id="l" * 100_000)), says="lot_id")),
    case(
        "lot-2.5-MB",
        demand_req(lines(line(lot_id="l" * 2_500_000)), 413, "at most", buy="fresh-demand"),
    ),
    case("50-lots-of-50k", demand_req(lines(*FAT_LINES), 413, "at most", buy="fresh-demand")),
    case("50-lots-of-100k", demand_req(lines(*FATTER_LINES), 413, "at most", buy="fresh-demand")),
    case("quantity-0", demand_req(lines(line(quantity=0)), says="quantity")),
    case("quantity-minus-1", demand_req(lines(line(quantity=-1)), says="quantity")),
    case("quantity-true", demand_req(lines(line(quantity=True)), says="quantity")),
    case("quantity-string-5", demand_req(lines(line(quantity="5")), says="quantity")),
    case("quantity-1e10-float", demand_req(lines(line(quantity=1e10)), says="quantity")),
    case("quantity-10**10", demand_req(lines(line(quantity=10**10)), says="quantity")),
    case("quantity-2**63", demand_req(lines(line(quantity=2**63)), says="quantity")),
    case("quantity-10**400", demand_req(lines(line(quantity=10**400)), says="quantity")),
    case("quantity-1.5", demand_req(lines(line(quantity=1.5)), says="quantity")),
    case("quantity-null", demand_req(lines(line(quantity=None)), says="quantity")),
    case("quantity-missing", demand_req(lines(without(line(), "quantity")), says="quantity")),
    case("baseline-negative", demand_req(lines(line(baseline_unit_price="-1")), says="baseline")),
    case("baseline-3-dp", demand_req(lines(line(baseline_unit_price="949.999")), says="baseline")),
    case("baseline-15-digits", demand_req(lines(line(baseline_unit_price="1" * 15)), says="baseline")),
    case("baseline-float-artefact", demand_req(lines(line(baseline_unit_price=0.1 + 0.2)), says="baseline")),
    case("baseline-NaN", demand_req(lines(line(baseline_unit_price="NaN")), says="baseline")),
    case("baseline-cheap", demand_req(lines(line(baseline_unit_price="cheap")), says="baseline")),
    case("baseline-null", demand_req(lines(line(baseline_unit_price=None)), says="baseline")),
    case("baseline-missing", demand_req(lines(without(line(), "baseline_unit_price")), says="baseline")),
    case("budget-negative", demand_req(lines(line(budget_ceiling_gbp="-1")), says="budget")),
    case("budget-3-dp", demand_req(lines(line(budget_ceiling_gbp="100.001")), says="budget")),
    case("budget-words", demand_req(lines(line(budget_ceiling_gbp="lots")), says="budget")),
    case("claims-another-council", demand_req(lines(line()) | {"council": E2}, 403, E2)),
    case("claims-malformed-council", demand_req(lines(line()) | {"council": "Hartlepool"}, says="council")),
    case("extra-field", demand_req(lines(line()) | {"lead": "x"}, says="lead")),
    case("body-not-json", demand_req(b'{"lines": [', 400, "json", headers=JSON)),
    case("body-array", demand_req([line()])),
    case("body-empty", demand_req(b"", headers=JSON)),
    case("as-lead", demand_req(status=403, says="council", who="lead")),
    case("as-supplier", demand_req(status=403, says="council", who="supplier")),
    case("as-admin", demand_req(status=403, says="council", who="admin")),
    case("no-token", demand_req(status=401, who="none")),
    case("revoked-token", demand_req(status=401, who="revoked")),
    case("unknown-buy", demand_req(status=404, path=f"{UNKNOWN}/demand")),
    case("buy-id-nul", demand_req(status=400, path=f"{NUL_ID}/demand")),
    case("in-sign-up", demand_req(status=409, says="demand", buy="sign_up")),
    case("in-negotiation", demand_req(status=409, says="demand", buy="negotiation")),
    case("in-cancelled", demand_req(status=409, says="closed", buy="cancelled")),
    case("idempotency-key-201-chars", demand_req(status=400, headers={"Idempotency-Key": "k" * 201})),
    case("withdraw-without-demand", withdraw(says="no demand", who="council3")),
    case("withdraw-as-lead", withdraw(403, "council", who="lead")),
    case("withdraw-as-supplier", withdraw(403, "council", who="supplier")),
    case("withdraw-no-token", withdraw(401, who="none")),
    case("withdraw-unknown-buy", withdraw(404, path=f"{UNKNOWN}/demand")),
    case("withdraw-in-sign-up", withdraw(says="demand", buy="sign_up")),
    case("withdraw-in-negotiation", withdraw(says="demand", buy="negotiation")),
    case("withdraw-in-cancelled", withdraw(says="closed", buy="cancelled")),
    case("withdraw-idempotency-key-empty", withdraw(400, "idempotency", headers={"Idempotency-Key": ""})),
]


# --- POST /sign-up -----------------------------------------------------------------------------------


def sign_up(body: Any, status: int = 422, says: str = "", **kw: Any) -> Req:
    fields = {"method": "POST", "path": "{buy}/sign-up", "who": "council", "buy": "sign_up"} | kw
    return Req(**fields, body=body, status=status, says=says)


def opt_in(**kw: Any) -> dict[str, Any]:
    return {"lot_id": "laptops", "quantity": 60} | kw


SIGN_UPS = [
    case("above-registered", sign_up(lines(opt_in(quantity=61)), says="exceeds")),
    case("far-above-registered", sign_up(lines(opt_in(quantity=10**9)), says="exceeds")),
    case("unknown-lot", sign_up(lines(opt_in(lot_id="tablets")), says="unknown lot")),
    case("lot-without-demand", sign_up(lines(opt_in(lot_id="monitors")), says="no demand")),
    case("lines-not-a-list", sign_up({"lines": opt_in()}, says="lines")),
    case("lines-string", sign_up({"lines": "all of it"}, says="lines")),
    case("lines-empty", sign_up(lines(), says="lines")),
    case("lines-missing", sign_up({}, says="lines")),
    case("lines-51", sign_up(lines(*[opt_in()] * 51), says="lines")),
    case("duplicate-lots", sign_up(lines(opt_in(quantity=30), opt_in(quantity=30)), says="only once")),
    case("quantity-0", sign_up(lines(opt_in(quantity=0)), says="quantity")),
    case("quantity-minus-1", sign_up(lines(opt_in(quantity=-1)), says="quantity")),
    case("quantity-true", sign_up(lines(opt_in(quantity=True)), says="quantity")),
    case("quantity-string", sign_up(lines(opt_in(quantity="60")), says="quantity")),
    case("quantity-1.5", sign_up(lines(opt_in(quantity=1.5)), says="quantity")),
    case("line-with-price", sign_up(lines(opt_in(baseline_unit_price="900")), says="baseline")),
    case("claims-another-council", sign_up(lines(opt_in()) | {"council": E2}, 403, E2)),
    case("council-without-demand", sign_up(lines(opt_in()), 409, "registered no demand", who="council3")),
    case(
        "lot-3-MB",
        sign_up(lines(opt_in(lot_id="l" * 3_000_000)), 413, "at most", buy="fresh-sign_up"),
    ),
    case("body-not-json", sign_up(b'{"lines": ', 400, "json", headers=JSON)),
    case("as-lead", sign_up(lines(opt_in()), 403, "council", who="lead")),
    case("as-supplier", sign_up(lines(opt_in()), 403, "council", who="supplier")),
    case("no-token", sign_up(lines(opt_in()), 401, who="none")),
    case("unknown-buy", sign_up(lines(opt_in()), 404, path=f"{UNKNOWN}/sign-up")),
    case("in-demand", sign_up(lines(opt_in()), 409, "sign", buy="demand")),
    case("in-negotiation", sign_up(lines(opt_in()), 409, "sign", buy="negotiation")),
    case("in-cancelled", sign_up(lines(opt_in()), 409, "closed", buy="cancelled")),
]


# --- POST /close-stage and /cancel -------------------------------------------------------------------


def close(stage: Any, status: int = 409, buy: str = "demand", **kw: Any) -> Req:
    fields: dict[str, Any] = {"method": "POST", "path": "{buy}/close-stage", "body": {"stage": stage}}
    fields |= {"says": "stage" if status == 422 else ""} | kw
    return Req(**fields, status=status, buy=buy)


def cancel(reason: Any = "budget withdrawn", status: int = 422, says: str = "reason", **kw: Any) -> Req:
    fields: dict[str, Any] = {"method": "POST", "path": "{buy}/cancel", "body": {"reason": reason}}
    fields |= {"buy": "demand"} | kw
    return Req(**fields, status=status, says=says)


CLOSES = [
    case("unknown-stage", close("bogus", 422)),
    case("stage-other-case", close("DEMAND", 422)),
    case("stage-empty", close("", 422)),
    case("stage-null", close(None, 422)),
    case("stage-list", close(["demand"], 422)),
    case("stage-missing", close(None, 422, body={})),
    case("extra-field", close("demand", 422, body={"stage": "demand", "now": True}, says="now")),
    case("assurance-not-closable", close("assurance", 422, says="closed early")),
    case("draft-not-closable", close("draft", 422, says="closed early")),
    case("awarded-not-closable", close("awarded", 422, says="closed early")),
    case("sign-up-in-demand", close("sign_up", says="sign_up")),
    case("negotiation-in-demand", close("negotiation", says="negotiation")),
    case("demand-in-sign-up", close("demand", buy="sign_up", says="demand")),
    case("demand-in-negotiation", close("demand", buy="negotiation", says="demand")),
    case("sign-up-in-negotiation", close("sign_up", buy="negotiation", says="sign_up")),
    case("demand-in-cancelled", close("demand", buy="cancelled", says="closed")),
    case("body-not-json", close(None, 400, body=b'{"stage": "dem', says="json", headers=JSON)),
    case("as-council", close("demand", 403, who="council", says="lead")),
    case("as-another-lead", close("demand", 403, who="other_lead", says="another organisation")),
    case("no-token", close("demand", 401, who="none")),
    case("unknown-buy", close("demand", 404, path=f"{UNKNOWN}/close-stage")),
]
CANCELS = [
    case("reason-empty", cancel("")),
    case("reason-missing", cancel(body={})),
    case("reason-null", cancel(None)),
    case("reason-2001-chars", cancel("r" * 2001)),
    case("reason-100k-chars", cancel("r" * 100_000)),
    case("reason-number", cancel(42)),
    case("reason-true", cancel(True)),
    case("reason-list", cancel(["budget"])),
    case("reason-object", cancel({"text": "budget"})),
    case("reason-whitespace", cancel("   ", buy="fresh-demand")),
    case("extra-field", cancel(body={"reason": "budget", "refund": True}, says="refund")),
    case("body-not-json", cancel(body=b'{"reason": "bud', status=400, says="json", headers=JSON)),
    case("body-array", cancel(body=[{"reason": "budget"}], says="")),
    case("cancel-twice", cancel(buy="cancelled", status=409, says="closed")),
    case("as-council", cancel(status=403, says="lead", who="council")),
    case("as-supplier", cancel(status=403, says="lead", who="supplier")),
    case("as-another-lead", cancel(status=403, says="another organisation", who="other_lead")),
    case("no-token", cancel(status=401, says="", who="none")),
    case("revoked-token", cancel(status=401, says="revoked", who="revoked")),
    case("unknown-buy", cancel(status=404, says="", path=f"{UNKNOWN}/cancel")),
    case("buy-id-nul", cancel(status=400, says="NUL", path=f"{NUL_ID}/cancel")),
]


# --- POST /suppliers ---------------------------------------------------------------------------------


def register(status: int, says: str = "", who: str = "supplier", buy: str = "demand", **kw: Any) -> Req:
    fields = {"method": "POST", "path": "{buy}/suppliers"} | kw
    return Req(**fields, status=status, says=says, who=who, buy=buy)


REGISTRATIONS = [
    case("as-council", register(403, "supplier", who="council")),
    case("as-lead", register(403, "supplier", who="lead")),
    case("as-admin", register(403, "supplier", who="admin")),
    case("as-operator", register(403, "supplier", who="operator")),
    case("no-token", register(401, who="none")),
    case("after-assurance-started", register(409, "before assurance", buy="negotiation")),
    case("in-cancelled", register(409, "closed", buy="cancelled")),
    case("unknown-buy", register(404, path=f"{UNKNOWN}/suppliers")),
    case("buy-id-nul", register(400, path=f"{NUL_ID}/suppliers")),
    case("idempotency-key-201-chars", register(400, "idempotency", headers={"Idempotency-Key": "k" * 201})),
]


# --- PUT /v1/suppliers/{n}/profile -------------------------------------------------------------------


def profile(
    status: int = 422, says: str = "", number: str = S_PROFILE, who: str = "profile", **changes: Any
) -> Req:
    body = supplier_profile(S_PROFILE) | changes
    return Req("PUT", f"/v1/suppliers/{number}/profile", body, who, status, says)


def profile_without(name: str) -> Req:
    req = profile(says=name)
    return Req(req.method, req.path, without(req.body, name), req.who, req.status, req.says)


PROFILES = [
    case("another-company", profile(403, "own profile", number=S_OTHER)),
    case("turnover-negative", profile(annual_turnover_gbp="-1", says="annual_turnover_gbp")),
    case("turnover-3-dp", profile(annual_turnover_gbp="1.001", says="annual_turnover_gbp")),
    case("turnover-13-digits", profile(annual_turnover_gbp="9" * 13, says="annual_turnover_gbp")),
    case("turnover-words", profile(annual_turnover_gbp="a lot", says="annual_turnover_gbp")),
    case("turnover-null", profile(annual_turnover_gbp=None, says="annual_turnover_gbp")),
    case("turnover-missing", profile_without("annual_turnover_gbp")),
    case("liability-negative", profile(employers_liability_gbp="-5", says="employers_liability_gbp")),
    case("liability-NaN", profile(employers_liability_gbp="NaN", says="employers_liability_gbp")),
    case("certifications-unknown", profile(certifications=["iso_99999"], says="unknown certification")),
    case("certifications-not-a-list", profile(certifications="iso_27001", says="certifications")),
    case("certifications-object", profile(certifications={"iso_27001": True}, says="certifications")),
    case("certifications-numbers", profile(certifications=[27001], says="certifications")),
    case("certification-with-spaces", profile(certifications=["iso 27001"], says="unknown certification")),
    case("certification-label", profile(certifications=["Cyber Essentials"], says="unknown certification")),
    case("certifications-11", profile(certifications=["iso_27001"] * 11, says="certifications")),
    case("certification-65-chars", profile(certifications=["c" * 65], says="certifications")),
    case("slavery-yes", profile(modern_slavery_statement="yes", says="modern_slavery")),
    case("slavery-1", profile(modern_slavery_statement=1, says="modern_slavery")),
    case("carbon-true-string", profile(carbon_reduction_plan="true", says="carbon")),
    case("slavery-null", profile(modern_slavery_statement=None, says="modern_slavery")),
    case("slavery-maybe", profile(modern_slavery_statement="maybe", says="modern_slavery")),
    case("name-empty", profile(name="", says="name")),
    case("name-whitespace", profile(name="   ", says="name")),
    case("name-301-chars", profile(name="n" * 301, says="name")),
    case("extra-field", profile(registered_office="Leeds", says="registered_office")),
    case("company-7-digits", profile(number="5200000", says="company_number")),
    case("company-9-digits", profile(number="520000021", says="company_number")),
    case("company-lower-case", profile(number="sc123456", says="company_number")),
    case("company-trailing-newline", profile(number=f"{S_PROFILE}%0A", says="company_number")),
    case("company-dotdot", profile(number="%2e%2e", says="company_number")),
    case(
        "body-not-json", Req("PUT", f"/v1/suppliers/{S_PROFILE}/profile", b"{", "profile", 400, "json", JSON)
    ),
    case("as-council", profile(403, "supplier", who="council")),
    case("as-lead", profile(403, "supplier", who="lead")),
    case("no-token", profile(401, who="none")),
]


# --- /v1/registry ------------------------------------------------------------------------------------

COMPANY = "52000009"  # put on neither list by any case that is refused
DEBARRED = "52000008"
LAX = "52000007"  # where the lax-boolean cases land while they are accepted
BAD_NUMBERS = {
    "7-digits": "5200000",
    "9-digits": "520000091",
    "lower-case-prefix": "sc123456",
    "short-prefixed": "SC12345",
    "letters": "ABCDEFGH",
    "trailing-newline": "52000009%0A",
    "unicode-digits": "%D9%A5%D9%A2%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A9",
    "dotdot": "%2e%2e",
    "sql": "52000009'%20OR%20'1'%3D'1",
}


def company(body: Any = NOTHING, status: int = 422, says: str = "", number: str = COMPANY, **kw: Any) -> Req:
    sent = {"name": "Acme Laptops Ltd", "status": "active"} if body is NOTHING else body
    fields = {"method": "PUT", "path": f"/v1/registry/companies/{number}", "who": "admin"} | kw
    return Req(**fields, body=sent, status=status, says=says)


def debarment(
    body: Any = NOTHING, status: int = 422, says: str = "", number: str = DEBARRED, **kw: Any
) -> Req:
    sent = {"ground": "fraud (Procurement Act 2023, Sch 6)", "mandatory": True} if body is NOTHING else body
    fields = {"method": "PUT", "path": f"/v1/registry/debarments/{number}", "who": "admin"} | kw
    return Req(**fields, body=sent, status=status, says=says)


def undebar(status: int, says: str = "", number: str = DEBARRED, **kw: Any) -> Req:
    fields = {"method": "DELETE", "path": f"/v1/registry/debarments/{number}", "who": "admin"} | kw
    return Req(**fields, status=status, says=says)


def status_is(value: Any) -> dict[str, Any]:
    return {"name": "Acme Laptops Ltd", "status": value}


def ground(value: Any, mandatory: Any = True) -> dict[str, Any]:
    return {"ground": value, "mandatory": mandatory}


REGISTRY = [
    *[case(f"company-{n}", company(number=v, says="company_number")) for n, v in BAD_NUMBERS.items()],
    *[case(f"debarment-{n}", debarment(number=v, says="company_number")) for n, v in BAD_NUMBERS.items()],
    case("undebar-7-digits", undebar(422, "company_number", number="5200000")),
    case("status-capitalised", company(status_is("Active"), says="status")),
    case("status-with-space", company(status_is("in liquidation"), says="status")),
    case("status-trailing-hyphen", company(status_is("active-"), says="status")),
    case("status-empty", company(status_is(""), says="status")),
    case("status-65-chars", company(status_is("a" * 65), says="status")),
    case("status-null", company(status_is(None), says="status")),
    case("status-number", company(status_is(1), says="status")),
    case("status-missing", company({"name": "Acme"}, says="status")),
    case("company-name-whitespace", company({"name": "  ", "status": "active"}, says="name")),
    case("company-name-301", company({"name": "n" * 301, "status": "active"}, says="name")),
    case("company-extra-field", company(status_is("active") | {"vat": "GB1"}, says="vat")),
    case("company-body-not-json", company(b'{"name": ', 400, "json", headers=JSON)),
    case("company-as-lead", company(status=403, says="admin", who="lead")),
    case("company-as-supplier", company(status=403, says="admin", who="supplier")),
    case("company-as-operator", company(status=403, says="admin", who="operator")),
    case("company-no-token", company(status=401, who="none")),
    case("ground-empty", debarment(ground(""), says="ground")),
    case("ground-whitespace", debarment(ground(" \t "), says="ground")),
    case("ground-501-chars", debarment(ground("g" * 501), says="ground")),
    case("ground-number", debarment(ground(5), says="ground")),
    case("mandatory-missing", debarment({"ground": "fraud"}, says="mandatory")),
    case("mandatory-maybe", debarment(ground("fraud", "maybe"), says="mandatory")),
    case("mandatory-null", debarment(ground("fraud", None), says="mandatory")),
    case("mandatory-no", debarment(ground("fraud", "no"), says="mandatory", number=LAX)),
    case("mandatory-0", debarment(ground("fraud", 0), says="mandatory", number=LAX)),
    case("debarment-as-lead", debarment(status=403, says="admin", who="lead")),
    case("debarment-as-council", debarment(status=403, says="admin", who="council")),
    case("debarment-no-token", debarment(status=401, who="none")),
    case("undebar-not-listed", undebar(404, "not on the debarment list")),
    case("undebar-as-lead", undebar(403, "admin", who="lead")),
    case("undebar-as-supplier", undebar(403, "admin", who="supplier")),
    case("undebar-no-token", undebar(401, who="none")),
    case("undebar-nul", undebar(400, "NUL", number="52000008%00")),
]


# --- /v1/api-keys ------------------------------------------------------------------------------------


def key(body: Any, status: int = 422, says: str = "", **kw: Any) -> Req:
    fields = {"method": "POST", "path": "/v1/api-keys", "who": "admin"} | kw
    return Req(**fields, body=body, status=status, says=says)


def issue(
    role: Any = "lead", organisation_id: Any = "LEAD-EARLY-NEW", name: Any = "procurement"
) -> dict[str, Any]:
    return {"role": role, "organisation_id": organisation_id, "name": name}


def revoke(key_id: str, status: int = 404, says: str = "", **kw: Any) -> Req:
    fields = {"method": "DELETE", "path": f"/v1/api-keys/{key_id}", "who": "admin"} | kw
    return Req(**fields, status=status, says=says)


KEYS = [
    case("role-unknown", key(issue(role="superuser"), says="role")),
    case("role-upper-case", key(issue(role="ADMIN"), says="role")),
    case("role-null", key(issue(role=None), says="role")),
    case("role-number", key(issue(role=1), says="role")),
    case("role-missing", key(without(issue(), "role"), says="role")),
    case("organisation-empty", key(issue(organisation_id=""), says="organisation_id")),
    case("organisation-65-chars", key(issue(organisation_id="o" * 65), says="organisation_id")),
    case("organisation-100k-chars", key(issue(organisation_id="o" * 100_000), says="organisation_id")),
    case("organisation-number", key(issue(organisation_id=7), says="organisation_id")),
    case("organisation-missing", key(without(issue(), "organisation_id"), says="organisation_id")),
    case("organisation-whitespace", key(issue(organisation_id="   "), says="organisation_id")),
    case(
        "organisation-newline",
        key(issue(organisation_id="LEAD\nADMIN"), says="organisation_id"),
    ),
    case("council-not-gss", key(issue("council", "Hartlepool"), says="GSS")),
    case("council-former", key(issue("council", "E07000026"), says="not a current council")),
    case("council-unknown-gss", key(issue("council", "E99999999"), says="not a current council")),
    case("council-trailing-newline", key(issue("council", "E06000001\n"), says="organisation_id")),
    case("supplier-not-a-number", key(issue("supplier", "ACME"), says="organisation_id")),
    case("supplier-7-digits", key(issue("supplier", "5200000"), says="organisation_id")),
    case(
        "supplier-trailing-newline",
        key(issue("supplier", f"{S_OTHER}\n"), says="organisation_id"),
    ),
    case("name-missing", key(without(issue(), "name"), says="name")),
    case("name-empty", key(issue(name=""), says="name")),
    case("name-201-chars", key(issue(name="n" * 201), says="name")),
    case("extra-field", key(issue() | {"token": "jb_mine"}, says="token")),
    case("body-not-json", key(b'{"role": ', 400, "json", headers=JSON)),
    case("body-array", key([issue()])),
    case("as-lead", key(issue(), 403, "admin", who="lead")),
    case("as-operator", key(issue(), 403, "admin", who="operator")),
    case("no-token", key(issue(), 401, who="none")),
    case("idempotency-key-empty", key(issue(), 400, "idempotency", headers={"Idempotency-Key": ""})),
    case("revoke-unknown", revoke("key_0000000000000000", says="key_0000000000000000")),
    case("revoke-malformed", revoke("not-a-key")),
    case("revoke-dotdot", revoke("%2e%2e")),
    case("revoke-sql", revoke("key_1'%20OR%20'1'%3D'1")),
    case("revoke-5000-chars", revoke("k" * 5000)),
    case("revoke-nul", revoke("key_%00", 400, "NUL")),
    case("revoke-as-lead", revoke("key_0000000000000000", 403, "admin", who="lead")),
    case("revoke-no-token", revoke("key_0000000000000000", 401, who="none")),
]


# --- POST /v1/councils/import ------------------------------------------------------------------------

HEADER = "local-authority-code,official-name,nice-name,gss-code,nation,current-authority\n"


def register_csv(body: bytes, status: int = 422, says: str = "", query: str = "", **kw: Any) -> Req:
    fields = {"method": "POST", "path": f"/v1/councils/import{query}", "who": "admin", "headers": CSV} | kw
    return Req(**fields, body=body, status=status, says=says)


def rows(*lines: str) -> bytes:
    return (HEADER + "".join(f"{text}\n" for text in lines)).encode()


IMPORTS = [
    case("empty-body", register_csv(b"", says="missing columns")),
    case("binary-garbage", register_csv(bytes(range(128, 256)) * 64, 400, "UTF-8")),
    case(
        "latin-1",
        register_csv(
            rows("AGY,Ynys Môn,Ynys Môn,W06000001,Wales,True").decode().encode("latin-1"), 400, "UTF-8"
        ),
    ),
    case("wrong-columns", register_csv(b"code,name\nHPL,Hartlepool\n", says="missing columns")),
    case("json-body", register_csv(b'{"councils": []}', says="missing columns", headers=JSON)),
    case("20-MB-plus-one", register_csv(b"a" * (20 * 1024 * 1024 + 1), 413, "at most")),
    case(
        "current-without-gss",
        register_csv(rows("HPL,Hartlepool,Hartlepool,Hartlepool,England,True"), says="GSS"),
    ),
    case(
        "bad-start-date",
        register_csv(
            b"local-authority-code,official-name,nice-name,gss-code,nation,current-authority,start-date\n"
            b"HPL,Hartlepool,Hartlepool,E06000001,England,True,2020-13-45\n",
            says="month",
        ),
    ),
    case("include-former-maybe", register_csv(rows(), query="?include_former=maybe", says="include_former")),
    case("short-row", register_csv(rows("HPL,Hartlepool"), says="line 2")),
    case(
        "quote-never-closed",
        register_csv(rows('HPL,"Hartlepool,Hartlepool,E06000001,England,True'), says="line 2"),
    ),
    case(
        "field-of-200k-chars",
        register_csv(rows(f"HPL,{'H' * 200_000},Hartlepool,E06000001,England,True"), says="line 2"),
    ),
    case("as-lead", register_csv(rows(), 403, "admin", who="lead")),
    case("as-council", register_csv(rows(), 403, "admin", who="council")),
    case("no-token", register_csv(rows(), 401, who="none")),
]


# --- Authorization header ----------------------------------------------------------------------------

AUTHORIZATIONS: dict[str, str | bytes] = {
    "bearer-alone": "Bearer",
    "bearer-space": "Bearer ",
    "basic": "Basic x",
    "basic-real": "Basic YWRtaW46dGVzdC1hZG1pbi10b2tlbg==",
    "token-scheme": "Token test-admin-token",
    "no-scheme": "test-admin-token",
    "empty": "",
    "10k-char-token": "Bearer " + "x" * 10_000,
    "token-with-spaces": "Bearer test admin token",
    "latin-1-bytes": b"Bearer \xff\xfe\xfd",
    "admin-token-prefix": "Bearer test-admin-toke",
    "admin-token-suffix": "Bearer test-admin-token2",
    "two-tokens": "Bearer test-admin-token, Bearer other",
}
AUTH_TARGETS = {
    "list": Req("GET", "/v1/joint-buys", status=401),
    "create": create(401),
    "demand": demand_req(status=401),
    "keys": key(issue(), 401),
}
AUTHS = [
    case(f"{target}-{name}", Req(**vars(req) | {"who": "none", "headers": {"Authorization": value}}))
    for target, req in AUTH_TARGETS.items()
    for name, value in AUTHORIZATIONS.items()
]


# --- the buys and the callers ------------------------------------------------------------------------


@dataclass
class World:
    api: Api
    http: httpx.AsyncClient
    pool: Any
    buys: dict[str, Buy]
    tokens: dict[str, dict[str, str]]


async def drive(api: Api, stage: str, lead_org: str) -> Buy:
    """A buy taken through the real workflow to `stage`: E1 (and in sign-up E2) registered demand."""
    if stage == "negotiation":
        return await api.negotiating_buy(lead_org, DEMAND, {S_NEG: "active"})
    lead = await api.token("lead", lead_org)
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    for gss in (E1, E2) if stage == "sign_up" else (E1,):
        buy.councils[gss] = await api.token("council", gss)
        r = await api.http.put(f"{buy.url}/demand", json={"lines": DEMAND[gss]}, headers=buy.councils[gss])
        assert r.status_code == 200, r.text
    if stage == "sign_up":
        await api.close(buy, "demand")
    if stage == "cancelled":
        r = await api.http.post(f"{buy.url}/cancel", json={"reason": "budget withdrawn"}, headers=lead)
        assert r.status_code == 200 and r.json()["stage"] == "cancelled", r.text
    return buy


@pytest.fixture(scope="module")
async def world(
    api: Api, api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> AsyncIterator[World]:
    buys = {stage: await drive(api, stage, f"LEAD-EARLY-{stage.upper()}") for stage in STAGES}
    revoked = await api.http.post(
        "/v1/api-keys",
        json={"role": "lead", "organisation_id": "LEAD-EARLY", "name": "old"},
        headers=api.admin,
    )
    r = await api.http.delete(f"/v1/api-keys/{revoked.json()['key_id']}", headers=api.admin)
    assert r.status_code == 204, r.text
    await api.supplier(S_OTHER)
    tokens = {
        "lead": await api.token("lead", "LEAD-EARLY"),
        "other_lead": await api.token("lead", "LEAD-EARLY-OTHER"),
        "council": await api.token("council", E1),
        "council3": await api.token("council", E3),
        "supplier": await api.supplier(S_NEG),
        "profile": await api.supplier(S_PROFILE),
        "operator": await api.token("operator", "OPS-EARLY"),
        "admin": api.admin,
        "revoked": {"Authorization": f"Bearer {revoked.json()['token']}"},
        "none": {},
    }
    # A second app over the same worker, pool and Temporal client that answers an unhandled error
    # with its 500 (as a server would) instead of raising it into the test.
    app = create_app(api_settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.test") as http:
        yield World(api=api, http=http, pool=pool, buys=buys, tokens=tokens)


def headers_for(world: World, who: str, buy: Buy | None) -> dict[str, str]:
    if who == "lead" and buy is not None:
        return buy.lead
    if who == "council" and buy is not None:
        return buy.councils.get(E1) or world.tokens["council"]
    return world.tokens[who]


async def witness(world: World, buy: Buy | None) -> list[Any]:
    """What a refused command must not change: the buy's audit log as its lead sees it (through the
    API) and every register, key, buy and idempotency record (in PostgreSQL)."""
    seen: list[Any] = []
    if buy is not None:
        r = await world.http.get(f"{buy.url}/events", headers=buy.lead)
        assert r.status_code == 200, r.text
        seen.append(r.json())
    async with world.pool.acquire() as conn:
        seen.append(dict(await conn.fetchrow(WITNESS)))
    return seen


async def target(world: World, req: Req) -> Buy | None:
    if req.buy is None:
        return None
    if req.buy.startswith("fresh-"):
        return await drive(world.api, req.buy.removeprefix("fresh-"), f"LEAD-EARLY-FRESH-{next(_fresh)}")
    return world.buys[req.buy]


async def refused(world: World, req: Req) -> None:
    buy = await target(world, req)
    mutating = req.method != "GET"
    before = await witness(world, buy) if mutating else None
    r = await send(world.http, req, headers_for(world, req.who, buy), buy.url if buy else "")
    assert_problem(r, req.status, req.says)
    if mutating:
        assert await witness(world, buy) == before


@pytest.mark.parametrize("req", CREATE)
async def test_create_joint_buy(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", LISTS)
async def test_list_and_read(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", DEMAND_CASES)
async def test_register_and_withdraw_demand(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", SIGN_UPS)
async def test_sign_up(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", CLOSES)
async def test_close_stage(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", CANCELS)
async def test_cancel(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", REGISTRATIONS)
async def test_register_interest(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", PROFILES)
async def test_supplier_profile(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", REGISTRY)
async def test_registry(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", KEYS)
async def test_api_keys(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", IMPORTS)
async def test_council_register_import(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", AUTHS)
async def test_authorization_header(world: World, req: Req) -> None:
    await refused(world, req)


# --- Idempotency-Key reused --------------------------------------------------------------------------


async def test_idempotency_key_reused_for_another_request(world: World) -> None:
    """A key answers only the request it was first used for: the same request replays the first
    answer; a different body, path or method with it is refused (422, as api/idempotency.py designs
    it) and changes nothing."""
    buy = world.buys["demand"]
    key = {"Idempotency-Key": "early-reuse-1"}
    first_body = {"lines": [line(quantity=60, baseline_unit_price="950")]}
    council = buy.councils[E1] | key
    first = await world.http.put(f"{buy.url}/demand", json=first_body, headers=council)
    assert first.status_code == 200, first.text
    before = await witness(world, buy)
    for method, path, body in (
        ("PUT", f"{buy.url}/demand", {"lines": [line(quantity=61, baseline_unit_price="950")]}),
        ("PUT", f"{buy.url}/demand", {"lines": [line(quantity=60, baseline_unit_price="950.00")]}),
        ("PUT", f"{world.buys['sign_up'].url}/demand", first_body),
        ("POST", f"{buy.url}/sign-up", {"lines": [opt_in()]}),
    ):
        async with asyncio.timeout(ANSWER_WITHIN):
            r = await world.http.request(method, path, json=body, headers=council)
        problem = assert_problem(r, 422, "already used for a different request")
        assert problem["type"].endswith("/idempotency-key-reused"), problem
    r = await world.http.delete(f"{buy.url}/demand", headers=council)
    assert_problem(r, 422, "already used for a different request")
    assert await witness(world, buy) == before
    again = await world.http.put(f"{buy.url}/demand", json=first_body, headers=council)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true", again.text
    assert again.json() == first.json()
    assert await witness(world, buy) == before


async def test_concurrent_repeats_of_one_idempotency_key_start_one_buy(world: World) -> None:
    title = f"Laptops, idempotent race {next(_fresh)}"
    headers = world.tokens["lead"] | {"Idempotency-Key": f"early-race-{title}"}
    body = buy_body(title=title)
    async with asyncio.timeout(ANSWER_WITHIN):
        answers = await asyncio.gather(
            *(world.http.post("/v1/joint-buys", json=body, headers=headers) for _ in range(5))
        )
    assert all(r.status_code in (201, 409) for r in answers), [r.text for r in answers]
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    listed = (await world.http.get("/v1/joint-buys?limit=500", headers=world.tokens["lead"])).json()
    assert [b["title"] for b in listed].count(title) == 1


async def test_the_shared_buys_are_where_the_sweep_left_them(world: World) -> None:
    """No refused request moved a shared buy on, nor changed E1's demand or the supplier's profile."""
    for stage, buy in world.buys.items():
        r = await world.http.get(buy.url, headers=buy.lead)
        assert r.status_code == 200 and r.json()["stage"] == stage, r.text
    mine = (await world.http.get(world.buys["demand"].url, headers=world.buys["demand"].councils[E1])).json()
    assert [(d["lot_id"], d["quantity"]) for d in mine["demand"]] == [("laptops", 60)], mine
    r = await world.http.get(f"/v1/suppliers/{S_PROFILE}/profile", headers=world.tokens["profile"])
    assert r.status_code == 200, r.text
    expected = supplier_profile(S_PROFILE)
    assert r.json()["name"] == expected["name"] and r.json()["certifications"] == expected["certifications"]
