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
from takedown.dns.wire import A, AAAA, ANY, CNAME, DNSKEY, DS, MX, NOERROR, NS, NXDOMAIN, SOA, SRV
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
    """What a lookup produced. Sections hold RRsets, each a list of (owner, rec).

    ``answer`` and ``authority`` are required: if one of their RRsets does not
    fit, the response is truncated (TC). ``extra_authority`` (the zone's NS
    on positive answers) and ``additional`` are optional and simply left out
    when they do not fit, as NSD does.
    """

    rcode: int
    aa: bool
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    extra_authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)
    ede: int | None = None  # RFC 8914 extended error, sent when the query has EDNS
    bare: bool = False  # header only: no question, no records (NSD's NOTIMP/FORMERR)


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
        # Set by the policy: (name) -> Result factory when the name is sunk
        # (blocklisted, or seized), so that neither a CNAME chain nor
        # additional data ever reveals a sunk name's original records.
        self.sunk = None
        self._apex_ns = None  # (NS RRset, its address targets), built at first use

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

    def in_zone(self, name: bytes) -> bool:
        origin = self.origin
        while len(name) > len(origin):
            name = name[name[0] + 1 :]
        return name == origin

    def _rrsets(self, owner: bytes, blob: bytes) -> dict[int, list]:
        out: dict[int, list] = {}
        for r in split_records(blob):
            out.setdefault(wire.rec_type(r), []).append((owner, r))
        return out

    def referral(self, cut: bytes) -> Result:
        ns = self._rrsets(cut, self.nodes[cut])[NS]
        res = Result(NOERROR, False, [], [ns])
        targets: list = []
        self._targets(targets, [r for _, r in ns], glue=True)
        self._addresses(res, targets)
        return res

    def _targets(self, found: list, recs: list[bytes], glue: bool) -> None:
        """Collect the in-zone targets of NS, MX and SRV records with their RRsets.

        ``glue`` allows targets at or below a zone cut (referrals and NS
        answers); MX and SRV targets there get no addresses. A target covered
        by a wildcard gets synthesised addresses; one that is a CNAME, none.
        """
        for r in recs:
            target = rdata_name(r)
            if target is None or not self.in_zone(target) or any(t == target for t, _ in found):
                continue
            if not glue and self.find_cut(target) is not None:
                continue
            sunk = self.sunk(target) if self.sunk is not None else None
            if sunk is not None:
                found.append((target, sunk.addresses(target)))
                continue
            blob = self.nodes.get(target)
            if blob is None:
                if target in self.ents:
                    continue
                blob = self._wildcard(target)
                if blob is None:
                    continue
            sets = self._rrsets(target, blob)
            if CNAME not in sets:
                found.append((target, sets))

    @staticmethod
    def _addresses(res: Result, found: list) -> None:
        """Additional data as NSD orders it: every A RRset, then every AAAA one,
        leaving out RRsets already in the answer."""
        present = {(s[0][0], wire.rec_type(s[0][1])) for s in res.answer}
        for rtype in (A, AAAA):
            for target, sets in found:
                if rtype in sets and (target, rtype) not in present:
                    present.add((target, rtype))
                    res.additional.append(sets[rtype])

    def lookup(self, qn: bytes, qtype: int, any_class: bool = False) -> Result:
        """Authoritative answer for ``qn`` (lowercased wire, inside this zone).

        ``any_class``: QCLASS ANY is answered from the IN data without AA and
        without authority records, as NSD does.
        """
        res = Result(NOERROR, True)
        targets: list = []
        final = self._answer(qn, qtype, res, set(), targets)
        if res.aa and final is not None and qtype not in (NS, DS, DNSKEY, ANY) and not any_class:
            # NSD adds the zone's NS RRset, and its addresses, to positive answers.
            if self._apex_ns is None:
                ns = self._rrsets(self.origin, self.nodes[self.origin])[NS]
                found: list = []
                self._targets(found, [r for _, r in ns], glue=True)
                self._apex_ns = (ns, found)
            ns, found = self._apex_ns
            res.extra_authority.append(ns)
            for t in found:
                if not any(t[0] == x[0] for x in targets):
                    targets.append(t)
        if targets:
            self._addresses(res, targets)
        if any_class:
            res.aa = False
            res.authority = []
        return res

    def _answer(self, qn: bytes, qtype: int, res: Result, chain: set, targets: list) -> int | None:
        """Fill ``res``; return the type answered positively at the end, else None."""
        if chain and self.sunk is not None:
            sunk = self.sunk(qn)
            if sunk is not None:  # a CNAME into a sunk name ends at the sinkhole
                sub = sunk.answer_for(qn, qtype)
                res.answer.extend(sub.answer)
                res.authority = sub.authority
                res.additional = sub.additional
                return None
        cut = self.find_cut(qn)
        if cut is not None and not (cut == qn and qtype == DS):
            ref = self.referral(cut)
            if not chain:
                res.aa = False
            res.authority, res.additional = ref.authority, ref.additional
            return None
        blob = self.nodes.get(qn)
        if blob is None:
            if qn in self.ents:
                res.authority = [[(self.origin, self.soa_neg)]]
                return None
            blob = self._wildcard(qn)
            if blob is None:
                res.rcode = NXDOMAIN
                res.authority = [[(self.origin, self.soa_neg)]]
                return None
        sets = self._rrsets(qn, blob)
        if CNAME in sets and qtype != CNAME and qtype != ANY:
            res.answer.append(sets[CNAME])
            chain.add(qn)
            target = rdata_name(sets[CNAME][0][1])
            if target is None or target in chain or len(chain) > _MAX_CNAME_CHAIN or not self.in_zone(target):
                return None
            return self._answer(target, qtype, res, chain, targets)
        if qtype == ANY:
            # Minimal ANY (RFC 8482): one RRset of the name, not all of them.
            rtype = next(iter(sets))
        else:
            rtype = qtype
        match = sets.get(rtype)
        if not match:
            res.authority = [[(self.origin, self.soa_neg)]]
            return None
        res.answer.append(match)
        if rtype in (NS, MX, SRV):
            self._targets(targets, [r for _, r in match], glue=rtype == NS)
        return rtype

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
