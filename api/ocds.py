"""A joint buy as an Open Contracting Data Standard 1.1 release package in Find a Tender's UK profile,
built from its event log.

One release per publication point the buy has reached (demand opens, demand closes, sign-up closes,
the award notice, an award withdrawn, each council's contract, the award, a cancellation or an
unsuccessful end); which of them are statutory notices (UK4, UK6, UK7, UK12) is `api.ocds_notices`.
Each release is the public picture *as at* the event that made it, so a release once published never
changes and its id (ocid, event seq, first tag) is stable. While demand is open, one extra
`tenderUpdate` carries the indicative aggregate as at the latest change.

Only facts the public may see are published: aggregates per lot, the councils that committed, the
tenderers (from the award notice on), the winners with award and contract values. Never a losing
price, a sealed bid, a score, a council's baseline price or budget, or a price from a winner's
ladder other than the awarded one. Pure: plain
rows in, plain dicts out: `api.ocds_facts` folds the log into the public facts, `api.ocds_release`
renders a release from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.ocds_facts import SOURCE_EVENTS, Process, apply
from api.ocds_release import release

__all__ = ["OCDS_PREFIX", "PUBLISHER", "SOURCE_EVENTS", "build_package", "build_releases", "ocid_for"]

# Defaults: a deployment sets its registered prefix and its name in Settings (`ocds_prefix`,
# `ocds_publisher`).
OCDS_PREFIX = "ocds-jointbuy"
PUBLISHER = "Joint Buy"
OCDS_VERSION = "1.1"
# Find a Tender's UK profile: OCDS 1.1.5 with the UK extension and the extensions it builds on
# (lots, bids, award criteria, ...), as its compiled schema declares them; plus a buyer per contract
# (each council's own).
UK_PROFILE_EXTENSIONS = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_awardCriteria_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_communication_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_location_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_otherRequirements_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_performance_failures_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_subcontracting_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_suitability_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_techniques_extension/master/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_submissionTerms_extension/master/extension.json",
    "https://raw.githubusercontent.com/cabinetoffice/ocds_uk_extension/main/extension.json",
)
CONTRACT_BUYER_EXTENSION = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_contract_buyer_extension/master/extension.json"
EXTENSIONS = (*UK_PROFILE_EXTENSIONS, CONTRACT_BUYER_EXTENSION)


def ocid_for(buy_id: str, prefix: str = OCDS_PREFIX) -> str:
    return f"{prefix}-{buy_id}"


def build_releases(
    *, buy: Mapping[str, Any], events: Iterable[Mapping[str, Any]], names: Mapping[str, str], ocid: str
) -> list[dict[str, Any]]:
    """Every release the buy has published so far, oldest first. `buy` has buy_id, lead and terms;
    `events` are log rows (seq, at, type, data) in seq order; `names` maps GSS codes to names."""
    p = Process(buy_id=buy["buy_id"], lead=buy["lead"], terms=buy["terms"])
    releases: list[dict[str, Any]] = []
    live_demand: Mapping[str, Any] | None = None
    for e in events:
        tags = apply(p, e)
        if tags:
            releases.append(release(p, e, tags, names=names, ocid=ocid))
            live_demand = None
        elif e["type"] in ("demand.registered", "demand.withdrawn") and p.stage == "demand":
            live_demand = e
    if live_demand is not None:
        releases.append(release(p, live_demand, ["tenderUpdate"], names=names, ocid=ocid))
    return releases


def build_package(*, uri: str, releases: list[dict[str, Any]], publisher: str = PUBLISHER) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "extensions": list(EXTENSIONS),
        "publishedDate": releases[-1]["date"],  # releases are in log order: the last change
        "publisher": {"name": publisher},
        "releases": releases,
    }
