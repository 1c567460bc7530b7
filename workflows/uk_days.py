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
    """Working-day rules consult the `holidays` library, whose calendars touch `locale` on creation,
    which the sandbox forbids. They are deterministic for a given library version (bank holidays
    are data), so they run unrestricted; a changed calendar would move a timer, not reorder commands.
    """
    with workflow.unsafe.sandbox_unrestricted():
        yield
