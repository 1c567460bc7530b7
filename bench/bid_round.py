"""Bid rounds: many suppliers bidding into one joint buy at once, against bare Temporal on the same server.

    .venv/bin/python -m bench.bid_round [--suppliers 40] [--lots 2] [--rounds 3] [--concurrency 40]
                                        [--repeat 1]

Starts its own real stack (see `bench._stack`). Setup, not timed: 20 councils register demand and
sign up to a buy of `--lots` lots, `--suppliers` suppliers are put in the company register, file
their evidence and register interest, sign-up closes, assurance qualifies them all and round 1
opens. Then, on the same server, it measures:

(a) Joint Buy, each negotiation round: every supplier posts one sealed bid per lot through the HTTP
    API at once (each beats its own previous price by more than the decrement); the round closes
    early once all have bid. Per round: throughput, latencies, and the round turnover (the last
    bid's answer until the next round is open, or evaluation after the last round). Then the lead
    marks every tender, and the time from the last mark's answer until the buy is awarded (0-day
    standstill, below threshold), with one contract per council per lot.
(b) bare Temporal: a workflow with one update handler that appends the bid and returns (no
    validator, no activity), sent the same number of updates per round, at most 8 in flight.

Prints figures only; there is no assertion on speed. See bench/README.md for how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow

# The bare workflow below lives in this module, so the workflow sandbox re-imports it: everything
# that is not the standard library is passed through rather than re-imported per workflow run.
with workflow.unsafe.imports_passed_through():
    from temporalio.client import WorkflowHandle

    from bench._measure import (
        BURST_HEADER,
        PERSISTENCE_HEADER,
        Burst,
        Persisted,
        burst,
        burst_row,
        persisted,
        persistence_row,
    )
    from bench._stack import BARE_QUEUE, Refused, Stack, api_key, check, full_stack, issue_keys
    from messages.joint_buy import SubmitBid

COUNCILS = 20
# (lot id, title, reference unit price in £): bids and baselines are spread around the price.
LOTS = [
    ("laptops", "14-inch laptop", 900),
    ("monitors", "27-inch monitor", 190),
    ("docks", "USB-C docking station", 160),
    ("headsets", "Noise-cancelling headset", 60),
    ("webcams", "1080p webcam", 70),
    ("keyboards", "Wireless keyboard", 40),
]
MAX_SUPPLIERS = 400
ROUND_STEP = Decimal("0.97")  # each round's price is 3 % below the last: well past the 0.5 % decrement
PENNY = Decimal("0.01")
WAIT_S = 60  # how long a round, evaluation or the award may take to show before the run gives up
Party = tuple[str, dict[str, str]]  # an organisation id and its Authorization header


# ---- the bare Temporal baseline ------------------------------------------------------------------


@workflow.defn(name="BenchBareBids")
class BareBids:
    """One update handler that appends the bid and returns: no validator, no activity."""

    def __init__(self) -> None:
        self._received: list[str] = []
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done and workflow.all_handlers_finished())
        return len(self._received)

    @workflow.update
    def bid(self, cmd: SubmitBid) -> int:
        self._received.append(cmd.company_number)
        return len(self._received)

    @workflow.signal
    def finish(self) -> None:
        self._done = True


# ---- the buy, its suppliers and their bids --------------------------------------------------------


def buy_terms(lots: int, rounds: int) -> dict[str, Any]:
    return {
        "title": "Desk equipment for 2027 (bid-round benchmark)",
        "description": "Laptops, monitors and desk peripherals",
        "cpv_code": "30213100",
        "lots": [{"id": lot, "title": title, "unit": "device"} for lot, title, _ in LOTS[:lots]],
        # Below the £207,720 threshold: a standstill of 0 working days is allowed.
        "estimated_value_gbp": "150000",
        "demand_closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "sign_up_window": "P7D",
        "viability": {"min_councils": 2},
        "requirements": {"certifications": ["cyber_essentials"]},
        # A window far longer than the run: rounds close early, never at the deadline or extended.
        "negotiation": {"rounds": rounds, "round_window": "PT1H", "min_decrement_pct": "0.5"},
        "award": {"standstill_working_days": 0},
    }


def demand_lines(council: int, lots: int) -> list[dict[str, Any]]:
    return [
        {
            "lot_id": lot,
            "quantity": 20 + (council * 37 + j * 53) % 180,
            "baseline_unit_price": f"{Decimal(price) * Decimal('1.25'):.2f}",
        }
        for j, (lot, _, price) in enumerate(LOTS[:lots])
    ]


def company_number(supplier: int) -> str:
    return f"{50000000 + supplier:08d}"


def unit_price(supplier: int, lot: int, round_: int) -> Decimal:
    """The supplier's evaluated price on the lot in the round (1-based): 3 % lower each round."""
    start = Decimal(LOTS[lot][2]) * (1 + Decimal(supplier % 20) / 100)
    return (start * ROUND_STEP ** (round_ - 1)).quantize(PENNY)


