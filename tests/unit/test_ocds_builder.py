"""The OCDS release package as a pure function of a buy's event log: one release per publication
point, each a snapshot that never changes afterwards, valid against Find a Tender's UK profile (OCDS
1.1.5 with the UK extension) and its codelists, and never a sealed fact (losing bids, scores,
baselines, a winner's other prices)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from api.ocds import build_package, build_releases, ocid_for

REPO = Path(__file__).resolve().parents[2]
OCDS_DIR = REPO / "tests" / "data" / "ocds" / "uk-profile"
E1, E2, E3, LEAD = "E06000001", "E06000002", "E06000003", "LEAD-1"
S1, S2, S3 = "10000001", "10000002", "10000003"  # S3 bids and never wins
NAMES = {E1: "Hartlepool Borough Council", E2: "Middlesbrough Borough Council", E3: "Redcar Council"}
TERMS: dict[str, Any] = {
    "title": "Laptops for 2027",
    "description": "Business laptops and monitors",
    "cpv_code": "30213100",
    "lots": [
        {"id": "laptops", "title": "14-inch laptop", "unit": "device"},
        {"id": "monitors", "title": "27-inch monitor", "unit": "device"},
    ],
    "estimated_value_gbp": "1800000.00",
    "demand_closes_at": "2027-01-15T17:00:00Z",
    "sign_up_window": "P7D",
    "negotiation": {"rounds": 3},
    "award": {"price_weight": 60, "quality_weight": 30, "social_value_weight": 10},
    "contract_years": 2,
}
BUY = {"buy_id": "jb-0001", "lead": LEAD, "terms": TERMS}
OCID = "ocds-jointbuy-jb-0001"
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
# Facts that must never be published, all present in the log below (S3's prices, scores and ranks;
# baselines and budgets; a winner's other prices).
SEALED = ["861.37", "870.41", "193.99", "950.17", "215.33", "88.41", "899.99", "1234.56", "41.5"]


# --- the UK-profile schema and codelists (test data under tests/data; they do not ship with the product) ---


def ocds_dir() -> Path:
    return OCDS_DIR


@cache
def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    root = ocds_dir()
    package = json.loads((root / "release-package-schema.json").read_text())
    release = json.loads((root / "release-schema.json").read_text())
    return package, release


@cache
def _validator() -> Draft4Validator:
    """The package schema, its `$ref` to the release schema resolved offline by the schemas' own ids."""
    package, release = _schemas()
    registry: Registry[Any] = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4))
        for schema in (package, release)
    )
    return Draft4Validator(package, registry=registry, format_checker=_formats())


