"""The API's only way into the joint-buy workflow: typed handles, a cap on in-flight updates,
and Temporal's answers turned into HTTP problems."""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.idempotency import command_id
from api.problems import KIND_STATUS, Problem
from db.events import EventGap, append_events
from messages.joint_buy import (
    APPLIED_EARLIER,
    BUY_BUSY,
    EVENT_LOG_FAILURE,
    RUN_HANDOVER,
    Command,
    JointBuyInput,
    Receipt,
)
from procurement.models import BuyState
from workflows.joint_buy import JointBuyWorkflow
from workflows.search import initial_search_attributes, memo, static_details, static_summary

log = structlog.get_logger(__name__)
T = TypeVar("T")
Arg = TypeVar("Arg")
Answer = TypeVar("Answer")

# A refused update's error type → status: the domain's kinds as everywhere in the API, and the
# buy that stopped because its events could not be recorded.
_STATUS = {kind.value: status for kind, status in KIND_STATUS.items()} | {EVENT_LOG_FAILURE: 503}
# Refusals that hold only for a moment, retried as the transient ones below.
_RETRIED = frozenset({RUN_HANDOVER, BUY_BUSY})
# A transient refusal (too many updates in flight, from another API process; an aborted update)
# is retried this long.
_BACKOFF_ATTEMPTS = 8
# How many buys' "recorded through" seq this process remembers (the least recently used go first).
_REMEMBERED_BUYS = 4096


