"""One way to take a command: count it, admit it, refuse a repeat, check its rule, apply it.

The rule (from `procurement`) is checked in the update's validator, so a refused command leaves
no trace in history, and again in the handler, because validators and handlers interleave: a
command validated against one state may run against another. The handler receives what the rule
returned (a priced bid, the challenge being decided) and only applies it and emits. A repeat of a
command an earlier run applied (the same update id) is refused before its rule (`workflows.once`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, get_type_hints

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from procurement.errors import DomainError
    from procurement.models import BuyState
    from workflows.buy import Buy


class TakesCommands(Protocol):
    _buy: Buy


Cmd = TypeVar("Cmd")
Checked = TypeVar("Checked")
Answer = TypeVar("Answer")
Host = TypeVar("Host", bound=TakesCommands)


def rejected(err: DomainError) -> ApplicationError:
    """A broken rule as the update's failure (anything but an ApplicationError would wedge the task).

    details: (field, facts) -- the API turns them into the problem's `errors` and extra members.
    """
    return ApplicationError(err.message, err.field, err.extra, type=err.kind.value, non_retryable=True)


def command(
    kind: type[Cmd], rule: Callable[[BuyState, Cmd], Checked]
) -> Callable[
    [Callable[[Host, Cmd, Checked], Awaitable[Answer]]],
    workflow.UpdateMethodMultiParam[[Host, Cmd], Answer],
]:
    """Make `apply(self, cmd, checked)` the update of the same name, taking one `kind` argument,
    with a validator; both count or admit the command and check `rule(state, cmd)` first."""

    def decorate(
        apply: Callable[[Host, Cmd, Checked], Awaitable[Answer]],
    ) -> workflow.UpdateMethodMultiParam[[Host, Cmd], Answer]:
        def check(host: Host, cmd: Cmd) -> Checked:
            try:
                return rule(host._buy.state, cmd)
            except DomainError as err:
                raise rejected(err) from None

        async def handler(self: Host, cmd: Cmd) -> Answer:
            self._buy.count()
            self._buy.recorded_through(getattr(cmd, "recorded_through", 0))
            self._buy.once.refuse_repeat_in_handler()
            checked = check(self, cmd)
            self._buy.once.applied()
            return await apply(self, cmd, checked)

        def validator(self: Host, cmd: Cmd) -> None:
            if self._buy.admit():
                self._buy.once.refuse_repeat()
                check(self, cmd)

        # Temporal reads the update's name, argument and result types from the handler, and wants
        # the validator's parameters to be the handler's.
        handler.__name__, handler.__qualname__ = apply.__name__, apply.__qualname__
        handler.__doc__, handler.__module__ = apply.__doc__, apply.__module__
        handler.__annotations__ = {"cmd": kind, "return": get_type_hints(apply)["return"]}
        validator.__name__ = f"_validate_{apply.__name__}"
        validator.__annotations__ = {"cmd": kind, "return": None}
        update = workflow.update(handler)
        update.validator(validator)
        return update

    return decorate
