"""Standstill rules: the working-day calendar, when standstill ends, and when it is mandatory.

Procurement Act 2023 s.51: the standstill period is 8 working days *starting with* the day the
award notice is published. Working days exclude Saturdays, Sundays and the bank holidays of the
UK nation whose calendar the buy uses (England and Wales share one). Dates come in as arguments;
nothing here reads the clock, so a workflow can call these rules during replay.

Counting convention, used everywhere in this module: "n working days starting with day d" means
day d is working day 1 if it is a working day (otherwise the first working day after it is), and
the n-th working day so counted is the last day of standstill. Contracts may be entered into from
the next working day after that. With n == 0 there is no standstill: it "ends" on day d and
contracts may be entered into on day d itself.

Bank holidays come from the `holidays` library unless the caller passes a `RecordedCalendar`: the
holidays a workflow fetched once (through an activity, so its history keeps them) and decides
every later date with. A new release of the library then changes only buys that fetch it later.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Final, Literal

# The country class itself, not `holidays.country_holidays`: that one imports the country module on
# first call, and a workflow (where these rules run) may not import anything after it has loaded.
from holidays.countries.united_kingdom import UnitedKingdom
from pydantic import BaseModel, ConfigDict

from procurement.errors import DomainError, ErrorKind


class Calendar(StrEnum):
    """The bank-holiday calendar of a UK nation, spelt as the API spells it."""

    ENGLAND_AND_WALES = "england-and-wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern-ireland"


# The same names as a Literal, for pydantic fields that want a plain string.
CalendarName = Literal["england-and-wales", "scotland", "northern-ireland"]

# `holidays` subdivision codes of GB (alias UK). Wales has the same bank holidays as England.
_SUBDIVISIONS: Final[dict[Calendar, str]] = {
    Calendar.ENGLAND_AND_WALES: "ENG",
    Calendar.SCOTLAND: "SCT",
    Calendar.NORTHERN_IRELAND: "NIR",
}


class RecordedCalendar(BaseModel):
    """A calendar's bank holidays for some years, as a workflow recorded them."""

    model_config = ConfigDict(frozen=True)

    calendar: Calendar
    years: tuple[int, ...]
    holidays: tuple[date, ...]


AnyCalendar = Calendar | str | RecordedCalendar

MIN_WORKING_DAYS: Final = 8  # s.51: the minimum standstill above the threshold
MAX_WORKING_DAYS: Final = 366  # a sanity bound for the counting loops, far above any real period

# Sub-central authority threshold for supplies and services, incl. VAT, by the date it applies from.
# Newest first; a start date before every entry uses the oldest value.
_THRESHOLDS: Final[tuple[tuple[date, Decimal], ...]] = (
    (date(2026, 1, 1), Decimal("207720")),
    (date.min, Decimal("214904")),
)


class StandstillRuleError(DomainError, ValueError):
    """A standstill rule is broken; maps to 422 like every `ErrorKind.INVALID` domain error."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(ErrorKind.INVALID, message, field=field)


def _calendar(calendar: AnyCalendar) -> Calendar | RecordedCalendar:
    if isinstance(calendar, RecordedCalendar):
        return calendar
    try:
        return Calendar(calendar)
    except ValueError:
        names = ", ".join(c.value for c in Calendar)
        raise StandstillRuleError(
            f"unknown calendar {calendar!r}; expected one of {names}", field="calendar"
        ) from None


@cache
def _bank_holidays(calendar: Calendar, year: int) -> frozenset[date]:
    # A frozenset rather than the HolidayBase itself: HolidayBase grows other years on lookup,
    # and a cached object that mutates is a cached object that surprises.
    uk = UnitedKingdom(subdiv=_SUBDIVISIONS[calendar], years=year)  # type: ignore[no-untyped-call]
    return frozenset(uk.keys())


def bank_holidays(calendar: Calendar | str, years: list[int]) -> RecordedCalendar:
    """The library's bank holidays of `calendar` in `years`, to be recorded by a workflow."""
    cal = _calendar(calendar)
    assert isinstance(cal, Calendar)
    days = sorted(d for year in years for d in _bank_holidays(cal, year))
    return RecordedCalendar(calendar=cal, years=tuple(sorted(set(years))), holidays=tuple(days))


def _holidays(cal: Calendar | RecordedCalendar, year: int) -> frozenset[date]:
    if isinstance(cal, RecordedCalendar):
        if year in cal.years:
            return frozenset(d for d in cal.holidays if d.year == year)
        # A year the recording does not cover (a standstill held up for years): the library.
        return _bank_holidays(cal.calendar, year)
    return _bank_holidays(cal, year)


