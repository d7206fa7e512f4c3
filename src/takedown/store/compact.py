"""Compaction: merging a closed UTC day's segments into a few large files.

A worker writes a segment a second per kind, so a day holds up to 86,400
small files per worker. Compaction rewrites one ``kind=K/date=D`` directory
as one file per sensor (more past :data:`FILE_ROWS` rows), sorted by
``(sensor, time)``, in row groups of :data:`ROW_GROUP_ROWS` rows, zstd, with
min/max statistics on every column, and the same columns and types as the
segments (:func:`takedown.events.schema`). Rows are copied, never
re-transformed: the privacy transforms ran when the segments were written.

The swap (docs/events.md, "Compaction")
---------------------------------------
1. The new files are written, fsync'ed, into a hidden staging directory
   ``kind=K/.compact-{token}.date=D`` (no reader glob ``date=*`` matches a
   leading dot), with a manifest ``.compacted.json`` naming its token, its
   files and the input files it replaces.
2. ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+, ext4, xfs, btrfs, tmpfs)
   swaps the two directories in one step: ``date=D`` is the new set, the
   staging name now holds the old one. A reader sees one set or the other.
3. Segments that landed in the old directory after it was listed (late
   flushes) are moved into the new one; then the old set is removed.

A kill at any moment leaves ``date=D`` complete: before step 2 it is the old
set untouched, after it the new set. The next run finishes the work: a
leftover staging directory whose token is the one in ``date=D``'s manifest
is an old set (its late segments are moved, the rest removed); any other is
an unfinished staging directory (removed). Running again on a compacted day
merges the compacted files with the segments written since; a day with
nothing new is left alone.

The input is read with DuckDB from the explicit list of files taken at step 1
(never a glob: a segment arriving meanwhile must not be both merged and
moved), copied into runs of :data:`RUN_FILES` segments, then sorted (DuckDB
spills to disk beyond its memory limit).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from takedown.errors import StoreError
from takedown.events import ROW_LAYOUTS, schema
from takedown.store.segments import fsync_path, open_parquet, safe_name

log = logging.getLogger(__name__)

#: Rows per row group of a compacted file (readers prune and parallelise by row group).
ROW_GROUP_ROWS = 500_000
#: Rows per compacted file before another is started (one sensor's busy day).
FILE_ROWS = 50_000_000
MANIFEST = ".compacted.json"
_STAGE = ".compact-"
#: Files smaller than this (segments) are copied into runs of RUN_FILES before the sort (see _runs).
SMALL_FILE = 8 << 20
RUN_FILES = 2000
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: Test hook: the name of a step at which the compacting process kills itself (SIGKILL).
KILL_AT_ENV = "TAKEDOWN_COMPACT_KILL_AT"


@dataclass(frozen=True)
class Compaction:
    """What compacting one day did (``files_after == files_before``, ``rows == 0``: nothing to do)."""

    kind: str
    day: date
    files_before: int
    files_after: int
    rows: int
    seconds: float

    @property
    def skipped(self) -> bool:
        return self.files_after == self.files_before and self.rows == 0


def _checkpoint(step: str) -> None:
    if os.environ.get(KILL_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (renameat2(2) with RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise StoreError("compaction needs renameat2(2) (glibc 2.28+, Linux 3.15+)")
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise StoreError(f"cannot swap {a} and {b}: {os.strerror(err)} (the file system must support "
                         "RENAME_EXCHANGE: ext4, xfs, btrfs, tmpfs)")


def _manifest(directory: Path) -> dict:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _day_dir(kind_dir: Path, day: date) -> Path:
    return kind_dir / f"date={day.isoformat()}"


def _leftovers(kind_dir: Path, day: date) -> list[Path]:
    return sorted(kind_dir.glob(f"{_STAGE}*.date={day.isoformat()}"))


def _move_late(old: Path, new: Path, inputs: set[str]) -> int:
    """Move the segments of ``old`` that are not among the compacted ``inputs`` into ``new``."""
    moved = 0
    for f in sorted(old.glob("*.parquet")):
        if f.name in inputs or (new / f.name).exists():
            continue
        try:
            os.rename(f, new / f.name)
            moved += 1
        except FileNotFoundError:
            pass
    return moved


def recover(kind_dir: Path, day: date) -> None:
    """Finish or undo a compaction of ``day`` that was killed (see the module doc)."""
    current = _day_dir(kind_dir, day)
    token = _manifest(current).get("token") if current.is_dir() else None
    for left in _leftovers(kind_dir, day):
        if token is not None and left.name == f"{_STAGE}{token}.date={day.isoformat()}":
            moved = _move_late(left, current, set(_manifest(current).get("inputs", ())))
            if moved:
                fsync_path(current, directory=True)
                log.info("compaction of %s: %d late segment(s) moved in after a restart", current, moved)
        shutil.rmtree(left, ignore_errors=True)


def _select(con: duckdb.DuckDBPyConnection, files: list[str], target: pa.Schema) -> str:
    """The ordered SELECT over ``files``: the schema's columns the files have (others read as NULL)."""
    con.execute("SELECT * FROM read_parquet($files, union_by_name = true, hive_partitioning = false) LIMIT 0",
                {"files": files})
    have = {d[0] for d in con.description}
    cols = ", ".join(f'"{f.name}"' for f in target if f.name in have)
    order = ", ".join(f'"{c}" NULLS LAST' for c in ("sensor", "time") if c in have) or "1"
    return (f"SELECT {cols} FROM read_parquet($files, union_by_name = true, hive_partitioning = false) "
            f"ORDER BY {order}")


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.Table:
    n = batch.num_rows
    names = set(batch.schema.names)
    arrays = [batch.column(f.name).cast(f.type) if f.name in names else pa.nulls(n, f.type) for f in target]
    return pa.Table.from_arrays(arrays, schema=target)


