"""A joint buy's domain events on their way from the workflow to PostgreSQL.

Events are numbered as they happen and written in batches by the `record_events` activity from one
background task, so a burst of commands costs one activity per batch rather than one each. A
command answers only once its own event is recorded (`wait_recorded`), so a client that got an
answer can read it back from the API.
"""

from __future__ import annotations

import asyncio
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

# Persisting events must outlast a database outage: retry forever with a bounded backoff.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["InvalidEventBatch"],
)


class EventLog:
    def __init__(self, state: BuyState, *, on_recorded: Callable[[], None]) -> None:
        self._state = state
        self._pending: list[DomainEvent] = []
        self._recorded_seq = state.next_seq - 1
        self._on_recorded = on_recorded
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
        self._pending.append(DomainEvent(seq=seq, type=type_, actor=actor, at=workflow.now(), data=data))
        return seq

    async def wait_recorded(self, seq: int) -> None:
        await workflow.wait_condition(lambda: self._recorded_seq >= seq or self.failure is not None)
        if self._recorded_seq < seq:
            raise ApplicationError(
                "this joint buy's audit log could not be written; the buy has stopped for an operator",
                type=EVENT_LOG_FAILURE,
                non_retryable=True,
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
            batch = self._take() if bounded else self._take_all()
            arg = RecordEvents(buy_id=self._state.buy_id, events=batch)
            try:
                # Not (yet) a local activity: tried, it shortened a lone command's round trip, but it
                # holds its workflow task open while it waits for one of the worker's database
                # connections; not adopted before it is measured on a machine of its own with many
                # buys at once (bench/RESULTS.md).
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
            self._recorded_seq = batch[-1].seq
            self._on_recorded()

    def _take_all(self) -> list[DomainEvent]:
        batch, self._pending = self._pending, []
        return batch

    def _take(self) -> list[DomainEvent]:
        """The next batch: at most MAX_BATCH_EVENTS events and about MAX_BATCH_BYTES (at least one)."""
        size = count = 0
        for event in self._pending:
            cost = len(event.model_dump_json())
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
