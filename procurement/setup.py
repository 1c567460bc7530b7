"""Rules a new joint buy's terms must meet at the moment it starts."""

from __future__ import annotations

from datetime import datetime

from procurement.assurance import KNOWN_CERTIFICATIONS, unknown_certifications
from procurement.errors import invalid
from procurement.models import BuyTerms
from procurement.standstill import check_standstill_days


def check_new_buy(terms: BuyTerms, now: datetime) -> None:
    if terms.demand_closes_at <= now:
        raise invalid("the demand window must close in the future", field="demand_closes_at")
    unknown = unknown_certifications(terms.requirements.certifications)
    if unknown:
        raise invalid(
            f"unknown certifications {unknown}; known: {sorted(KNOWN_CERTIFICATIONS)}",
            field="requirements.certifications",
        )
    # The regime follows the value and the date the buy starts.
    check_standstill_days(terms.estimated_value_gbp, terms.award.standstill_working_days, now.date())
