"""Hostile and malformed requests to the negotiation, evaluation, challenge and award endpoints, against
a buy in the right stage and in the wrong ones: every one gets a prompt 4xx problem+json answer, and a
refused command leaves the buy's audit log exactly as it was.

The buys (one per stage) are driven through the real workflow once per module and shared by every
case; a case that would wreck a shared buy if the API took it gets a fresh buy of its own."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.api.conftest import Api, Buy
from tests.api.hostile import JSON, NOTHING, NUL_ID, UNKNOWN, Req, assert_problem, case, send

S1, S2, STRANGER = "51000001", "51000002", "51000009"
E1, E2 = "E06000052", "E06000054"
DEMAND = {
    E1: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "950"}],
    E2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "940"}],
}
STAGES = ("negotiation", "evaluation", "standstill", "suspended")
_fresh = itertools.count(1)


# --- POST /bids ------------------------------------------------------------------------------------


def bid(price: Any = "850", quantity: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"lot_id": "laptops", "tiers": [{"min_quantity": quantity, "unit_price": price}]} | extra


def bid_req(body: Any = NOTHING, status: int = 422, says: str = "", **kw: Any) -> Req:
    return Req(
        **{"method": "POST", "path": "{buy}/bids", "who": S1} | kw,
        status=status,
        says=says,
        body=bid() if body is NOTHING else body,
    )


def raw_bid(price: str) -> bytes:
    return b'{"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": %s}]}' % price.encode()


# Prices may also be JSON numbers (850, 870.5): they convert to decimals exactly, so they are not
# in this table of refusals.
FIFTY_ONE = [{"min_quantity": n, "unit_price": str(951 - n)} for n in range(1, 52)]
TWENTY_ONE = FIFTY_ONE[:21]  # a ladder has at most 20 tiers
BIDS = [
    case("tiers-object", bid_req({"lot_id": "laptops", "tiers": {"min_quantity": 1}}, says="tiers")),
    case("tiers-string", bid_req({"lot_id": "laptops", "tiers": "1 @ 900"}, says="tiers")),
    case("tiers-null", bid_req({"lot_id": "laptops", "tiers": None}, says="tiers")),
    case("tiers-missing", bid_req({"lot_id": "laptops"}, says="tiers")),
    case("tiers-empty", bid_req({"lot_id": "laptops", "tiers": []}, says="tiers")),
    case("tiers-51", bid_req({"lot_id": "laptops", "tiers": FIFTY_ONE}, says="tiers")),
    case("tiers-21", bid_req({"lot_id": "laptops", "tiers": TWENTY_ONE}, says="tiers")),
    case("tiers-of-strings", bid_req({"lot_id": "laptops", "tiers": ["1:900"]}, says="tiers.0")),
    case("tiers-of-numbers", bid_req({"lot_id": "laptops", "tiers": [900]}, says="tiers.0")),
    case(
        "tier-extra-field",
        bid_req(
            {"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": "9", "currency": "USD"}]},
            says="tiers.0",
        ),
    ),
    case("tier-no-price", bid_req({"lot_id": "laptops", "tiers": [{"min_quantity": 1}]}, says="unit_price")),
    case("price-float-artefact", bid_req(bid(0.1 + 0.2), says="unit_price")),
    case("price-1e400-string", bid_req(bid("1e400"), says="unit_price")),
    case("price-1e400-number", bid_req(raw_bid("1e400"), headers=JSON, says="unit_price")),
    case("price-NaN-string", bid_req(bid("NaN"), says="unit_price")),
    case("price-NaN-literal", bid_req(raw_bid("NaN"), headers=JSON, says="unit_price")),
    case("price-Infinity", bid_req(bid("-Infinity"), says="unit_price")),
    case("price-minus-zero", bid_req(bid("-0"), says="unit_price")),
    case("price-zero-number", bid_req(bid(0), says="unit_price")),
    case("price-0.001", bid_req(bid("0.001"), says="unit_price")),
    case("price-abc", bid_req(bid("abc"), says="unit_price")),
    case("price-empty", bid_req(bid(""), says="unit_price")),
    case("price-null", bid_req(bid(None), says="unit_price")),
    case("price-pounds-sign", bid_req(bid("£900"), says="unit_price")),
    case("price-thousands", bid_req(bid("1,000.00"), says="unit_price")),
    case("price-hex", bid_req(bid("0x10"), says="unit_price")),
    case("price-huge", bid_req(bid("9" * 40), says="unit_price")),
    case("price-huge-fraction", bid_req(bid("1." + "0" * 5000 + "1"), says="unit_price")),
    case("qty-0", bid_req(bid(quantity=0), says="min_quantity")),
    case("qty-minus-1", bid_req(bid(quantity=-1), says="min_quantity")),
    case("qty-1.5", bid_req(bid(quantity=1.5), says="min_quantity")),
    case("qty-ten", bid_req(bid(quantity="ten"), says="min_quantity")),
    case("qty-2**63", bid_req(bid(quantity=2**63), says="min_quantity")),
    case("qty-10**400", bid_req(bid(quantity=10**400), says="min_quantity")),
    case("qty-null", bid_req(bid(quantity=None), says="min_quantity")),
    case("qty-true", bid_req(bid("860", quantity=True))),
    case("extra-field", bid_req(bid(supplier=S2), says="supplier")),
    case("lot-missing", bid_req({"tiers": bid()["tiers"]}, says="lot_id")),
    case("lot-empty", bid_req(bid(lot_id=""), says="lot_id")),
    case("lot-65-chars", bid_req(bid(lot_id="l" * 65), says="lot_id")),
    case("lot-100k-chars", bid_req(bid(lot_id="l" * 100_000), says="lot_id")),
    case("lot-unicode", bid_req(bid(lot_id="ノートパソコン"), says="unknown lot")),
    case("lot-emoji", bid_req(bid(lot_id="💻"), says="unknown lot")),
    case("lot-other-case", bid_req(bid(lot_id="LAPTOPS"), says="unknown lot")),
    case("lot-nul", bid_req(bid(lot_id="laptops\x00"), says="lot_id")),
    case("lot-lone-surrogate", bid_req(b'{"lot_id": "\\ud800", "tiers": []}', headers=JSON, says="lot_id")),
    case("lot-number", bid_req(bid(lot_id=7), says="lot_id")),
    case("lot-sql", bid_req(bid(lot_id="laptops' OR '1'='1"), says="unknown lot")),
    case("body-not-json", bid_req(b'{"lot_id": "laptops", ', headers=JSON, status=400, says="json")),
    case("body-array", bid_req([bid()])),
    case("body-string", bid_req("laptops")),
    case("body-null", bid_req(None)),
    case("body-empty", bid_req(b"", headers=JSON)),
    case("no-content-type", bid_req(b'{"lot_id": "tablets", "tiers": []}')),
    case(
        "text-plain", bid_req(b'{"lot_id": "tablets", "tiers": []}', headers={"Content-Type": "text/plain"})
    ),
    case(
        "form-encoded",
        bid_req(b"lot_id=laptops", headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ),
    case(
        "idempotency-key-too-long",
        bid_req(status=400, says="idempotency", headers={"Idempotency-Key": "k" * 201}),
    ),
    case("as-council", bid_req(who="council", status=403, says="supplier")),
    case("as-lead", bid_req(who="lead", status=403, says="supplier")),
    case("as-admin", bid_req(who="admin", status=403, says="supplier")),
    case("as-unregistered-supplier", bid_req(who="stranger", status=403, says="did not register")),
    case("no-token", bid_req(who="none", status=401)),
    case("bogus-token", bid_req(who="bogus", status=401)),
    case("revoked-token", bid_req(who="revoked", status=401, says="revoked")),
    case("basic-auth", bid_req(who="basic", status=401)),
    case("empty-bearer", bid_req(who="empty", status=401)),
    case("unknown-buy", bid_req(path=f"{UNKNOWN}/bids", status=404)),
    case("buy-id-dotdot", bid_req(path="/v1/joint-buys/%2e%2e/bids", status=404)),
    case("buy-id-slashes", bid_req(path="/v1/joint-buys/..%2F..%2Fapi-keys/bids", status=404)),
    case("buy-id-sql", bid_req(path="/v1/joint-buys/jb-1'%20OR%20'1'%3D'1/bids", status=404)),
    case("buy-id-unicode", bid_req(path="/v1/joint-buys/jb-%C3%BC%F0%9F%92%BB/bids", status=404)),
    case("buy-id-bad-utf8", bid_req(path="/v1/joint-buys/%FF%FE/bids", status=404)),
    case("buy-id-5000-chars", bid_req(path=f"/v1/joint-buys/jb-{'a' * 5000}/bids", status=404)),
    case("buy-id-nul", bid_req(path=f"{NUL_ID}/bids", status=400)),
    case("in-evaluation", bid_req(buy="evaluation", status=409, says="round")),
    case("in-standstill", bid_req(buy="standstill", status=409, says="round")),
    case("in-suspended", bid_req(buy="suspended", status=409, says="round")),
]


# --- PUT /scores -----------------------------------------------------------------------------------


def marks(**kw: Any) -> dict[str, Any]:
    return {"supplier": S1, "lot_id": "laptops", "quality": 50, "social_value": 50} | kw


def score_req(body: Any, status: int = 422, says: str = "", **kw: Any) -> Req:
    return Req(
        **{"method": "PUT", "path": "{buy}/scores", "buy": "evaluation"} | kw,
        body=body,
        status=status,
        says=says,
    )


SCORES = [
    case("quality-minus-1", score_req(marks(quality=-1), says="quality")),
    case("quality-101", score_req(marks(quality=101), says="quality")),
    case("quality-50.5", score_req(marks(quality=50.5), says="quality")),
    case("quality-string-50", score_req(marks(quality="50"))),
    case("quality-null", score_req(marks(quality=None), says="quality")),
    case("quality-true", score_req(marks(quality=True))),
    case("quality-fifty", score_req(marks(quality="fifty"), says="quality")),
    case("quality-list", score_req(marks(quality=[50]), says="quality")),
    case("quality-huge", score_req(marks(quality=10**400), says="quality")),
    case(
        "quality-NaN",
        score_req(
            b'{"supplier": "%s", "lot_id": "laptops", "quality": NaN, "social_value": 5}' % S1.encode(),
            headers=JSON,
            says="quality",
        ),
    ),
    case(
        "quality-missing",
        score_req({"supplier": S1, "lot_id": "laptops", "social_value": 50}, says="quality"),
    ),
    case("social-value-minus-1", score_req(marks(social_value=-1), says="social_value")),
    case("social-value-101", score_req(marks(social_value=101), says="social_value")),
    case("supplier-unknown", score_req(marks(supplier="99999999"), 409, "no tender")),
    case("supplier-not-bidding", score_req(marks(supplier=STRANGER), 409, "no tender")),
    case("supplier-empty", score_req(marks(supplier=""), says="supplier")),
    case("supplier-null", score_req(marks(supplier=None), says="supplier")),
    case("supplier-65-chars", score_req(marks(supplier="9" * 65), says="supplier")),
    case("supplier-number", score_req(marks(supplier=51000001), says="supplier")),
    case("supplier-nul", score_req(marks(supplier=S1 + "\x00"), 422, "supplier")),
    case("lot-unknown", score_req(marks(lot_id="tablets"), says="unknown lot")),
    case("lot-without-tender", score_req(marks(lot_id="monitors"), 409, "no tender")),
    case("lot-empty", score_req(marks(lot_id=""), says="lot_id")),
    case("extra-field", score_req(marks(price_score=60), says="price_score")),
    case("body-not-json", score_req(b'{"supplier": ', 400, "json", headers=JSON)),
    case("body-array", score_req([marks()])),
    case("as-supplier", score_req(marks(), 403, "lead", who=S1)),
    case("as-council", score_req(marks(), 403, "lead", who="council")),
    case("as-another-lead", score_req(marks(), 403, "another organisation", who="other_lead")),
    case("no-token", score_req(marks(), 401, who="none")),
    case("revoked-token", score_req(marks(), 401, who="revoked")),
    case("unknown-buy", score_req(marks(), 404, path=f"{UNKNOWN}/scores")),
    case("buy-id-nul", score_req(marks(), 400, path=f"{NUL_ID}/scores")),
    case("in-negotiation", score_req(marks(), 409, "evaluation", buy="negotiation")),
    case("in-standstill", score_req(marks(), 409, "evaluation", buy="standstill")),
    case("in-suspended", score_req(marks(), 409, "evaluation", buy="suspended")),
]


# --- POST /challenges ------------------------------------------------------------------------------

GROUNDS = {"grounds": "our social value answers were marked against the wrong criteria"}


def challenge_req(body: Any = GROUNDS, status: int = 422, says: str = "", **kw: Any) -> Req:
    defaults = {"method": "POST", "path": "{buy}/challenges", "who": S1, "buy": "standstill"}
    return Req(**defaults | kw, body=body, status=status, says=says)


CHALLENGES = [
    case("grounds-empty", challenge_req({"grounds": ""}, says="grounds")),
    case("grounds-missing", challenge_req({}, says="grounds")),
    case("grounds-100k-chars", challenge_req({"grounds": "g" * 100_000}, says="grounds")),
    case("grounds-number", challenge_req({"grounds": 42}, says="grounds")),
    case("grounds-true", challenge_req({"grounds": True}, says="grounds")),
    case("grounds-null", challenge_req({"grounds": None}, says="grounds")),
    case("grounds-list", challenge_req({"grounds": ["unfair"]}, says="grounds")),
    case("grounds-object", challenge_req({"grounds": {"text": "unfair"}}, says="grounds")),
    case("extra-field", challenge_req(GROUNDS | {"supplier": S2}, says="supplier")),
    case("body-not-json", challenge_req(b'{"grounds": "unfair', 400, "json", headers=JSON)),
    case("body-array", challenge_req([GROUNDS])),
    case("body-string", challenge_req("unfair")),
    case("as-supplier-that-did-not-bid", challenge_req(status=403, says="did not bid", who="stranger")),
    case("as-lead", challenge_req(status=403, says="supplier", who="lead")),
    case("as-council", challenge_req(status=403, says="supplier", who="council")),
    case("no-token", challenge_req(status=401, who="none")),
    case("revoked-token", challenge_req(status=401, who="revoked")),
    case("unknown-buy", challenge_req(status=404, path=f"{UNKNOWN}/challenges")),
    case("buy-id-nul", challenge_req(status=400, path=f"{NUL_ID}/challenges")),
    case("in-negotiation", challenge_req(status=409, says="standstill", buy="negotiation")),
    case("in-evaluation", challenge_req(status=409, says="standstill", buy="evaluation")),
    case("in-suspended", challenge_req(status=409, says="standstill", buy="suspended")),
    case(
        "grounds-nul",
        challenge_req({"grounds": "unfair\x00"}, says="grounds", buy="fresh-standstill"),
    ),
]


# --- POST /challenges/{id}/decision ----------------------------------------------------------------

DISMISS = {"outcome": "dismissed", "note": "marked as published"}
RE_MARK = {"outcome": "upheld", "remedy": "re-evaluate"}


def decision_req(body: Any = DISMISS, status: int = 422, says: str = "", **kw: Any) -> Req:
    defaults = {"method": "POST", "path": "{buy}/challenges/ch-1/decision", "buy": "suspended"}
    return Req(**defaults | kw, body=body, status=status, says=says)


def corrected(*items: Any) -> dict[str, Any]:
    return RE_MARK | {"corrected_scores": list(items)}


LAPTOPS_100 = {"lot_id": "laptops", "quality": 100, "social_value": 100}
DECISIONS = [
    case("outcome-invalid", decision_req({"outcome": "maybe"}, says="outcome")),
    case("outcome-other-case", decision_req({"outcome": "DISMISSED"}, says="outcome")),
    case("outcome-empty", decision_req({"outcome": ""}, says="outcome")),
    case("outcome-null", decision_req({"outcome": None}, says="outcome")),
    case("outcome-number", decision_req({"outcome": 1}, says="outcome")),
    case("outcome-missing", decision_req({"note": "n"}, says="outcome")),
    case("remedy-invalid", decision_req({"outcome": "upheld", "remedy": "refund"}, says="remedy")),
    case("remedy-null", decision_req({"outcome": "upheld", "remedy": None}, says="remedy")),
    case("note-10001-chars", decision_req(DISMISS | {"note": "n" * 10_001}, says="note")),
    case("note-number", decision_req(DISMISS | {"note": 5}, says="note")),
    case("scores-not-a-list", decision_req(RE_MARK | {"corrected_scores": "high"}, says="corrected_scores")),
    case("scores-object", decision_req(RE_MARK | {"corrected_scores": LAPTOPS_100}, says="corrected_scores")),
    case("scores-of-strings", decision_req(corrected("laptops"), says="corrected_scores.0")),
    case("scores-quality-101", decision_req(corrected(LAPTOPS_100 | {"quality": 101}), says="quality")),
    case("scores-quality-minus-1", decision_req(corrected(LAPTOPS_100 | {"quality": -1}), says="quality")),
    case("scores-no-lot", decision_req(corrected({"quality": 50, "social_value": 50}), says="lot_id")),
    case(
        "scores-extra-field",
        decision_req(corrected(LAPTOPS_100 | {"supplier": S2}), says="supplier", buy="fresh-suspended"),
    ),
    case("scores-51", decision_req(corrected(*[LAPTOPS_100] * 51), says="corrected_scores")),
    case("scores-unknown-lot", decision_req(corrected(LAPTOPS_100 | {"lot_id": "tablets"}), says="tablets")),
    case(
        "scores-lot-without-tender",
        decision_req(corrected(LAPTOPS_100 | {"lot_id": "monitors"}), says="monitors"),
    ),
    case(
        "scores-when-dismissed", decision_req(DISMISS | {"corrected_scores": [LAPTOPS_100]}, says="corrected")
    ),
    case("scores-with-cancel", decision_req(corrected(LAPTOPS_100) | {"remedy": "cancel"}, says="corrected")),
    case("extra-field", decision_req(DISMISS | {"challenge_id": "ch-2"}, says="challenge_id")),
    case("body-not-json", decision_req(b'{"outcome": ', 400, "json", headers=JSON)),
    case("body-array", decision_req([DISMISS])),
    case("unknown-challenge", decision_req(status=404, says="ch-99", path="{buy}/challenges/ch-99/decision")),
    case("challenge-0", decision_req(status=404, says="ch-0", path="{buy}/challenges/ch-0/decision")),
    case("challenge-id-65-chars", decision_req(path="{buy}/challenges/" + "c" * 65 + "/decision")),
    case(
        "challenge-id-sql", decision_req(status=404, path="{buy}/challenges/ch-1'%20OR%20'1'%3D'1/decision")
    ),
    case("challenge-id-dotdot", decision_req(status=404, path="{buy}/challenges/..%2Fch-1/decision")),
    case("challenge-id-nul", decision_req(status=400, path="{buy}/challenges/ch-1%00/decision")),
    case("as-supplier", decision_req(status=403, says="lead", who=S1)),
    case("as-council", decision_req(status=403, says="lead", who="council")),
    case("as-another-lead", decision_req(status=403, says="another organisation", who="other_lead")),
    case("no-token", decision_req(status=401, who="none")),
    case("revoked-token", decision_req(status=401, who="revoked")),
    case("unknown-buy", decision_req(status=404, path=f"{UNKNOWN}/challenges/ch-1/decision")),
    case("buy-id-nul", decision_req(status=400, path=f"{NUL_ID}/challenges/ch-1/decision")),
    case("in-standstill-no-challenge", decision_req(status=404, says="ch-1", buy="standstill")),
    case("in-negotiation", decision_req(status=404, says="ch-1", buy="negotiation")),
    case("note-nul", decision_req(DISMISS | {"note": "see \x00"}, says="note", buy="fresh-suspended")),
]


# --- reads: /bids/mine, /award, /contracts, /ocds, /events -----------------------------------------


def get(path: str, status: int, says: str = "", who: str = "lead", buy: str = "standstill") -> Req:
    return Req(method="GET", path=path, who=who, status=status, says=says, buy=buy)


def contracts(council: str, status: int = 422, who: str = "lead") -> Req:
    return get(f"{{buy}}/contracts?council={council}", status, "council" if status == 422 else council, who)


READS = [
    case("mine-as-council", get("{buy}/bids/mine", 403, "supplier", who="council", buy="negotiation")),
    case("mine-as-lead", get("{buy}/bids/mine", 403, "supplier", buy="negotiation")),
    case("mine-no-token", get("{buy}/bids/mine", 401, who="none", buy="negotiation")),
    case("mine-revoked-token", get("{buy}/bids/mine", 401, who="revoked", buy="negotiation")),
    case("mine-unknown-buy", get(f"{UNKNOWN}/bids/mine", 404, who=S1)),
    case("mine-buy-id-nul", get(f"{NUL_ID}/bids/mine", 400, who=S1)),
    case("award-in-negotiation", get("{buy}/award", 409, "no award notice", buy="negotiation")),
    case("award-in-evaluation", get("{buy}/award", 409, "no award notice", buy="evaluation")),
    case("award-no-token", get("{buy}/award", 401, who="none")),
    case("award-another-lead", get("{buy}/award", 403, who="other_lead")),
    case("award-unknown-buy", get(f"{UNKNOWN}/award", 404)),
    case("award-buy-id-nul", get(f"{NUL_ID}/award", 400)),
    case("contracts-nowhere", contracts("nowhere")),
    case("contracts-short-gss", contracts("E0600005")),
    case("contracts-long-gss", contracts("E060000520")),
    case("contracts-lower-case", contracts("e06000052")),
    case("contracts-empty", contracts("")),
    case("contracts-newline", contracts("E06000052%0A")),
    case("contracts-nul", get("{buy}/contracts?council=E0600005%00", 400, "NUL")),
    case("contracts-arabic-digits", contracts("E%D9%A0%D9%A6%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A5%D9%A2")),
    case("contracts-sql-or", contracts("E06000052'%20OR%20'1'%3D'1")),
    case("contracts-sql-drop", contracts("'%3B%20DROP%20TABLE%20contracts%3B%20--")),
    case("contracts-as-supplier-malformed", contracts("nowhere", who=S1)),
    case("contracts-another-council", contracts(E2, 403, who="council")),
    case("contracts-no-token", get("{buy}/contracts", 401, who="none")),
    case("contracts-unknown-buy", get(f"{UNKNOWN}/contracts", 404)),
    case("contracts-buy-id-nul", get(f"{NUL_ID}/contracts", 400)),
    case("ocds-unknown", get(f"{UNKNOWN}/ocds", 404, who="none")),
    case("ocds-dotdot", get("/v1/joint-buys/%2e%2e/ocds", 404, who="none")),
    case("ocds-sql", get("/v1/joint-buys/jb-1'%20OR%20'1'%3D'1/ocds", 404, who="none")),
    case("ocds-unicode", get("/v1/joint-buys/%F0%9F%92%BB/ocds", 404, who="none")),
    case("ocds-bad-utf8", get("/v1/joint-buys/%FF%FE/ocds", 404, who="none")),
    case("ocds-5000-chars", get(f"/v1/joint-buys/jb-{'a' * 5000}/ocds", 404, who="none")),
    case("ocds-nul", get(f"{NUL_ID}/ocds", 400, who="none")),
    case("events-buy-id-nul", get(f"{NUL_ID}/events", 400)),
]


# --- POST /close-stage -----------------------------------------------------------------------------


def close_req(stage: Any, status: int = 409, buy: str = "negotiation", **kw: Any) -> Req:
    defaults = {"method": "POST", "path": "{buy}/close-stage", "body": {"stage": stage}, "says": ""}
    if status == 422:
        defaults["says"] = "stage"
    return Req(**defaults | kw, status=status, buy=buy)


CLOSE = [
    case("negotiation-in-evaluation", close_req("negotiation", buy="evaluation", says="negotiation")),
    case("negotiation-in-standstill", close_req("negotiation", buy="standstill", says="negotiation")),
    case("negotiation-in-suspended", close_req("negotiation", buy="suspended", says="negotiation")),
    case("demand-in-negotiation", close_req("demand", says="demand")),
    case("sign-up-in-negotiation", close_req("sign_up", says="sign_up")),
    case("unknown-stage", close_req("haggling", 422)),
    case("stage-other-case", close_req("NEGOTIATION", 422)),
    case("stage-empty", close_req("", 422)),
    case("stage-null", close_req(None, 422)),
    case("stage-list", close_req(["negotiation"], 422)),
    case("stage-missing", close_req(None, 422, body={})),
    case("evaluation-not-closable", close_req("evaluation", 422, buy="evaluation", says="closed early")),
    case("standstill-not-closable", close_req("standstill", 422, buy="standstill", says="closed early")),
    case("awarded-not-closable", close_req("awarded", 422, says="closed early")),
    case(
        "extra-field", close_req("negotiation", 422, body={"stage": "negotiation", "round": 1}, says="round")
    ),
    case("body-not-json", close_req(None, 400, body=b'{"stage": "neg', says="json", headers=JSON)),
    case("as-supplier", close_req("negotiation", 403, who=S1, says="lead")),
    case("as-another-lead", close_req("negotiation", 403, who="other_lead", says="another organisation")),
    case("no-token", close_req("negotiation", 401, who="none")),
    case("revoked-token", close_req("negotiation", 401, who="revoked")),
    case("unknown-buy", close_req("negotiation", 404, path=f"{UNKNOWN}/close-stage")),
    case("buy-id-nul", close_req("negotiation", 400, path=f"{NUL_ID}/close-stage")),
]


# --- the buys and the callers ----------------------------------------------------------------------


@dataclass
class World:
    api: Api
    http: httpx.AsyncClient
    buys: dict[str, Buy]
    tokens: dict[str, dict[str, str]]


async def drive(api: Api, stage: str, lead_org: str) -> Buy:
    """A buy with two qualified suppliers (only S1 ever bids in the hostile cases, so a round
    never closes under them) taken through the real workflow to `stage`."""
    rounds = 3 if stage == "negotiation" else 1
    negotiation = {"rounds": rounds, "round_window": "P1D"}
    buy = await api.negotiating_buy(lead_org, DEMAND, {S1: "active", S2: "active"}, negotiation=negotiation)
    if stage == "negotiation":
        return buy
    for supplier in (S1, S2):
        r = await api.http.post(f"{buy.url}/bids", json=bid("900"), headers=buy.suppliers[supplier])
        assert r.status_code == 201, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "evaluation")
    if stage == "evaluation":
        return buy
    for supplier in (S1, S2):
        r = await api.http.put(f"{buy.url}/scores", json=marks(supplier=supplier), headers=buy.lead)
        assert r.status_code == 200, r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "standstill")
    if stage == "standstill":
        return buy
    r = await api.http.post(f"{buy.url}/challenges", json=GROUNDS, headers=buy.suppliers[S1])
    assert r.status_code == 201 and r.json()["challenge_id"] == "ch-1", r.text
    await api.wait_for(buy.url, buy.lead, lambda b: b["stage"] == "suspended")
    return buy


@pytest.fixture(scope="module")
async def world(
    api: Api, api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> AsyncIterator[World]:
    buys = {stage: await drive(api, stage, f"LEAD-HOSTILE-{stage.upper()}") for stage in STAGES}
    revoked = await api.http.post(
        "/v1/api-keys", json={"role": "supplier", "organisation_id": S1, "name": "revoked"}, headers=api.admin
    )
    r = await api.http.delete(f"/v1/api-keys/{revoked.json()['key_id']}", headers=api.admin)
    assert r.status_code == 204, r.text
    tokens = {
        "other_lead": await api.token("lead", "LEAD-HOSTILE-OTHER"),
        "stranger": await api.supplier(STRANGER),
        "admin": api.admin,
        "revoked": {"Authorization": f"Bearer {revoked.json()['token']}"},
        "bogus": {"Authorization": "Bearer jb_not-a-token"},
        "basic": {"Authorization": "Basic c3VwcGxpZXI6cGFzc3dvcmQ="},
        "empty": {"Authorization": "Bearer "},
        "none": {},
    }
    # A second app over the same worker, pool and Temporal client that answers an unhandled error
    # with its 500 (as a server would) instead of raising it into the test.
    app = create_app(api_settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://jointbuy.test") as http:
        yield World(api=api, http=http, buys=buys, tokens=tokens)


def headers_for(world: World, who: str, buy: Buy) -> dict[str, str]:
    if who == "lead":
        return buy.lead
    if who == "council":
        return buy.councils[E1]
    return buy.suppliers.get(who) or world.tokens[who]


async def audit_log(world: World, buy: Buy) -> list[Any]:
    """The log as the lead and each supplier see it (bids are sealed from the lead until evaluation)."""
    seen = []
    for headers in (buy.lead, *buy.suppliers.values()):
        r = await world.http.get(f"{buy.url}/events", headers=headers)
        assert r.status_code == 200, r.text
        seen.append(r.json())
    return seen


async def target(world: World, req: Req) -> Buy:
    stage = req.buy or "negotiation"  # where most of these requests aim
    if stage.startswith("fresh-"):
        return await drive(world.api, stage.removeprefix("fresh-"), f"LEAD-HOSTILE-FRESH-{next(_fresh)}")
    return world.buys[stage]


async def refused(world: World, req: Req) -> None:
    buy = await target(world, req)
    mutating = req.method != "GET"
    before = await audit_log(world, buy) if mutating else None
    r = await send(world.http, req, headers_for(world, req.who, buy), buy.url)
    assert_problem(r, req.status, req.says)
    if mutating:
        assert await audit_log(world, buy) == before


@pytest.mark.parametrize("req", BIDS)
async def test_submit_bid(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", SCORES)
async def test_enter_scores(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", CHALLENGES)
async def test_lodge_challenge(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", DECISIONS)
async def test_decide_challenge(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", READS)
async def test_read(world: World, req: Req) -> None:
    await refused(world, req)


@pytest.mark.parametrize("req", CLOSE)
async def test_close_stage(world: World, req: Req) -> None:
    await refused(world, req)


async def test_the_shared_buys_are_where_the_sweep_left_them(world: World) -> None:
    """No refused request moved a shared buy on (nor did the lead's or a supplier's view break)."""
    for stage, buy in world.buys.items():
        r = await world.http.get(buy.url, headers=buy.lead)
        assert r.status_code == 200 and r.json()["stage"] == stage, r.text
