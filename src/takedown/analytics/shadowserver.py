"""Shadowserver's sinkhole report formats, and our events as rows of them.

Sources: The Shadowserver Foundation's public ``report_schema`` repository
(https://github.com/The-Shadowserver-Foundation/report_schema), commit
8e06fb9 (2026-03-24):

- ``reports.json``: the columns of each report, in file order (the tuples
  below are copied from its ``fields`` lists, and tests/test_notify.py
  compares them with the file when a copy is at hand);
- ``severity.md``: the default severity of each report type;
- ``report-filename.md``: file names ``YYYY-MM-DD-<type>-<identifier>.csv``.

IntelMQ's Shadowserver parser reads these files by the type in their name
(its mapping is the same repository's ``intelmq.json``), so a CERT can feed
them to the pipeline it already runs for Shadowserver's own reports.

How takedown's events become rows (docs/notify.md says why):

- ``event4_sinkhole_http``: check-ins of kind ``http`` from IPv4 sources;
  ``event6_sinkhole_http``: the same from IPv6 sources;
- ``event4_sinkhole`` / ``event6_sinkhole``: check-ins of kinds ``tls`` and
  ``tcp``;
- ``event4_sinkhole_dns``: DNS queries for sunk names, one row per
  resolver, name, type, transport and rule, with ``count``.

Every row is built in SQL over the views of
:func:`takedown.analytics.dataset.open_dataset`, so a day of millions of
check-ins never becomes Python objects. A column we have no data for is
NULL (an empty CSV field): nothing is invented.
"""

from __future__ import annotations

#: reports.json ``event4_sinkhole_http`` (identical for ``event6_sinkhole_http``).
SINKHOLE_HTTP_FIELDS: tuple[str, ...] = (
    "timestamp", "protocol", "src_ip", "src_port", "src_asn", "src_geo", "src_region", "src_city",
    "src_hostname", "src_naics", "src_sector", "device_vendor", "device_type", "device_model",
    "severity", "dst_ip", "dst_port", "dst_asn", "dst_geo", "dst_region", "dst_city", "dst_hostname",
    "dst_naics", "dst_sector", "public_source", "infection", "family", "tag", "application",
    "version", "event_id", "http_url", "http_host", "http_agent", "forwarded_by", "ssl_cipher",
    "http_referer", "ssl_servername", "machine_name",
)  # fmt: skip

#: reports.json ``event4_sinkhole`` (identical for ``event6_sinkhole``): the
#: HTTP report's columns up to ``event_id``, then the two TLS ones.
SINKHOLE_FIELDS: tuple[str, ...] = (
    *SINKHOLE_HTTP_FIELDS[: SINKHOLE_HTTP_FIELDS.index("event_id") + 1],
    "ssl_cipher", "ssl_servername",
)  # fmt: skip

#: reports.json ``event4_sinkhole_dns``.
SINKHOLE_DNS_FIELDS: tuple[str, ...] = (
    "timestamp", "protocol", "src_ip", "src_port", "src_asn", "src_geo", "src_region", "src_city",
    "src_hostname", "src_naics", "src_sector", "device_vendor", "device_type", "device_model",
    "severity", "infection", "family", "tag", "query_type", "query", "count",
)  # fmt: skip

#: Every report type we write, with its columns, in the order files are written.
REPORTS: dict[str, tuple[str, ...]] = {
    "event4_sinkhole_http": SINKHOLE_HTTP_FIELDS,
    "event6_sinkhole_http": SINKHOLE_HTTP_FIELDS,
    "event4_sinkhole": SINKHOLE_FIELDS,
    "event6_sinkhole": SINKHOLE_FIELDS,
    "event4_sinkhole_dns": SINKHOLE_DNS_FIELDS,
}

#: severity.md, "Default Severity Level by Report Type": sinkhole and
#: sinkhole HTTP events are ``critical`` (an infected machine talking to its
#: controller), sinkhole DNS events ``info`` (a resolver asked a name).
SEVERITY: dict[str, str] = {
    "event4_sinkhole_http": "critical",
    "event6_sinkhole_http": "critical",
    "event4_sinkhole": "critical",
    "event6_sinkhole": "critical",
    "event4_sinkhole_dns": "info",
}

#: Check-in reports (their rows come from the ``checkins`` view).
CHECKIN_REPORTS: tuple[str, ...] = tuple(r for r in REPORTS if not r.endswith("_dns"))
#: The DNS report (rows from the ``resolvers`` view).
DNS_REPORT = "event4_sinkhole_dns"

