"""``takedown range``: drive an emulated population against a running sinkhole.

:func:`run_range` reads the operation (where the sinkhole listens, which
names are seized, which zone is taken over, which DGA families are sunk),
builds the population, then for each emulated day plans it
(:mod:`takedown.range.schedule`), sends it (:mod:`takedown.range.sender`)
and adds it to the truth (:mod:`takedown.range.truth`), with the commands its
sessions received: a bot told to stop is left out of every later day's plan
(the run keeps the stopped bots; a run's stops depend only on the sinkhole's
answers). The sinkhole must be
in range mode, or the events would carry the wall clock and the bots'
addresses would be refused: that is checked before anything is sent.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import uvloop

from takedown.dga import registry
from takedown.dns.wire import name_to_text
from takedown.dns.zonefile import read_zone
from takedown.errors import RangeError
from takedown.hostport import join, split_listen
from takedown.lists import read_blocklist, read_domain_list
from takedown.operation import Operation
from takedown.range import families, population, schedule
from takedown.range.sender import Endpoints, Sender, Stats
from takedown.range.truth import Truth

#: The demo's family mix (population shares).
FAMILY_MIX = {"zeus": 0.4, "conficker": 0.2, "locky": 0.1, "mirai": 0.2, "gafgyt": 0.1}
#: Population cap: distinct addresses drawn at once, and a day's plan in memory
#: (a session costs ~250 us of CPU, range and sinkhole together, bench:range:
#: 5 million bots are already hours per emulated week on 2 CPUs).
MAX_BOTS = 5_000_000
#: Emulated days at the most (two years: the truth keeps every session in memory).
MAX_DAYS = 731
#: Legitimate names of a taken-over zone the range's ordinary users ask for (at most).
PASSTHROUGH_NAMES = 5000
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class RangeResult:
    truth: Truth
    counts: dict
    stats: Stats
    start: date
    days: int


def bound(op: Operation, ready: dict) -> Operation:
    """``op`` with the listen addresses a running ``takedown serve`` reports
    having bound (its ``--ready-file``, parsed): needed when the operation asks
    for port 0."""
    try:
        op = replace(op, dns=replace(op.dns, listen=tuple(ready["dns"])))
        for kind in ("http", "tls", "tcp"):
            lst = getattr(op, kind)
            if lst is not None:
                op = replace(op, **{kind: replace(lst, listen=tuple(ready[kind]))})
    except (KeyError, TypeError):
        raise RangeError("the ready file does not list the operation's listeners (is it takedown serve's?)") from None
    return op


def read_ready(path: Path) -> dict:
    """A ``takedown serve --ready-file`` file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise RangeError(f"{path}: cannot read the ready file: {e.strerror}") from None
    except ValueError:
        raise RangeError(f"{path}: not a ready file written by takedown serve (not JSON)") from None
    if not isinstance(data, dict):
        raise RangeError(f"{path}: not a ready file written by takedown serve")
    return data


def _loopback_endpoint(lst, what: str) -> tuple[str, int]:
    host, port = split_listen(lst[0])
    try:
        ok = ipaddress.ip_address(host) in _LOOPBACK
    except ValueError:
        ok = False
    if not ok:
        raise RangeError(f"{what} listens on {join(host, port)}: the range only sends to 127.0.0.0/8")
    return host, port


def _trusts(nets, addr: str) -> bool:
    a = ipaddress.ip_address(addr)
    return any(a in ipaddress.ip_network(n, strict=False) for n in nets)


def endpoints(op: Operation) -> Endpoints:
    """Where to send, after checking that the sinkhole will believe the range."""
    if op.http is None:
        raise RangeError(f"{op.path}: the range needs an [http] sinkhole")
    out = {}
    for kind in ("http", "tls", "tcp"):
        lst = getattr(op, kind)
        if lst is None:
            out[kind] = None
            continue
        out[kind] = _loopback_endpoint(lst.listen, f"[{kind}]")
        if not _trusts(lst.trusted_proxies, "127.0.0.1"):
            raise RangeError(f"{op.path}: [{kind}] trusted_proxies must include 127.0.0.1 "
                             "(the range's PROXY headers carry the bots' addresses)")
        if not lst.emulated_clock:
            raise RangeError(f"{op.path}: [{kind}] needs emulated_clock = true (range mode)")
    dns = _loopback_endpoint(op.dns.listen, "[dns]")
    clock_nets = getattr(op.dns, "emulated_clock", ())
    if not _trusts(clock_nets, schedule.resolver_address(0)):
        raise RangeError(f"{op.path}: [dns] emulated_clock must include 127.1.0.0/16 "
                         "(the range's resolvers carry the emulated clock)")
    ip = op.sinkhole.ipv4[0] if op.sinkhole.ipv4 else "192.0.2.53"
    return Endpoints(dns=dns, http=out["http"], tls=out["tls"], tcp=out["tcp"], sinkhole_ip=ip)


