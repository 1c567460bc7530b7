"""The one object through which a run of the joint-buy workflow changes its buy.

`BuyState` is what a run carries into the next (continue-as-new); beside it a run keeps a little
of its own: the lead's pending early close, how many messages it took, the commands it applied
(carried on at the handover), and the event log's progress. All of it lives here, so stages and
command handlers change the buy in one way: they change `state`, `emit` what happened, and
`move_to` the next stage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import BUY_BUSY, BuyOutcome, JointBuyInput, Receipt
    from procurement import demand as demand_rules
    from procurement.models import BuyState, LotAggregate, Stage
    from workflows.event_log import EventLog
    from workflows.handover import Handover
    from workflows.once import AppliedOnce
    from workflows.search import COUNCILS_KEY, ROUND_KEY, STAGE_KEY, current_details

# Runs started before the round was a search attribute replay without its upserts.
ROUND_PATCH = "search-attribute-round"
# Runs started before this wait for `record_events` in every command's handler (see `receipt`).
CALLER_RECORDS_PATCH = "command-answers-carry-unrecorded-events"
# Runs started before this let the stage act on a command before claiming its event as carried,
# so the flusher took it for an event no answer carries and wrote it at once (see `receipt`).
CLAIM_CARRIED_PATCH = "command-claims-its-event-before-the-stage-acts"


class Buy:
    def __init__(self, inp: JointBuyInput) -> None:
        self.state: BuyState = inp.state
        self._messages_per_run = inp.messages_per_run
        self.check_patience_seconds = inp.check_patience_seconds
        self._handover = Handover(inp.messages_per_run)
        # The commands recent runs applied, by update id: a repeat is answered, never applied again.
        self.once = AppliedOnce(self.state)
        # The aggregate, kept command by command: a receipt costs O(lots), not O(councils).
        self.totals = demand_rules.RunningTotals(self.state)
        # The stage whose window the lead asked to close (in negotiation: the open round).
        self.close_requested: Stage | None = None
        self._published_councils = -1
        # What the buy is doing that takes several workflow tasks and takes no commands meanwhile
        # (`admit`), e.g. "making its award"; None the rest of the time.
        self.busy: str | None = None
        self._published_round = -1
        # Whether answers carry unrecorded events for the API to record (`receipt`): decided in
        # the run's first task, which is always recorded.
        self._carry_requested = inp.answers_carry_events
        self._caller_records = inp.answers_carry_events and workflow.patched(CALLER_RECORDS_PATCH)
        self._claim_first = self._caller_records and workflow.patched(CLAIM_CARRIED_PATCH)
        self.events = EventLog(self.state, on_recorded=self._on_recorded, carry=self._caller_records)
        # Record an event in the buy's audit log; returns its seq.
        self.emit = self.events.emit

    @asynccontextmanager
    async def recording(self) -> AsyncIterator[None]:
        """For the length of a run: events flush to PostgreSQL in the background, and the run ends
        only once every handler has finished and every event is recorded."""
        self.events.start()
        try:
            yield
            await self.drain()
        finally:
            self.events.stop()

    def outcome(self) -> BuyOutcome:
        return BuyOutcome(stage=self.state.stage, reason=self.state.outcome_reason)

    # ---- what happened ------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self.state.next_seq - 1

    async def receipt(self, seq: int) -> Receipt:
        """A command's answer: at once, carrying the events up to `seq` that are not yet known to be
        in PostgreSQL, which the API records before it answers (the background flusher records them
        too, idempotently, so an API that died before writing loses nothing); or, when those are too
        many to carry, once the flusher has recorded `seq`. Either way the client's answer comes
        only once its event is in PostgreSQL, and the update costs one workflow task, not three."""
        if self._claim_first:
            # This answer will carry the event (unless there is too much to carry, and then the
            # command waits for the flusher, which a waiter makes urgent): the flusher must not
            # take it for one no answer carries while the stage acts below.
            self.events.will_carry(seq)
        if self._caller_records:
            # Let the stage act on this command first (a bid that completes its round closes it),
            # so the answer reports the stage the command left, as when it waited for the log:
            # the stage's wait wakes in the next check of the workflow's conditions and runs to its
            # next wait; the answer is read in the check after that. No command, no history.
            for _ in range(2):
                await workflow.wait_condition(lambda: True)
        carried = self.events.unrecorded_through(seq)
        if carried is not None:
            return Receipt(
                seq=seq, stage=self.state.stage, aggregate=self.totals.snapshot(), unrecorded=carried
            )
        await self.events.wait_recorded(seq)
        return Receipt(seq=seq, stage=self.state.stage, aggregate=self.totals.snapshot())

    def recorded_through(self, seq: int) -> None:
        """A command's sender recorded the buy's events up to `seq` (see `EventLog.recorded_through`)."""
        self.events.recorded_through(seq)

    def aggregate(self) -> dict[str, LotAggregate]:
        return self.totals.snapshot()

    def aggregate_data(self) -> dict[str, Any]:
        return {lot_id: agg.model_dump() for lot_id, agg in self.aggregate().items()}

    # ---- where it is --------------------------------------------------------------------------

    def move_to(self, stage: Stage, *, deadline: datetime | None = None, reason: str) -> None:
        """Move to `stage` (a terminal one ends the buy, `reason` its outcome)."""
        if stage.terminal:
            self.state.outcome_reason = reason
        previous = self.state.stage
        self.state.stage = stage
        self.state.stage_deadline = deadline
        self.emit(
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
        # What an operator reads in the UI changes with the stage, not only once its events are
        # written (not a command: nothing in history).
        workflow.set_current_details(current_details(self.state))

    def move_deadline(self, deadline: datetime | None) -> None:
        """The stage stays, its window ends at another time (a round opened or extended)."""
        self.state.stage_deadline = deadline

    # ---- commands and the run's message budget ------------------------------------------------

    def count(self) -> None:
        """An update's handler has started: one more message in this run."""
        self._handover.count()

    def admit(self) -> bool:
        """Refuse new commands (in validators: no trace in history) once a handover is due;
        whether to check the command's rules now (see `workflows.handover`).

        A run continues as new only when no handler is running; with clients always keeping a few
        updates in flight that moment would never come, and the run would grow towards the
        server's 2,000-updates cap. The API retries RUN_HANDOVER refusals against the next run.
        While the buy is `busy` (work spread over several tasks), commands are refused with
        BUY_BUSY, which the API retries too.
        """
        if self.busy is not None:
            raise ApplicationError(f"this joint buy is {self.busy}; retry in a moment", type=BUY_BUSY)
        return self._handover.admit()

    def handover_due(self) -> bool:
        return self._handover.due()

    def reserve(self, messages: int) -> bool:
        """Take `messages` of this run's budget for work that is not a command (see
        `Handover.reserve`); False once the run has no room left for it."""
        return self._handover.reserve(messages)

    def request_handover(self) -> None:
        """The run's budget is used up by such work: hand over (the loop sees `handover_due`)."""
        self._handover.spend()

    async def hand_over(self) -> NoReturn:
        """Continue as new: the next run starts from this state, with a fresh history."""
        await self.drain()
        self.events.stop()
        self.once.carry()
        workflow.continue_as_new(
            JointBuyInput(
                state=self.state,
                messages_per_run=self._messages_per_run,
                check_patience_seconds=self.check_patience_seconds,
                answers_carry_events=self._carry_requested,
            )
        )

    async def drain(self) -> None:
        """Before returning or continuing as new: every handler done, every event recorded."""
        self.events.drain_now()
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and self.events.drained())
                or self.events.failure is not None
            )
        )
        self.events.raise_if_failed()

    def _on_recorded(self) -> None:
        # Runs after a batch of events is written: a task Temporal always records.
        self._handover.notice()
        self._publish_council_count()
        self._publish_round()
        # What an operator reads in the UI ("Round 2 of 3, closes 14 Jan 14:00"): no command.
        workflow.set_current_details(current_details(self.state))

    def _publish_council_count(self) -> None:
        councils = len(self.state.signups) if self.state.signups else len(self.state.demand)
        if councils != self._published_councils:
            self._published_councils = councils
            workflow.upsert_search_attributes([COUNCILS_KEY.value_set(councils)])

    def _publish_round(self) -> None:
        n = self.state.negotiation
        number = n.round if n else 0
        if number != self._published_round and workflow.patched(ROUND_PATCH):
            self._published_round = number
            workflow.upsert_search_attributes([ROUND_KEY.value_set(number)])