class _Output:
    """The compacted files of one day, written into the staging directory."""

    def __init__(self, kind: str, stage: Path, token: str, target: pa.Schema):
        self.kind, self.stage, self.token, self.target = kind, stage, token, target
        self.files: list[str] = []
        self.rows = 0
        self._writer = None
        self._sensor: str | None = None
        self._file_rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def add(self, table: pa.Table) -> None:
        """Append rows sorted by (sensor, time); a new sensor starts a new file."""
        sensors = table.column("sensor")
        first, last = sensors[0].as_py(), sensors[-1].as_py()
        if first != last:  # a sensor boundary inside: split on it (sorted, so runs)
            for value in pc.unique(sensors).to_pylist():
                mask = pc.is_null(sensors) if value is None else pc.fill_null(pc.equal(sensors, value), False)
                self.add(table.filter(mask))
            return
        if first != self._sensor or self._file_rows >= FILE_ROWS:
            self._close_file()
            self._sensor = first
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._file_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        cut = table.num_rows if final else table.num_rows - table.num_rows % ROW_GROUP_ROWS
        if self._writer is None:
            name = f"compacted-{safe_name(self._sensor or 'none')}-{self.token}-{len(self.files):03d}.parquet"
            self.files.append(name)
            self._writer = open_parquet(self.stage / name, self.target, self.kind, statistics=True)
        self._writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        self.rows += cut
        rest = table.slice(cut)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def _close_file(self) -> None:
        self._flush(final=True)
        if self._writer is not None:
            self._writer.close()
            fsync_path(self.stage / self.files[-1])
            _checkpoint("file-written")
        self._writer, self._file_rows = None, 0

    def close(self) -> None:
        self._close_file()


def _runs(con: duckdb.DuckDBPyConnection, inputs: list[Path], spill: Path) -> list[str]:
    """The input as the sort reads it: every :data:`RUN_FILES` small files
    copied into one run file first, large ones (earlier compacted files) as
    they are.

    DuckDB holds some state for every file a query reads until the query
    ends (about 135 KB a segment: 2.7 GB for 20,000 of them, whatever its
    memory limit), so one query over a day's 86,400 segments would need
    gigabytes; a query per run frees it after each.
    """
    small = [p for p in inputs if p.stat().st_size < SMALL_FILE]
    files = [str(p) for p in inputs if p.stat().st_size >= SMALL_FILE]
    for i in range(0, len(small), RUN_FILES):
        run = spill / f"run-{i // RUN_FILES:05d}.parquet"
        con.execute(f"COPY (SELECT * FROM read_parquet($files, union_by_name = true, hive_partitioning = false)) "
                    f"TO '{run}' (FORMAT parquet, COMPRESSION lz4_raw)",
                    {"files": [str(p) for p in small[i:i + RUN_FILES]]})
        files.append(str(run))
    return files


def _write_stage(kind: str, day_dir: Path, stage: Path, token: str, inputs: list[Path],
                 memory_limit: str, threads: int) -> _Output:
    target = schema(kind)
    out = _Output(kind, stage, token, target)
    con = duckdb.connect()
    try:
        spill = stage / ".spill"
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = true")
        spill.mkdir(exist_ok=True)
        files = _runs(con, inputs, spill)
        query = _select(con, files, target)
        relation = con.sql(query, params={"files": files})
        # the method's name changed in DuckDB 1.4 (the relation is streamed, not materialised)
        stream = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        reader = stream(122_880)
        for batch in reader:
            if batch.num_rows:
                out.add(_conform(batch, target))
        out.close()
    except (duckdb.Error, pa.ArrowException) as exc:
        raise StoreError(f"cannot compact {day_dir}: {exc}") from exc
    finally:
        con.close()
    shutil.rmtree(stage / ".spill", ignore_errors=True)
    return out


