"""What each stage of the joint-buy workflow works with: the buy's state, and the workflow's means
to record an event, enter another stage, or end the buy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procurement.models import BuyState, Stage

Emit = Callable[[str, str, dict[str, Any]], int]


class StagePart:
    def __init__(
        self,
        state: BuyState,
        *,
        emit: Emit,
        finish: Callable[[Stage, str], None],
        enter: Callable[..., None],
    ) -> None:
        self._s = state
        self._emit = emit
        self._finish = finish
        self._enter = enter