def bid_body(supplier: int, lot: int, round_: int) -> dict[str, Any]:
    """A two-tier ladder; the committed aggregate (over 50 units) reaches the second tier."""
    price = unit_price(supplier, lot, round_)
    return {
        "lot_id": LOTS[lot][0],
        "tiers": [
            {"min_quantity": 1, "unit_price": f"{price * Decimal('1.15'):.2f}"},
            {"min_quantity": 50, "unit_price": f"{price}"},
        ],
    }


def marks(supplier: int, lot: int) -> tuple[int, int]:
    return 40 + (supplier * 7 + lot * 3) % 60, 30 + (supplier * 11 + lot) % 70


@dataclass
class Buy:
    id: str
    lead: dict[str, str]
    suppliers: list[Party]

    @property
    def url(self) -> str:
        return f"/v1/joint-buys/{self.id}"


async def enrol_suppliers(s: Stack, n: int) -> list[Party]:
    """Each supplier: an active company in the register, its own API key and full evidence on file."""
    gate = asyncio.Semaphore(20)

    async def enrol(i: int) -> Party:
        number = company_number(i)
        async with gate:
            company = {"name": f"Bench Supplier {i} Ltd", "status": "active"}
            check(await s.http.put(f"/v1/registry/companies/{number}", json=company, headers=s.admin), 200)
            token = await api_key(s, "supplier", number)
            profile = {
                "name": f"Bench Supplier {i} Ltd",
                "annual_turnover_gbp": "5000000000",  # a national reseller (the big buy: £100m+ a year)
                "employers_liability_gbp": "10000000",
                "certifications": ["cyber_essentials_plus"],
                "modern_slavery_statement": True,
                "carbon_reduction_plan": True,
            }
            check(await s.http.put(f"/v1/suppliers/{number}/profile", json=profile, headers=token), 200)
        return number, token

    return list(await asyncio.gather(*(enrol(i) for i in range(n))))


