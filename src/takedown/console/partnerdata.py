"""What a partner sees of the events: the check-ins and DNS events whose
source falls in its scope (:mod:`takedown.console.scope`), for the partner's
pages and the API alike.

:func:`open_scoped` gives a DuckDB connection over the operation's dataset
(:func:`takedown.analytics.dataset.open_dataset`: the same enrichment as
``takedown report`` and ``takedown notify``) with two more views,
``my_checkins`` and ``my_resolvers``: the rows of ``checkins`` and
``resolvers`` in scope. Every partner query reads these views and nothing
else, so nothing outside the scope can reach a partner's page.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from takedown.analytics.dataset import arrow_table, open_dataset
from takedown.console.scope import Scope
from takedown.enrich.choice import for_operation
from takedown.operation import Operation

__all__ = ["open_scoped", "infected_ips", "weekly"]


def _list(values) -> str:
    return ", ".join(f"'{v}'" if isinstance(v, str) else str(int(v)) for v in sorted(values)) or "NULL"


def open_scoped(op: Operation, scope: Scope, date_from: date | None = None,
                date_to: date | None = None) -> duckdb.DuckDBPyConnection:
    con = open_dataset(op.storage, enricher=for_operation(op), date_from=date_from, date_to=date_to)
    info = arrow_table(con.sql("SELECT ip, asn, cc FROM ipinfo"))
    mask = scope.mask(info.column("ip"), info.column("asn"), info.column("cc")) if info.num_rows else []
    mine = info.column("ip").filter(pa.array(mask, pa.bool_())) if info.num_rows else pa.array([], pa.string())
    con.register("_myips", pa.table({"ip": mine}))
    # pseudonymised addresses (src_key) are in scope by their stored AS and country only
    keyed = (f"(e.src_key IS NOT NULL AND (e.asn IN ({_list(scope.asns)}) "
             f"OR lower(e.cc) IN ({_list(scope.countries)})))")
    for view, base in (("my_checkins", "checkins"), ("my_resolvers", "resolvers")):
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT e.* FROM {base} e "
                    f"WHERE (e.src_key IS NULL AND e.src_ip IN (SELECT ip FROM _myips)) OR {keyed}")
    return con


def infected_ips(op: Operation, scope: Scope, date_from: date | None = None, date_to: date | None = None, *,
                 page: int = 1, size: int = 50) -> tuple[list[dict], int]:
    """(one page of the infected addresses in scope, their total): address,
    country, AS, AS name, families, check-ins, first and last seen; the
    most recently seen first."""
    con = open_scoped(op, scope, date_from, date_to)
    try:
        con.execute("""CREATE TEMP TABLE _hosts AS
            SELECT bot AS ip, any_value(cc) AS cc, any_value(asn) AS asn, any_value(as_name) AS as_name,
                   string_agg(DISTINCT family, ',' ORDER BY family) AS families, count(*) AS checkins,
                   min(time) AS first_seen, max(time) AS last_seen
            FROM my_checkins GROUP BY bot""")
        total = con.execute("SELECT count(*) FROM _hosts").fetchone()[0]
        rows = con.execute("SELECT * FROM _hosts ORDER BY last_seen DESC, ip LIMIT ? OFFSET ?",
                           [size, (page - 1) * size])
        cols = [d[0] for d in rows.description]
        return [dict(zip(cols, r)) for r in rows.fetchall()], int(total)
    finally:
        con.close()


def weekly(op: Operation, scope: Scope, date_from: date | None = None, date_to: date | None = None) -> list[dict]:
    """Unique infected addresses and check-ins per ISO week, in scope."""
    con = open_scoped(op, scope, date_from, date_to)
    try:
        rows = con.execute("SELECT week, count(DISTINCT bot) AS unique_ips, count(*) AS checkins "
                           "FROM my_checkins GROUP BY week ORDER BY week").fetchall()
        return [{"week": w, "unique_ips": int(u), "checkins": int(c)} for w, u, c in rows]
    finally:
        con.close()
