"""The demo from the last bid to the contracts: the lead marks every tender, the engine publishes
the assessment summaries and the award notice, the (voluntary, 0-day) standstill runs, and every
council gets its own contract. The demo checks its own arithmetic and fails loudly if it is off."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.table import Table

from jointbuy.demo_api import Api, DemoError, console, money
from jointbuy.demo_data import MARKS
from procurement.pricing import Tier

Tiers = list[dict[str, Any]]


def evaluate(api: Api, lead: str, buy_id: str, names: dict[str, str]) -> dict[str, Any]:
    """The lead enters quality and social value marks; the last one completes evaluation."""
    api.wait(f"/v1/joint-buys/{buy_id}", lead, lambda b: b["stage"] != "negotiation")
    left = None
    for lot, marks in MARKS.items():
        for company, (quality, social_value) in marks.items():
            body = {"supplier": company, "lot_id": lot, "quality": quality, "social_value": social_value}
            left = api.call("PUT", f"/v1/joint-buys/{buy_id}/scores", lead, json=body)["still_to_score"]
    console.print(
        f"\nthe lead marked {sum(len(m) for m in MARKS.values())} tenders for quality and social value "
        f"({left} still to score): evaluation closes by itself"
    )
    api.wait(f"/v1/joint-buys/{buy_id}", lead, lambda b: b["stage"] != "evaluation")
    award: dict[str, Any] = api.call("GET", f"/v1/joint-buys/{buy_id}/award", lead)
    _coalition_table(award, names)
    _evaluation_table(award, names)
    standstill = award["standstill"]
    if standstill["working_days"] != 0:
        raise DemoError(f"expected a 0-day voluntary standstill, got {standstill['working_days']} days")
    console.print(
        f"award notice published on {standstill['notice_on']}; "
        f"[bold]below threshold: voluntary standstill of 0 working days[/bold] "
        f"({standstill['calendar']} calendar), contracts from {standstill['contracts_from']}"
    )
    return award


def _coalition_table(award: dict[str, Any], names: dict[str, str]) -> None:
    """The stable coalition per lot, pass by pass: who the winning price kept, who it priced out."""
    table = Table(title="Stable coalition: each lot priced at the volume of the councils its price keeps")
    for column in ("lot", "pass", "councils", "aggregate", "winner", "price", "priced out"):
        table.add_column(column, justify="left" if column in ("lot", "winner", "priced out") else "right")
    for lot in award["lots"]:
        coalition = lot.get("coalition")
        if coalition is None:
            continue
        for p in coalition["passes"]:
            out = ", ".join(names.get(o["council"], o["council"]) for o in p["priced_out"]) or "—"
            table.add_row(
                lot["lot_id"],
                str(p["pass"]),
                str(p["councils"]),
                f"{p['aggregate']:,}",
                names.get(p["winner"], p["winner"] or "—"),
                money(p["unit_price"]) if p["unit_price"] else "—",
                out,
            )
    console.print(table)
    for lot in award["lots"]:
        coalition = lot.get("coalition") or {}
        for o in coalition.get("priced_out", []):
            console.print(
                f"[bold]{names.get(o['council'], o['council'])} priced out of {lot['lot_id']}[/bold]: the "
                f"{money(o['unit_price'])} the lot earned with it is above its limit of "
                f"{money(o['max_unit_price'])}; its {o['quantity']:,} units leave the aggregate"
            )
        if coalition:
            console.print(
                f"{lot['lot_id']}: the coalition of {len(coalition['councils'])} councils and "
                f"{coalition['aggregate']:,} units is stable after {len(coalition['passes'])} "
                f"pass{'es' * (len(coalition['passes']) != 1)}"
            )


def _evaluation_table(award: dict[str, Any], names: dict[str, str]) -> None:
    table = Table(title="Most advantageous tender per lot (price 60 · quality 30 · social value 10)")
    for column in ("lot", "supplier", "final price", "price", "quality", "social value", "total", "rank"):
        table.add_column(column, justify="left" if column in ("lot", "supplier") else "right")
    for lot in award["lots"]:
        for s in sorted(lot["assessment_summaries"], key=lambda s: s["rank"]):
            own = s["own"]
            won = " ★" if s["successful"] else ""
            table.add_row(
                lot["lot_id"],
                names.get(s["company_number"], s["company_number"]) + won,
                money(own["evaluated_unit_price"]),
                own["price_score"],
                own["quality_score"],
                own["social_value_score"],
                own["total_score"],
                f"{s['rank']} of {s['tenders']}",
            )
    console.print(table)


def contracts(
    api: Api, lead: str, buy_id: str, award: dict[str, Any], ladders: dict[tuple[str, str], Tiers]
) -> dict[str, Any]:
    """Wait for the award, print the per-council contract table and check Σ totals = award value."""
    buy = api.wait(f"/v1/joint-buys/{buy_id}", lead, lambda b: b["stage"] in ("awarded", "cancelled"))
    if buy["stage"] != "awarded":
        raise DemoError(f"expected the buy to be awarded, it is {buy['stage']}")
    console.print(f"standstill over → stage [bold]{buy['stage']}[/bold]: {buy.get('outcome_reason') or ''}")
    result: dict[str, Any] = api.call("GET", f"/v1/joint-buys/{buy_id}/contracts", lead)
    rows = result["contracts"]
    _contract_table(rows, result["totals"])
    _check(rows, result["totals"], award)
    for lot in award["lots"]:
        _lot_line(lot, [r for r in rows if r["lot"] == lot["lot_id"]], ladders)
    return result


def _contract_table(rows: list[dict[str, Any]], totals: dict[str, Any]) -> None:
    table = Table(title="One contract per council per lot, for each lot's stable coalition", show_footer=True)
    money_columns = ("unit_price", "total", "baseline_total", "saving", "standalone_unit_price",
                     "aggregation_dividend")  # fmt: skip
    footer = {
        "council": f"Total ({totals['contracts']} contracts)",
        "quantity": f"{totals['quantity']:,}",
        **{k: money(totals[k]) for k in ("total", "baseline_total", "saving", "aggregation_dividend")},
    }
    for key, title in (
        ("council", "council"), ("lot", "lot"), ("supplier", "supplier"), ("quantity", "quantity"),
        ("unit_price", "unit price"), ("total", "total"), ("baseline_total", "baseline total"),
        ("saving", "saving"), ("standalone_unit_price", "standalone unit price"),
        ("aggregation_dividend", "aggregation dividend"),
    ):  # fmt: skip
        right = key not in ("council", "lot", "supplier")
        table.add_column(title, footer=footer.get(key, ""), justify="right" if right else "left")
    for r in rows:
        table.add_row(
            r["council_name"],
            r["lot"],
            r["supplier_name"],
            f"{r['quantity']:,}",
            *(money(r[k]) for k in money_columns),
        )
    console.print(table)
    console.print(
        f"totals: {totals['contracts']} contracts, {totals['quantity']:,} units, "
        f"total {money(totals['total'])}, baseline {money(totals['baseline_total'])}, "
        f"saving {money(totals['saving'])}, "
        f"aggregation dividend {money(totals['aggregation_dividend'])}"
    )


def _sum(rows: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(r[key]) for r in rows), Decimal(0))


def _check(rows: list[dict[str, Any]], totals: dict[str, Any], award: dict[str, Any]) -> None:
    """Σ council totals = award value, per lot and overall; every row adds up; the totals agree."""
    for r in rows:
        if Decimal(r["total"]) != r["quantity"] * Decimal(r["unit_price"]):
            raise DemoError(f"contract {r['council']}/{r['lot']}: total ≠ quantity × unit price")
    for lot in award["lots"]:
        lot_rows = [r for r in rows if r["lot"] == lot["lot_id"]]
        if _sum(lot_rows, "total") != Decimal(lot["total_value"]):
            raise DemoError(
                f"lot {lot['lot_id']}: Σ council totals {_sum(lot_rows, 'total')} ≠ award value "
                f"{lot['total_value']}"
            )
        if sum(r["quantity"] for r in lot_rows) != lot["committed_quantity"]:
            raise DemoError(f"lot {lot['lot_id']}: contract quantities ≠ the committed aggregate")
    award_value = sum((Decimal(lot["total_value"]) for lot in award["lots"]), Decimal(0))
    for key in ("total", "baseline_total", "saving", "aggregation_dividend"):
        if _sum(rows, key) != Decimal(totals[key]):
            raise DemoError(f"the totals row's {key} {totals[key]} ≠ Σ contracts {_sum(rows, key)}")
    if _sum(rows, "total") != award_value or len(rows) != totals["contracts"]:
        raise DemoError(f"Σ council totals {_sum(rows, 'total')} ≠ award value {award_value}")
    console.print(
        f"Σ council totals {money(_sum(rows, 'total'))} = award value {money(award_value)} "
        f"across {len(award['lots'])} lots"
    )


def _lot_line(lot: dict[str, Any], rows: list[dict[str, Any]], ladders: dict[tuple[str, str], Tiers]) -> None:
    """Winner, price, committed quantity and award value; and what the aggregate bought: the
    winner's ladder at the aggregate against the largest single council's own volume."""
    winner = lot["winner"]
    console.print(
        f"[bold]{lot['lot_id']}[/bold]: {winner['name']} at {money(lot['unit_price'])} × "
        f"{lot['committed_quantity']:,} committed = award value {money(lot['total_value'])} "
        f"({len(rows)} council contracts)"
    )
    tiers = [Tier.model_validate(t) for t in ladders[winner["company_number"], lot["lot_id"]]]
    biggest = max(rows, key=lambda r: r["quantity"])
    together, alone = _tier(tiers, lot["committed_quantity"]), _tier(tiers, biggest["quantity"])
    if together.unit_price != Decimal(lot["unit_price"]):
        raise DemoError(f"lot {lot['lot_id']}: the award price is not the winner's ladder at the aggregate")
    if alone.unit_price != Decimal(biggest["standalone_unit_price"]):
        raise DemoError(f"{biggest['council']}: standalone price ≠ the winner's ladder at its quantity")
    ladder = " · ".join(f"{t.min_quantity:,}+ {money(t.unit_price)}" for t in tiers)
    console.print(
        f"  winning ladder {ladder}: the {lot['committed_quantity']:,} units together reach "
        f"{together.min_quantity:,}+; {biggest['council_name']} alone ({biggest['quantity']:,}) would reach "
        f"only {alone.min_quantity:,}+ at {money(alone.unit_price)}"
    )


def _tier(tiers: list[Tier], quantity: int) -> Tier:
    """The tier `quantity` reaches (the first, when it reaches none: the engine's standalone rule)."""
    reached = [t for t in tiers if t.min_quantity <= quantity]
    return max(reached, key=lambda t: t.min_quantity) if reached else tiers[0]
