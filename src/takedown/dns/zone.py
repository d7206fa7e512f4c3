"""A taken-over zone held compactly, and authoritative lookup in it.

Each owner name maps to one ``bytes`` blob: its records back to back in wire
form without the owner (type, class, TTL, RDLENGTH, RDATA). That is about
200 bytes a name in CPython (key, blob, dict slot) against about 850 for
dnspython's node/rdataset/rdata objects, which is what lets a 3,000,000-name
zone like 3322.org fit in memory beside the server (bench/RESULTS.md).

Lookup follows RFC 1034 4.3.2 as NSD implements it: zone cuts give referrals
(NS in authority, glue in additional, AA clear), CNAMEs are followed inside
the zone, wildcards are synthesised at the closest encloser (RFC 4592), empty
non-terminals give NODATA rather than NXDOMAIN, negative answers carry the SOA
with TTL min(SOA TTL, MINIMUM) (RFC 2308 s5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from takedown.dns import wire
from takedown.dns.wire import A, AAAA, ANY, CNAME, DS, MX, NS, NXDOMAIN, NOERROR, SOA, SRV
from takedown.dns.zonefile import read_zone
from takedown.errors import ZoneError

_RRFIX = struct.Struct("!HHIH")
_MAX_CNAME_CHAIN = 8


def parent(name: bytes) -> bytes:
    return name[name[0] + 1 :]


def split_records(blob: bytes) -> list[bytes]:
    out = []
    i, n = 0, len(blob)
    while i < n:
        rdlen = (blob[i + 8] << 8) | blob[i + 9]
        j = i + 10 + rdlen
        out.append(blob[i:j])
        i = j
    return out


def rdata_name(rec: bytes) -> bytes | None:
    """The name in the RDATA of NS, CNAME, MX and SRV records (uncompressed)."""
    t = wire.rec_type(rec)
    if t in (NS, CNAME):
        start = 10
    elif t == MX:
        start = 12
    elif t == SRV:
        start = 16
    else:
        return None
    name, _ = wire.read_name(rec, start)
    return name.lower()


@dataclass(slots=True)
class Result:
    """What an authoritative lookup produced; sections hold (owner, rec) pairs."""

    rcode: int
    aa: bool
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)


class Zone:
    """One zone's data: owners, empty non-terminals, cuts and wildcards."""

    def __init__(self, origin: str):
        self.origin_text = origin
        self.origin = wire.text_to_wire(origin)
        self.nodes: dict[bytes, bytes] = {}
        self.ents: set[bytes] = set()
        self.cuts: set[bytes] = set()
        self.has_wildcards = False
        self.soa_neg: bytes = b""

    @classmethod
    def load(cls, path: str | Path, origin: str) -> Zone:
        z = cls(origin)
        nodes = z.nodes
        pack = _RRFIX.pack
        multi: set[bytes] = set()
        for _line, owner, rtype, ttl, rdata in read_zone(path, origin):
            rec = pack(rtype, 1, ttl, len(rdata)) + rdata
            prev = nodes.get(owner)
            if prev is None:
                nodes[owner] = rec
            else:
                nodes[owner] = prev + rec
                multi.add(owner)
            if rtype == NS and owner != z.origin:
                z.cuts.add(owner)
            elif owner[:2] == b"\x01*":
                z.has_wildcards = True
        for owner in multi:
            nodes[owner] = _normalise(nodes[owner])
        z._finish(path)
        return z

    def _finish(self, path) -> None:
        apex = self.nodes.get(self.origin)
        recs = split_records(apex) if apex else []
        soa = [r for r in recs if wire.rec_type(r) == SOA]
        if len(soa) != 1:
            raise ZoneError(f"{path}: zone {self.origin_text} must have exactly one SOA record at its apex")
        if not any(wire.rec_type(r) == NS for r in recs):
            raise ZoneError(f"{path}: zone {self.origin_text} has no NS records at its apex")
        rec = soa[0]
        ttl = struct.unpack_from("!I", rec, 4)[0]
        minimum = struct.unpack_from("!I", rec, len(rec) - 4)[0]
        self.soa_neg = rec[:4] + struct.pack("!I", min(ttl, minimum)) + rec[8:]
        origin, nodes, ents = self.origin, self.nodes, self.ents
        for owner in nodes:
            p = parent(owner)
            while p != origin and p not in nodes and p not in ents and len(p) > len(origin):
                ents.add(p)
                p = parent(p)

    # -- lookup ---------------------------------------------------------------

    def contains(self, name: bytes) -> bool:
        return name.endswith(self.origin)

    def exists(self, name: bytes) -> bool:
        return name in self.nodes or name in self.ents

    def find_cut(self, qn: bytes) -> bytes | None:
        """The highest delegation point at or above ``qn``, if any."""
        if not self.cuts:
            return None
        found = None
        n = qn
        origin = self.origin
        while n != origin and len(n) > len(origin):
            if n in self.cuts:
                found = n
            n = parent(n)
        return found

    def negative(self, rcode: int) -> Result:
        return Result(rcode, True, [], [(self.origin, self.soa_neg)], [])

    def referral(self, cut: bytes) -> Result:
        ns = [r for r in split_records(self.nodes[cut]) if wire.rec_type(r) == NS]
        res = Result(NOERROR, False, [], [(cut, r) for r in ns], [])
        self._glue(res, ns, below=cut)
        return res

    def _glue(self, res: Result, recs: list[bytes], below: bytes | None = None) -> None:
        """Addresses of in-zone targets (NS, MX, SRV) into additional."""
        seen = set()
        for r in recs:
            target = rdata_name(r)
            if target is None or target in seen or not target.endswith(self.origin):
                continue
            seen.add(target)
            blob = self.nodes.get(target)
            if blob is None:
                continue
            if below is None and self.find_cut(target) is not None:
                continue
            for a in split_records(blob):
                if wire.rec_type(a) in (A, AAAA):
                    res.additional.append((target, a))

    def lookup(self, qn: bytes, qtype: int) -> Result:
        """Authoritative answer for ``qn`` (lowercased wire, inside this zone)."""
        res = Result(NOERROR, True)
        self._answer(qn, qtype, res, 0)
        return res

    def _answer(self, qn: bytes, qtype: int, res: Result, depth: int) -> None:
        cut = self.find_cut(qn)
        if cut is not None and not (cut == qn and qtype == DS):
            if depth == 0:
                ref = self.referral(cut)
                res.rcode, res.aa, res.authority, res.additional = ref.rcode, ref.aa, ref.authority, ref.additional
            return
        blob = self.nodes.get(qn)
        if blob is None:
            if qn in self.ents:
                res.authority = [(self.origin, self.soa_neg)]
                return
            blob = self._wildcard(qn)
            if blob is None:
                res.rcode = NXDOMAIN
                res.authority = [(self.origin, self.soa_neg)]
                return
        recs = split_records(blob)
        cname = [r for r in recs if wire.rec_type(r) == CNAME]
        if cname and qtype != CNAME and qtype != ANY:
            res.answer.append((qn, cname[0]))
            target = rdata_name(cname[0])
            if target is not None and target.endswith(self.origin) and depth < _MAX_CNAME_CHAIN:
                self._answer(target, qtype, res, depth + 1)
            return
        if qtype == ANY:
            # Minimal ANY (RFC 8482): one RRset of the name, not all of them.
            first = wire.rec_type(recs[0])
            match = [r for r in recs if wire.rec_type(r) == first]
        else:
            match = [r for r in recs if wire.rec_type(r) == qtype]
        if not match:
            res.authority = [(self.origin, self.soa_neg)]
            return
        res.answer.extend((qn, r) for r in match)
        if qtype in (NS, MX, SRV):
            self._glue(res, match)

    def _wildcard(self, qn: bytes) -> bytes | None:
        if not self.has_wildcards:
            return None
        ce = parent(qn)
        while ce != self.origin and not self.exists(ce):
            ce = parent(ce)
        return self.nodes.get(b"\x01*" + ce)


def _normalise(blob: bytes) -> bytes:
    """Drop duplicate records and give each RRset one TTL, the lowest (RFC 2181 5.2)."""
    recs = split_records(blob)
    ttl: dict[int, int] = {}
    for r in recs:
        t = wire.rec_type(r)
        v = struct.unpack_from("!I", r, 4)[0]
        ttl[t] = min(v, ttl.get(t, v))
    out: list[bytes] = []
    seen: set[tuple[int, bytes]] = set()
    for r in recs:
        t = wire.rec_type(r)
        k = (t, r[10:])
        if k in seen:
            continue
        seen.add(k)
        out.append(r[:4] + struct.pack("!I", ttl[t]) + r[8:])
    # keep RRsets contiguous, in order of first appearance
    order: dict[int, int] = {}
    for r in out:
        order.setdefault(wire.rec_type(r), len(order))
    out.sort(key=lambda r: order[wire.rec_type(r)])
    return b"".join(out)
