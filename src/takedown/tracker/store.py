"""The tracker's store: indicators, their status history and export serials
in a relational database (docs/tracker.md, "The store").

    with Tracker.open("sqlite:///var/op/tracker.sqlite") as t:
        t.add(indicators, by="import:feodo-csv", reason="ipblocklist.csv")
        t.set_status("evil.example", "seized", by="cli", reason="court order 12-345")
        for ind in t.select(family="zeus", status="online"):
            ...

Adding is an upsert keyed on the canonical value; an indicator added again
is merged with the stored one (:func:`merge`, the rules in docs/tracker.md).
Every status change, creation included, writes a history row saying who
made it, when and why. A million indicators are added in batches: one
SELECT of the batch's stored rows, the merge in Python, one bulk INSERT
(executemany; COPY on PostgreSQL), one executemany UPDATE and the history
rows in bulk.

AS number, AS name and country are filled at write time for IPs and for URLs
whose host is an IP, one vectorised lookup per batch
(:class:`takedown.enrich.Enricher`); a check's resolved address enriches a
domain the same way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from ipaddress import IPv4Network, IPv6Network, ip_address
from itertools import repeat
from operator import itemgetter

import numpy as np
import pyarrow as pa
from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from takedown.enrich.addresses import parse
from takedown.errors import TrackerError
from takedown.tracker import db
from takedown.tracker.indicator import Change, Indicator, check_status, normalize, utc
from takedown.tracker.schema import changes as CH
from takedown.tracker.schema import exports as EX
from takedown.tracker.schema import indicators as IND

__all__ = ["Tracker", "AddResult", "merge", "REVISED"]

BATCH = 10_000
_IN_CHUNK = 2_000  # values per IN (...): far below SQLite's 32,766 bound variables
_PAGE = 5_000  # rows per read of select(): bounds its memory

#: The fields whose change bumps an indicator's revision (Suricata's rev, a
#: feed's updated time): what the exports publish about it. The sighting
#: times (last_seen, last_online, last_checked) and the check-in count move
#: with every import, check or sinkhole day and are left out, or every rule
#: would change every day.
REVISED = ("family", "status", "first_seen", "asn", "as_name", "country", "source", "confidence", "tags", "notes")
_DEFAULT_CONFIDENCE = 50  # Indicator's default: a source that says nothing
# Where _enrich finds value, kind, asn, as_name, country: a stored row's
# dict keys (a new row's list indices: _LIST_KEYS)
_DICT_KEYS = ("value", "kind", "asn", "as_name", "country")


@dataclass(frozen=True, slots=True)
class AddResult:
    added: int = 0
    updated: int = 0  # stored ones that changed (a later sighting included)
    unchanged: int = 0
    status_changes: int = 0  # history rows written for stored ones


@functools.lru_cache(maxsize=1 << 16)  # a feed's rows share their times: 0.09 us a hit against 0.3
def _s(t: datetime | None) -> int | None:
    """Unix seconds of ``t`` (naive: UTC), to the second, as utc() would."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() // 1)


def _latest(a: int | None, b: int | None) -> int | None:
    return a if b is None else b if a is None else max(a, b)


def _earliest(a: int | None, b: int | None) -> int | None:
    return a if b is None else b if a is None else min(a, b)


def _now() -> datetime:
    return utc(datetime.now(timezone.utc))


@functools.lru_cache(maxsize=4096)  # a feed repeats a few tag sets over and over
def _tags(tags: tuple[str, ...]) -> str:
    return json.dumps(list(dict.fromkeys(tags))) if tags else "[]"


