"""UK days inside the workflow: working days and notice dates are UK days, whatever the zone of
the workflow's clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


def uk_today() -> date:
    return workflow.now().astimezone(UK).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UK)


@contextmanager
def working_day_rules() -> Iterator[None]:
    """Working-day rules may consult the `holidays` library, whose calendars touch `locale` on
    creation, which the sandbox forbids; so they run unrestricted. A buy that recorded its bank
    holidays (`BuyState.bank_holidays`, fetched by an activity) decides with those instead, so only
    buys from before that consult the library here: a changed library would move their timers
    without a nondeterminism error, which is why new buys no longer depend on it.
    """
    with workflow.unsafe.sandbox_unrestricted():
        yield
