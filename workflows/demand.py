"""The demand and sign-up stages of the joint-buy workflow.

Demand: councils register (and may replace or withdraw) indicative demand until the demand window
closes. Sign-up: councils confirm a binding quantity up to what they registered; whoever has not by
the deadline drops out, and the buy is checked for viability before suppliers are assured.
Runs inside the workflow (deterministic): state lives in `BuyState`, so a new run resumes it.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import RegisterDemand, SignUp, WithdrawDemand
    from procurement import demand as demand_rules
    from procurement.models import Stage
    from workflows.stage import Next, StageWindow


def _council_lines(cmd: RegisterDemand | SignUp) -> dict[str, Any]:
    # an unconditional sign-up line records no limit, as before limits existed
    bare = isinstance(cmd, SignUp)
    return {
        "council": cmd.council,
        "lines": [line.model_dump(mode="json", exclude_none=bare) for line in cmd.lines],
    }


class DemandStage(StageWindow):
    """Open from the buy's start until `demand_closes_at` (or the lead closes it early)."""

    stage = Stage.DEMAND

    def open(self) -> None:
        """The buy starts: its terms are recorded and the demand window opens."""
        terms = self._state.terms
        self._buy.emit("buy.created", self._state.lead, {"terms": terms.model_dump(mode="json")})
        self._buy.move_to(Stage.DEMAND, deadline=terms.demand_closes_at, reason="buy started")

    def register(self, cmd: RegisterDemand) -> int:
        self._buy.totals.demand(self._state.demand.get(cmd.council, []), cmd.lines)
        self._state.demand[cmd.council] = list(cmd.lines)
        return self._buy.emit("demand.registered", cmd.council, _council_lines(cmd))

    def withdraw(self, cmd: WithdrawDemand) -> int:
        self._buy.totals.demand(self._state.demand.pop(cmd.council), [])
        return self._buy.emit("demand.withdrawn", cmd.council, {"council": cmd.council})

    def close(self, how: str) -> Next:
        self._buy.emit("demand.closed", "system", {"how": how, "aggregate": self._buy.aggregate_data()})
        if not self._state.demand:
            return Next(Stage.UNSUCCESSFUL, "no council registered demand")
        deadline = demand_rules.sign_up_deadline(workflow.now(), self._state.terms)
        return Next(Stage.SIGN_UP, f"demand window {how}", deadline)


class SignUpStage(StageWindow):
    """Open for the buy's `sign_up_window` after demand closed (or until the lead closes it)."""

    stage = Stage.SIGN_UP

    def confirm(self, cmd: SignUp) -> int:
        self._buy.totals.sign_up(self._state.signups.get(cmd.council, []), cmd.lines)
        self._state.signups[cmd.council] = list(cmd.lines)
        return self._buy.emit("sign_up.confirmed", cmd.council, _council_lines(cmd))

    def close(self, how: str) -> Next:
        gone = demand_rules.dropped_out(self._state)
        self._state.dropped_out = gone
        self._buy.emit(
            "sign_up.closed",
            "system",
            {"how": how, "dropped_out": gone, "aggregate": self._buy.aggregate_data()},
        )
        verdict = demand_rules.assess_viability(self._state)
        for lot_id, why in verdict.failed_lots.items():
            self._state.unsuccessful_lots[lot_id] = why
            self._buy.emit("lot.unsuccessful", "system", {"lot_id": lot_id, "reason": why})
        if not verdict.viable:
            return Next(Stage.UNSUCCESSFUL, verdict.reason)
        return Next(Stage.ASSURANCE, f"sign-up window {how}")