def targets(op: Operation) -> schedule.Targets:
    """The names bots look up: seized lists, zone blocklists, the zones' other names, DGA days."""

    seized = [n for d in op.domains for n in read_domain_list(d.file)]
    blocked: list[str] = []
    passthrough: list[str] = []
    for z in op.zones:
        exact, wild = (read_blocklist(z.blocklist, z.origin) if z.blocklist else (frozenset(), frozenset()))
        blocked += sorted(exact)
        seen: dict[str, None] = {}
        for rec in itertools.islice(read_zone(z.file, z.origin), PASSTHROUGH_NAMES * 4):
            name = name_to_text(rec[1]).lower()
            if name in exact or any(name == w or name.endswith("." + w) for w in wild):
                continue
            if name != z.origin:
                seen[name] = None
            if len(seen) >= PASSTHROUGH_NAMES:
                break
        passthrough += list(seen)
    dga = {}
    for g in op.dga:
        fam = registry.get(g.family)
        params = dict(g.params)
        dga[g.family] = (lambda day, fam=fam, params=params: fam.generate(day, **params))
    return schedule.Targets(seized=seized, zone=blocked, passthrough=passthrough, dga=dga, ttl=op.sinkhole.ttl)


def check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:
        raise RangeError(f"--seed must be between 0 and 2**32-1, got {seed}")


def check_args(bots: int, days: int, seed: int) -> None:
    """The range's numbers, checked before anything starts (a one-line error each)."""
    if not 1 <= bots <= MAX_BOTS:
        raise RangeError(f"--bots must be between 1 and {MAX_BOTS:,}, got {bots}")
    if not 1 <= days <= MAX_DAYS:
        raise RangeError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    check_seed(seed)


def run_range(op: Operation, *, bots: int, start: date, days: int, seed: int = 1,
              mix: dict[str, float] | None = None, truth_dir: Path | None = None,
              concurrency: int = 96, on_day: Callable[[int, Stats], None] | None = None,
              enricher=None) -> RangeResult:
    """Run ``days`` emulated days from ``start`` against the operation's sinkhole.

    ``on_day(day, stats)`` is called after each day is sent (progress bars)."""
    check_args(bots, days, seed)
    mix = mix or FAMILY_MIX
    for f in mix:
        families.get(f)
    ends = endpoints(op)
    if truth_dir is not None:
        try:  # before anything is sent: a run whose truth cannot be kept is worth nothing
            truth_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RangeError(f"{truth_dir}: cannot write the truth there: {e.strerror}") from None
    # every session comes from 127.0.0.1: past a listener's per-source cap the sinkhole resets them
    cap = min(lst.max_connections_per_source for lst in (op.http, op.tls, op.tcp) if lst is not None)
    if not 1 <= concurrency <= cap:
        raise RangeError(f"--concurrency must be between 1 and {cap} (the sinkhole's max_connections_per_source, "
                         f"and all the range's connections come from 127.0.0.1), got {concurrency}")
    tg = targets(op)
    pop = population.build(bots, seed, families=mix, days=days, enricher=enricher)
    for f in set(mix):
        b = families.get(f)
        if b.transport == "tcp" and ends.tcp is None:
            raise RangeError(f"{op.path}: family {f} checks in over raw TCP: the operation needs a [tcp] sinkhole")
        if b.tls_share and ends.tls is None:
            raise RangeError(f"{op.path}: family {f} checks in over HTTPS: the operation needs a [tls] sinkhole")
        if b.lookup == "seized" and not tg.seized:
            raise RangeError(f"{op.path}: family {f} looks up seized names: the operation has no [[domains]]")
        if b.lookup == "dga" and f not in tg.dga:
            raise RangeError(f"{op.path}: family {f} looks up DGA names: the operation needs a [[dga]] entry for {f}")
        if b.lookup == "zone" and not tg.zone:
            raise RangeError(f"{op.path}: family {f} looks up names of a taken-over zone: no [[zones]] blocklist names")
    for kind in ("dns", "http", "tls", "tcp"):
        ep = getattr(ends, kind)
        if ep is not None and ep[1] == 0:
            raise RangeError(f"{op.path}: [{kind}] listens on port 0: give the range the address the server "
                             "bound (its ready line, or its --ready-file)")
    resolver = schedule.resolvers_of(pop)
    truth = Truth(pop, start, days)
    stats = Stats()

    stopped = np.zeros(len(pop), bool)

    async def main():
        sender = Sender(pop, ends, concurrency=concurrency)
        try:
            for d in range(days):
                day = schedule.plan_day(pop, tg, start, d, seed, resolver, stopped)
                got = await sender.send_day(day, stats)
                truth.add(day, got)
                told = np.asarray([i for i, c in zip(got.session, got.command) if c == "stop"], np.int64)
                stopped[day.bot[told]] = True
                if on_day is not None:
                    on_day(d, stats)
        finally:
            sender.close()

    uvloop.run(main())
    counts = truth.write(truth_dir) if truth_dir is not None else truth.counts()
    return RangeResult(truth, counts, stats, start, days)
