"""The demo's negotiation: qualified suppliers bid sealed volume ladders in three rounds, each round
closing early once everyone has bid, and each supplier reads back only its own rank."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.table import Table

from jointbuy.demo_api import Api, DemoError, console, money
from jointbuy.demo_data import LADDERS, LOTS, MIN_DECREMENT_PCT, ROUNDS, ladder_for_round

Tiers = list[dict[str, Any]]


def negotiate(
    api: Api, lead: str, buy_id: str, bidders: dict[str, str], names: dict[str, str]
) -> dict[tuple[str, str], Tiers]:
    """Run every round through the API; return each supplier's final ladder per lot."""
    final: dict[tuple[str, str], Tiers] = {}
    lots = [lot["id"] for lot in LOTS]
    for number in range(1, ROUNDS + 1):
        any_bidder = next(iter(bidders.values()))
        opened = api.wait(f"/v1/joint-buys/{buy_id}/bids/mine", any_bidder, _round_open(number))["round"]
        label = "best and final" if opened["best_and_final"] else f"round {number} of {opened['rounds']}"
        console.print(
            f"\n[bold]{label}[/bold] open until {_clock(opened['closes_at'])}; it closes early once all "
            f"{len(bidders)} qualified suppliers have bid on every lot; a new bid must beat the supplier's "
            f"own previous price by at least {MIN_DECREMENT_PCT}%"
        )
        receipts: dict[tuple[str, str], Any] = {}
        for company, token in bidders.items():
            for lot in lots:
                tiers = ladder_for_round(LADDERS[company][lot], number)
                receipt = api.call(
                    "POST",
                    f"/v1/joint-buys/{buy_id}/bids",
                    token,
                    expect=201,
                    json={"lot_id": lot, "tiers": tiers},
                )
                if receipt["round"] != number:
                    raise DemoError(f"bid landed in round {receipt['round']}, expected round {number}")
                receipts[company, lot] = receipt
                final[company, lot] = tiers
        ranks = {company: _ranks_after(api, buy_id, token, number) for company, token in bidders.items()}
        how = _how_closed(api, lead, buy_id, number)
        _round_table(number, how, lots, receipts, ranks, names)
    return final


def _round_open(number: int) -> Callable[[Any], bool]:
    def done(mine: Any) -> bool:
        current = mine["round"]
        return current is not None and current["number"] == number and bool(current["open"])

    return done


def _clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%H:%M:%S UTC")


def _ranks_after(api: Api, buy_id: str, token: str, number: int) -> dict[str, dict[str, Any]]:
    """The supplier's own rank per lot once round `number` has closed (GET /bids/mine)."""
    mine = api.wait(
        f"/v1/joint-buys/{buy_id}/bids/mine",
        token,
        lambda b: any(r["round"] == number for r in b["ranks"]),
    )
    return {r["lot_id"]: r for r in mine["ranks"] if r["round"] == number}


def _how_closed(api: Api, lead: str, buy_id: str, number: int) -> str:
    events = api.call("GET", f"/v1/joint-buys/{buy_id}/events", lead)
    closed = [e for e in events if e["type"] == "round.closed" and e["data"]["round"] == number]
    if not closed:
        raise DemoError(f"no round.closed event for round {number} in the lead's audit log")
    return str(closed[0]["data"]["how"])


def _round_table(
    number: int,
    how: str,
    lots: list[str],
    receipts: dict[tuple[str, str], Any],
    ranks: dict[str, dict[str, dict[str, Any]]],
    names: dict[str, str],
) -> None:
    table = Table(title=f"Round {number}: {how} — each supplier sees only its own rank")
    table.add_column("supplier")
    for lot in lots:
        committed = next(r["committed_quantity"] for (_, lt), r in receipts.items() if lt == lot)
        table.add_column(f"{lot}: unit price at {committed:,}", justify="right")
        table.add_column("rank", justify="right")
    for company in ranks:
        row = [names[company]]
        for lot in lots:
            receipt = receipts[company, lot]
            price = Decimal(receipt["evaluated_unit_price"])
            previous = receipt.get("previous_unit_price")
            cut = f" (−{(1 - price / Decimal(previous)) * 100:.1f}%)" if previous else ""
            rank = ranks[company][lot]
            row += [f"{money(price)}{cut}", f"{rank['rank']} of {rank['bidders']}"]
        table.add_row(*row)
    console.print(table)
