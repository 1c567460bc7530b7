"""The workflow's state stays bounded: the largest buy the models allow fits well under Temporal's
2 MB payload limit as it travels (continue-as-new input, `get_state` query result).

A buy holds at most `MAX_DEMAND_LINES` council-lot demand lines; the test fills it (10,000 councils
on two lots, every one signed up, large quantities and prices) and measures the payloads exactly as
the worker's data converter writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from messages.joint_buy import JointBuyInput, RecordEvents
from procurement import demand as rules
from procurement.council_lines import CouncilLines
from procurement.errors import DomainError
from procurement.models import (
    MAX_DEMAND_LINES,
    RECENT_COMMANDS,
    AppliedCommands,
    BuyState,
    DemandLine,
    DomainEvent,
    SignUpLine,
    Stage,
)
from tests.support import new_state
from workflows.event_log import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, EventLog
from workflows.once import recent

COUNCILS = MAX_DEMAND_LINES // 2
LIMIT = 1_000_000  # well under Temporal's 2 MB (and its 512 kB warning is the only thing above it)


def payload_bytes(value: object) -> int:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload.ByteSize()


def largest_state() -> BuyState:
    state = new_state("jb-largest", datetime(2027, 1, 4, tzinfo=UTC))
    state.stage = Stage.SIGN_UP
    for i in range(COUNCILS):
        code = f"E04{i:06d}"
        state.demand[code] = [
            DemandLine(lot_id="laptops", quantity=999_999, baseline_unit_price=Decimal("99999.99")),
            DemandLine(
                lot_id="monitors",
                quantity=999_999,
                baseline_unit_price=Decimal("9999.99"),
                budget_ceiling_gbp=Decimal("9999999.99") if i % 10 == 0 else None,
            ),
        ]
        state.signups[code] = [
            SignUpLine(lot_id="laptops", quantity=999_999),
            SignUpLine(lot_id="monitors", quantity=999_999),
        ]
    state.next_seq = 3 * COUNCILS
    return state


def test_the_largest_demand_and_sign_up_fit_well_under_the_payload_limit() -> None:
    state = largest_state()
    carried = payload_bytes(JointBuyInput(state=state, messages_per_run=1000))
    queried = payload_bytes(state)
    assert carried <= LIMIT, f"continue-as-new input {carried} bytes"
    assert queried <= LIMIT, f"get_state result {queried} bytes"


def command_ids(run: int, count: int) -> AppliedCommands:
    """A run's applied commands, with update ids as the API derives them (32 hex digits)."""
    ids = [f"{run:04x}{n:028x}" for n in range(count)]
    return AppliedCommands(run_id=f"0198c2b4-{run:04d}-7000-8000-123456789abc", update_ids=ids)


def test_the_commands_carried_from_run_to_run_are_the_newest_few() -> None:
    runs = [command_ids(run, 1800) for run in range(1, 5)]
    carried = recent(runs)
    assert sum(len(r.update_ids) for r in carried) == RECENT_COMMANDS
    assert [r.run_id for r in carried] == [r.run_id for r in runs[-2:]]
    assert carried[-1].update_ids == runs[-1].update_ids
    few = recent([command_ids(1, 4000), command_ids(2, 10), command_ids(3, 0)])
    assert [len(r.update_ids) for r in few] == [RECENT_COMMANDS - 10, 10]
    assert few[0].update_ids == command_ids(1, 4000).update_ids[-(RECENT_COMMANDS - 10) :]


def test_the_largest_state_with_its_carried_commands_fits_under_the_payload_limit() -> None:
    state = largest_state()
    state.applied = recent([command_ids(run, 1800) for run in range(1, 4)])
    carried = payload_bytes(JointBuyInput(state=state, messages_per_run=1800))
    assert carried <= LIMIT, f"continue-as-new input {carried} bytes"
    [payload] = pydantic_data_converter.payload_converter.to_payloads([JointBuyInput(state=state)])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [JointBuyInput])
    assert back.state.applied == state.applied


def test_the_packed_state_reads_back_as_it_was() -> None:
    state = largest_state()
    state.signups["E04000001"] = [SignUpLine(lot_id="laptops", quantity=5, max_unit_price=Decimal("1.5"))]
    state.signups["E09000009"] = [SignUpLine(lot_id="monitors", quantity=2, max_unit_price=Decimal("3"))]
    [payload] = pydantic_data_converter.payload_converter.to_payloads([JointBuyInput(state=state)])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [JointBuyInput])
    assert back.state == state


def test_a_state_written_before_packing_still_reads() -> None:
    """Histories of running buys hold the named form: it is read as before."""
    state = new_state("jb-old", datetime(2027, 1, 4, tzinfo=UTC))
    state.demand["E06000001"] = [DemandLine(lot_id="laptops", quantity=3, baseline_unit_price=Decimal("9.5"))]
    state.signups["E06000001"] = [SignUpLine(lot_id="laptops", quantity=2)]
    named = state.model_dump(mode="python")
    assert BuyState.model_validate(named) == state


