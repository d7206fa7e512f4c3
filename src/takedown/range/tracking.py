"""The demo's C&C tracker (docs/tracker.md, "In the demo"): what the
operation holds and what its sinkhole saw, emulated C&C servers checked on
loopback, every export and the statistics beside the report.

Two steps, because the check needs the sinkhole and the events need it
stopped:

1. :func:`hold_and_check`, while the sinkhole still serves: the tracker
   (the operation's database: SQLite in its storage) takes what the
   operation holds today (``tracker sync``'s :func:`~takedown.tracker.sync.apply_operation`),
   the emulated C&C servers of :mod:`takedown.range.cnc` are added, and the
   checker (:mod:`takedown.tracker.check`) probes them and a sample of the
   held names, resolving through the sinkhole's own DNS listener, so a
   seized name is seen to resolve to the sinkhole as a resolver would see
   it. Every address the check may connect to is on loopback: the
   emulated servers', and the sinkhole's answers for held names are its
   ``[sinkhole]`` addresses, which the checker never connects to.
2. :func:`publish`, once the sinkhole has stopped and flushed its events:
   the tracked names the bots asked for in the emulated period are marked
   (:func:`~takedown.tracker.sync.apply_events`; the check's own lookups,
   stamped with the wall clock, fall outside it), then every writable
   format is exported and the statistics written.
"""

from __future__ import annotations

import ipaddress

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from takedown.lists import display_path
from takedown.operation import Operation
from takedown.range import cnc
from takedown.tracker import check as chk
from takedown.tracker import formats, stats, sync
from takedown.tracker.db import resolve_url
from takedown.tracker.indicator import STATUSES, Indicator
from takedown.tracker.publish import export_selection
from takedown.tracker.store import Tracker

__all__ = ["Checked", "Figures", "hold_and_check", "publish", "sample", "exports", "PER_FAMILY", "VARIANTS"]

#: Held names checked per family (evenly spaced in value order): enough to
#: see each list resolve to the sinkhole, few enough for seconds of checks.
PER_FAMILY = 40
#: The check's bounds: loopback answers in microseconds, so a second per
#: target is ample and bounds one that would hang; the rate keeps the
#: sinkhole's DNS listener far from busy.
CHECK = {"rate": 500.0, "burst": 50, "concurrency": 50, "timeout": 1.0}


@dataclass(frozen=True, slots=True)
class Checked:
    """What step 1 did: the operation's names written, the emulated servers
    and how many targets the check probed, by the status it left."""

    held: sync.Applied
    servers: list[cnc.Server]
    results: Counter
    alarms: int


@dataclass(frozen=True, slots=True)
class Figures:
    """The tracker after the demo: indicators by status (from the
    database), the check's results, the exports written."""

    directory: Path
    total: int
    by_status: dict[str, int]
    checked: int
    alarms: int
    exports: list[Path] = field(default_factory=list)
    sighted: int = 0  # tracked names the bots asked the sinkhole for

    def line(self) -> str:
        """The demo's one line of tracker figures."""
        parts = ", ".join(f"{self.by_status[s]:,} {s}" for s in STATUSES if self.by_status.get(s))
        return (f"tracker: {self.total:,} indicators ({parts}); {self.sighted:,} asked for at the sinkhole; "
                f"checked {self.checked:,} ({self.alarms:,} alarms); {len(self.exports)} exports and stats in "
                f"{display_path(self.directory)}/")


def _url(op: Operation) -> str:
    return resolve_url(op.database.url or None, op.storage)


def sample(indicators: list[Indicator], per_family: int = PER_FAMILY) -> list[Indicator]:
    """At most ``per_family`` of each family's indicators, evenly spaced in
    value order (deterministic: the same demo checks the same names)."""
    by_family: dict[str, list[Indicator]] = {}
    for ind in sorted(indicators, key=lambda i: i.value):
        by_family.setdefault(ind.family, []).append(ind)
    out = []
    for family in sorted(by_family):
        rows = by_family[family]
        step = max(1, len(rows) / per_family)
        out += [rows[int(k * step)] for k in range(min(per_family, len(rows)))]
    return out


#: The demo's probes connect nowhere else, whatever a name resolves to.
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def hold_and_check(op: Operation, *, day: date, now: datetime, enricher=None) -> Checked:
    """Step 1 (the sinkhole serving ``op``'s bound listeners)."""
    config = chk.CheckConfig(resolver=chk.parse_resolver(op.dns.listen[0]),
                             sinkhole=frozenset(op.sinkhole.ipv4 + op.sinkhole.ipv6), only=LOOPBACK, **CHECK)
    results: Counter = Counter()
    alarms = 0

    def seen(r: chk.CheckResult) -> None:
        nonlocal alarms
        results[r.status] += 1
        alarms += r.alarm

    with Tracker.open(_url(op), enricher=enricher) as tracker:
        held = sync.apply_operation(tracker, op, day, now)
        names = sample(list(tracker.select(kind="domain", status=list(sync.RANK))))
        with cnc.serving() as servers:
            tracker.add([Indicator.new(s.value, s.family, kind=s.kind, status="unknown", source="demo",
                                       notes="emulated C&C server on loopback (takedown demo)") for s in servers],
                        by="demo", reason="emulated C&C servers of the demo")
            emulated = [tracker.get(s.value) for s in servers]
            chk.check_indicators(tracker, emulated + names, config, on_result=seen)
    return Checked(held, servers, results, alarms)


#: Formats written more than once, with a name and ``--param``s each: the
#: plain lists as ZeuS Tracker published them, one of domains, one of IPs.
VARIANTS = {"plain": (("domains", {"kind": "domain"}), ("ips", {"kind": "ip"}))}


def exports() -> list[tuple[str, str, dict[str, str]]]:
    """(format, file or directory name, params) of every export the demo
    writes: each writable format once (``rpz.zone``, ``misp``...), the
    :data:`VARIANTS` once per variant (``plain-domains.txt``)."""
    out = []
    for fmt in formats.names(writable=True):
        suffix = formats.get(fmt).suffix
        for variant, params in VARIANTS.get(fmt, (("", {}),)):
            out.append((fmt, f"{fmt}-{variant}{suffix}" if variant else fmt + suffix, params))
    return out


def publish(op: Operation, out: Path, checked: Checked, *, since: date, until: date, now: datetime,
            enricher=None) -> Figures:
    """Step 2 (the sinkhole stopped): the events of ``since``..``until``,
    every writable format into ``out``, the statistics into ``out/stats``."""
    out.mkdir(parents=True, exist_ok=True)
    sk = op.sinkhole
    exported = []
    with Tracker.open(_url(op), enricher=enricher) as tracker:
        seen = sync.apply_events(tracker, op.storage, since, until)
        for fmt, name, params in exports():
            done = export_selection(tracker, fmt, out / name, params=params, now=now,
                                    sinkhole_v4=sk.ipv4[0] if sk.ipv4 else None,
                                    sinkhole_v6=sk.ipv6[0] if sk.ipv6 else None)
            exported.append(done.path)
        stats.write_stats(stats.collect_store(tracker), out / "stats", now)
        by_status = {s: tracker.count(status=s) for s in STATUSES}
        total = tracker.count()
    return Figures(out, total, by_status, sum(checked.results.values()), checked.alarms, exported,
                   seen.seized + seen.sinkholed)
