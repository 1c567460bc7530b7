"""Full path from negotiation to contracts on the time-skipping server (smoke)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from procurement.models import DemandLine, SignUpLine, Stage, SupplierEntry
from tests.support import new_state
from tests.workflows.conftest import EventSink, buy_id, start_buy
from workflows.joint_buy import JointBuyWorkflow
from workflows.messages import EnterScores, SubmitBid


async def test_smoke(time_env: WorkflowEnvironment, sink_worker: EventSink, task_queue: str) -> None:
    now = datetime.now(UTC)
    state = new_state(buy_id(), now, estimated_value_gbp="100000", award={"standstill_working_days": 0})
    state.stage = Stage.NEGOTIATION
    state.demand = {
        "E1": [DemandLine(lot_id="laptops", quantity=60, baseline_unit_price=Decimal("900")),
               DemandLine(lot_id="monitors", quantity=10, baseline_unit_price=Decimal("200"))],
        "E2": [DemandLine(lot_id="laptops", quantity=60, baseline_unit_price=Decimal("950"))],
    }
    state.signups = {
        "E1": [SignUpLine(lot_id="laptops", quantity=60), SignUpLine(lot_id="monitors", quantity=10)],
        "E2": [SignUpLine(lot_id="laptops", quantity=60)],
    }
    state.suppliers = {"S1": SupplierEntry(name="One", status="qualified"),
                       "S2": SupplierEntry(name="Two", status="qualified")}
    h = await start_buy(sink_worker, time_env.client, task_queue, state)
    for rnd in range(3):
        for s, base in (("S1", 800), ("S2", 810)):
            for lot in ("laptops", "monitors"):
                r = await h.execute_update(JointBuyWorkflow.submit_bid, SubmitBid(
                    company_number=s, lot_id=lot,
                    tiers=[{"min_quantity": 1, "unit_price": str(base - rnd * 10 + 50)},
                           {"min_quantity": 100, "unit_price": str(base - rnd * 10)}]))
                print(r)
    st = await h.query(JointBuyWorkflow.get_state)
    print(st.stage, st.negotiation.round if st.negotiation else None)
    for s, q in (("S1", 70), ("S2", 90)):
        for lot in ("laptops", "monitors"):
            r = await h.execute_update(JointBuyWorkflow.enter_scores, EnterScores(
                company_number=s, lot_id=lot, quality=q, social_value=50, actor="lead"))
            print(r)
    out = await h.result()
    print(out)
    for e in sorted(sink_worker.events, key=lambda e: e.seq):
        print(e.seq, e.type, e.data if e.type not in ("bid.submitted",) else "")
    assert out.stage == Stage.AWARDED
