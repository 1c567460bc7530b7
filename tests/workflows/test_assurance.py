"""The supplier assurance stage on the time-skipping server: the real check activities over
in-memory providers (the provider interface is the seam the real registries plug into)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.assurance import AssuranceActivities
from messages.joint_buy import (
    CloseStage,
    DecideExclusion,
    RegisterDemand,
    RegisterSupplier,
    SignUp,
)
from procurement.assurance import DebarmentEntry, SupplierEvidence
from procurement.models import DemandLine, SignUpLine, Stage
from tests.conftest import temporal_test_server_path
from tests.support import new_state, register_search_attributes
from tests.workflows.conftest import EventSink, buy_id, start_buy, terminate_quietly
from workflows.joint_buy import JointBuyWorkflow


@dataclass
class Registries:
    """In-memory providers. `outages[company]` = how many calls fail before an answer."""

    statuses: dict[str, str] = field(default_factory=dict)
    debarred: dict[str, DebarmentEntry] = field(default_factory=dict)
    profiles: dict[str, SupplierEvidence] = field(default_factory=dict)
    outages: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    async def company_status(self, company_number: str) -> str | None:
        self.calls[company_number] = self.calls.get(company_number, 0) + 1
        if self.outages.get(company_number, 0) > 0:
            self.outages[company_number] -= 1
            raise ConnectionError("company register unavailable")
        return self.statuses.get(company_number)

    async def entry(self, company_number: str) -> DebarmentEntry | None:
        return self.debarred.get(company_number)

    async def evidence(self, company_number: str) -> SupplierEvidence | None:
        return self.profiles.get(company_number)


@pytest.fixture(scope="module")
async def assurance_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's own: activity retries against a flaky register
    must not hold back time skipping for other modules' tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server_path(),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
async def registries(
    assurance_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[tuple[Registries, EventSink]]:
    time_env = assurance_env
    reg = Registries()
    sink = EventSink()
    checks = AssuranceActivities(reg, reg, reg)
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[JointBuyWorkflow],
        activities=[sink.record_events, *checks.all()],
    ):
        yield reg, sink
        for handle in sink.handles:
            await terminate_quietly(handle)


def profile(n: int, **kw: object) -> SupplierEvidence:
    data: dict[str, object] = {
        "name": f"Supplier {n} Ltd",
        "annual_turnover_gbp": Decimal("10000000"),
        "employers_liability_gbp": Decimal("5000000"),
        "certifications": frozenset({"cyber_essentials"}),
    }
    data.update(kw)
    return SupplierEvidence.model_validate(data)


def mixed_suppliers(reg: Registries) -> tuple[set[str], dict[str, str]]:
    """30 suppliers; returns the expected qualified set and a reason fragment per excluded one."""
    numbers = [f"{n:08d}" for n in range(1, 31)]
    for i, number in enumerate(numbers):
        reg.statuses[number] = "active"
        reg.profiles[number] = profile(i)
    why: dict[str, str] = {}
    reg.statuses[numbers[10]] = "liquidation"
    why[numbers[10]] = "in liquidation"
    reg.statuses[numbers[11]] = "dissolved"
    why[numbers[11]] = "dissolved"
    del reg.statuses[numbers[12]]
    why[numbers[12]] = "not found on the register"
    for k in (13, 14):
        reg.debarred[numbers[k]] = DebarmentEntry(ground="bribery conviction", mandatory=True)
        why[numbers[k]] = "bribery conviction"
    for k in (15, 16):  # discretionary: 15 cleared by the lead, 16 left to the default
        reg.debarred[numbers[k]] = DebarmentEntry(ground="poor performance", mandatory=False)
    why[numbers[16]] = "default (exclude) applied"
    # Annual contract value: 1,000 committed laptops × £900 lowest baseline = £900,000 → £1.8m.
    for k in (17, 18):
        reg.profiles[numbers[k]] = profile(k, annual_turnover_gbp=Decimal("1799999.99"))
        why[numbers[k]] = "turnover"
    reg.profiles[numbers[19]] = profile(19, annual_turnover_gbp=Decimal("1800000"))
    for k in (20, 21):
        reg.profiles[numbers[k]] = profile(k, employers_liability_gbp=Decimal("4999999.99"))
        why[numbers[k]] = "£4,999,999.99"
    reg.profiles[numbers[22]] = profile(22, certifications=frozenset())
    why[numbers[22]] = "Cyber Essentials"
    reg.profiles[numbers[23]] = profile(23, certifications=frozenset({"cyber_essentials_plus"}))
    reg.profiles[numbers[24]] = profile(24, annual_turnover_gbp=Decimal("36000000"))
    why[numbers[24]] = "modern slavery"
    reg.profiles[numbers[25]] = profile(
        25, annual_turnover_gbp=Decimal("36000000"), modern_slavery_statement=True
    )
    del reg.profiles[numbers[26]]
    why[numbers[26]] = "no assurance evidence"
    return set(numbers) - set(why), why


async def _until(handle, predicate, seconds: float = 20.0):
    """Poll the workflow's state until the predicate holds (checks run after sign-up closes)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        state = await handle.query(JointBuyWorkflow.get_state)
        if predicate(state) or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.05)


