"""One joint buy, from demand to its outcome, as a single long-lived Temporal workflow.

The workflow is the authority on the process: commands arrive as updates, are checked by
`procurement` rules in validators (a refused command leaves no trace in history), change the state,
and become events. A background flusher writes events to PostgreSQL in batches through the
`record_events` activity; an update returns only once its own event is recorded, so a client that
got an answer can read it back from the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from procurement import award as award_rules
    from procurement import demand as rules
    from procurement import rounds as bid_rules
    from procurement import suppliers as supplier_rules
    from procurement.errors import DomainError
    from procurement.models import BuyState, Marks, Stage, SupplierEntry
    from workflows.assurance import AssuranceStage
    from workflows.award import AwardStage
    from workflows.event_log import EventLog
    from workflows.handover import Handover
    from workflows.messages import (
        BidReceipt,
        BuyOutcome,
        Cancel,
        ChallengeReceipt,
        CloseStage,
        DecideChallenge,
        DecideExclusion,
        EnterScores,
        JointBuyInput,
        LodgeChallenge,
        Receipt,
        RegisterDemand,
        RegisterSupplier,
        ScoresReceipt,
        SignUp,
        SubmitBid,
        WithdrawDemand,
    )
    from workflows.negotiation import NegotiationStage
    from workflows.search import COUNCILS_KEY, STAGE_KEY

T = TypeVar("T")


def _rejected(err: DomainError) -> ApplicationError:
    # details: (field, facts) -- the API turns them into the problem's `errors` and extra members.
    return ApplicationError(err.message, err.field, err.extra, type=err.kind.value, non_retryable=True)


def _checked(check: Callable[[], T]) -> T:
    """Run a rule; a broken rule becomes an ApplicationError (anything else would wedge the task)."""
    try:
        return check()
    except DomainError as err:
        raise _rejected(err) from None


# Buys that reached assurance before the checks existed only waited there: replaying them must not
# schedule check activities.
ASSURANCE_PATCH = "supplier-assurance-checks"
# Likewise buys that reached negotiation before rounds existed only waited there: replaying them
# must not open a round (a timer they never started).
NEGOTIATION_PATCH = "negotiation-rounds"


class WindowEnd(Enum):
    CLOSED = "closed"  # deadline passed or the lead closed it early
    LEFT = "left"  # the stage changed under us (cancel)
    HANDOVER = "handover"  # time to continue as new


@workflow.defn(name="JointBuyWorkflow")
class JointBuyWorkflow:
    @workflow.init
    def __init__(self, inp: JointBuyInput) -> None:
        self._s = inp.state
        self._messages_per_run = inp.messages_per_run
        self._handover = Handover(inp.messages_per_run)
        self._close_requested: Stage | None = None
        self._published_councils = -1
        self._log = EventLog(self._s, on_recorded=self._on_recorded)
        self._emit = self._log.emit
        self._assurance = AssuranceStage(self._s, emit=self._emit, finish=self._finish, enter=self._enter)
        self._negotiation = NegotiationStage(self._s, emit=self._emit, finish=self._finish, enter=self._enter)
        self._award = AwardStage(self._s, emit=self._emit, finish=self._finish, enter=self._enter)

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        flusher = asyncio.create_task(self._log.flush_forever())
        if self._s.stage == Stage.DRAFT:
            self._emit("buy.created", self._s.lead, {"terms": inp.state.terms.model_dump(mode="json")})
            self._enter(Stage.DEMAND, deadline=self._s.terms.demand_closes_at, reason="buy started")
        while not self._s.stage.terminal:
            if self._s.stage == Stage.ASSURANCE and workflow.patched(ASSURANCE_PATCH):
                await self._assurance.run_checks()
            if self._s.stage == Stage.NEGOTIATION and workflow.patched(NEGOTIATION_PATCH):
                self._negotiation.start()
            end = await self._wait_for_window()
            if end is WindowEnd.HANDOVER:
                await self._drain()
                flusher.cancel()
                workflow.continue_as_new(
                    JointBuyInput(state=self._s, messages_per_run=self._messages_per_run)
                )
            if end is WindowEnd.CLOSED:
                self._close_window()
        await self._drain()
        flusher.cancel()
        return BuyOutcome(stage=self._s.stage, reason=self._s.outcome_reason)

    # ---- stages -------------------------------------------------------------------------------

    async def _wait_for_window(self) -> WindowEnd:
        """Wait for the current stage's deadline, the lead's early close, a cancel or a handover."""
        stage = self._s.stage
        deadline = self._s.stage_deadline
        timeout = None if deadline is None else max((deadline - workflow.now()).total_seconds(), 0)
        try:
            await workflow.wait_condition(
                lambda: (
                    self._s.stage != stage
                    or self._s.stage_deadline != deadline
                    or self._close_requested == stage
                    or self._stage_work_done(stage)
                    or self._handover_due()
                    or self._log.failure is not None
                ),
                timeout=timeout,
            )
        except TimeoutError:
            return WindowEnd.CLOSED
        self._log.raise_if_failed()
        if self._s.stage != stage or self._s.stage_deadline != deadline:
            return WindowEnd.LEFT  # moved on, or the deadline moved (a round extended): wait anew
        if self._close_requested == stage or self._stage_work_done(stage):
            return WindowEnd.CLOSED
        return WindowEnd.HANDOVER

    def _stage_work_done(self, stage: Stage) -> bool:
        if stage == Stage.ASSURANCE:
            return self._assurance.ready_to_close()
        if stage == Stage.NEGOTIATION:
            return self._negotiation.ready_to_close()
        return stage == Stage.EVALUATION and self._award.evaluation_done()

    def _close_window(self) -> None:
        early = self._close_requested == self._s.stage
        how = "closed early by the lead" if early else "deadline reached"
        if self._s.stage == Stage.DEMAND:
            self._close_demand(how)
        elif self._s.stage == Stage.SIGN_UP:
            self._close_sign_up(how)
        elif self._s.stage == Stage.ASSURANCE:
            self._assurance.close()
        elif self._s.stage == Stage.NEGOTIATION:
            how = (
                "closed early: every qualified supplier bid"
                if self._stage_work_done(Stage.NEGOTIATION)
                else how
            )
            self._negotiation.close_round(how)
        elif self._s.stage == Stage.EVALUATION:
            self._award.close_evaluation()
        elif self._s.stage == Stage.STANDSTILL:
            self._award.close_standstill()
        self._close_requested = None  # a later window (the next round) is not closed by it

    def _close_demand(self, how: str) -> None:
        totals = self._aggregate()
        self._emit("demand.closed", "system", {"how": how, "aggregate": totals})
        if not self._s.demand:
            self._finish(Stage.UNSUCCESSFUL, "no council registered demand")
            return
        deadline = rules.sign_up_deadline(workflow.now(), self._s.terms)
        self._enter(Stage.SIGN_UP, deadline=deadline, reason=f"demand window {how}")

    def _close_sign_up(self, how: str) -> None:
        gone = rules.dropped_out(self._s)
        self._s.dropped_out = gone
        self._emit(
            "sign_up.closed",
            "system",
            {"how": how, "dropped_out": gone, "aggregate": self._aggregate()},
        )
        verdict = rules.assess_viability(self._s)
        for lot_id, why in verdict.failed_lots.items():
            self._s.unsuccessful_lots[lot_id] = why
            self._emit("lot.unsuccessful", "system", {"lot_id": lot_id, "reason": why})
        if not verdict.viable:
            self._finish(Stage.UNSUCCESSFUL, verdict.reason)
            return
        # Supplier assurance comes next; until it is built the buy waits there (cancel still works).
        self._enter(Stage.ASSURANCE, deadline=None, reason=f"sign-up window {how}")

    def _finish(self, stage: Stage, reason: str) -> None:
        self._s.outcome_reason = reason
        self._enter(stage, deadline=None, reason=reason)

    def _enter(self, stage: Stage, *, deadline: datetime | None, reason: str) -> None:
        previous = self._s.stage
        self._s.stage = stage
        self._s.stage_deadline = deadline
        self._emit(
            "stage.changed",
            "system",
            {
                "from": previous.value,
                "to": stage.value,
                "deadline": deadline.isoformat() if deadline else None,
                "reason": reason,
            },
        )
        workflow.upsert_search_attributes([STAGE_KEY.value_set(stage.value)])

    # ---- commands -----------------------------------------------------------------------------

    @workflow.update
    async def register_demand(self, cmd: RegisterDemand) -> Receipt:
        self._count()
        _checked(lambda: rules.check_register_demand(self._s, cmd.lines))
        self._s.demand[cmd.council] = list(cmd.lines)
        seq = self._emit(
            "demand.registered",
            cmd.council,
            {"council": cmd.council, "lines": [line.model_dump(mode="json") for line in cmd.lines]},
        )
        return await self._receipt(seq)

    @register_demand.validator
    def _validate_register_demand(self, cmd: RegisterDemand) -> None:
        if self._admit():
            _checked(lambda: rules.check_register_demand(self._s, cmd.lines))

    @workflow.update
    async def withdraw_demand(self, cmd: WithdrawDemand) -> Receipt:
        self._count()
        _checked(lambda: rules.check_withdraw_demand(self._s, cmd.council))
        del self._s.demand[cmd.council]
        seq = self._emit("demand.withdrawn", cmd.council, {"council": cmd.council})
        return await self._receipt(seq)

    @withdraw_demand.validator
    def _validate_withdraw_demand(self, cmd: WithdrawDemand) -> None:
        if self._admit():
            _checked(lambda: rules.check_withdraw_demand(self._s, cmd.council))

    @workflow.update
    async def sign_up(self, cmd: SignUp) -> Receipt:
        self._count()
        _checked(lambda: rules.check_sign_up(self._s, cmd.council, cmd.lines))
        self._s.signups[cmd.council] = list(cmd.lines)
        seq = self._emit(
            "sign_up.confirmed",
            cmd.council,
            {"council": cmd.council, "lines": [line.model_dump(mode="json") for line in cmd.lines]},
        )
        return await self._receipt(seq)

    @sign_up.validator
    def _validate_sign_up(self, cmd: SignUp) -> None:
        if self._admit():
            _checked(lambda: rules.check_sign_up(self._s, cmd.council, cmd.lines))

    @workflow.update
    async def close_stage(self, cmd: CloseStage) -> Receipt:
        self._count()
        _checked(lambda: rules.check_close_stage(self._s, cmd.stage))
        self._close_requested = cmd.stage
        round_open = self._s.negotiation.round if self._s.negotiation else 0
        data: dict[str, Any] = {"stage": cmd.stage.value}
        if cmd.stage == Stage.NEGOTIATION:
            data["round"] = round_open
        seq = self._emit("stage.close_requested", cmd.actor, data)
        # Answer once the stage (or, in negotiation, the round) has actually moved on, so the
        # caller sees what came next.
        await workflow.wait_condition(
            lambda: (
                self._s.stage != cmd.stage
                or (self._s.negotiation is not None and self._s.negotiation.round != round_open)
            )
        )
        return await self._receipt(max(seq, self._s.next_seq - 1))

    @close_stage.validator
    def _validate_close_stage(self, cmd: CloseStage) -> None:
        if self._admit():
            _checked(lambda: rules.check_close_stage(self._s, cmd.stage))

    @workflow.update
    async def cancel(self, cmd: Cancel) -> Receipt:
        self._count()
        _checked(lambda: rules.check_cancel(self._s))
        self._emit("buy.cancelled", cmd.actor, {"reason": cmd.reason, "stage": self._s.stage.value})
        self._finish(Stage.CANCELLED, cmd.reason)
        return await self._receipt(self._s.next_seq - 1)

    @cancel.validator
    def _validate_cancel(self, cmd: Cancel) -> None:  # noqa: ARG002 - same signature as the update
        if self._admit():
            _checked(lambda: rules.check_cancel(self._s))

    @workflow.update
    async def confirm_started(self) -> Receipt:
        """Answers once the buy's opening events are recorded (the API's create waits for it)."""
        self._count()
        await workflow.wait_condition(lambda: self._s.stage != Stage.DRAFT)
        return await self._receipt(self._s.next_seq - 1)

    @workflow.update
    async def register_supplier(self, cmd: RegisterSupplier) -> Receipt:
        self._count()
        _checked(lambda: supplier_rules.check_register_supplier(self._s))
        self._s.suppliers[cmd.company_number] = SupplierEntry(name=cmd.name)
        seq = self._emit(
            "supplier.registered",
            f"supplier:{cmd.company_number}",
            {"company_number": cmd.company_number, "name": cmd.name},
        )
        return await self._receipt(seq)

    @register_supplier.validator
    def _validate_register_supplier(self, cmd: RegisterSupplier) -> None:  # noqa: ARG002
        if self._admit():
            _checked(lambda: supplier_rules.check_register_supplier(self._s))

    @workflow.update
    async def decide_exclusion(self, cmd: DecideExclusion) -> Receipt:
        self._count()
        _checked(lambda: supplier_rules.check_decide_exclusion(self._s, cmd.company_number))
        seq = self._assurance.decide(cmd.company_number, cmd.exclude, cmd.reason, cmd.actor)
        return await self._receipt(seq)

    @decide_exclusion.validator
    def _validate_decide_exclusion(self, cmd: DecideExclusion) -> None:
        if self._admit():
            _checked(lambda: supplier_rules.check_decide_exclusion(self._s, cmd.company_number))

    @workflow.update
    async def submit_bid(self, cmd: SubmitBid) -> BidReceipt:
        self._count()
        priced = self._check_bid(cmd)
        bid = self._negotiation.submit(cmd, priced)
        neg = self._s.negotiation
        assert neg is not None and neg.round_deadline is not None
        # The round as this bid left it: by the time the bid is recorded, the round may have closed
        # (this bid may have been the last one it waited for) and the next one opened.
        closes_at, extensions_used = neg.round_deadline, neg.extensions_used
        receipt = await self._receipt(bid.seq)
        return BidReceipt(
            **receipt.model_dump(),
            round=bid.round,
            lot_id=bid.lot_id,
            evaluated_unit_price=bid.evaluated_unit_price,
            previous_unit_price=priced.previous,
            committed_quantity=bid_rules.committed_quantities(self._s)[bid.lot_id],
            round_closes_at=closes_at,
            extensions_used=extensions_used,
            tiers=bid.tiers,
        )

    @submit_bid.validator
    def _validate_submit_bid(self, cmd: SubmitBid) -> None:
        if self._admit():
            self._check_bid(cmd)

    def _check_bid(self, cmd: SubmitBid) -> bid_rules.PricedBid:
        return _checked(
            lambda: bid_rules.check_bid(self._s, cmd.company_number, cmd.lot_id, cmd.tiers, workflow.now())
        )

    @workflow.update
    async def enter_scores(self, cmd: EnterScores) -> ScoresReceipt:
        self._count()
        seq = self._award.enter_scores(cmd, self._check_marks(cmd))
        receipt = await self._receipt(seq)
        return ScoresReceipt(**receipt.model_dump(), still_to_score=len(award_rules.missing_marks(self._s)))

    @enter_scores.validator
    def _validate_enter_scores(self, cmd: EnterScores) -> None:
        if self._admit():
            self._check_marks(cmd)

    def _check_marks(self, cmd: EnterScores) -> Marks:
        return _checked(
            lambda: award_rules.check_marks(
                self._s, cmd.company_number, cmd.lot_id, cmd.quality, cmd.social_value
            )
        )

    @workflow.update
    async def lodge_challenge(self, cmd: LodgeChallenge) -> ChallengeReceipt:
        self._count()
        _checked(lambda: award_rules.check_challenge(self._s, cmd.company_number))
        challenge = self._award.lodge(cmd)
        receipt = await self._receipt(self._s.next_seq - 1)
        assert self._s.standstill is not None
        return ChallengeReceipt(
            **receipt.model_dump(),
            challenge_id=challenge.challenge_id,
            days_left=self._s.standstill.days_left or 0,
        )

    @lodge_challenge.validator
    def _validate_lodge_challenge(self, cmd: LodgeChallenge) -> None:
        if self._admit():
            _checked(lambda: award_rules.check_challenge(self._s, cmd.company_number))

    @workflow.update
    async def decide_challenge(self, cmd: DecideChallenge) -> Receipt:
        self._count()
        challenge = self._check_decision(cmd)
        self._award.decide(cmd, challenge)
        return await self._receipt(self._s.next_seq - 1)

    @decide_challenge.validator
    def _validate_decide_challenge(self, cmd: DecideChallenge) -> None:
        if self._admit():
            self._check_decision(cmd)

    def _check_decision(self, cmd: DecideChallenge) -> Any:
        corrected = {
            c.lot_id: Marks(quality=c.quality, social_value=c.social_value) for c in cmd.corrected_scores
        }
        return _checked(
            lambda: award_rules.check_decide_challenge(
                self._s, cmd.challenge_id, cmd.outcome == "upheld", cmd.remedy, corrected
            )
        )

    @workflow.query
    def get_state(self) -> BuyState:
        return self._s

    # ---- events and their persistence ---------------------------------------------------------

    async def _receipt(self, seq: int) -> Receipt:
        await self._log.wait_recorded(seq)
        return Receipt(
            seq=seq,
            stage=self._s.stage,
            aggregate=rules.aggregate(self._s.terms, self._s.demand, self._s.signups),
        )

    def _on_recorded(self) -> None:
        # Runs after a batch of events is written: a task Temporal always records.
        self._handover.notice()
        self._publish_council_count()

    def _publish_council_count(self) -> None:
        councils = len(self._s.signups) if self._s.signups else len(self._s.demand)
        if councils != self._published_councils:
            self._published_councils = councils
            workflow.upsert_search_attributes([COUNCILS_KEY.value_set(councils)])

    async def _drain(self) -> None:
        """Before returning or continuing as new: every handler done, every event recorded."""
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and self._log.drained()) or self._log.failure is not None
            )
        )
        self._log.raise_if_failed()

    def _aggregate(self) -> dict[str, Any]:
        totals = rules.aggregate(self._s.terms, self._s.demand, self._s.signups)
        return {lot_id: agg.model_dump() for lot_id, agg in totals.items()}

    def _count(self) -> None:
        self._handover.count()

    def _admit(self) -> bool:
        """Refuse new commands (in validators: no trace in history) once a handover is due;
        whether to check the command's rules now (see `workflows.handover`).

        A run continues as new only when no handler is running; with clients always keeping a few
        updates in flight that moment would never come, and the run would grow towards the
        server's 2,000-updates cap. The API retries RUN_HANDOVER refusals against the next run.
        """
        return self._handover.admit()

    def _handover_due(self) -> bool:
        return self._handover.due()
