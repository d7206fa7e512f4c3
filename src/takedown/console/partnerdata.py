"""What a partner sees of the events: the check-ins and DNS events whose
source falls in its scope (:mod:`takedown.console.scope`), for the partner's
pages and the API alike.

Two ways in:

- :func:`open_scoped` gives a DuckDB connection over the operation's dataset
  (:func:`takedown.analytics.dataset.open_dataset`: the same enrichment as
  ``takedown report`` and ``takedown notify``) with two more views,
  ``my_checkins`` and ``my_resolvers``: the rows of ``checkins`` and
  ``resolvers`` in scope. The report files (:func:`daily_csvs`,
  :func:`report_files`, :func:`report_rows`: ``takedown notify``'s code)
  and an address's events read them.
- The *hosts summary* (:mod:`takedown.console.hosts`): one row per day,
  infected address and family, enriched once when the day is closed, merged
  per closed week (read by :func:`weekly`) and per aligned run of weeks
  (read by :func:`infected_ips` and :func:`breakdown`; :func:`report_days`
  reads the days). The lists and figures read its ``my_hosts`` view, which
  keeps the rows in scope by the same rule as :meth:`Scope.mask`, written
  as SQL so that DuckDB skips the row groups outside it.

Nothing outside the scope reaches a partner's page or API key: every query
reads one of these scoped views, and the tracker's entries are chosen by
:meth:`takedown.tracker.store.Tracker.scoped` with the scope's claims. The
pages (:mod:`takedown.console.pages.portal`) and the API
(:mod:`takedown.console.pages.api`) both call this module only.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import OrderedDict
from datetime import date

import duckdb
import pyarrow as pa

from takedown.analytics import notify, shadowserver as ss
from takedown.analytics.dataset import arrow_table, open_dataset, period_condition
from takedown.console import hosts
from takedown.console.access import NotFound
from takedown.console.scope import Scope
from takedown.enrich.choice import for_operation
from takedown.operation import Operation
from takedown.store.reader import connect, operation_dataset

__all__ = ["open_scoped", "scope_sql", "infected_ips", "ip_events", "weekly", "breakdown", "report_days",
           "owner", "file_name", "report_files", "report_rows", "report_csv", "daily_csvs", "tracker_entries"]

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9]")


def _list(values) -> str:
    return ", ".join(ss.sql_string(v) if isinstance(v, str) else str(int(v)) for v in sorted(values)) or "NULL"


def open_scoped(op: Operation, scope: Scope, date_from: date | None = None,
                date_to: date | None = None) -> duckdb.DuckDBPyConnection:
    con = open_dataset(operation_dataset(op), enricher=for_operation(op), date_from=date_from, date_to=date_to)
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


def scope_sql(scope: Scope) -> str:
    """The scope as a condition on the hosts summary's columns (``asn``,
    ``cc``, ``ip4``, ``ip6hi``, ``ip6lo``): the rule of :meth:`Scope.mask`.
    A row stored pseudonymised has no address columns, so only its AS and
    country can bring it in, as in :func:`open_scoped`."""
    terms = []
    if scope.asns:
        terms.append(f"asn IN ({_list(scope.asns)})")
    if scope.countries:
        terms.append(f"lower(cc) IN ({_list(scope.countries)})")
    for net in scope.networks:
        lo, hi = int(net.network_address), int(net.broadcast_address)
        if net.version == 4:
            terms.append(f"ip4 BETWEEN {lo} AND {hi}")
        elif net.prefixlen <= 64:
            terms.append(f"ip6hi BETWEEN {lo >> 64} AND {hi >> 64}")
        else:
            low = (1 << 64) - 1
            terms.append(f"(ip6hi = {lo >> 64} AND ip6lo BETWEEN {lo & low} AND {hi & low})")
    return "(" + " OR ".join(terms) + ")" if terms else "false"


# Answers by (what, storage, scope, period, version of the summary): a
# partner paging through its addresses or reloading its figures pays the
# aggregation once; a new or rebuilt summary file changes the key.
_CACHE: OrderedDict[tuple, object] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def _cached(what: str, op: Operation, scope: Scope, date_from: date | None, date_to: date | None, compute, *,
            weeks: bool = True, spans: bool = False):
    """``compute(con)`` over a connection whose ``my_hosts`` view is the
    summary's rows of the period in scope, or its remembered answer; with
    ``weeks``, a closed week's rows are its week file's (``day`` its Monday),
    with ``spans`` a run of closed weeks' rows are one span file's."""
    files, live = hosts.ensure(op, date_from, date_to, weeks=weeks, spans=spans)
    key = (what, str(op.storage), scope, date_from, date_to, hosts.version(files, live))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    con = hosts.connect_hosts(files, live)
    try:
        con.execute(f"CREATE TEMP VIEW my_hosts AS SELECT * FROM hosts WHERE {scope_sql(scope)}")
        value = compute(con)
    finally:
        con.close()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _dicts(cursor) -> list[dict]:
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, r)) for r in cursor.fetchall()]


def _ip_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    # the families as a sorted distinct list in the same grouping: string_agg(DISTINCT)
    # would group the rows a second time and join the two
    return arrow_table(con.sql("""
        SELECT bot AS ip, any_value(cc) AS cc, any_value(asn) AS asn, any_value(as_name) AS as_name,
               nullif(array_to_string(list_sort(list_distinct(list(family))), ','), '') AS families,
               sum(checkins)::BIGINT AS checkins,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM my_hosts GROUP BY bot ORDER BY last_seen DESC, ip"""))


def infected_ips(op: Operation, scope: Scope, date_from: date | None = None, date_to: date | None = None, *,
                 page: int = 1, size: int = 50) -> tuple[list[dict], int]:
    """(one page of the infected addresses in scope, their total): address,
    country, AS, AS name, families, check-ins, first and last seen; the
    most recently seen first."""
    if not scope.has_addresses:
        return [], 0
    # not by week: a span file holds about one row per address and family for several weeks
    table = _cached("ips", op, scope, date_from, date_to, _ip_table, spans=True)
    return table.slice((page - 1) * size, size).to_pylist(), table.num_rows


def in_scope(op: Operation, scope: Scope, ip: str) -> bool:
    """Whether one address (text) is in scope, enriched as the dataset enriches it."""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    info = for_operation(op).lookup(pa.array([ip], pa.string()))
    return bool(scope.mask(pa.array([ip], pa.string()), info.column("asn").cast(pa.int64()),
                           info.column("cc"))[0])


def ip_events(op: Operation, scope: Scope, ip: str, date_from: date | None = None, date_to: date | None = None,
              *, page: int = 1, size: int = 50) -> tuple[list[dict], int]:
    """(one page of the events of address ``ip``, newest first, their total).
    An address outside the scope (or not an address) raises
    :class:`takedown.console.access.NotFound`: for the partner it does not exist."""
    if not in_scope(op, scope, ip):
        raise NotFound(ip)
    con = connect(operation_dataset(op))
    try:
        present = set(con.sql("SELECT * FROM events LIMIT 0").columns)
        inputs = {**ss.CHECKIN_INPUTS, "qname": "VARCHAR", "qtype": "VARCHAR"}
        cols = ss.inputs_sql("events", inputs, present).removeprefix("SELECT ").split(" FROM ")[0]
        where = f"{period_condition(date_from, date_to)} AND src_key IS NULL AND src_ip = ?"
        total = con.execute(f"SELECT count(*) FROM events WHERE {where}", [ip]).fetchone()[0]
        rows = _dicts(con.execute(f"SELECT {cols} FROM events WHERE {where} ORDER BY time DESC LIMIT ? OFFSET ?",
                                  [ip, size, (page - 1) * size]))
        return rows, int(total)
    finally:
        con.close()


def _ints(rows: list[dict]) -> list[dict]:
    for r in rows:
        r.update({k: int(v) for k, v in r.items() if k in ("unique_ips", "checkins")})
    return rows


def _weeks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Unique addresses and check-ins per ISO week: over week files, a
    week's unique addresses are a count over one file's rows."""
    return _ints(_dicts(con.execute(
        "SELECT strftime(day, '%G-W%V') AS week, count(DISTINCT bot) AS unique_ips, sum(checkins) AS checkins "
        "FROM my_hosts GROUP BY week ORDER BY week")))


