"""One interface for every stage of a joint buy, and the one loop that runs any of them.

A stage is a window. Entering it may start work (checks, a round); its window ends at its deadline
(`BuyState.stage_deadline`), when the lead closes it early, or when its work is done; closing it
records what the window decided and names the stage that comes next. A command may also move the
buy on while a window is open (a cancel, a challenge): the loop then simply leaves the stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procurement.models import BuyState, Stage
    from workflows.buy import Buy


@dataclass(frozen=True)
class Next:
    """Where a closed window leads: the stage, why, and that stage's own deadline."""

    stage: Stage
    reason: str
    deadline: datetime | None = None


class StageWindow(ABC):
    stage: ClassVar[Stage]

    def __init__(self, buy: Buy) -> None:
        self._buy = buy

    @property
    def _state(self) -> BuyState:
        return self._buy.state

    async def enter(self) -> None:
        """What the stage does on entering; a resumed run enters again, so it must be idempotent.
        By default nothing: the window simply opens."""
        return None

    def work_done(self) -> bool:
        """The stage's work is done before its deadline (by default never: the window runs out)."""
        return False

    async def before_close(self) -> None:
        """Work the close needs that may take several workflow tasks (the award's contracts); by
        default none, so closing stays within the task that ended the window."""
        return None

    @abstractmethod
    def close(self, how: str) -> Next | None:
        """Close the window (`how` says why), recording what it decided; `None` when the stage
        carries on with a window of its own (the next round)."""


class WindowEnd(Enum):
    CLOSED = "closed"  # deadline passed, the lead closed it early, or its work is done
    LEFT = "left"  # the stage changed under us (a command), or its deadline moved: wait anew
    HANDOVER = "handover"  # time to continue as new


async def run_stage(buy: Buy, stage: StageWindow) -> None:
    """While the buy is in `stage`: enter it, wait for its window to end, close it into the next.

    Returns once the buy has left the stage; continues as new (and so never returns) when this
    run's history is long enough.
    """
    while buy.state.stage == stage.stage:
        await stage.enter()
        end = await _window(buy, stage)
        if end is WindowEnd.HANDOVER:
            await buy.hand_over()
        if end is WindowEnd.CLOSED:
            early = buy.close_requested == stage.stage
            await stage.before_close()
            following = stage.close("closed early by the lead" if early else "deadline reached")
            buy.close_requested = None  # a later window (the next round) is not closed by it
            if following is not None:
                buy.move_to(following.stage, deadline=following.deadline, reason=following.reason)


async def _window(buy: Buy, stage: StageWindow) -> WindowEnd:
    """Wait for the stage's deadline, the lead's early close, its work done, a command that moved
    the buy on, or a handover."""
    deadline = buy.state.stage_deadline
    timeout = None if deadline is None else max((deadline - workflow.now()).total_seconds(), 0)
    try:
        await workflow.wait_condition(
            lambda: (
                buy.state.stage != stage.stage
                or buy.state.stage_deadline != deadline
                or buy.close_requested == stage.stage
                or stage.work_done()
                or buy.handover_due()
                or buy.events.failure is not None
            ),
            timeout=timeout,
        )
    except TimeoutError:
        return WindowEnd.CLOSED
    buy.events.raise_if_failed()
    if buy.state.stage != stage.stage or buy.state.stage_deadline != deadline:
        return WindowEnd.LEFT
    if buy.close_requested == stage.stage or stage.work_done():
        return WindowEnd.CLOSED
    return WindowEnd.HANDOVER
