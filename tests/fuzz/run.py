"""`make fuzz`: schemathesis against the API's own `/openapi.json`, as a lead, a council and a supplier.

Starts the real stack in this process (Temporal dev server, a scratch PostgreSQL database, the
worker, the API over HTTP on a free port), sets up two joint buys through the API (one in demand
with the council and the supplier in it, one in negotiation with both qualified), then runs the
schemathesis CLI once per token, each bounded in examples and time, with the buy's id and the
caller's own organisation fixed in the paths so the generated requests reach real resources. The
checks: no 5xx, every status code and content type declared, every body matching its schema.
Exit status 1 when any run found something.

    python -m tests.fuzz.run [--max-examples N] [--max-time SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bench._stack import scratch_database, temporal_binary
from core.logs import configure_logging
from core.settings import Settings
from db.pool import create_pool
from tests.api.conftest import REGISTER, buy_body, supplier_profile
from tests.support import CONVERTER, search_attribute_keys
from worker import build_worker

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
LEAD, COUNCIL, OTHER_COUNCIL, SUPPLIER = "FUZZ-LEAD", "E06000001", "E06000002", "07000001"


@dataclass
class Target:
    who: str
    token: str
    parameters: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ok(r: httpx.Response, *expected: int) -> dict[str, Any]:
    if r.status_code not in expected:
        raise SystemExit(f"setup failed: {r.request.method} {r.request.url.path} -> {r.status_code} {r.text}")
    body: dict[str, Any] = r.json() if r.content else {}
    return body


async def setup(http: httpx.AsyncClient, admin: dict[str, str]) -> list[Target]:
    """Tokens for a lead, a council and a supplier, and the buys they fuzz."""
    csv = REGISTER.read_bytes()
    ok(await http.post("/v1/councils/import", content=csv, headers=admin | {"Content-Type": "text/csv"}), 200)

    async def token(role: str, org: str) -> str:
        body = {"role": role, "organisation_id": org, "name": f"fuzz {role}"}
        return str(ok(await http.post("/v1/api-keys", json=body, headers=admin), 201)["token"])

    def bearer(t: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {t}"}

    lead, council, other, supplier = (
        await token("lead", LEAD),
        await token("council", COUNCIL),
        await token("council", OTHER_COUNCIL),
        await token("supplier", SUPPLIER),
    )
    company = {"name": "Fuzz Supplies Ltd", "status": "active"}
    ok(await http.put(f"/v1/registry/companies/{SUPPLIER}", json=company, headers=admin), 200)
    profile = supplier_profile(SUPPLIER)
    ok(await http.put(f"/v1/suppliers/{SUPPLIER}/profile", json=profile, headers=bearer(supplier)), 200)
    lines = [{"lot_id": "laptops", "quantity": 120, "baseline_unit_price": "913.37"}]

    async def buy() -> str:
        body = buy_body(demand_closes_at=(datetime.now(UTC) + timedelta(days=14)).isoformat())
        buy_id = str(ok(await http.post("/v1/joint-buys", json=body, headers=bearer(lead)), 201)["id"])
        for t in (council, other):
            ok(
                await http.put(f"/v1/joint-buys/{buy_id}/demand", json={"lines": lines}, headers=bearer(t)),
                200,
            )
        ok(await http.post(f"/v1/joint-buys/{buy_id}/suppliers", headers=bearer(supplier)), 201)
        return buy_id

    in_demand, negotiating = await buy(), await buy()
    url = f"/v1/joint-buys/{negotiating}"
    ok(await http.post(f"{url}/close-stage", json={"stage": "demand"}, headers=bearer(lead)), 200)
    sign_up = {"lines": [{"lot_id": "laptops", "quantity": 120}]}
    for t in (council, other):
        ok(await http.post(f"{url}/sign-up", json=sign_up, headers=bearer(t)), 201)
    ok(await http.post(f"{url}/close-stage", json={"stage": "sign_up"}, headers=bearer(lead)), 200)
    for _ in range(300):
        if ok(await http.get(url, headers=bearer(lead)), 200)["round"] is not None:
            break
        await asyncio.sleep(0.1)
    else:
        raise SystemExit("setup failed: the negotiating buy never opened round 1")
    return [
        Target("council", council, {"buy_id": in_demand, "council": COUNCIL}),
        Target("supplier", supplier, {"buy_id": negotiating, "company_number": SUPPLIER}),
        Target("lead", lead, {"buy_id": negotiating, "company_number": SUPPLIER}),
    ]


async def fuzz(base: str, target: Target, *, max_examples: int, max_time: int, workdir: Path) -> int:
    config = workdir / f"{target.who}.toml"
    config.write_text(
        "[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in target.parameters.items())
    )
    report = workdir / f"{target.who}-report"
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {target.token}",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--seed",
        "2026",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
        "--report-dir",
        str(report),
        "--no-color",
        # A live buy's event stream stays open (it ends only with the buy): the SSE tests cover it.
        "--exclude-path",
        "/v1/joint-buys/{buy_id}/events/stream",
    ]
    fixed = ", ".join(f"{k}={v}" for k, v in target.parameters.items())
    print(f"\n=== schemathesis as the {target.who} ({fixed})")
    sys.stdout.flush()
    proc = await asyncio.create_subprocess_exec(*cmd)
    return await proc.wait()


async def main(max_examples: int, max_time: int) -> int:
    admin_token = "fuzz-" + secrets.token_urlsafe(16)
    async with AsyncExitStack() as stack:
        url, _ = await stack.enter_async_context(scratch_database())
        env = await WorkflowEnvironment.start_local(
            data_converter=CONVERTER,
            dev_server_existing_path=temporal_binary(),
            search_attributes=search_attribute_keys(),
        )
        stack.push_async_callback(env.shutdown)
        settings = Settings(
            database_url=url, task_queue="fuzz", jointbuy_admin_token=admin_token, log_level="WARNING"
        )
        configure_logging(settings)
        pool = await create_pool(url, max_size=20)
        stack.push_async_callback(pool.close)
        await stack.enter_async_context(build_worker(env.client, pool, settings.task_queue))
        app = create_app(settings, pool=pool, client=env.client)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                raise SystemExit("the API did not start")
            await asyncio.sleep(0.05)
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                targets = await setup(http, {"Authorization": f"Bearer {admin_token}"})
            with tempfile.TemporaryDirectory(prefix="jointbuy-fuzz-") as tmp:
                codes = [
                    await fuzz(base, t, max_examples=max_examples, max_time=max_time, workdir=Path(tmp))
                    for t in targets
                ]
        finally:
            server.should_exit = True
            await serving
    failed = [t.who for t, code in zip(targets, codes, strict=True) if code != 0]
    print(
        f"\nfuzz: {len(targets) - len(failed)} of {len(targets)} runs clean"
        + (f"; found: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")))
    parser.add_argument("--max-time", type=int, default=int(os.environ.get("FUZZ_MAX_TIME", "60")))
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.max_examples, args.max_time)))
