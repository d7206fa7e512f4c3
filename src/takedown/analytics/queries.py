"""The numbers of an operation: one query per table of the report.

Every function takes a connection from
:func:`takedown.analytics.dataset.open_dataset` (views ``checkins``,
``resolvers``, ``commands``) and returns plain rows (lists of dicts), already aggregated in
the engine: no event row ever comes into Python, so each table is one scan of
the Parquet files whatever their size.

The SQL is written once, in DuckDB's dialect, and is the only copy: the
Spark engine (:mod:`takedown.analytics.engines.spark`) runs the same text
translated by :mod:`takedown.analytics.engines.dialect`. So the queries keep
to SQL both engines have (no ``SELECT * REPLACE``, no table functions), and
a DuckDB function without a Spark translation is refused there, not guessed.

Counting rules (docs/report.md):

- an infected address is a distinct ``bot`` of the ``checkins`` view
  (``src_key`` when addresses are pseudonymised, else ``src_ip``);
  ``resolvers`` (DNS events) are counted on their own and never as bots;
- counts are exact (``count(DISTINCT ...)``) unless ``exact=False``, which
  uses DuckDB's HyperLogLog ``approx_count_distinct`` (a few percent off,
  less memory);
- weeks are ISO 8601 weeks (``YYYY-Www``, ``%G-W%V``) of the UTC day. The
  week is derived from the ``day`` partition, not from ``time``, so that a
  row whose ``time`` is NULL (a malformed event, filed under a date by the
  writer) is still in its day's week and the day and week tables add up;
- periods without events appear with zeros: the day and week tables are
  the calendar of the period (:func:`make_calendar`) joined with the counts.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa

from takedown.events import CHECKIN_KINDS

#: The ISO 8601 week of a DATE, as in the ``week`` column of the dataset views.
WEEK_OF_DAY = "strftime(day, '%G-W%V')"
#: What a NULL ``family`` or ``rule`` is shown as.
UNATTRIBUTED = "unattributed"
_KINDS = ", ".join(f"'{k}'" for k in (*CHECKIN_KINDS, "dns"))


def _distinct(column: str, exact: bool) -> str:
    return f"count(DISTINCT {column})" if exact else f"approx_count_distinct({column})"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def data_days(
    con: duckdb.DuckDBPyConnection, date_from: date | None = None, date_to: date | None = None
) -> tuple[date | None, date | None]:
    """First and last UTC day with events of any kind (check-ins or DNS)
    within the optional bounds; ``(None, None)`` when there are none.

    Reads the ``date`` partition of the ``events`` view (takedown.store.reader),
    not the enriched views, so it costs no join.
    """
    cond = [f"kind IN ({_KINDS})"]
    params: list = []
    if date_from is not None:
        cond.append("date >= ?")
        params.append(date_from)
    if date_to is not None:
        cond.append("date <= ?")
        params.append(date_to)
    first, last = con.execute(
        f"SELECT min(date), max(date) FROM events WHERE {' AND '.join(cond)}", params
    ).fetchall()[0]  # fetchall: DuckDB 2 refuses a later register() while a result is unfinished
    return first, last


def make_calendar(con: duckdb.DuckDBPyConnection, first: date | None, last: date | None) -> None:
    """Create the view ``calendar(day, week)``: every day of the period,
    inclusive (empty when there is no period). The day and week tables join
    it, which is how empty periods show as zeros.

    The days come from Python (engines differ in how they generate a
    series); their week labels from the same SQL as the data's, so a
    calendar week and a data week can only be spelled alike."""
    span = [] if first is None or last is None else [first + timedelta(days=i) for i in range((last - first).days + 1)]
    con.register("_calendar_days", pa.table({"day": pa.array(span, pa.date32())}))
    con.execute(f"CREATE OR REPLACE VIEW calendar AS SELECT day, {WEEK_OF_DAY} AS week FROM _calendar_days")


def days(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{day, unique_ips, events}]`` for every day of the calendar, in order."""
    return _rows(con, f"""
        WITH c AS (
            SELECT day, {_distinct('bot', exact)} AS unique_ips, count(*) AS events
            FROM checkins GROUP BY day
        )
        SELECT k.day, coalesce(c.unique_ips, 0) AS unique_ips, coalesce(c.events, 0) AS events
        FROM calendar k LEFT JOIN c USING (day)
        ORDER BY k.day
    """)


def _weekly(con: duckdb.DuckDBPyConnection, view: str, unique_name: str, exact: bool) -> list[dict]:
    return _rows(con, f"""
        WITH c AS (
            SELECT {WEEK_OF_DAY} AS week, {_distinct('bot', exact)} AS n, count(*) AS events
            FROM {view} GROUP BY ALL
        ),
        w AS (SELECT DISTINCT week FROM calendar)
        SELECT w.week, coalesce(c.n, 0) AS {unique_name}, coalesce(c.events, 0) AS events
        FROM w LEFT JOIN c USING (week)
        ORDER BY w.week
    """)