def _row(ind: Indicator, at: int) -> list:
    """The row of a new indicator, its columns in _ROW_COLUMNS order: a list
    rather than a dict, close to what the driver binds (a dict per row and
    the itemgetter that made it a tuple cost about 2.7 s of CPU a million,
    the list and its tuple 2.2); enrichment fills the AS and country in
    place."""
    seen = _s(ind.last_seen) if ind.last_seen is not None else at
    first = seen if ind.first_seen is None else min(_s(ind.first_seen), seen)
    return [ind.value, ind.kind, ind.family or "unknown", ind.status, first, seen, _s(ind.last_online),
            _s(ind.last_checked), ind.asn, ind.as_name, ind.country, ind.source, ind.confidence, _tags(ind.tags),
            ind.notes, ind.checkins, 1, at]


def merge(old: dict, ind: Indicator, at: int) -> dict:
    """The stored row ``old`` with ``ind`` added again (docs/tracker.md,
    "Adding again"): first_seen the earliest, last_seen/last_online/
    last_checked the latest (last_seen at least ``at`` when ``ind`` has
    none), status and family replaced unless ``ind`` says ``unknown``, tags
    the union, source, notes, AS and country replaced when ``ind`` has them,
    confidence when it is not the model's default 50 (a source that gives no
    confidence), the check-in count when given. The revision is bumped and
    ``updated`` set when a field of :data:`REVISED` changes."""
    new = dict(old)
    new["first_seen"] = _earliest(old["first_seen"], _s(ind.first_seen))
    new["last_seen"] = _latest(old["last_seen"], at if ind.last_seen is None else _s(ind.last_seen))
    new["last_online"] = _latest(old["last_online"], _s(ind.last_online))
    new["last_checked"] = _latest(old["last_checked"], _s(ind.last_checked))
    if ind.status != "unknown":
        new["status"] = ind.status
    if ind.family and ind.family != "unknown":
        new["family"] = ind.family
    if ind.tags:
        tags = json.loads(old["tags"])
        more = [t for t in dict.fromkeys(ind.tags) if t not in tags]
        if more:
            new["tags"] = json.dumps(tags + more)
    if ind.source:
        new["source"] = ind.source
    if ind.notes:
        new["notes"] = ind.notes
    if ind.confidence != _DEFAULT_CONFIDENCE:
        new["confidence"] = ind.confidence
    for f in ("asn", "as_name", "country", "checkins"):
        v = getattr(ind, f)
        if v is not None:
            new[f] = v
    if any(new[f] != old[f] for f in REVISED):
        new["revision"] = old["revision"] + 1
        new["updated"] = at
    return new


def _indicator(r) -> Indicator:
    # by position, in the table's column order (a Row's attributes cost more
    # than the rest of an export of a million; building them column by
    # column, map(Indicator, *columns), measured slower still: about 3.5 us
    # a row against 2)
    (id_, value, kind, family, status, first_seen, last_seen, last_online, last_checked, asn, as_name, country,
     source, confidence, tags, notes, checkins, revision, updated) = r
    return Indicator(value, kind, family, status, _time(first_seen), _time(last_seen), _time(last_online),
                     _time(last_checked), asn, as_name, country, source, confidence, _tag_tuple(tags), notes, checkins,
                     id_, revision, _time(updated))


@functools.lru_cache(maxsize=1 << 16)  # an import's rows share a few times (its own, a feed's days)
def _time(s: int | None) -> datetime | None:
    return None if s is None else datetime.fromtimestamp(s, timezone.utc)


@functools.lru_cache(maxsize=4096)
def _tag_tuple(tags: str) -> tuple[str, ...]:
    return tuple(json.loads(tags)) if tags != "[]" else ()


def _change(value: str, r) -> Change:
    return Change(value, _time(r.at), r.old, r.new, r.by, r.reason, json.loads(r.detail))


def ip_host(value: str, kind: str) -> str | None:
    """The IP address an indicator's traffic goes to, if its host is one."""
    if kind == "ip":
        if value.startswith("["):
            return value[1:value.index("]")]
        return value.split(":")[0] if value.count(":") == 1 else value
    if kind == "url":
        # the URL is canonical (scheme://[userinfo@]host[:port]/...): cut the
        # host out rather than urlsplit a million of them
        host = value.split("/", 3)[2].rpartition("@")[2]
        host = host[1:host.find("]")] if host.startswith("[") else host.partition(":")[0]
        if host and (":" in host or host[-1].isdigit()):
            try:
                return str(ip_address(host))
            except ValueError:
                return None
    return None


