"""The engines a report runs on: DuckDB in process (the default) or Apache Spark.

:func:`dataset` opens the enriched views of
:func:`takedown.analytics.dataset.open_dataset` on either, so
:mod:`takedown.analytics.queries` runs unchanged on both (its SQL is
translated for Spark by :mod:`takedown.analytics.engines.dialect`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb

from takedown.analytics.dataset import IpLookup, open_dataset
from takedown.errors import ReportError

#: ``--engine`` values.
ENGINES = ("duckdb", "spark")
#: The master URLs Spark accepts (Spark docs, "Master URLs"): checked before a
#: JVM starts, whose refusal of a bad one is a Java stack trace on stderr.
_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|spark://[\w.\-]+:\d+(,[\w.\-]+:\d+)*|yarn|k8s://\S+")


def check_engine(engine: str, master: str | None = None) -> None:
    """:class:`ReportError` for an unknown engine, or a master given to DuckDB."""
    if engine not in ENGINES:
        raise ReportError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if master is not None and engine != "spark":
        raise ReportError(f"--master {master} is a Spark master: it needs --engine spark")
    if master is not None and not _MASTER.fullmatch(master):
        raise ReportError(f"--master {master}: not a Spark master URL (local[N], spark://HOST:PORT, yarn, k8s://...)")


def query_errors(engine: str) -> tuple[type[BaseException], ...]:
    """The exceptions a query on ``engine`` raises for bad data or a failed run."""
    if engine == "spark":
        from takedown.analytics.engines.spark import query_errors as spark_errors

        return (duckdb.Error, *spark_errors())
    return (duckdb.Error,)


@contextlib.contextmanager
def dataset(
    engine: str,
    storage: Path,
    *,
    enricher: IpLookup,
    date_from: date | None = None,
    date_to: date | None = None,
    master: str | None = None,
) -> Iterator:
    """The enriched views over ``storage`` on ``engine``, closed at the end of the block."""
    check_engine(engine, master)
    if engine == "spark":
        from takedown.analytics.engines.spark import spark_dataset

        with spark_dataset(storage, enricher=enricher, date_from=date_from, date_to=date_to,
                           master=master) as con:
            yield con
        return
    con = open_dataset(storage, enricher=enricher, date_from=date_from, date_to=date_to)
    try:
        yield con
    finally:
        con.close()
