"""A partner's reports, addresses and tracker entries, for the API (and any
page that wants them): what :mod:`takedown.console.partnerdata` does not
give.

- :func:`report_days`: the days with events in scope, each with its report
  types and file names as ``takedown notify`` names them
  (``YYYY-MM-DD-<type>-<owner>.csv``, :func:`takedown.analytics.notify.report_name`),
  the owner being the partner's name (:func:`report_owner`);
- :func:`report_rows` / :func:`report_csv`: the rows of one report type in
  Shadowserver's columns (:mod:`takedown.analytics.shadowserver`), built by
  the same SQL as ``takedown notify``'s files but over the partner's views
  ``my_checkins`` and ``my_resolvers`` only;
- :func:`address_events`: one address's events, None when the address has
  none in scope (outside the scope and never seen look the same);
- :func:`tracker_entries`: the tracker's indicators in scope: an IP or URL
  whose host address is in scope (by prefix, or by the AS and country the
  tracker stored for it), a domain or URL whose host name is a claimed
  domain or below one.
"""

from __future__ import annotations

import io
import ipaddress
import re
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from takedown.analytics import shadowserver as ss
from takedown.analytics.dataset import arrow_table
from takedown.analytics.notify import report_name
from takedown.console.partnerdata import open_scoped
from takedown.console.scope import Scope
from takedown.enrich.choice import for_operation
from takedown.operation import Operation
from takedown.tracker.indicator import Indicator
from takedown.tracker.store import Tracker, ip_host

__all__ = ["report_owner", "file_name", "report_days", "report_rows", "report_csv", "address_events",
           "tracker_entries", "in_scope"]

_UNSAFE = re.compile(r"[^a-z0-9]+")


def report_owner(partner: str) -> str:
    """The owner part of a partner's file names: its name in lower case,
    every run of other characters than letters and digits an ``_`` ('CERT-A'
    -> 'cert_a'), so IntelMQ's Shadowserver parser accepts the name."""
    return _UNSAFE.sub("_", partner.lower()).strip("_") or "partner"


def file_name(day: date, report: str, partner: str) -> str:
    """The name of a partner's report file: '2024-12-16-event4_sinkhole_http-cert_a.csv'."""
    return report_name(day, report, report_owner(partner))


def _scoped_rows(op: Operation, scope: Scope, date_from: date | None,
                 date_to: date | None) -> duckdb.DuckDBPyConnection:
    """The scoped connection with ``_ckrows`` (check-in report rows) and
    ``_dnsrows`` (DNS report rows) as ``takedown notify`` builds them."""
    con = open_scoped(op, scope, date_from, date_to)
    con.execute("SET TimeZone = 'UTC'")
    for view, base, inputs in (("_ck", "my_checkins", ss.CHECKIN_INPUTS), ("_rs", "my_resolvers", ss.DNS_INPUTS)):
        present = set(con.sql(f"SELECT * FROM {base} LIMIT 0").columns)
        con.execute(f"CREATE TEMP VIEW {view} AS {ss.inputs_sql(base, inputs, present)}")
    dst = arrow_table(con.sql("SELECT DISTINCT dst_ip FROM _ck WHERE dst_ip IS NOT NULL")).column("dst_ip")
    dst = dst.combine_chunks() if isinstance(dst, pa.ChunkedArray) else dst
    info = for_operation(op).lookup(dst)
    con.register("_dstinfo", pa.table({"ip": dst, "cc": info.column("cc"), "asn": info.column("asn").cast(pa.int64())}))
    con.execute(f"CREATE TEMP VIEW _ckrows AS {ss.checkin_base_sql('_ck', op.name)}")
    con.execute(f"CREATE TEMP VIEW _dnsrows AS {ss.dns_base_sql('_rs')}")
    return con


