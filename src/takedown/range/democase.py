"""The demo's court case (issue 17): the order the demo operation carries
out, the ZeuS stop command it authorises, and the case's steps after the
report: the order checked against the operation, the appendix, the
seizure verified against a loopback parent, the storage sealed.

The case is fictional and marked so (its case number starts ``DEMO-``), but
shaped like the civil actions the project models: a temporary restraining
order the day before the operation starts (Waledac, 2010: *Microsoft v. John
Does 1-27*, E.D. Va., a TRO naming the domains and the registries that must
act), a preliminary injunction from day 14 of the order, leave to show the
infected users a notice, and, as the Coreflood order of 2011 allowed the
FBI's substitute C&C servers, leave to answer the ZeuS bots with the
family's stop command, here from week 5 (``[[case.authorities]]`` id
``stop-zeus``). The registries are the TLDs' real operators
(:data:`takedown.dga.sinking.REGISTRIES`), with made-up contacts under
``.example`` (RFC 2606).

The stop command's bytes are the range's own emulated protocol
(:func:`takedown.range.families.base.command_body`), declared as a
``[[command]]`` of the demo's rules file (docs/fingerprints.md).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from takedown.case import appendix as appendix_mod
from takedown.case import rdap_bootstrap
from takedown.case.appendix_render import plural
from takedown.case.check import check_case, rules_commands, summary
from takedown.case.verify import NOT_YET, VERIFIED, WRONG, verify_operation
from takedown.dga.sinking import REGISTRIES
from takedown.evidence import seal as evidence
from takedown.lists import display_path, read_domain_list
from takedown.operation import Operation
from takedown.range import families
from takedown.range.parent import LoopbackParent, zone_text
from takedown.store.compact import Compaction, closed_days, compact_day

__all__ = ["COMMAND_AUTHORITY", "STOP_WEEK", "CaseFigures", "case_section", "command_rules",
           "compact_closed", "parent_zones", "run_case", "stop_from"]

#: The id of the authority that lets the sinkhole answer ZeuS with "stop".
COMMAND_AUTHORITY = "stop-zeus"
STOP_FAMILY, STOP_COMMAND = "zeus", "stop"
#: The week of the demo (1-based) whose Monday 00:00Z the stop is authorised from.
STOP_WEEK = 5
#: The TLDs of the demo's seized names, and the zone taken over (3322.org).
TLDS = ("com", "net", "biz", "info", "ru", "org")
#: A registry that has not acted yet: its names stay delegated to the old servers.
LAGGING_TLD = "ru"
OLD_NAMESERVERS = ("ns1.bulletproof-dns.example", "ns2.bulletproof-dns.example")
#: Families whose names the order lets the operation sink (the seized ZeuS
#: list, the DGA families, the zone's blocklisted Mirai names).
SINK_FAMILIES = ("zeus", "conficker", "locky", "mirai")
#: What the demo writes outside its storage and seals with it (``[case]
#: evidence``): the report, the court's appendix, the tracker's exports.
OUTPUTS = ("report", "case/appendix", "tracker")


def stop_from(start: date) -> datetime:
    """When the stop command is authorised: the demo's week ``STOP_WEEK``, 00:00Z."""
    return datetime.combine(start + timedelta(weeks=STOP_WEEK - 1), datetime.min.time(), UTC)


def _z(t: datetime | date) -> str:
    if not isinstance(t, datetime):
        t = datetime.combine(t, datetime.min.time(), UTC)
    return f"{t:%Y-%m-%dT%H:%M:%SZ}"