async def _to_assurance(
    env: WorkflowEnvironment, sink: EventSink, task_queue: str, suppliers: list[str], patience: int = 900
):
    now = await env.get_current_time()
    state = new_state(buy_id(), now, requirements={"certifications": ["cyber_essentials"]})
    handle = await start_buy(sink, env.client, task_queue, state, check_patience_seconds=patience)
    for council, qty, price in (("E06000001", 600, "900.00"), ("E06000002", 400, "950.00")):
        line = DemandLine(lot_id="laptops", quantity=qty, baseline_unit_price=Decimal(price))
        await handle.execute_update(
            JointBuyWorkflow.register_demand, RegisterDemand(council=council, lines=[line])
        )
    for number in suppliers:
        await handle.execute_update(
            JointBuyWorkflow.register_supplier,
            RegisterSupplier(company_number=number, name=f"Company {number}"),
        )
    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.DEMAND, actor="CCS"))
    for council, qty in (("E06000001", 600), ("E06000002", 400)):
        await handle.execute_update(
            JointBuyWorkflow.sign_up,
            SignUp(council=council, lines=[SignUpLine(lot_id="laptops", quantity=qty)]),
        )
    await handle.execute_update(JointBuyWorkflow.close_stage, CloseStage(stage=Stage.SIGN_UP, actor="CCS"))
    return handle


async def test_thirty_suppliers_give_exactly_the_expected_qualified_set(
    assurance_env: WorkflowEnvironment, task_queue: str, registries: tuple[Registries, EventSink]
) -> None:
    time_env = assurance_env
    reg, sink = registries
    expected_qualified, why = mixed_suppliers(reg)
    numbers = [f"{n:08d}" for n in range(1, 31)]
    handle = await _to_assurance(time_env, sink, task_queue, numbers)

    # Every supplier checked (none still only registered), two of them flagged for the lead.
    state = await _until(handle, lambda s: all(e.status != "registered" for e in s.suppliers.values()))
    assert state.stage == Stage.ASSURANCE
    assert state.annual_contract_value == Decimal("900000.00")
    flagged = sorted(c for c, e in state.suppliers.items() if e.status == "flagged")
    assert flagged == [numbers[15], numbers[16]]

    await handle.execute_update(
        JointBuyWorkflow.decide_exclusion,
        DecideExclusion(company_number=numbers[15], exclude=False, reason="improved since", actor="CCS"),
    )
    await time_env.sleep(timedelta(days=5, seconds=1))  # the decision window for 16 runs out
    state = await handle.query(JointBuyWorkflow.get_state)
    assert state.stage == Stage.NEGOTIATION
    qualified = {c for c, e in state.suppliers.items() if e.status == "qualified"}
    assert qualified == expected_qualified
    assert len(qualified) == 17
    for number, fragment in why.items():
        entry = state.suppliers[number]
        assert entry.status == "excluded", number
        assert fragment.lower() in entry.reason.lower(), (number, entry.reason)
    checked = [e for e in sink.events if e.type == "assurance.checked"]
    assert len(checked) == 30 and all(len(e.data["checks"]) == 7 for e in checked)
    completed = next(e for e in sink.events if e.type == "assurance.completed")
    assert completed.data["qualified"] == sorted(expected_qualified)
    desc = await handle.describe()
    assert (
        desc.typed_search_attributes.get(
            __import__("workflows.search", fromlist=["QUALIFIED_KEY"]).QUALIFIED_KEY
        )
        == 17
    )