def _parts(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    """The period's unique addresses by country, AS and family in one pass:
    the rows in scope (span files: about one per address and family) read
    once into a table, then aggregated three ways."""
    con.execute("CREATE TEMP TABLE _mine AS SELECT bot, cc, asn, as_name, family, checkins FROM my_hosts")
    return {k: _ints(_dicts(con.execute(q))) for k, q in (
        ("countries", "SELECT upper(cc) AS cc, count(DISTINCT bot) AS unique_ips FROM _mine "
                      "GROUP BY 1 ORDER BY unique_ips DESC, cc NULLS LAST"),
        ("asns", "SELECT asn, any_value(as_name) AS as_name, count(DISTINCT bot) AS unique_ips FROM _mine "
                 "GROUP BY asn ORDER BY unique_ips DESC, asn NULLS LAST"),
        ("families", "SELECT family, count(DISTINCT bot) AS unique_ips, sum(checkins) AS checkins FROM _mine "
                     "GROUP BY family ORDER BY unique_ips DESC, family NULLS LAST"))}


def weekly(op: Operation, scope: Scope, date_from: date | None = None, date_to: date | None = None) -> list[dict]:
    """Unique infected addresses and check-ins per ISO week, in scope."""
    if not scope.has_addresses:
        return []
    return [dict(r) for r in _cached("weeks", op, scope, date_from, date_to, _weeks)]


def breakdown(op: Operation, scope: Scope, date_from: date | None = None, date_to: date | None = None,
              *, top: int = 20) -> dict[str, list[dict]]:
    """The period's unique infected addresses in scope by country, AS and
    family (the ``top`` largest of each, then by name)."""
    if not scope.has_addresses:
        return {"countries": [], "asns": [], "families": []}
    got = _cached("parts", op, scope, date_from, date_to, _parts, spans=True)
    return {k: [dict(r) for r in got[k][:top]] for k in ("countries", "asns", "families")}


def report_days(op: Operation, scope: Scope, date_from: date | None = None,
                date_to: date | None = None) -> list[date]:
    """The days with check-ins in scope, newest first (from the hosts summary)."""
    if not scope.has_addresses:
        return []
    return list(_cached("days", op, scope, date_from, date_to, lambda con: [
        d for (d,) in con.execute("SELECT DISTINCT day FROM my_hosts ORDER BY day DESC").fetchall()], weeks=False))


def owner(partner: str) -> str:
    """A partner's name as the owner part of its report file names: lower
    case, every character but letters and digits an ``_`` ('CERT-A' ->
    'cert_a'), as IntelMQ's Shadowserver parser needs."""
    return _FILE_UNSAFE.sub("_", partner).strip("_").lower() or "partner"


def file_name(day: date, report: str, partner: str) -> str:
    """The name of a partner's report file, as ``takedown notify`` names
    them: '2024-12-16-event4_sinkhole_http-cert_a.csv'."""
    return notify.report_name(day, report, owner(partner))


def _report_rows(op: Operation, scope: Scope, date_from: date, date_to: date) -> duckdb.DuckDBPyConnection:
    """A scoped connection with ``takedown notify``'s report rows of the period prepared."""
    con = open_scoped(op, scope, date_from, date_to)
    notify.prepare_views(con, for_operation(op), checkins="my_checkins", resolvers="my_resolvers",
                         operation=op.name)
    return con


def report_files(op: Operation, scope: Scope, partner: str, date_from: date, date_to: date) -> list[dict]:
    """The period's days with report rows in scope (check-ins or DNS
    queries), newest first: ``{"day", "reports": [{"type", "name", "rows"}]}``,
    the types in ``takedown notify``'s order, the rows those of the day's file."""
    if not scope.has_addresses:
        return []
    con = _report_rows(op, scope, date_from, date_to)
    try:
        # a day's file groups its DNS rows over that day alone
        rows = con.execute(f"""
            SELECT strftime(_time, '%Y-%m-%d') AS day, _report, count(*) FROM _ckrows GROUP BY ALL
            UNION ALL
            SELECT day, '{ss.DNS_REPORT}', count(*) FROM (
                SELECT DISTINCT strftime(time, '%Y-%m-%d') AS day, src_ip, transport, qname, qtype, rule, family
                FROM _rs WHERE {ss.CLEAR} AND {ss.DNS_SUNK}) GROUP BY day""").fetchall()
    finally:
        con.close()
    order = list(ss.REPORTS)
    days: dict[str, list[tuple[str, int]]] = {}
    for day, report, n in rows:
        days.setdefault(day, []).append((report, int(n)))
    return [{"day": d, "reports": [{"type": r, "name": file_name(date.fromisoformat(d), r, partner), "rows": n}
                                   for r, n in sorted(days[d], key=lambda x: order.index(x[0]))]}
            for d in sorted(days, reverse=True)]


def report_rows(op: Operation, scope: Scope, report: str, date_from: date, date_to: date, *,
                limit: int | None = None, offset: int = 0) -> tuple[pa.Table, int]:
    """(the rows of ``report`` in scope over the period, in Shadowserver's
    columns, ordered as in a file, from ``offset``, at most ``limit``; their
    total): :func:`takedown.analytics.notify.report_table` over the scoped views."""
    if report not in ss.REPORTS:
        raise ValueError(f"unknown report type {report!r}")
    if not scope.has_addresses:
        return pa.table({f: pa.array([], pa.string()) for f in ss.REPORTS[report]}), 0
    con = _report_rows(op, scope, date_from, date_to)
    try:
        return notify.report_table(con, report, limit=limit, offset=offset)
    finally:
        con.close()


def report_csv(op: Operation, scope: Scope, report: str, day: date) -> tuple[bytes, int]:
    """(one day's file of ``report`` in scope, as :func:`daily_csvs` gives it; its rows)."""
    table, rows = report_rows(op, scope, report, day, day)
    return notify.csv_bytes(table), rows


def daily_csvs(op: Operation, scope: Scope, day: date, *, partner: str) -> list[tuple[str, bytes]]:
    """The day's Shadowserver-format reports restricted to the scope, as
    ``takedown notify`` writes them (:func:`takedown.analytics.notify.report_csvs`),
    named by :func:`file_name`."""
    if not scope.has_addresses:
        return []
    con = open_scoped(op, scope, day, day)
    try:
        files = notify.report_csvs(con, for_operation(op), checkins="my_checkins", resolvers="my_resolvers",
                                   operation=op.name)
    finally:
        con.close()
    return [(file_name(day, report, partner), body) for report, body, _rows in files]


def tracker_entries(tracker, scope: Scope, *, family: str | None = None, status: str | None = None,
                    kind: str | None = None, page: int = 1, size: int = 50) -> tuple[list, int]:
    """(one page of the tracked indicators in scope, their total), in id
    order: an address (or a URL whose host is an address) by the tracker's
    stored AS and country or a claimed prefix; a domain (or a URL's host
    name) when it is a claimed domain or below one
    (:meth:`takedown.tracker.store.Tracker.scoped`, decided in the store)."""
    if scope.empty:
        return [], 0
    return tracker.scoped(asns=scope.asns, countries=scope.countries, networks=scope.networks,
                          domains=scope.domains, family=family, status=status, kind=kind,
                          limit=size, offset=(page - 1) * size)