def compact_day(storage: Path, kind: str, day: date, *, memory_limit: str = "1GB",
                threads: int = 2) -> Compaction:
    """Compact ``{storage}/events/kind={kind}/date={day}`` (see the module doc)."""
    if kind not in ROW_LAYOUTS:
        raise StoreError(f"unknown event kind {kind!r} (known: {', '.join(sorted(ROW_LAYOUTS))})")
    t0 = time.monotonic()
    kind_dir = Path(storage) / "events" / f"kind={kind}"
    day_dir = _day_dir(kind_dir, day)
    recover(kind_dir, day)
    _checkpoint("recovered")
    inputs = sorted(day_dir.glob("*.parquet")) if day_dir.is_dir() else []
    done = set(_manifest(day_dir).get("files", ()))
    if not inputs or all(p.name in done for p in inputs):
        return Compaction(kind, day, len(inputs), len(inputs), 0, time.monotonic() - t0)
    token = uuid.uuid4().hex[:16]
    stage = kind_dir / f"{_STAGE}{token}.date={day.isoformat()}"
    try:
        stage.mkdir()
        out = _write_stage(kind, day_dir, stage, token, inputs, memory_limit, threads)
        manifest = {"token": token, "kind": kind, "date": day.isoformat(), "rows": out.rows,
                    "files": out.files, "inputs": [p.name for p in inputs]}
        (stage / MANIFEST).write_text(json.dumps(manifest) + "\n")
        fsync_path(stage / MANIFEST)
        fsync_path(stage, directory=True)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise StoreError(f"cannot compact {day_dir}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _checkpoint("staged")
    try:
        _exchange(stage, day_dir)
    except StoreError:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    fsync_path(kind_dir, directory=True)
    _checkpoint("swapped")
    # `stage` now holds the old set: segments written into it since the listing join the new set
    _move_late(stage, day_dir, {p.name for p in inputs})
    fsync_path(day_dir, directory=True)
    _checkpoint("moved")
    shutil.rmtree(stage, ignore_errors=True)
    return Compaction(kind, day, len(inputs), len(out.files), out.rows, time.monotonic() - t0)


def _newest(files: list[Path]) -> float:
    """The latest modification time of ``files`` (one vanished meanwhile: now)."""
    latest = 0.0
    for p in files:
        try:
            latest = max(latest, p.stat().st_mtime)
        except FileNotFoundError:
            return time.time()
    return latest


def closed_days(storage: Path, *, kind: str | None = None, after: float = 0.0,
                now: datetime | None = None) -> list[tuple[str, date]]:
    """(kind, day) of every day partition that ended at least ``after`` seconds ago (UTC)
    and holds segments not yet compacted, none of them written in the last
    ``after`` seconds, oldest first."""
    now = now or datetime.now(timezone.utc)
    root = Path(storage) / "events"
    out = []
    for kind_dir in sorted(root.glob(f"kind={kind or '*'}")) if root.is_dir() else []:
        k = kind_dir.name.split("=", 1)[1]
        if k not in ROW_LAYOUTS:
            continue
        for day_dir in sorted(kind_dir.glob("date=*")):
            try:
                day = date.fromisoformat(day_dir.name.split("=", 1)[1])
            except ValueError:
                continue
            end = datetime.combine(day + timedelta(days=1), datetime.min.time(), timezone.utc)
            if (now - end).total_seconds() < after:
                continue
            done = set(_manifest(day_dir).get("files", ()))
            new = [p for p in day_dir.glob("*.parquet") if p.name not in done]
            if new and after > 0 and now.timestamp() - _newest(new) < after:
                # still being written (range mode's emulated days, a late
                # flush): quiet for ``after`` seconds first, or it would be
                # compacted again at every look
                continue
            if new or _leftovers(kind_dir, day):
                out.append((k, day))
    return sorted(out, key=lambda kd: (kd[1], kd[0]))


def compact(storage: Path, *, day: date | None = None, kind: str | None = None, after: float = 0.0,
            today: date | None = None, **options) -> list[Compaction]:
    """Compact ``day`` (every kind, or ``kind``), or every closed day with new segments.

    A day is closed once it ended (UTC) ``after`` seconds ago; ``day`` must be
    closed too (today's segments are still being written).
    """
    now = datetime.now(timezone.utc)
    today = today or now.date()
    if kind is not None and kind not in ROW_LAYOUTS:
        raise StoreError(f"unknown event kind {kind!r} (known: {', '.join(sorted(ROW_LAYOUTS))})")
    if day is not None:
        if day >= today:
            raise StoreError(f"--date {day.isoformat()}: the day is not over yet (UTC); only closed days "
                             "are compacted")
        root = Path(storage) / "events"
        kinds = [kind] if kind else sorted(p.name.split("=", 1)[1] for p in root.glob("kind=*")
                                           if p.name.split("=", 1)[1] in ROW_LAYOUTS)
        todo = [(k, day) for k in kinds if _day_dir(root / f"kind={k}", day).is_dir()]
    else:
        todo = closed_days(storage, kind=kind, after=after, now=now)
    return [compact_day(storage, k, d, **options) for k, d in todo]