class _Slots:
    """At most `limit` updates in flight per workflow from this process (Temporal allows 10)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        sem = self._sems.setdefault(key, asyncio.Semaphore(self._limit))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with sem:
                return await call()
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._sems[key]


class BuyGateway:
    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        max_in_flight: int,
        messages_per_run: int,
        check_patience_seconds: int = 900,
        pool: Callable[[], Any] | None = None,
    ):
        self.client = client
        self._pool = pool
        # Per buy: every event up to this seq is in PostgreSQL (this process saw to it). Sent with
        # the next command, so the workflow stops carrying those events in answers.
        self._logged: OrderedDict[str, int] = OrderedDict()
        self._task_queue = task_queue
        self._slots = _Slots(max_in_flight)
        self._messages_per_run = messages_per_run
        self._check_patience_seconds = check_patience_seconds

    def handle(self, buy_id: str) -> WorkflowHandle[JointBuyWorkflow, Any]:
        # No run id: after continue-as-new the latest run answers.
        return self.client.get_workflow_handle_for(JointBuyWorkflow.run, buy_id)

    async def start(self, state: BuyState) -> Receipt:
        """Start the buy's workflow and wait for its opening events. Starting and confirming are
        retried separately: a retried confirmation never starts the workflow again."""

        async def start_workflow() -> None:
            await self.client.start_workflow(
                JointBuyWorkflow.run,
                JointBuyInput(
                    state=state,
                    messages_per_run=self._messages_per_run,
                    check_patience_seconds=self._check_patience_seconds,
                    answers_carry_events=True,
                ),
                id=state.buy_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=initial_search_attributes(state),
                memo=memo(state),
                static_summary=static_summary(state),
                static_details=static_details(state),
            )

        try:
            await self._guarded(state.buy_id, start_workflow)
        except WorkflowAlreadyStartedError as err:
            # Under an Idempotency-Key the buy id is derived from the key: the buy that exists is
            # the one an earlier attempt of this same request started.
            if command_id() is None:
                raise Problem(409, f"joint buy {state.buy_id} already exists") from err

        async def confirm() -> Receipt:
            return await self.handle(state.buy_id).execute_update(
                JointBuyWorkflow.confirm_started, id=command_id()
            )

        return await self._recorded(state.buy_id, await self._guarded(state.buy_id, confirm))

    async def update(
        self,
        buy_id: str,
        update: UpdateMethodMultiParam[[JointBuyWorkflow, Arg], Answer],
        arg: Arg,
    ) -> Answer:
        """Run one of the workflow's updates (e.g. `JointBuyWorkflow.submit_bid`): its answer is
        the update's own type (a `BidReceipt` for a bid)."""
        # The update id comes from the request's Idempotency-Key: Temporal answers a repeat of an
        # update it already took with that update's outcome instead of applying it again.
        # Temporal's de-duplication ends with the run: a repeat that reaches a later run (the buy
        # continued as new in between) is refused by the workflow, naming the run that applied it,
        # and answered with that run's outcome of the update (`workflows.once`).
        update_id = command_id()
        if isinstance(arg, Command):
            arg = arg.model_copy(update={"recorded_through": self._logged.get(buy_id, 0)})

        async def call() -> Answer:
            try:
                answer = await self.handle(buy_id).execute_update(update, arg, id=update_id)
            except WorkflowUpdateFailedError as err:
                run_id = _applied_by(err)
                if run_id is None or update_id is None:
                    raise
                # The outcome the earlier run gave this update: its answer, or its refusal.
                earlier = self.client.get_workflow_handle_for(JointBuyWorkflow.run, buy_id, run_id=run_id)
                answer = await _first_outcome(earlier.get_update_handle_for(update, update_id))
            return answer

        answer = await self._slots.run(buy_id, lambda: self._guarded(buy_id, call))
        # Outside the slot: the update is done, and the next command to the buy may go while this
        # one's events are written.
        return await self._recorded(buy_id, answer)

    async def _recorded(self, buy_id: str, answer: T) -> T:
        """The answer once the events it carries are in PostgreSQL (see `Buy.receipt`), without them.

        Written idempotently by seq in one transaction with their projections, as the worker's
        `record_events` writes them; whichever comes first writes, the other finds them there."""
        if not isinstance(answer, Receipt):
            return answer
        if not answer.unrecorded:
            self._remember(buy_id, answer.seq)
            return answer
        if self._pool is None:
            raise RuntimeError("this gateway has no database pool to record a command's events")
        try:
            async with self._pool().acquire() as conn:
                await append_events(conn, buy_id=buy_id, events=answer.unrecorded)
        except (EventGap, asyncpg.DataError) as err:
            # Refused for good, as the worker's write will be: the buy stops for an operator.
            log.error("events refused by the database", buy_id=buy_id, error=str(err))
            raise Problem(
                503, "this joint buy's audit log could not be written; the buy has stopped for an operator"
            ) from err
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            # The command was taken: a retry with the same Idempotency-Key gets this answer again and
            # records the same events (a no-op once the worker has written them).
            log.warning("recording a command's events failed", buy_id=buy_id, error=str(err))
            raise Problem(
                503, "the command was taken but could not be confirmed; retry", headers={"Retry-After": "1"}
            ) from err
        self._remember(buy_id, answer.seq)
        return answer.model_copy(update={"unrecorded": []})

    def _remember(self, buy_id: str, seq: int) -> None:
        """Every event of `buy_id` up to `seq` is in PostgreSQL."""
        self._logged[buy_id] = max(seq, self._logged.pop(buy_id, 0))
        while len(self._logged) > _REMEMBERED_BUYS:
            self._logged.popitem(last=False)

    async def _guarded(self, buy_id: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(_BACKOFF_ATTEMPTS):
            try:
                return await call()
            except WorkflowUpdateFailedError as err:
                # Refused only for the moment: the run is continuing as new (the next run takes
                # it), or the buy is in the middle of its award.
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type in _RETRIED:
                    if attempt + 1 < _BACKOFF_ATTEMPTS:
                        await _backoff(attempt)
                        continue
                    raise Problem(503, cause.message, headers={"Retry-After": "2"}) from err
                raise _refusal(err) from err
            except RPCError as err:
                if _transient(err) and attempt + 1 < _BACKOFF_ATTEMPTS:
                    # Another process's commands fill the buy's in-flight updates, or the server
                    # dropped its in-flight updates (it reloaded the run): the same update id again.
                    log.info(
                        "temporal busy; backing off", buy_id=buy_id, attempt=attempt + 1, error=err.message
                    )
                    await _backoff(attempt)
                    continue
                raise _rpc_problem(buy_id, err) from err
            except WorkflowUpdateRPCTimeoutOrCancelledError as err:
                if _being_cancelled():
                    # The SDK turns a cancelled call into this error: the request itself was
                    # cancelled (its caller went away, the server is stopping), so it ends as one.
                    raise asyncio.CancelledError() from err
                raise Problem(
                    503, "the workflow engine did not answer in time; retry", headers={"Retry-After": "1"}
                ) from err
        raise Problem(429, "this buy is busy; retry shortly", headers={"Retry-After": "1"})


async def _first_outcome(earlier: WorkflowUpdateHandle[Answer]) -> Answer:
    try:
        return await earlier.result()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # The run that applied it is no longer kept (past the namespace's retention).
        raise Problem(
            409, "this request was already applied; its answer is no longer kept", slug="already-applied"
        ) from err


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _applied_by(err: WorkflowUpdateFailedError) -> str | None:
    """The run that applied this update, when the workflow refused it as a repeat."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == APPLIED_EARLIER and cause.details:
        run_id = cause.details[0]
        return run_id if isinstance(run_id, str) else None
    return None


def _transient(err: RPCError) -> bool:
    """Refused for now, applied nowhere: too many updates in flight across every caller, or an
    update the server aborted when it reloaded the workflow (UNAVAILABLE "workflow update was
    aborted"). Sent again under the same update id, Temporal applies it at most once."""
    if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return True
    return err.status == RPCStatusCode.UNAVAILABLE and "update was aborted" in err.message


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))


def _refusal(err: WorkflowUpdateFailedError) -> Problem:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type in _STATUS:
        field = cause.details[0] if cause.details else None
        extra = cause.details[1] if len(cause.details) > 1 and isinstance(cause.details[1], dict) else None
        errors = [{"field": field, "message": cause.message}] if field else None
        return Problem(_STATUS[cause.type], cause.message, errors=errors, extra=extra)
    # Not a refusal the rules made: an internal failure. It is logged; the caller learns nothing
    # of the internals (the request id in the answer finds the log line).
    log.error(
        "update failed unexpectedly",
        error_type=type(cause).__name__ if cause else None,
        error=str(cause),
        failure=str(err),
    )
    return Problem(500, "the command failed unexpectedly; it is logged under this request's id")


def _rpc_problem(buy_id: str, err: RPCError) -> Problem:
    if err.status == RPCStatusCode.NOT_FOUND:
        return Problem(409, f"joint buy {buy_id} is closed and takes no more commands")
    if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return Problem(429, "this buy is busy; retry shortly", headers={"Retry-After": "1"})
    log.warning("temporal unavailable", error=str(err), status=str(err.status))
    return Problem(503, "the workflow engine is unavailable; retry shortly", headers={"Retry-After": "5"})
