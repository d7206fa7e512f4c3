"""A taken-over zone held compactly, and authoritative lookup in it.

Each owner name maps to one ``bytes`` blob: its records back to back in wire
form without the owner (type, class, TTL, RDLENGTH, RDATA). That is about
200 bytes a name in CPython (key, blob, dict slot) against about 850 for
dnspython's node/rdataset/rdata objects, which is what lets a 3,000,000-name
zone like 3322.org fit in memory beside the server (bench/RESULTS.md).

Lookup follows RFC 1034 4.3.2 as NSD implements it: zone cuts give referrals
(NS in authority, glue in additional, AA clear), CNAMEs are followed inside
the zone however long the chain (until a loop), wildcards are synthesised at
the closest encloser (RFC 4592; a ``*`` that is an empty non-terminal gives
NODATA, s4.9), empty non-terminals give NODATA rather than NXDOMAIN, negative
answers carry the SOA with TTL min(SOA TTL, MINIMUM) (RFC 2308 s5).

DNAMEs (RFC 6672 s3.1) as NSD applies them: a name below a DNAME owner gets
the DNAME, a CNAME synthesised from it with the DNAME's TTL, then the answer
for the new name when it is in the zone; a new name over 255 octets is
YXDOMAIN (EDE 0 "DNAME expansion became too large", NSD's text). A DNAME
occludes the names below its owner, and is itself occluded below a zone cut;
the owner answers from its own records. A DNAME owned by a sunk name is never
shown, and a chain into a sunk name ends at the sinkhole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from takedown.dns import wire
from takedown.dns.wire import A, AAAA, ANY, CNAME, DNAME, DNSKEY, DS, MX, NOERROR, NS, NXDOMAIN, SOA, SRV, YXDOMAIN
from takedown.dns.zonefile import read_zone
from takedown.errors import ZoneError

_RRFIX = struct.Struct("!HHIH")
# Steps of a CNAME/DNAME chain: more RRsets than a 64 KB message holds (NSD
# stops only at loops and at its 10,240 RRsets a packet).
_MAX_CHAIN = 5000


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

    A Result that :meth:`takedown.dns.policy.Policy.decide` hands out may be
    shared by many queries (the compiled decision builds a zone's NXDOMAIN,
    NODATA and each referral once, and a CNAME chain's answer reuses their
    sections): readers must not change it.
    """

    rcode: int
    aa: bool
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    extra_authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)
    ede: int | tuple[int, bytes] | None = None  # RFC 8914 extended error (code or (code, text)), sent when the query has EDNS
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
        self.dnames: set[bytes] = set()  # owners of DNAME records
        self.has_dnames = False
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
            elif rtype == DNAME:
                z.dnames.add(owner)
                z.has_dnames = True
            if owner[:2] == b"\x01*":
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
        if any(e[:2] == b"\x01*" for e in ents):
            self.has_wildcards = True  # a wildcard that is an empty non-terminal

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
        final = self._answer(qn, qtype, res, targets)
        if res.aa and final is not None and qtype not in (NS, DS, DNSKEY, ANY) and not any_class:
            # NSD adds the zone's NS RRset, and its addresses, to positive answers.
            ns, found = self.apex_ns()
            res.extra_authority.append(ns)
            if not targets:
                targets = found  # the common case: nothing to merge (_addresses only reads it)
            else:
                targets = targets + [t for t in found if not any(t[0] == x[0] for x in targets)]
        if targets:
            self._addresses(res, targets)
        if any_class:
            res.aa = False
            res.authority = []
        return res

    def apex_ns(self) -> tuple[list, list]:
        """The apex NS RRset and its in-zone targets with their RRsets (see
        :meth:`_targets`), built at first use: after the policy has set
        :attr:`sunk`, which decides what a sunk target's addresses are."""
        if self._apex_ns is None:
            ns = self._rrsets(self.origin, self.nodes[self.origin])[NS]
            found: list = []
            self._targets(found, [r for _, r in ns], glue=True)
            self._apex_ns = (ns, found)
        return self._apex_ns

    def _answer(self, qn: bytes, qtype: int, res: Result, targets: list) -> int | None:
        """Fill ``res``; return the type answered positively at the end, else None.

        One step per name, as NSD's answer_lookup_zone: a CNAME or a DNAME
        moves on to its target in this zone. A chain ends only at data, a
        negative answer (with the SOA), a referral, a target outside the zone,
        a loop (an RRset the answer already holds, as NSD), or after
        ``_MAX_CHAIN`` steps, more than a 64 KB message can hold.
        """
        added: set = set()  # (owner, type) of CNAME/DNAME RRsets in the answer
        synthesised: set = set()  # (owner, target) of CNAMEs made from DNAMEs
        hops = 0
        while True:
            if hops and self.sunk is not None:
                sunk = self.sunk(qn)
                if sunk is not None:  # a CNAME/DNAME into a sunk name ends at the sinkhole
                    sub = sunk.answer_for(qn, qtype)
                    res.answer.extend(sub.answer)
                    res.authority = sub.authority
                    res.additional = sub.additional
                    return None
            cut = self.find_cut(qn)
            if cut is not None and not (cut == qn and qtype == DS) and self._dname_above(cut) is None:
                ref = self.referral(cut)
                if not hops:
                    res.aa = False
                res.authority, res.additional = ref.authority, ref.additional
                return None
            blob = self.nodes.get(qn)
            exact = blob is not None or qn in self.ents
            ce = qn
            if not exact:
                if not (self.has_dnames or self.has_wildcards):
                    res.rcode = NXDOMAIN
                    res.authority = [[(self.origin, self.soa_neg)]]
                    return None
                ce = parent(qn)
                while ce != self.origin and not self.exists(ce):
                    ce = parent(ce)
            if self.has_dnames:
                above = self._dname_above(ce)
                if above is not None:  # a DNAME occludes everything below its owner
                    ce, exact = above, False
            if exact:
                if blob is None:  # empty non-terminal
                    res.authority = [[(self.origin, self.soa_neg)]]
                    return None
            else:
                dname = self._dname_at(ce) if self.has_dnames else None
                if dname is not None:
                    # RFC 6672 s3.1: the DNAME, a CNAME synthesised from it
                    # (with the DNAME's TTL, as NSD), then the new name.
                    owner, rec = dname[0]
                    dest = wire.read_name(rec, 10)[0].lower()
                    if (ce, DNAME) in added:
                        if _below_or_at(dest, ce):  # it would grow forever: stop, as NSD
                            return None
                    else:
                        added.add((ce, DNAME))
                        res.answer.append(dname)
                    newname = qn[: len(qn) - len(ce)] + dest
                    if len(newname) > 255:
                        res.rcode = YXDOMAIN
                        res.ede = (0, b"DNAME expansion became too large")
                        return None
                    hops += 1
                    if (qn, newname) in synthesised or hops > _MAX_CHAIN:
                        return None
                    synthesised.add((qn, newname))
                    ttl = struct.unpack_from("!I", rec, 4)[0]
                    res.answer.append([(qn, _RRFIX.pack(CNAME, 1, ttl, len(newname)) + newname)])
                    if qtype == CNAME or not self.in_zone(newname):
                        return None
                    qn = newname
                    continue
                blob = self._wildcard_at(ce)
                if blob is None:
                    res.rcode = NXDOMAIN
                    res.authority = [[(self.origin, self.soa_neg)]]
                    return None
            sets = self._rrsets(qn, blob) if blob else {}
            if CNAME in sets and qtype != CNAME and qtype != ANY:
                if (qn, CNAME) in added:  # a loop: the answer holds this CNAME already
                    return None
                added.add((qn, CNAME))
                res.answer.append(sets[CNAME])
                hops += 1
                target = rdata_name(sets[CNAME][0][1])
                if target is None or hops > _MAX_CHAIN or not self.in_zone(target):
                    return None
                qn = target
                continue
            if qtype == ANY and sets:
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

    def _dname_at(self, owner: bytes) -> list | None:
        """The DNAME RRset at ``owner``, unless the name is sunk: a sunk name's
        original records are never shown, its DNAME included."""
        blob = self.nodes.get(owner)
        if blob is None or owner not in self.dnames:
            return None
        if self.sunk is not None and self.sunk(owner) is not None:
            return None
        return self._rrsets(owner, blob)[DNAME]

    def _dname_above(self, name: bytes) -> bytes | None:
        """The nearest owner of a DNAME strictly above ``name`` and below the
        apex, as NSD's find_dname_above (a DNAME at the apex occludes nothing
        this way: it is applied as the closest encloser's)."""
        if not self.has_dnames:
            return None
        origin = self.origin
        n = parent(name) if name != origin else origin
        while n != origin and len(n) > len(origin):
            if n in self.dnames and self._dname_at(n) is not None:
                return n
            n = parent(n)
        return None

    def _wildcard_at(self, ce: bytes) -> bytes | None:
        """The wildcard RRsets at ``*.ce``: its blob, b"" when ``*.ce`` is an
        empty non-terminal (RFC 4592 s4.9: NODATA for the names it covers),
        None when there is no wildcard."""
        if not self.has_wildcards:
            return None
        star = b"\x01*" + ce
        blob = self.nodes.get(star)
        if blob is None and star in self.ents:
            return b""
        return blob

    def _wildcard(self, qn: bytes) -> bytes | None:
        if not self.has_wildcards:
            return None
        ce = parent(qn)
        while ce != self.origin and not self.exists(ce):
            ce = parent(ce)
        return self.nodes.get(b"\x01*" + ce)


def _below_or_at(name: bytes, ancestor: bytes) -> bool:
    """Whether wire name ``name`` is ``ancestor`` or below it (label-aligned)."""
    while len(name) > len(ancestor):
        name = name[name[0] + 1 :]
    return name == ancestor


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
