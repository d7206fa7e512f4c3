"""Writing query results as CSV, JSON, JSON Lines, Parquet or a terminal table.

Used by ``takedown events sql`` and ``takedown events export``. Rows are
streamed: each DuckDB relation is read as Arrow record batches of
:data:`BATCH_ROWS` rows and written before the next is read, so an export
of any size needs the memory of one batch (Parquet: one row group).

One rule for values in the text formats (CSV, JSON, JSON Lines, table):

- timestamps are ISO 8601 in UTC with microseconds and ``Z``
  (``2026-11-20T12:34:56.123456Z``; RFC 3339's profile of ISO 8601), naive
  ones too: the session time zone is UTC and stored times are UTC;
- binary values (``body_head``, ``first_bytes``) are base64 (RFC 4648, section 4);
- lists, structs and maps are JSON text in CSV and the table, JSON values in JSON;
- NULL is an empty field in CSV (an empty string is ``""``), ``null`` in
  JSON, a dim ``NULL`` in the table; NaN and infinities are ``null`` in JSON
  (RFC 8259 has no number for them) and ``nan``/``inf`` in CSV.

Parquet keeps DuckDB's types as they are (timestamps stay
``timestamp[us, UTC]``, binary stays binary).

``json`` is one array of objects (what ``json.load`` and ``jq`` read whole);
``jsonl`` is one object per line (RFC 7464's idea without the record
separator, as https://jsonlines.org describes), better for big exports and
line tools. CSV has a header row and is written by Arrow's CSV writer (RFC
4180 quoting, every string quoted).

A file given as ``out`` is written under a temporary name in its directory
and renamed when complete, so a failed query never leaves half a file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from takedown.atomic import atomic_file
from takedown.errors import QueryError
from takedown.store.reader import is_remote, roots

FORMATS: tuple[str, ...] = ("csv", "json", "jsonl", "parquet")
#: Rows per Arrow batch read from DuckDB (and per Parquet row group written).
BATCH_ROWS = 100_000
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"

_TIMESTAMPS = {"timestamp", "timestamp with time zone", "timestamp_s", "timestamp_ms", "timestamp_ns"}
_NESTED = {"list", "struct", "map", "array", "union"}
_FLOATS = {"double", "float"}
#: Types Arrow's CSV writer writes as they are (numbers unquoted, dates ISO).
_CSV_NATIVE = {"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger", "ubigint",
               "boolean", "date", "varchar", *_FLOATS}


def first_line(exc: BaseException) -> str:
    """DuckDB's message, first line: the rest is a caret line or a hint."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def errors_as_query_errors(what: str) -> Iterator[None]:
    """DuckDB's and Arrow's errors (a query failing while its rows stream, a
    type Parquet cannot hold) as one-line :class:`QueryError`; a closed pipe
    stays what it is, for the caller to end quietly."""
    try:
        yield
    except duckdb.Error as exc:
        raise QueryError(first_line(exc)) from None
    except pa.ArrowException as exc:
        raise QueryError(f"cannot write {what}: {first_line(exc)}") from None
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise QueryError(f"cannot write {what}: {exc.strerror or exc}") from None


def check_output(out: Path | None, fmt: str, storage: Path) -> None:
    """Refuse Parquet on stdout, and an output file inside the event store
    (a Parquet file there would become events, any other would sit among them)."""
    if out is None:
        if fmt == "parquet":
            raise QueryError("--format parquet needs --out PATH")
        return
    for root in roots(storage):
        store = (Path(root) / "events").resolve() if not is_remote(root) else None
        if store and Path(out).resolve().is_relative_to(store):
            raise QueryError(f"--out {out}: inside the operation's event store ({store}); write it elsewhere")


def deliver(relations, fmt: str, out: Path | None, stdout: BinaryIO) -> int:
    """Write ``relations`` in ``fmt`` to ``out`` (atomically) or ``stdout``; the number of rows."""
    if out is None:
        with errors_as_query_errors("the output"):
            return write(relations, fmt, stdout)
    with errors_as_query_errors(str(out)), output_file(out) as f:
        return write(relations, fmt, f)


def check_format(fmt: str, allowed: Iterable[str] = FORMATS) -> str:
    """``fmt`` if it is one of ``allowed``, else the one-line error naming them."""
    allowed = tuple(allowed)
    if fmt not in allowed:
        raise QueryError(f"--format: {fmt!r} is not one of {', '.join(allowed)}")
    return fmt


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text_expr(col: str, type_id: str) -> str:
    """``col`` as the VARCHAR the text formats show (see the module doc)."""
    c = _quote(col)
    if type_id == "timestamp with time zone":
        return f"strftime({c}, '{ISO_UTC}')"
    if type_id in _TIMESTAMPS:
        return f"strftime(CAST({c} AS TIMESTAMP), '{ISO_UTC}')"
    if type_id == "blob":
        return f"to_base64({c})"
    if type_id in _NESTED:
        return f"CAST(to_json({c}) AS VARCHAR)"
    return f"CAST({c} AS VARCHAR)"


