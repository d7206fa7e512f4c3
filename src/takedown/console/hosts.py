"""The hosts summary: a day's infected addresses, enriched once, for the
partner portal's lists and figures.

Enriching every distinct address of eight weeks at every request cannot
answer a page in a few hundred milliseconds, so each closed UTC day is
summarised once into ``<storage>/console/hosts/date=YYYY-MM-DD/hosts.parquet``:
one row per (address, family) with

``day``, ``bot`` (the address, or its keyed hash under the privacy modes:
the dataset's ``bot``), ``ip4`` (IPv4 as an integer), ``ip6hi``/``ip6lo``
(an IPv6 address as two unsigned 64-bit halves; all three NULL for a
pseudonymised row), ``asn``, ``cc``, ``as_name``, ``family``, ``checkins``,
``first_seen``, ``last_seen``. The address is stored once, in ``bot``.

A closed ISO week whose seven days are all closed is summarised once more
into ``<storage>/console/hosts/week=YYYY-Www/hosts-<days>.parquet`` (``<days>``:
which of its seven days have events, ``1`` or ``0`` from Monday): the same
columns, one row per address, family and enrichment over the week, ``day``
its Monday. A period's whole weeks read these (a week's unique addresses are
then a count over one file), its other days the day files; the week file is
rebuilt when one of its day files is newer or the days with events change.
Answers that do not count by week (the address list) read *span files*
instead, ``weeks=YYYY-Www+N/hosts-<weeks>.parquet``: the week files of N
weeks (8, 4 or 2, aligned on the week count since 1970-01-05) merged the
same way, so eight weeks are one or two files of about one row per address.

The rows are sorted by (asn, ip4, ip6hi, ip6lo) in small row groups, so a
scope of a few ASes or prefixes (:func:`takedown.console.partnerdata.scope_sql`)
lets DuckDB skip most of the file on its min/max statistics. A day's file
is rebuilt when its event directory or files are newer than it (a late
segment, a compaction); the current UTC day is never written, it is
summarised live and kept in memory while its files do not change, or for
:data:`LIVE_REFRESH` seconds when they do.
The values are the dataset's own (:func:`takedown.analytics.dataset.open_dataset`),
so every count equals the same count over ``checkins``.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from takedown.analytics.dataset import arrow_table, open_dataset
from takedown.atomic import atomic_file
from takedown.enrich.addresses import parse
from takedown.enrich.choice import for_operation
from takedown.errors import TakedownError
from takedown.operation import Operation
from takedown.store.reader import is_remote, operation_dataset, roots

__all__ = ["summary_path", "week_path", "merge", "event_days", "summarise", "ensure", "version", "open_hosts", "connect_hosts",
           "ROW_GROUP"]

#: Rows per Parquet row group: small enough that a scope's AS or prefix
#: range lies in a few groups, large enough to keep the footer small.
ROW_GROUP = 16_384

_SCHEMA = pa.schema([
    ("day", pa.date32()), ("bot", pa.string()), ("ip4", pa.int64()),
    ("ip6hi", pa.uint64()), ("ip6lo", pa.uint64()), ("asn", pa.int64()), ("cc", pa.string()),
    ("as_name", pa.string()), ("family", pa.string()), ("checkins", pa.int64()),
    ("first_seen", pa.timestamp("us", tz="UTC")), ("last_seen", pa.timestamp("us", tz="UTC")),
])

#: Seconds the current day's live summary is kept although its files have
#: changed: at a few million check-ins a day it takes seconds to compute, and
#: the writers add a segment every few seconds.
LIVE_REFRESH = 60.0

#: The most weeks one span file merges (a power of two): eight weeks of a
#: partner's addresses are one or two files of about one row per address.
SPAN = 8
_EPOCH_MONDAY = date(1970, 1, 5)

#: Seconds a week file of another set of days is kept after its
#: replacement is written: a request that listed it just before still reads it.
STALE_GRACE = 600.0

# the current day's summary: {storage: (day, stamp, computed at, table)}
_LIVE: dict[str, tuple[date, float, float, pa.Table]] = {}
# one builder at a time: two requests must not write the same day's file together
_BUILD = threading.Lock()
# One DuckDB database for every request (a cursor each): Parquet footers
# read once stay in its metadata cache, so a request does not parse the
# footers of eight weeks of files again.
_DB: duckdb.DuckDBPyConnection | None = None
_DB_LOCK = threading.Lock()
_ORDER = ("asn", "ip4", "ip6hi", "ip6lo", "bot")


def summary_path(storage: Path, day: date) -> Path:
    return Path(storage) / "console" / "hosts" / f"date={day.isoformat()}" / "hosts.parquet"


def week_path(storage: Path, monday: date, days: str) -> Path:
    """The week file of the ISO week starting ``monday``; ``days`` marks its days with events."""
    y, w, _ = monday.isocalendar()
    return Path(storage) / "console" / "hosts" / f"week={y}-W{w:02d}" / f"hosts-{days}.parquet"


def event_days(storage) -> dict[date, float]:
    """Every day with event files (in any storage of the dataset), with the
    newest modification time of its directories and files (a compaction
    swaps the directory: its time moves)."""
    days: dict[date, float] = {}
    for d in (d for r in roots(storage) if not is_remote(r) for d in (Path(r) / "events").glob("kind=*/date=*")):
        try:
            day = date.fromisoformat(d.name.removeprefix("date="))
            stamp = max([d.stat().st_mtime, *(f.stat().st_mtime for f in d.glob("*.parquet"))])
        except (ValueError, OSError):
            continue  # not a day directory, or swapped away while listed
        days[day] = max(days.get(day, 0.0), stamp)
    return days


def summarise(op: Operation, day: date) -> pa.Table:
    """The hosts summary of one day, computed from its events."""
    con = open_dataset(operation_dataset(op), enricher=for_operation(op), date_from=day, date_to=day)
    try:
        t = arrow_table(con.sql("""
            SELECT day, bot, CASE WHEN src_key IS NULL THEN src_ip END AS ip, asn, cc, as_name, family,
                   count(*) AS checkins, min(time) AS first_seen, max(time) AS last_seen
            FROM checkins GROUP BY ALL"""))
    finally:
        con.close()
    ip = t.column("ip").combine_chunks() if t.num_rows else pa.array([], pa.string())
    p = parse(ip)
    ip4 = pa.array(p.v4.astype(np.int64), pa.int64(), mask=~p.is_v4) if len(ip) else pa.array([], pa.int64())
    hi = np.zeros(len(ip), np.uint64)
    lo = np.zeros(len(ip), np.uint64)
    is6 = np.zeros(len(ip), bool)
    if len(p.v6_rows):
        halves = np.frombuffer(p.v6_keys.tobytes(), dtype=">u8").reshape(-1, 2)
        hi[p.v6_rows], lo[p.v6_rows], is6[p.v6_rows] = halves[:, 0], halves[:, 1], True
    table = pa.table({
        "day": t.column("day"), "bot": t.column("bot"), "ip4": ip4,
        "ip6hi": pa.array(hi, pa.uint64(), mask=~is6), "ip6lo": pa.array(lo, pa.uint64(), mask=~is6),
        "asn": t.column("asn").cast(pa.int64()), "cc": t.column("cc"), "as_name": t.column("as_name"),
        "family": t.column("family"), "checkins": t.column("checkins").cast(pa.int64()),
        "first_seen": t.column("first_seen").cast(_SCHEMA.field("first_seen").type),
        "last_seen": t.column("last_seen").cast(_SCHEMA.field("last_seen").type),
    })
    return table.sort_by([(c, "ascending") for c in _ORDER]).cast(_SCHEMA)


def merge(files: list[Path], monday: date) -> pa.Table:
    """A week's (or a span's) summary from its day (or week) files: their
    rows merged per address, family and enrichment, ``day`` the first Monday
    (exact: the merged rows are this grouping's parts)."""
    con = connect_hosts(files, [])
    try:
        t = arrow_table(con.execute(f"""
            SELECT DATE '{monday.isoformat()}' AS day, bot, ip4, ip6hi, ip6lo, asn, cc, as_name, family,
                   sum(checkins)::BIGINT AS checkins, min(first_seen) AS first_seen, max(last_seen) AS last_seen
            FROM hosts GROUP BY ALL ORDER BY {", ".join(_ORDER)}"""))
    finally:
        con.close()
    return t.cast(_SCHEMA)


def _write(path: Path, table: pa.Table) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TakedownError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    with atomic_file(path) as f:
        pq.write_table(table, f, row_group_size=ROW_GROUP, compression="zstd")


def ensure(op: Operation, date_from: date | None = None, date_to: date | None = None, *,
           today: date | None = None, weeks: bool = True, spans: bool = False) -> tuple[list[Path], list[pa.Table]]:
    """(the summary files of the closed days of the period, built or rebuilt
    as needed; the current day's summary, computed live, if in the period).
    With ``weeks``, a closed ISO week inside the period is one week file
    instead of its day files (the rows have the week's Monday as ``day``);
    with ``spans`` too, aligned runs of such weeks are one span file each
    (for answers that do not count by week)."""
    today = today or datetime.now(timezone.utc).date()
    with _BUILD:
        files, live = _ensure(op, date_from, date_to, today)
        if weeks or spans:
            files = _weeks(op.storage, files, date_from, date_to, today)
        if spans:
            busy = {d - timedelta(days=d.weekday()) for d in event_days(operation_dataset(op))}
            files = _spans(op.storage, files, date_from, date_to, today, busy)
        return files, live


def _fresh(path: Path, stamp: float) -> bool:
    try:
        return path.stat().st_mtime >= stamp
    except OSError:
        return False


def _whole(monday: date, weeks: int, date_from: date | None, date_to: date | None, today: date) -> bool:
    """Whether the ``weeks`` weeks from ``monday`` are closed and inside the period."""
    sunday = monday + timedelta(days=7 * weeks - 1)
    return sunday < today and not (date_from and monday < date_from) and not (date_to and sunday > date_to)


def _merged(path: Path, parts: list[Path], monday: date) -> Path:
    """``path``, the merge of ``parts``, (re)built when one of them is newer.
    ``path``'s name says which parts there are; a file of the same folder for
    another set of parts is stale, deleted once no request can still be reading it."""
    if not _fresh(path, max(f.stat().st_mtime for f in parts)):
        _write(path, merge(parts, monday))  # atomic: a reader keeps the old one
        for old in path.parent.glob("hosts-*.parquet"):
            if old != path and _fresh(path, old.stat().st_mtime + STALE_GRACE):
                old.unlink(missing_ok=True)
    return path


def _weeks(storage: Path, files: list[Path], date_from: date | None, date_to: date | None,
           today: date) -> list[Path]:
    """``files`` (day files, in day order) with each closed week inside the period replaced by its week file."""
    by_week: dict[date, list[tuple[date, Path]]] = {}
    for f in files:
        day = date.fromisoformat(f.parent.name.removeprefix("date="))
        by_week.setdefault(day - timedelta(days=day.weekday()), []).append((day, f))
    out: list[Path] = []
    for monday, days in by_week.items():
        if not _whole(monday, 1, date_from, date_to, today):
            out += [f for _, f in days]
            continue
        have = {d.weekday() for d, _ in days}
        out.append(_merged(week_path(storage, monday, "".join("1" if i in have else "0" for i in range(7))),
                           [f for _, f in days], monday))
    return out


def _spans(storage: Path, files: list[Path], date_from: date | None, date_to: date | None,
           today: date, busy: set[date]) -> list[Path]:
    """``files`` (week and day files, in order) with the week files of each
    run of SPAN weeks (or half, a quarter...) aligned on the week count since
    1970-01-05 replaced by its span file, when each of its weeks is closed and
    inside the period or has no events at all (``busy``: the Mondays of the
    weeks with events): a period of whole weeks is then a few files whatever
    its length, the same files for every period that ends after its last events."""
    mondays = {f: date.fromisocalendar(int(f.parent.name[5:9]), int(f.parent.name[11:13]), 1)
               for f in files if f.parent.name.startswith("week=")}
    out: list[Path] = []
    i = 0
    while i < len(files):
        f = files[i]
        monday = mondays.get(f)
        n = SPAN
        while monday and n > 1:
            # the aligned run of n weeks holding this one (the weeks before it have no file here)
            start = monday - timedelta(days=7 * (((monday - _EPOCH_MONDAY).days // 7) % n))
            weeks = [start + timedelta(days=7 * k) for k in range(n)]
            if all(m not in busy or _whole(m, 1, date_from, date_to, today) for m in weeks):
                parts = [g for g in files[i:] if g in mondays and mondays[g] < weeks[-1] + timedelta(days=7)]
                if len(parts) > 1:
                    have = {(mondays[g] - start).days // 7 for g in parts}
                    y, w, _ = start.isocalendar()
                    name = "".join("1" if k in have else "0" for k in range(n))
                    out.append(_merged(Path(storage) / "console" / "hosts" / f"weeks={y}-W{w:02d}+{n}" /
                                       f"hosts-{name}.parquet", parts, start))
                    i += len(parts)
                    break
            n //= 2
        else:
            out.append(f)
            i += 1
    return out


def _ensure(op: Operation, date_from: date | None, date_to: date | None,
            today: date) -> tuple[list[Path], list[pa.Table]]:
    files: list[Path] = []
    live: list[pa.Table] = []
    for day, stamp in sorted(event_days(operation_dataset(op)).items()):
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        if day >= today:
            key = str(op.storage)
            cached = _LIVE.get(key)
            if (cached is None or cached[0] != day
                    or (cached[1] != stamp and time.monotonic() - cached[2] >= LIVE_REFRESH)):
                cached = _LIVE[key] = (day, stamp, time.monotonic(), summarise(op, day))
            live.append(cached[3])
            continue
        path = summary_path(op.storage, day)
        if not _fresh(path, stamp):
            _write(path, summarise(op, day))
        files.append(path)
    return files, live


def version(files: list[Path], live: list[pa.Table]) -> tuple:
    """What identifies the content of :func:`ensure`'s answer: the files and
    their times, the live tables (kept, hence the same objects, while the
    current day's files do not change). A cache keyed on it is never stale."""
    stamps = []
    for f in files:
        try:
            stamps.append((str(f), f.stat().st_mtime_ns))
        except OSError:
            stamps.append((str(f), None))
    return tuple(stamps), tuple(id(t) for t in live)


def open_hosts(op: Operation, date_from: date | None = None, date_to: date | None = None, *,
               weeks: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the view ``hosts``: the summary rows of the period."""
    return connect_hosts(*ensure(op, date_from, date_to, weeks=weeks))


def _cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's database (made under the lock: the
    shared connection object itself is not for concurrent use)."""
    global _DB
    with _DB_LOCK:
        if _DB is None:
            _DB = duckdb.connect()
            _DB.execute("SET parquet_metadata_cache = true")
        return _DB.cursor()


def connect_hosts(files: list[Path], live: list[pa.Table]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (a cursor of the process's database: close it)
    with the temporary view ``hosts`` over :func:`ensure`'s answer."""
    con = _cursor()
    con.execute("SET TimeZone = 'UTC'")
    parts = []
    if files:
        names = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        parts.append(f"SELECT * FROM read_parquet([{names}], hive_partitioning = false)")
    for i, t in enumerate(live):
        con.register(f"_live{i}", t)
        parts.append(f"SELECT * FROM _live{i}")
    if not parts:
        con.register("_empty", _SCHEMA.empty_table())
        parts.append("SELECT * FROM _empty")
    con.execute("CREATE TEMP VIEW hosts AS " + " UNION ALL ".join(parts))
    return con