def report_days(op: Operation, scope: Scope, partner: str, date_from: date | None = None,
                date_to: date | None = None) -> list[dict]:
    """The days with report rows in scope, newest first: ``{"day", "reports":
    [{"type", "name", "rows"}]}``, the types in ``takedown notify``'s order."""
    if not scope.has_addresses:
        return []
    con = _scoped_rows(op, scope, date_from, date_to)
    try:
        # DNS rows are grouped per day here, as one day's file groups them
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
    """(the rows of ``report`` in scope over the days, in Shadowserver's
    columns, ordered as in a file; their total). Over several days a DNS
    row counts a resolver's queries for a name over the whole period."""
    if report not in ss.REPORTS:
        raise ValueError(f"unknown report type {report!r}")
    fields = ss.REPORTS[report]
    if not scope.has_addresses:
        return pa.table({f: pa.array([], pa.string()) for f in fields}), 0
    cols = ", ".join(f'"{f}"' for f in fields)
    base = "_dnsrows" if report == ss.DNS_REPORT else "_ckrows"
    con = _scoped_rows(op, scope, date_from, date_to)
    try:
        sql = f"FROM {base} WHERE _report = '{report}'"
        total = con.execute(f"SELECT count(*) {sql}").fetchall()[0][0]
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
        table = arrow_table(con.sql(f"SELECT {cols} {sql} ORDER BY _time, src_ip, src_port{page}"))
    finally:
        con.close()
    return table, int(total)


def report_csv(op: Operation, scope: Scope, report: str, day: date) -> tuple[bytes, int]:
    """(one day's report file of ``report`` for the partner, as ``takedown
    notify`` writes it: header, then the rows, strings quoted when needed;
    its rows). With no row there is no file: ``takedown notify`` writes none."""
    table, rows = report_rows(op, scope, report, day, day)
    out = io.BytesIO()
    pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    return out.getvalue(), rows


_IP_EVENT = ("time", "kind", "transport", "src_port", "dst_ip", "dst_port", "family", "rule", "host", "path",
             "user_agent", "sni", "cc", "asn", "as_name")
_DNS_EVENT = ("time", "transport", "qname", "qtype", "rule", "family", "cc", "asn", "as_name")


def address_events(op: Operation, scope: Scope, ip: str, date_from: date | None = None,
                   date_to: date | None = None, *, page: int = 1, size: int = 100) -> dict | None:
    """One address's check-ins and DNS queries in scope, newest first, a page
    of each with their totals; None when it has none in scope."""
    ip = str(ipaddress.ip_address(ip))
    if not scope.has_addresses:
        return None
    con = open_scoped(op, scope, date_from, date_to)
    try:
        out: dict = {"ip": ip}
        for key, view, columns in (("checkins", "my_checkins", _IP_EVENT), ("dns", "my_resolvers", _DNS_EVENT)):
            present = set(con.sql(f"SELECT * FROM {view} LIMIT 0").columns)
            cols = ", ".join(f'"{c}"' if c in present else f'NULL AS "{c}"' for c in columns)
            total = con.execute(f"SELECT count(*) FROM {view} WHERE src_ip = ?", [ip]).fetchall()[0][0]
            rows = con.execute(f"SELECT {cols} FROM {view} WHERE src_ip = ? ORDER BY time DESC "
                               f"LIMIT ? OFFSET ?", [ip, size, (page - 1) * size]).fetchall()
            out[key] = {"total": int(total), "events": [dict(zip(columns, r)) for r in rows]}
    finally:
        con.close()
    if not out["checkins"]["total"] and not out["dns"]["total"]:
        return None
    return out


def _host(ind: Indicator) -> str | None:
    if ind.kind == "domain":
        return ind.value
    if ind.kind == "url":
        try:
            return urlsplit(ind.value).hostname
        except ValueError:
            return None
    return None


def in_scope(ind: Indicator, scope: Scope) -> bool:
    """Whether a tracker entry falls in the partner's approved claims."""
    address = ip_host(ind.value, ind.kind)
    if address is not None:
        return scope.contains(address, ind.asn, ind.country)
    return scope.covers_domain(_host(ind))


def _scoped(tracker: Tracker, scope: Scope, status, family) -> Iterator[Indicator]:
    if scope.empty:
        return iter(())
    kinds = [k for k, wanted in (("domain", bool(scope.domains)), ("url", True),
                                 ("ip", scope.has_addresses)) if wanted]
    return (i for i in tracker.select(family=family, status=status, kind=kinds) if in_scope(i, scope))


def tracker_entries(tracker: Tracker, scope: Scope, *, status: str | None = None, family: str | None = None,
                    page: int = 1, size: int = 100) -> tuple[list[Indicator], int]:
    """(one page of the tracker entries in scope, in the tracker's order, and
    their total). The store is read a page at a time; the scope is decided
    per entry (a partner's entries are a small part of the tracker)."""
    start = (page - 1) * size
    got: list[Indicator] = []
    total = 0
    for ind in _scoped(tracker, scope, status, family):
        if start <= total < start + size:
            got.append(ind)
        total += 1
    return got, total
