"""The DNS policy of an operation, compiled once so that a query is a lookup.

One dictionary maps every seized domain and every taken-over zone origin (as
lowercased wire names) to its rule; a query walks its own suffixes, longest
first, so the most specific rule wins. Seized domains answer with the sinkhole
for the name and everything below it (as for Waledac's 273 domains); a zone
answers blocklisted names with the sinkhole and everything else from its
original records, as Microsoft did for 3322.org (Nitol, 2012). Names under no
rule are REFUSED: the sinkhole is never an open resolver.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone

from takedown import lists
from takedown.accel import compiled
from takedown.dga.sinking import held_on
from takedown.dns import wire
from takedown.dns.wire import A, AAAA, ANY, NS, REFUSED, SOA
from takedown.dns.zone import Result, Zone
from takedown.operation import Operation


@dataclass(frozen=True, slots=True)
class Decision:
    result: Result
    rule: str
    family: str | None


class Sinkhole:
    """Pre-encoded sinkhole records: A/AAAA, our NS set with glue, an SOA per apex."""

    def __init__(self, op: Operation, serial: int):
        s = op.sinkhole
        ttl = s.ttl
        self.a = [wire.rr(A, ttl, ipaddress.IPv4Address(ip).packed) for ip in s.ipv4]
        self.aaaa = [wire.rr(AAAA, ttl, ipaddress.IPv6Address(ip).packed) for ip in s.ipv6]
        self.ns = []
        self.glue = []
        for name, addrs in s.nameservers:
            nw = wire.text_to_wire(name)
            self.ns.append(wire.rr(NS, ttl, nw))
            for addr in addrs:
                ip = ipaddress.ip_address(addr)
                self.glue.append((nw, wire.rr(A if ip.version == 4 else AAAA, ttl, ip.packed)))
        by_owner_type: dict[tuple[bytes, int], list] = {}
        for owner, rec in self.glue:
            by_owner_type.setdefault((owner, wire.rec_type(rec)), []).append((owner, rec))
        # A RRsets first, then AAAA, as NSD orders additional data
        self.glue_rrsets = [v for k, v in sorted(by_owner_type.items(), key=lambda kv: kv[0][1])]
        mname = wire.text_to_wire(s.nameservers[0][0])
        rname = wire.text_to_wire(s.soa_email)
        # refresh, retry, expire as RIPE-203 recommends; minimum = negative TTL
        self.soa_rdata = mname + rname + struct.pack("!IIIII", serial, 3600, 600, 1209600, ttl)
        self.soa = wire.rr(SOA, ttl, self.soa_rdata)

    def addresses(self, owner: bytes) -> dict[int, list]:
        """The sinkhole's A and AAAA RRsets for ``owner`` (additional data of sunk targets)."""
        out = {}
        if self.a:
            out[A] = [(owner, r) for r in self.a]
        if self.aaaa:
            out[AAAA] = [(owner, r) for r in self.aaaa]
        return out

    def answer(self, qn: bytes, apex: bytes, qtype: int) -> Result:
        """The sinkhole's answer for ``qn``, sunk under ``apex`` (its SOA owner)."""
        res = Result(wire.NOERROR, True)
        if qtype == A or qtype == ANY:
            recs = self.a if (self.a or qtype == A) else self.aaaa
        elif qtype == AAAA:
            recs = self.aaaa
        elif qtype == NS:
            recs = self.ns
            res.additional = self.glue_rrsets
        elif qtype == SOA and qn == apex:
            recs = [self.soa]
        else:
            recs = []
        if recs:
            res.answer = [[(qn, r) for r in recs]]
        else:
            res.authority = [[(apex, self.soa)]]
        return res


class _Sunk:
    """A sunk name as seen from inside a zone: its sinkhole answers and addresses."""

    __slots__ = ("sinkhole", "apex")

    def __init__(self, sinkhole: Sinkhole, apex: bytes):
        self.sinkhole = sinkhole
        self.apex = apex

    def answer_for(self, qn: bytes, qtype: int) -> Result:
        return self.sinkhole.answer(qn, self.apex, qtype)

    def addresses(self, owner: bytes) -> dict[int, list]:
        return self.sinkhole.addresses(owner)


class _Seized:
    __slots__ = ("apex", "family", "rule")

    def __init__(self, apex: bytes, family: str, rule: str | None = None):
        self.apex = apex
        self.family = family
        self.rule = rule or f"domain:{family}"


class _TakenZone:
    __slots__ = ("zone", "family", "exact", "wild", "rule_block", "rule_pass")

    def __init__(self, zone: Zone, family: str, exact: set[bytes], wild: set[bytes]):
        self.zone = zone
        self.family = family
        self.exact = exact
        self.wild = wild
        self.rule_block = f"zone:{zone.origin_text}:block"
        self.rule_pass = f"zone:{zone.origin_text}:pass"

    def blocked(self, qn: bytes) -> bytes | None:
        """The blocklist entry that sinks ``qn``, if any."""
        if qn in self.exact:
            return qn
        if self.wild:
            origin = self.zone.origin
            n = qn
            while len(n) >= len(origin):
                if n in self.wild:
                    return n
                if n == origin:
                    break
                n = n[n[0] + 1 :]
        return None


