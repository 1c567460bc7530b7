"""The bank-holiday calendar as an activity: a workflow asks once and its history keeps the answer,
so a replay decides standstill dates with the holidays known then, whatever `holidays` release the
worker runs today."""

from __future__ import annotations

from temporalio import activity

from messages.joint_buy import BANK_HOLIDAYS, BankHolidaysRequest
from procurement.standstill import RecordedCalendar, bank_holidays


@activity.defn(name=BANK_HOLIDAYS)
async def fetch_bank_holidays(inp: BankHolidaysRequest) -> RecordedCalendar:
    return bank_holidays(inp.calendar, list(range(inp.first_year, inp.first_year + inp.years)))