def _formats() -> FormatChecker:
    """date-time and uri checked here (jsonschema's own checkers need optional packages)."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or (
            "T" in value and datetime.fromisoformat(value).tzinfo is not None
        )

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)

    return checker


@cache
def codelist(name: str) -> frozenset[str]:
    with (ocds_dir() / "codelists" / name).open(newline="") as f:
        return frozenset(row["Code"] for row in csv.DictReader(f))


def coded_values(schema: dict[str, Any], node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, codelist, value) for every field of `node` whose schema names a codelist, walking the
    release schema alongside the data (through its `$ref`s)."""
    _, release = _schemas()
    while "$ref" in schema:
        schema = release["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(node, dict):
        for key, value in node.items():
            prop = schema.get("properties", {}).get(key)
            if prop is None:
                continue
            if "codelist" in prop:
                for v in value if isinstance(value, list) else [value]:
                    yield f"{path}.{key}", prop["codelist"], v
            yield from coded_values(prop, value, f"{path}.{key}")
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(node):
            yield from coded_values(schema["items"], value, f"{path}[{i}]")


def assert_valid(package: dict[str, Any]) -> None:
    """Valid against the UK profile's release-package-schema.json (releases against its
    release-schema.json), declaring the profile's extensions, and every code used, in a closed or an
    open codelist, is in that codelist."""
    errors = sorted(_validator().iter_errors(package), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    declared = json.loads((ocds_dir() / "extensions.json").read_text())
    assert set(declared) <= set(package["extensions"])
    _, release_schema = _schemas()
    for r in package["releases"]:
        found = list(coded_values(release_schema, r))
        assert found
        wrong = [(path, name, v) for path, name, v in found if v is not None and v not in codelist(name)]
        assert not wrong, wrong
        party_ids = [p["id"] for p in r["parties"]]
        assert len(party_ids) == len(set(party_ids))
        assert {ref["id"] for ref in references(r)} <= set(party_ids)
        for party in r["parties"]:
            if "buyer" in party["roles"]:
                assert party["details"]["classifications"] == [
                    {
                        "scheme": "UK_CA_TYPE",
                        "id": "publicAuthoritySubCentralGovernment",
                        "description": "Public authority - sub-central government",
                    }
                ]
                assert party["identifier"]["scheme"] == "GB-GSS"
                assert party["identifier"]["id"] == party["id"]
            if {"tenderer", "supplier"} & set(party["roles"]):
                assert party["identifier"]["scheme"] == "GB-COH"
                assert party["id"] == f"GB-COH-{party['identifier']['id']}"
        assert {c for _, c, _ in found} >= {"releaseTag.csv", "tenderStatus.csv", "partyRole.csv"}


def notices(package: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(release tag, noticeType, documentType) of every notice document, in release order."""
    out = []
    for r in package["releases"]:
        docs = list(r["tender"].get("documents", []))
        for part in r.get("awards", []) + r.get("contracts", []):
            docs += part.get("documents", [])
        out += [(r["tag"][0], d["noticeType"], d["documentType"]) for d in docs]
    return out


def items(r: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from r["tender"]["items"]
    for part in r.get("awards", []) + r.get("contracts", []):
        yield from part["items"]


def amounts(node: Any) -> Iterator[dict[str, Any]]:
    """Every Value object ({amount, currency}) anywhere in `node`."""
    if isinstance(node, dict):
        if "amount" in node:
            yield node
        for v in node.values():
            yield from amounts(v)
    elif isinstance(node, list):
        for v in node:
            yield from amounts(v)


def references(r: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield r["tender"]["procuringEntity"]
    yield from r["tender"].get("tenderers", [])
    for a in r.get("awards", []):
        yield from a["suppliers"]
    for c in r.get("contracts", []):
        yield c["buyer"]


# --- a buy's event log ---------------------------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, **data: Any) -> dict[str, Any]:
        seq = len(self.events) + 1
        event = {"seq": seq, "at": T0 + timedelta(hours=seq), "type": kind, "data": data}
        self.events.append(event)
        return event

    def stage(self, frm: str, to: str, deadline: str | None = None) -> dict[str, Any]:
        return self.add("stage.changed", **{"from": frm, "to": to, "deadline": deadline, "reason": "test"})

    def releases(self, upto: int | None = None) -> list[dict[str, Any]]:
        return build_releases(buy=BUY, events=self.events[:upto], names=NAMES, ocid=OCID)

    def package(self, upto: int | None = None) -> dict[str, Any]:
        return build_package(
            uri=f"https://jointbuy.example/v1/joint-buys/{BUY['buy_id']}/ocds", releases=self.releases(upto)
        )


def notice(lots: dict[str, tuple[str, str, int]], contracts_from: str = "2027-03-01") -> dict[str, Any]:
    """award.notice data: lot -> (winner, unit price, committed quantity)."""
    return {
        "lots": {
            lot: {
                "company_number": winner,
                "unit_price": price,
                "committed_quantity": qty,
                "value": str(Decimal(price) * qty),
                "total_score": "88.41",
                "tenders": 3,
            }
            for lot, (winner, price, qty) in lots.items()
        },
        "standstill": {
            "notice_on": "2027-02-15",
            "working_days": 8,
            "calendar": "england-and-wales",
            "last_day": "2027-02-24",
            "contracts_from": contracts_from,
        },
    }


def contract(log: Log, council: str, lot: str, supplier: str, qty: int, price: str) -> None:
    log.add(
        "contract.created",
        company_number=supplier,
        council=council,
        lot=lot,
        supplier=supplier,
        quantity=qty,
        unit_price=price,
        total=str(Decimal(price) * qty),
        baseline_unit_price="950.17",
        baseline_total="1234.56",
        saving="1234.56",
        standalone_unit_price="899.99",
        aggregation_dividend="1234.56",
    )


def to_evaluation() -> Log:
    """Demand from three councils (one withdraws), two sign up, three suppliers bid."""
    log = Log()
    log.add("buy.created", terms=TERMS)
    log.stage("draft", "demand", "2027-01-15T17:00:00+00:00")
    for number, name in ((S1, "Alpha Ltd"), (S2, "Beta Ltd"), (S3, "Gamma Ltd")):
        log.add("supplier.registered", company_number=number, name=name)
    lines = [
        {
            "lot_id": "laptops",
            "quantity": 60,
            "baseline_unit_price": "950.17",
            "budget_ceiling_gbp": "1234.56",
        },
        {"lot_id": "monitors", "quantity": 30, "baseline_unit_price": "215.33"},
    ]
    log.add("demand.registered", council=E1, lines=lines)
    log.add(
        "demand.registered",
        council=E2,
        lines=[{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "950.17"}],
    )
    log.add(
        "demand.registered",
        council=E3,
        lines=[{"lot_id": "laptops", "quantity": 50, "baseline_unit_price": "950.17"}],
    )
    log.add("demand.withdrawn", council=E3)
    log.add("demand.closed", how="closed early", aggregate={})
    log.stage("demand", "sign_up", "2027-01-22T17:00:00+00:00")
    log.add(
        "sign_up.confirmed",
        council=E1,
        lines=[{"lot_id": "laptops", "quantity": 55}, {"lot_id": "monitors", "quantity": 30}],
    )
    log.add("sign_up.confirmed", council=E2, lines=[{"lot_id": "laptops", "quantity": 70}])
    log.add("sign_up.closed", how="deadline", dropped_out=[], aggregate={})
    log.stage("sign_up", "assurance")
    log.stage("assurance", "negotiation", "2027-02-01T17:00:00+00:00")
    for number, lot, price in (
        (S3, "laptops", "861.37"),
        (S1, "laptops", "870.41"),
        (S3, "monitors", "193.99"),
    ):
        log.add(
            "bid.submitted",
            company_number=number,
            lot_id=lot,
            round=1,
            tiers=[{"min_quantity": 1, "unit_price": price}],
            evaluated_unit_price=price,
            previous_unit_price=None,
        )
    log.add("round.closed", round=1, how="early", bids={}, ranks={"laptops": {S3: 1, S1: 2}})
    log.stage("negotiation", "evaluation")
    log.add("score.entered", company_number=S3, lot_id="laptops", quality=41, social_value=37)
    for lot, assessed in (("laptops", (S2, S3, S1)), ("monitors", (S1, S3))):
        for rank, number in enumerate(assessed, start=1):
            log.add(
                "assessment.summary",
                company_number=number,
                lot_id=lot,
                rank=rank,
                own={"evaluated_unit_price": "861.37", "total_score": "88.41", "quality": "41.5"},
            )
    return log


def awarded() -> Log:
    """The same buy to the end: laptops to S2, monitors to S1, three contracts."""
    log = to_evaluation()
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125), "monitors": (S1, "188.20", 30)}))
    log.stage("evaluation", "standstill", "2027-03-01T00:00:00+00:00")
    contract(log, E1, "laptops", S2, 55, "845.50")
    contract(log, E1, "monitors", S1, 30, "188.20")
    contract(log, E2, "laptops", S2, 70, "845.50")
    log.add("buy.awarded", lots={}, totals={})
    log.stage("standstill", "awarded")
    return log


def quantities(r: dict[str, Any]) -> dict[str, int]:
    return {item["id"]: item["quantity"] for item in r["tender"]["items"]}


def by_id(parts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in parts}


# --- tests ---------------------------------------------------------------------------------------


def test_one_release_per_publication_point() -> None:
    log = awarded()
    releases = log.releases()
    assert [r["tag"] for r in releases] == [
        ["tender"],
        ["tenderUpdate"],
        ["tenderUpdate"],
        ["award"],
        ["contract"],
        ["contract"],
        ["contract"],
        ["awardUpdate", "contractUpdate"],
    ]
    point_seqs = [
        e["seq"]
        for e in log.events
        if e["type"] in ("award.notice", "contract.created")
        or e["data"].get("to") in ("demand", "sign_up", "assurance", "awarded")
    ]
    assert [r["id"] for r in releases] == [
        f"{OCID}-{seq}-{r['tag'][0]}" for seq, r in zip(point_seqs, releases, strict=True)
    ]
    assert {r["ocid"] for r in releases} == {OCID}
    assert [r["date"] for r in releases] == [log.events[s - 1]["at"].isoformat() for s in point_seqs]
    assert log.package()["publishedDate"] == releases[-1]["date"]
    assert log.releases() == releases, "the same log gives the same releases"


def test_nothing_is_published_before_demand_opens() -> None:
    log = Log()
    log.add("buy.created", terms=TERMS)
    assert log.releases() == []


def test_quantities_are_indicative_until_sign_up_closes_then_committed() -> None:
    tender, demand_closed, committed, *_ = awarded().releases()
    assert quantities(tender) == {"laptops": 0, "monitors": 0}
    assert quantities(demand_closed) == {"laptops": 130, "monitors": 30}  # E3 withdrew its 50
    assert quantities(committed) == {"laptops": 125, "monitors": 30}
    assert [lot["description"] for lot in committed["tender"]["lots"]] == [
        "125 × device: committed by 2 councils",
        "30 × device: committed by 1 council",
    ]
    assert committed["tender"]["tenderPeriod"] == {
        "startDate": tender["date"],
        "endDate": committed["date"],
    }


def test_while_demand_is_open_the_latest_aggregate_is_a_tender_update() -> None:
    log = to_evaluation()
    withdrawn = next(e for e in log.events if e["type"] == "demand.withdrawn")
    releases = log.releases(upto=withdrawn["seq"])
    assert [r["tag"] for r in releases] == [["tender"], ["tenderUpdate"]]
    assert releases[-1]["id"] == f"{OCID}-{withdrawn['seq']}-tenderUpdate"
    assert releases[-1]["date"] == withdrawn["at"].isoformat()
    assert quantities(releases[-1]) == {"laptops": 130, "monitors": 30}
    # Councils are named only once they have committed.
    assert [p["id"] for p in releases[-1]["parties"]] == [LEAD]
    assert releases[-1]["tender"]["tenderPeriod"] == {
        "startDate": releases[0]["date"],
        "endDate": "2027-01-22T17:00:00+00:00",  # demand closes, then seven days of sign-up
    }


def test_a_release_once_published_never_changes() -> None:
    log = awarded()
    final = by_id(log.releases())
    superseded = set()
    for upto in range(1, len(log.events) + 1):
        for r in log.releases(upto):
            if r["id"] in final:
                assert r == final[r["id"]], f"release {r['id']} changed after event {upto}"
            else:
                superseded.add(r["id"])
                assert r["tag"] == ["tenderUpdate"] and r["tender"]["status"] == "active"
    demand_changes = [e["seq"] for e in log.events if e["type"].startswith("demand.") and e["seq"] < 10]
    assert superseded == {f"{OCID}-{seq}-tenderUpdate" for seq in demand_changes}
    assert len(superseded) == 4, "each demand change while demand is open, replaced by the next"


def notice_seq(log: Log) -> int:
    seq: int = next(e["seq"] for e in log.events if e["type"] == "award.notice")
    return seq


def test_awards_are_pending_in_standstill_and_active_once_awarded() -> None:
    log = awarded()
    releases = log.releases()
    award_release, contract_release = releases[3], releases[-1]
    pending = by_id(award_release["awards"])
    n = notice_seq(log)
    assert {i: (a["status"], a["value"]) for i, a in pending.items()} == {
        f"laptops-{n}": ("pending", {"amount": 105687.5, "currency": "GBP"}),
        f"monitors-{n}": ("pending", {"amount": 5646, "currency": "GBP"}),
    }
    laptops = pending[f"laptops-{n}"]
    assert laptops["suppliers"] == [{"id": f"GB-COH-{S2}", "name": "Beta Ltd"}]
    assert laptops["relatedLots"] == ["laptops"]
    assert laptops["items"][0]["quantity"] == 125
    assert laptops["items"][0]["unit"] == {"name": "device", "value": {"amount": 845.5, "currency": "GBP"}}
    assert laptops["contractPeriod"] == {
        "startDate": "2027-03-01T00:00:00+00:00",
        "endDate": "2029-02-28T23:59:59+00:00",
    }
    assert laptops["standstillPeriod"] == {
        "startDate": award_release["date"],
        "endDate": "2027-02-24T23:59:59+00:00",  # the end of the last working day, UK time
    }
    summaries = [e for e in log.events if e["type"] == "assessment.summary"]
    assert laptops["assessmentSummariesDateSent"] == summaries[2]["at"].isoformat()
    assert pending[f"monitors-{n}"]["assessmentSummariesDateSent"] == summaries[-1]["at"].isoformat()
    assert laptops["aboveThreshold"] is True  # £1.8m against £207,720
    assert laptops["documents"] == [
        {
            "id": f"UK6-{n}-laptops",
            "documentType": "awardNotice",
            "noticeType": "UK6",
            "title": "Contract award notice: Laptops for 2027",
            "datePublished": award_release["date"],
            "language": "en",
            "relatedLots": ["laptops"],
        }
    ]
    assert "contracts" not in award_release
    assert award_release["tender"]["status"] == "active"
    assert contract_release["tender"]["status"] == "complete"
    assert {lot["status"] for lot in contract_release["tender"]["lots"]} == {"complete"}
    assert {a["status"] for a in contract_release["awards"]} == {"active"}


def test_one_contract_per_council_per_lot_linked_to_its_award() -> None:
    log = awarded()
    release = log.releases()[-1]
    awards = by_id(release["awards"])
    contracts = release["contracts"]
    n = notice_seq(log)
    assert [(c["id"], c["awardID"], c["buyer"]["id"], c["value"]["amount"]) for c in contracts] == [
        ("laptops-E06000001", f"laptops-{n}", E1, 46502.5),
        ("monitors-E06000001", f"monitors-{n}", E1, 5646),
        ("laptops-E06000002", f"laptops-{n}", E2, 59185),
    ]
    for lot_award in awards.values():
        linked = [c for c in contracts if c["awardID"] == lot_award["id"]]
        assert sum(Decimal(str(c["value"]["amount"])) for c in linked) == Decimal(
            str(lot_award["value"]["amount"])
        )
    assert contracts[0]["buyer"] == {"id": E1, "name": NAMES[E1]}
    assert contracts[0]["title"] == "14-inch laptop for Hartlepool Borough Council"
    assert contracts[0]["items"][0]["quantity"] == 55
    roles = {p["id"]: p["roles"] for p in release["parties"]}
    assert roles == {
        LEAD: ["procuringEntity"],
        E1: ["buyer"],
        E2: ["buyer"],
        f"GB-COH-{S1}": ["tenderer", "supplier"],
        f"GB-COH-{S2}": ["tenderer", "supplier"],
        f"GB-COH-{S3}": ["tenderer"],
    }
    assert by_id(release["parties"])[E1]["identifier"] == {
        "scheme": "GB-GSS",
        "id": E1,
        "legalName": NAMES[E1],
    }
    assert "buyer" not in release, "many councils buy: each is a buyer party and its contract's buyer"


def test_sealed_facts_are_never_published() -> None:
    log = awarded()
    text = json.dumps(log.package())
    for sealed in SEALED:
        assert sealed not in text
    # The log itself does carry them: the builder leaves them out.
    assert all(sealed in json.dumps(log.events, default=str) for sealed in SEALED)


def test_money_is_a_number_in_pounds() -> None:
    package = awarded().package()
    values = [m for r in package["releases"] for m in amounts(r)]
    assert values and all(type(m["amount"]) in (int, float) and m["currency"] == "GBP" for m in values)
    assert package["releases"][0]["tender"]["value"] == {"amount": 1800000, "currency": "GBP"}


def test_an_upheld_challenge_withdraws_the_award_and_a_new_one_follows() -> None:
    log = to_evaluation()
    first = log.add(
        "award.notice", **notice({"laptops": (S2, "845.50", 125), "monitors": (S1, "188.20", 30)})
    )
    log.stage("evaluation", "standstill")
    log.add("challenge.lodged", challenge_id="ch-1", company_number=S1, grounds="scores", working_days_left=6)
    log.stage("standstill", "suspended")
    log.add(
        "challenge.decided",
        challenge_id="ch-1",
        company_number=S1,
        outcome="upheld",
        note="",
        remedy="re-evaluate",
        corrected_scores=[],
    )
    log.stage("suspended", "evaluation")
    second = log.add(
        "award.notice",
        **notice({"laptops": (S1, "850.00", 125), "monitors": (S1, "188.20", 30)}, "2027-03-10"),
    )
    log.stage("evaluation", "standstill")
    contract(log, E1, "laptops", S1, 55, "850.00")
    log.stage("standstill", "awarded")
    releases = log.releases()
    assert [r["tag"] for r in releases][3:] == [
        ["award"],
        ["awardCancellation"],
        ["award"],
        ["contract"],
        ["awardUpdate", "contractUpdate"],
    ]
    assert {a["id"]: a["status"] for a in releases[3]["awards"]} == {
        f"laptops-{first['seq']}": "pending",
        f"monitors-{first['seq']}": "pending",
    }
    assert {a["status"] for a in releases[4]["awards"]} == {"cancelled"}
    final = by_id(releases[-1]["awards"])
    assert {i: a["status"] for i, a in final.items()} == {
        f"laptops-{first['seq']}": "cancelled",
        f"monitors-{first['seq']}": "cancelled",
        f"laptops-{second['seq']}": "active",
        f"monitors-{second['seq']}": "active",
    }
    assert releases[-1]["contracts"][0]["awardID"] == f"laptops-{second['seq']}"
    assert releases[-1]["contracts"][0]["period"]["startDate"] == "2027-03-10T00:00:00+00:00"
    assert releases[-1]["tender"]["awardPeriod"] == {
        "startDate": releases[3]["tender"]["awardPeriod"]["startDate"],
        "endDate": second["at"].isoformat(),
    }


def test_cancelled_in_standstill_cancels_the_tender_and_the_pending_awards() -> None:
    log = to_evaluation()
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125)}))
    log.stage("evaluation", "standstill")
    log.add("buy.cancelled", reason="budget withdrawn", stage="standstill")
    log.stage("standstill", "cancelled")
    last = log.releases()[-1]
    assert last["tag"] == ["tenderCancellation", "awardCancellation"]
    assert last["tender"]["status"] == "cancelled"
    assert {lot["status"] for lot in last["tender"]["lots"]} == {"cancelled"}
    assert {a["status"] for a in last["awards"]} == {"cancelled"}


def test_unsuccessful_buy_and_lot() -> None:
    log = Log()
    log.add("buy.created", terms=TERMS)
    log.stage("draft", "demand")
    log.stage("demand", "unsuccessful")
    last = log.releases()[-1]
    assert last["tag"] == ["tenderUpdate"]
    assert last["tender"]["status"] == "unsuccessful"
    assert {lot["status"] for lot in last["tender"]["lots"]} == {"unsuccessful"}

    log = to_evaluation()
    closed = next(e for e in log.events if e["type"] == "sign_up.closed")
    log.events.insert(
        closed["seq"],
        {
            **closed,
            "type": "lot.unsuccessful",
            "data": {"lot_id": "monitors", "reason": "fewer than 50 committed"},
        },
    )
    committed = log.releases()[2]
    lots = by_id(committed["tender"]["lots"])
    assert (lots["monitors"]["status"], lots["laptops"]["status"]) == ("unsuccessful", "active")
    assert lots["monitors"]["description"].endswith("unsuccessful: fewer than 50 committed")


def test_contract_period_follows_uk_time() -> None:
    log = to_evaluation()
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125)}, contracts_from="2027-06-01"))
    period = log.releases()[-1]["awards"][0]["contractPeriod"]
    assert period == {"startDate": "2027-06-01T00:00:00+01:00", "endDate": "2029-05-31T23:59:59+01:00"}


def test_a_lead_that_is_also_a_council_is_one_party() -> None:
    log = awarded()
    releases = build_releases(buy=BUY | {"lead": E1}, events=log.events, names=NAMES, ocid=OCID)
    parties = releases[-1]["parties"]
    assert [p["id"] for p in parties].count(E1) == 1
    assert (parties[0]["id"], parties[0]["roles"]) == (E1, ["buyer", "procuringEntity"])
    assert parties[0]["details"]["classifications"][0]["id"] == "publicAuthoritySubCentralGovernment"


def test_ocid_uses_the_prefix() -> None:
    assert ocid_for("jb-1") == "ocds-jointbuy-jb-1"
    assert ocid_for("jb-1", "ocds-abc123") == "ocds-abc123-jb-1"


def test_every_package_along_the_way_is_valid_ocds() -> None:
    log = awarded()
    checked = 0
    for upto in range(2, len(log.events) + 1):
        assert_valid(log.package(upto))
        checked += 1
    assert checked == len(log.events) - 1


def test_the_validator_rejects_what_ocds_rejects() -> None:
    package = awarded().package()
    package["releases"][0]["tender"]["value"]["amount"] = "1800000"
    package["releases"][1]["tag"] = ["demand"]
    package["releases"][2]["date"] = "tomorrow"
    errors = {tuple(e.absolute_path) for e in _validator().iter_errors(package)}
    assert errors == {
        ("releases", 0, "tender", "value", "amount"),
        ("releases", 1, "tag", 0),
        ("releases", 2, "date"),
    }


# --- the statutory notices, for every way a buy ends --------------------------------------------


def dismissed_challenge() -> Log:
    """Awarded after a challenge that was dismissed: the standstill resumes, then contracts."""
    log = to_evaluation()
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125), "monitors": (S1, "188.20", 30)}))
    log.stage("evaluation", "standstill")
    log.add("challenge.lodged", challenge_id="ch-1", company_number=S3, grounds="scores", working_days_left=6)
    log.stage("standstill", "suspended")
    log.add(
        "challenge.decided",
        challenge_id="ch-1",
        company_number=S3,
        outcome="dismissed",
        note="the marks stand",
        remedy=None,
        corrected_scores=[],
    )
    log.add(
        "standstill.resumed",
        notice_on="2027-02-15",
        working_days=8,
        calendar="england-and-wales",
        last_day="2027-03-03",
        contracts_from="2027-03-04",
    )
    log.stage("suspended", "standstill")
    contract(log, E1, "laptops", S2, 55, "845.50")
    contract(log, E1, "monitors", S1, 30, "188.20")
    contract(log, E2, "laptops", S2, 70, "845.50")
    log.stage("standstill", "awarded")
    return log


def unsuccessful() -> Log:
    log = Log()
    log.add("buy.created", terms=TERMS)
    log.stage("draft", "demand")
    log.add("demand.closed", how="deadline", aggregate={})
    log.add(
        "stage.changed", **{"from": "demand", "to": "unsuccessful", "reason": "no council registered demand"}
    )
    return log


def cancelled() -> Log:
    log = to_evaluation()
    log.add("buy.cancelled", reason="budget withdrawn", stage="evaluation")
    log.add("stage.changed", **{"from": "evaluation", "to": "cancelled", "reason": "budget withdrawn"})
    return log


def one_lot_unsuccessful() -> Log:
    """Monitors fail at sign-up (too few committed); laptops go on to their contracts."""
    log = Log()
    for e in to_evaluation().events:
        if e["type"] == "assessment.summary" and e["data"]["lot_id"] == "monitors":
            continue
        if e["type"] == "sign_up.closed":
            log.add("lot.unsuccessful", lot_id="monitors", reason="fewer than 50 committed")
        log.add(e["type"], **e["data"])
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125)}))
    log.stage("evaluation", "standstill")
    contract(log, E1, "laptops", S2, 55, "845.50")
    contract(log, E2, "laptops", S2, 70, "845.50")
    log.stage("standstill", "awarded")
    return log


ENDINGS = {
    "awarded": (
        awarded,
        [("tender", "UK4", "tenderNotice"), ("award", "UK6", "awardNotice"), ("award", "UK6", "awardNotice")]
        + [("contract", "UK7", "contractNotice")] * 3,
    ),
    "awarded after a dismissed challenge": (
        dismissed_challenge,
        [("tender", "UK4", "tenderNotice"), ("award", "UK6", "awardNotice"), ("award", "UK6", "awardNotice")]
        + [("contract", "UK7", "contractNotice")] * 3,
    ),
    "unsuccessful": (
        unsuccessful,
        [("tender", "UK4", "tenderNotice"), ("tenderUpdate", "UK12", "tenderCancellationNotice")],
    ),
    "cancelled": (
        cancelled,
        [("tender", "UK4", "tenderNotice"), ("tenderCancellation", "UK12", "tenderCancellationNotice")],
    ),
    "one lot unsuccessful": (
        one_lot_unsuccessful,
        [("tender", "UK4", "tenderNotice"), ("award", "UK6", "awardNotice")]
        + [("contract", "UK7", "contractNotice")] * 2,
    ),
}


def test_every_ending_publishes_its_notices_in_the_uk_profile() -> None:
    for name, (make, expected) in ENDINGS.items():
        log = make()
        package = log.package()
        assert_valid(package)
        assert notices(package) == expected, name
        for upto in range(2, len(log.events) + 1):  # and every package on the way there
            assert_valid(log.package(upto))
        text = json.dumps(package)
        assert not [sealed for sealed in SEALED if sealed in text], name


def test_the_tender_notice_carries_lots_items_criteria_and_deadlines() -> None:
    uk4 = awarded().releases()[0]
    tender = uk4["tender"]
    assert tender["documents"] == [
        {
            "id": "UK4-2",
            "documentType": "tenderNotice",
            "noticeType": "UK4",
            "title": "Tender notice: Laptops for 2027",
            "datePublished": uk4["date"],
            "language": "en",
        }
    ]
    assert [lot["id"] for lot in tender["lots"]] == ["laptops", "monitors"]
    assert [(i["id"], i["relatedLot"], i["classification"]) for i in tender["items"]] == [
        ("laptops", "laptops", {"scheme": "CPV", "id": "30213100"}),
        ("monitors", "monitors", {"scheme": "CPV", "id": "30213100"}),
    ]
    criteria = tender["lots"][0]["awardCriteria"]["criteria"]
    assert [(c["type"], c["name"], c["numbers"]) for c in criteria] == [
        ("price", "Price", [{"number": 60, "weight": "percentageExact"}]),
        ("quality", "Quality", [{"number": 30, "weight": "percentageExact"}]),
        ("quality", "Social value", [{"number": 10, "weight": "percentageExact"}]),
    ]
    assert tender["tenderPeriod"] == {"startDate": uk4["date"], "endDate": "2027-01-22T17:00:00+00:00"}
    assert tender["expressionOfInterestDeadline"] == "2027-01-22T17:00:00+00:00"
    assert tender["aboveThreshold"] is True
    assert "tenderers" not in tender


def test_tenderers_are_named_from_the_award_notice_on_and_never_with_a_losing_price() -> None:
    log = awarded()
    releases = log.releases()
    before = json.dumps(releases[:3])
    for number in (S1, S2, S3):
        assert number not in before, "nobody is named as a tenderer before the award notice"
    award = releases[3]
    assert award["tender"]["tenderers"] == [
        {"id": f"GB-COH-{S1}", "name": "Alpha Ltd"},
        {"id": f"GB-COH-{S2}", "name": "Beta Ltd"},
        {"id": f"GB-COH-{S3}", "name": "Gamma Ltd"},
    ]
    assert award["tender"]["numberOfTenderers"] == 3
    gamma = by_id(award["parties"])[f"GB-COH-{S3}"]
    assert gamma == {
        "id": f"GB-COH-{S3}",
        "name": "Gamma Ltd",
        "identifier": {"scheme": "GB-COH", "id": S3, "legalName": "Gamma Ltd"},
        "roles": ["tenderer"],
    }
    # S3's only appearances are as a tenderer: no award, no price, no score.
    assert all(S3 not in json.dumps(a) for r in releases for a in r.get("awards", []))


def test_each_contract_details_notice_is_its_own_release_with_that_contract() -> None:
    log = awarded()
    uk7 = [r for r in log.releases() if r["tag"] == ["contract"]]
    assert [[(c["id"], c["documents"][0]["noticeType"]) for c in r["contracts"]] for r in uk7] == [
        [("laptops-E06000001", "UK7")],
        [("monitors-E06000001", "UK7")],
        [("laptops-E06000002", "UK7")],
    ]
    assert uk7[0]["contracts"][0]["documents"][0]["relatedLots"] == ["laptops"]
    assert uk7[0]["contracts"][0]["buyer"] == {"id": E1, "name": NAMES[E1]}


def test_a_dismissed_challenge_extends_the_published_standstill() -> None:
    releases = dismissed_challenge().releases()
    tags = [r["tag"] for r in releases]
    assert tags[3:5] == [["award"], ["awardUpdate"]]
    first, resumed = releases[3]["awards"][0], releases[4]["awards"][0]
    assert first["standstillPeriod"]["endDate"] == "2027-02-24T23:59:59+00:00"
    assert resumed["standstillPeriod"]["endDate"] == "2027-03-03T23:59:59+00:00"
    assert "documents" not in resumed, "the resumption is an update, not a new award notice"
    assert releases[-1]["contracts"][0]["period"]["startDate"] == "2027-03-04T00:00:00+00:00"


def test_a_termination_notice_says_why() -> None:
    for make, stage, reason in (
        (unsuccessful, "unsuccessful", "ended without an award: no council registered demand"),
        (cancelled, "cancelled", "cancelled: budget withdrawn"),
    ):
        last = make().releases()[-1]
        assert last["tender"]["status"] == stage
        (doc,) = last["tender"]["documents"]
        assert (doc["noticeType"], doc["description"]) == ("UK12", f"The procurement was {reason}")


def test_a_lot_that_fails_alone_is_marked_in_the_tender() -> None:
    last = one_lot_unsuccessful().releases()[-1]
    lots = by_id(last["tender"]["lots"])
    assert (lots["monitors"]["status"], lots["laptops"]["status"]) == ("unsuccessful", "complete")
    assert lots["monitors"]["description"].endswith("unsuccessful: fewer than 50 committed")
    assert last["tender"]["status"] == "complete"
    assert [a["relatedLots"] for a in last["awards"]] == [["laptops"]]


def test_the_checks_reject_what_the_uk_profile_rejects() -> None:
    package = awarded().package()
    package["releases"][0]["tender"]["lots"][0]["status"] = "open"  # a closed codelist
    package["releases"][3]["awards"][0]["standstillPeriod"]["endDate"] = "soon"
    errors = {tuple(e.absolute_path) for e in _validator().iter_errors(package)}
    assert errors == {
        ("releases", 0, "tender", "lots", 0, "status"),
        ("releases", 3, "awards", 0, "standstillPeriod", "endDate"),
    }
    package = awarded().package()
    package["releases"][0]["tender"]["documents"][0]["documentType"] = "noticeOfTender"  # an open one
    _, release_schema = _schemas()
    found = coded_values(release_schema, package["releases"][0])
    assert ("documentType.csv", "noticeOfTender") in {(c, v) for _, c, v in found}
    try:
        assert_valid(package)
    except AssertionError as err:
        assert "noticeOfTender" in str(err)
    else:
        raise AssertionError("an unknown documentType passed")


def test_a_lot_the_lead_cancels_is_marked_cancelled_and_the_rest_goes_on() -> None:
    log = to_evaluation()
    cancelled = log.add(
        "lot.cancelled",
        lot_id="monitors",
        reason_code="expensesCut",
        reason="budget moved to laptops",
        stage="evaluation",
        bids_set_aside=1,
        buy_cancelled=False,
    )
    log.add("award.notice", **notice({"laptops": (S2, "845.50", 125)}))
    package = log.package()
    assert_valid(package)
    update = next(r for r in package["releases"] if r["id"].startswith(f"{OCID}-{cancelled['seq']}-"))
    assert update["tag"] == ["tenderUpdate"]
    lots = by_id(package["releases"][-1]["tender"]["lots"])
    assert (lots["monitors"]["status"], lots["laptops"]["status"]) == ("cancelled", "active")
    assert lots["monitors"]["description"].endswith("cancelled (expensesCut): budget moved to laptops")
