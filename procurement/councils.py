"""Reading the mySociety / ONS register of UK local authorities (CSV) into councils."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from pydantic import BaseModel, ConfigDict

from procurement.errors import invalid

# A council's GSS code (ONS): E, N, S or W and eight digits, e.g. E06000001.
GSS_PATTERN = r"^[ENSW]\d{8}$"
GSS_CODE = re.compile(GSS_PATTERN)
REQUIRED_COLUMNS = (
    "local-authority-code",
    "official-name",
    "nice-name",
    "gss-code",
    "nation",
    "current-authority",
)


class Council(BaseModel):
    model_config = ConfigDict(frozen=True)

    gss_code: str
    local_authority_code: str
    official_name: str
    nice_name: str
    nation: str
    region: str = ""
    authority_type: str = ""
    start_date: date | None = None
    end_date: date | None = None
    is_current: bool


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def parse_local_authorities(text: str, *, include_former: bool = False) -> list[Council]:
    """Parse the register; former authorities are skipped unless asked for. Raises on bad input."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _parse(reader, include_former)
    except csv.Error as err:  # e.g. a field longer than the csv module allows
        raise invalid(f"line {reader.line_num + 1}: not readable as CSV: {err}", field="body") from err


def _parse(reader: csv.DictReader[str], include_former: bool) -> list[Council]:
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise invalid(f"not a local-authority register: missing columns {missing}", field="body")
    councils = []
    for line, row in enumerate(reader, start=2):
        short = [c for c in REQUIRED_COLUMNS if row.get(c) is None]
        if short:
            raise invalid(f"line {line}: the row ends before the columns {short}", field="body")
        current = row["current-authority"].strip().lower() == "true"
        if not current and not include_former:
            continue
        gss = row["gss-code"].strip()
        if not GSS_CODE.match(gss):
            if not current:
                continue  # some long-gone authorities never had a GSS code
            raise invalid(f"line {line}: {gss!r} is not a GSS code", field="body")
        try:
            councils.append(
                Council(
                    gss_code=gss,
                    local_authority_code=row["local-authority-code"].strip(),
                    official_name=row["official-name"].strip(),
                    nice_name=row["nice-name"].strip() or row["official-name"].strip(),
                    nation=row["nation"].strip(),
                    region=(row.get("region") or "").strip(),
                    authority_type=(row.get("local-authority-type-name") or "").strip(),
                    start_date=_date((row.get("start-date") or "").strip()),
                    end_date=_date((row.get("end-date") or "").strip()),
                    is_current=current,
                )
            )
        except ValueError as err:
            raise invalid(f"line {line}: {err}", field="body") from err
    return councils
