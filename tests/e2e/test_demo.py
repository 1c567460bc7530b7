"""`jointbuy demo` runs a joint buy from demand to contracts on the real stack it starts itself
(Temporal dev server, worker and API processes, the session's PostgreSQL), and what it prints
agrees with the audit log it leaves behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TOTALS = re.compile(
    r"^totals: (?P<contracts>\d+) contracts, (?P<quantity>[\d,]+) units, total £(?P<total>[\d,.]+), "
    r"baseline £(?P<baseline_total>[\d,.]+), saving £(?P<saving>[\d,.]+), "
    r"aggregation dividend £(?P<aggregation_dividend>[\d,.]+)$",
    re.MULTILINE,
)
BUY = re.compile(r"^joint buy (?P<id>jb-[0-9a-f]+): (?P<stage>\w+)$", re.MULTILINE)


def _gbp(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


async def _events(database_url: str, buy_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT type, data FROM events WHERE buy_id = $1 ORDER BY seq", buy_id)
    finally:
        await conn.close()
    return [{"type": r["type"], "data": json.loads(r["data"])} for r in rows]


@pytest.mark.timeout(120)
def test_demo_runs_the_whole_lifecycle_and_prints_the_contract_table(
    tmp_path: Path, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTBUY_")}
    env |= {"DATABASE_URL": database_url, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "jointbuy.cli", "demo", "--data-dir", str(tmp_path / "data")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]

    buy = BUY.search(out)
    assert buy is not None, out[-2000:]
    assert buy["stage"] == "awarded"
    assert out.rstrip().splitlines()[-1].startswith("demo finished in ")
    assert "below threshold: voluntary standstill of 0 working days" in out
    for council in ("Birmingham", "Glasgow City", "Cardiff", "Hartlepool"):
        assert re.search(rf"^│ [^│]*{council}[^│]*│ docks +│", out, re.MULTILINE), council
    printed = TOTALS.search(out)
    assert printed is not None, out[-3000:]
    # one council priced out, and why; the docks lot settles in two passes; a clarification to all
    assert (
        "Westminster priced out of docks: the £102.99 the lot earned with it is above its limit of £102.50"
        in out
    )
    assert "docks: the coalition of 10 councils and 870 units is stable after 2 passes" in out
    assert re.search(r"^clarification q-1 on docks, .*published to all", out, re.MULTILINE), out[:3000]

    events = asyncio.run(_events(database_url, buy["id"]))
    closed = [e["data"] for e in events if e["type"] == "round.closed"]
    assert [c["round"] for c in closed] == [1, 2, 3]
    assert {c["how"] for c in closed} == {"closed early: every qualified supplier bid"}
    notice = next(e["data"] for e in events if e["type"] == "award.notice")
    assert notice["standstill"]["working_days"] == 0
    contracts = [e["data"] for e in events if e["type"] == "contract.created"]
    awarded = next(e["data"] for e in events if e["type"] == "buy.awarded")
    assert events[-1]["type"] == "stage.changed" and events[-1]["data"]["to"] == "awarded"

    passes = [e["data"] for e in events if e["type"] == "coalition.pass" and e["data"]["lot_id"] == "docks"]
    assert [(p["aggregate"], [o["council"] for o in p["priced_out"]]) for p in passes] == [
        (934, ["E09000033"]),
        (870, []),
    ]
    assert [e["type"] for e in events].count("clarification.published") == 1
    assert "E09000033" not in {c["council"] for c in contracts}

    # What the demo printed is what the engine recorded ...
    # (20 lines signed up; Westminster's one line was priced out)
    assert int(printed["contracts"]) == len(contracts) == 19
    assert int(printed["quantity"].replace(",", "")) == sum(c["quantity"] for c in contracts)
    for key in ("total", "baseline_total", "saving", "aggregation_dividend"):
        assert _gbp(printed[key]) == sum(Decimal(c[key]) for c in contracts), key
        assert _gbp(printed[key]) == Decimal(awarded["totals"][key]), key
    # ... and Σ council totals is the award value of every lot.
    for lot, winner in notice["lots"].items():
        lot_total = sum(Decimal(c["total"]) for c in contracts if c["lot"] == lot)
        assert lot_total == Decimal(winner["value"]), lot
    assert _gbp(printed["aggregation_dividend"]) > 0
    assert _gbp(printed["saving"]) > 0

    # Nothing confidential in any log line the API or the worker wrote: no token, no payload key, no
    # bid price, no baseline or budget (the demo's own values, read back from the audit log).
    data = tmp_path / "data"
    logged = {name: (data / f"{name}.log").read_text() for name in ("api", "worker")}
    assert all(logged.values()), "the API and the worker logged nothing"
    secrets = {(data / "admin_token").read_text().strip(), (data / "payload_keys").read_text().strip()}
    secrets |= {part.partition(":")[2] for part in (data / "payload_keys").read_text().split(",")}
    prices: set[str] = set()
    for e in events:
        if e["type"] == "bid.submitted":
            prices |= {t["unit_price"] for t in e["data"]["tiers"]} | {e["data"]["evaluated_unit_price"]}
        if e["type"] == "demand.registered":
            for line in e["data"]["lines"]:
                prices |= {line["baseline_unit_price"], line.get("budget_ceiling_gbp") or ""}
    prices.discard("")
    assert len(prices) > 10, prices
    for name, text in logged.items():
        assert not re.search(r"jb_[A-Za-z0-9_-]{20,}", text), f"a token in {name}.log"
        assert not [s for s in secrets if s and s in text], f"a secret in {name}.log"
        leaked = [p for p in prices if re.search(rf"(?<![\d.]){re.escape(p)}(?!\d)", text)]
        assert not leaked, f"prices or baselines in {name}.log: {leaked}"
