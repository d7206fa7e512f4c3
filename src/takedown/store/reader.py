"""Reading the event dataset: counts and a DuckDB view.

The dataset is every ``{storage}/events/kind=*/date=*/*.parquet`` file.
Temporaries of writers in progress (``.*.parquet.tmp``) never match. Files of
different schema versions (columns added later) are combined by name: a column
a file lacks reads as NULL.

Every reader takes ``storage``: one storage directory, or a
:class:`Dataset`, several sensors' storages read as one (``[events]
sources``, :func:`operation_dataset`). Their rows are simply put together:
each row keeps its ``sensor`` column, and unique counts (``count(DISTINCT
...)`` over the union) count an address seen by two sensors once.
"""

from __future__ import annotations

import glob
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from takedown.errors import StoreError
from takedown.events import COLUMNS, PARTITIONS
from takedown.operation import SOURCE_SCHEMES

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_kind(kind: str | None) -> None:
    if kind is not None and not _KIND_RE.match(kind):
        raise StoreError(f"invalid event kind {kind!r}: use lowercase letters, digits and '_'")


#: URL schemes of storages read through the engine's own file systems, never listed here.
REMOTE_SCHEMES = SOURCE_SCHEMES


def is_remote(root) -> bool:
    """Whether a storage root is a URL (``s3://...``) rather than a local directory."""
    return isinstance(root, str) and root.split("://", 1)[0] in REMOTE_SCHEMES and "://" in root


class Dataset(tuple):
    """Several storages read as one: local directories (:class:`Path`) and
    URLs (``str``), the operation's own first. ``labels`` name each root as
    the operation file does (``[events] sources[1]``), for error messages."""

    labels: tuple[str, ...] = ()

    def __new__(cls, roots, labels=()):
        self = super().__new__(cls, roots)
        self.labels = tuple(labels) or tuple(str(r) for r in roots)
        return self

    def __str__(self) -> str:
        return ", ".join(str(r) for r in self)


def roots(storage) -> tuple:
    """The storage roots of ``storage`` (one directory, or a :class:`Dataset`)."""
    return tuple(storage) if isinstance(storage, Dataset) else (Path(storage),)


def _root_glob(root, kind: str | None) -> str:
    tail = f"events/kind={kind or '*'}/date=*/*.parquet"
    return f"{root.rstrip('/')}/{tail}" if is_remote(root) else str(Path(root) / tail)


def dataset_globs(storage, kind: str | None = None) -> list[str]:
    """The globs of the dataset's files (of one kind, or all kinds), one per storage root."""
    _check_kind(kind)
    return [_root_glob(r, kind) for r in roots(storage)]


def dataset_glob(storage: Path, kind: str | None = None) -> str:
    """The glob of one storage's files (of one kind, or all kinds)."""
    _check_kind(kind)
    return _root_glob(Path(storage), kind)


def event_files(storage, kind: str | None = None) -> list[Path]:
    """The dataset's local files, sorted within each storage (an empty list
    for a missing storage path; remote storages are listed by the engine)."""
    _check_kind(kind)
    files: list[Path] = []
    for root in roots(storage):
        if is_remote(root) or not (Path(root) / "events").is_dir():
            continue
        files += sorted((Path(root) / "events").glob(f"kind={kind or '*'}/date=*/*.parquet"))
    return files


