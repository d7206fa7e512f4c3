"""Event search for the operators' events page: the check-ins and DNS
events of the operation's dataset filtered by address, prefix, AS, country,
family, rule, kind and date range, newest first, a page at a time.

At 100M events a page cannot read eight weeks: the search reads the day
partitions (``events/kind=*/date=*``) from the newest down and stops once
the page and one row more (is there a next page?) are found; the days
before the page are only counted. The total is a separate, explicit
request (:func:`count`), since it reads every day of the period.
The country and AS of an address are the dataset's
(:func:`takedown.analytics.dataset.open_dataset`: the values stored with a
pseudonymised event, else the enricher's): an AS or country filter enriches
the distinct addresses of each day it reads, never the whole period's.

Every value reaches DuckDB as a bound parameter; a prefix is matched over
a day's distinct addresses (IPv4 vectorised, IPv6 with :mod:`ipaddress`),
and the matches are handed to DuckDB as a registered Arrow table.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from takedown.analytics.dataset import IpLookup, arrow_table
from takedown.analytics.report import parse_date
from takedown.enrich.addresses import parse
from takedown.errors import ConsoleError, TakedownError
from takedown.events import CHECKIN_KINDS
from takedown.store.reader import empty_events, event_days, local_only, retry_vanished

__all__ = ["Filters", "parse_filters", "search", "count", "COLUMNS"]

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


#: the stored columns a result row is made from
_RAW = ("time", "kind", "src_ip", "src_port", "src_key", "src_cc", "src_asn", "family", "rule", "qname", "host",
        "path", "user_agent", "sni", "response")
_ORDER = "ORDER BY time DESC, src_ip, src_port"


def _days(storage, f: Filters) -> list[tuple[date, list]]:
    """The period's days, newest first, with their files of the kinds searched."""
    local_only(storage, "the event search")
    kinds = {f.kind} if f.kind else set(KINDS)
    out = []
    for day, files in sorted(event_days(storage).items(), reverse=True):
        if (f.date_from and day < f.date_from) or (f.date_to and day > f.date_to):
            continue
        mine = [p for p in files if p.parent.parent.name.removeprefix("kind=") in kinds]
        if mine:
            out.append((day, mine))
    return out


def _in_prefix(ips: pa.Array, net) -> pa.Array:
    """The addresses of ``ips`` inside ``net`` (:mod:`ipaddress` semantics:
    an IPv4-mapped IPv6 address is not in an IPv4 prefix)."""
    if not len(ips):
        return ips
    colon = pc.fill_null(pc.match_substring(ips, ":"), False).to_numpy(zero_copy_only=False)
    if net.version == 4:
        p = parse(ips)
        lo, hi = int(net.network_address), int(net.broadcast_address)
        keep = p.is_v4 & ~colon & (p.v4.astype(np.int64) >= lo) & (p.v4.astype(np.int64) <= hi)
        return ips.filter(pa.array(keep))
    rows = np.flatnonzero(colon)  # IPv6 addresses are few: the exact test, one by one
    inside = [ip for ip in ips.take(pa.array(rows)).to_pylist() if _in(ip, net)]
    return pa.array(inside, pa.string())


def _in(ip: str, net) -> bool:
    try:
        return ipaddress.ip_address(ip) in net
    except ValueError:  # a truncated (privacy mode) address is not a full address
        return False


#: days whose addresses' places are kept in memory (~25 MB a day of 750,000 addresses)
PLACES_DAYS = 4
_PLACES: OrderedDict = OrderedDict()
_PLACES_LOCK = threading.Lock()


def _stamp(path) -> tuple:
    try:
        st = path.stat()
    except OSError:  # swapped away: the read fails and is retried over a new listing
        return (None, None)
    return (st.st_size, st.st_mtime_ns)