def is_working_day(d: date, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES) -> bool:
    """Monday to Friday and not a bank holiday of `calendar`."""
    return d.weekday() < 5 and d not in _holidays(_calendar(calendar), d.year)


def next_working_day(d: date, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES) -> date:
    """The first working day strictly after `d`."""
    cal = _calendar(calendar)
    d += timedelta(days=1)
    while not is_working_day(d, cal):
        d += timedelta(days=1)
    return d


def _check_days(working_days: int, field: str) -> None:
    if not 0 <= working_days <= MAX_WORKING_DAYS:
        raise StandstillRuleError(
            f"working days must be between 0 and {MAX_WORKING_DAYS}, not {working_days}",
            field=field,
        )


def standstill_end(
    notice: date, working_days: int, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES
) -> date:
    """The last day of a standstill of `working_days` starting with the day of the award notice.

    A notice on a working day makes that day working day 1; a notice on a Saturday starts counting
    on Monday (or later, if Monday is a bank holiday). With 0 working days this is `notice`.
    """
    _check_days(working_days, "standstill_working_days")
    cal = _calendar(calendar)
    if working_days == 0:
        return notice
    day = notice if is_working_day(notice, cal) else next_working_day(notice, cal)
    for _ in range(working_days - 1):
        day = next_working_day(day, cal)
    return day


def contracts_from(
    notice: date, working_days: int, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES
) -> date:
    """The first day contracts may be entered into: the working day after standstill ends.

    With 0 working days (a voluntary standstill of none, below the threshold) it is the notice day
    itself, whatever day of the week that is.
    """
    _check_days(working_days, "standstill_working_days")
    if working_days == 0:
        return notice
    return next_working_day(standstill_end(notice, working_days, calendar), calendar)


def working_days_left(
    end: date, suspended_on: date, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES
) -> int:
    """Working days of standstill still to run when a challenge suspends it on `suspended_on`.

    The day of suspension counts as used (standstill days are whole days, and that one had begun),
    so this counts the working days after `suspended_on` up to and including `end`; 0 when the
    challenge came on the last day or later.
    """
    cal = _calendar(calendar)
    left = 0
    day = suspended_on + timedelta(days=1)
    while day <= end:
        left += is_working_day(day, cal)
        day += timedelta(days=1)
    return left


def resume_standstill(
    resume_on: date, days_left: int, calendar: AnyCalendar = Calendar.ENGLAND_AND_WALES
) -> date:
    """The new last day of standstill once a dismissed challenge lets the clock run again.

    The remaining days are counted starting with `resume_on`, exactly as the original period was
    counted from the notice; `contracts_from(resume_on, days_left, calendar)` gives the day
    contracts may then be entered into (`resume_on` itself when nothing was left).
    """
    return standstill_end(resume_on, days_left, calendar)


def standstill_threshold(start: date) -> Decimal:
    """The sub-central supplies/services threshold (incl. VAT) for a buy begun on `start`."""
    for applies_from, value in _THRESHOLDS:
        if start >= applies_from:
            return value
    raise AssertionError("unreachable: the oldest threshold applies from date.min")


def check_standstill_days(estimated_value_incl_vat: Decimal, working_days: int, start: date) -> None:
    """At or above the threshold the standstill must be at least 8 working days.

    Below it the standstill is voluntary: any number of working days from 0 (none) is allowed.
    """
    field = "award.standstill_working_days"
    if estimated_value_incl_vat < 0:
        raise StandstillRuleError(
            f"estimated value must not be negative, not {estimated_value_incl_vat}",
            field="estimated_value_gbp",
        )
    _check_days(working_days, field)
    threshold = standstill_threshold(start)
    if estimated_value_incl_vat >= threshold and working_days < MIN_WORKING_DAYS:
        raise StandstillRuleError(
            f"an estimated value of £{estimated_value_incl_vat} incl. VAT is at or above the "
            f"£{threshold} threshold, so the standstill must be at least {MIN_WORKING_DAYS} "
            f"working days, not {working_days}",
            field=field,
        )


__all__ = [
    "MIN_WORKING_DAYS",
    "AnyCalendar",
    "Calendar",
    "CalendarName",
    "RecordedCalendar",
    "StandstillRuleError",
    "bank_holidays",
    "check_standstill_days",
    "contracts_from",
    "is_working_day",
    "next_working_day",
    "resume_standstill",
    "standstill_end",
    "standstill_threshold",
    "working_days_left",
]
