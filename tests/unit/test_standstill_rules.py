"""Standstill rules as tables: working days by UK nation, standstill end, suspension, thresholds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal as D

import pytest

from procurement.errors import DomainError, ErrorKind
from procurement.standstill import (
    Calendar,
    StandstillRuleError,
    check_standstill_days,
    contracts_from,
    is_working_day,
    next_working_day,
    resume_standstill,
    standstill_end,
    standstill_threshold,
    working_days_left,
)

EW, SCT, NI = "england-and-wales", "scotland", "northern-ireland"


@pytest.mark.parametrize(
    ("day", "calendar", "working"),
    [
        pytest.param(date(2025, 3, 4), EW, True, id="plain-tuesday"),
        pytest.param(date(2025, 3, 8), EW, False, id="saturday"),
        pytest.param(date(2025, 3, 9), SCT, False, id="sunday"),
        pytest.param(date(2025, 4, 18), EW, False, id="good-friday"),
        pytest.param(date(2025, 4, 18), SCT, False, id="good-friday-scotland"),
        pytest.param(date(2025, 4, 21), EW, False, id="easter-monday"),
        pytest.param(date(2025, 4, 21), NI, False, id="easter-monday-ni"),
        pytest.param(date(2025, 4, 21), SCT, True, id="easter-monday-not-in-scotland"),
        pytest.param(date(2025, 1, 2), SCT, False, id="2-january-scotland"),
        pytest.param(date(2025, 1, 2), EW, True, id="2-january-england"),
        pytest.param(date(2023, 11, 30), SCT, False, id="st-andrews-day"),
        pytest.param(date(2023, 11, 30), EW, True, id="st-andrews-day-england"),
        pytest.param(date(2025, 12, 1), SCT, False, id="st-andrews-day-substitute"),
        pytest.param(date(2024, 7, 12), NI, False, id="12-july-ni"),
        pytest.param(date(2024, 7, 12), EW, True, id="12-july-england"),
        pytest.param(date(2025, 7, 14), NI, False, id="12-july-substitute-ni"),
        pytest.param(date(2025, 3, 17), NI, False, id="st-patricks-day-ni"),
        pytest.param(date(2025, 3, 17), SCT, True, id="st-patricks-day-scotland"),
        pytest.param(date(2022, 9, 19), EW, False, id="one-off-state-funeral"),
        pytest.param(date(2025, 8, 4), SCT, False, id="summer-holiday-scotland"),
        pytest.param(date(2025, 8, 4), EW, True, id="first-monday-august-england"),
        pytest.param(date(2025, 8, 25), EW, False, id="late-summer-england"),
        pytest.param(date(2025, 12, 25), Calendar.NORTHERN_IRELAND, False, id="enum-calendar"),
    ],
)
def test_is_working_day(day: date, calendar: str, working: bool) -> None:
    assert is_working_day(day, calendar) is working


STANDSTILL_CASES = [
    # notice, working days, calendar, last day of standstill, contracts from
    pytest.param(date(2025, 3, 4), 8, EW, date(2025, 3, 13), date(2025, 3, 14), id="design-4-mar"),
    pytest.param(date(2024, 12, 24), 8, EW, date(2025, 1, 7), date(2025, 1, 8), id="christmas-ew"),
    pytest.param(date(2024, 12, 24), 8, SCT, date(2025, 1, 8), date(2025, 1, 9), id="christmas-sct"),
    pytest.param(date(2024, 12, 24), 8, NI, date(2025, 1, 7), date(2025, 1, 8), id="christmas-ni"),
    # Saturday: counting starts on Monday 10 Mar -> 10 11 12 13 14 17 18 19
    pytest.param(date(2025, 3, 8), 8, EW, date(2025, 3, 19), date(2025, 3, 20), id="saturday"),
    pytest.param(date(2025, 3, 9), 8, EW, date(2025, 3, 19), date(2025, 3, 20), id="sunday"),
    # Thu 17 Apr: 17 | Good Friday, weekend, Easter Monday | 22 23 24 25 28 29 30
    pytest.param(date(2025, 4, 17), 8, EW, date(2025, 4, 30), date(2025, 5, 1), id="easter-ew"),
    # Scotland works Easter Monday: 17 21 22 23 24 25 28 29
    pytest.param(date(2025, 4, 17), 8, SCT, date(2025, 4, 29), date(2025, 4, 30), id="easter-sct"),
    # Notice on Good Friday: counting starts Tue 22 Apr; 1 May is day 8, contracts Fri 2 May
    pytest.param(date(2025, 4, 18), 8, EW, date(2025, 5, 1), date(2025, 5, 2), id="on-good-friday"),
    # Fri 25 Apr: 25 28 29 30 1 2 | May Day 5 May | 6 7
    pytest.param(date(2025, 4, 25), 8, EW, date(2025, 5, 7), date(2025, 5, 8), id="over-may-day"),
    # Wed 29 Nov 2023: Scotland skips Thu 30 Nov -> 29 1 4 5 6 7 8 11
    pytest.param(date(2023, 11, 29), 8, SCT, date(2023, 12, 11), date(2023, 12, 12), id="st-andrew"),
    pytest.param(date(2023, 11, 29), 8, EW, date(2023, 12, 8), date(2023, 12, 11), id="nov-ew"),
    # Thu 11 Jul 2024: NI skips Fri 12 Jul -> 11 15 16 17 18 19 22 23
    pytest.param(date(2024, 7, 11), 8, NI, date(2024, 7, 23), date(2024, 7, 24), id="12-july-ni"),
    pytest.param(date(2024, 7, 11), 8, EW, date(2024, 7, 22), date(2024, 7, 23), id="july-ew"),
    pytest.param(date(2025, 3, 4), 1, EW, date(2025, 3, 4), date(2025, 3, 5), id="one-day"),
    pytest.param(date(2025, 3, 7), 1, EW, date(2025, 3, 7), date(2025, 3, 10), id="one-day-friday"),
    pytest.param(date(2025, 3, 4), 10, EW, date(2025, 3, 17), date(2025, 3, 18), id="ten-days"),
    # 0 days: no standstill at all, contracts on the notice day whatever day it is
    pytest.param(date(2025, 3, 4), 0, EW, date(2025, 3, 4), date(2025, 3, 4), id="zero"),
    pytest.param(date(2025, 3, 8), 0, EW, date(2025, 3, 8), date(2025, 3, 8), id="zero-saturday"),
    pytest.param(date(2025, 12, 25), 0, EW, date(2025, 12, 25), date(2025, 12, 25), id="zero-xmas"),
]


@pytest.mark.parametrize(("notice", "days", "calendar", "end", "contracts"), STANDSTILL_CASES)
def test_standstill_end_and_contracts_from(
    notice: date, days: int, calendar: str, end: date, contracts: date
) -> None:
    assert standstill_end(notice, days, calendar) == end
    assert contracts_from(notice, days, calendar) == contracts


def test_default_calendar_is_england_and_wales() -> None:
    assert standstill_end(date(2024, 12, 24), 8) == date(2025, 1, 7)
    assert next_working_day(date(2025, 4, 17)) == date(2025, 4, 22)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda: standstill_end(date(2025, 3, 4), -1, EW), "standstill_working_days"),
        pytest.param(lambda: contracts_from(date(2025, 3, 4), -1, EW), "standstill_working_days"),
        pytest.param(lambda: standstill_end(date(2025, 3, 4), 8, "wales"), "calendar"),
        pytest.param(lambda: is_working_day(date(2025, 3, 4), "ENG"), "calendar"),
    ],
)
def test_bad_arguments(call: Callable[[], object], field: str) -> None:
    with pytest.raises(StandstillRuleError) as caught:
        call()
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


# --- suspension by a challenge, then resumption --------------------------------------------------
# Notice Tue 4 Mar 2025, 8 days: standstill runs 4 5 6 7 10 11 12 13 March.
END = date(2025, 3, 13)


@pytest.mark.parametrize(
    ("suspended_on", "calendar", "left"),
    [
        pytest.param(date(2025, 3, 4), EW, 7, id="on-notice-day"),
        pytest.param(date(2025, 3, 7), EW, 4, id="friday"),
        pytest.param(date(2025, 3, 8), EW, 4, id="saturday"),
        pytest.param(date(2025, 3, 12), EW, 1, id="penultimate-day"),
        pytest.param(date(2025, 3, 13), EW, 0, id="last-day"),
        pytest.param(date(2025, 3, 20), EW, 0, id="after-end"),
    ],
)
def test_working_days_left(suspended_on: date, calendar: str, left: int) -> None:
    assert working_days_left(END, suspended_on, calendar) == left


def test_working_days_left_skips_bank_holidays() -> None:
    # standstill to Wed 8 Jan 2025 in Scotland; suspended Tue 24 Dec: 27 30 31 3 6 7 8 remain
    assert working_days_left(date(2025, 1, 8), date(2024, 12, 24), SCT) == 7


@pytest.mark.parametrize(
    ("resume_on", "left", "calendar", "end", "contracts"),
    [
        pytest.param(date(2025, 3, 24), 4, EW, date(2025, 3, 27), date(2025, 3, 28), id="monday"),
        pytest.param(date(2025, 3, 22), 4, EW, date(2025, 3, 27), date(2025, 3, 28), id="saturday"),
        # Resume on Good Friday with 2 left: Tue 22, Wed 23 April (Scotland works Easter Monday)
        pytest.param(date(2025, 4, 18), 2, EW, date(2025, 4, 23), date(2025, 4, 24), id="easter"),
        pytest.param(date(2025, 4, 18), 2, SCT, date(2025, 4, 22), date(2025, 4, 23), id="e-sct"),
        pytest.param(date(2025, 4, 17), 2, SCT, date(2025, 4, 21), date(2025, 4, 22), id="sct-mon"),
        pytest.param(date(2025, 3, 24), 0, EW, date(2025, 3, 24), date(2025, 3, 24), id="nothing"),
    ],
)
def test_resume_standstill(resume_on: date, left: int, calendar: str, end: date, contracts: date) -> None:
    assert resume_standstill(resume_on, left, calendar) == end
    assert contracts_from(resume_on, left, calendar) == contracts


# --- thresholds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "threshold"),
    [
        (date(2025, 2, 24), D("214904")),
        (date(2025, 12, 31), D("214904")),
        (date(2026, 1, 1), D("207720")),
        (date(2027, 6, 1), D("207720")),
        (date(2020, 1, 1), D("214904")),
    ],
)
def test_standstill_threshold(start: date, threshold: D) -> None:
    assert standstill_threshold(start) == threshold


DEC_31, JAN_1 = date(2025, 12, 31), date(2026, 1, 1)


@pytest.mark.parametrize(
    ("value", "days", "start", "ok"),
    [
        pytest.param("214904", 8, DEC_31, True, id="at-old-threshold-8-days"),
        pytest.param("214904", 7, DEC_31, False, id="at-old-threshold-7-days"),
        pytest.param("214903.99", 0, DEC_31, True, id="just-below-old-threshold-none"),
        pytest.param("210000", 7, DEC_31, True, id="between-thresholds-2025"),
        pytest.param("210000", 7, JAN_1, False, id="between-thresholds-2026"),
        pytest.param("207720", 8, JAN_1, True, id="at-new-threshold-8-days"),
        pytest.param("207720", 7, JAN_1, False, id="at-new-threshold-7-days"),
        pytest.param("207720", 0, DEC_31, True, id="at-new-threshold-before-it-applies"),
        pytest.param("207719.99", 0, JAN_1, True, id="just-below-new-threshold-none"),
        pytest.param("207719.99", 3, JAN_1, True, id="below-threshold-voluntary-3"),
        pytest.param("1800000", 7, date(2027, 1, 15), False, id="far-above-7-days"),
        pytest.param("1800000", 0, date(2027, 1, 15), False, id="far-above-none"),
        pytest.param("1800000", 10, date(2027, 1, 15), True, id="far-above-10-days"),
        pytest.param("0", 0, JAN_1, True, id="zero-value"),
    ],
)
def test_check_standstill_days(value: str, days: int, start: date, ok: bool) -> None:
    if ok:
        check_standstill_days(D(value), days, start)
        return
    with pytest.raises(StandstillRuleError, match="at least 8 working days") as caught:
        check_standstill_days(D(value), days, start)
    assert caught.value.field == "award.standstill_working_days"
    assert isinstance(caught.value, DomainError)
    assert caught.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize(("value", "days"), [("100", -1), ("-1", 0)])
def test_check_standstill_days_rejects_nonsense(value: str, days: int) -> None:
    with pytest.raises(StandstillRuleError):
        check_standstill_days(D(value), days, JAN_1)
