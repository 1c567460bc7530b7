"""Negotiation and award projections against a real PostgreSQL: every event of the catalogue lands
in its read model in the event's own transaction, a re-evaluation overwrites, and applying the
same events again changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from db import award as award_queries
from db.buys import find_buy
from db.events import append_events
from db.projections import project
from procurement.models import DomainEvent
from tests.support import terms

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
S1, S2 = "40000001", "40000002"
LEAD = "lead:CCS"


class History:
    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    def add(self, type_: str, data: dict[str, Any], actor: str = "system") -> None:
        seq = len(self.events) + 1
        at = T0 + timedelta(minutes=seq)
        self.events.append(DomainEvent(seq=seq, type=type_, actor=actor, at=at, data=data))


def _bid(h: History, supplier: str, lot: str, round_: int, price: str, previous: str | None) -> None:
    tiers = [{"min_quantity": 1, "unit_price": "999.00"}, {"min_quantity": 100, "unit_price": price}]
    h.add(
        "bid.submitted",
        {
            "company_number": supplier,
            "lot_id": lot,
            "round": round_,
            "tiers": tiers,
            "evaluated_unit_price": price,
            "previous_unit_price": previous,
        },
        actor=f"supplier:{supplier}",
    )


def _scores(total: str, price: str) -> dict[str, Any]:
    return {
        "evaluated_unit_price": price,
        "quality": 50,
        "social_value": 50,
        "price_score": "60.00",
        "quality_score": "15.00",
        "social_value_score": "5.00",
        "total_score": total,
    }


def _evaluation(h: History, winner: str, loser: str, notice_on: str, contracts_from: str) -> None:
    prices = {S1: "880.00", S2: "885.00"}
    for rank, supplier in enumerate((winner, loser), start=1):
        h.add(
            "assessment.summary",
            {
                "company_number": supplier,
                "lot_id": "laptops",
                "rank": rank,
                "tenders": 2,
                "successful": rank == 1,
                "own": _scores(f"{90 - rank}.00", prices[supplier]),
                "winning": {"company_number": winner, **_scores("89.00", prices[winner])},
            },
        )
    standstill = {
        "notice_on": notice_on,
        "working_days": 8,
        "calendar": "england-and-wales",
        "last_day": notice_on,
        "contracts_from": contracts_from,
    }
    lot = {
        "company_number": winner,
        "unit_price": prices[winner],
        "committed_quantity": 120,
        "value": str(Decimal(prices[winner]) * 120),
        "total_score": "89.00",
        "tenders": 2,
    }
    h.add("award.notice", {"lots": {"laptops": lot}, "standstill": standstill})


def lifecycle() -> History:
    """From round 1 to contracts: an extension, two rounds, marks, a notice, an upheld challenge
    (re-evaluated: the winner changes), a dismissed one, and the contracts."""
    h = History()
    h.add("buy.created", {"terms": terms(T0).model_dump(mode="json")}, actor="CCS")
    for number in (S1, S2):
        h.add("supplier.registered", {"company_number": number, "name": f"Co {number}"})
    round_opened = {"rounds": 2, "committed_quantity": {"laptops": 120}, "qualified": [S1, S2]}
    h.add(
        "round.opened",
        {"round": 1, "best_and_final": False, "closes_at": "2027-03-03T09:00:00+00:00"} | round_opened,
    )
    _bid(h, S1, "laptops", 1, "900.00", None)
    h.add(
        "round.extended",
        {"round": 1, "closes_at": "2027-03-03T09:05:00+00:00", "extensions_used": 1, "max_extensions": 10},
    )
    _bid(h, S2, "laptops", 1, "890.00", None)
    h.add(
        "round.closed",
        {"round": 1, "how": "early", "bids": {"laptops": 2}, "ranks": {"laptops": {S1: 2, S2: 1}}},
    )
    h.add(
        "round.opened",
        {"round": 2, "best_and_final": True, "closes_at": "2027-03-05T09:00:00+00:00"} | round_opened,
    )
    _bid(h, S1, "laptops", 2, "880.00", "900.00")
    _bid(h, S2, "laptops", 2, "885.00", "890.00")
    h.add(
        "round.closed",
        {"round": 2, "how": "early", "bids": {"laptops": 2}, "ranks": {"laptops": {S1: 1, S2: 2}}},
    )
    h.add("stage.changed", {"from": "negotiation", "to": "evaluation", "deadline": None, "reason": "r2"})
    for supplier, quality in ((S1, 40), (S2, 90)):
        mark = {"company_number": supplier, "lot_id": "laptops", "quality": quality, "social_value": 50}
        h.add("score.entered", mark, actor=LEAD)
    _evaluation(h, S2, S1, "2027-03-08", "2027-03-18")
    h.add(
        "challenge.lodged",
        {"challenge_id": "ch-1", "company_number": S1, "grounds": "re-mark", "working_days_left": 7},
    )
    corrected = [{"lot_id": "laptops", "quality": 95, "social_value": 50}]
    decided = {"challenge_id": "ch-1", "company_number": S1, "outcome": "upheld", "note": "re-marked"}
    h.add("challenge.decided", decided | {"remedy": "re-evaluate", "corrected_scores": corrected}, actor=LEAD)
    h.add(
        "score.entered",
        {"company_number": S1, "lot_id": "laptops", "quality": 95, "social_value": 50},
        actor=LEAD,
    )
    _evaluation(h, S1, S2, "2027-03-09", "2027-03-19")
    h.add(
        "challenge.lodged",
        {"challenge_id": "ch-2", "company_number": S2, "grounds": "no", "working_days_left": 6},
    )
    h.add(
        "challenge.decided",
        decided
        | {
            "challenge_id": "ch-2",
            "company_number": S2,
            "outcome": "dismissed",
            "remedy": None,
            "corrected_scores": [],
        },
        actor=LEAD,
    )
    resumed = {
        "notice_on": "2027-03-09",
        "working_days": 8,
        "calendar": "england-and-wales",
        "last_day": "2027-03-22",
        "contracts_from": "2027-03-23",
    }
    h.add("standstill.resumed", resumed)
    for council, qty, baseline in (("E06000001", 50, "950.00"), ("E06000002", 70, "900.00")):
        total = Decimal("880.00") * qty
        h.add(
            "contract.created",
            {
                "company_number": S1,
                "council": council,
                "lot": "laptops",
                "supplier": S1,
                "quantity": qty,
                "unit_price": "880.00",
                "total": str(total),
                "baseline_unit_price": baseline,
                "baseline_total": str(Decimal(baseline) * qty),
                "saving": str(Decimal(baseline) * qty - total),
                "standalone_unit_price": "999.00",
                "aggregation_dividend": str((Decimal("999.00") - Decimal("880.00")) * qty),
            },
        )
    return h


async def snapshot(conn: Any, buy_id: str) -> dict[str, Any]:
    buy = dict(await find_buy(conn, buy_id=buy_id))
    buy.pop("updated_at")
    return {
        "buy": buy,
        "s1_bids": [
            dict(r) for r in await award_queries.supplier_bids(conn, buy_id=buy_id, company_number=S1)
        ],
        "s1_ranks": [
            dict(r) for r in await award_queries.supplier_ranks(conn, buy_id=buy_id, company_number=S1)
        ],
        "final": [dict(r) for r in await award_queries.final_bids(conn, buy_id=buy_id)],
        "awards": [dict(r) for r in await award_queries.lot_awards(conn, buy_id=buy_id)],
        "summaries": [dict(r) for r in await award_queries.assessment_summaries(conn, buy_id=buy_id)],
        "challenges": [dict(r) for r in await award_queries.challenges(conn, buy_id=buy_id)],
        "contracts": [dict(r) for r in await award_queries.contracts(conn, buy_id=buy_id)],
        "scores": [
            dict(r)
            for r in await conn.fetch(
                "SELECT lot_id, company_number, quality, social_value, entered_by FROM scores "
                "WHERE buy_id = $1 ORDER BY company_number",
                buy_id,
            )
        ],
    }


async def test_every_event_lands_in_its_read_model(pool: Any) -> None:
    buy_id = f"jb-db-{uuid.uuid4().hex[:10]}"
    h = lifecycle()
    async with pool.acquire() as conn:
        assert await append_events(conn, buy_id=buy_id, events=h.events) == len(h.events)
        s = await snapshot(conn, buy_id)

    buy = s["buy"]
    assert (buy["current_round"], buy["rounds"], buy["best_and_final"], buy["round_open"]) == (
        2,
        2,
        True,
        False,
    )
    assert buy["round_extensions_used"] == 0
    assert buy["round_closes_at"] == datetime(2027, 3, 5, 9, 0, tzinfo=UTC)
    assert buy["stage"] == "evaluation"  # only stage.changed moves the stage
    # The notice that counts is the re-evaluation's, moved on by the dismissed challenge.
    assert buy["standstill_notice_on"] == date(2027, 3, 9)
    assert buy["contracts_from"] == date(2027, 3, 23) and buy["standstill_days_left"] is None
    assert buy["notice_published_at"] is not None

    assert [(b["round"], b["evaluated_unit_price"], b["previous_unit_price"]) for b in s["s1_bids"]] == [
        (1, Decimal("900.00"), None),
        (2, Decimal("880.00"), Decimal("900.00")),
    ]
    assert s["s1_bids"][0]["tiers"][1] == {"min_quantity": 100, "unit_price": "900.00"}
    assert [(r["round"], r["rank"], r["bidders"]) for r in s["s1_ranks"]] == [(1, 2, 2), (2, 1, 2)]
    assert {(r["company_number"], r["round"]) for r in s["final"]} == {(S1, 2), (S2, 2)}

    assert [(a["lot_id"], a["company_number"], a["unit_price"], a["value"]) for a in s["awards"]] == [
        ("laptops", S1, Decimal("880.00"), Decimal("105600.00"))
    ]
    assert [(x["company_number"], x["rank"], x["successful"]) for x in s["summaries"]] == [
        (S1, 1, True),
        (S2, 2, False),
    ]
    assert [(x["company_number"], x["quality"], x["entered_by"]) for x in s["scores"]] == [
        (S1, 95, LEAD),
        (S2, 90, LEAD),
    ]
    assert [(c["challenge_id"], c["status"], c["remedy"]) for c in s["challenges"]] == [
        ("ch-1", "upheld", "re-evaluate"),
        ("ch-2", "dismissed", None),
    ]
    assert s["challenges"][0]["corrected_scores"] == [
        {"lot_id": "laptops", "quality": 95, "social_value": 50}
    ]
    assert [(c["council"], c["total"], c["saving"], c["aggregation_dividend"]) for c in s["contracts"]] == [
        ("E06000001", Decimal("44000.00"), Decimal("3500.00"), Decimal("5950.00")),
        ("E06000002", Decimal("61600.00"), Decimal("1400.00"), Decimal("8330.00")),
    ]
    assert s["contracts"][0]["supplier_name"] == f"Co {S1}"


async def test_projecting_the_same_events_again_changes_nothing(pool: Any) -> None:
    buy_id = f"jb-db-{uuid.uuid4().hex[:10]}"
    h = lifecycle()
    async with pool.acquire() as conn:
        await append_events(conn, buy_id=buy_id, events=h.events)
        before = await snapshot(conn, buy_id)
        async with conn.transaction():
            for event in h.events[3:]:  # all but the buy's creation and the suppliers joining
                await project(conn, buy_id=buy_id, event=event)
        assert await snapshot(conn, buy_id) == before


async def test_an_upheld_challenge_voids_the_award_until_the_next_notice(pool: Any) -> None:
    buy_id = f"jb-db-{uuid.uuid4().hex[:10]}"
    h = lifecycle()
    upheld = next(e.seq for e in h.events if e.type == "challenge.decided")
    async with pool.acquire() as conn:
        await append_events(conn, buy_id=buy_id, events=h.events[:upheld])
        s = await snapshot(conn, buy_id)
    assert s["awards"] == [] and s["buy"]["notice_published_at"] is None
    assert s["buy"]["standstill_notice_on"] is None
    # The first evaluation's summaries stay until the next evaluation overwrites them.
    assert [(x["company_number"], x["rank"]) for x in s["summaries"]] == [(S2, 1), (S1, 2)]


async def test_a_round_without_bids_and_the_closing_events_apply_cleanly(pool: Any) -> None:
    buy_id = f"jb-db-{uuid.uuid4().hex[:10]}"
    h = History()
    h.add("buy.created", {"terms": terms(T0).model_dump(mode="json")}, actor="CCS")
    opened = {"round": 1, "rounds": 1, "best_and_final": True, "closes_at": "2027-03-03T09:00:00+00:00"}
    h.add("round.opened", opened | {"committed_quantity": {"laptops": 120}, "qualified": [S1]})
    h.add("round.closed", {"round": 1, "how": "deadline reached", "bids": {}, "ranks": {}})
    h.add("lot.unsuccessful", {"lot_id": "laptops", "reason": "no valid bid in any round"})
    h.add("stage.changed", {"from": "negotiation", "to": "unsuccessful", "deadline": None, "reason": "none"})
    async with pool.acquire() as conn:
        await append_events(conn, buy_id=buy_id, events=h.events[:2])
        opened_row = await find_buy(conn, buy_id=buy_id)
        assert await append_events(conn, buy_id=buy_id, events=h.events) == len(h.events) - 2
        s = await snapshot(conn, buy_id)
    # The round's deadline is the stage's deadline while it runs.
    assert (
        opened_row["stage_deadline"] == opened_row["round_closes_at"] == datetime(2027, 3, 3, 9, tzinfo=UTC)
    )
    assert opened_row["round_open"] is True
    assert s["buy"]["stage"] == "unsuccessful" and s["buy"]["round_open"] is False
    assert s["buy"]["round_closes_at"] == datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
    assert s["s1_ranks"] == [] and s["awards"] == [] and s["contracts"] == []
