"""The tracker from the operation and from the sinkhole's events.

**The operation** says what the takedown holds: its seized domain lists and
the DGA names due on a day (:func:`takedown.dga.sinking.held_on`, the names
the DNS policy sinks that day) are ``seized``; the names a taken-over zone's
blocklist sinks are ``sinkholed`` (the zone is ours, the name answered with
the sinkhole, as Microsoft did for 3322.org's malicious subdomains).

**The events** say what the sinkhole sees: a tracked domain that resolvers
ask our DNS sinkhole for (the name or a name below it) and that the
sinkhole sinks, or that bots name in an HTTP Host header or a TLS SNI,
points at us: it is ``sinkholed``, with the number of those events as its
``checkins``. A ``seized`` indicator stays ``seized`` (seizure is the
stronger fact; its count is updated).

Precedence, whatever the order things arrive in: ``seized`` over
``sinkholed`` over the rest. A name no longer in the operation keeps its
status (releasing a name is an operator's decision, not a sync's).

Library functions return indicators or :class:`Sighting` rows;
:func:`apply_operation` and :func:`apply_events` write them through the
store's :class:`~takedown.tracker.store.Tracker` (``get_many``, ``add``, ``select``).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import duckdb
import pyarrow as pa

from takedown.analytics.dataset import period_condition
from takedown.analytics.output import first_line
from takedown.dga.sinking import held_on
from takedown.errors import StoreError
from takedown.lists import read_blocklist, read_domain_list
from takedown.operation import Operation
from takedown.store.reader import connect, retry_vanished
from takedown.tracker.formats.jsonl import from_json, to_json
from takedown.tracker.indicator import Indicator, utc
from takedown.tracker.ingest import batches

__all__ = ["from_operation", "Sighting", "sightings", "sinkholed", "apply_operation", "apply_events", "RANK"]

#: The statuses the takedown itself sets, strongest first: a weaker one never replaces a stronger.
RANK = {"seized": 2, "sinkholed": 1}
#: Rows read back from DuckDB at once.
BATCH = 10_000
#: DuckDB's memory for the count (its default is 80% of the machine's RAM): past it, it spills to disk.
MEMORY_LIMIT = "1GB"


def _domain(name: str, family: str, status: str, now: datetime, source: str, notes: str,
            tags: tuple[str, ...] = ()) -> Indicator:
    return Indicator.new(name, family, kind="domain", what=source, status=status, first_seen=now, last_seen=now,
                         source=source, confidence=100, tags=tags, notes=notes)


def from_operation(op: Operation, day: date, now: datetime) -> list[Indicator]:
    """The indicators the operation holds on ``day`` (UTC), each name once:
    seized domains, then the DGA names due that day (``seized``, tagged
    ``dga``), then zones' blocklisted names (``sinkholed``; a ``*.name``
    line as ``name``, a domain indicator standing for the name and all
    below it). A name found twice keeps its first, stronger, entry (a
    seized name below a zone is sunk whole: takedown.dns.policy).
    Raises OperationError for a bad list file."""
    now = utc(now)
    source = f"operation:{op.name}"
    out: dict[str, Indicator] = {}

    def put(ind: Indicator) -> None:
        out.setdefault(ind.value, ind)

    for d in op.domains:
        for name in read_domain_list(d.file):
            put(_domain(name, d.family, "seized", now, source, f"seized: listed in {Path(d.file).name}"))
    for name, h in sorted(held_on(op.dga, day).items()):
        put(_domain(name, h.family, "seized", now, source,
                    f"DGA name of {h.period_start.isoformat()}..{h.period_end.isoformat()}, held "
                    f"{h.hold_from.isoformat()}..{h.hold_to.isoformat()}", ("dga",)))
    for z in op.zones:
        if z.blocklist is None:
            continue
        exact, wild = read_blocklist(z.blocklist, z.origin)
        for name in sorted(exact | wild):
            below = " and every name below it" if name in wild else ""
            put(_domain(name, z.family, "sinkholed", now, source, f"blocklisted in zone {z.origin}{below}"))
    return list(out.values())


@dataclass(frozen=True, slots=True)
class Sighting:
    """What the sinkhole saw of one tracked domain over the period: DNS
    queries for it or a name below it, HTTP/TLS check-ins naming it (Host,
    SNI), and the last event's time. ``indicator`` is the tracked one."""

    indicator: Indicator
    queries: int
    checkins: int
    last: datetime | None

    @property
    def value(self) -> str:
        return self.indicator.value

    @property
    def status(self) -> str:
        return "seized" if self.indicator.status == "seized" else "sinkholed"

    @property
    def total(self) -> int:
        return self.queries + self.checkins

    def row(self) -> tuple[str, str, int]:
        """(value, status, checkins): what the tracker records."""
        return self.value, self.status, self.total