_REFUSED = Decision(Result(REFUSED, False, ede=wire.EDE_NOT_AUTHORITATIVE), "none", None)


class Policy:
    """Compiled answers of one operation. Immutable once built; reload builds a new one."""

    def __init__(self, op: Operation, *, serial: int | None = None, day: date | None = None):
        self.operation = op
        self.serial = serial if serial is not None else int(time.time())
        #: The UTC day the DGA names were chosen for (the server rebuilds the
        #: policy when the day changes).
        self.day = day or datetime.now(timezone.utc).date()
        self.sinkhole = Sinkhole(op, self.serial)
        self.rules: dict[bytes, object] = {}
        self.seized_count = 0
        for ds in op.domains:
            for name in lists.read_domain_list(ds.file):
                w = wire.text_to_wire(name)
                if w not in self.rules:
                    self.seized_count += 1
                self.rules[w] = _Seized(w, ds.family)
        self.dga_count = 0
        if op.dga:

            # a DGA name is sunk like a seized domain (the name and below),
            # with its family and DGA date in the rule; seized lists win
            for name, h in held_on(op.dga, self.day).items():
                w = wire.text_to_wire(name)
                if w not in self.rules:
                    self.rules[w] = _Seized(w, h.family, f"dga:{h.family}:{h.period_start.isoformat()}")
                    self.dga_count += 1
        self.zones: list[_TakenZone] = []
        for zs in op.zones:
            zone = Zone.load(zs.file, zs.origin)
            exact: set[bytes] = set()
            wild: set[bytes] = set()
            if zs.blocklist is not None:
                ex, wi = lists.read_blocklist(zs.blocklist, zs.origin)
                exact = {wire.text_to_wire(n) for n in ex}
                wild = {wire.text_to_wire(n) for n in wi}
            tz = _TakenZone(zone, zs.family, exact, wild)
            self.zones.append(tz)
            # a seized domain below a zone origin keeps its own, more specific rule
            self.rules.setdefault(zone.origin, tz)
        for tz in self.zones:
            tz.zone.sunk = self._sunk_in(tz)
        twin = compiled("takedown.dns._policy_c")
        if twin is not None:
            # The compiled decision (docs/performance.md, "The decision and the
            # zone lookup"); the methods below stay the reference, and decide
            # answers the shapes the twin hands back to it.
            decider = twin.Decider(self)
            self.decide = decider.decide
            self.limit_name = decider.limit_name

    def _sunk_in(self, tz: _TakenZone):
        """The zone's view of sunk names: its blocklist and seized domains below its origin."""
        sinkhole = self.sinkhole
        rules = self.rules
        origin = tz.zone.origin

        def sunk(qn: bytes) -> _Sunk | None:
            apex = tz.blocked(qn)
            if apex is not None:
                return _Sunk(sinkhole, apex)
            n = qn
            while len(n) > len(origin):
                rule = rules.get(n)
                if type(rule) is _Seized:
                    return _Sunk(sinkhole, rule.apex)
                n = n[n[0] + 1 :]
            return None

        return sunk

    def _rule(self, qn: bytes):
        """The rule of the most specific name of ``qn`` (its own, then each
        suffix) that has one, or None: not ours to answer."""
        rules = self.rules
        i = 0
        while True:
            rule = rules.get(qn[i:] if i else qn)
            if rule is not None:
                return rule
            ln = qn[i]
            if ln == 0:
                return None
            i += ln + 1

    def decide(self, qn: bytes, qtype: int, any_class: bool = False) -> Decision:
        """The answer for lowercased wire name ``qn`` and ``qtype`` (class IN, or ANY)."""
        rule = self._rule(qn)
        if rule is None:
            return _REFUSED
        if type(rule) is _Seized:
            return Decision(self.sinkhole.answer(qn, rule.apex, qtype), rule.rule, rule.family)
        apex = rule.blocked(qn)
        if apex is not None:
            return Decision(self.sinkhole.answer(qn, apex, qtype), rule.rule_block, rule.family)
        return Decision(rule.zone.lookup(qn, qtype, any_class), rule.rule_pass, None)

    def limit_name(self, qn: bytes) -> bytes:
        """The name a positive or NODATA answer for ``qn`` is rate limited
        under (takedown.dns.rrl): ``qn`` itself, except for answers made
        for a whole subtree, which share one account as BIND's wildcard
        answers do (lib/dns/rrl.c ignores a wildcard's first label): the
        seized or blocklisted name that sinks ``qn``, or the closest
        encloser of the zone wildcard that answers it."""
        rule = self._rule(qn)
        if rule is None:
            return qn
        if type(rule) is _Seized:
            return rule.apex
        apex = rule.blocked(qn)
        if apex is not None:
            return apex
        zone = rule.zone
        if zone.has_wildcards and not zone.exists(qn):
            ce = qn[qn[0] + 1 :]
            while ce != zone.origin and not zone.exists(ce):
                ce = ce[ce[0] + 1 :]
            if b"\x01*" + ce in zone.nodes:
                return ce
        return qn
