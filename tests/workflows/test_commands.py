"""One way to take a command (`workflows.commands.command`): counted, admitted, its rule checked in
the validator and again in the handler, and declared to Temporal like a hand-written update."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError

from messages.joint_buy import BidReceipt, Receipt, SubmitBid, WithdrawDemand
from procurement import demand as demand_rules
from procurement.models import BuyState, DemandLine, Stage
from tests.support import new_state
from workflows.commands import command
from workflows.joint_buy import JointBuyWorkflow
from workflows.once import AppliedOnce


@dataclass
class FakeBuy:
    state: BuyState
    admitting: bool = True
    counted: int = 0
    applied: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Outside a workflow there is no current update: no command is a repeat.
        self.once = AppliedOnce(self.state)

    def count(self) -> None:
        self.counted += 1

    def recorded_through(self, seq: int) -> None:
        """What the command's sender says is in PostgreSQL: nothing to drop here."""

    def admit(self) -> bool:
        return self.admitting


class Host:
    def __init__(self, buy: FakeBuy) -> None:
        self._buy = buy

    @command(WithdrawDemand, lambda state, cmd: demand_rules.check_withdraw_demand(state, cmd.council))
    async def withdraw_demand(self, cmd: WithdrawDemand, _checked: None) -> str:
        del self._buy.state.demand[cmd.council]
        self._buy.applied.append(cmd.council)
        return f"withdrew {cmd.council}"


def buy_in_demand() -> FakeBuy:
    state = new_state("jb-commands", datetime(2027, 1, 1, tzinfo=UTC))
    state.stage = Stage.DEMAND
    line = DemandLine(lot_id=state.terms.lot_ids()[0], quantity=10, baseline_unit_price=100)
    state.demand["E06000001"] = [line]
    return FakeBuy(state)


def validate(host: Host, cmd: WithdrawDemand) -> None:
    validator = Host.withdraw_demand._defn.validator
    assert validator is not None
    validator(host, cmd)


async def test_the_handler_checks_again_what_the_validator_passed() -> None:
    """Two withdrawals validated against the same state (validators interleave): the second
    handler finds the rule broken and refuses cleanly, rather than failing the workflow task."""
    buy = buy_in_demand()
    host, cmd = Host(buy), WithdrawDemand(council="E06000001")
    validate(host, cmd)
    validate(host, cmd)
    assert await host.withdraw_demand(cmd) == "withdrew E06000001"
    with pytest.raises(ApplicationError) as refused:
        await host.withdraw_demand(cmd)
    assert refused.value.type == "conflict"
    assert "no demand registered" in refused.value.message
    assert (buy.applied, buy.counted) == (["E06000001"], 2)


def test_the_validator_refuses_a_broken_rule_with_its_kind_and_field() -> None:
    buy = buy_in_demand()
    buy.state.stage = Stage.SIGN_UP
    with pytest.raises(ApplicationError) as refused:
        validate(Host(buy), WithdrawDemand(council="E06000001"))
    assert refused.value.type == "conflict"
    assert refused.value.non_retryable
    assert buy.counted == 0  # validators never count: a refused command leaves no trace


def test_a_command_admitted_unchecked_is_checked_by_its_handler_only() -> None:
    """While a handover is being noticed (`Buy.admit()` is False) the validator skips the rule."""
    buy = buy_in_demand()
    buy.state.stage, buy.admitting = Stage.SIGN_UP, False
    validate(Host(buy), WithdrawDemand(council="E06000001"))


@pytest.mark.parametrize(
    ("update", "arg", "answer"),
    [
        (JointBuyWorkflow.withdraw_demand, WithdrawDemand, Receipt),
        (JointBuyWorkflow.submit_bid, SubmitBid, BidReceipt),
    ],
)
def test_temporal_sees_one_argument_its_type_and_a_validator(update: object, arg: type, answer: type) -> None:
    defn = update._defn  # type: ignore[attr-defined]
    assert defn.name == update.__name__  # type: ignore[attr-defined]
    assert defn.arg_types == [arg]
    assert defn.ret_type is answer
    assert defn.validator is not None