async def test_register_outage_is_retried_and_not_found_is_a_failed_check(
    assurance_env: WorkflowEnvironment, task_queue: str, registries: tuple[Registries, EventSink]
) -> None:
    time_env = assurance_env
    reg, sink = registries
    flaky, missing = "11111111", "22222222"
    reg.statuses[flaky] = "active"
    reg.outages[flaky] = 3
    for number in (flaky, missing):
        reg.profiles[number] = profile(int(number[0]))
    handle = await _to_assurance(time_env, sink, task_queue, [flaky, missing])
    state = await _until(handle, lambda s: s.stage != Stage.ASSURANCE)
    assert reg.calls[flaky] == 4  # three failures, then the answer
    # Every check's result is in the `assurance.checked` event; the state keeps the verdict.
    checks = {
        e.data["company_number"]: e.data["checks"] for e in sink.events if e.type == "assurance.checked"
    }
    status_check = next(c for c in checks[flaky] if c["check"] == "company_status")
    assert status_check["passed"]
    assert state.suppliers[flaky].status == "qualified"
    assert state.suppliers[flaky].checks == []
    missing_check = next(c for c in checks[missing] if c["check"] == "company_status")
    assert not missing_check["passed"]
    assert missing_check["reason"] == "company not found on the register"
    assert state.suppliers[missing].status == "excluded"
    assert "company not found on the register" in state.suppliers[missing].reason
    assert reg.calls[missing] == 1  # an answer, not a retry loop
    assert state.stage == Stage.NEGOTIATION, [e.type for e in sink.events][12:]


async def test_no_qualified_supplier_makes_the_buy_unsuccessful(
    assurance_env: WorkflowEnvironment, task_queue: str, registries: tuple[Registries, EventSink]
) -> None:
    time_env = assurance_env
    reg, sink = registries
    reg.statuses["33333333"] = "liquidation"
    handle = await _to_assurance(time_env, sink, task_queue, ["33333333"])
    outcome = await handle.result()
    assert outcome.stage == Stage.UNSUCCESSFUL and outcome.reason == "no supplier qualified"


# A check that cannot finish is a verdict the lead can act on, never a failed buy: its provider stays
# down past the buy's patience (every retry fails), or it gets an answer that no longer validates
# (non-retryable, e.g. a profile naming a certification the code has since retired).


async def test_a_check_that_cannot_finish_flags_the_supplier_for_the_lead(
    assurance_env: WorkflowEnvironment, task_queue: str, registries: tuple[Registries, EventSink]
) -> None:
    time_env = assurance_env
    reg, sink = registries
    down, broken, clean = "44444444", "55555555", "66666666"
    evidence = reg.evidence

    async def retired_certification(company_number: str) -> SupplierEvidence | None:
        if company_number == broken:  # the profile on file no longer validates
            raise ValueError("certification 'iso_9001_2008' is no longer recognised")
        return await evidence(company_number)

    reg.evidence = retired_certification  # type: ignore[method-assign]  # the worker's provider
    for number in (down, broken, clean):
        reg.statuses[number] = "active"
        reg.profiles[number] = profile(int(number[0]))
    reg.outages[down] = 10**6  # the register never answers for this one
    # The buy's patience with a failing check: 5 s, so the register's outage outlasts it.
    handle = await _to_assurance(time_env, sink, task_queue, [down, broken, clean], patience=5)
    state = await _until(
        handle, lambda s: all(e.status != "registered" for e in s.suppliers.values()), seconds=120
    )
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert state.stage == Stage.ASSURANCE
    assert {c: e.status for c, e in state.suppliers.items()} == {
        down: "flagged",
        broken: "flagged",
        clean: "qualified",
    }
    [status_check] = [c for c in state.suppliers[down].checks if c.check == "company_status"]
    assert status_check.flagged and "unavailable" in status_check.reason
    assert "company register" in status_check.reason
    unreadable = [c for c in state.suppliers[broken].checks if c.flagged]
    assert unreadable and all("unavailable" in c.reason for c in unreadable)
    assert all("iso_9001" not in c.reason for c in unreadable)  # no internals in the verdict

    for number, exclude in ((down, False), (broken, True)):
        await handle.execute_update(
            JointBuyWorkflow.decide_exclusion,
            DecideExclusion(company_number=number, exclude=exclude, reason="checked by hand", actor="CCS"),
        )
    state = await _until(handle, lambda s: s.stage != Stage.ASSURANCE)
    assert state.stage == Stage.NEGOTIATION
    assert sorted(c for c, e in state.suppliers.items() if e.status == "qualified") == [down, clean]
