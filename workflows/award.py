"""Evaluation, standstill, challenges and award: the joint-buy workflow from the last bid to the
per-council contracts.

Evaluation completes once the lead has marked every assessed tender; the award notice follows the
assessment summaries and starts the standstill, a durable deadline at the start (UK time) of the
first day contracts may be entered into. A challenge suspends it; the lead's decision resumes it,
re-evaluates, or cancels. Runs inside the workflow (deterministic): state lives in `BuyState`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from zoneinfo import ZoneInfo

    from procurement import award as rules
    from procurement.models import Challenge, Marks, Stage, StandstillState
    from workflows.messages import DecideChallenge, EnterScores, LodgeChallenge
    from workflows.stage import StagePart

# Working days and notice dates are UK days, whatever the workflow clock's zone.
UK = ZoneInfo("Europe/London")


def uk_today() -> date:
    return workflow.now().astimezone(UK).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UK)


@contextmanager
def _calendar() -> Iterator[None]:
    """Working-day rules consult the `holidays` library, whose calendars touch `locale` on creation,
    which the sandbox forbids. They are deterministic for a given library version (bank holidays
    are data), so they run unrestricted; a changed calendar would move a timer, not reorder commands.
    """
    with workflow.unsafe.sandbox_unrestricted():
        yield


def _standstill_data(st: StandstillState) -> dict[str, Any]:
    return {
        "notice_on": st.notice_on.isoformat(),
        "working_days": st.working_days,
        "calendar": st.calendar,
        "last_day": st.last_day.isoformat(),
        "contracts_from": st.contracts_from.isoformat(),
    }


class AwardStage(StagePart):
    # ---- evaluation ---------------------------------------------------------------------------

    def enter_scores(self, cmd: EnterScores, marks: Marks) -> int:
        return self._mark(cmd.company_number, cmd.lot_id, marks, cmd.actor)

    def _mark(self, supplier: str, lot_id: str, marks: Marks, actor: str) -> int:
        self._s.marks.setdefault(lot_id, {})[supplier] = marks
        return self._emit(
            "score.entered", actor, {"company_number": supplier, "lot_id": lot_id, **marks.model_dump()}
        )

    def evaluation_done(self) -> bool:
        return self._s.stage == Stage.EVALUATION and not rules.missing_marks(self._s)

    def close_evaluation(self) -> None:
        """Score, tell every assessed supplier how it did, then publish the award notice."""
        results = rules.evaluate(self._s)
        self._s.evaluation = results
        for lot, ranked in results.items():
            for summary in rules.assessment_summaries(lot, ranked):
                self._emit("assessment.summary", "system", summary)
        self._s.award = rules.lot_awards(self._s, results)
        with _calendar():
            standstill = rules.open_standstill(self._s, uk_today())
        self._s.standstill = standstill
        self._emit(
            "award.notice",
            "system",
            {
                "lots": {
                    lot: {
                        "company_number": a.supplier,
                        "unit_price": str(a.unit_price),
                        "committed_quantity": a.committed_quantity,
                        "value": str(a.value),
                        "total_score": str(results[lot][0].total_score),
                        "tenders": len(results[lot]),
                    }
                    for lot, a in self._s.award.items()
                },
                "standstill": _standstill_data(standstill),
            },
        )
        self._enter_standstill(
            f"award notice published; {standstill.working_days} working days of standstill"
        )

    def _enter_standstill(self, reason: str) -> None:
        assert self._s.standstill is not None
        self._enter(Stage.STANDSTILL, deadline=start_of(self._s.standstill.contracts_from), reason=reason)

    # ---- challenges ---------------------------------------------------------------------------

    def lodge(self, cmd: LodgeChallenge) -> Challenge:
        assert self._s.standstill is not None
        challenge = Challenge(
            challenge_id=f"ch-{len(self._s.challenges) + 1}",
            supplier=cmd.company_number,
            grounds=cmd.grounds,
            lodged_at=workflow.now(),
        )
        self._s.challenges.append(challenge)
        with _calendar():
            self._s.standstill = rules.suspend(self._s.standstill, uk_today())
        self._emit(
            "challenge.lodged",
            f"supplier:{cmd.company_number}",
            {
                "challenge_id": challenge.challenge_id,
                "company_number": cmd.company_number,
                "grounds": cmd.grounds,
                "working_days_left": self._s.standstill.days_left,
            },
        )
        self._enter(Stage.SUSPENDED, deadline=None, reason=f"challenge {challenge.challenge_id} lodged")
        return challenge

    def decide(self, cmd: DecideChallenge, challenge: Challenge) -> int:
        upheld = cmd.outcome == "upheld"
        challenge.status = cmd.outcome
        challenge.note = cmd.note
        challenge.remedy = cmd.remedy if upheld else ""
        challenge.decided_at = workflow.now()
        seq = self._emit(
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
            self._finish(Stage.CANCELLED, f"challenge {challenge.challenge_id} upheld: {cmd.note}".strip())
        else:
            self._reevaluate(challenge, cmd)
        return seq

    def _resume(self, challenge: Challenge) -> None:
        assert self._s.standstill is not None
        with _calendar():
            self._s.standstill = rules.resume(self._s.standstill, uk_today())
        self._emit("standstill.resumed", "system", _standstill_data(self._s.standstill))
        self._enter_standstill(f"challenge {challenge.challenge_id} dismissed; standstill resumes")

    def _reevaluate(self, challenge: Challenge, cmd: DecideChallenge) -> None:
        """Correct the challenger's marks and evaluate again; a fresh notice and standstill follow."""
        for c in cmd.corrected_scores:
            marks = Marks(quality=c.quality, social_value=c.social_value)
            self._mark(challenge.supplier, c.lot_id, marks, cmd.actor)
        self._s.award = {}
        self._s.evaluation = {}
        self._s.standstill = None
        self._enter(Stage.EVALUATION, deadline=None, reason=f"challenge {challenge.challenge_id} upheld")

    # ---- award --------------------------------------------------------------------------------

    def close_standstill(self) -> None:
        """Standstill is over: one contract per council per lot, then the buy is awarded."""
        contracts = rules.build_contracts(self._s)
        self._s.contracts = contracts
        for c in contracts:
            self._emit(
                "contract.created", "system", {"company_number": c.supplier, **c.model_dump(mode="json")}
            )
        by_lot = {lot: rules.contract_totals([c for c in contracts if c.lot == lot]) for lot in self._s.award}
        self._emit(
            "buy.awarded",
            "system",
            {
                "lots": {
                    lot: {"company_number": a.supplier, "unit_price": str(a.unit_price), **by_lot[lot]}
                    for lot, a in self._s.award.items()
                },
                "totals": rules.contract_totals(contracts),
            },
        )
        self._finish(Stage.AWARDED, f"{len(contracts)} contracts across {len(self._s.award)} lots")
