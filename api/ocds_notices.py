"""Which statutory notice (Procurement Act 2023, in Find a Tender's UK profile) each publication
point is: one table, looked up; a point the table does not name publishes no notice.

Each notice is its own release and carries a `Document` with the OCDS `documentType` and the UK
`noticeType`: the tender notice in `tender.documents`, the contract award notice in each award it
announces, the contract details notice in the council's contract, the termination notice in
`tender.documents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Notice:
    notice_type: str  # the UK profile's noticeType
    document_type: str  # the OCDS documentType codelist
    title: str
    section: str  # of the Procurement Act 2023


UK4 = Notice("UK4", "tenderNotice", "Tender notice", "s.21")
UK6 = Notice("UK6", "awardNotice", "Contract award notice", "s.50")
UK7 = Notice("UK7", "contractNotice", "Contract details notice", "s.53")
UK12 = Notice("UK12", "tenderCancellationNotice", "Procurement termination notice", "s.55")

# (event type, stage entered) -> the notice that event publishes. The buy opens to suppliers when
# demand opens: from then on suppliers may register their interest.
NOTICES: Mapping[tuple[str, str | None], Notice] = {
    ("stage.changed", "demand"): UK4,
    ("award.notice", None): UK6,
    ("contract.created", None): UK7,
    ("stage.changed", "cancelled"): UK12,
    ("stage.changed", "unsuccessful"): UK12,
}


def notice_for(event: Mapping[str, Any]) -> Notice | None:
    """The statutory notice `event` publishes, or None."""
    to = event["data"].get("to") if event["type"] == "stage.changed" else None
    return NOTICES.get((event["type"], to))
