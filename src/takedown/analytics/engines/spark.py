"""The report's dataset on Apache Spark (``takedown report --engine spark``).

:func:`spark_dataset` gives a :class:`SparkConnection`, which answers the
part of DuckDB's connection API that :mod:`takedown.analytics.queries` and
:func:`takedown.analytics.dataset.enrich_views` use (``execute`` with ``?``
parameters, ``description``, ``fetchall``; ``register``; ``sql``), running
each statement as Spark SQL translated from the one DuckDB text
(:mod:`takedown.analytics.engines.dialect`). So the views and the report's
tables are the same statements on both engines.

- ``events``: ``spark.read.parquet`` over ``{storage}/events`` with the
  ``kind=``/``date=`` directories as partition columns (Spark's partition
  discovery, the layout of :mod:`takedown.store`), files of different
  schema versions merged by name (``mergeSchema``), and every known column
  a file set lacks added as NULL, as the DuckDB view does.
- Enrichment runs in the engine: the distinct clear source addresses of the
  period are collected to the driver (one row per address, not per
  event), looked up with the operation's enricher, and joined back as a
  broadcast table (``pyspark.sql.functions.broadcast``): every executor
  gets the small table whole and the events are never shuffled for it.

Each dataset has a session of its own (``SparkSession.newSession``: its
own temporary views and settings over the one ``SparkContext``), so two
reports on one long-lived session do not see each other's views. Starting
a Spark context costs 10-20 s (a JVM): :func:`session` reuses the running
one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from takedown.analytics.dataset import IpLookup, enrich_views
from takedown.analytics.engines.dialect import spark_sql
from takedown.errors import ReportError
from takedown.store.reader import empty_events, event_files, is_remote, roots

#: The master when none is given: every core of this machine.
DEFAULT_MASTER = "local[*]"
#: Shuffle partitions: the report's aggregates are small (days, weeks,
#: countries), Spark's default of 200 tasks per shuffle is mostly overhead.
SHUFFLE_PARTITIONS = 8
#: Views of :func:`takedown.analytics.dataset.enrich_views` with a row per
#: distinct address or AS, not per event: cached once, not recomputed (a
#: shuffle) by every query that joins them.
SMALL_VIEWS = ("ipinfo", "_asnames")
#: Tables registered from Python that are joined to the events: broadcast
#: (the calendar is the preserved side of its joins, which Spark cannot broadcast).
BROADCAST = ("_ipinfo",)


def _pyspark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ReportError("the Spark engine needs pyspark: pip install 'takedown[spark]'") from None
    return SparkSession


def session(master: str | None = None, *, app_name: str = "takedown-report"):
    """The running Spark session, else a new one on ``master`` (default
    :data:`DEFAULT_MASTER`; ``local[2]``, ``spark://HOST:PORT``...).

    A running session on another master is an error, not silently used.
    The driver binds to loopback unless ``SPARK_LOCAL_IP`` says otherwise
    (a real cluster's workers must reach it: set it to the driver's address).
    """
    SparkSession = _pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        running = active.sparkContext.master
        if master is not None and running != master:
            raise ReportError(f"a Spark session on {running} is running in this process, not on {master}")
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    host = os.environ["SPARK_LOCAL_IP"]
    try:
        spark = (SparkSession.builder.master(master or DEFAULT_MASTER).appName(app_name)
                 .config("spark.ui.enabled", "false")
                 .config("spark.driver.host", host)
                 .config("spark.driver.bindAddress", host)
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
                 .getOrCreate())
    except Exception as exc:  # no java, a master that does not answer: pyspark's errors vary
        raise ReportError(f"cannot start Spark on {master or DEFAULT_MASTER}: {_first_line(exc)}") from None
    # Spark's WARN lines (a hint it did not need, a long plan truncated) are
    # not the report's; a failed query still raises with its message
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def query_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a Spark query raises (SQL errors, a lost executor, the JVM gone)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def _utc(value):
    # pyspark gives a TIMESTAMP as a naive datetime in the Python process's
    # local time; DuckDB (TimeZone UTC) gives an aware one: make both aware
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    return value


class _Result:
    """What ``execute`` returns: DuckDB's cursor methods the queries use."""

    def __init__(self, frame) -> None:
        self.description = [(name,) for name in frame.columns] if frame is not None else []
        self._rows = [tuple(_utc(v) for v in row) for row in frame.collect()] if frame is not None else []

    def fetchall(self) -> list[tuple]:
        return self._rows


class _Relation:
    def __init__(self, frame) -> None:
        self._frame = frame

    def to_arrow_table(self) -> pa.Table:
        return self._frame.toArrow()


class SparkConnection:
    """A Spark session spoken to in DuckDB SQL (see the module doc)."""

    def __init__(self, spark) -> None:
        self.spark = spark

    def _frame(self, sql: str, params: list | None = None):
        text = spark_sql(sql)
        return self.spark.sql(text, args=list(params)) if params else self.spark.sql(text)

    def execute(self, sql: str, params: list | None = None) -> _Result:
        frame = self._frame(sql, params)
        if sql.lstrip()[:6].upper() == "CREATE":
            return _Result(None)  # DDL runs when spark.sql is called
        return _Result(frame)

    def sql(self, sql: str) -> _Relation:
        return _Relation(self._frame(sql))

    def register(self, name: str, table: pa.Table) -> None:
        """``table`` as the temporary view ``name``; the enrichment's
        (:data:`BROADCAST`) is broadcast to every executor when joined."""
        from pyspark.sql.functions import broadcast

        frame = self.spark.createDataFrame(table)
        (broadcast(frame) if name in BROADCAST else frame).createOrReplaceTempView(name)

    def close(self) -> None:
        for name in [t.name for t in self.spark.catalog.listTables() if t.isTemporary]:
            self.spark.catalog.dropTempView(name)


def events_frame(spark, storage):
    """The ``events`` view's rows: every stored column plus ``kind`` and ``date`` (see the module doc).

    ``storage`` is one storage or several (:class:`takedown.store.reader.Dataset`,
    ``[events] sources``): each root is read with its own partition base and the
    roots are joined by column name, so every sensor's rows are one frame."""
    from pyspark.sql import functions as F

    known = spark.createDataFrame(empty_events())
    frames = []
    for root in roots(storage):
        if is_remote(root):  # listed by Spark's own file system (s3a://, hdfs://)
            base = f"{str(root).rstrip('/')}/events"
            paths = [f"{base}/kind=*/date=*/*.parquet"]
        else:
            files = event_files(Path(root))  # the files DuckDB's view reads, listed alike
            if not files:
                continue
            base, paths = str(Path(root) / "events"), [str(f) for f in files]
        frames.append(spark.read.option("basePath", base).option("mergeSchema", "true").parquet(*paths))
    if not frames:
        return known
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    frame = frame.withColumn("kind", F.col("kind").cast("string")).withColumn("date", F.col("date").cast("date"))
    for field in known.schema.fields:
        if field.name not in frame.columns:
            frame = frame.withColumn(field.name, F.lit(None).cast(field.dataType))
    return frame


@contextlib.contextmanager
def spark_dataset(
    storage: Path,
    *,
    enricher: IpLookup,
    date_from: date | None = None,
    date_to: date | None = None,
    master: str | None = None,
) -> Iterator[SparkConnection]:
    """A :class:`SparkConnection` with the views of
    :func:`takedown.analytics.dataset.open_dataset`, on a session of its own
    over :func:`session`'s context; its views are dropped at the end of the block."""
    spark = session(master).newSession()
    con = SparkConnection(spark)
    try:
        events_frame(spark, storage).createOrReplaceTempView("events")
        enrich_views(con, enricher=enricher, date_from=date_from, date_to=date_to)
        for small in SMALL_VIEWS:
            spark.catalog.cacheTable(small)
        yield con
    finally:
        for small in SMALL_VIEWS:
            if spark.catalog.tableExists(small):
                spark.catalog.uncacheTable(small)
        con.close()
