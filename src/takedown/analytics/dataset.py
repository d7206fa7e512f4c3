"""The operation's events as DuckDB views, enriched, for reports and feeds.

:func:`open_dataset` gives a DuckDB connection with four views:

``checkins``
    Bot check-ins (kinds ``http``, ``tls``, ``tcp``) in the period: every
    stored column, plus

    - ``day`` (DATE, UTC) and ``week`` (VARCHAR ``YYYY-Www``, ISO 8601);
    - ``bot``: what identifies an infected address for unique counts, the
      keyed hash ``src_key`` when the operation stores addresses
      pseudonymised, else ``src_ip`` (so counts stay exact either way);
    - ``cc``, ``asn``, ``as_name``: where the address is, from the values
      stored with the event (privacy modes) or else looked up now with the
      enricher (``ipinfo``).

``resolvers``
    DNS events in the period, with ``day``, ``week``, ``cc``, ``asn``,
    ``as_name`` of the resolver, and ``dga_date`` (DATE): for a name sunk by a
    ``[[dga]]`` entry, the first day of the DGA period it was generated for
    (from the rule ``dga:<family>:<date>``), else NULL. Resolver observations
    are never counted as infected hosts (see :mod:`takedown.events`).

``commands``
    Command responses sent under a court's authority (kind ``command``,
    issue 17) in the period: every stored column, plus ``day``, ``week`` and
    ``bot`` as in ``checkins``. A command event is not a check-in: the
    check-in it answered is in ``checkins``.

``ipinfo``
    One row per distinct source address of the period: ``ip``, ``cc``,
    ``asn``, ``as_name`` (the enricher's answer, vectorised over the batch).

The period is inclusive at both ends and filters on the ``date`` partition
first, so files outside it are never opened.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

import duckdb
import pyarrow as pa

from takedown.events import CHECKIN_KINDS
from takedown.store.reader import connect


class IpLookup(Protocol):
    """What the dataset needs from an enricher (takedown.enrich.Enricher)."""

    def lookup(self, ips: pa.Array) -> pa.Table:
        """``ips`` (strings) -> a table of the same length and order with
        columns ``cc`` (string), ``asn`` (int64), ``as_name`` (string), NULL
        where unknown."""
        ...


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A DuckDB relation's rows as an Arrow table (the method's name changed in DuckDB 1.4)."""
    get = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return get()


def period_condition(date_from: date | None, date_to: date | None) -> str:
    """SQL condition on the ``date`` partition for the period (inclusive; None: unbounded)."""
    cond = ["true"]
    if date_from is not None:
        cond.append(f"date >= DATE '{date_from.isoformat()}'")
    if date_to is not None:
        cond.append(f"date <= DATE '{date_to.isoformat()}'")
    return " AND ".join(cond)


_KINDS = ", ".join(f"'{k}'" for k in CHECKIN_KINDS)
_WEEK = "strftime(e.date, '%G-W%V')"


def open_dataset(
    storage,
    *,
    enricher: IpLookup,
    date_from: date | None = None,
    date_to: date | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the ``checkins``, ``resolvers``, ``commands`` and ``ipinfo`` views (see the module doc).

    ``storage``: one storage, or a :class:`takedown.store.reader.Dataset` of
    several sensors' (``[events] sources``), whose rows are one ``events``
    view: every unique count over the views is across sensors."""
    con = connect(storage)
    enrich_views(con, enricher=enricher, date_from=date_from, date_to=date_to)
    return con


def enrich_views(con, *, enricher: IpLookup, date_from: date | None = None, date_to: date | None = None) -> None:
    """Create the enriched views of the module doc on ``con``, which has an ``events`` view.

    ``con`` is a DuckDB connection or anything with its ``execute``,
    ``register`` (an Arrow table as a view) and ``sql`` (a relation for
    :func:`arrow_table`): the Spark engine
    (:mod:`takedown.analytics.engines.spark`) runs these same statements,
    translated to Spark SQL, so both engines enrich alike.
    """
    period = period_condition(date_from, date_to)
    con.execute(f"CREATE OR REPLACE VIEW _period AS SELECT * FROM events WHERE {period}")
    ips = arrow_table(con.sql(
        "SELECT DISTINCT src_ip FROM _period WHERE src_ip IS NOT NULL AND src_key IS NULL"
    ))
    ip_col = ips.column("src_ip") if ips.num_rows else pa.array([], pa.string())
    if isinstance(ip_col, pa.ChunkedArray):
        ip_col = ip_col.combine_chunks()
    info = enricher.lookup(ip_col)
    table = pa.table({
        "ip": ip_col,
        "cc": info.column("cc"),
        "asn": info.column("asn").cast(pa.int64()),
        "as_name": info.column("as_name"),
    })
    con.register("_ipinfo", table)
    con.execute("CREATE OR REPLACE VIEW ipinfo AS SELECT * FROM _ipinfo")
    # AS names for addresses stored pseudonymised: the name of the same AS seen in clear, if any
    con.execute("CREATE OR REPLACE VIEW _asnames AS SELECT asn, any_value(as_name) AS as_name "
                "FROM ipinfo WHERE asn IS NOT NULL GROUP BY asn")
    dga_date = ("CASE WHEN e.rule LIKE 'dga:%' THEN try_cast(split_part(e.rule, ':', 3) AS DATE) END "
                "AS dga_date,")
    for view, where, extra in (("checkins", f"kind IN ({_KINDS})", ""), ("resolvers", "kind = 'dns'", dga_date)):
        con.execute(f"""
            CREATE OR REPLACE VIEW {view} AS
            SELECT e.*, {extra}
                   e.date AS day,
                   {_WEEK} AS week,
                   coalesce(e.src_key, e.src_ip) AS bot,
                   coalesce(e.src_cc, i.cc) AS cc,
                   coalesce(e.src_asn, i.asn) AS asn,
                   coalesce(i.as_name, n.as_name) AS as_name
            FROM _period e
            LEFT JOIN ipinfo i ON e.src_key IS NULL AND i.ip = e.src_ip
            LEFT JOIN _asnames n ON n.asn = coalesce(e.src_asn, i.asn)
            WHERE {where}
        """)
    con.execute(f"""
        CREATE OR REPLACE VIEW commands AS
        SELECT e.*, e.date AS day, {_WEEK} AS week, coalesce(e.src_key, e.src_ip) AS bot
        FROM _period e WHERE kind = 'command'
    """)
