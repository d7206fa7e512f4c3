"""Events handed to others: ``takedown events export``.

An export is the events of one kind (or of every kind) on the UTC days
``date_from``..``date_to``, both included (by default the first and last
day stored), one row per event, with

- the stored columns of that kind (:data:`takedown.events.COLUMNS`; for
  every kind, their union: a column a kind lacks is empty), then ``kind``
  and ``date`` (the UTC day of ``time``);
- where the source address is, from the report's enriched views
  (:mod:`takedown.analytics.dataset`): ``cc``, ``asn``, ``as_name``, and for
  DNS events ``dga_date``.

Rows come day by day, each day ordered by ``time``: the output is in time
order while only one day is ever sorted, and is written as it is read
(:mod:`takedown.analytics.output`). The days are the ``date=`` directories of
the store, so days without events cost nothing. The query runs on the same
read-only connection as ``takedown events sql`` (:mod:`takedown.analytics.sql`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO

import duckdb

from takedown.analytics.dataset import IpLookup
from takedown.analytics.output import FORMATS, check_format, check_output, deliver
from takedown.analytics.sql import read_only
from takedown.errors import QueryError
from takedown.events import CHECKIN_KINDS, COLUMNS
from takedown.store.reader import event_files, local_only

#: DuckDB's memory for an export: a day's sort beyond it spills to disk
#: (measured: a day of 1M check-ins sorted in 256MB, peak RSS 0.6 GB).
MEMORY_LIMIT = "512MB"
#: Enrichment columns an export adds, after the stored ones.
PLACE = ("cc", "asn", "as_name")


def columns(kind: str | None) -> list[str]:
    """The columns of an export of ``kind`` (every kind when None), in order."""
    kinds = list(COLUMNS) if kind is None else [kind]
    names: dict[str, None] = {}
    for k in kinds:
        names.update((c.name, None) for c in COLUMNS[k])
    extra = [*PLACE, "dga_date"] if "dns" in kinds else list(PLACE)
    return [*names, "kind", "date", *extra]


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in COLUMNS:
        raise QueryError(f"--kind: unknown kind {kind!r} (known: {', '.join(sorted(COLUMNS))})")


def stored_days(storage: Path, kind: str | None, date_from: date | None, date_to: date | None) -> list[date]:
    """The UTC days with files of ``kind`` within the bounds, in order (from the directory names)."""
    days = set()
    for f in event_files(storage, kind):
        try:
            day = date.fromisoformat(f.parent.name.removeprefix("date="))
        except ValueError:  # not a day partition: nothing a reader would count either
            continue
        if (date_from is None or day >= date_from) and (date_to is None or day <= date_to):
            days.add(day)
    return sorted(days)


def _source(kind: str | None) -> str:
    if kind == "dns":
        return "resolvers"
    if kind in CHECKIN_KINDS:
        return "checkins"
    return "(SELECT * FROM checkins UNION ALL BY NAME SELECT * FROM resolvers)"


def _relations(con: duckdb.DuckDBPyConnection, kind: str | None, days: list[date]) -> Iterator[duckdb.DuckDBPyRelation]:
    cols = ", ".join(f'"{c}"' for c in columns(kind))
    where = [] if kind is None else [f"kind = '{kind}'"]  # checked against COLUMNS: no quote can be in it
    if not days:  # still one relation: the header, the Parquet schema
        yield con.sql(f"SELECT {cols} FROM {_source(kind)} WHERE false")
    for day in days:
        cond = " AND ".join([f"date = DATE '{day.isoformat()}'", *where])
        yield con.sql(f"SELECT {cols} FROM {_source(kind)} WHERE {cond} ORDER BY time")


def export(
    storage: Path,
    *,
    fmt: str,
    enricher: Callable[[], IpLookup],
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    out: Path | None = None,
    stdout: BinaryIO | None = None,
) -> int:
    """Write the export (see the module doc) in ``fmt`` to ``out``, or to
    ``stdout`` for the text formats; return the rows written. Raises
    :class:`QueryError` (one line) for a bad kind, period or format, Parquet
    without ``out``, an ``out`` inside the store, an unreadable store."""
    check_format(fmt, FORMATS)
    check_kind(kind)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise QueryError(f"empty period: --from {date_from} is after --to {date_to}")
    check_output(out, fmt, storage)
    local_only(storage, "events export")
    days = stored_days(storage, kind, date_from, date_to)
    with read_only(storage, enriched=True, enricher=enricher, memory_limit=MEMORY_LIMIT,
                   date_from=days[0] if days else date_from, date_to=days[-1] if days else date_to) as con:
        return deliver(_relations(con, kind, days), fmt, out, stdout)
