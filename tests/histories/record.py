"""Record the workflow histories that `tests/workflows/test_replay.py` replays.

    .venv/bin/python -m tests.histories.record

Drives one joint buy through demand and sign-up on the time-skipping test server (events go to an
in-memory stand-in for `record_events`; supplier checks are the real activities over in-memory
registries) and writes its history as JSON next to this file. Re-record only on purpose: a
recorded history is what an already-running buy looks like, and the workflow must keep replaying it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.assurance import AssuranceActivities
from procurement.assurance import DebarmentEntry, SupplierEvidence
from procurement.models import DemandLine, DomainEvent, SignUpLine, Stage
from tests.support import new_state, register_search_attributes
from workflows.joint_buy import JointBuyWorkflow, initial_search_attributes
from workflows.messages import (
    RECORD_EVENTS,
    Cancel,
    CloseStage,
    JointBuyInput,
    RecordEvents,
    RegisterDemand,
    RegisterSupplier,
    SignUp,
    WithdrawDemand,
)

HERE = Path(__file__).resolve().parent
DEMAND_SIGN_UP = HERE / "demand_sign_up.json"
WORKFLOW_ID = "jb-replay-demand-sign-up"
TASK_QUEUE = "record-histories"
CLEAN, FLAGGED = "00000001", "00000002"


@dataclass
class MemoryLog:
    """`record_events` without a database: idempotent on seq, like the real one."""

    events: dict[int, DomainEvent] = field(default_factory=dict)

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, batch: RecordEvents) -> int:
        new = [e for e in batch.events if e.seq not in self.events]
        self.events.update((e.seq, e) for e in new)
        return len(new)


class Registries:
    """One clean supplier; one on the debarment list on a discretionary ground (flagged)."""

    async def company_status(self, company_number: str) -> str | None:
        return "active"

    async def entry(self, company_number: str) -> DebarmentEntry | None:
        if company_number == FLAGGED:
            return DebarmentEntry(ground="poor performance on a previous contract", mandatory=False)
        return None

    async def evidence(self, company_number: str) -> SupplierEvidence | None:
        return SupplierEvidence(
            name=f"Supplier {company_number} Ltd",
            annual_turnover_gbp=Decimal("10000000"),
            employers_liability_gbp=Decimal("5000000"),
        )


def _demand(lot: str, qty: int, price: str = "950.00") -> DemandLine:
    return DemandLine(lot_id=lot, quantity=qty, baseline_unit_price=Decimal(price))


def _sign(lot: str, qty: int) -> SignUpLine:
    return SignUpLine(lot_id=lot, quantity=qty)


async def drive_demand_sign_up(env: WorkflowEnvironment, task_queue: str) -> str:
    """Demand (4 councils, one amends, one withdraws, two suppliers register), early close,
    sign-up (one council drops out), early close, assurance (one supplier flagged), cancel."""
    client = env.client
    state = new_state(WORKFLOW_ID, await env.get_current_time())
    handle = await client.start_workflow(
        JointBuyWorkflow.run,
        JointBuyInput(state=state),
        id=WORKFLOW_ID,
        task_queue=task_queue,
        search_attributes=initial_search_attributes(state),
    )
    await handle.execute_update(JointBuyWorkflow.confirm_started)

    async def register(council: str, *lines: DemandLine) -> None:
        cmd = RegisterDemand(council=council, lines=list(lines))
        await handle.execute_update(JointBuyWorkflow.register_demand, cmd)

    await register("E06000001", _demand("laptops", 120), _demand("monitors", 10, "180.00"))
    await register("E06000002", _demand("laptops", 80))
    await register("E06000003", _demand("laptops", 50))
    await register("E06000004", _demand("laptops", 40), _demand("monitors", 5, "175.00"))
    await register("E06000003", _demand("laptops", 60, "940.00"))  # amended
    await handle.execute_update(JointBuyWorkflow.withdraw_demand, WithdrawDemand(council="E06000002"))
    for number in (CLEAN, FLAGGED):
        await handle.execute_update(
            JointBuyWorkflow.register_supplier,
            RegisterSupplier(company_number=number, name=f"Supplier {number} Ltd"),
        )
    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.DEMAND, actor="CCS"))

    await handle.execute_update(
        JointBuyWorkflow.sign_up,
        SignUp(council="E06000001", lines=[_sign("laptops", 110), _sign("monitors", 10)]),
    )
    await handle.execute_update(
        JointBuyWorkflow.sign_up, SignUp(council="E06000003", lines=[_sign("laptops", 60)])
    )
    # E06000004 never confirms: it drops out when sign-up closes.
    receipt = await handle.execute_update(
        JointBuyWorkflow.close_stage, CloseStage(stage=Stage.SIGN_UP, actor="CCS")
    )
    assert receipt.stage == Stage.ASSURANCE, receipt

    # Wait for the checks: the clean supplier qualifies, the other waits for the lead's decision.
    for _ in range(200):
        state = await handle.query(JointBuyWorkflow.get_state)
        if all(e.status != "registered" for e in state.suppliers.values()):
            break
        await asyncio.sleep(0.05)
    statuses = {c: e.status for c, e in state.suppliers.items()}
    assert statuses == {CLEAN: "qualified", FLAGGED: "flagged"}, statuses

    await handle.execute_update(JointBuyWorkflow.cancel, Cancel(reason="budget withdrawn", actor="CCS"))
    outcome = await handle.result()
    assert outcome.stage == Stage.CANCELLED, outcome
    history = await handle.fetch_history()
    return history.to_json()


async def record(path: Path = DEMAND_SIGN_UP) -> Path:
    server = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=server
    )
    try:
        await register_search_attributes(env.client)
        log = MemoryLog()
        checks = AssuranceActivities(Registries(), Registries(), Registries())
        async with Worker(
            env.client,
            task_queue=TASK_QUEUE,
            workflows=[JointBuyWorkflow],
            activities=[log.record_events, *checks.all()],
        ):
            history = await drive_demand_sign_up(env, TASK_QUEUE)
    finally:
        await env.shutdown()
    path.write_text(history + "\n", encoding="utf-8")
    return path


def main() -> None:
    path = asyncio.run(record())
    print(f"recorded {path}", flush=True)
    sys.stderr.flush()
    # The SDK's runtime can abort at interpreter exit after a test server shut down (a known,
    # rare crash): the recording is written, so end here with an honest 0. Failures raise above.
    os._exit(0)


if __name__ == "__main__":
    main()