def _json_expr(col: str, type_id: str) -> str:
    c = _quote(col)
    if type_id in _FLOATS:
        return f"CASE WHEN isfinite({c}) THEN {c} END"
    if type_id in _TIMESTAMPS or type_id == "blob":
        return _text_expr(col, type_id)
    return c


def unique_names(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with duplicate column names made unique (``a``, ``a_1``), as a subquery would."""
    return relation.project("*")


def as_text(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Every column as VARCHAR, by the module's rule, names kept."""
    cols = [f"{_text_expr(n, t.id)} AS {_quote(n)}" for n, t in zip(relation.columns, relation.types)]
    return relation.project(", ".join(cols))


def as_csv(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Numbers, booleans, dates and strings as they are, everything else VARCHAR by the module's rule."""
    cols = [_quote(n) if t.id in _CSV_NATIVE else f"{_text_expr(n, t.id)} AS {_quote(n)}"
            for n, t in zip(relation.columns, relation.types)]
    return relation.project(", ".join(cols))


def as_json_lines(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """One VARCHAR column ``json``: each row as a JSON object, keys in column order."""
    fields = ", ".join(f"{_literal(n)}: {_json_expr(n, t.id)}"
                       for n, t in zip(relation.columns, relation.types))
    return relation.project(f"CAST(to_json({{{fields}}}) AS VARCHAR) AS json" if fields else "'{}' AS json")


def batches(relation: duckdb.DuckDBPyRelation, rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """The relation's rows as a stream of Arrow batches (the method's name changed in DuckDB 1.4)."""
    get = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return get(rows)


def _stream(relations: Iterable[duckdb.DuckDBPyRelation], convert) -> Iterator[pa.RecordBatchReader]:
    for rel in relations:
        rel = unique_names(rel)
        yield batches(convert(rel) if convert else rel)


def write(relations: Iterable[duckdb.DuckDBPyRelation], fmt: str, sink: BinaryIO) -> int:
    """Write the rows of ``relations`` (same columns, in order) to ``sink`` in
    ``fmt``; return the number of rows. Columns come from the first relation."""
    check_format(fmt)
    rows = 0
    if fmt == "parquet":
        writer = None
        for reader in _stream(relations, None):
            if writer is None:
                writer = pq.ParquetWriter(sink, reader.schema, compression="zstd")
            for b in reader:
                writer.write_batch(b, row_group_size=BATCH_ROWS)
                rows += b.num_rows
        if writer is not None:
            writer.close()
        return rows
    if fmt == "csv":
        writer = None
        for reader in _stream(relations, as_csv):
            if writer is None:
                writer = pacsv.CSVWriter(sink, reader.schema)
            for b in reader:
                writer.write_batch(b)
                rows += b.num_rows
        if writer is not None:
            writer.close()
        return rows
    # JSON rows are made by DuckDB with their separator, and written as the
    # Arrow string buffer they arrive in: no Python object per row (a
    # per-row loop took 3 times as long as DuckDB's own to_json).
    array = fmt == "json"
    sep = "',' || chr(10) || json" if array else "json || chr(10)"
    sink.write(b"[" if array else b"")
    for reader in _stream(relations, lambda rel: as_json_lines(rel).project(f"{sep} AS json")):
        for b in reader:
            data = _string_bytes(b.column(0))
            if array and rows == 0 and data:
                data = data[1:]  # the first row's comma
            sink.write(data)
            rows += b.num_rows
    if array:
        sink.write(b"]\n" if rows == 0 else b"\n]\n")
    return rows


def _string_bytes(column: pa.Array) -> memoryview:
    """The concatenated values of a string column without nulls, from its buffers."""
    arr = column.cast(pa.large_string()) if column.type != pa.large_string() else column
    if len(arr) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    return memoryview(arr.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def write_table(relation: duckdb.DuckDBPyRelation, stream: TextIO, *, max_rows: int,
                width: int | None = None) -> int:
    """Print at most ``max_rows`` rows as a rich table on ``stream``; return
    the rows shown. Only ``max_rows + 1`` rows are read: the caption says
    when there were more (the query's other rows are never fetched)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if max_rows < 1:
        raise QueryError(f"--max-rows: must be at least 1, not {max_rows}")
    rel = as_text(unique_names(relation))
    shown: list[list] = []
    for b in batches(rel, max_rows + 1):
        shown.extend(zip(*(c.to_pylist() for c in b.columns)) if b.num_columns else [()] * b.num_rows)
        if len(shown) > max_rows:
            break
    more = len(shown) > max_rows
    shown = shown[:max_rows]
    caption = (f"first {len(shown):,} rows; the query returned more (--max-rows N, or --format csv for all)"
               if more else f"{len(shown):,} row{'s' if len(shown) != 1 else ''}")
    # Text, not markup: a column named "[red]" or a stored "[red]" in a
    # User-Agent is shown as it is
    table = Table(caption=caption, caption_justify="left")
    for name in rel.columns:
        table.add_column(Text(name))
    null = Text("NULL", style="dim")
    for row in shown:
        table.add_row(*(null if v is None else Text(v) for v in row))
    Console(file=stream, width=width, highlight=False).print(table)
    return len(shown)


def output_file(path: Path):
    """A binary file that appears at ``path`` only when the block succeeds."""
    return atomic_file(path, QueryError)

