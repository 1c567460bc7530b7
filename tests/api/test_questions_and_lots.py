"""Clarification questions and cancelling one lot, through HTTP against the real workflow.

Questions: any supplier asks until round 1 opens (the default deadline); the lead answers once, to
everyone or to the asker. Who sees what: the lead everything with the askers; the buy's registered
suppliers and councils every published answer with its question, never who asked; each supplier
also its own. Lots: the lead cancels one before the award notice; the rest goes on, and cancelling
the last open lot cancels the buy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from api.webhook_dispatch import Dispatcher
from core.settings import Settings
from tests.api.conftest import Api, Buy
from tests.api.test_webhooks import Receiver, hooks, serve
from tests.unit.test_ocds_builder import assert_valid

__all__ = ["hooks"]  # the webhook tests' fixture: the API with loopback receivers allowed

S1, S2, S3 = "41000001", "41000002", "41000003"
IN_BUY, OUTSIDER = "E06000010", "E06000011"
LAPTOPS = [{"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "900.00"}]


async def _ask(api: Api, buy: Buy, token: dict[str, str], body: dict[str, Any]) -> Any:
    return await api.http.post(f"{buy.url}/questions", json=body, headers=token)


async def _questions(api: Api, buy: Buy, token: dict[str, str]) -> Any:
    return await api.http.get(f"{buy.url}/questions", headers=token)


async def test_questions_answers_and_who_sees_them(api: Api) -> None:
    lead = await api.token("lead", "LEAD-QA")
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    council = await api.token("council", IN_BUY)
    r = await api.http.put(f"{buy.url}/demand", json={"lines": LAPTOPS}, headers=council)
    assert r.status_code == 200, r.text
    outsider = await api.token("council", OUTSIDER)
    for number in (S1, S2, S3):
        buy.suppliers[number] = await api.supplier(number)
    for number in (S1, S2):  # S3 asks without registering interest
        assert (await api.http.post(f"{buy.url}/suppliers", headers=buy.suppliers[number])).status_code == 201

    asked = {}
    for number, body in (
        (S1, {"question": "Is delivery to each depot included?", "lot_id": "laptops"}),
        (S2, {"question": "  Which keyboard layout?  "}),
        (S3, {"question": "May a consortium bid?"}),
    ):
        r = await _ask(api, buy, buy.suppliers[number], body)
        assert r.status_code == 201, r.text
        asked[number] = r.json()["question_id"]
    assert sorted(asked.values()) == ["q-1", "q-2", "q-3"]

    # bad questions are 422 and change nothing
    for body in (
        {"question": "   "},
        {"question": ""},
        {"question": "x" * 5001},
        {"question": "ok", "extra": 1},
    ):
        r = await _ask(api, buy, buy.suppliers[S1], body)
        assert r.status_code == 422, (body, r.text)
    r = await _ask(api, buy, buy.suppliers[S1], {"question": "which lot?", "lot_id": "printers"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lot_id", r.text
    assert (await _ask(api, buy, lead, {"question": "leads do not ask"})).status_code == 403

    answer = f"{buy.url}/questions/{asked[S1]}/answer"
    body = {"answer": "Yes: one delivery point per council.", "publish": "all"}
    assert (await api.http.post(answer, json=body, headers=buy.suppliers[S1])).status_code == 403
    for bad in (
        {"answer": " ", "publish": "all"},
        {"answer": "x" * 5001, "publish": "all"},
        {"answer": "y", "publish": "everyone"},
    ):
        assert (await api.http.post(answer, json=bad, headers=lead)).status_code == 422, bad
    r = await api.http.post(answer, json=body, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["asked_by"] == S1 and r.json()["published"] is True
    assert (await api.http.post(answer, json=body | {"answer": "again"}, headers=lead)).status_code == 409
    r = await api.http.post(
        f"{buy.url}/questions/{asked[S2]}/answer",
        json={"answer": "UK layout.", "publish": "asker"},
        headers=lead,
    )
    assert r.status_code == 200, r.text
    missing = await api.http.post(f"{buy.url}/questions/q-99/answer", json=body, headers=lead)
    assert missing.status_code == 404, missing.text

    published = {
        "question_id": asked[S1],
        "lot_id": "laptops",
        "question": "Is delivery to each depot included?",
        "answer": "Yes: one delivery point per council.",
        "published": True,
    }

    def shown(resp: Any, *keys: str) -> list[dict[str, Any]]:
        assert resp.status_code == 200, resp.text
        return [{k: q[k] for k in (*published, *keys)} for q in resp.json()["questions"]]

    everything = shown(await _questions(api, buy, lead), "asked_by", "publish")
    assert [(q["question_id"], q["asked_by"], q["publish"]) for q in everything] == [
        (asked[S1], S1, "all"),
        (asked[S2], S2, "asker"),
        (asked[S3], S3, None),
    ]
    assert shown(await _questions(api, buy, buy.suppliers[S1]), "mine") == [published | {"mine": True}]
    assert shown(await _questions(api, buy, buy.suppliers[S2]), "mine") == [
        published | {"mine": False},
        {
            "question_id": asked[S2],
            "lot_id": None,
            "question": "Which keyboard layout?",
            "answer": "UK layout.",
            "published": False,
            "mine": True,
        },
    ]
    # not registered: only its own question, not yet answered
    assert [
        q["question_id"] for q in (await _questions(api, buy, buy.suppliers[S3])).json()["questions"]
    ] == [asked[S3]]
    assert shown(await _questions(api, buy, council)) == [published]
    assert (await _questions(api, buy, outsider)).status_code == 403
    for token in (council, buy.suppliers[S1], buy.suppliers[S3]):
        text = (await _questions(api, buy, token)).text
        assert "asked_by" not in text and S2 not in text
        assert S1 not in text or token is buy.suppliers[S1]

    # the published answer is an audit event every party reads, naming no asker; the private one
    # reaches only its asker
    def answered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["data"] for e in events if e["type"] in ("question.answered", "clarification.published")]

    council_events = (await api.http.get(f"{buy.url}/events", headers=council)).json()
    assert answered(council_events) == [
        {
            "question_id": asked[S1],
            "lot_id": "laptops",
            "question": "Is delivery to each depot included?",
            "answer": "Yes: one delivery point per council.",
            "publish": "all",
        }
    ]
    assert not [e for e in council_events if e["type"] == "question.asked"]
    s2_events = (await api.http.get(f"{buy.url}/events", headers=buy.suppliers[S2])).json()
    assert [d["question_id"] for d in answered(s2_events)] == [asked[S1], asked[S2]]
    s1_events = (await api.http.get(f"{buy.url}/events", headers=buy.suppliers[S1])).json()
    assert [d["question_id"] for d in answered(s1_events)] == [asked[S1]]
    assert [e["data"]["question_id"] for e in s1_events if e["type"] == "question.asked"] == [asked[S1]]


async def test_no_questions_once_round_1_opens(api: Api) -> None:
    buy = await api.negotiating_buy(
        "LEAD-QA2", {"E06000012": LAPTOPS}, {S1: "active"}, viability={"min_councils": 1}
    )
    r = await _ask(api, buy, buy.suppliers[S1], {"question": "Too late?"})
    assert r.status_code == 409, r.text
    assert "closed" in r.json()["detail"]


async def test_cancelling_one_lot_then_the_last(api: Api) -> None:
    both = [
        {"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "900.00"},
        {"lot_id": "monitors", "quantity": 30, "baseline_unit_price": "200.00"},
    ]
    buy = await api.negotiating_buy(
        "LEAD-LOTS", {"E06000013": both, "E06000014": both}, {S1: "active", S2: "active"}
    )
    url = f"{buy.url}/lots/monitors/cancel"
    body = {"reason_code": "expensesCut", "reason": "monitor budgets withdrawn"}
    r = await api.http.post(
        f"{buy.url}/bids",
        json={"lot_id": "monitors", "tiers": [{"min_quantity": 1, "unit_price": "200.00"}]},
        headers=buy.suppliers[S1],
    )
    assert r.status_code == 201, r.text
    for bad in ({"reason_code": "bored", "reason": "x"}, {"reason_code": "noDemand", "reason": " "}, {}):
        assert (await api.http.post(url, json=bad, headers=buy.lead)).status_code == 422, bad
    assert (await api.http.post(url, json=body, headers=buy.suppliers[S1])).status_code == 403
    unknown = await api.http.post(f"{buy.url}/lots/printers/cancel", json=body, headers=buy.lead)
    assert unknown.status_code == 404, unknown.text
    r = await api.http.post(url, json=body, headers=buy.lead)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "negotiation" and r.json()["status"] == "cancelled"
    again = await api.http.post(url, json=body, headers=buy.lead)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"], again.text

    # the lot takes no more bids; the round waits only for laptops now
    r = await api.http.post(
        f"{buy.url}/bids",
        json={"lot_id": "monitors", "tiers": [{"min_quantity": 1, "unit_price": "190.00"}]},
        headers=buy.suppliers[S2],
    )
    assert r.status_code == 409 and "cancelled" in r.json()["detail"], r.text
    for number, price in ((S1, "880.00"), (S2, "870.00")):
        r = await api.http.post(
            f"{buy.url}/bids",
            json={"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": price}]},
            headers=buy.suppliers[number],
        )
        assert r.status_code == 201, r.text
    view = await api.wait_for(buy.url, buy.lead, lambda b: b["round"]["number"] == 2)
    lots = {lot["id"]: lot for lot in view["lots"]}
    assert (lots["monitors"]["status"], lots["monitors"]["status_reason"]) == (
        "cancelled",
        "monitor budgets withdrawn",
    )
    assert lots["laptops"]["status"] == "open"
    supplier_events = (await api.http.get(f"{buy.url}/events", headers=buy.suppliers[S2])).json()
    [cancelled] = [e["data"] for e in supplier_events if e["type"] == "lot.cancelled"]
    assert cancelled == {
        "lot_id": "monitors",
        "reason_code": "expensesCut",
        "reason": "monitor budgets withdrawn",
        "stage": "negotiation",
        "bids_set_aside": 1,
        "buy_cancelled": False,
    }

    # published: a tender update says which lot ended and why
    package = (await api.http.get(f"{buy.url}/ocds")).json()
    assert_valid(package)
    last = package["releases"][-1]
    assert last["tag"] == ["tenderUpdate"]
    ocds_lots = {lot["id"]: lot for lot in last["tender"]["lots"]}
    assert ocds_lots["monitors"]["status"] == "cancelled"
    assert ocds_lots["monitors"]["description"].endswith(
        "; cancelled (expensesCut): monitor budgets withdrawn"
    )
    assert ocds_lots["laptops"]["status"] == "active"

    # the last open lot: the buy is cancelled, and says why
    r = await api.http.post(
        f"{buy.url}/lots/laptops/cancel",
        json={"reason_code": "unFixable", "reason": "spec withdrawn"},
        headers=buy.lead,
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "cancelled"
    view = (await api.http.get(buy.url, headers=buy.lead)).json()
    assert view["stage"] == "cancelled"
    assert "laptops" in view["outcome_reason"] and "unFixable" in view["outcome_reason"]
    late = await api.http.post(url, json=body, headers=buy.lead)
    assert late.status_code == 409, late.text


async def test_a_published_answer_is_pushed_to_subscribers_and_a_private_one_only_to_the_asker(
    api: Api, hooks: Api, pool: Any, api_settings: Settings
) -> None:
    lead = await api.token("lead", "LEAD-QA-PUSH")
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    council = await api.token("council", "E06000015")
    r = await api.http.put(f"{buy.url}/demand", json={"lines": LAPTOPS}, headers=council)
    assert r.status_code == 200, r.text
    asker, other = "41000011", "41000012"
    for number in (asker, other):
        buy.suppliers[number] = await api.supplier(number)
        assert (await api.http.post(f"{buy.url}/suppliers", headers=buy.suppliers[number])).status_code == 201
    receivers = {"council": Receiver("500"), "asker": Receiver("500"), "other": Receiver("500")}
    tokens = {"council": council, "asker": buy.suppliers[asker], "other": buy.suppliers[other]}
    types = ["clarification.published", "question.answered", "question.asked"]
    settings = api_settings.model_copy(
        update={
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_poll_seconds": 0.05,
        }
    )
    async with serve(receivers) as port:
        for name, token in tokens.items():
            body = {"url": f"http://127.0.0.1:{port}/{name}", "event_types": types, "buy_id": buy.id}
            r = await hooks.http.post("/v1/webhooks", json=body, headers=token)
            assert r.status_code == 201, r.text
        dispatcher = asyncio.create_task(Dispatcher(pool, settings).run())
        try:
            for text, publish in (("Is delivery included?", "all"), ("May we quote in euros?", "asker")):
                r = await _ask(api, buy, buy.suppliers[asker], {"question": text})
                assert r.status_code == 201, r.text
                answer = {"answer": f"answer to {text}", "publish": publish}
                url = f"{buy.url}/questions/{r.json()['question_id']}/answer"
                assert (await api.http.post(url, json=answer, headers=lead)).status_code == 200

            def received(name: str) -> list[tuple[str, str]]:
                out = []
                for body, _ in receivers[name].accepted:
                    event = json.loads(body)["data"]
                    out.append((event["type"], event["data"]["question_id"]))
                return sorted(set(out))

            for _ in range(300):
                if (
                    received("asker")
                    == [
                        ("clarification.published", "q-1"),
                        ("question.answered", "q-2"),
                        ("question.asked", "q-1"),
                        ("question.asked", "q-2"),
                    ]
                    and received("council")
                    and received("other")
                ):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # anything else would have arrived by now
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
    assert received("council") == [("clarification.published", "q-1")]
    assert received("other") == [("clarification.published", "q-1")]
    assert received("asker")[0] == ("clarification.published", "q-1")
    for body, _ in receivers["council"].accepted:
        assert asker not in body.decode()  # never who asked


HOSTILE = [
    ("POST", "/questions", {"question": "ok", "lot_id": ""}, "supplier", 422),
    ("POST", "/questions", {"question": "ok", "lot_id": "x" * 65}, "supplier", 422),
    ("POST", "/questions", {"question": 42}, "supplier", 422),
    ("POST", "/questions", {"question": ["a"]}, "supplier", 422),
    ("POST", "/questions", {"question": "with a \u0000 NUL"}, "supplier", 422),
    ("POST", "/questions", {}, "supplier", 422),
    ("POST", "/questions", "not an object", "supplier", 422),
    ("POST", "/questions/q-1/answer", {"answer": "yes"}, "lead", 422),
    ("POST", "/questions/q-1/answer", {"answer": "yes", "publish": None}, "lead", 422),
    ("POST", "/questions/q-1/answer", {"answer": "yes", "publish": "all", "more": 1}, "lead", 422),
    ("POST", "/questions/" + "q" * 65 + "/answer", {"answer": "yes", "publish": "all"}, "lead", 422),
    ("POST", "/questions/q-404/answer", {"answer": "yes", "publish": "all"}, "lead", 404),
    ("POST", "/questions/q-1/answer", {"answer": "yes", "publish": "all"}, "council", 403),
    ("POST", "/lots/laptops/cancel", {"reason_code": "noDemand"}, "lead", 422),
    ("POST", "/lots/laptops/cancel", {"reason_code": "NODEMAND", "reason": "x"}, "lead", 422),
    ("POST", "/lots/laptops/cancel", {"reason_code": "noDemand", "reason": "x" * 2001}, "lead", 422),
    ("POST", "/lots/" + "l" * 65 + "/cancel", {"reason_code": "noDemand", "reason": "x"}, "lead", 422),
    ("POST", "/lots/laptops/cancel", {"reason_code": "noDemand", "reason": "x"}, "supplier", 403),
    ("POST", "/lots/laptops/cancel", {"reason_code": "noDemand", "reason": "x"}, "council", 403),
]


async def test_hostile_clarification_and_lot_requests_are_refused_and_change_nothing(api: Api) -> None:
    lead = await api.token("lead", "LEAD-QA-HOSTILE")
    buy = Buy(id=(await api.create_buy(lead))["id"], lead=lead)
    who = {
        "lead": lead,
        "supplier": await api.supplier("41000021"),
        "council": await api.token("council", "E06000016"),
    }
    before = (await api.http.get(f"{buy.url}/events", headers=lead)).json()
    for method, path, body, caller, status in HOSTILE:
        r = await api.http.request(method, f"{buy.url}{path}", json=body, headers=who[caller])
        assert r.status_code == status, (path, body, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert (await api.http.get(f"{buy.url}/events", headers=lead)).json() == before
    assert (await _questions(api, buy, lead)).json()["questions"] == []
    unknown = await api.http.post(
        "/v1/joint-buys/jb-000000000000/questions", json={"question": "?"}, headers=who["supplier"]
    )
    assert unknown.status_code == 404, unknown.text