def _like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_prefixes(net: IPv4Network | IPv6Network) -> list[str]:
    """Escaped LIKE prefixes that every address of ``net`` starts with as
    canonical text (``''``: no narrowing): an IPv4 prefix's whole leading
    octets; an IPv6 prefix's first group when it is fixed and not zero (a
    zero group may be written ``::``). IPv4 addresses may also be stored
    IPv4-mapped or -compatible (``::ffff:a.b.c.d``, ``::a.b.c.d``), which
    count as IPv4 (:mod:`takedown.enrich.addresses`)."""
    if net.version == 4:
        octets = str(net.network_address).split(".")[:net.prefixlen // 8]
        text = "".join(o + "." for o in octets)
        return [_like(text), "::"] if text else [""]
    first = int(net.network_address) >> 112
    if net.prefixlen >= 16 and first:
        return [_like(f"{first:x}:")]
    return [""]


def _scope_candidates(asns: list[int], countries: list[str], networks: Sequence, domains: Sequence[str]):
    """The SQL condition of the indicators that may be in scope (None: none
    can be): a superset, decided exactly by :func:`_in_scope`."""
    value, kind = IND.c.value, IND.c.kind
    terms = []
    if asns or countries:
        by = [c for c in (IND.c.asn.in_(asns) if asns else None,
                          func.lower(IND.c.country).in_(countries) if countries else None) if c is not None]
        terms.append(and_(kind.in_(("ip", "url")), or_(*by)))
    for d in domains:
        e = _like(d)
        terms.append(and_(kind == "domain", or_(value == d, value.like("%." + e, escape="\\"))))
        terms.append(and_(kind == "url", value.like("%" + e + "%", escape="\\")))
    for net in networks:
        for p in _text_prefixes(net):
            # an IP kind's value is the address, "a.b.c.d:port" or "[v6]:port";
            # a URL's host follows "://" or the userinfo's "@", IPv6 in brackets
            ip_forms = [p + "%", "[" + p + "%"]
            url_forms = [f"%{sep}{b}{p}%" for sep in ("://", "@") for b in ("", "[")]
            terms.append(and_(kind == "ip", or_(*(value.like(f, escape="\\") for f in ip_forms))))
            terms.append(and_(kind == "url", or_(*(value.like(f, escape="\\") for f in url_forms))))
    return or_(*terms) if terms else None


def _url_host(value: str) -> str:
    """The host of a canonical URL (scheme://[userinfo@]host[:port]/...), brackets kept."""
    host = value.split("/", 3)[2].rpartition("@")[2]
    return host[:host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]


def _in_scope(rows, asns: set[int], countries: set[str], networks: Sequence, domains: Sequence[str]) -> list[int]:
    """The ids of the candidate rows (id, value, kind, asn, country) in scope, in order."""
    keep = np.zeros(len(rows), dtype=bool)
    hosts: list[str | None] = []
    for i, (_id, value, kind, asn, country) in enumerate(rows):
        address = ip_host(value, kind)
        hosts.append(address)
        if address is not None:
            keep[i] = asn in asns or (country or "").lower() in countries
        elif domains:
            name = value if kind == "domain" else _url_host(value) if kind == "url" else ""
            keep[i] = any(name == d or name.endswith("." + d) for d in domains)
    if networks and rows:
        keep |= parse(pa.array(hosts, pa.string())).within(networks)
    return [rows[i][0] for i in np.flatnonzero(keep)]


def _chunks(seq: Sequence, n: int) -> Iterator[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _any_of(col, v: str | Iterable[str] | None):
    if v is None:
        return None
    vs = [v] if isinstance(v, str) else list(v)
    return col == vs[0] if len(vs) == 1 else col.in_(vs)


class Tracker:
    """The tracker's store on one database (SQLite or PostgreSQL).

    ``enricher``: what fills AS and country (an object with ``lookup(ips)``
    like :class:`takedown.enrich.Enricher`, or a function that makes one);
    None loads the shipped data; either is made the first time an address
    needs it. False turns enrichment off."""

    def __init__(self, engine: Engine, enricher=None):
        self.engine = engine
        self.url = str(engine.url)
        self._enricher = enricher

    @classmethod
    def open(cls, url: str, *, enricher=None) -> "Tracker":
        """The store at ``url``, at the code's schema revision (a new
        database is migrated; an older or newer one is refused: db.py)."""
        engine = db.open_engine(url)
        try:
            db.ensure_current(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, enricher)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- enrichment -------------------------------------------------------

    def _lookup(self, ips: list[str]) -> list[tuple[str | None, int | None, str | None]]:
        if self._enricher is False or not ips:
            return [(None, None, None)] * len(ips)
        if self._enricher is None:
            # lazy: the address tables take a second to load, and a store that
            # is given only domains never needs them
            from takedown.enrich import Enricher

            self._enricher = Enricher.default()
        elif not hasattr(self._enricher, "lookup"):
            self._enricher = self._enricher()  # a factory: made only when an address needs it
        t = self._enricher.lookup(ips)
        return list(zip(t.column("cc").to_pylist(), t.column("asn").to_pylist(), t.column("as_name").to_pylist()))

    def _enrich(self, rows: list, keys=_DICT_KEYS) -> None:
        """Fill asn, as_name, country of rows whose host is an IP and that
        have none of them, in one lookup. ``keys``: where a row holds value,
        kind, asn, as_name and country (dict keys, or a new row's indices)."""
        value, kind, asn_k, name_k, cc_k = keys
        todo, ips = [], []
        for r in rows:
            if r[asn_k] is None and r[cc_k] is None and r[kind] != "domain":
                ip = ip_host(r[value], r[kind])
                if ip:
                    todo.append(r)
                    ips.append(ip)
        for r, (cc, asn, name) in zip(todo, self._lookup(ips)):
            r[cc_k], r[asn_k], r[name_k] = cc, asn, name

    # --- writing ------------------------------------------------------------

    def add(self, indicators: Iterable[Indicator], *, by: str, reason: str = "", at: datetime | None = None,
            batch: int = BATCH) -> AddResult:
        """Add or merge ``indicators`` (an iterable, consumed in batches of
        ``batch``, each its own transaction); ``by``/``reason``/``at`` go to
        the history rows of the status changes they make."""
        at_s = _s(at or _now())
        totals = [0, 0, 0, 0]
        pending: dict[str, Indicator] = {}
        for ind in indicators:
            if ind.value in pending or len(pending) >= batch:
                # a value twice in one batch: the second merges with the stored first
                self._add_batch(pending, by, reason, at_s, totals)
                pending = {}
            pending[ind.value] = ind
        if pending:
            self._add_batch(pending, by, reason, at_s, totals)
        return AddResult(*totals)

    def _add_batch(self, batch: dict[str, Indicator], by: str, reason: str, at: int, totals: list[int]) -> None:
        with db.errors(self.url, "write"):
            try:
                with self.engine.begin() as conn:
                    counts = self._merge_batch(conn, batch, by, reason, at)
            except IntegrityError:
                # another writer added one of these values between our SELECT
                # and INSERT (PostgreSQL, two imports at once): once more,
                # now that its row is there to merge with
                with self.engine.begin() as conn:
                    counts = self._merge_batch(conn, batch, by, reason, at)
        for i, n in enumerate(counts):
            totals[i] += n

    def _merge_batch(self, conn, batch: dict[str, Indicator], by: str, reason: str, at: int) -> tuple[int, ...]:
        """One batch in one transaction; (added, updated, unchanged, status changes)."""
        stored = {r["value"]: r for r in _rows_of(conn, _COLUMNS, list(batch))}
        new_rows, updates, history = [], [], []
        unchanged = 0
        for value, ind in batch.items():
            old = stored.get(value)
            if old is None:
                new_rows.append(_row(ind, at))
                continue
            row = merge(old, ind, at)
            if row == old:
                unchanged += 1
                continue
            updates.append(row)
            if row["status"] != old["status"]:
                history.append((old["id"], at, old["status"], row["status"], by, reason, "{}"))
        self._enrich(new_rows, _LIST_KEYS)
        self._enrich([r for r in updates if r["kind"] != "domain"])
        for r in updates:
            # enrichment after the merge may have changed a revised field
            old = stored[r["value"]]
            if r["revision"] == old["revision"] and any(r[f] != old[f] for f in ("asn", "as_name", "country")):
                r["revision"], r["updated"] = old["revision"] + 1, at
        if new_rows:
            _executemany(conn, IND, _ROW_COLUMNS, new_rows)
            ids = _new_ids(conn, list(map(itemgetter(_VALUE), new_rows)))
            # the creations' history rows, made by zip in C: 0.15 s of CPU a
            # million, against 0.7 for a dict each and their itemgetter
            history.extend(zip(ids, repeat(at), repeat(None), map(itemgetter(_STATUS), new_rows), repeat(by),
                               repeat(reason), repeat("{}")))
        if updates:
            _executemany(conn, IND, _UPDATE_COLUMNS, list(map(itemgetter(*_UPDATE_COLUMNS, "id"), updates)), key="id")
        if history:
            _executemany(conn, CH, _CHANGE_COLUMNS, history)
        return len(new_rows), len(updates), unchanged, len(history) - len(new_rows)

    def _stored(self, conn, value: str) -> dict:
        key = normalize(value)
        r = conn.execute(select(IND).where(IND.c.value == key)).mappings().first()
        if r is None:
            raise TrackerError(f"{value}: not tracked")
        return dict(r)

    def _write(self, conn, old: dict, new: dict, change: dict | None) -> None:
        conn.execute(_UPDATE, [{**new, "b_id": old["id"]}])
        if change is not None:
            conn.execute(insert(CH), [change])

    def set_status(self, value: str, status: str, *, by: str, reason: str = "", at: datetime | None = None,
                   detail: dict | None = None) -> Change | None:
        """Set a tracked indicator's status; the history row, or None if it
        had that status already."""
        check_status(status)
        when = at or _now()
        at_s = _s(when)
        with db.errors(self.url, "write"), self.engine.begin() as conn:
            old = self._stored(conn, value)
            if old["status"] == status:
                return None
            new = {**old, "status": status, "revision": old["revision"] + 1, "updated": at_s}
            if status == "online":
                new["last_online"] = _latest(old["last_online"], at_s)
            self._write(conn, old, new, {"indicator_id": old["id"], "at": at_s, "old": old["status"], "new": status,
                                         "by": by, "reason": reason, "detail": json.dumps(detail or {})})
        return Change(old["value"], utc(when), old["status"], status, by, reason, dict(detail or {}))

    def record_check(self, value: str, *, at: datetime, online: bool, reason: str = "", address: str | None = None,
                     status: str | None = None, by: str = "check", detail: dict | None = None) -> Change:
        """Record one check of an indicator: ``last_checked``, and
        ``last_online`` when it answered; its status becomes ``status`` (the
        checker's decision), else online/offline. Every check is a history
        row (the old and new status equal when it did not change; the
        ``changes()`` feed leaves those out). ``address``: what the check
        reached (a domain's resolved address), which fills AS and country."""
        new_status = check_status(status) if status else ("online" if online else "offline")
        at_s = _s(at)
        info = {"online": online, **({"address": address} if address else {}), **(detail or {})}
        with db.errors(self.url, "write"), self.engine.begin() as conn:
            old = self._stored(conn, value)
            new = {**old, "status": new_status, "last_checked": _latest(old["last_checked"], at_s)}
            if online:
                new["last_online"] = _latest(old["last_online"], at_s)
            if address:
                (cc, asn, name), = self._lookup([address])
                if asn is not None or cc is not None:
                    new["country"], new["asn"], new["as_name"] = cc, asn, name
            if any(new[f] != old[f] for f in REVISED):
                new["revision"], new["updated"] = old["revision"] + 1, at_s
            self._write(conn, old, new, {"indicator_id": old["id"], "at": at_s, "old": old["status"],
                                         "new": new_status, "by": by, "reason": reason, "detail": json.dumps(info)})
        return Change(old["value"], utc(at), old["status"], new_status, by, reason, info)

    def next_serial(self, fmt: str, *, now: datetime | None = None) -> int:
        """The next serial of format ``fmt``'s exports, recorded with the
        export time: the stored one plus one, and at least the Unix time, so
        that it also increases over a database made afresh (the RPZ's SOA
        serial must, for resolvers that transfer the zone; RFC 1982
        arithmetic keeps Unix times valid serials until 2106)."""
        at = _s(now or _now())
        with db.errors(self.url, "write"), self.engine.begin() as conn:
            q = select(EX.c.serial).where(EX.c.format == fmt)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            old = conn.execute(q).scalar()
            serial = max((old or 0) + 1, at)
            if old is None:
                conn.execute(insert(EX), [{"format": fmt, "serial": serial, "exported_at": at}])
            else:
                conn.execute(update(EX).where(EX.c.format == fmt).values(serial=serial, exported_at=at))
        return serial

    # --- reading ------------------------------------------------------------

    def get(self, value: str) -> Indicator | None:
        key = normalize(value)
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            r = conn.execute(select(IND).where(IND.c.value == key)).first()
        return None if r is None else _indicator(r)

    def get_many(self, values: Iterable[str]) -> dict[str, Indicator]:
        """The stored indicators of ``values``, by canonical value (one not
        tracked is absent): a ``SELECT ... IN`` per 2,000 values, where
        :meth:`get` would make one query each (a sync of the operation's
        tens of thousands of names)."""
        keys = list(dict.fromkeys(normalize(v) for v in values))
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            rows = [r for chunk in _chunks(keys, _IN_CHUNK)
                    for r in conn.execute(select(IND).where(IND.c.value.in_(chunk))).all()]
        return {r.value: _indicator(r) for r in rows}

    def history(self, value: str) -> list[Change]:
        """Every status change and check of ``value``, oldest first."""
        key = normalize(value)
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            rows = conn.execute(select(CH).join(IND, CH.c.indicator_id == IND.c.id).where(IND.c.value == key)
                                .order_by(CH.c.at, CH.c.id)).all()
        return [_change(key, r) for r in rows]

    def changes(self, *, limit: int = 100, since: datetime | None = None) -> list[Change]:
        """The latest status changes (creation included, checks that left the
        status as it was not), newest first."""
        q = (select(IND.c.value, CH).join(IND, CH.c.indicator_id == IND.c.id)
             .where(or_(CH.c.old.is_(None), CH.c.old != CH.c.new))
             .order_by(CH.c.at.desc(), CH.c.id.desc()).limit(limit))
        if since is not None:
            q = q.where(CH.c.at >= _s(since))
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            return [_change(r.value, r) for r in conn.execute(q)]

    def _where(self, family, status, kind, stale_before) -> list:
        if status is not None:
            for s in [status] if isinstance(status, str) else status:
                check_status(s, "--status")
        cond = [c for c in (_any_of(IND.c.family, family), _any_of(IND.c.status, status),
                            _any_of(IND.c.kind, kind)) if c is not None]
        if stale_before is not None:
            cond.append(or_(IND.c.last_checked.is_(None), IND.c.last_checked < _s(stale_before)))
        return cond

    def select(self, *, family: str | Iterable[str] | None = None, status: str | Iterable[str] | None = None,
               kind: str | Iterable[str] | None = None, stale_before: datetime | None = None,
               page: int = _PAGE) -> Iterator[Indicator]:
        """The indicators matching every filter given, in id order, streamed:
        read a page at a time by id (keyset), each page its own short read,
        so memory stays bounded and no transaction is held open while the
        caller writes an export (``stale_before``: never checked, or last
        checked before it)."""
        return self._pages(self._where(family, status, kind, stale_before), page)  # filters checked now

    def _pages(self, cond: list, page: int) -> Iterator[Indicator]:
        last = 0
        while True:
            with db.errors(self.url, "read"), self.engine.connect() as conn:
                rows = conn.execute(select(IND).where(IND.c.id > last, *cond).order_by(IND.c.id).limit(page)).all()
            yield from map(_indicator, rows)
            if len(rows) < page:
                return
            last = rows[-1].id

    def search(self, *, family=None, status=None, kind=None, text: str = "", limit: int = 50,
               offset: int = 0) -> tuple[list[Indicator], int]:
        """(one page of the indicators matching every filter, newest first;
        their total): ``text`` is a case-insensitive substring of the value
        (``%`` and ``_`` match themselves), for the console's tracker page."""
        cond = self._where(family, status, kind, None)
        if text:
            escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            cond.append(func.lower(IND.c.value).like(f"%{escaped}%", escape="\\"))
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(IND).where(*cond)).scalar_one()
            rows = conn.execute(select(IND).where(*cond).order_by(IND.c.id.desc()).limit(limit).offset(offset)).all()
        return [_indicator(r) for r in rows], int(total)

    def scoped(self, *, asns: Iterable[int] = (), countries: Iterable[str] = (),
               networks: Iterable[IPv4Network | IPv6Network] = (), domains: Iterable[str] = (),
               family=None, status=None, kind=None, limit: int = 50, offset: int = 0) -> tuple[list[Indicator], int]:
        """(one page of the indicators in a partner's scope, in id order; their
        total), with the filters of :meth:`select`. In scope: an IP, or a URL
        whose host is an IP, with a stored AS in ``asns``, a stored country in
        ``countries`` (lower case) or an address inside one of ``networks``
        (IPv4-mapped IPv6 counting as IPv4); a domain, or a URL's host name,
        equal to or below one of ``domains``.

        SQL picks the candidates (the AS and country columns, ``LIKE`` on the
        values' text: a domain suffix, an IPv4 prefix's leading octets, an
        IPv6 prefix's first group), reading only id, value, kind, AS and
        country; the candidates are then decided exactly (the hosts cut out
        of the values, the prefixes compared on integers as
        :func:`takedown.enrich.addresses.parse` gives them), and only the
        page's rows are read whole."""
        asns, countries = sorted({int(a) for a in asns}), sorted({c.lower() for c in countries})
        networks, domains = tuple(networks), tuple(sorted({d.lower().rstrip(".") for d in domains}))
        cond = self._where(family, status, kind, None)
        candidates = _scope_candidates(asns, countries, networks, domains)
        if candidates is None:
            return [], 0
        q = select(IND.c.id, IND.c.value, IND.c.kind, IND.c.asn, IND.c.country).where(candidates, *cond)
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            rows = conn.execute(q.order_by(IND.c.id)).all()
            ids = _in_scope(rows, set(asns), set(countries), networks, domains)
            page = ids[offset:offset + limit]
            got = [r for chunk in _chunks(page, _IN_CHUNK)
                   for r in conn.execute(select(IND).where(IND.c.id.in_(chunk))).all()]
        got.sort(key=itemgetter(0))
        return [_indicator(r) for r in got], len(ids)

    def count(self, *, family=None, status=None, kind=None, stale_before=None) -> int:
        cond = self._where(family, status, kind, stale_before)
        with db.errors(self.url, "read"), self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(IND).where(*cond)).scalar_one()


