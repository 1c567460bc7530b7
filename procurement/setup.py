"""Rules a new joint buy's terms must meet at the moment it starts.

Bounds on dates and windows live here rather than on the models: a model also reads back buys that
are already running, and tightening a bound must never make a running buy unreadable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from procurement.assurance import KNOWN_CERTIFICATIONS, unknown_certifications
from procurement.errors import invalid
from procurement.models import BuyTerms
from procurement.standstill import check_standstill_days

# How far ahead a buy may be planned, and the longest each window may run: long enough for any real
# competition, short enough that every deadline stays a representable date.
MAX_LEAD_TIME = timedelta(days=5 * 366)
MAX_WINDOW = timedelta(days=366)
MAX_EXTENSION = timedelta(days=1)


def _check_window(value: timedelta, field: str, *, allow_zero: bool, most: timedelta = MAX_WINDOW) -> None:
    least = "0" if allow_zero else "more than 0"
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero) or value > most:
        raise invalid(f"must be {least} and at most {most.days} day(s), not {value}", field=field)


def _check_text(terms: BuyTerms) -> None:
    if not terms.title.strip():
        raise invalid("the title must not be blank", field="title")
    for index, lot in enumerate(terms.lots):
        if not lot.title.strip():
            raise invalid("a lot's title must not be blank", field=f"lots.{index}.title")


def check_new_buy(terms: BuyTerms, now: datetime) -> None:
    _check_text(terms)
    if terms.demand_closes_at <= now:
        raise invalid("the demand window must close in the future", field="demand_closes_at")
    if terms.demand_closes_at - now > MAX_LEAD_TIME:
        raise invalid("the demand window must close within five years", field="demand_closes_at")
    _check_window(terms.sign_up_window, "sign_up_window", allow_zero=False)
    _check_window(terms.negotiation.round_window, "negotiation.round_window", allow_zero=False)
    _check_window(
        terms.negotiation.extension_window,
        "negotiation.extension_window",
        allow_zero=True,
        most=MAX_EXTENSION,
    )
    _check_window(
        terms.requirements.discretionary_decision_window,
        "requirements.discretionary_decision_window",
        allow_zero=True,
    )
    unknown = unknown_certifications(terms.requirements.certifications)
    if unknown:
        raise invalid(
            f"unknown certifications {unknown}; known: {sorted(KNOWN_CERTIFICATIONS)}",
            field="requirements.certifications",
        )
    # The regime follows the value and the date the buy starts.
    check_standstill_days(terms.estimated_value_gbp, terms.award.standstill_working_days, now.date())