def case_section(start: date, seized_list: str, defendants: int) -> str:
    """The ``[case]`` of the demo operation whose range starts on ``start``
    and whose ZeuS names are in ``seized_list`` (``defendants`` of them)."""
    order = start - timedelta(days=1)
    injunction = order + timedelta(days=14)
    fams = ", ".join(f'"{f}"' for f in SINK_FAMILIES)
    outputs = ", ".join(f'"{o}"' for o in OUTPUTS)
    registries = "".join(f'''
[[case.registries]]
tld = "{tld}"
name = "{REGISTRIES[tld]}"
contact = "legal@{tld}-registry.example (demo contact)"
''' for tld in TLDS)
    return f'''
# The court case the demo carries out (fictional: a demo, not a real order).
[case]
court = "United States District Court for the Eastern District of Virginia (demo)"
case_number = "DEMO-1:{order:%y}-cv-{order:%m%d}"
order_type = "temporary restraining order"
order_date = {order.isoformat()}
evidence = [{outputs}]             # the report, the appendix, the tracker's exports: sealed with the storage

[[case.parties]]
role = "plaintiff"
name = "Example Security Alliance (demo)"
contact = "counsel@plaintiff.example"

[[case.parties]]
role = "defendant"
name = "John Does 1-{defendants}, controlling the ZeuS C&C names of {seized_list}"

[[case.authorities]]             # the TRO: sink the seized names and the DGA names for 14 days
id = "tro-sink"
kind = "sink"
families = [{fams}]
lists = ["{seized_list}"]
valid_from = {_z(order)}
valid_until = {_z(injunction)}

[[case.authorities]]             # the preliminary injunction that follows it, until further order
id = "pi-sink"
kind = "sink"
families = [{fams}]
lists = ["{seized_list}"]
valid_from = {_z(injunction)}

[[case.authorities]]             # the notice page shown to the infected users
id = "notify-users"
kind = "notify"
families = [{fams}]
valid_from = {_z(order)}

[[case.authorities]]             # Coreflood-style: answer the ZeuS bots' check-ins with "stop"
id = "{COMMAND_AUTHORITY}"
kind = "command"
family = "{STOP_FAMILY}"
command = "{STOP_COMMAND}"
valid_from = {_z(stop_from(start))}
{registries}'''


def command_rules() -> str:
    """The ``[[command]]`` of the demo's rules file: ZeuS's stop, in the
    range's emulated protocol (the body a range ZeuS bot obeys)."""
    body = families.get(STOP_FAMILY).commands[STOP_COMMAND]
    return f'''
[[command]]
family = "{STOP_FAMILY}"
name = "{STOP_COMMAND}"
source = "the range's emulated C&C protocol (takedown.range.families.base.command_body), not ZeuS's own"
status = 200
content_type = "application/octet-stream"
body_hex = "{body.hex(" ")}"
description = "stop checking in: sent under the case's authority {COMMAND_AUTHORITY} from week {STOP_WEEK}"
'''


def parent_zones(op: Operation, into: Path) -> dict[str, Path]:
    """A fake zone per TLD of the operation's seized names, in ``into``:
    each name delegated to the case's nameservers, except those of
    :data:`LAGGING_TLD`, still delegated to the old ones."""
    ns = op.case.nameservers if op.case is not None else tuple(n for n, _ in op.sinkhole.nameservers)
    by_tld: dict[str, dict[str, tuple[str, ...]]] = {}
    for d in op.domains:
        for name in read_domain_list(d.file):
            tld = name.rsplit(".", 1)[-1]
            by_tld.setdefault(tld, {})[name] = OLD_NAMESERVERS if tld == LAGGING_TLD else tuple(ns)
    into.mkdir(parents=True, exist_ok=True)
    files = {}
    for tld, names in sorted(by_tld.items()):
        files[tld] = into / f"{tld}.zone"
        files[tld].write_text(zone_text(tld, names))
    return files


@dataclass
class CaseFigures:
    """What the case's steps found; :meth:`lines` is what ``takedown demo`` prints."""

    check: str  # the OK line of case check, or its first error
    check_errors: list[str]
    appendix: appendix_mod.Appendix
    appendix_dir: Path
    verified: dict[str, dict[str, int]]  # registry label -> {verified, not yet, wrong}
    parent: str  # HOST:PORT the delegations were asked of
    compacted: int  # event-day partitions compacted before sealing
    sealed: int  # files added to the manifest
    manifest: Path
    open_days: int
    evidence: evidence.Verified
    timings: dict[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # [case] evidence sealed with the storage, as "report/" (operation-relative)

    @property
    def ok(self) -> bool:
        """The case holds and the evidence verifies (names "not yet" verified are information, not failure)."""
        return not self.check_errors and self.evidence.ok

    def totals(self) -> dict[str, int]:
        out = {VERIFIED: 0, NOT_YET: 0, WRONG: 0}
        for counts in self.verified.values():
            for k, v in counts.items():
                out[k] += v
        return out

    def lines(self) -> list[str]:
        a = self.appendix
        groups = ", ".join(f"{g.registry} {'/'.join('.' + t for t in g.tlds)} {len(g.entries)}" for g in a.groups)
        t = self.totals()
        per = "; ".join(f"{reg} " + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
                        for reg, counts in self.verified.items())
        outputs = f", with {', '.join(self.outputs)}" if self.outputs else ""
        out = [f"case check: {self.check}"]
        out += [f"  {e}" for e in self.check_errors[1:]]
        out += [f"case appendix: {plural(a.total, 'name', 'names')} by registry: {groups} "
                f"({display_path(self.appendix_dir)}/appendix.csv, .html, .pdf)",
                f"case verify --dns (parent {self.parent}): {t[VERIFIED]} verified, {t[NOT_YET]} not yet, "
                f"{t[WRONG]} wrong",
                f"  by registry: {per}",
                f"evidence seal: {plural(self.sealed, 'file', 'files')} into {display_path(self.manifest)}{outputs} "
                f"({self.compacted} event days compacted first in {self.timings.get('compact', 0.0):.0f} s, "
                f"{self.open_days} still open)"]
        v = self.evidence
        if v.ok:
            out.append(f"evidence verify: OK ({v.files_ok} of {v.entries} files as sealed)")
        else:
            out.append(f"evidence verify: {len(v.faults)} fault(s): " + "; ".join(v.faults[:3]))
        return out


def compact_closed(storage: Path, now: datetime, workers: int = 4) -> list[Compaction]:
    """Compact every closed event day of ``storage`` before sealing: the
    evidence chain seals a day once, after its compaction
    (takedown.evidence.collect), and the demo's days are past but freshly
    written, so ``serve`` has not compacted them yet. The days are
    independent (one ``kind=K/date=D`` directory each) and most of a small
    day's time is DuckDB's set-up and fsync, not CPU: a few at once take
    about half the time of one after another (224 days of the small demo:
    16-21 s serially, 11 s four at a time, on this project's 2-core machine
    under load)."""
    days = closed_days(storage, now=now)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda kd: compact_day(storage, kd[0], kd[1], threads=1), days))