def weeks(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{week, unique_ips, events}]`` for every ISO week the period touches.

    A week cut by the period's ends counts only its days inside the period.
    ``YYYY-Www`` labels sort in time order as strings.
    """
    return _weekly(con, "checkins", "unique_ips", exact)


def new_returning(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """``[{week, unique_ips, new_ips, returning_ips}]`` for every week of the calendar.

    *New* in a week: first seen in the period that week; *returning*: also
    seen in an earlier week of the period. Always exact (each address's
    first week is needed), one scan: the distinct (week, bot) pairs, then
    each bot's first week among them.
    """
    return _rows(con, f"""
        WITH pairs AS (
            SELECT DISTINCT {WEEK_OF_DAY} AS week, bot FROM checkins WHERE bot IS NOT NULL
        ),
        firsts AS (
            SELECT week, bot, min(week) OVER (PARTITION BY bot) AS first_week FROM pairs
        ),
        c AS (
            SELECT week,
                   count(*) AS unique_ips,
                   count(*) FILTER (WHERE first_week = week) AS new_ips,
                   count(*) FILTER (WHERE first_week < week) AS returning_ips
            FROM firsts GROUP BY week
        ),
        w AS (SELECT DISTINCT week FROM calendar)
        SELECT w.week,
               coalesce(c.unique_ips, 0) AS unique_ips,
               coalesce(c.new_ips, 0) AS new_ips,
               coalesce(c.returning_ips, 0) AS returning_ips
        FROM w LEFT JOIN c USING (week)
        ORDER BY w.week
    """)


def countries(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{cc, unique_ips, events}]``, most unique addresses first, then by
    country code; unknown country is a row with ``cc`` None (placed last
    among equals)."""
    return _rows(con, f"""
        SELECT cc, {_distinct('bot', exact)} AS unique_ips, count(*) AS events
        FROM checkins GROUP BY cc
        ORDER BY unique_ips DESC, cc NULLS LAST
    """)


def asns(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{asn, as_name, unique_ips, events}]``, most unique addresses first,
    then by AS number; unknown AS is a row with ``asn`` None.

    The enricher may name one AS differently for different addresses (two
    database vintages); the smallest name is shown so the output is stable.
    """
    return _rows(con, f"""
        SELECT asn, min(as_name) AS as_name, {_distinct('bot', exact)} AS unique_ips, count(*) AS events
        FROM checkins GROUP BY asn
        ORDER BY unique_ips DESC, asn NULLS LAST
    """)


def _attributed(con: duckdb.DuckDBPyConnection, column: str, exact: bool) -> list[dict]:
    return _rows(
        con,
        f"""
        SELECT coalesce({column}, ?) AS {column}, {_distinct('bot', exact)} AS unique_ips, count(*) AS events
        FROM checkins GROUP BY ALL
        ORDER BY unique_ips DESC, {column}
        """,
        [UNATTRIBUTED],
    )


def families(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{family, unique_ips, events}]``; check-ins no rule attributed to a
    family are ``"unattributed"``. An address seen under two families counts
    in both."""
    return _attributed(con, "family", exact)


def rules(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{rule, unique_ips, events}]`` (a NULL rule, a malformed event, is ``"unattributed"``)."""
    return _attributed(con, "rule", exact)


def totals(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> dict:
    """``{total_unique_ips, total_events}`` over the whole period (an address
    seen in many weeks counts once)."""
    n, events = con.execute(f"SELECT {_distinct('bot', exact)}, count(*) FROM checkins").fetchall()[0]
    return {"total_unique_ips": int(n), "total_events": int(events)}


def resolver_weeks(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{week, unique_resolvers, events}]`` of DNS events for every week of
    the calendar: resolvers that asked for seized names, not infected hosts."""
    return _weekly(con, "resolvers", "unique_resolvers", exact)


def resolver_totals(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> dict:
    """``{total_unique_resolvers, total_events}`` of DNS events over the period."""
    n, events = con.execute(f"SELECT {_distinct('bot', exact)}, count(*) FROM resolvers").fetchall()[0]
    return {"total_unique_resolvers": int(n), "total_events": int(events)}


def _commands(con: duckdb.DuckDBPyConnection, keys: str, extra: str, exact: bool) -> list[dict]:
    return _rows(con, f"""
        WITH c AS (SELECT coalesce(family, ?) AS family, command, authority, bot, time, day FROM commands)
        SELECT {keys}, {_distinct('bot', exact)} AS unique_ips, count(*) AS events{extra}
        FROM c GROUP BY ALL ORDER BY ALL
    """, [UNATTRIBUTED])


def commands_sent(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{family, command, authority, unique_ips, events, first, last}]`` of
    command events (one per command response sent), by family, command and
    authority; ``first``/``last``: the first and last sent (UTC timestamps)."""
    return _commands(con, "family, command, authority", ", min(time) AS first, max(time) AS last", exact)


def commands_by_command(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{family, command, unique_ips, events}]`` of command events over the
    period, whatever the authority (an address told under two authorities counts once)."""
    return _commands(con, "family, command", "", exact)


def command_weeks(con: duckdb.DuckDBPyConnection, *, exact: bool = True) -> list[dict]:
    """``[{week, family, command, unique_ips, events}]`` of command events, for
    the ISO weeks that have any (no zero rows: commands are rare)."""
    return _commands(con, f"{WEEK_OF_DAY} AS week, family, command", "", exact)