def test_a_buy_refuses_demand_lines_beyond_its_bound_and_takes_replacements() -> None:
    state = new_state("jb-full", datetime(2027, 1, 4, tzinfo=UTC))
    state.stage = Stage.DEMAND
    line = DemandLine(lot_id="laptops", quantity=1, baseline_unit_price=Decimal("1.00"))
    state.demand = {f"E04{i:06d}": [line] for i in range(MAX_DEMAND_LINES)}
    with pytest.raises(DomainError, match="the most one buy takes"):
        rules.check_register_demand(state, [line], "E09000001")
    # A council already in replaces its lines: still within the bound.
    rules.check_register_demand(state, [line], "E04000000")
    totals = rules.RunningTotals(state)
    assert totals.lines == MAX_DEMAND_LINES
    rules.check_register_demand(state, [line], "E04000000", held=totals.lines)


def test_running_totals_match_the_aggregate_through_changes() -> None:
    state = new_state("jb-totals", datetime(2027, 1, 4, tzinfo=UTC))
    totals = rules.RunningTotals(state)
    lap = DemandLine(lot_id="laptops", quantity=10, baseline_unit_price=Decimal("900"))
    mon = DemandLine(lot_id="monitors", quantity=4, baseline_unit_price=Decimal("150"))
    for council, lines in [("A", [lap]), ("B", [lap, mon]), ("A", [mon])]:
        totals.demand(state.demand.get(council, []), lines)
        state.demand[council] = lines
    totals.demand(state.demand.pop("B"), [])
    totals.sign_up([], [SignUpLine(lot_id="monitors", quantity=3)])
    state.signups["A"] = [SignUpLine(lot_id="monitors", quantity=3)]
    assert totals.snapshot() == rules.aggregate(state.terms, state.demand, state.signups)
    assert totals.lines == 1


def test_events_go_to_postgresql_in_bounded_batches() -> None:
    """An award's contracts (one event per council per lot) leave in batches under the caps."""
    state = new_state("jb-batches", datetime(2027, 1, 4, tzinfo=UTC))
    log = EventLog(state, on_recorded=lambda: None)
    big = {"note": "x" * 2000}
    log._pending = [
        DomainEvent(seq=n, type="contract.created", actor="system", at=datetime(2027, 1, 4, tzinfo=UTC),
                    data=big if n % 7 == 0 else {"council": f"E04{n:06d}"})
        for n in range(1, 2_001)
    ]  # fmt: skip
    batches = []
    while log._pending:
        batches.append(log._take())
    assert [e.seq for b in batches for e in b] == list(range(1, 2_001))
    assert max(len(b) for b in batches) <= MAX_BATCH_EVENTS
    assert (
        max(payload_bytes(RecordEvents(buy_id="jb-batches", events=b)) for b in batches)
        <= 2 * MAX_BATCH_BYTES
    )


def read_back(state: BuyState) -> tuple[bytes, BuyState]:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([JointBuyInput(state=state)])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [JointBuyInput])
    return payload.data, back.state


def not_decoded(lines: object) -> int:
    assert isinstance(lines, CouncilLines)
    return sum(lines.packed(council) is not None for council in lines)


def test_a_new_run_decodes_only_the_councils_its_commands_touch() -> None:
    """A run starts from its predecessor's state without building every council's lines (the work
    that tripped the SDK's deadlock detector at 10,000 councils); what no command read goes on to the
    next run exactly as it came, and what one changed goes on changed."""
    state = largest_state()
    rules.RunningTotals(state)  # a run carries its totals
    first, carried = read_back(state)
    assert not_decoded(carried.demand) == COUNCILS and not_decoded(carried.signups) == COUNCILS
    assert carried.totals == state.totals

    again, _ = read_back(carried)
    assert again == first  # untouched: the same payload, byte for byte

    # One council signs up for less, one is only read, one replaces its demand.
    assert carried.demand["E04000007"][0].quantity == 999_999
    carried.signups["E04000003"] = [SignUpLine(lot_id="laptops", quantity=7)]
    carried.demand["E04000005"] = [
        DemandLine(lot_id="monitors", quantity=2, baseline_unit_price=Decimal("3.10"))
    ]
    assert not_decoded(carried.demand) == COUNCILS - 2
    _, next_run = read_back(carried)
    assert next_run.signups["E04000003"] == [SignUpLine(lot_id="laptops", quantity=7)]
    assert next_run.demand["E04000005"] == carried.demand["E04000005"]
    # its sign-up kept as it was (the lot it no longer has demand on packed on its own)
    assert sorted(next_run.signups["E04000005"], key=str) == sorted(state.signups["E04000005"], key=str)
    assert next_run.demand["E04000007"] == state.demand["E04000007"]
    assert next_run.demand == carried.demand


def test_a_state_carried_before_its_totals_were_computes_them_once() -> None:
    """Payloads of buys started before the totals travelled have none: a run computes them."""
    state = largest_state()
    state.totals = None
    _, carried = read_back(state)
    assert carried.totals is None
    totals = rules.RunningTotals(carried)
    assert carried.totals is not None
    assert totals.snapshot() == rules.aggregate(state.terms, state.demand, state.signups)
    assert totals.lines == MAX_DEMAND_LINES