async def negotiating_buy(
    s: Stack,
    lead: dict[str, str],
    councils: list[Party],
    suppliers: list[Party],
    args: argparse.Namespace,
) -> Buy:
    """A buy taken through demand, sign-up and assurance until round 1 is open (not timed)."""
    created = check(
        await s.http.post("/v1/joint-buys", json=buy_terms(args.lots, args.rounds), headers=lead), 201
    )
    buy = Buy(created["id"], lead, suppliers)
    gate = asyncio.Semaphore(args.concurrency)

    async def each(items: list[Party], call: Callable[[int, Party], Awaitable[None]]) -> None:
        async def one(i: int) -> None:
            async with gate:
                await call(i, items[i])

        await asyncio.gather(*(one(i) for i in range(len(items))))

    async def demand(i: int, council: Party) -> None:
        body = {"lines": demand_lines(i, args.lots)}
        check(await s.http.put(f"{buy.url}/demand", json=body, headers=council[1]), 200)

    async def interest(_: int, supplier: Party) -> None:
        check(await s.http.post(f"{buy.url}/suppliers", headers=supplier[1]), 201)

    async def sign_up(i: int, council: Party) -> None:
        lines = [{"lot_id": d["lot_id"], "quantity": d["quantity"]} for d in demand_lines(i, args.lots)]
        check(await s.http.post(f"{buy.url}/sign-up", json={"lines": lines}, headers=council[1]), 201)

    await each(councils, demand)
    await each(suppliers, interest)
    await close_stage(s, buy, "demand")
    await each(councils, sign_up)
    await close_stage(s, buy, "sign_up")
    body, _ = await wait_for(s, buy, "round 1 to open", lambda b: b["stage"] != "assurance")
    if body["stage"] != "negotiation" or body["round"] is None or body["round"]["number"] != 1:
        raise Refused(f"the buy did not reach negotiation round 1: stage {body['stage']}")
    return buy


async def close_stage(s: Stack, buy: Buy, stage: str) -> None:
    check(await s.http.post(f"{buy.url}/close-stage", json={"stage": stage}, headers=buy.lead), 200)


async def wait_for(
    s: Stack, buy: Buy, what: str, done: Callable[[dict[str, Any]], bool]
) -> tuple[dict[str, Any], int]:
    """The lead's view of the buy, read again and again until `done(view)`; also how many reads."""
    deadline = time.perf_counter() + WAIT_S
    reads = 0
    while True:
        body = check(await s.http.get(buy.url, headers=buy.lead), 200)
        reads += 1
        if done(body):
            return body, reads
        if time.perf_counter() > deadline:
            raise Refused(
                f"waited {WAIT_S} s for {what}; the buy is in {body['stage']}, round {body['round']}"
            )
        await asyncio.sleep(0.002)


# ---- one pass: the rounds, the marks and the award ------------------------------------------------

ROUND_TIMES = """
SELECT max(recorded_at) FILTER (WHERE type = 'bid.submitted' AND (data->>'round')::int = $2) AS last_bid,
       max(recorded_at) FILTER (WHERE type = 'round.opened' AND (data->>'round')::int = $2 + 1) AS opened,
       max(recorded_at) FILTER (WHERE type = 'stage.changed' AND data->>'to' = 'evaluation') AS evaluation,
       max(data->>'how') FILTER (WHERE type = 'round.closed' AND (data->>'round')::int = $2) AS how
FROM events WHERE buy_id = $1
"""
AWARD_TIMES = """
SELECT max(recorded_at) FILTER (WHERE type = 'score.entered') AS last_mark,
       max(recorded_at) FILTER (WHERE type = 'buy.awarded') AS awarded,
       count(*) FILTER (WHERE type = 'contract.created') AS contracts
FROM events WHERE buy_id = $1
"""


