"""Crash-safe Parquet segments: the writer every sensor worker owns.

A producer appends one plain tuple per event to ``writer.rows`` (see
:mod:`takedown.events` for the tuple layout of each kind); the servers' hot
paths log into the columnar buffers instead, ``writer.dns``
(:mod:`takedown.store.dnsbuffer`) and ``writer.checkins``
(:mod:`takedown.store.checkins`), which hold no container per event. At least every
``flush_interval`` seconds the writer takes the buffered rows and writes them
as one Parquet file per UTC date::

    {storage}/events/kind={kind}/date=YYYY-MM-DD/{sensor}-w{worker}-{pid}-{seq:08d}-{unixms}.parquet

Crash safety
------------
Each file is written under a temporary name in the same directory,
``.{name}.tmp``, which no reader glob matches (``*.parquet``; Spark and Hive
also skip names starting with a dot), then fsync'ed and atomically renamed
with :func:`os.replace`. So at any instant the directory holds only complete
``.parquet`` files: a SIGKILL loses the rows not yet renamed (at most one
flush interval plus the write in progress) and never leaves a truncated file.
With ``fsync=True`` (the default) the file is fsync'ed before the rename and
the directory after it, which extends the guarantee to a power loss or kernel
crash; SIGKILL alone would not need it (the page cache survives the process).
Stale temporaries (older than a minute) left by a killed process are removed
when a writer for the same kind starts.

Threads
-------
Converting rows to Arrow holds the GIL, so it stays on the event-loop thread:
a periodic flush takes the rows (a slice and an in-place delete, ~3 ns a row)
and converts them in chunks of ``chunk_rows`` rows (~5 ms each) on successive
loop iterations, so the loop keeps answering between chunks. Only the Parquet
write (encoding, compression, I/O, which release the GIL) runs on one
background thread (a single-thread executor, so files are written in order).
Converting on a background thread instead starves it behind a busy loop: each
of the many GIL hand-overs in a conversion waits for the switch interval, and
a saturated sensor then never writes at all.

``rows`` is a stable list: a flush removes the rows it takes *in place*
(``del rows[:n]``), so a sensor may bind ``append = writer.rows.append`` once.
Rows appended while a flush is taking the list stay for the next flush.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from takedown.errors import StoreError
from takedown.events import CHECKIN_KINDS, ROW_LAYOUTS, dictionary_columns, rows_to_table, schema, statistics_columns
from takedown.store.checkins import CheckinBuffer
from takedown.store.dnsbuffer import DnsBuffer

log = logging.getLogger(__name__)

#: Temporaries older than this (seconds) are a dead process's and are removed.
STALE_TMP_AGE = 60.0
#: Rows converted to Arrow per event-loop iteration during a periodic flush (~5 ms).
CHUNK_ROWS = 8192
#: Failed conversions allowed per chunk while isolating malformed rows.
_SALVAGE_ATTEMPTS = 64
_CONVERSION_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
_US_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """A file-name-safe form of a sensor name (the column keeps the original)."""
    return _UNSAFE.sub("_", text).lstrip(".") or "sensor"


def _day_dir(day: int) -> str:
    return f"date={(_EPOCH + timedelta(days=day)).isoformat()}"


def fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_parquet(path: Path, table_schema: pa.Schema, kind: str, *, compression: str = "zstd",
                 statistics: bool | list[str] | None = None) -> pq.ParquetWriter:
    """A Parquet writer with the store's options for ``kind`` (segments and compacted files).

    No Arrow schema in the file: the Parquet types alone say what a column
    is, so a check-in column buffered as a dictionary reads back as the plain
    string the schema declares. The schema's own key-value metadata (kind,
    schema version) is written. ``statistics``: True for every column, or the
    columns to keep min/max for (default: the kind's pruning columns).
    """
    pw = pq.ParquetWriter(
        path,
        table_schema,
        compression=compression,
        use_dictionary=dictionary_columns(kind),
        write_statistics=statistics_columns(kind) if statistics is None else statistics,
        store_schema=False,
    )
    if table_schema.metadata:
        pw.add_key_value_metadata({k.decode(): v.decode() for k, v in table_schema.metadata.items()})
    return pw


def remove_stale_tmp(kind_dir: Path, older_than: float = STALE_TMP_AGE) -> int:
    """Remove ``.*.parquet.tmp`` files older than ``older_than`` seconds; return how many."""
    removed = 0
    limit = time.time() - older_than
    for tmp in kind_dir.glob("date=*/.*.parquet.tmp"):
        try:
            if tmp.stat().st_mtime < limit:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # another writer removed or renamed it
            pass
        except OSError as exc:
            log.warning("cannot remove stale temporary %s: %s", tmp, exc)
    return removed


class SegmentWriter:
    """Buffers event rows of one kind and writes them as Parquet segments.

    Typical use in an asyncio sensor::

        writer = SegmentWriter(storage, "dns", operation="nitol", sensor="ns1", worker=0)
        writer.start(loop)                 # periodic flushes every flush_interval
        append = writer.rows.append        # hot path: append(row) per event
        ...
        await writer.aclose()              # at SIGTERM: flush everything, wait for the writes

    Without an event loop (tests, tools), call :meth:`flush` and :meth:`close`.
    """

    def __init__(
        self,
        storage: Path,
        kind: str,
        *,
        operation: str,
        sensor: str,
        worker: int,
        flush_interval: float = 1.0,
        compression: str = "zstd",
        fsync: bool = True,
        chunk_rows: int = CHUNK_ROWS,
        max_retained_rows: int = 10_000_000,
        transform=None,
    ) -> None:
        if not _KIND_RE.match(kind):
            raise StoreError(f"invalid event kind {kind!r}: use lowercase letters, digits and '_'")
        if kind not in ROW_LAYOUTS:
            raise StoreError(f"unknown event kind {kind!r} (known: {', '.join(sorted(ROW_LAYOUTS))})")
        if flush_interval <= 0:
            raise StoreError(f"flush interval must be positive, not {flush_interval}")
        self.storage = Path(storage)
        self.kind = kind
        self.operation = operation
        self.sensor = sensor
        self.worker = int(worker)
        self.flush_interval = float(flush_interval)
        self.compression = compression
        self.fsync = fsync
        self.chunk_rows = max(1, int(chunk_rows))
        self.max_retained_rows = max_retained_rows
        #: Applied to each batch on the writing thread before it is stored
        #: (takedown.store.privacy: truncated or keyed-hashed addresses).
        self.transform = transform

        #: The buffer the sensor appends to. Its identity never changes.
        self.rows: list[tuple] = []
        #: Check-in kinds and DNS also take events in columnar form (the sensors' path).
        self.checkins: CheckinBuffer | None = CheckinBuffer(kind) if kind in CHECKIN_KINDS else None
        self.dns: DnsBuffer | None = DnsBuffer() if kind == "dns" else None
        self._columnar = self.checkins if self.checkins is not None else self.dns

        # counters (written on the background thread, read anywhere)
        self.rows_written = 0  #: rows in renamed (complete) files
        self.files_written = 0
        self.rows_rejected = 0  #: malformed rows dropped (wrong length or types)
        self.rows_dropped = 0  #: rows dropped because writes kept failing
        self.write_errors = 0
        self.last_error: BaseException | None = None
        #: every event taken before this time (time.time()) is on disk: the
        #: flush lag is now minus this (takedown.metrics)
        self.synced_at = time.time()
        self._inflight = 0  # batches queued for the background thread

        self._statistics = statistics_columns(kind)
        self._dir = self.storage / "events" / f"kind={kind}"
        self._prefix = f"{safe_name(sensor)}-w{self.worker}"
        self._seq = 0
        self._retry: list[tuple[int | None, pa.Table]] = []  # (day, table) not yet written; day None: not yet transformed
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"segments-{kind}-w{self.worker}")
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._step_handle: asyncio.Handle | None = None
        # the batch being converted: rows taken, how many converted, the tables so far
        self._batch: list[tuple] = []
        self._done = 0
        self._parts: list[pa.Table] = []
        self._closed = False

        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create event directory {self._dir}: {exc.strerror or exc}") from exc
        remove_stale_tmp(self._dir)

    # ------------------------------------------------------------------
    # Taking and converting rows (the caller's thread: the event loop)
    # ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"segment writer for {self._dir} is closed")

    def _take_columnar(self) -> None:
        """Convert the columnar events (vectorised: one step) into a part."""
        buf = self._columnar
        if buf is None:
            return
        before = buf.rows_rejected
        batch = buf.take()
        if batch is not None:
            table = buf.to_table(batch, operation=self.operation, sensor=self.sensor, worker=self.worker)
            if table is not None and table.num_rows:
                self._parts.append(table)
        self.rows_rejected += buf.rows_rejected - before

    def _pending(self) -> bool:
        return bool(self.rows or self._retry or (self._columnar is not None and len(self._columnar)))

    def _take(self) -> list[tuple]:
        rows = self.rows
        n = len(rows)
        batch = rows[:n]
        del rows[:n]  # in place: a cached rows.append stays valid
        return batch

    def _table(self, rows: Sequence[tuple]) -> pa.Table:
        return rows_to_table(self.kind, rows, operation=self.operation, sensor=self.sensor, worker=self.worker)

    def _to_table(self, rows: Sequence[tuple]) -> pa.Table | None:
        """Convert rows; if that fails, isolate and drop the malformed ones."""
        try:
            return self._table(rows)
        except _CONVERSION_ERRORS as exc:
            return self._salvage(rows, exc, [_SALVAGE_ATTEMPTS])

    def _salvage(self, rows: Sequence[tuple], exc: BaseException, budget: list[int]) -> pa.Table | None:
        """Bisect ``rows`` (whose conversion failed with ``exc``) down to the bad rows.

        ``budget`` bounds the failed attempts, so a sensor bug that makes
        every row malformed costs a few conversions per chunk, not one per row:
        once it is spent, the failing remainder is dropped whole.
        """
        budget[0] -= 1
        if len(rows) == 1 or budget[0] <= 0:
            self._reject(rows, exc)
            return None
        mid = len(rows) // 2
        parts = []
        for half in (rows[:mid], rows[mid:]):
            try:
                parts.append(self._table(half))
            except _CONVERSION_ERRORS as err:
                table = self._salvage(half, err, budget)
                if table is not None:
                    parts.append(table)
        return pa.concat_tables(parts) if parts else None

    def _reject(self, rows: Sequence[tuple], exc: BaseException) -> None:
        before = self.rows_rejected
        self.rows_rejected += len(rows)
        if before < 10 or before // 10_000 != self.rows_rejected // 10_000:
            log.error(
                "dropping %d malformed %s event(s) (%d so far), first %r: %s",
                len(rows), self.kind, self.rows_rejected, rows[0], exc,
            )

    def _convert_chunk(self) -> None:
        start = self._done
        end = start + self.chunk_rows
        chunk = self._batch[start:end]
        self._done = start + len(chunk)
        table = self._to_table(chunk)
        if table is not None and table.num_rows:
            self._parts.append(table)
        # free the converted tuples now, a chunk at a time: freeing a whole
        # batch at once would stall the loop (~100 ns a row)
        self._batch[start:end] = [None] * len(chunk)
        del chunk

    @property
    def failing(self) -> bool:
        """The last write failed: events are held back for a retry."""
        return bool(self._retry)

    def buffered(self) -> int:
        """Events taken in but not yet in a file (approximate while a write runs)."""
        columnar = len(self._columnar) if self._columnar is not None else 0
        retry = sum(t.num_rows for _, t in list(self._retry))
        return len(self.rows) + columnar + len(self._batch) - self._done + retry

    def _submit(self, raise_errors: bool) -> Future[list[Path]]:
        """Queue the write of the converted batch (and of earlier failed writes)."""
        parts = self._parts
        self._batch, self._done, self._parts = [], 0, []
        if len(parts) > 1 and any(t.schema != parts[0].schema for t in parts):
            # columnar parts may come with dictionary-encoded strings: one plain schema to concatenate
            target = schema(self.kind)
            parts = [t.cast(target) for t in parts]
        table = None if not parts else parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        with self._lock:
            self._inflight += 1
        return self._executor.submit(self._write_batch, table, raise_errors, time.time())

    def _take_all_and_submit(self, raise_errors: bool) -> Future[list[Path]]:
        """Convert whatever is taken or buffered, now, in this thread; queue the write."""
        self._cancel_step()
        self._batch = self._batch[self._done :] + self._take()
        self._done = 0
        self._take_columnar()
        while self._done < len(self._batch):
            self._convert_chunk()
        return self._submit(raise_errors)

    def flush_async(self) -> Future[list[Path]]:
        """Convert the buffered rows now; write them on the background thread.

        Returns a :class:`concurrent.futures.Future` of the files written
        (wrap it with :func:`asyncio.wrap_future` to await it). Write errors
        do not raise from it: they are logged, counted, and the data is
        retried at the next flush.
        """
        self._check_open()
        return self._take_all_and_submit(False)

    def flush(self) -> list[Path]:
        """Write the buffered rows now and wait; return the files written (none if no rows).

        Earlier flushes complete first. Raises :class:`StoreError` if data
        could not be written (it stays queued for the next attempt). With
        :meth:`start`, call it from the event loop's thread.
        """
        self._check_open()
        return self._take_all_and_submit(True).result()

    # ------------------------------------------------------------------
    # asyncio integration
    # ------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Flush every ``flush_interval`` seconds on ``loop`` (default: the running loop).

        Each periodic flush takes the rows at once, converts them in chunks of
        ``chunk_rows`` on successive loop iterations (a few ms each, so the
        loop keeps serving), then queues the Parquet write on the background
        thread.
        """
        self._check_open()
        self._loop = loop or asyncio.get_running_loop()
        self._schedule()

    def _schedule(self) -> None:
        if self._loop is not None and not self._closed:
            self._timer = self._loop.call_later(self.flush_interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            # a conversion still running (a huge batch) simply delays the next one
            if self._step_handle is None and self._pending():
                self._batch, self._done, self._parts = self._take(), 0, []
                self._take_columnar()
                self._step()
            elif self._step_handle is None and not self._inflight:
                self.synced_at = time.time()  # nothing buffered, nothing being written
        except Exception:  # never let a flush kill the periodic timer
            log.exception("event flush failed for %s", self._dir)
        finally:
            self._schedule()

    def _step(self) -> None:
        self._step_handle = None
        try:
            if self._done < len(self._batch):
                self._convert_chunk()
            if self._done < len(self._batch):
                assert self._loop is not None
                self._step_handle = self._loop.call_soon(self._step)
            else:
                self._submit(False)
        except Exception:
            log.exception("event conversion failed for %s", self._dir)
            self._batch, self._done, self._parts = [], 0, []

    def _cancel_step(self) -> None:
        if self._step_handle is not None:
            self._step_handle.cancel()
            self._step_handle = None

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def aclose(self) -> None:
        """Stop the periodic flush, write everything buffered, wait, and close.

        For the SIGTERM handler of an asyncio sensor. Raises
        :class:`StoreError` if some events could not be written.
        """
        if self._closed:
            return
        self._stop_timer()
        fut = self._take_all_and_submit(True)
        self._closed = True
        try:
            await asyncio.wrap_future(fut)
        finally:
            self._executor.shutdown(wait=False)

    def close(self) -> None:
        """Synchronous :meth:`aclose`: final flush, wait for every write, stop the thread."""
        if self._closed:
            return
        self._stop_timer()
        fut = self._take_all_and_submit(True)
        self._closed = True
        try:
            fut.result()
        finally:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------
    # Writing (background thread)
    # ------------------------------------------------------------------

    def _split_days(self, table: pa.Table, now_us: int) -> list[tuple[int, pa.Table]]:
        micros = table.column("time").cast(pa.int64())
        if micros.null_count:  # malformed times are stored as NULL, filed under today
            micros = pc.fill_null(micros, now_us)
        days = micros.to_numpy() // _US_PER_DAY
        first, last = int(days.min()), int(days.max())
        if first == last:
            return [(first, table)]
        return [(int(d), table.filter(pa.array(days == d))) for d in np.unique(days)]

    def _write_file(self, day: int, table: pa.Table) -> Path:
        directory = self._dir / _day_dir(day)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._seq += 1
            seq = self._seq
        name = f"{self._prefix}-{os.getpid()}-{seq:08d}-{int(time.time() * 1000)}.parquet"
        for attempt in (1, 2, 3):
            try:
                return self._write_named(directory, name, table)
            except FileNotFoundError:
                # compaction swapped the day's directory while the file was
                # being written (takedown.store.compact): write it again into
                # the directory now under that name
                if attempt == 3:
                    raise
                directory.mkdir(parents=True, exist_ok=True)
        raise AssertionError("unreachable")

    def _write_named(self, directory: Path, name: str, table: pa.Table) -> Path:
        final = directory / name
        tmp = directory / f".{name}.tmp"
        try:
            with open_parquet(tmp, table.schema, self.kind, compression=self.compression,
                              statistics=self._statistics) as pw:
                pw.write_table(table)
            if self.fsync:
                fsync_path(tmp)
            os.replace(tmp, final)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        if self.fsync:
            fsync_path(directory, directory=True)
        return final

    def _write_batch(self, table: pa.Table | None, raise_errors: bool, taken: float) -> list[Path]:
        try:
            written = self._write(table, raise_errors)
            if not self._retry:
                self.synced_at = max(self.synced_at, taken)
            return written
        finally:
            with self._lock:
                self._inflight -= 1

    def _write(self, table: pa.Table | None, raise_errors: bool) -> list[Path]:
        # retried parts: (day, table) ready to write, or (None, table) not yet transformed
        raw = [t for d, t in self._retry if d is None] + ([table] if table is not None else [])
        parts = [(d, t) for d, t in self._retry if d is not None]
        self._retry = []
        for i, t in enumerate(raw):
            if self.transform is not None:
                try:
                    t = self.transform(t)
                except Exception as exc:  # never store in clear what must not be: keep it back
                    self._retain(parts + [(None, r) for r in raw[i:]], exc)
                    if raise_errors:
                        raise StoreError(f"cannot prepare events under {self._dir}: {exc}") from exc
                    return []
            parts = parts + self._split_days(t, int(time.time() * 1e6))
        written: list[Path] = []
        failed: list[tuple[int, pa.Table]] = []
        error: BaseException | None = None
        for day, part in parts:
            if error is not None:  # the disk is failing: do not try every part
                failed.append((day, part))
                continue
            try:
                written.append(self._write_file(day, part))
            except OSError as exc:
                error = exc
                failed.append((day, part))
            else:
                self.rows_written += part.num_rows
                self.files_written += 1
        if failed:
            self._retain(failed, error)
            if raise_errors:
                n = sum(t.num_rows for _, t in self._retry)
                raise StoreError(f"cannot write events under {self._dir}: {error} ({n} events not written)")
        return written

    def _retain(self, failed: list[tuple[int, pa.Table]], error: BaseException | None) -> None:
        self.write_errors += 1
        self.last_error = error
        kept = 0
        retry: list[tuple[int, pa.Table]] = []
        for day, table in reversed(failed):  # keep the newest events
            if kept + table.num_rows > self.max_retained_rows:
                self.rows_dropped += table.num_rows
                continue
            kept += table.num_rows
            retry.append((day, table))
        retry.reverse()
        self._retry = retry
        log.error(
            "cannot write events under %s: %s; %d events kept for retry, %d dropped so far",
            self._dir, error, kept, self.rows_dropped,
        )