# Every event naming a domain, then every suffix of each distinct name (so
# that a query for www.c2.example counts for a tracked c2.example), joined on
# equality with the tracked names: DuckDB hashes and, past its memory
# limit, spills; nothing here holds the tracked set or the names in Python.
#
# A DNS query counts only if the sinkhole sank the name (a rule other than
# 'none' and a zone's pass-through): anyone may ask any server for any name,
# and a name the sinkhole refuses is not ours. A name sunk by a zone's
# blocklist counts for tracked names below the zone's origin, never for the
# origin or above it (tracking 3322.org's blocklisted hosts does not make
# 3322.org sinkholed). An HTTP or TLS check-in naming a domain counts
# always: the bot reached the sinkhole's address under that name.
_SIGHTINGS = """
WITH hits AS (
    SELECT qname AS name, CASE WHEN rule LIKE 'zone:%' THEN split_part(rule, ':', 2) END AS floor,
           count(*) AS queries, 0 AS checkins, max(time) AS last
    FROM events
    WHERE kind = 'dns' AND qname IS NOT NULL AND rule <> 'none' AND rule NOT LIKE 'zone:%:pass' AND {period}
    GROUP BY ALL
    UNION ALL
    SELECT lower(coalesce(host, sni)) AS name, NULL, 0, count(*), max(time)
    FROM events WHERE kind IN ('http', 'tls') AND coalesce(host, sni) IS NOT NULL AND {period}
    GROUP BY lower(coalesce(host, sni))
), parts AS (
    SELECT string_split(name, '.') AS p, floor, queries, checkins, last FROM hits
), suffixes AS (
    SELECT array_to_string(list_slice(p, i, len(p)), '.') AS suffix, floor, queries, checkins, last
    FROM (SELECT unnest(generate_series(1, len(p))) AS i, p, floor, queries, checkins, last FROM parts)
)
SELECT t.value, any_value(t.doc) AS doc, sum(s.queries)::BIGINT AS queries, sum(s.checkins)::BIGINT AS checkins,
       max(s.last) AS last
FROM suffixes s JOIN (SELECT value, any_value(doc) AS doc FROM tracked GROUP BY value) t ON t.value = s.suffix
WHERE s.floor IS NULL OR length(s.suffix) > length(s.floor)
GROUP BY t.value
"""


