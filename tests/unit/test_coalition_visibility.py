"""Who sees a council's price limit, a clarification and a cancelled lot in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from procurement.visibility import BuyScope, shown

LEAD = "LEAD-1"
SIGN_UP = {
    "type": "sign_up.confirmed",
    "data": {
        "council": "E06000001",
        "lines": [{"lot_id": "laptops", "quantity": 60, "max_unit_price": "850.00"}],
    },
}


@dataclass(frozen=True)
class Who:
    role: str
    organisation_id: str


def scope(stage: str) -> BuyScope:
    return BuyScope(
        lead=LEAD,
        stage=stage,
        councils=frozenset({"E06000001", "E06000002"}),
        suppliers=frozenset({"S1", "S2"}),
    )


def limits(event: dict[str, object], who: Who | None, stage: str) -> list[object] | None:
    seen = shown(event, who, scope(stage))
    if seen is None:
        return None
    return [line.get("max_unit_price") for line in seen["data"]["lines"]]


@pytest.mark.parametrize("stage", ["sign_up", "assurance", "negotiation", "evaluation", "awarded"])
def test_a_council_always_sees_its_own_limit(stage: str) -> None:
    assert limits(SIGN_UP, Who("council", "E06000001"), stage) == ["850.00"]


@pytest.mark.parametrize(
    ("stage", "seen"),
    [("sign_up", [None]), ("assurance", [None]), ("negotiation", [None]), ("evaluation", ["850.00"])],
)
def test_the_lead_sees_limits_only_after_negotiation(stage: str, seen: list[object]) -> None:
    assert limits(SIGN_UP, Who("lead", LEAD), stage) == seen
    assert limits(SIGN_UP, Who("operator", "ops"), stage) == seen


@pytest.mark.parametrize("stage", ["sign_up", "evaluation", "awarded"])
def test_no_supplier_other_council_or_the_public_sees_a_limit(stage: str) -> None:
    assert limits(SIGN_UP, Who("supplier", "S1"), stage) is None
    assert limits(SIGN_UP, Who("council", "E06000002"), stage) is None
    assert limits(SIGN_UP, None, stage) == [None]  # the public package: quantities only
    priced_out = {
        "type": "coalition.priced_out",
        "data": {"council": "E06000001", "max_unit_price": "850.00"},
    }
    assert shown(priced_out, Who("council", "E06000001"), scope(stage)) is not None
    for who in (Who("supplier", "S1"), Who("council", "E06000002"), None):
        assert shown(priced_out, who, scope(stage)) is None
        assert shown({"type": "coalition.pass", "data": {}}, who, scope(stage)) is None


def test_clarifications_reach_the_buy_and_private_answers_only_the_asker() -> None:
    published = {"type": "clarification.published", "data": {"question_id": "q-1", "answer": "yes"}}
    private = {"type": "question.answered", "data": {"question_id": "q-2", "company_number": "S2"}}
    asked = {"type": "question.asked", "data": {"question_id": "q-2", "company_number": "S2"}}
    s = scope("demand")
    for who in (Who("lead", LEAD), Who("supplier", "S1"), Who("council", "E06000002")):
        assert shown(published, who, s) is not None
    for who in (Who("supplier", "S9"), Who("council", "E06000009"), None):
        assert shown(published, who, s) is None
    for event in (private, asked):
        assert shown(event, Who("supplier", "S2"), s) is not None
        assert shown(event, Who("lead", LEAD), s) is not None
        assert shown(event, Who("supplier", "S1"), s) is None
        assert shown(event, Who("council", "E06000001"), s) is None


def test_a_cancelled_lot_is_published() -> None:
    event = {"type": "lot.cancelled", "data": {"lot_id": "monitors", "reason_code": "noDemand"}}
    assert shown(event, None, scope("negotiation")) == event