# --------------------------------------------------------------------------
# Row building (DuckDB SQL over the dataset views)
# --------------------------------------------------------------------------

#: Shadowserver's timestamp: UTC, 'YYYY-MM-DD HH:MM:SS'; IntelMQ appends
#: ' UTC' (add_UTC_to_timestamp) before parsing it. The connection's
#: TimeZone must be UTC (notify sets it) for strftime on TIMESTAMPTZ.
_TS = "strftime({}, '%Y-%m-%d %H:%M:%S')"

#: The hidden columns every base row carries for routing and order:
#: ``_time`` (sort key), ``_ip`` (CIDR routing), ``_asn`` (positive AS
#: number, else NULL), ``_cc`` (lowercase two-letter country, else NULL) and
#: ``_report`` (report type).
_ASN = "CASE WHEN asn > 0 THEN asn END"
_CC = "CASE WHEN regexp_full_match(cc, '[A-Za-z]{2}') THEN lower(cc) END"

#: Check-in columns: SQL over the ``checkins`` view joined with ``d``, the
#: enricher's answer for the sensor address (columns ``cc``, ``asn``).
#: Columns absent here are NULL.
_CHECKIN_SQL: dict[str, str] = {
    "timestamp": _TS.format("c.time"),
    "protocol": "c.transport",
    "src_ip": "c.src_ip",
    "src_port": "c.src_port",
    "src_asn": "c._asn",
    "src_geo": "upper(c._cc)",
    "severity": f"'{SEVERITY['event4_sinkhole']}'",
    "dst_ip": "c.dst_ip",
    "dst_port": "c.dst_port",
    "dst_asn": "CASE WHEN d.asn > 0 THEN d.asn END",
    "dst_geo": "CASE WHEN regexp_full_match(d.cc, '[A-Za-z]{2}') THEN upper(d.cc) END",
    "public_source": "{public_source}",  # filled in by checkin_base_sql
    "infection": "c.family",
    "family": "c.family",
    # 'none' says no rule matched: no tag rather than a word that looks like one
    "tag": "nullif(c.rule, 'none')",
    # HTTP read inside a finished TLS handshake is kind=http with the hello's
    # fields set (takedown.net.server); IntelMQ builds an https:// URL from it
    "application": (
        "CASE c.kind WHEN 'http' THEN CASE WHEN coalesce(c.sni, c.ja3, c.ja4) IS NULL "
        "THEN 'http' ELSE 'https' END WHEN 'tls' THEN 'tls' END"
    ),
    "http_url": "c.path || coalesce('?' || c.query, '')",
    "http_host": "c.host",
    "http_agent": "c.user_agent",
    "forwarded_by": "c.peer_ip",
    # headers are stored as 'name: value' lines with lowercase names (docs/events.md)
    "http_referer": "nullif(trim(regexp_extract(c.headers, '(?m)^referer:[ \\t]*([^\\r\\n]*)', 1)), '')",
    "ssl_servername": "c.sni",
}

#: DNS columns, over the rows of one group (see :func:`dns_base_sql`).
_DNS_SQL: dict[str, str] = {
    "timestamp": _TS.format("min(time)"),
    "protocol": "transport",
    "src_ip": "src_ip",
    # many queries make one row: no single source port to give
    "src_port": "CAST(NULL AS INTEGER)",
    "src_asn": "_asn",
    "src_geo": "upper(_cc)",
    "severity": f"'{SEVERITY[DNS_REPORT]}'",
    "infection": "family",
    "family": "family",
    "tag": "rule",
    "query_type": "qtype",
    "query": "qname",
    "count": "count(*)",
}

#: A DNS event is reported only when the sinkhole answered for the name:
#: 'none' (no rule: REFUSED) and a taken-over zone's pass-through names
#: (legitimate users of the zone, answered from the original data) are not.
DNS_SUNK = "rule <> 'none' AND rule NOT LIKE 'zone:%:pass' AND qname IS NOT NULL"

#: Events that can be reported: stored with their address in clear. Under the
#: privacy modes ``truncate`` and ``hash`` (``src_key`` set) the host is not
#: known, and a truncated network must not be reported as if it were one.
CLEAR = "src_key IS NULL AND src_ip IS NOT NULL"


