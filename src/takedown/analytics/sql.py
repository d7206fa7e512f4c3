"""Read-only SQL over an operation's events: ``takedown events sql``.

The views are the report's, built by the same code:

``events``
    Every stored event of every kind and day, every stored column plus
    ``kind`` and ``date`` (:func:`takedown.store.reader.connect`).
``checkins``, ``resolvers``, ``commands``, ``ipinfo``
    The enriched views of :func:`takedown.analytics.dataset.open_dataset`
    (``day``, ``week``, ``bot``, ``cc``, ``asn``, ``as_name``; ``dga_date``
    on ``resolvers``; ``commands``: ``day``, ``week``, ``bot`` only), over
    every day stored.

The enriched views cost a pass over the distinct source addresses and the
enricher's tables (about a second to load), so they are built only when the
query names a view other than ``events`` (DuckDB's own parser says which:
``get_table_names``).

**Read-only, in three layers.** A typo or a pasted line in a shared console
must not write a file, load code or reach the network:

1. The text must be exactly one statement, and a query (DuckDB's statement
   type SELECT: ``SELECT``, ``WITH``, ``FROM ...``, ``VALUES``, ``DESCRIBE``,
   ``SUMMARIZE``, ``SHOW``, set operations). ``COPY``, ``EXPORT``,
   ``ATTACH``, ``INSTALL``, ``LOAD``, ``SET``, ``PRAGMA``, ``CALL``,
   ``CREATE``, ``INSERT``/``UPDATE``/``DELETE`` and ``EXPLAIN`` (``EXPLAIN
   ANALYZE`` runs the statement it explains) are refused before anything
   runs.
2. The database is DuckDB in memory; once the views exist the connection
   may read files only under ``{storage}/events/`` (``allowed_directories``,
   ``enable_external_access = false``: no other file, no URL), loads and
   installs no extension, and its configuration is locked, so no statement
   can undo this. (DuckDB would let a ``COPY`` write inside an allowed
   directory: layer 1 is what keeps one from writing into the store.)
3. The in-memory catalog holds only views and registered Arrow tables: a
   data-modifying ``WITH x AS (INSERT ...)``, which DuckDB types as a
   query, has no table to modify, and the database ends with the command.

Output formats and the streaming rule are in :mod:`takedown.analytics.output`.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

import duckdb

from takedown.analytics.dataset import IpLookup, open_dataset
from takedown.analytics.output import (check_format, check_output, deliver, errors_as_query_errors, first_line,
                                       output_file, write_table)
from takedown.errors import QueryError
from takedown.store.reader import connect, is_remote, roots

#: ``--format`` values of ``takedown events sql``.
SQL_FORMATS = ("table", "csv", "json", "jsonl", "parquet")
#: Rows a table shows by default (``--max-rows``).
TABLE_ROWS = 100


def statement(sql: str) -> str:
    """``sql`` if it is exactly one query (layer 1 of the module doc), else :class:`QueryError`."""
    try:
        found = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(first_line(exc)) from None
    if not found:
        raise QueryError("the query is empty")
    if len(found) > 1:
        raise QueryError(f"one statement at a time, not {len(found)}")
    kind = found[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(f"only queries may run (SELECT, WITH, FROM, DESCRIBE, SUMMARIZE...), "
                         f"not {kind.name}: the events are read-only")
    return sql


def names_other_views(sql: str) -> bool:
    """Whether the query names a table or view other than ``events`` (or
    cannot be parsed without one: then the enriched views are built and the
    real connection gives the real error)."""
    scratch = duckdb.connect(config={"enable_external_access": False,
                                     "autoload_known_extensions": False,
                                     "autoinstall_known_extensions": False})
    try:
        names = scratch.get_table_names(sql)
    except duckdb.Error:
        return True
    finally:
        scratch.close()
    return bool({n.lower() for n in names} - {"events"})


def lock(con: duckdb.DuckDBPyConnection, storage: Path, spill: Path, memory_limit: str | None) -> None:
    """Layer 2 of the module doc: read only under ``{storage}/events/``, nothing else, for good.
    Sorts and joins bigger than ``memory_limit`` (DuckDB's default: 80% of
    RAM) spill into ``spill``, a private directory, not the working one."""
    # every storage's events/ (a URL's too: DuckDB checks remote paths against the list as well)
    events_dirs = [f"{r.rstrip('/')}/events/" if is_remote(r) else str(Path(r) / "events") + os.sep
                   for r in roots(storage)]
    con.execute("SET temp_directory = ?", [str(spill)])
    if memory_limit is not None:
        con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET allowed_directories = ?", [events_dirs])
    for setting in ("enable_external_access", "autoload_known_extensions", "autoinstall_known_extensions"):
        con.execute(f"SET {setting} = false")
    con.execute("SET lock_configuration = true")


@contextlib.contextmanager
def read_only(
    storage: Path,
    *,
    enriched: bool,
    enricher: Callable[[], IpLookup],
    date_from=None,
    date_to=None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked connection with ``events``, and with the enriched views when
    ``enriched`` (over ``date_from``..``date_to``, every day by default);
    closed, and its spill directory removed, at the end of the block."""
    with tempfile.TemporaryDirectory(prefix="takedown-sql-") as spill:
        try:
            if enriched:
                con = open_dataset(storage, enricher=enricher(), date_from=date_from, date_to=date_to)
            else:
                con = connect(storage)
            lock(con, storage, Path(spill), memory_limit)
        except duckdb.Error as exc:
            raise QueryError(f"cannot read the events under {storage}: {first_line(exc)}") from None
        try:
            yield con
        finally:
            con.close()


def run_sql(
    storage: Path,
    sql: str,
    *,
    fmt: str,
    enricher: Callable[[], IpLookup],
    out: Path | None = None,
    stdout: BinaryIO | None = None,
    console: TextIO | None = None,
    max_rows: int = TABLE_ROWS,
    width: int | None = None,
) -> int:
    """Run ``sql`` (one read-only query) over the events under ``storage`` and
    write its rows: a table of at most ``max_rows`` rows on ``console`` (or
    in ``out``), or every row in ``fmt`` to ``out`` or ``stdout``. Returns
    the rows written. ``enricher`` is called only if the query needs the
    enriched views. Raises :class:`QueryError` with one line for a refused or
    failing query, a bad format, an output inside the store."""
    check_format(fmt, SQL_FORMATS)
    check_output(out, fmt, storage)
    text = statement(sql)
    with read_only(storage, enriched=names_other_views(text), enricher=enricher) as con:
        with errors_as_query_errors(str(out) if out else "the output"):
            relation = con.sql(text)
            if fmt != "table":
                return deliver([relation], fmt, out, stdout)
            if out is None:
                # piped or redirected: each row on one line, not squeezed into 80 columns
                wide = width or (None if console.isatty() else 10_000)
                return write_table(relation, console, max_rows=max_rows, width=wide)
            with output_file(out) as f, io.TextIOWrapper(f, encoding="utf-8") as text_out:
                return write_table(relation, text_out, max_rows=max_rows, width=width or 10_000)
