"""A command is applied once per update id, across the runs of a buy's workflow.

The API derives a command's update id from the caller's `(principal, Idempotency-Key)`, so every
attempt of one request carries the same id. Temporal answers a repeated id with the first outcome,
but only within one run: after a continue-as-new the next run has never seen it. So a run carries
the ids of the commands recent runs applied (`BuyState.applied`, at most `RECENT_COMMANDS`: two full
runs at the largest message budget), and refuses a repeat of one of them with `APPLIED_EARLIER`,
naming the run that applied it; the API then answers with that run's outcome of the update, which
Temporal keeps with the closed run.

The refusal is made in the validator (no trace in history). A command admitted unchecked while a
handover is being noticed (`workflows.handover`) is refused by its handler instead; that refusal is
a new outcome for an update, so it is taken only under `workflow.patched(APPLIED_ONCE_PATCH)`.
Runs whose input carries no ids (started before this) refuse nothing and replay as recorded.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import APPLIED_EARLIER
    from procurement.models import RECENT_COMMANDS, AppliedCommands, BuyState

APPLIED_ONCE_PATCH = "applied-once-across-runs"


class AppliedOnce:
    def __init__(self, state: BuyState) -> None:
        self._state = state
        self._earlier = {uid: run.run_id for run in state.applied for uid in run.update_ids}
        self._here: list[str] = []

    def refuse_repeat(self) -> None:
        """In a validator: refuse a command an earlier run applied."""
        run_id = self._applied_by()
        if run_id is not None:
            raise _applied_earlier(run_id)

    def refuse_repeat_in_handler(self) -> None:
        """In a handler (a command admitted unchecked): refuse it the same way, on new runs only."""
        run_id = self._applied_by()
        if run_id is not None and workflow.patched(APPLIED_ONCE_PATCH):
            raise _applied_earlier(run_id)

    def applied(self) -> None:
        """The current update's command passed its rules in its handler and is being applied."""
        info = workflow.current_update_info()
        if info is not None:
            self._here.append(info.id)

    def carry(self) -> None:
        """Before continuing as new: this run's ids join the window the next run starts with."""
        here = AppliedCommands(run_id=workflow.info().run_id, update_ids=self._here)
        self._state.applied = recent([*self._state.applied, here])

    def _applied_by(self) -> str | None:
        info = workflow.current_update_info()
        return None if info is None else self._earlier.get(info.id)


def recent(runs: list[AppliedCommands], limit: int = RECENT_COMMANDS) -> list[AppliedCommands]:
    """The newest `limit` ids of `runs` (oldest run first), still grouped by run."""
    kept: list[AppliedCommands] = []
    room = limit
    for run in reversed(runs):
        if room <= 0:
            break
        ids = run.update_ids[-room:]
        if ids:
            kept.append(AppliedCommands(run_id=run.run_id, update_ids=ids))
            room -= len(ids)
    return kept[::-1]


def _applied_earlier(run_id: str) -> ApplicationError:
    return ApplicationError(
        "this command was already applied; its answer is the first one's",
        run_id,
        type=APPLIED_EARLIER,
        non_retryable=True,
    )
