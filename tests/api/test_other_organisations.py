"""Parish and town councils and other public bodies take part like principal councils.

They come in the same register format as the principal councils (mySociety's columns, a GSS code
per body: `E04…` parish and town councils, `W04…` Welsh community councils, `E31…` fire and rescue
authorities, `E26…` national park authorities, …). Then 2,000 parish councils register demand and
sign up into one buy at once (the `make test` size of `make bench`'s 10,000): every one is in
PostgreSQL once and in the aggregate, the buy crosses many runs (the `api` fixture's runs take 150
messages), none is refused for want of a handover, and no run's history or payload outgrows its
bound.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bench._history import chain
from tests.api.conftest import Api

COLUMNS = ["local-authority-code", "official-name", "nice-name", "gss-code", "nation", "region",
           "local-authority-type", "local-authority-type-name", "current-authority"]  # fmt: skip
OTHER_BODIES = [
    ("", "Ambridge Parish Council", "Ambridge", "E04009901", "England", "PAR", "Parish council"),
    ("", "Borchester Town Council", "Borchester", "E04009902", "England", "PAR", "Town council"),
    ("", "Cyngor Cymuned Llanfair", "Llanfair", "W04009903", "Wales", "COM", "Community council"),
    ("", "Borsetshire Fire and Rescue Authority", "Borsetshire Fire", "E31009904", "England", "FRA",
     "Fire and rescue authority"),
    ("", "Felpersham Hills National Park Authority", "Felpersham Hills", "E26009905", "England", "NPA",
     "National park authority"),
]  # fmt: skip
MANY = 2000
CONCURRENCY = 50


def register(rows: list[tuple[str, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for code, official, nice, gss, nation, kind, kind_name in rows:
        writer.writerow([code, official, nice, gss, nation, "", kind, kind_name, "True"])
    return out.getvalue().encode()


def parishes(n: int) -> list[tuple[str, ...]]:
    return [
        ("", f"Testbury {i} Parish Council", f"Testbury {i}", f"E04{700000 + i:06d}", "England", "PAR",
         "Parish council")
        for i in range(n)
    ]  # fmt: skip


async def import_register(api: Api, rows: list[tuple[str, ...]]) -> dict[str, Any]:
    r = await api.http.post(
        "/v1/councils/import", content=register(rows), headers=api.admin | {"Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_parish_councils_and_other_public_bodies_import_and_take_part(api: Api) -> None:
    counts = await import_register(api, OTHER_BODIES)
    assert counts["read"] == len(OTHER_BODIES)
    listed = {c["gss_code"]: c for c in (await api.http.get("/v1/councils", headers=api.admin)).json()}
    for _, official, nice, gss, nation, _, kind_name in OTHER_BODIES:
        assert listed[gss]["official_name"] == official
        assert listed[gss]["nice_name"] == nice
        assert listed[gss]["nation"] == nation
        assert listed[gss]["authority_type"] == kind_name

    lead = await api.token("lead", "CCS")
    buy = await api.create_buy(lead, viability={"min_councils": 2})
    url = f"/v1/joint-buys/{buy['id']}"
    bodies = [row[3] for row in OTHER_BODIES]
    tokens = {gss: await api.token("council", gss) for gss in bodies}
    for i, gss in enumerate(bodies):
        lines = [{"lot_id": "laptops", "quantity": 30 + i, "baseline_unit_price": "899.00"}]
        r = await api.http.put(f"{url}/demand", json={"lines": lines}, headers=tokens[gss])
        assert r.status_code == 200, r.text
    r = await api.http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200, r.text
    for i, gss in enumerate(bodies):
        lines = [{"lot_id": "laptops", "quantity": 30 + i}]
        r = await api.http.post(f"{url}/sign-up", json={"lines": lines}, headers=tokens[gss])
        assert r.status_code == 201, r.text
    view = (await api.http.get(url, headers=lead)).json()
    assert view["aggregate"]["laptops"]["signed_up_councils"] == len(bodies)
    assert view["aggregate"]["laptops"]["committed_quantity"] == sum(30 + i for i in range(len(bodies)))
    r = await api.http.post(f"{url}/cancel", json={"reason": "test finished"}, headers=lead)
    assert r.status_code == 200, r.text


async def test_two_thousand_parish_councils_register_and_sign_up_into_one_buy(
    api: Api, dev_env: WorkflowEnvironment, pool: Any
) -> None:
    rows = parishes(MANY)
    await import_register(api, rows)
    codes = [row[3] for row in rows]
    gate = asyncio.Semaphore(20)

    async def key(code: str) -> dict[str, str]:
        async with gate:
            return await api.token("council", code)

    tokens = await asyncio.gather(*(key(c) for c in codes))
    lead = await api.token("lead", "CCS")
    buy = await api.create_buy(lead, viability={"min_councils": 2})
    url = f"/v1/joint-buys/{buy['id']}"
    outcomes: Counter[str] = Counter()
    slots = asyncio.Semaphore(CONCURRENCY)

    def quantity(i: int, lot: str) -> int:
        return 1 + (i * 37) % 200 if lot == "laptops" else 1 + (i * 11) % 60

    async def send(method: str, path: str, i: int, body: dict[str, Any], expected: int) -> None:
        async with slots:
            r = await api.http.request(method, f"{url}/{path}", json=body, headers=tokens[i])
        outcomes[f"{path} {r.status_code}" + ("" if r.status_code == expected else f" {r.text[:120]}")] += 1

    def lines(i: int, with_price: bool) -> list[dict[str, Any]]:
        out = []
        for lot in ("laptops", "monitors")[: 1 + i % 2]:
            line: dict[str, Any] = {"lot_id": lot, "quantity": quantity(i, lot)}
            if with_price:
                line["baseline_unit_price"] = "899.00" if lot == "laptops" else "179.00"
            out.append(line)
        return out

    await asyncio.gather(*(send("PUT", "demand", i, {"lines": lines(i, True)}, 200) for i in range(MANY)))
    r = await api.http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=lead)
    assert r.status_code == 200, r.text
    await asyncio.gather(*(send("POST", "sign-up", i, {"lines": lines(i, False)}, 201) for i in range(MANY)))
    assert outcomes == Counter({"demand 200": MANY, "sign-up 201": MANY}), outcomes.most_common(5)

    async with pool.acquire() as conn:
        in_pg = await conn.fetchrow(
            """SELECT (SELECT count(DISTINCT council) FROM demand_lines WHERE buy_id = $1) AS registered,
                      (SELECT count(DISTINCT council) FROM sign_ups WHERE buy_id = $1) AS signed,
                      (SELECT count(*) FROM events WHERE buy_id = $1
                         AND type IN ('demand.registered', 'sign_up.confirmed')) AS events""",
            buy["id"],
        )
    assert (in_pg["registered"], in_pg["signed"], in_pg["events"]) == (MANY, MANY, 2 * MANY)
    view = (await api.http.get(url, headers=lead)).json()
    assert view["aggregate"]["laptops"]["signed_up_councils"] == MANY
    assert view["aggregate"]["monitors"]["signed_up_councils"] == MANY // 2
    assert view["aggregate"]["laptops"]["committed_quantity"] == sum(
        quantity(i, "laptops") for i in range(MANY)
    )

    runs = await chain(dev_env.client, buy["id"])
    assert len(runs) > 10  # 4,000 commands at 150 messages a run
    assert max(r.events for r in runs) <= 10_240
    assert max(r.largest_payload for r in runs) <= 1_000_000
    r = await api.http.post(f"{url}/cancel", json={"reason": "test finished"}, headers=lead)
    assert r.status_code == 200, r.text