_COLUMNS = tuple(c.name for c in IND.columns)
_ROW_COLUMNS = tuple(c for c in _COLUMNS if c != "id")
_UPDATE_COLUMNS = tuple(c for c in _ROW_COLUMNS if c != "value")  # an update's SET
_LIST_KEYS = tuple(map(_ROW_COLUMNS.index, _DICT_KEYS))
_VALUE, _STATUS = _ROW_COLUMNS.index("value"), _ROW_COLUMNS.index("status")


def _new_ids(conn, values: list[str]) -> list[int]:
    """The ids of the rows just inserted for ``values``, in that order.

    SQLite gives a new row of a rowid table without AUTOINCREMENT the
    largest rowid plus one, and this transaction has held the database's
    only write lock since its first INSERT: the rows just inserted are the
    last len(values) ids, in order (https://sqlite.org/autoinc.html). That
    spares a SELECT of a million values. Elsewhere they are read back."""
    if conn.dialect.name == "sqlite":
        last = conn.exec_driver_sql(f"SELECT max(id) FROM {IND.name}").scalar()
        return list(range(last - len(values) + 1, last + 1))
    ids = {r["value"]: r["id"] for r in _rows_of(conn, ("value", "id"), values)}
    return [ids[v] for v in values]


def _rows_of(conn, columns: tuple[str, ...], values: list[str]) -> Iterator[dict]:
    """The stored rows (``columns`` of them) of ``values``, a chunk of
    values per SELECT ... IN, through the driver (as _executemany)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    q = conn.dialect.identifier_preparer.quote
    head = f"SELECT {', '.join(map(q, columns))} FROM {q(IND.name)} WHERE {q('value')} IN "
    for chunk in _chunks(values, _IN_CHUNK):
        rows = conn.exec_driver_sql(head + f"({', '.join([mark] * len(chunk))})", tuple(chunk)).all()
        yield from (dict(zip(columns, r)) for r in rows)
_CHANGE_COLUMNS = tuple(c.name for c in CH.columns if c.name != "id")


def _executemany(conn, table, columns: tuple[str, ...], rows: list[Sequence], key: str | None = None) -> None:
    """INSERT ``rows``, each its ``columns`` in order (or, with ``key``,
    UPDATE those columns of the rows whose ``key``, last in each row, is
    given) through the driver's executemany (COPY for PostgreSQL's inserts):
    SQLAlchemy's per-row parameter processing costs more than SQLite's
    insert itself, and these columns need no conversion."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    q = conn.dialect.identifier_preparer.quote
    if key is None and conn.dialect.name == "postgresql":
        # COPY: PostgreSQL's bulk load, several times the rows/s of batched INSERTs
        sql = f"COPY {q(table.name)} ({', '.join(map(q, columns))}) FROM STDIN"
        try:
            with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except conn.dialect.dbapi.Error as exc:  # as SQLAlchemy reports the driver's errors (IntegrityError...)
            raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
        return
    if key is None:
        sql = (f"INSERT INTO {q(table.name)} ({', '.join(map(q, columns))}) "
               f"VALUES ({', '.join([mark] * len(columns))})")
    else:
        sql = f"UPDATE {q(table.name)} SET {', '.join(f'{q(c)} = {mark}' for c in columns)} WHERE {q(key)} = {mark}"
    conn.exec_driver_sql(sql, list(map(tuple, rows)))  # SQLAlchemy takes tuples only: a new row is a list


_UPDATE = (update(IND).where(IND.c.id == bindparam("b_id"))
           .values({c.name: bindparam(c.name) for c in IND.columns if c.name not in ("id", "value")}))