def sightings(storage: Path, tracked: Iterable[Indicator], since: date | None = None,
              until: date | None = None) -> Iterator[Sighting]:
    """The tracked domains (``kind == "domain"``; others are ignored) the
    sinkhole's events under ``storage`` name between ``since`` and
    ``until`` (UTC days, inclusive; None: no bound), in value order.

    Memory stays bounded: the tracked indicators go to DuckDB in batches,
    DuckDB spills past its memory limit into a private directory, and the
    rows come back in batches. The counts are made once, into a table, so
    that a day compacted meanwhile (its files swapped) only makes the count
    start again (:func:`takedown.store.reader.retry_vanished`). Raises
    :class:`StoreError` in one line if the events cannot be read."""
    with tempfile.TemporaryDirectory(prefix="takedown-sync-") as spill:
        con = connect(storage)
        try:
            con.execute("SET temp_directory = ?", [spill])
            con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
            con.execute("CREATE TEMP TABLE tracked (value VARCHAR, doc VARCHAR)")
            for batch in batches(i for i in tracked if i.kind == "domain"):
                rows = pa.table({"value": [i.value for i in batch],
                                 "doc": [json.dumps(to_json(i), separators=(",", ":")) for i in batch]})
                con.register("_tracked_batch", rows)
                con.execute("INSERT INTO tracked SELECT value, doc FROM _tracked_batch")
                con.unregister("_tracked_batch")
            query = _SIGHTINGS.format(period=period_condition(since, until))
            retry_vanished(lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE found AS {query}"))
            cur = con.execute("SELECT * FROM found ORDER BY value")
            while rows := cur.fetchmany(BATCH):
                for value, doc, queries, checkins, last in rows:
                    ind = from_json(json.loads(doc), f"tracked {value}")
                    yield Sighting(ind, int(queries), int(checkins), utc(last) if last is not None else None)
        except duckdb.Error as exc:
            raise StoreError(f"cannot count the events under {storage}: {first_line(exc)}") from None
        finally:
            con.close()


def sinkholed(found: Iterable[Sighting]) -> Iterator[Indicator]:
    """Each sighted indicator as the tracker should now keep it: ``sinkholed``
    (a ``seized`` one stays ``seized``), ``checkins`` the period's DNS
    queries and check-ins, ``last_seen`` the latest of them."""
    for s in found:
        ind = s.indicator
        last = max((t for t in (ind.last_seen, s.last) if t is not None), default=None)
        yield dataclasses.replace(ind, status=s.status, checkins=s.total, last_seen=last)


# --------------------------------------------------------------------------
# Applying them through the store


class Store(Protocol):
    """What this module needs of :class:`takedown.tracker.store.Tracker`."""

    def get_many(self, values: Iterable[str]) -> dict[str, Indicator]: ...

    def add(self, indicators: Iterable[Indicator], *, by: str, reason: str) -> object: ...

    def select(self, *, family: str | None = None, status: str | None = None, kind: str | None = None,
               stale_before: datetime | None = None) -> Iterator[Indicator]: ...


def merged(old: Indicator | None, new: Indicator) -> Indicator:
    """``new`` over a stored ``old``: the status by :data:`RANK` (a weaker
    one never replaces a stronger), the family, tags and notes of the
    tracked one kept, ``last_seen`` moved on; everything else stays."""
    if old is None:
        return new
    status = new.status if RANK.get(new.status, 0) >= RANK.get(old.status, 0) else old.status
    last = max((t for t in (old.last_seen, new.last_seen) if t is not None), default=None)
    tags = old.tags + tuple(t for t in new.tags if t not in old.tags)
    return dataclasses.replace(old, status=status, last_seen=last, tags=tags)


@dataclass(frozen=True, slots=True)
class Applied:
    seized: int = 0
    sinkholed: int = 0
    checkins: int = 0


def _count(written: list[Indicator]) -> Applied:
    return Applied(seized=sum(i.status == "seized" for i in written),
                   sinkholed=sum(i.status == "sinkholed" for i in written),
                   checkins=sum(i.checkins or 0 for i in written))


def apply_operation(tracker: Store, op: Operation, day: date, now: datetime) -> Applied:
    """Write :func:`from_operation` through ``tracker``, merged with what it
    already holds (:func:`merged`), a batch at a time."""
    written = []
    for batch in batches(from_operation(op, day, now)):
        stored = tracker.get_many(i.value for i in batch)
        batch = [merged(stored.get(i.value), i) for i in batch]
        tracker.add(batch, by="operation", reason=f"held by operation {op.name} on {day.isoformat()}")
        written += batch
    return _count(written)


def apply_events(tracker: Store, storage: Path, since: date | None, until: date | None) -> Applied:
    """Mark the tracked domains the sinkhole's events name (:func:`sightings`)."""
    period = f"{since.isoformat() if since else 'the first day'}..{until.isoformat() if until else 'today'}"
    applied = Applied()
    found = sinkholed(sightings(storage, tracker.select(kind="domain"), since, until))
    for batch in batches(found):
        tracker.add(batch, by="events", reason=f"asked for at the sinkhole (DNS, HTTP Host, TLS SNI), {period}")
        n = _count(batch)
        applied = Applied(applied.seized + n.seized, applied.sinkholed + n.sinkholed, applied.checkins + n.checkins)
    return applied


def default_since(day: date, days: int = 7) -> date:
    """The first day of the week ending on ``day``: what "now asked for" means by default."""
    return day - timedelta(days=days - 1)
