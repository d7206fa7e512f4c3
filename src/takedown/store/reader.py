"""Reading the event dataset: counts and a DuckDB view.

The dataset is every ``{storage}/events/kind=*/date=*/*.parquet`` file.
Temporaries of writers in progress (``.*.parquet.tmp``) never match. Files of
different schema versions (columns added later) are combined by name: a column
a file lacks reads as NULL.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from takedown.errors import StoreError
from takedown.events import COLUMNS, PARTITIONS

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_kind(kind: str | None) -> None:
    if kind is not None and not _KIND_RE.match(kind):
        raise StoreError(f"invalid event kind {kind!r}: use lowercase letters, digits and '_'")


def dataset_glob(storage: Path, kind: str | None = None) -> str:
    """The glob of the dataset's files (of one kind, or all kinds)."""
    _check_kind(kind)
    return str(Path(storage) / "events" / f"kind={kind or '*'}" / "date=*" / "*.parquet")


def event_files(storage: Path, kind: str | None = None) -> list[Path]:
    """The dataset's files, sorted (an empty list for a missing storage path)."""
    _check_kind(kind)
    root = Path(storage) / "events"
    if not root.is_dir():
        return []
    return sorted(root.glob(f"kind={kind or '*'}/date=*/*.parquet"))


def event_days(storage: Path, kind: str | None = None) -> dict:
    """Every day with event files (of ``kind``, or of every kind): ``{date: [its files, sorted]}``."""
    from datetime import date

    _check_kind(kind)
    days: dict = {}
    for f in event_files(storage, kind):
        try:
            day = date.fromisoformat(f.parent.name.removeprefix("date="))
        except ValueError:
            continue  # not a day directory
        days.setdefault(day, []).append(f)
    return days


def dataset_state(storage: Path, date_from=None, date_to=None) -> tuple:
    """A cheap fingerprint of the events of a period (inclusive dates, None:
    unbounded): each file's path under ``events/``, size and modification
    time. A new segment, a compaction or a pruned day changes it; reading
    it costs a directory listing and a ``stat`` per file, no Parquet."""
    root = Path(storage) / "events"
    state = []
    for day, files in sorted(event_days(storage).items()):
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        for f in files:
            try:
                st = f.stat()
            except OSError:  # swapped away while listed: it is not part of the state
                continue
            state.append((str(f.relative_to(root)), st.st_size, st.st_mtime_ns))
    return tuple(state)


#: Listings tried when files vanish while they are read (compaction, retention).
LISTING_ATTEMPTS = 3


def _rows_in(path: Path) -> int | None:
    """Rows in one file's footer; None if it vanished since the listing."""
    try:
        return pq.read_metadata(path).num_rows
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"unreadable event file {path}: {exc}") from exc


def count_events(storage: Path, kind: str | None = None) -> int:
    """Number of stored events (of ``kind``, or of every kind); 0 if there are none.

    Exact: the sum of the row counts in the files' Parquet footers (only
    footers are read, in parallel). A file that vanished between the listing
    and its footer (a day compacted or pruned meanwhile) makes the count
    start again from a new listing, so it never mixes a day's old and new
    files. Raises :class:`StoreError` naming the first unreadable file.
    """
    for attempt in range(LISTING_ATTEMPTS):
        files = event_files(storage, kind)
        if len(files) < 64:
            counts = [_rows_in(f) for f in files]
        else:
            with ThreadPoolExecutor(8) as pool:
                counts = list(pool.map(_rows_in, files, chunksize=64))
        if None not in counts or attempt == LISTING_ATTEMPTS - 1:
            return sum(c for c in counts if c is not None)
    raise AssertionError("unreachable")


def vanished(exc: BaseException) -> bool:
    """Whether a DuckDB error is a file of the listing that vanished before it was read.

    DuckDB lists a view's files when a query starts; a day compacted
    meanwhile (:mod:`takedown.store.compact`) swaps them for others, so the
    query is simply run again (it then lists the new set).
    """
    text = str(exc)
    return isinstance(exc, duckdb.Error) and ("No such file" in text or "No files found" in text)


def retry_vanished(fn, attempts: int = LISTING_ATTEMPTS):
    """``fn()``, run again (up to ``attempts`` times) while it fails on a vanished file."""
    for attempt in range(attempts):
        try:
            return fn()
        except duckdb.Error as exc:
            if attempt == attempts - 1 or not vanished(exc):
                raise
    raise AssertionError("unreachable")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_parquet_sql(storage: Path, kind: str | None = None) -> str:
    """The DuckDB ``read_parquet(...)`` table function over the dataset."""
    return (
        f"read_parquet({_sql_string(dataset_glob(storage, kind))}, hive_partitioning = true, "
        "union_by_name = true, hive_types = {'kind': VARCHAR, 'date': DATE})"
    )


def empty_events() -> pa.Table:
    """An empty table with every known event column and the partition columns."""
    return _empty_events()


def _empty_events() -> pa.Table:
    fields: dict[str, pa.Field] = {}
    for cols in COLUMNS.values():
        for c in cols:
            fields.setdefault(c.name, c.field())
    for c in PARTITIONS:
        fields[c.name] = c.field()
    return pa.schema(list(fields.values())).empty_table()


def connect(storage: Path, kind: str | None = None, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view ``events`` over the dataset.

    The view has every stored column plus ``kind`` (VARCHAR) and ``date``
    (DATE) from the partition directories; it re-lists the files at each query.
    With no files yet, ``events`` is an empty view with all known columns.
    Session time zone is UTC.
    """
    con = duckdb.connect(database)
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:  # ICU not available: timestamps still are UTC instants
        pass
    # Every known column, even when no file has it yet (files written before
    # a column was added): the empty table supplies it, as NULL.
    con.register("_takedown_no_events", _empty_events())
    if event_files(storage, kind):
        try:
            con.execute(f"CREATE OR REPLACE VIEW events AS SELECT * FROM {read_parquet_sql(storage, kind)} "
                        "UNION ALL BY NAME SELECT * FROM _takedown_no_events")
        except duckdb.Error as exc:
            for f in event_files(storage, kind):
                _rows_in(f)  # names the unreadable file
            raise StoreError(f"cannot read events under {storage}: {exc}") from exc
    else:
        con.execute("CREATE OR REPLACE VIEW events AS SELECT * FROM _takedown_no_events")
    return con
