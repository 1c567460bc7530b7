"""The supplier assurance stage of the joint-buy workflow.

Registered suppliers are checked in the background, at most `IN_FLIGHT_SUPPLIERS` at a time, each
check its own activity with its own timeout and retry policy; results become `assurance.checked`
events. Suppliers flagged on a discretionary ground wait for the lead until a decision deadline,
after which the buy's default applies.

The stage loop (`workflows.stage`) keeps watching while checks run, so a cancel, a handover or an
event-log failure is answered with checks still in flight. A run checks only as many suppliers as
its budget allows (a supplier's checks take `SUPPLIER_MESSAGES` of the run's `messages_per_run`, and
none start once its history passes `CHECK_HISTORY_EVENTS`), then hands the rest to its successor:
each verdict is in `BuyState` as soon as it is recorded, so a new run resumes with the suppliers not
yet checked and never checks a decided one again. Checks still in flight when a run hands over are
dropped and run again by the next run (they only read).

What the state keeps of a verdict is what later decisions need: the status, its reasons (at most
`SUPPLIER_REASON_KEPT` characters) and, while a supplier awaits the lead, its flagged checks (the
lead's decision applies to them). Every check's full result is in the `assurance.checked` event.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import (
        CHECK_CARBON_REDUCTION_PLAN,
        CHECK_CERTIFICATIONS,
        CHECK_COMPANY_STATUS,
        CHECK_DEBARMENT,
        CHECK_FINANCIAL_STANDING,
        CHECK_INSURANCE,
        CHECK_MODERN_SLAVERY,
        CheckSupplier,
        RegisterSupplier,
    )
    from procurement import suppliers as supplier_rules
    from procurement.assurance import CheckResult, outcome_of
    from procurement.models import CheckOutcome, Stage, SupplierEntry
    from workflows.buy import Buy
    from workflows.search import QUALIFIED_KEY
    from workflows.stage import Next, StageWindow

# Buys that reached assurance before the checks existed only waited there: replaying them must not
# schedule check activities.
ASSURANCE_PATCH = "supplier-assurance-checks"

# A check that cannot finish (retries exhausted, the buy's patience spent, or an answer that does
# not validate) flags the supplier for the lead instead of failing the buy. Runs from before it
# failed the workflow there; replaying them keeps doing so.
CHECK_UNAVAILABLE_PATCH = "assurance-check-unavailable"

# Suppliers checked at once by runs before checks ran in the background: 7 activities each.
BATCH = 50

# Runs from before checks ran in the background awaited every batch on entering the stage (the loop
# saw no cancel, handover or log failure until all were done) and kept every check in the state.
BACKGROUND_CHECKS_PATCH = "assurance-checks-in-background"

# Suppliers whose checks are in flight at once, per buy: at most 20 × 7 = 140 check activities
# (Temporal allows 2,000 pending activities per run).
IN_FLIGHT_SUPPLIERS = 20
# A supplier's seven checks cost a run's history about 24 events (three per activity, the workflow
# tasks between, and the recording of the verdict): about what four commands cost, so each supplier
# takes four messages of the run's budget.
SUPPLIER_MESSAGES = 4
# Whatever the budget, no supplier's checks start once the run's history is this long: the checks in
# flight then add at most 20 × 7 × 6 = 840 events (an activity's three and, at worst, a workflow
# task's three each; about 400 as measured), so the run hands over below the 4,096 events at which
# Temporal suggests it, and far below its 10,240-event warning.
CHECK_HISTORY_EVENTS = 3_200


def _retry(maximum_interval: float, attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=maximum_interval),
        maximum_attempts=attempts,
        non_retryable_error_types=["ValidationError", "ValueError"],
    )


# Registries are remote services that go down: patient retries. Evidence is our own database.
CHECKS: list[tuple[str, timedelta, RetryPolicy]] = [
    (CHECK_COMPANY_STATUS, timedelta(seconds=30), _retry(60, 20)),
    (CHECK_DEBARMENT, timedelta(seconds=30), _retry(60, 20)),
    (CHECK_FINANCIAL_STANDING, timedelta(seconds=10), _retry(10, 10)),
    (CHECK_INSURANCE, timedelta(seconds=10), _retry(10, 10)),
    (CHECK_CERTIFICATIONS, timedelta(seconds=10), _retry(10, 10)),
    (CHECK_MODERN_SLAVERY, timedelta(seconds=10), _retry(10, 10)),
    (CHECK_CARBON_REDUCTION_PLAN, timedelta(seconds=10), _retry(10, 10)),
]


class AssuranceStage(StageWindow):
    """Entered when sign-up closes; ends once every supplier is qualified or excluded, or at the
    deadline for the lead's discretionary decisions."""

    stage = Stage.ASSURANCE

    def __init__(self, buy: Buy) -> None:
        super().__init__(buy)
        self._checker: asyncio.Task[None] | None = None
        self._defect: BaseException | None = None

    def register(self, cmd: RegisterSupplier) -> int:
        """A supplier registers interest (before sign-up closes); it is checked on entering."""
        # Its name is the event's (and the API's, from PostgreSQL): no decision here needs it.
        self._state.suppliers[cmd.company_number] = SupplierEntry()
        return self._buy.emit(
            "supplier.registered",
            f"supplier:{cmd.company_number}",
            {"company_number": cmd.company_number, "name": cmd.name},
        )

    async def enter(self) -> None:
        if not workflow.patched(ASSURANCE_PATCH):
            return
        if not workflow.patched(BACKGROUND_CHECKS_PATCH):
            await self._run_checks()
            return
        self._start()
        if self._checker is None or self._checker.done():
            self._checker = asyncio.create_task(self._check_in_background())

    def _start(self) -> None:
        """On first entering: estimate the annual contract value the checks use, and say so."""
        if self._state.annual_contract_value is None:
            acv = supplier_rules.estimate_annual_contract_value(self._state)
            self._state.annual_contract_value = acv
            self._buy.emit(
                "assurance.started",
                "system",
                {
                    "suppliers": sorted(self._state.suppliers),
                    "annual_contract_value": str(acv),
                    "estimate": "committed quantity × lowest council baseline unit price per lot, "
                    "per contract year",
                },
            )

    async def _run_checks(self) -> None:
        """Runs from before checks ran in the background: check every supplier not yet checked, a
        batch at a time, before the loop looks at anything else."""
        self._start()
        pending = [c for c, e in self._state.suppliers.items() if e.status == "registered"]
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            results = await asyncio.gather(*(self._check(c) for c in batch))
            for company, checks in zip(batch, results, strict=True):
                self._record(company, checks)
            if self._state.stage != Stage.ASSURANCE:
                return  # cancelled meanwhile
        self._await_decisions()

    async def _check_in_background(self) -> None:
        """Check the suppliers not yet checked, at most `IN_FLIGHT_SUPPLIERS` at a time, for as long
        as this run goes on checking and has room for them; then, if some are left, hand over."""
        pending = [c for c, e in self._state.suppliers.items() if e.status == "registered"]
        in_flight: set[asyncio.Task[None]] = set()
        for company in pending:
            await workflow.wait_condition(lambda: len(in_flight) < IN_FLIGHT_SUPPLIERS or not self._going())
            if not self._going():
                return
            if not self._room():
                # The run's budget is spent: let the checks in flight finish, then hand the rest over.
                await workflow.wait_condition(lambda: not in_flight or not self._going())
                if self._going():
                    self._buy.request_handover()
                return
            task = asyncio.create_task(self._check_and_record(company))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await workflow.wait_condition(lambda: not in_flight or not self._going())
        if self._going():
            self._await_decisions()

    def _going(self) -> bool:
        """Checking goes on while the buy is in assurance, this run is not handing over, and its
        events can be recorded."""
        return (
            self._state.stage == Stage.ASSURANCE
            and not self._buy.handover_due()
            and self._buy.events.failure is None
        )

    def _room(self) -> bool:
        """Whether this run takes one more supplier's checks (and if so, takes them from its budget)."""
        if workflow.info().get_current_history_length() >= CHECK_HISTORY_EVENTS:
            return False
        return self._buy.reserve(SUPPLIER_MESSAGES)

    async def _check_and_record(self, company_number: str) -> None:
        """One supplier's checks; its verdict is recorded only if the run still goes on checking (a
        run handing over, or a buy cancelled meanwhile, leaves the supplier to the next run, or to
        nobody)."""
        try:
            results = await self._check(company_number)
            if self._going():
                self._record(company_number, results)
        except Exception as err:  # a defect: the loop fails the workflow task (see `work_done`)
            self._defect = err

    def _await_decisions(self) -> None:
        """Every supplier is checked: if some are flagged, open the window for the lead's decisions."""
        flagged = [c for c, e in self._state.suppliers.items() if e.status == "flagged"]
        if flagged and self._state.stage_deadline is None:
            window = self._state.terms.requirements.discretionary_decision_window
            deadline: datetime = workflow.now() + window
            self._buy.move_deadline(deadline)
            self._buy.emit(
                "assurance.awaiting_decisions",
                "system",
                {
                    "flagged": flagged,
                    "decide_by": deadline.isoformat(),
                    "default": self._state.terms.requirements.discretionary_default,
                },
            )

    async def _check(self, company_number: str) -> list[CheckResult]:
        inp = CheckSupplier(
            buy_id=self._state.buy_id,
            company_number=company_number,
            requirements=self._state.terms.requirements,
            annual_contract_value=self._state.annual_contract_value or Decimal(0),
        )
        return list(await asyncio.gather(*(self._one_check(name, inp, t, r) for name, t, r in CHECKS)))

    async def _one_check(
        self, name: str, inp: CheckSupplier, timeout: timedelta, retry: RetryPolicy
    ) -> CheckResult:
        try:
            result: CheckResult = await workflow.execute_activity(
                name,
                inp,
                result_type=CheckResult,
                summary=f"{name} for {inp.company_number}",
                start_to_close_timeout=timeout,
                schedule_to_close_timeout=timedelta(seconds=self._buy.check_patience_seconds),
                retry_policy=retry,
            )
            return result
        except ActivityError as err:
            if not workflow.patched(CHECK_UNAVAILABLE_PATCH):
                raise
            return unavailable(name, err)

    def _record(self, company_number: str, results: list[CheckResult]) -> None:
        entry = self._state.suppliers[company_number]
        entry.checks = [CheckOutcome.model_validate(r.model_dump()) for r in results]
        entry.status = _outcome(entry.checks)
        entry.reason = "; ".join(c.reason for c in entry.checks if not c.passed)
        self._buy.emit(
            "assurance.checked",
            "system",
            {
                "company_number": company_number,
                "outcome": entry.status,
                "checks": [c.model_dump() for c in entry.checks],
            },
        )
        if workflow.patched(BACKGROUND_CHECKS_PATCH):
            supplier_rules.keep_what_decisions_need(entry)

    def decide(self, company_number: str, exclude: bool, reason: str, actor: str) -> int:
        """The lead's (or the default's) decision on a flagged supplier: its flagged checks become
        final. The event carries the checks the state kept (every check, for verdicts recorded
        before the state kept only the flagged ones; the projection updates those it names)."""
        entry = self._state.suppliers[company_number]
        entry.checks, status = supplier_rules.decide(entry.checks, exclude, reason)
        entry.status = status
        entry.reason = "; ".join(c.reason for c in entry.checks if not c.passed)
        seq = self._buy.emit(
            "exclusion.decided",
            actor,
            {
                "company_number": company_number,
                "exclude": exclude,
                "reason": reason,
                "outcome": status,
                "checks": [c.model_dump() for c in entry.checks],
            },
        )
        supplier_rules.keep_what_decisions_need(entry)  # state only: the event has it all
        return seq

    def work_done(self) -> bool:
        """Checks have run and no supplier is left waiting for a check or a decision."""
        if self._defect is not None:
            raise self._defect  # a defect in checking: the workflow task fails, a fixed worker resumes
        return self._state.annual_contract_value is not None and all(
            e.status in ("qualified", "excluded") for e in self._state.suppliers.values()
        )

    def close(self, how: str) -> Next:  # noqa: ARG002 - assurance closes the same way, however it ends
        """Apply the default to undecided suppliers, then move on with whoever qualified."""
        default = self._state.terms.requirements.discretionary_default
        for company, entry in self._state.suppliers.items():
            if entry.status == "flagged":
                reason = f"no decision by the deadline: the buy's default ({default}) applied"
                self.decide(company, default == "exclude", reason, "system")
        qualified = sorted(c for c, e in self._state.suppliers.items() if e.status == "qualified")
        excluded = sorted(c for c, e in self._state.suppliers.items() if e.status == "excluded")
        self._buy.emit("assurance.completed", "system", {"qualified": qualified, "excluded": excluded})
        workflow.upsert_search_attributes([QUALIFIED_KEY.value_set(len(qualified))])
        if not qualified:
            return Next(Stage.UNSUCCESSFUL, "no supplier qualified")
        return Next(Stage.NEGOTIATION, f"{len(qualified)} suppliers qualified")


# What each check consults, as the lead and the supplier read it in the verdict.
_SOURCES = {
    CHECK_COMPANY_STATUS: "the company register",
    CHECK_DEBARMENT: "the debarment list",
}


def unavailable(name: str, err: ActivityError) -> CheckResult:
    """The verdict of a check that could not finish: flagged, so the lead decides (having checked
    by other means) or the buy's default applies at the decision deadline. Says what could not be
    consulted and how, never the internals of the failure (those are in the worker's log)."""
    source = _SOURCES.get(name, "the supplier's evidence on file")
    cause = err.cause
    if isinstance(cause, ActivityTimeoutError):
        how = "did not answer in time"
    elif isinstance(cause, ApplicationError) and cause.non_retryable:
        how = "gave an answer that could not be read"
    else:
        how = "could not be reached"
    workflow.logger.warning("assurance check unavailable", extra={"check": name, "error": str(err.cause)})
    return CheckResult(
        check=name.removeprefix("check_"),  # CHECK_* are "check_" + the name
        passed=False,
        flagged=True,
        reason=f"check unavailable: {source} {how}; the lead decides",
    )


def _outcome(checks: list[CheckOutcome]) -> Any:
    return outcome_of(CheckResult.model_validate(c.model_dump()) for c in checks)
