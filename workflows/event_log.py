"""A joint buy's domain events on their way from the workflow to PostgreSQL.

Events are numbered as they happen. A command's answer carries the events up to its own that are
not yet known to be recorded (`unrecorded_through`); the API records them before it answers and
says so with its next command (`recorded_through`). One background task also writes every event
through the `record_events` activity, in batches, so a burst costs one activity per batch: at once
for events no answer carries, and after `CARRIED_FLUSH_DELAY` for the rest, in case their API died
before writing. A command whose events are too many to carry, or that runs in a buy not started by
the API, waits for that task (`wait_recorded`). Either way a client that got an answer can read it
back from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import EVENT_LOG_FAILURE, RECORD_EVENTS, RecordEvents
    from procurement.models import BuyState, DomainEvent
    from procurement.visibility import check_recordable

# Each batch of events is at most this many events and (as JSON) about this many bytes, whatever
# a command or a stage emits at once (an award's contracts: one per council per lot), so the
# activity's input stays far below Temporal's 2 MB payload limit.
MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 256 * 1024
# Runs from before these changes wrote one unbounded batch per turn, as a scheduled activity.
BOUNDED_BATCHES_PATCH = "record-events-in-bounded-batches"
# A command's answer carries the buy's events up to its own that are not yet known to be recorded,
# for the API to record before it answers, as long as they are at most this many and this big;
# beyond that (the flusher is behind: a database outage) the command waits for the flusher.
MAX_CARRIED_EVENTS = 32
MAX_CARRIED_BYTES = 64 * 1024
# Events only answers carry (their API records them) are written by the flusher too, as a safety
# net for an API that died before writing, but only once they have waited this long: a command
# then costs one workflow task, not an activity and two more tasks. Any other event (a stage
# change, an event a handler waits for, the events of a run about to hand over) is written at once.
CARRIED_FLUSH_DELAY = timedelta(seconds=1)

# Persisting events must outlast a database outage: retry forever with a bounded backoff.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["InvalidEventBatch"],
)


class EventLog:
    def __init__(self, state: BuyState, *, on_recorded: Callable[[], None], carry: bool = False) -> None:
        self._state = state
        self._pending: list[DomainEvent] = []
        # The batch `record_events` is writing now (taken from `_pending`, not yet recorded).
        self._writing: list[DomainEvent] = []
        self._recorded_seq = state.next_seq - 1
        self._on_recorded = on_recorded
        # Answers carry unrecorded events for the API to record (`unrecorded_through`).
        self._carry = carry
        # The last seq an answer carried, and how many handlers wait for the flusher.
        self._carried_seq = self._recorded_seq
        self._waiting = 0
        self._draining = False
        # seq -> the event's size as JSON, for the events not yet known to be recorded.
        self._sizes: dict[int, int] = {}
        # Set when the database refused a batch for good (an event-sequence gap: a defect, never a
        # mere outage, which is retried forever). Nothing after it can be recorded.
        self.failure: ActivityError | None = None
        self._flusher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background flusher (once per run)."""
        self._flusher = asyncio.create_task(self._flush_forever())

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()

    def emit(self, type_: str, actor: str, data: dict[str, Any]) -> int:
        """Append an event (stamped with the workflow's clock) and return its seq. An event type
        nobody declared the audience of (`procurement.visibility.EVENTS`) is refused."""
        check_recordable(type_)
        seq = self._state.next_seq
        self._state.next_seq += 1
        event = DomainEvent(seq=seq, type=type_, actor=actor, at=workflow.now(), data=data)
        self._pending.append(event)
        # Its size as JSON, measured once: an event may be carried by several answers in a burst.
        self._sizes[seq] = len(event.model_dump_json())
        return seq

    async def wait_recorded(self, seq: int) -> None:
        self._waiting += 1
        try:
            await workflow.wait_condition(lambda: self._recorded_seq >= seq or self.failure is not None)
        finally:
            self._waiting -= 1
        if self._recorded_seq < seq:
            raise ApplicationError(
                "this joint buy's audit log could not be written; the buy has stopped for an operator",
                type=EVENT_LOG_FAILURE,
                non_retryable=True,
            )

    def unrecorded_through(self, seq: int) -> list[DomainEvent] | None:
        """The events up to `seq` not yet known to be in PostgreSQL, for the caller to record; None
        when they are too many or too big to carry (or the log has failed): then wait instead."""
        if not self._carry or self.failure is not None:
            return None
        events = [e for e in (*self._writing, *self._pending) if self._recorded_seq < e.seq <= seq]
        if len(events) > MAX_CARRIED_EVENTS:
            return None
        if sum(self._size(e) for e in events) > MAX_CARRIED_BYTES:
            return None
        self.will_carry(seq)
        return events

    def will_carry(self, seq: int) -> None:
        """A command's answer is about to carry the events up to `seq` (`unrecorded_through`, a
        condition check or two later): the flusher leaves them to its delay meanwhile."""
        if self._carry and self.failure is None:
            self._carried_seq = max(self._carried_seq, seq)

    def recorded_through(self, seq: int) -> None:
        """A command's sender says the events up to `seq` are in PostgreSQL (it recorded what
        earlier answers carried): they are no longer pending, and later answers leave them out."""
        seq = min(seq, self._state.next_seq - 1)
        if not self._carry or seq <= self._recorded_seq:
            return
        self._recorded_seq = seq
        self._pending = [e for e in self._pending if e.seq > seq]
        self._forget_sizes(seq)

    def _size(self, event: DomainEvent) -> int:
        size = self._sizes.get(event.seq)
        return len(event.model_dump_json()) if size is None else size

    def _forget_sizes(self, through: int) -> None:
        for seq in [s for s in self._sizes if s <= through]:
            del self._sizes[seq]

    def drain_now(self) -> None:
        """The run is ending or handing over: write whatever is pending without delay."""
        self._draining = True

    def _urgent(self) -> bool:
        """Pending events that must be written now rather than after `CARRIED_FLUSH_DELAY`."""
        return (
            not self._carry
            or self._draining
            or self._waiting > 0
            or len(self._pending) >= MAX_BATCH_EVENTS
            or (bool(self._pending) and self._pending[-1].seq > self._carried_seq)
        )

    def raise_if_failed(self) -> None:
        """Fail the workflow loudly rather than wait forever for events that cannot be written."""
        if self.failure is not None:
            raise self.failure

    def drained(self) -> bool:
        """Every event emitted so far is in PostgreSQL."""
        return not self._pending and self._recorded_seq == self._state.next_seq - 1

    async def _flush_forever(self) -> None:
        """Write pending events in batches, one `record_events` activity per batch."""
        bounded = workflow.patched(BOUNDED_BATCHES_PATCH)
        while True:
            await workflow.wait_condition(lambda: bool(self._pending))
            if not self._urgent():
                # Only carried events: their APIs are recording them. One timer per delay, not one
                # activity per command; they are usually acknowledged (`recorded_through`) by then.
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(self._urgent, timeout=CARRIED_FLUSH_DELAY)
                if not self._pending:
                    continue
            batch = self._take() if bounded else self._take_all()
            arg = RecordEvents(buy_id=self._state.buy_id, events=batch)
            self._writing = batch
            try:
                # A scheduled activity, not a local one: a command no longer waits for it (its API
                # records what the answer carries), and a local activity would hold the workflow
                # task open while it waits for one of the worker's database connections.
                await workflow.execute_activity(
                    RECORD_EVENTS,
                    arg,
                    summary=_summary(batch),
                    # A batch is one short transaction; a worker that dies mid-write is noticed (and
                    # the batch retried, idempotently) after this long, and commands wait that long.
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=RECORD_RETRY,
                )
            except ActivityError as err:
                workflow.logger.error("recording events failed for good: %s", err.cause)
                self.failure = err
                return
            self._recorded_seq = max(self._recorded_seq, batch[-1].seq)
            self._writing = []
            self._forget_sizes(self._recorded_seq)
            self._on_recorded()

    def _take_all(self) -> list[DomainEvent]:
        batch, self._pending = self._pending, []
        return batch

    def _take(self) -> list[DomainEvent]:
        """The next batch: at most MAX_BATCH_EVENTS events and about MAX_BATCH_BYTES (at least one)."""
        size = count = 0
        for event in self._pending:
            cost = self._size(event)
            if count and (count >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
                break
            size += cost
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch


def _summary(batch: list[DomainEvent]) -> str:
    """What the UI shows for one `record_events` call: "events 12-14: stage.changed, round.opened"."""
    kinds = ", ".join(dict.fromkeys(e.type for e in batch))
    span = f"{batch[0].seq}" if len(batch) == 1 else f"{batch[0].seq}-{batch[-1].seq}"
    return f"events {span}: {kinds}"[:200]
