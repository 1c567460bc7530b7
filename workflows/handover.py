"""When a run of the joint-buy workflow hands over to its successor (continue-as-new).

A run hands over once it has taken `messages_per_run` messages (Temporal caps a run at 2,000 updates
and never suggests continue-as-new on message counts) or once Temporal suggests it (history length or
size). While a handover is due, validators refuse new commands with `RUN_HANDOVER` so the run can
drain its in-flight handlers; the API retries them against the next run.

The suggestion must only ever be *acted on* in a workflow task that Temporal records. A task that
carries nothing but updates a validator refused leaves no trace in history (the server drops it, and
with it any command it made, continue-as-new included). A run that reacted to the suggestion there,
refusing every command because of it, would never persist its own handover: it wedged, refusing
everything until some timer woke it. So:

- the suggestion is *noticed* (latched) only by code that runs in recorded tasks: an accepted
  update's handler and the event flusher after a batch is written;
- a validator that sees the suggestion before it is latched does not refuse: it admits the command
  unchecked, so the task is recorded, and the handler (which checks every command's rules again)
  latches the handover, then applies or refuses the command as its rules say.

At most the commands of one task are admitted that way; from then on the run drains and continues
as new within a turn of the flusher. Runs started before this existed keep their old behaviour on
replay (`workflow.patched(HANDOVER_PATCH)`).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import RUN_HANDOVER

HANDOVER_PATCH = "handover-decided-in-recorded-tasks"


class Handover:
    def __init__(self, messages_per_run: int) -> None:
        self._budget = messages_per_run
        self.messages = 0
        self._noticed = False
        # Called once, at the start of the run (the first workflow task), so the marker is recorded
        # in a task that is always kept.
        self._latched = workflow.patched(HANDOVER_PATCH)

    def count(self) -> None:
        """An update's handler has started (its task is recorded): one more message in this run."""
        self.messages += 1
        self.notice()

    def notice(self) -> None:
        """From code that runs only in recorded tasks: latch Temporal's suggestion, if it is made."""
        if workflow.info().is_continue_as_new_suggested():
            self._noticed = True

    def reserve(self, messages: int) -> bool:
        """Work that is not a command (a supplier's checks) takes `messages` of this run's budget,
        as long as room for one more command is left; False once it is not (the work is then left
        to the next run). Called only from recorded tasks, like `count`."""
        if self.messages + messages >= self._budget:
            return False
        self.messages += messages
        return True

    def spend(self) -> None:
        """Work that found the budget used up, and has nothing left in flight, asks for the
        handover: from now on the run is due to continue as new."""
        self.messages = max(self.messages, self._budget)

    def due(self) -> bool:
        if self.messages >= self._budget:
            return True
        if self._latched:
            return self._noticed
        return workflow.info().is_continue_as_new_suggested()

    def admit(self) -> bool:
        """In a validator: refuse the command while a handover is due (`RUN_HANDOVER`). Returns
        whether the validator should check the command's rules now; `False` while Temporal suggests
        a handover this run has not yet noticed, so the command is admitted and its handler (which
        checks the rules itself) notices it in a task that is recorded."""
        if self.due():
            raise ApplicationError("this joint buy is handing over to a new run; retry", type=RUN_HANDOVER)
        return not (self._latched and workflow.info().is_continue_as_new_suggested())