def local_only(storage, what: str) -> None:
    """A :class:`StoreError` if ``storage`` has a remote root: ``what`` lists
    files day by day, which only local storages allow."""
    labels = storage.labels if isinstance(storage, Dataset) else ()
    for root, label in zip(roots(storage), labels):
        if is_remote(root):
            raise StoreError(f"{label}: {root}: {what} reads local storages only (it lists their files)")


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
    it costs a directory listing and a ``stat`` per file, no Parquet.
    Several storages: each file by its full path (a remote storage adds
    nothing: it cannot be listed here)."""
    root = Path(storage) / "events" if not isinstance(storage, Dataset) else None
    state = []
    for day, files in sorted(event_days(storage).items()):
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        for f in files:
            try:
                st = f.stat()
            except OSError:  # swapped away while listed: it is not part of the state
                continue
            state.append((str(f.relative_to(root) if root else f), st.st_size, st.st_mtime_ns))
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
    if any(is_remote(r) for r in roots(storage)):  # not listable here: the engine counts
        con = connect(storage, kind)
        try:
            return con.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            con.close()
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


def read_parquet_sql(storage, kind: str | None = None, *, only_local: bool = False) -> str:
    """The DuckDB ``read_parquet(...)`` table function over the dataset (every
    storage root, or ``only_local``: those with files, so that a glob that
    matches nothing in one of them is no error)."""
    globs = [_root_glob(r, kind) for r in roots(storage)
             if not only_local or is_remote(r) or event_files(r, kind)]
    _check_kind(kind)
    return (
        f"read_parquet([{', '.join(_sql_string(g) for g in globs)}], hive_partitioning = true, "
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


def _remote_readable(con: duckdb.DuckDBPyConnection, storage) -> None:
    """A :class:`StoreError` naming the first remote root this DuckDB cannot
    read: ``hdfs://`` (DuckDB has no HDFS file system) or ``s3://``/``gs://``
    without its ``httpfs`` extension installed (never downloaded here)."""
    labels = storage.labels if isinstance(storage, Dataset) else ()
    for root, label in zip(roots(storage), labels):
        if not is_remote(root):
            continue
        scheme = root.split("://", 1)[0]
        if scheme == "hdfs":
            raise StoreError(f"{label}: {root}: DuckDB has no HDFS file system; read it with an engine that has "
                             f"(Spark), or copy or mount the storage locally")
        try:
            con.execute("LOAD httpfs")
        except duckdb.Error:
            raise StoreError(f"{label}: {root}: DuckDB cannot read {scheme}:// here: its httpfs extension is not "
                             f"installed (run INSTALL httpfs where the network allows it)") from None


def connect(storage, kind: str | None = None, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view ``events`` over the dataset (one
    storage or a :class:`Dataset` of several).

    The view has every stored column plus ``kind`` (VARCHAR) and ``date``
    (DATE) from the partition directories; it re-lists the files at each query.
    With no files yet, ``events`` is an empty view with all known columns.
    Session time zone is UTC. Extensions are never downloaded.
    """
    con = duckdb.connect(database)
    con.execute("SET autoinstall_known_extensions = false")
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:  # ICU not available: timestamps still are UTC instants
        pass
    # Every known column, even when no file has it yet (files written before
    # a column was added): the empty table supplies it, as NULL.
    con.register("_takedown_no_events", _empty_events())
    remote = any(is_remote(r) for r in roots(storage))
    if remote:
        _remote_readable(con, storage)
    if remote or event_files(storage, kind):
        try:
            con.execute(f"CREATE OR REPLACE VIEW events AS SELECT * FROM "
                        f"{read_parquet_sql(storage, kind, only_local=True)} "
                        "UNION ALL BY NAME SELECT * FROM _takedown_no_events")
        except duckdb.Error as exc:
            for f in event_files(storage, kind):
                _rows_in(f)  # names the unreadable file
            raise StoreError(f"cannot read events under {storage}: {exc}") from exc
    else:
        con.execute("CREATE OR REPLACE VIEW events AS SELECT * FROM _takedown_no_events")
    return con


def _source_roots(pattern: str, label: str) -> list:
    """The storages one ``[events] sources`` entry names: a URL as it is, a
    local path or glob as the storages (directories with ``events/``) it matches."""
    if is_remote(pattern):
        return [pattern]
    if glob.has_magic(pattern):
        found = [Path(p) for p in sorted(glob.glob(pattern)) if Path(p, "events").is_dir()]
        if not found:
            raise StoreError(f"{label}: {pattern}: matches no storage directory with an events/ directory")
        return found
    path = Path(pattern)
    if not path.is_dir():
        raise StoreError(f"{label}: {pattern}: no such directory")
    if not (path / "events").is_dir():
        raise StoreError(f"{label}: {pattern}: not a storage (it has no events/ directory)")
    return [path]


def resolve_sources(storage: Path, sources: tuple[str, ...]) -> Path | Dataset:
    """The dataset of an operation: its own ``storage``, plus each of
    ``sources`` (``[events] sources``: paths, globs, URLs), globs expanded
    now. A storage named twice (a glob that also matches the own storage, two
    overlapping globs) is read once, so no row counts twice. Raises
    :class:`StoreError` naming the entry (``[events] sources[1]: PATH: ...``)
    for a path that is no storage or a glob that matches none."""
    if not sources:
        return storage
    found: dict[str, tuple] = {os.path.realpath(storage): (Path(storage), "[operation] storage")}
    for i, pattern in enumerate(sources):
        label = f"[events] sources[{i}]"
        for root in _source_roots(pattern, label):
            found.setdefault(root if is_remote(root) else os.path.realpath(root), (root, label))
    return Dataset([r for r, _ in found.values()], [label for _, label in found.values()])


def operation_dataset(op) -> Path | Dataset:
    """What ``report``, ``notify``, ``events sql`` and the console read for
    the operation ``op``: its storage and its ``[events] sources``."""
    return resolve_sources(op.storage, op.events.sources)