@dataclass
class Pass:
    """One buy from round 1 to the award."""

    rounds: list[Burst] = field(default_factory=list)
    turnover_ms: list[float] = field(default_factory=list)  # as the lead's GET sees it
    turnover_db_ms: list[float] = field(default_factory=list)  # between the two PostgreSQL commits
    turnover_reads: list[int] = field(default_factory=list)  # the lead's GETs until it showed
    marks: Burst | None = None
    award_ms: float = float("nan")
    award_db_ms: float = float("nan")
    award_reads: int = 0
    contracts: int = 0
    runs: int = 0  # workflow runs in the buy's chain (a long buy continues as new)
    bare: Burst | None = None
    phases: dict[str, tuple[Persisted, float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def bursts(self) -> list[Burst]:
        return [*self.rounds, *([self.marks] if self.marks else []), *([self.bare] if self.bare else [])]


def _gap_ms(later: datetime | None, earlier: datetime | None) -> float:
    return (later - earlier).total_seconds() * 1000 if later and earlier else float("nan")


async def bid_round(s: Stack, buy: Buy, number: int, args: argparse.Namespace, out: Pass) -> bool:
    """Round `number`: every supplier bids on every lot at once. False when the round went wrong."""
    last = number == args.rounds
    before = await persisted(s, buy.id)

    async def bid(k: int) -> None:
        supplier, lot = divmod(k, args.lots)
        body = bid_body(supplier, lot, number)
        got = check(await s.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[supplier][1]), 201)
        expected = f"{unit_price(supplier, lot, number)}"
        if (got["round"], got["evaluated_unit_price"]) != (number, expected):
            raise Refused(f"bid answered round {got['round']} at {got['evaluated_unit_price']}")

    label = f"(a) Joint Buy: round {number} bids" + (" (final)" if last else "")
    result = await burst(label, args.suppliers * args.lots, args.concurrency, bid)
    answered = time.perf_counter()
    out.rounds.append(result)
    if result.failed:
        return False  # the round cannot close early: it would wait for its deadline
    if last:
        _, reads = await wait_for(s, buy, "evaluation", lambda b: b["stage"] == "evaluation")
    else:
        _, reads = await wait_for(
            s, buy, f"round {number + 1}", lambda b: (b["round"] or {}).get("number") == number + 1
        )
    out.turnover_ms.append((time.perf_counter() - answered) * 1000)
    out.turnover_reads.append(reads)
    async with s.pool.acquire() as conn:
        row = await conn.fetchrow(ROUND_TIMES, buy.id, number)
    out.turnover_db_ms.append(_gap_ms(row["evaluation"] if last else row["opened"], row["last_bid"]))
    if not (row["how"] or "").startswith("closed early"):
        out.errors[f"round {number} closed by {row['how']!r}, not early"] += 1
    name = f"round {number} → " + ("evaluation" if last else f"round {number + 1}")
    after = await persisted(s, buy.id)
    out.phases[name], out.runs = (after - before, result.wall + out.turnover_ms[-1] / 1000), after.runs
    return True


async def award(s: Stack, buy: Buy, args: argparse.Namespace, out: Pass) -> None:
    """The lead marks every tender; the last mark completes evaluation, and the award follows."""
    before = await persisted(s, buy.id)

    async def mark(k: int) -> None:
        supplier, lot = divmod(k, args.lots)
        quality, social = marks(supplier, lot)
        body = {
            "supplier": buy.suppliers[supplier][0],
            "lot_id": LOTS[lot][0],
            "quality": quality,
            "social_value": social,
        }
        check(await s.http.put(f"{buy.url}/scores", json=body, headers=buy.lead), 200)

    out.marks = await burst("(a) Joint Buy: lead's marks", args.suppliers * args.lots, args.concurrency, mark)
    answered = time.perf_counter()
    if out.marks.failed:
        return
    _, out.award_reads = await wait_for(s, buy, "the award", lambda b: b["stage"] == "awarded")
    out.award_ms = (time.perf_counter() - answered) * 1000
    async with s.pool.acquire() as conn:
        row = await conn.fetchrow(AWARD_TIMES, buy.id)
    out.award_db_ms = _gap_ms(row["awarded"], row["last_mark"])
    out.contracts = row["contracts"]
    if out.contracts != COUNCILS * args.lots:
        out.errors[f"{out.contracts} contracts created, not {COUNCILS * args.lots}"] += 1
    after = await persisted(s, buy.id)
    out.phases["marks → awarded"], out.runs = (
        (after - before, out.marks.wall + out.award_ms / 1000),
        after.runs,
    )


async def bare_rounds(s: Stack, args: argparse.Namespace) -> Burst:
    """The same updates per round as the suppliers send, on a bare workflow, 8 in flight."""
    handle: WorkflowHandle[BareBids, int] = await s.client.start_workflow(
        BareBids.run, id=f"bench-bare-bids-{uuid.uuid4().hex[:8]}", task_queue=BARE_QUEUE
    )
    n = args.suppliers * args.lots

    def command(k: int, number: int) -> SubmitBid:
        supplier, lot = divmod(k, args.lots)
        return SubmitBid(company_number=company_number(supplier), **bid_body(supplier, lot, number))

    # Warm-up, like the buy's own start: the first workflow task is not part of the bursts.
    await handle.execute_update(BareBids.bid, command(0, 0))
    slots = asyncio.Semaphore(s.in_flight)
    label = f"(b) bare Temporal update, {s.in_flight} in flight"
    bursts = []
    for number in range(1, args.rounds + 1):
        commands = [command(k, number) for k in range(n)]

        async def update(k: int, commands: list[SubmitBid] = commands) -> None:
            async with slots:
                await handle.execute_update(BareBids.bid, commands[k])

        bursts.append(await burst(label, n, args.concurrency, update))
    result = Burst.pooled(bursts)
    await handle.signal(BareBids.finish)
    if (got := await handle.result()) != result.ok + 1:
        result.errors[f"workflow counted {got - 1} updates, callers saw {result.ok} succeed"] += 1
    return result


async def one_pass(
    s: Stack,
    lead: dict[str, str],
    councils: list[Party],
    suppliers: list[Party],
    args: argparse.Namespace,
) -> Pass:
    out = Pass()
    began = time.perf_counter()
    buy = await negotiating_buy(s, lead, councils, suppliers, args)
    print(f"setup: buy {buy.id} in negotiation round 1 after {time.perf_counter() - began:.1f} s", flush=True)
    ok = True
    for number in range(1, args.rounds + 1):
        ok = await bid_round(s, buy, number, args, out)
        if not ok:
            break
    if ok:
        await award(s, buy, args, out)
    else:
        check(await s.http.post(f"{buy.url}/cancel", json={"reason": "benchmark failed"}, headers=lead), 200)
    out.bare = await bare_rounds(s, args)
    return out


# ---- report --------------------------------------------------------------------------------------


def _list(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def _ms_list(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values) + " ms"


def print_table(passes: list[Pass], title: str, rounds: int) -> None:
    per_round = [
        Burst.pooled([p.rounds[r] for p in passes if len(p.rounds) > r])
        for r in range(rounds)
        if any(len(p.rounds) > r for p in passes)
    ]
    all_rounds = Burst.pooled([b for p in passes for b in p.rounds], "(a) Joint Buy: all rounds' bids")
    marks = [p.marks for p in passes if p.marks]
    bare = Burst.pooled([p.bare for p in passes if p.bare])
    rows = [*per_round, all_rounds, *([Burst.pooled(marks)] if marks else []), bare]

    print(f"\n{title}")
    print(BURST_HEADER)
    for b in rows:
        print(burst_row(b))

    print(f"\n{'Turnover, from the last answer':40} {'lead sees it':>14} {'GETs':>6} {'between commits':>16}")
    for r in range(rounds):
        turned = [p for p in passes if len(p.turnover_ms) > r]
        to = "evaluation" if r + 1 == rounds else f"round {r + 2}"
        if turned:
            print(
                f"{f'  round {r + 1} bids → {to} open':40}"
                f" {_ms_list([p.turnover_ms[r] for p in turned]):>14}"
                f" {_list([p.turnover_reads[r] for p in turned]):>6}"
                f" {_ms_list([p.turnover_db_ms[r] for p in turned]):>16}"
            )
    awarded = [p for p in passes if p.award_ms == p.award_ms]  # not nan
    if awarded:
        print(
            f"{'  last mark → awarded':40} {_ms_list([p.award_ms for p in awarded]):>14}"
            f" {_list([p.award_reads for p in awarded]):>6}"
            f" {_ms_list([p.award_db_ms for p in awarded]):>16}"
            f"   contracts created: {_list([p.contracts for p in awarded])}"
        )

    print(f"\n{'Joint Buy ÷ bare update':40} {'throughput':>10} {'p50 latency':>12}")
    for b in rows[:-1]:
        tp = b.throughput / bare.throughput if bare.throughput else float("nan")
        p50 = b.pct_ms(50) / bare.pct_ms(50) if bare.latencies else float("nan")
        print(f"{'  ' + b.label.removeprefix('(a) Joint Buy: '):40} {tp:>9.2f}× {p50:>11.2f}×")

    print(f"\n{PERSISTENCE_HEADER}")
    for phase in passes[0].phases:
        got = sum((p.phases[phase][0] for p in passes if phase in p.phases), Persisted())
        print(persistence_row(phase, got, sum(p.phases[phase][1] for p in passes if phase in p.phases)))
    print(f"  workflow runs per buy: {_list([p.runs for p in passes])}")


async def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    print(
        f"Bid rounds: {COUNCILS} councils, {args.suppliers} suppliers, {args.lots} lot(s),"
        f" {args.rounds} round(s), {args.concurrency} concurrent callers, {args.repeat} pass(es)",
        flush=True,
    )
    passes: list[Pass] = []
    async with full_stack([BareBids]) as s:
        print(s.describe(), flush=True)
        lead, councils = await issue_keys(s, COUNCILS)
        suppliers = await enrol_suppliers(s, args.suppliers)
        print(
            f"setup: register imported, {len(councils) + 1} council and lead keys issued,"
            f" {len(suppliers)} suppliers enrolled ({time.perf_counter() - began:.1f} s since start)",
            flush=True,
        )
        for number in range(1, args.repeat + 1):
            passes.append(await one_pass(s, lead, councils, suppliers, args))
            if args.repeat > 1:
                print_table(passes[-1:], f"Pass {number} of {args.repeat}", args.rounds)
        print_table(passes, f"All {args.repeat} passes pooled" if args.repeat > 1 else "Results", args.rounds)
    failures: Counter[str] = Counter()
    for p in passes:
        failures += p.errors
        for b in p.bursts():
            failures += b.errors
    if failures:
        print("\nFAILED (requests left out of the figures above):")
        for what, count in failures.most_common(10):
            print(f"  {count} × {what}")
    print(f"\ntotal {time.perf_counter() - began:.1f} s", flush=True)
    return 1 if failures else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bid_round", description=__doc__.splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=40, help=f"qualified suppliers (2-{MAX_SUPPLIERS})")
    parser.add_argument("--lots", type=int, default=2, help=f"lots in the buy (1-{len(LOTS)})")
    parser.add_argument("--rounds", type=int, default=3, help="negotiation rounds (1-10)")
    parser.add_argument("--concurrency", type=int, default=40, help="concurrent callers (HTTP clients)")
    parser.add_argument("--repeat", type=int, default=1, help="buys taken from round 1 to the award")
    args = parser.parse_args(argv)
    if not 2 <= args.suppliers <= MAX_SUPPLIERS:
        parser.error(f"--suppliers must be between 2 and {MAX_SUPPLIERS}")
    if not 1 <= args.lots <= len(LOTS):
        parser.error(f"--lots must be between 1 and {len(LOTS)}")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be between 1 and 10")
    if args.concurrency < 1 or args.repeat < 1:
        parser.error("--concurrency and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        code = asyncio.run(run(args))
    except Refused as err:  # the setup failed, or a step never showed: nothing more to measure
        print(f"\nFAILED, stopped: {err}", flush=True)
        code = 1
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    # Run the module under its own name, so the workflow class the worker registers is
    # `bench.bid_round.BareBids` (the sandbox re-imports it by that name), not `__main__.BareBids`.
    from bench.bid_round import main as _main

    _main()