class _Day:
    """One day's files and the filters as SQL (``cond`` over ``_day e``, bound ``args``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, f: Filters, enricher: IpLookup, files: list) -> None:
        self.con = con
        names = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        con.execute(f"CREATE OR REPLACE VIEW _day AS SELECT * FROM read_parquet([{names}], hive_partitioning = true, "
                    "union_by_name = true, hive_types = {'kind': VARCHAR, 'date': DATE}) "
                    "UNION ALL BY NAME SELECT * FROM _none")
        where, args = [], []
        for column, value in (("src_ip", f.ip), ("family", f.family), ("rule", f.rule), ("kind", f.kind)):
            if value:
                where.append(f"e.{column} = ?")
                args.append(value)
        if f.cidr:
            # as the dataset's ``ipinfo``: an address stored pseudonymised is not an address to match
            ips, _info = self._places(files, enricher)
            con.register("_prefix", pa.table({"ip": _in_prefix(ips, ipaddress.ip_network(f.cidr))}))
            where.append("e.src_ip IN (SELECT ip FROM _prefix)")
        if f.asn is not None or f.country:
            ips, info = self._places(files, enricher)
            # coalesce(stored, looked up) = value, as a semi-join on the few addresses that match
            for name, column, value, stored in (("_want_asn", "asn", f.asn, "e.src_asn = ?"),
                                                ("_want_cc", "cc", f.country, "upper(e.src_cc) = ?")):
                if value is None or value == "":
                    continue
                found = info.column(column).cast(pa.int64()) if column == "asn" else pc.utf8_upper(info.column(column))
                con.register(name, pa.table({"ip": ips.filter(pc.fill_null(pc.equal(found, value), False))}))
                where.append(f"({stored} OR (e.src_{column} IS NULL AND e.src_key IS NULL "
                             f"AND e.src_ip IN (SELECT ip FROM {name})))")
                args.append(value)
        self.cond, self.args = " AND ".join(where) or "true", args

    def _places(self, files: list, enricher: IpLookup) -> tuple[pa.Array, pa.Table]:
        """The day's addresses stored in clear and the enricher's answer for them,
        kept for the last few days' files (the next page, another AS: no new lookup)."""
        key = (id(enricher), tuple((str(p), *_stamp(p)) for p in files))
        with _PLACES_LOCK:
            kept = _PLACES.get(key)
            if kept is not None:
                _PLACES.move_to_end(key)
        if kept is None:
            ips = self._distinct(["e.src_key IS NULL"], [])
            kept = (ips, enricher.lookup(ips))
            with _PLACES_LOCK:
                _PLACES[key] = kept
                while len(_PLACES) > PLACES_DAYS:
                    _PLACES.popitem(last=False)
        return kept

    def _distinct(self, where: list[str], args: list) -> pa.Array:
        t = arrow_table(self.con.sql("SELECT DISTINCT e.src_ip AS ip FROM _day e WHERE e.src_ip IS NOT NULL AND "
                                     + " AND ".join(where), params=args))
        return t.column("ip").combine_chunks() if t.num_rows else pa.array([], pa.string())

    def count(self) -> int:
        return self.con.execute(f"SELECT count(*) FROM _day e WHERE {self.cond}", self.args).fetchone()[0]

    def rows(self, limit: int, offset: int) -> list[dict]:
        cur = self.con.execute(f"SELECT {', '.join(_RAW)} FROM _day e WHERE {self.cond} {_ORDER} LIMIT ? OFFSET ?",
                               [*self.args, limit, offset])
        return [dict(zip(_RAW, r)) for r in cur.fetchall()]


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_none", empty_events())
    return con


def _guarded(storage, fn):
    """``fn()`` with a day compacted meanwhile read again, and DuckDB's errors as one line."""
    try:
        return retry_vanished(fn)
    except duckdb.Error as exc:
        raise TakedownError(f"cannot read the events under {storage}: {str(exc).splitlines()[0]}") from None


def _place(rows: list[dict], enricher: IpLookup) -> list[dict]:
    """The shown columns: country and AS as the dataset gives them (stored, else looked up)."""
    clear = sorted({r["src_ip"] for r in rows if r["src_key"] is None and r["src_ip"] is not None})
    info = enricher.lookup(pa.array(clear, pa.string())).to_pylist() if clear else []
    where = dict(zip(clear, info))
    names = {i["asn"]: i["as_name"] for i in info if i["asn"] is not None}
    out = []
    for r in rows:
        i = where.get(r["src_ip"], {}) if r["src_key"] is None else {}
        asn = r["src_asn"] if r["src_asn"] is not None else i.get("asn")
        out.append({**{c: r.get(c) for c in COLUMNS}, "cc": r["src_cc"] if r["src_cc"] is not None else i.get("cc"),
                    "asn": asn, "as_name": i.get("as_name") or names.get(asn)})
    return out


def search(storage, f: Filters, *, enricher: IpLookup, page: int = 1, size: int = 50) -> tuple[list[dict], bool]:
    """(the page of matching events, newest first; whether more follow).

    Reads the days from the newest down: the days wholly before the page
    are counted, the page's are sorted, and the search stops at the first
    row after the page."""

    def once() -> tuple[list[dict], bool]:
        con = _connect()
        try:
            skip, found = (page - 1) * size, []
            for _day, files in _days(storage, f):
                d = _Day(con, f, enricher, files)
                if skip:
                    n = d.count()
                    if n <= skip:
                        skip -= n
                        continue
                found += d.rows(size + 1 - len(found), skip)
                skip = 0
                if len(found) > size:
                    break
            return _place(found[:size], enricher), len(found) > size
        finally:
            con.close()

    return _guarded(storage, once)


def count(storage, f: Filters, *, enricher: IpLookup) -> int:
    """How many events match: every day of the period is read."""

    def once() -> int:
        con = _connect()
        try:
            return sum(_Day(con, f, enricher, files).count() for _day, files in _days(storage, f))
        finally:
            con.close()

    return _guarded(storage, once)