#: The dataset columns the rows are built from, with their DuckDB types. The
#: ``events`` view only has the columns of the files present (a storage with
#: DNS files only has no ``path``), so :func:`inputs_sql` supplies the
#: missing ones as NULL.
CHECKIN_INPUTS: dict[str, str] = {
    "time": "TIMESTAMPTZ", "kind": "VARCHAR", "transport": "VARCHAR", "src_ip": "VARCHAR",
    "src_port": "INTEGER", "dst_ip": "VARCHAR", "dst_port": "INTEGER", "rule": "VARCHAR",
    "family": "VARCHAR", "peer_ip": "VARCHAR", "host": "VARCHAR", "path": "VARCHAR",
    "query": "VARCHAR", "user_agent": "VARCHAR", "headers": "VARCHAR", "sni": "VARCHAR",
    "ja3": "VARCHAR", "ja4": "VARCHAR", "src_key": "VARCHAR", "asn": "BIGINT", "cc": "VARCHAR",
}  # fmt: skip
DNS_INPUTS: dict[str, str] = {
    "time": "TIMESTAMPTZ", "transport": "VARCHAR", "src_ip": "VARCHAR", "rule": "VARCHAR",
    "family": "VARCHAR", "qname": "VARCHAR", "qtype": "VARCHAR", "src_key": "VARCHAR",
    "asn": "BIGINT", "cc": "VARCHAR",
}  # fmt: skip


def inputs_sql(view: str, inputs: dict[str, str], present: set[str]) -> str:
    """SELECT of ``inputs`` from ``view``; a column the view lacks is a typed NULL."""
    cols = (f'"{c}"' if c in present else f'CAST(NULL AS {t}) AS "{c}"' for c, t in inputs.items())
    return f"SELECT {', '.join(cols)} FROM {view}"


def _columns(fields: tuple[str, ...], sql: dict[str, str]) -> str:
    return ",\n  ".join(f"{sql.get(f, 'CAST(NULL AS VARCHAR)')} AS \"{f}\"" for f in fields)


def sql_string(text: str) -> str:
    """A SQL string literal (DuckDB reads no backslash escapes in them)."""
    return "'" + text.replace("'", "''") + "'"


def checkin_base_sql(checkins: str = "checkins", public_source: str = "takedown") -> str:
    """SELECT of every reportable check-in as an HTTP-report row (the widest
    check-in format) plus the hidden columns.

    ``checkins`` is a relation with the :data:`CHECKIN_INPUTS` columns; a
    ``_dstinfo(ip, cc, asn)`` relation gives where the sensor addresses are.
    """
    report = (
        "CASE WHEN c.src_ip LIKE '%:%' THEN 'event6_' ELSE 'event4_' END || "
        "CASE WHEN c.kind = 'http' THEN 'sinkhole_http' ELSE 'sinkhole' END"
    )
    return f"""
SELECT c.time AS _time, c.src_ip AS _ip, c._asn, c._cc, {report} AS _report,
  {_columns(SINKHOLE_HTTP_FIELDS, {**_CHECKIN_SQL, "public_source": sql_string(public_source)})}
FROM (SELECT *, {_ASN} AS _asn, {_CC} AS _cc FROM {checkins} WHERE {CLEAR}) c
LEFT JOIN _dstinfo d ON d.ip = c.dst_ip
"""


def dns_base_sql(resolvers: str = "resolvers") -> str:
    """SELECT of the day's sunk DNS queries as ``event4_sinkhole_dns`` rows
    plus the hidden columns: one row per resolver, name, type, transport and
    rule; ``timestamp`` the first query, ``count`` the queries.
    ``resolvers`` is a relation with the :data:`DNS_INPUTS` columns.

    DNS events describe resolvers, not infected hosts (docs/events.md): the
    row goes to the resolver's network. Shadowserver has no IPv6 DNS report,
    so IPv6 resolvers are in this one too.
    """
    return f"""
SELECT min(time) AS _time, src_ip AS _ip, _asn, _cc, '{DNS_REPORT}' AS _report,
  {_columns(SINKHOLE_DNS_FIELDS, _DNS_SQL)}
FROM (SELECT *, {_ASN} AS _asn, {_CC} AS _cc FROM {resolvers} WHERE {CLEAR} AND {DNS_SUNK})
GROUP BY src_ip, _asn, _cc, transport, qname, qtype, rule, family
"""
