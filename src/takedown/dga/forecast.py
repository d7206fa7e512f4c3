"""Forecasts: the names of a family for a range of days, period by period."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from takedown.dga.base import DgaError, Family

#: More days than this in one forecast is almost certainly a typo in a date.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    family: str
    start: date
    end: date  # last day the names are used
    names: list[str]


def forecast(family: Family, first: date, last: date, params: dict[str, Any] | None = None) -> list[Period]:
    """The periods of ``family`` that overlap ``first``..``last`` (UTC days, inclusive)."""
    if last < first:
        raise DgaError(f"--to {last} is before --date {first}")
    if (last - first).days > MAX_DAYS:
        raise DgaError(f"{(last - first).days + 1} days asked; at most {MAX_DAYS + 1} at once")
    resolved = family.resolve(params or {})
    out = []
    computed: dict = {}  # seed_key -> names (date-independent families, date groups)
    start = family.period_start(first, resolved)
    while start <= last:
        end = family.period_end(start, resolved)
        key = family.seed_key(start, resolved)
        if key not in computed:
            computed[key] = family.names(start, **resolved)
        out.append(Period(family.name, start, end, computed[key]))
        start = end + timedelta(days=1)
    return out


def render(periods: list[Period], fmt: str) -> str:
    """txt: one name per line in generation order; csv: family,period_start,period_end,index,name; json."""
    if fmt == "txt":
        return "".join(f"{n}\n" for p in periods for n in p.names)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["family", "period_start", "period_end", "index", "name"])
        for p in periods:
            for i, n in enumerate(p.names):
                w.writerow([p.family, p.start.isoformat(), p.end.isoformat(), i, n])
        return buf.getvalue()
    return json.dumps([{"family": p.family, "period_start": p.start.isoformat(), "period_end": p.end.isoformat(),
                        "names": p.names} for p in periods], indent=1) + "\n"
