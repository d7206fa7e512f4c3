"""The commands sent under a court's authority, for the operators' page
``/commands`` (docs/console.md): per UTC day, family, command and
authority, how many were sent and to how many addresses; a day's latest
command events; a day's events as CSV.

They are the ``kind=command`` events (takedown.events, ``COMMAND``): one
per command response the sinkhole sent, with the authority's id and the
SHA-256 of the bytes sent. Unique addresses are counted as the reports
count them (:mod:`takedown.analytics.queries`): by ``src_key`` when the
operation stores addresses pseudonymised, else by ``src_ip``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from takedown.analytics.dataset import period_condition
from takedown.errors import TakedownError
from takedown.operation import Authority, Operation
from takedown.store.reader import connect, event_files, operation_dataset, retry_vanished

__all__ = ["DayCount", "sent_any", "per_day", "latest", "day_csv", "authorities", "CSV_COLUMNS"]

KIND = "command"
#: a unique address: the keyed hash when the address is stored pseudonymised
_BOT = "coalesce(src_key, src_ip)"
#: the columns of a day's CSV, in order (``time`` as ISO 8601 UTC)
CSV_COLUMNS = ("time", "src_ip", "src_key", "src_port", "dst_ip", "dst_port", "sensor", "family", "rule", "host",
               "path", "user_agent", "command", "authority", "status", "command_sha256")
_LATEST = ("time", "src_ip", "src_key", "src_port", "family", "command", "authority", "status", "command_sha256")


@dataclass(frozen=True)
class DayCount:
    day: date
    family: str | None
    command: str | None
    authority: str | None
    events: int
    addresses: int


def sent_any(op: Operation) -> bool:
    """Whether any command event was ever stored (a listing, no Parquet read)."""
    return bool(event_files(operation_dataset(op), KIND))


def _query(op: Operation, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of ``sql`` over the view ``events`` of the command events; a day
    compacted meanwhile is read again, DuckDB's errors are one line."""

    def once() -> list[tuple]:
        con = connect(operation_dataset(op), KIND)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    try:
        return retry_vanished(once)
    except duckdb.Error as exc:
        raise TakedownError(f"cannot read the command events under {op.storage}: {str(exc).splitlines()[0]}") \
            from None


def per_day(op: Operation, date_from: date | None = None, date_to: date | None = None
            ) -> tuple[list[DayCount], dict[date, tuple[int, int]]]:
    """(one count per day, family, command and authority, newest day first;
    each day's totals: events and unique addresses over all its commands)."""
    where = period_condition(date_from, date_to)
    rows = _query(op, f"SELECT date, family, command, authority, count(*), count(DISTINCT {_BOT}) FROM events "
                      f"WHERE {where} GROUP BY ALL ORDER BY date DESC, family, command, authority")
    totals = _query(op, f"SELECT date, count(*), count(DISTINCT {_BOT}) FROM events WHERE {where} GROUP BY date")
    return [DayCount(*r) for r in rows], {d: (n, u) for d, n, u in totals}


def latest(op: Operation, day: date, limit: int) -> list[dict]:
    """The ``limit`` latest command events of ``day``, newest first."""
    rows = _query(op, f"SELECT {', '.join(_LATEST)} FROM events WHERE {period_condition(day, day)} "
                      "ORDER BY time DESC, src_ip, src_port LIMIT ?", [limit])
    return [dict(zip(_LATEST, r)) for r in rows]


def _iso(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t is not None else ""


def day_csv(op: Operation, day: date) -> tuple[bytes, int]:
    """(every command event of ``day`` as CSV, oldest first, header first; its number of events)."""
    rows = _query(op, f"SELECT {', '.join(CSV_COLUMNS)} FROM events WHERE {period_condition(day, day)} "
                      "ORDER BY time, src_ip, src_port")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([_iso(v) if i == 0 else ("" if v is None else v) for i, v in enumerate(r)])
    return out.getvalue().encode(), len(rows)


def authorities(op: Operation) -> dict[str, Authority] | None:
    """The ``[[case.authorities]]`` by id; None when the operation has no ``[case]``."""
    if op.case is None:
        return None
    return {a.id: a for a in op.case.authorities}
