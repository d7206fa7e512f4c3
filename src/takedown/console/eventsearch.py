"""Event search for the operators' events page: the check-ins and DNS
events of the operation's dataset (:func:`takedown.analytics.dataset.open_dataset`,
the same views and enrichment as ``takedown report``) filtered by address,
prefix, AS, country, family, rule, kind and date range, newest first, a
page at a time.

Every value reaches DuckDB as a bound parameter; a prefix is matched in
Python (:mod:`ipaddress`) over the period's distinct addresses and the
matches are handed to DuckDB as a registered Arrow table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from datetime import date

import duckdb
import pyarrow as pa

from takedown.analytics.dataset import IpLookup, arrow_table, open_dataset
from takedown.analytics.report import parse_date
from takedown.errors import ConsoleError, TakedownError
from takedown.events import CHECKIN_KINDS

__all__ = ["Filters", "parse_filters", "search", "COLUMNS"]

KINDS = (*CHECKIN_KINDS, "dns")
#: what a result row shows
COLUMNS = ("time", "kind", "src_ip", "src_port", "cc", "asn", "as_name", "family", "rule", "qname", "host",
           "path", "user_agent", "sni", "response")


@dataclass(frozen=True)
class Filters:
    ip: str = ""
    cidr: str = ""
    asn: int | None = None
    country: str = ""
    family: str = ""
    rule: str = ""
    kind: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def query(self) -> dict[str, str]:
        """The filters as the form's fields (for the pager's links)."""
        names = {"date_from": "from", "date_to": "to"}
        return {names.get(f.name, f.name): ("" if getattr(self, f.name) is None else str(getattr(self, f.name)))
                for f in fields(self)}


def _date(text: str, field: str) -> date | None:
    return parse_date(text, field) if text else None  # report's strict YYYY-MM-DD


def parse_filters(params) -> Filters:
    """The filters of a query string (a mapping); a bad value raises a
    one-line :class:`ConsoleError` (a bad date: ``ReportError``) naming the field."""
    get = lambda k: (params.get(k) or "").strip()  # noqa: E731
    ip = get("ip")
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise ConsoleError(f"ip: {ip!r} is not an IPv4 or IPv6 address") from None
    cidr = get("cidr")
    if cidr:
        try:
            cidr = str(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise ConsoleError(f"cidr: {cidr!r} is not a prefix (192.0.2.0/24, 2001:db8::/32)") from None
    asn_text = get("asn").upper().removeprefix("AS")
    asn = None
    if asn_text:
        if not asn_text.isdigit() or int(asn_text) >= 2**32:
            raise ConsoleError(f"asn: {get('asn')!r} is not an AS number")
        asn = int(asn_text)
    country = get("country").upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ConsoleError(f"country: {country!r} is not a two-letter country code")
    kind = get("kind")
    if kind and kind not in KINDS:
        raise ConsoleError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    first, last = _date(get("from"), "from"), _date(get("to"), "to")
    if first and last and first > last:
        raise ConsoleError(f"from: {first} is after to {last}")
    return Filters(ip, cidr, asn, country, get("family"), get("rule"), kind, first, last)


def _conditions(con: duckdb.DuckDBPyConnection, f: Filters) -> tuple[list[str], list]:
    where, args = [], []
    for column, value in (("src_ip", f.ip), ("family", f.family), ("rule", f.rule), ("kind", f.kind)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if f.asn is not None:
        where.append("asn = ?")
        args.append(f.asn)
    if f.country:
        where.append("upper(cc) = ?")
        args.append(f.country)
    if f.cidr:
        net = ipaddress.ip_network(f.cidr)
        ips = arrow_table(con.sql("SELECT ip FROM ipinfo")).column("ip").to_pylist()
        inside = [ip for ip in ips if _in(ip, net)]
        con.register("_in_prefix", pa.table({"ip": pa.array(inside, pa.string())}))
        where.append("src_ip IN (SELECT ip FROM _in_prefix)")
    return where, args


def _in(ip: str, net) -> bool:
    try:
        return ipaddress.ip_address(ip) in net
    except ValueError:  # a truncated (privacy mode) address is not a full address
        return False


def search(storage, f: Filters, *, enricher: IpLookup, page: int = 1, size: int = 50) -> tuple[list[dict], int]:
    """(the page of matching events, newest first; how many match)."""
    try:
        con = open_dataset(storage, enricher=enricher, date_from=f.date_from, date_to=f.date_to)
    except duckdb.Error as exc:
        raise TakedownError(f"cannot read the events under {storage}: {str(exc).splitlines()[0]}") from None
    try:
        con.execute("CREATE OR REPLACE VIEW _found AS SELECT * EXCLUDE (dga_date) FROM resolvers "
                    "UNION ALL BY NAME SELECT * FROM checkins")
        where, args = _conditions(con, f)
        cond = " AND ".join(where) or "true"
        total = con.execute(f"SELECT count(*) FROM _found WHERE {cond}", args).fetchone()[0]
        cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM _found WHERE {cond} "
                          "ORDER BY time DESC, src_ip, src_port LIMIT ? OFFSET ?", [*args, size, (page - 1) * size])
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()], int(total)
    finally:
        con.close()
