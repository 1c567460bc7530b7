"""The evaluation stage of the joint-buy workflow: the lead's marks, then the award notice.

Evaluation completes once the lead has marked every assessed tender; every assessed supplier then
gets its assessment summary, the award notice follows and opens the standstill. Runs inside the
workflow (deterministic): state lives in `BuyState`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import BANK_HOLIDAYS, BankHolidaysRequest, EnterScores
    from procurement import award as award_rules
    from procurement.models import Marks, Stage, StandstillState
    from procurement.standstill import RecordedCalendar
    from workflows import coalition
    from workflows.buy import Buy
    from workflows.stage import Next, StageWindow
    from workflows.uk_days import start_of, uk_today, working_day_rules


# Standstill dates are decided with bank holidays the history records (an activity asks the
# `holidays` library once), so a replay decides as the buy did whatever library the worker has.
# Runs from before decided with the library in the workflow, and keep doing so.
CALENDAR_PATCH = "recorded-bank-holidays"
CALENDAR_YEARS = 3  # this year and the next two: standstill, and any challenge holding it up


def standstill_data(standstill: StandstillState) -> dict[str, Any]:
    return {
        "notice_on": standstill.notice_on.isoformat(),
        "working_days": standstill.working_days,
        "calendar": standstill.calendar,
        "last_day": standstill.last_day.isoformat(),
        "contracts_from": standstill.contracts_from.isoformat(),
    }


def enter_standstill(standstill: StandstillState, reason: str) -> Next:
    """The standstill window ends at the start (UK time) of the first day contracts may be made."""
    return Next(Stage.STANDSTILL, reason, start_of(standstill.contracts_from))


def mark(buy: Buy, supplier: str, lot_id: str, marks: Marks, actor: str) -> int:
    """Record the lead's marks for one tender (also the corrected marks of an upheld challenge)."""
    buy.state.marks.setdefault(lot_id, {})[supplier] = marks
    return buy.emit(
        "score.entered", actor, {"company_number": supplier, "lot_id": lot_id, **marks.model_dump()}
    )


class EvaluationStage(StageWindow):
    """Entered after the last round (or an upheld challenge); ends once every tender is marked."""

    stage = Stage.EVALUATION

    async def enter(self) -> None:
        """Fetch the bank holidays the standstill will be counted with, once per buy."""
        if self._state.bank_holidays is None and workflow.patched(CALENDAR_PATCH):
            self._state.bank_holidays = await workflow.execute_activity(
                BANK_HOLIDAYS,
                BankHolidaysRequest(
                    calendar=self._state.terms.award.calendar,
                    first_year=uk_today().year,
                    years=CALENDAR_YEARS,
                ),
                result_type=RecordedCalendar,
                start_to_close_timeout=timedelta(seconds=30),
            )

    def enter_scores(self, cmd: EnterScores, marks: Marks) -> int:
        return mark(self._buy, cmd.company_number, cmd.lot_id, marks, cmd.actor)

    def work_done(self) -> bool:
        return not award_rules.missing_marks(self._state)

    def close(self, how: str) -> Next:  # noqa: ARG002 - evaluation ends one way: every tender marked
        """Settle each lot's stable coalition, tell every assessed supplier how it did at the
        coalition's aggregate, then publish the award notice."""
        if workflow.patched(coalition.COALITION_PATCH):
            failed = coalition.settle(self._state, self._buy.emit)
            if failed is not None:
                return Next(Stage.UNSUCCESSFUL, failed)
            results = self._state.evaluation
        else:
            results = award_rules.evaluate(self._state)
            self._state.evaluation = results
            self._state.award = award_rules.lot_awards(self._state, results)
        for lot, ranked in results.items():
            for summary in award_rules.assessment_summaries(lot, ranked):
                self._buy.emit("assessment.summary", "system", summary)
        with working_day_rules():
            standstill = award_rules.open_standstill(self._state, uk_today())
        self._state.standstill = standstill
        self._buy.emit(
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
                    for lot, a in self._state.award.items()
                },
                "standstill": standstill_data(standstill),
            },
        )
        reason = f"award notice published; {standstill.working_days} working days of standstill"
        return enter_standstill(standstill, reason)
