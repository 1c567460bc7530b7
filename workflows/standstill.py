"""Standstill, suspension by a challenge, and the award: the joint-buy workflow from the award
notice to the per-council contracts.

Standstill is a durable deadline at the start (UK time) of the first day contracts may be entered
into; when it ends every signed-up council gets one contract per awarded lot and the buy is
awarded. A challenge suspends it (the clock stops); the lead's decision resumes it, re-evaluates,
or cancels. Runs inside the workflow (deterministic): state lives in `BuyState`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import DecideChallenge, LodgeChallenge
    from procurement import award as award_rules
    from procurement.models import Challenge, Marks, Stage
    from procurement.pricing import ContractLine
    from workflows import coalition
    from workflows.buy import Buy
    from workflows.evaluation import enter_standstill, mark, standstill_data
    from workflows.stage import Next, StageWindow
    from workflows.uk_days import uk_today, working_day_rules


# Runs from before this built and emitted every contract in the task that ended the standstill.
AWARD_IN_BATCHES_PATCH = "award-contracts-in-batches"
# The award writes its contracts this many at a time, each batch recorded before the next is built,
# so no workflow task does more than this much of it (at 20,000 council-lot lines the whole took
# 1.4 s in one task, against the SDK's 2 s deadlock timeout).
CONTRACTS_PER_TASK = 2_000


class StandstillStage(StageWindow):
    """Ends at its deadline with the award, unless a challenge suspends it first."""

    stage = Stage.STANDSTILL

    def __init__(self, buy: Buy) -> None:
        super().__init__(buy)
        self._contracts: list[ContractLine] | None = None

    async def before_close(self) -> None:
        """The contracts, a batch of councils at a time, each batch's events recorded before the
        next is built. Meanwhile the buy takes no commands (`Buy.busy`): a cancel or a challenge
        halfway through the award would leave it half made."""
        if not workflow.patched(AWARD_IN_BATCHES_PATCH):
            return
        self._buy.busy = "making its award"
        contracts: list[ContractLine] = []
        for councils in _batches(self._state.signups, CONTRACTS_PER_TASK):
            lines = award_rules.build_contracts(self._state, councils)
            self._emit_contracts(lines)
            contracts += lines
            await self._buy.events.wait_recorded(self._state.next_seq - 1)
        self._contracts = contracts

    def _emit_contracts(self, contracts: list[ContractLine]) -> None:
        for c in contracts:
            self._buy.emit(
                "contract.created", "system", {"company_number": c.supplier, **c.model_dump(mode="json")}
            )

    def challenge(self, cmd: LodgeChallenge) -> Challenge:
        """A supplier that bid challenges the award: the buy is suspended, the clock stopped."""
        standstill = self._state.standstill
        assert standstill is not None, "the challenge passed its check: standstill is running"
        challenge = Challenge(
            challenge_id=f"ch-{len(self._state.challenges) + 1}",
            supplier=cmd.company_number,
            grounds=cmd.grounds,
            lodged_at=workflow.now(),
        )
        self._state.challenges.append(challenge)
        with working_day_rules():
            self._state.standstill = award_rules.suspend(standstill, uk_today(), self._state.bank_holidays)
        self._buy.emit(
            "challenge.lodged",
            f"supplier:{cmd.company_number}",
            {
                "challenge_id": challenge.challenge_id,
                "company_number": cmd.company_number,
                "grounds": cmd.grounds,
                "working_days_left": self._state.standstill.days_left,
            },
        )
        self._buy.move_to(Stage.SUSPENDED, reason=f"challenge {challenge.challenge_id} lodged")
        return challenge

    def close(self, how: str) -> Next:  # noqa: ARG002 - standstill ends one way: its last day passed
        """Standstill is over: one contract per council per lot, then the buy is awarded."""
        contracts = self._contracts
        if contracts is None:  # a run from before the award was made in batches
            contracts = award_rules.build_contracts(self._state)
            self._emit_contracts(contracts)
        self._buy.busy = None
        self._state.contract_count = len(contracts)
        awarded = self._state.award
        by_lot = {lot: award_rules.contract_totals([c for c in contracts if c.lot == lot]) for lot in awarded}
        self._buy.emit(
            "buy.awarded",
            "system",
            {
                "lots": {
                    lot: {"company_number": a.supplier, "unit_price": str(a.unit_price), **by_lot[lot]}
                    for lot, a in awarded.items()
                },
                "totals": award_rules.contract_totals(contracts),
            },
        )
        return Next(Stage.AWARDED, f"{len(contracts)} contracts across {len(awarded)} lots")


class SuspendedStage(StageWindow):
    """Standstill stopped by a challenge. No deadline and no early close: only the lead's
    decision (`decide`) moves the buy on."""

    stage = Stage.SUSPENDED

    def decide(self, cmd: DecideChallenge, challenge: Challenge) -> int:
        upheld = cmd.outcome == "upheld"
        challenge.status = cmd.outcome
        challenge.note = cmd.note
        challenge.remedy = cmd.remedy if upheld else ""
        challenge.decided_at = workflow.now()
        seq = self._buy.emit(
            "challenge.decided",
            cmd.actor,
            {
                "challenge_id": challenge.challenge_id,
                "company_number": challenge.supplier,
                "outcome": cmd.outcome,
                "note": cmd.note,
                "remedy": challenge.remedy or None,
                "corrected_scores": [c.model_dump() for c in cmd.corrected_scores],
            },
        )
        if not upheld:
            self._resume(challenge)
        elif cmd.remedy == "cancel":
            reason = f"challenge {challenge.challenge_id} upheld: {cmd.note}".strip()
            self._buy.move_to(Stage.CANCELLED, reason=reason)
        else:
            self._reevaluate(challenge, cmd)
        return seq

    def _resume(self, challenge: Challenge) -> None:
        standstill = self._state.standstill
        assert standstill is not None, "a suspended buy has a standstill"
        with working_day_rules():
            standstill = self._state.standstill = award_rules.resume(
                standstill, uk_today(), self._state.bank_holidays
            )
        self._buy.emit("standstill.resumed", "system", standstill_data(standstill))
        resumed = enter_standstill(
            standstill, f"challenge {challenge.challenge_id} dismissed; standstill resumes"
        )
        self._buy.move_to(resumed.stage, deadline=resumed.deadline, reason=resumed.reason)

    def _reevaluate(self, challenge: Challenge, cmd: DecideChallenge) -> None:
        """Correct the challenger's marks and evaluate again; a fresh notice and standstill follow."""
        for c in cmd.corrected_scores:
            marks = Marks(quality=c.quality, social_value=c.social_value)
            mark(self._buy, challenge.supplier, c.lot_id, marks, cmd.actor)
        self._state.award = {}
        self._state.evaluation = {}
        self._state.standstill = None
        coalition.unsettle(self._state)
        self._buy.move_to(Stage.EVALUATION, reason=f"challenge {challenge.challenge_id} upheld")

    def close(self, how: str) -> None:
        """Never reached (no deadline, no early close, no work of its own): the buy stays suspended."""


def _batches(signups: Mapping[str, Sequence[object]], lines: int) -> Iterator[list[str]]:
    """The signed-up councils in order, in runs of about `lines` sign-up lines (at least one
    council each)."""
    batch: list[str] = []
    held = 0
    for council in sorted(signups):
        batch.append(council)
        held += len(signups[council])
        if held >= lines:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch
