"""The report's DuckDB SQL as Spark SQL: one text, two engines.

:mod:`takedown.analytics.queries` and :mod:`takedown.analytics.dataset`
hold the only copy of the SQL, in DuckDB's dialect. :func:`spark_sql`
translates it with SQLGlot (https://sqlglot.com, ``read="duckdb"``,
``write="spark"``) and then applies the fixes SQLGlot does not make:

- ``strftime(x, '%G-W%V')``, the ISO 8601 week label, comes out of SQLGlot
  as ``DATE_FORMAT(x, '%G-W%V')``, which Spark formats as literal text (and
  Spark 3+ refuses week-based pattern letters anyway). It becomes
  ``format_string('%04d-W%02d', extract(YEAROFWEEK FROM x), weekofyear(x))``:
  Spark's ``YEAROFWEEK`` is the ISO week-numbering year and ``weekofyear``
  the ISO week (Spark SQL reference, "Datetime functions"), so 2024-12-30
  is ``2025-W01`` and 2021-01-03 is ``2020-W53`` as in DuckDB.
- Any other ``strftime`` format is refused (:class:`ReportError`): a format
  is translated only when its meaning in both engines was checked.
- ``CREATE VIEW`` becomes ``CREATE TEMPORARY VIEW``: a Spark view over
  temporary views (the events, the enrichment) must itself be temporary,
  and it lives only as long as the session, like DuckDB's in-memory views.

SQLGlot's own "cannot translate" cases raise too (``unsupported_level``).
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from takedown.errors import ReportError

#: The ISO week label, as written in DuckDB (takedown.analytics.queries.WEEK_OF_DAY).
ISO_WEEK_FORMAT = "%G-W%V"
#: Its Spark SQL, ``{x}`` the date; replaceable so a test can plant a wrong one.
SPARK_ISO_WEEK = "format_string('%04d-W%02d', extract(YEAROFWEEK FROM {x}), weekofyear({x}))"


def _iso_week(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.TimeToStr):
        return node
    fmt = node.args.get("format")
    text = fmt.name if isinstance(fmt, exp.Literal) else None
    if text != ISO_WEEK_FORMAT:
        raise ReportError(f"no Spark translation checked for strftime format {text!r} (only {ISO_WEEK_FORMAT!r})")
    x = node.this.sql(dialect="spark")
    return sqlglot.parse_one(SPARK_ISO_WEEK.format(x=x), read="spark")


def _temporary(tree: exp.Expression) -> exp.Expression:
    if isinstance(tree, exp.Create) and tree.kind == "VIEW":
        props = tree.args.get("properties") or exp.Properties(expressions=[])
        if not any(isinstance(p, exp.TemporaryProperty) for p in props.expressions):
            props.append("expressions", exp.TemporaryProperty())
        tree.set("properties", props)
    return tree


@lru_cache(maxsize=256)
def spark_sql(duckdb_sql: str) -> str:
    """One DuckDB statement as Spark SQL (see the module doc); ``?`` placeholders stay."""
    try:
        tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
        tree = _temporary(tree.transform(_iso_week))
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportError(f"cannot translate a report query to Spark SQL: {first}") from None