def _by_served_registry(op: Operation, results) -> dict[str, dict[str, int]]:
    """Verification counts per registry the order is served on: ``.com
    (Verisign)``, the ``[[case.registries]]`` entry of each name (verify
    itself groups by RDAP service, which two TLDs of one operator share)."""
    out: dict[str, dict[str, int]] = {}
    for r in results:
        reg = op.case.registry_for(r.name) if op.case is not None else None
        label = f".{reg.tld} ({reg.name})" if reg is not None else r.registry
        counts = out.setdefault(label, {VERIFIED: 0, NOT_YET: 0, WRONG: 0})
        counts[r.status] += 1
    return dict(sorted(out.items()))


def run_case(op: Operation, out: Path, *, now: datetime | None = None, history: bool = True) -> CaseFigures:
    """The case's steps for the demo operation ``op`` (its sinkhole stopped,
    its report written): ``case check`` at ``now``, ``case appendix`` into
    ``out/case/appendix``, ``case verify --dns`` against a loopback parent
    (zones in ``out/case/parent``), then compact the closed event days and
    seal the storage and the ``[case] evidence`` outputs (:data:`OUTPUTS`:
    the report, this appendix, the tracker's exports) into the evidence
    chain, and verify it. ``history``:
    record the first verification of each name in the operation's database."""
    now = now or datetime.now(UTC)
    timings = {}
    t0 = time.monotonic()
    checked = check_case(op, now, rules_commands(op))
    check = summary(checked) if checked.ok else f"{len(checked.errors)} error(s): {checked.errors[0]}"
    appendix_dir = out / "case" / "appendix"
    app = appendix_mod.build(op, rdap_bootstrap.shipped())
    appendix_mod.write(app, appendix_dir)
    timings["check+appendix"] = time.monotonic() - t0
    t1 = time.monotonic()
    with LoopbackParent(parent_zones(op, out / "case" / "parent")) as parent:
        results = verify_operation(op, dns_check=True, rdap_check=False, parent=parent.address,
                                   now=int(now.timestamp()), history=history, timeout=2.0)
        where = parent.address
    verified = _by_served_registry(op, results)
    timings["verify"] = time.monotonic() - t1
    t2 = time.monotonic()
    done = compact_closed(op.storage, now)
    timings["compact"] = time.monotonic() - t2
    t3 = time.monotonic()
    sealed = evidence.seal(op, now=now)
    checked_chain = evidence.verify(op)
    timings["seal+verify"] = time.monotonic() - t3
    declared = op.case.evidence if op.case is not None else ()
    outputs = tuple(Path(os.path.relpath(p, op.path.parent)).as_posix() + ("/" if p.is_dir() else "")
                    for p in declared if p not in sealed.absent)
    return CaseFigures(check, list(checked.errors), app, appendix_dir, verified, where,
                       sum(1 for c in done if not c.skipped), len(sealed.added), sealed.manifest,
                       sealed.open_days, checked_chain, timings, outputs)
