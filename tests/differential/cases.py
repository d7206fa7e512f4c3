"""The differential test's cases: which queries are sent, and what is expected.

Every case is one query, sent byte for byte identical to NSD (the reference)
and to takedown's sinkhole. What is compared depends on ``expect``:

``same``
    The two responses must agree section by section (compare.py: header and
    flags, section counts, question bytes, answer/authority/additional as sets
    of RRsets with TTLs, EDNS, CNAME chain order). This is every name the
    blocklist does not cover: a taken-over zone answers exactly as the
    original zone would.
``sink``
    The name is blocklisted: our answer differs from NSD's by design, and is
    checked against the sinkhole's own answer instead (``check_sink`` in
    test_differential.py; NSD is not consulted).
``any``
    QTYPE=ANY (RFC 8482). takedown returns one RRset of the node (or a
    synthesised HINFO "RFC8482"); NSD 4.6 also returns one RRset, chosen its
    own way. See ``ANY_RULE``.
``dropped``
    Neither server may answer (e.g. a packet with QR=1).

A case may list ``exceptions``: parts of the comparison that are NOT made for
it, each a key of ``EXCEPTIONS`` (where the reason is given). Nothing is
skipped silently: docs/testing.md lists the same rules.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

HERE = Path(__file__).resolve().parent
ZONE_FILE = HERE / "3322.org.zone"
BLOCKLIST_FILE = HERE / "3322-blocklist.txt"
# The second zone, served whole (no blocklist) beside 3322.org: DNAMEs, long
# CNAME chains, an empty-non-terminal wildcard (issue 13.7).
SHAPES_FILE = HERE / "shapes.example.zone"
# The third zone, served whole too: a harder set of the same shapes (DNAMEs
# to every kind of target, CNAME chains of 8-20 hops ending five ways, loops
# through CNAMEs and DNAMEs, the "*" ENT reached through DNAMEs and CNAMEs).
CHAINS_FILE = HERE / "chains.example.zone"
ORIGIN = dns.name.from_text("3322.org.")
CHAINS_ORIGIN = dns.name.from_text("chains.example.")
# Every zone both servers serve (origin -> file), for NSD, BIND and takedown.
ZONES = {"3322.org": ZONE_FILE, "shapes.example": SHAPES_FILE, "chains.example": CHAINS_FILE}

# The sinkhole of the operation file written by conftest.py.
SINK_IPV4 = "192.0.2.53"
SINK_IPV6 = "2001:db8::53"
SINK_TTL = 300
SINK_SOA_MNAME = "ns1.sinkhole.example."
SINK_SOA_RNAME = "hostmaster.sinkhole.example."
SINK_NS = {"ns1.sinkhole.example.": "192.0.2.1", "ns2.sinkhole.example.": "192.0.2.2"}

QTYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "PTR", "DS", "CAA")
NO_EDNS_QTYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME")

ANY_RULE = (
    "RFC 8482: takedown answers QTYPE=ANY with one RRset of the node (or a "
    'synthesised HINFO "RFC8482"). NSD 4.6 also answers with one RRset (the '
    "first A/AAAA/SOA/MX/PTR RRset of the node, else the last other one), "
    "BIND with all of them. Asserted: the header (TC excepted), question, "
    "authority and EDNS are exactly NSD's; the answer is NSD's answer (then "
    "the additional section must be NSD's too), or a non-empty set of RRsets "
    "of the node as loaded from the zone file (wildcard-expanded to the "
    'question name), or exactly one HINFO RRset at the question name with CPU "RFC8482"; '
    "in these two cases the additional section is not compared. When NSD's "
    "answer section is empty (NXDOMAIN, referral, empty non-terminal, REFUSED) "
    "the two must agree exactly."
)

EXCEPTIONS: dict[str, str] = {
    # name -> why a case may skip part of the comparison. Keep in step with
    # docs/testing.md ("Documented exceptions"). None are needed today.
}


@dataclass(frozen=True)
class Case:
    id: str
    qname: str = "3322.org."
    qtype: str = "A"
    qclass: str = "IN"
    transport: str = "udp"  # "udp" | "tcp"
    edns: int | None = 0  # EDNS version; None: no OPT record
    payload: int = 1232
    do: bool = False
    rd: bool = False
    cd: bool = False
    ad: bool = False
    opcode: int = 0
    options: tuple[tuple[int, bytes], ...] = ()
    raw: bytes | None = None  # a hand-built packet (ID bytes are set from the case)
    expect: str = "same"  # same | sink | any | dropped
    exceptions: tuple[str, ...] = ()
    deviation: str = ""  # a key of NSD_DEVIATIONS: the one difference expected
    note: str = ""
    group: str = ""

    @property
    def qid(self) -> int:
        return zlib.crc32(self.id.encode()) & 0xFFFF

    def wire(self) -> bytes:
        """The query packet, identical for both servers."""
        if self.raw is not None:
            return struct.pack("!H", self.qid) + self.raw[2:]
        opts = [dns.edns.GenericOption(code, data) for code, data in self.options]
        q = dns.message.make_query(
            dns.name.from_text(self.qname),
            dns.rdatatype.from_text(self.qtype),
            dns.rdataclass.from_text(self.qclass),
            use_edns=self.edns if self.edns is not None else False,
            payload=self.payload,
            want_dnssec=self.do,
            options=opts or None,
            id=self.qid,
        )
        flags = 0
        if self.rd:
            flags |= dns.flags.RD
        if self.cd:
            flags |= dns.flags.CD
        if self.ad:
            flags |= dns.flags.AD
        q.flags = flags
        q.set_opcode(self.opcode)
        return q.to_wire()

    def skip(self) -> frozenset[str]:
        parts: set[str] = set()
        for e in self.exceptions:
            if e not in EXCEPTIONS:
                raise KeyError(f"case {self.id}: exception {e!r} is not documented in EXCEPTIONS")
            parts |= EXCEPTION_PARTS[e]
        return frozenset(parts)


# Which comparison parts (compare.ALL_PARTS) each exception turns off.
EXCEPTION_PARTS: dict[str, frozenset[str]] = {}

# NSD 4.6 behaviours an RFC contradicts, where takedown follows the RFC: name
# -> why. A case naming one (``Case.deviation``) expects exactly that
# difference and agreement on everything else (test_differential.check_same);
# if NSD stops doing it, or takedown starts, the case fails. Keep in step with
# docs/testing.md ("Documented NSD deviations").
NSD_DEVIATIONS: dict[str, str] = {
    "repeated-cname": (
        "A wildcard CNAME whose target is a name the wildcard covers (*.wl CNAME x.wl), "
        "queried at that target: NSD 4.6 puts the identical record x.wl CNAME x.wl in the "
        "answer twice (the question's expansion, then the target's, two objects to its loop "
        "check). RFC 2181 s5: identical records are meaningless and servers should suppress "
        "them; RFC 1034 s4.3.2 copies a CNAME once per step of the chain. takedown sends it "
        "once. Expected: NSD's answer holds exactly one record twice, a CNAME owned by the "
        "question name; takedown's holds none twice; NSD's ANCOUNT is takedown's plus one; "
        "every other part agrees."
    ),
}


# --------------------------------------------------------------------------- the zone and blocklist


@cache
def zone() -> dns.zone.Zone:
    return dns.zone.from_file(str(ZONE_FILE), origin=ORIGIN, relativize=False)


@cache
def blocklist() -> tuple[frozenset[dns.name.Name], frozenset[dns.name.Name]]:
    """(exact names, subtree roots) of the blocklist fixture."""
    exact, subtree = set(), set()
    for line in BLOCKLIST_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("*."):
            subtree.add(dns.name.from_text(line[2:]))
        else:
            exact.add(dns.name.from_text(line))
    return frozenset(exact), frozenset(subtree)


def sink_rule(qname: str) -> dns.name.Name | None:
    """The blocklist entry covering ``qname`` (the name itself, or the root of
    a ``*.name`` subtree), or None when the name is answered from the zone."""
    n = dns.name.from_text(qname)
    exact, subtree = blocklist()
    if n in exact:
        return n
    for root in subtree:
        if n.is_subdomain(root):
            return root
    return None


def zone_names(z: dns.zone.Zone | None = None, origin: dns.name.Name = ORIGIN) -> list[str]:
    """Every owner name of a zone (3322.org by default), then every empty
    non-terminal."""
    z = zone() if z is None else z
    owners = sorted(z.nodes.keys())
    names = {n for n in owners}
    ents = set()
    for n in owners:
        p = n.parent()
        while p != origin and p.is_subdomain(origin) and p not in names:
            ents.add(p)
            p = p.parent()
    return [n.to_text() for n in owners] + [n.to_text() for n in sorted(ents)]


def node_rrsets(qname: str) -> list:
    """The RRsets a full ANY answer for ``qname`` holds, from the zone file:
    the node's own RRsets, or those of the wildcard that covers it, with the
    owner set to ``qname``. Empty for names that do not exist, empty
    non-terminals, and names at or below a zone cut."""
    import dns.rrset

    z = zone()
    n = dns.name.from_text(qname)
    if not n.is_subdomain(ORIGIN):
        return []
    existing = {dns.name.from_text(x) for x in zone_names()}
    node = z.get_node(n)
    # at or below a cut (other than the apex): a referral, no answer
    p = n
    while p != ORIGIN:
        pn = z.get_node(p)
        if pn is not None and pn.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None:
            return []
        p = p.parent()
    if node is None:
        if n in existing:  # empty non-terminal
            return []
        p = n.parent()
        while p not in existing and p != ORIGIN:
            p = p.parent()
        node = z.get_node(dns.name.Name(("*",)).concatenate(p))
        if node is None:
            return []
    out = []
    for rds in node.rdatasets:
        rrset = dns.rrset.RRset(n, rds.rdclass, rds.rdtype, rds.covers)
        rrset.update(rds)
        out.append(rrset)
    return out


def _rel(*labels: str) -> str:
    return ".".join(labels + ("3322.org.",))


# Names that are not owners in the zone, each for a reason.
EXTRA_NAMES = {
    # wildcard synthesis (one and several labels below the wildcard)
    _rel("foo", "wild"): "synthesised from *.wild",
    _rel("a", "b", "wild"): "synthesised from *.wild, two labels below",
    _rel("x", "exists", "wild"): "below a name that exists below the wildcard: NXDOMAIN, no synthesis",
    _rel("foo", "cwild"): "synthesised from the wildcard CNAME *.cwild",
    # names below zone cuts (answered with a referral)
    _rel("host", "sub"): "below the cut sub (glue-backed referral)",
    _rel("a", "b", "sub"): "two labels below the cut sub",
    _rel("host", "sub2"): "below the cut sub2 (referral without glue)",
    _rel("ns9", "bigsub"): "below the cut bigsub (large referral)",
    # nonexistent names at several depths
    _rel("nx"): "NXDOMAIN one label below the apex",
    _rel("nx", "nx"): "NXDOMAIN two labels below the apex",
    _rel("a", "b", "c", "nx"): "NXDOMAIN four labels below the apex",
    _rel("nx", "web"): "NXDOMAIN below an existing leaf",
    _rel("nx", "b", "ent"): "NXDOMAIN below an empty non-terminal",
    _rel("nx", "_tcp"): "NXDOMAIN beside the SRV names",
    _rel("x", "pcwk"): "below an exactly-blocklisted name: not sunk, NXDOMAIN from the zone",
    _rel("nothere"): "the target of the dangling CNAME",
}

OUT_OF_ZONE = {
    "example.com.": "an unrelated zone: REFUSED",
    "org.": "the parent of the served zone: REFUSED",
    ".": "the root: REFUSED",
    "3322.org.example.": "the origin as a prefix of another name: REFUSED",
    "x3322.org.": "a sibling whose name ends with the origin's text: REFUSED",
}


def _sink_or(qname: str, default: str = "same") -> str:
    return "sink" if sink_rule(qname) is not None else default


# --------------------------------------------------------------------------- the cases


@cache
def all_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    add = cases.append

    # mx2..mx8.manymx and ns2..ns8.bigsub are like mx1 and ns1: one of each is enough
    names = [n for n in zone_names() if not (n[:3] in ("mx2", "mx3", "mx4", "mx5", "mx6", "mx7", "mx8")
                                             or n[:3] in ("ns3", "ns4", "ns5", "ns6", "ns7", "ns8")
                                             or n == _rel("ns2", "bigsub"))]
    names += list(EXTRA_NAMES)
    blocked_extra = [_rel("ghost"), _rel("bot", "wild"), _rel("x", "y", "evil")]
    names += [n for n in blocked_extra if n not in names]

    # 1. every name x every qtype, UDP, EDNS0 (what a modern resolver sends)
    for n in names:
        for t in QTYPES:
            add(Case(f"udp-e0-{t}-{n}", n, t, expect=_sink_or(n), group="matrix",
                     note=EXTRA_NAMES.get(n, "")))

    # 2. no EDNS (TC at 512 bytes; no OPT in the response)
    for n in [_rel("www"), _rel("web"), "3322.org.", _rel("mail"), _rel("foo", "wild"), _rel("exists", "wild"),
              _rel("sub"), _rel("host", "sub"), _rel("sub2"), _rel("nx"), _rel("b", "ent"), _rel("ext"),
              _rel("chain1"), _rel("dangling"), _rel("multi"), _rel("pcwk"), _rel("cc", "evil")]:
        for t in NO_EDNS_QTYPES:
            add(Case(f"udp-noedns-{t}-{n}", n, t, edns=None, expect=_sink_or(n), group="no-edns"))

    # 3. TCP
    for t in QTYPES:
        add(Case(f"tcp-e0-{t}-3322.org.", "3322.org.", t, transport="tcp", group="tcp"))
    for n, t in [(_rel("www"), "A"), (_rel("web"), "AAAA"), (_rel("foo", "wild"), "MX"), (_rel("sub"), "A"),
                 (_rel("sub"), "DS"), (_rel("nx"), "A"), (_rel("b", "ent"), "A"), (_rel("_sip", "_udp"), "SRV"),
                 (_rel("pcwk"), "A"), (_rel("pcwk"), "NS"), (_rel("x", "y", "evil"), "SOA")]:
        add(Case(f"tcp-e0-{t}-{n}", n, t, transport="tcp", expect=_sink_or(n), group="tcp"))
        add(Case(f"tcp-noedns-{t}-{n}", n, t, transport="tcp", edns=None, expect=_sink_or(n), group="tcp"))

    # 4. sizes: TC over UDP, the whole answer over TCP
    size = [
        ("long", None, 0, "udp", "1 kB TXT without EDNS: TC"),
        ("long", 0, 1232, "udp", "1 kB TXT in a 1232-byte EDNS buffer: fits"),
        ("long", 0, 512, "udp", "EDNS buffer of 512: TC"),
        ("long", 0, 100, "udp", "EDNS buffer below 512 (treated as 512): TC"),
        ("long", None, 0, "tcp", "1 kB TXT over TCP without EDNS: whole"),
        ("big", None, 0, "udp", "2 kB TXT RRset without EDNS: TC"),
        ("big", 0, 1232, "udp", "2 kB TXT RRset, EDNS 1232: TC"),
        ("big", 0, 4096, "udp", "2 kB TXT RRset, EDNS 4096: the server's own UDP limit applies"),
        ("big", 0, 65535, "udp", "EDNS 65535"),
        ("big", 0, 1232, "tcp", "2 kB TXT RRset over TCP: whole"),
        ("big", None, 0, "tcp", "2 kB TXT RRset over TCP without EDNS: whole"),
        ("manymx", None, 0, "udp", "answer fits in 512, its additional addresses do not"),
        ("manymx", 0, 1232, "udp", "MX with 16 additional addresses in 1232 bytes"),
        ("manymx", None, 0, "tcp", "MX with every additional address"),
        ("bigsub", None, 0, "udp", "referral whose glue does not fit in 512"),
        ("ns1.bigsub", None, 0, "udp", "referral below bigsub, glue does not fit in 512"),
        ("bigsub", 0, 1232, "udp", "referral with all glue in 1232"),
        ("bigsub", None, 0, "tcp", "referral with all glue over TCP"),
        ("3322.org", None, 0, "udp", "apex MX without EDNS"),
        ("edge512", None, 0, "udp", "answer fits in 512 bytes, the authority NS RRset does not"),
        ("edge512", 0, 512, "udp", "the same in an EDNS buffer of 512"),
        ("edge512", 0, 1232, "udp", "the same in 1232 bytes: everything fits"),
    ]
    for rel, edns, payload, transport, note in size:
        n = rel if rel.endswith("3322.org") else _rel(*rel.split("."))
        if not n.endswith("."):
            n += "."
        t = "MX" if rel in ("manymx", "3322.org") else ("NS" if "bigsub" in rel else "TXT")
        tag = "noedns" if edns is None else f"e0b{payload}"
        add(Case(f"size-{transport}-{tag}-{t}-{n}", n, t, transport=transport, edns=edns,
                 payload=payload or 1232, note=note, group="size"))

    # 5. EDNS: versions, DO, options, buffer sizes
    for n, t in [("3322.org.", "SOA"), (_rel("www"), "A"), (_rel("nx"), "A"), (_rel("sub"), "NS"),
                 (_rel("foo", "wild"), "A"), ("example.com.", "A")]:
        add(Case(f"edns1-{t}-{n}", n, t, edns=1, note="EDNS version 1: BADVERS", group="edns"))
        add(Case(f"do-{t}-{n}", n, t, do=True, note="DO bit set (unsigned zone): DO echoed", group="edns"))
    add(Case("do-DS-host.sub", _rel("host", "sub"), "DS", do=True, note="DS below a cut, DO set", group="edns"))
    add(Case("do-A-host.sub", _rel("host", "sub"), "A", do=True, note="referral with DO: DS at the cut", group="edns"))
    add(Case("edns255-SOA", "3322.org.", "SOA", edns=255, group="edns", note="EDNS version 255: BADVERS"))
    add(Case("edns-opt-unknown", _rel("www"), "A", options=((65001, b"\x01\x02\x03"),), group="edns",
             note="an unknown EDNS option is ignored"))
    add(Case("edns-opt-nsid", _rel("www"), "A", options=((3, b""),), group="edns",
             note="NSID requested, none configured: no NSID in the response"))
    add(Case("edns-opt-cookie", _rel("www"), "A", options=((10, bytes(range(8))),), group="edns",
             note="a DNS client cookie (NSD 4.6 default answer-cookie: no)"))
    add(Case("edns-opt-ecs", _rel("www"), "A", options=((8, bytes.fromhex("0001180000c63364")),), group="edns",
             note="EDNS client subnet 198.51.100.0/24 from a resolver (ignored by an authoritative)"))
    add(Case("edns-do-tcp-NS", "3322.org.", "NS", do=True, transport="tcp", group="edns",
             note="DO over TCP"))

    # 6. header flags
    for flag in ("rd", "cd", "ad"):
        for n, t in [(_rel("www"), "A"), (_rel("nx"), "A"), (_rel("sub"), "A"), ("example.com.", "A")]:
            add(Case(f"flag-{flag}-{t}-{n}", n, t, group="flags", **{flag: True},
                     note=f"{flag.upper()} set in the query"))
    add(Case("flag-rd-sink", _rel("pcwk"), "A", rd=True, expect="sink", group="flags"))

    # 7. question case (0x20): echoed exactly
    for n, t in [("WWW.3322.ORG.", "A"), ("wWw.3322.OrG.", "A"), ("3322.ORG.", "SOA"), ("3322.ORG.", "NS"),
                 ("3322.OrG.", "MX"), ("MIXED.3322.org.", "A"), ("mixed.3322.org.", "A"),
                 ("Foo.Wild.3322.Org.", "A"), ("HOST.SUB.3322.ORG.", "A"), ("Sub.3322.org.", "NS"),
                 ("NX.3322.ORG.", "A"), ("B.Ent.3322.Org.", "TXT"), ("CHAIN1.3322.ORG.", "A"),
                 ("PCWK.3322.ORG.", "A"), ("Cc.EvIl.3322.OrG.", "AAAA"), ("EXAMPLE.COM.", "A")]:
        add(Case(f"case-{t}-{n}", n, t, expect=_sink_or(n.lower()), group="case"))
        add(Case(f"case-tcp-{t}-{n}", n, t, transport="tcp", expect=_sink_or(n.lower()), group="case"))

    # 8. ANY (RFC 8482)
    for n in ["3322.org.", _rel("web"), _rel("www"), _rel("mail"), _rel("foo", "wild"), _rel("exists", "wild"),
              _rel("nx"), _rel("b", "ent"), _rel("sub"), _rel("host", "sub"), _rel("_sip", "_udp"), "example.com."]:
        add(Case(f"any-udp-{n}", n, "ANY", expect="any", group="any"))
        add(Case(f"any-tcp-{n}", n, "ANY", transport="tcp", expect="any", group="any"))
    add(Case("any-udp-noedns-apex", "3322.org.", "ANY", edns=None, expect="any", group="any"))

    # 9. classes
    for n, t, c, note in [
        ("version.bind.", "TXT", "CH", "CHAOS version.bind (hidden in both)"),
        ("id.server.", "TXT", "CH", "CHAOS id.server (hidden in both)"),
        ("hostname.bind.", "TXT", "CH", "CHAOS hostname.bind"),
        ("3322.org.", "SOA", "CH", "the zone's name in class CHAOS"),
        ("3322.org.", "SOA", "ANY", "QCLASS ANY (255)"),
        (_rel("www"), "A", "ANY", "QCLASS ANY for a CNAME"),
        ("3322.org.", "SOA", "NONE", "QCLASS NONE (254)"),
        ("3322.org.", "SOA", "HS", "class HESIOD"),
        (_rel("www"), "A", "CLASS42", "an unknown class"),
    ]:
        add(Case(f"class-{c}-{t}-{n}", n, t, qclass=c, note=note, group="class"))

    # 10. unusual and meta qtypes
    for n, t, transport, note in [
        ("3322.org.", "AXFR", "tcp", "zone transfer not allowed"),
        ("3322.org.", "AXFR", "udp", "AXFR over UDP"),
        ("3322.org.", "IXFR", "tcp", "IXFR without an SOA in authority"),
        ("3322.org.", "IXFR", "udp", "IXFR over UDP"),
        ("3322.org.", "MAILB", "udp", "obsolete meta type MAILB"),
        ("3322.org.", "TYPE65280", "udp", "a private-use type: NODATA"),
        (_rel("www"), "TYPE999", "udp", "an unknown type at a CNAME: the CNAME"),
        (_rel("nx"), "TYPE999", "udp", "an unknown type at a nonexistent name"),
        ("3322.org.", "RRSIG", "udp", "RRSIG in an unsigned zone"),
        ("3322.org.", "DNSKEY", "udp", "DNSKEY in an unsigned zone"),
        ("3322.org.", "NSEC", "udp", "NSEC in an unsigned zone"),
        ("3322.org.", "HINFO", "udp", "HINFO (RFC 8482's synthesised type), not in the zone"),
        ("3322.org.", "OPT", "udp", "OPT (41) as QTYPE"),
        ("3322.org.", "TSIG", "udp", "TSIG (250) as QTYPE"),
        ("3322.org.", "TYPE0", "udp", "QTYPE 0"),
        (_rel("sub"), "NS", "udp", "NS at a cut: a referral, not an answer"),
        (_rel("sub"), "DS", "udp", "DS at a cut: answered by the parent"),
        (_rel("ns1", "sub"), "A", "udp", "glue: a referral, not an answer"),
    ]:
        add(Case(f"qtype-{transport}-{t}-{n}", n, t, transport=transport, note=note, group="qtype"))

    # 11. opcodes
    for op, note in [(1, "IQUERY (obsolete)"), (2, "STATUS"), (3, "unassigned opcode 3"),
                     (4, "NOTIFY from an unknown primary"), (5, "UPDATE"), (6, "DSO"), (15, "opcode 15")]:
        add(Case(f"opcode-{op}", "3322.org.", "SOA", opcode=op, note=note, group="opcode"))
        add(Case(f"opcode-{op}-noedns", "3322.org.", "SOA", opcode=op, edns=None, note=note, group="opcode"))

    # 12. hand-built packets
    hdr = lambda flags, qd, an=0, ns=0, ar=0: struct.pack("!HHHHHH", 0, flags, qd, an, ns, ar)  # noqa: E731
    q_www = dns.name.from_text(_rel("www")).to_wire() + struct.pack("!HH", 1, 1)
    q_nx = dns.name.from_text(_rel("nx")).to_wire() + struct.pack("!HH", 1, 1)
    for cid, raw, expect, note in [
        ("raw-qdcount0", hdr(0, 0), "same", "no question: FORMERR"),
        ("raw-qdcount2", hdr(0, 2) + q_www + q_nx, "same", "two questions: FORMERR"),
        ("raw-qr-set", hdr(0x8000, 1) + q_www, "dropped", "a response (QR=1) is never answered"),
        ("raw-short-question", hdr(0, 1) + q_www[:5], "same", "question cut short: FORMERR"),
        ("raw-header-only-qd1", hdr(0, 1), "same", "QDCOUNT=1 but no question bytes"),
        ("raw-trailing-garbage", hdr(0, 1) + q_www + b"\xde\xad\xbe\xef", "same", "bytes after the question"),
        ("raw-ancount1", hdr(0, 1, an=1) + q_www, "same", "ANCOUNT=1 in a query, no answer bytes"),
        ("raw-tc-set", hdr(0x0200, 1) + q_www, "same", "TC=1 in a query"),
        ("raw-z-set", hdr(0x0040, 1) + q_www, "same", "the Z bit set in a query"),
        ("raw-aa-set", hdr(0x0400, 1) + q_www, "same", "AA set in a query"),
        ("raw-two-opt", hdr(0, 1, ar=2) + q_www + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" * 2,
         "same", "two OPT records: FORMERR"),
        ("raw-compressed-qname", hdr(0, 1) + b"\x03www\xc0\x12" + struct.pack("!HH", 1, 1) + b"", "same",
         "a compression pointer in the question (pointing forward, invalid)"),
    ]:
        add(Case(cid, raw=raw, expect=expect, note=note, group="raw"))
        add(Case(cid + "-tcp", raw=raw, expect=expect, note=note, group="raw", transport="tcp"))

    # 13. out-of-zone names
    for n, note in OUT_OF_ZONE.items():
        for t in ("A", "SOA", "NS"):
            add(Case(f"out-{t}-{n}", n, t, note=note, group="out-of-zone"))

    # 14. the second zone: DNAMEs, long CNAME chains, loops, a "*" empty non-terminal
    cases += shapes_cases()
    # 15. the third zone: the same shapes, harder (chains.example)
    cases += chains_cases()

    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)[:5]}"
    return tuple(cases)


def _sh(rel: str) -> str:
    return f"{rel}.shapes.example." if rel else "shapes.example."


_LONG_LABEL = "y" * 61  # with dnlong's 214-octet target: a 276-octet name (YXDOMAIN)

# name (relative to shapes.example) -> (qtypes over UDP with EDNS0, note)
SHAPES: dict[str, tuple[tuple[str, ...], str]] = {
    # DNAME (RFC 6672 s3.1): the DNAME, a synthesised CNAME with its TTL, the target's answer
    "dn": (("A", "TXT", "DNAME", "CNAME", "AAAA", "MX", "NS"), "the DNAME owner: answered from its own data"),
    "host.dn": (("A", "AAAA", "TXT", "CNAME", "DNAME", "MX", "NS", "SOA"), "below a DNAME: DNAME, CNAME, target's data"),
    "txt.dn": (("TXT", "A", "ANY"), "below a DNAME, target with one RRset"),
    "mx.dn": (("MX", "A"), "below a DNAME: target MX with additional addresses"),
    "cn.dn": (("A", "CNAME", "ANY"), "below a DNAME, the target a CNAME"),
    "host.a.b.dn": (("A", "TXT"), "below a DNAME, three labels"),
    "b.dn": (("A",), "below a DNAME, the target an empty non-terminal: NODATA"),
    "nx.dn": (("A", "CNAME"), "below a DNAME, the target absent: NXDOMAIN after the chain"),
    "x.y.z.dn": (("A",), "below a DNAME, three labels, target absent"),
    "foo.w.dn": (("A", "TXT", "MX"), "below a DNAME, the target synthesised from a wildcard"),
    "host.dn2": (("A", "TXT", "CNAME"), "DNAME -> DNAME"),
    "host.dn3": (("A", "AAAA"), "DNAME -> DNAME -> DNAME (TTLs 120, 3600, 300)"),
    "cn.dn3": (("A",), "three DNAMEs, then a CNAME"),
    "foo.dnx": (("A", "TXT", "CNAME", "ANY"), "DNAME out of the zone: DNAME and CNAME only"),
    "host.dncut": (("A", "NS", "DS"), "DNAME into a delegation: a referral, AA set"),
    "ns1.dncut": (("A",), "DNAME onto glue: a referral"),
    "a.dnnx": (("A",), "DNAME to a subtree that does not exist: NXDOMAIN"),
    "foo.dnw": (("A", "TXT", "MX"), "DNAME onto a wildcard's parent"),
    "deep.er.dnd": (("DNAME", "A"), "a DNAME three labels deep: its owner"),
    "x.deep.er.dnd": (("A",), "below a DNAME three labels deep"),
    "er.dnd": (("A",), "an empty non-terminal above a DNAME"),
    "x.dnlong": (("A",), "a long DNAME target: 216 octets, fits"),
    ("x" * 40) + ".dnlong": (("A",), "synthesised name of 255 octets: fits"),
    ("x" * 41) + ".dnlong": (("A", "CNAME"), "synthesised name of 256 octets: YXDOMAIN"),
    _LONG_LABEL + ".dnlong": (("A", "TXT"), "synthesised name of 276 octets: YXDOMAIN, EDE 0"),
    "tocn": (("A", "AAAA", "CNAME", "TXT"), "CNAME into a DNAME"),
    "tocn2": (("A",), "CNAME into three DNAMEs and a CNAME"),
    "tocnx": (("A",), "CNAME into a DNAME out of the zone"),
    "x.wcd": (("A", "CNAME"), "a wildcard CNAME into a DNAME"),
    # loops
    "x.dnloop1": (("A", "CNAME"), "DNAME <-> DNAME loop"),
    "x.dnself": (("A",), "a DNAME into its own subtree"),
    "x.in.dnself": (("A",), "a DNAME into its own subtree, two labels"),
    "cdl": (("A", "TXT"), "CNAME -> DNAME -> CNAME loop"),
    "self": (("A",), "a CNAME to itself"),
    "loop-1": (("A", "TXT"), "a loop of 12 CNAMEs"),
    "loop-7": (("A",), "a loop of 12 CNAMEs, entered in the middle"),
    # a DNAME below a zone cut is occluded
    "x.dn.sub": (("A", "DNAME"), "below a DNAME below a cut: a referral"),
    "dn.sub": (("DNAME", "A"), "a DNAME below a cut: a referral"),
    # RFC 4592 s4.9: "*" an empty non-terminal
    "went": (("TXT", "A"), "the parent of an empty-non-terminal wildcard"),
    "foo.went": (("A", "TXT", "MX", "CNAME"), "covered by the ENT wildcard *.went: NODATA"),
    "x.y.went": (("A",), "two labels below, covered by *.went: NODATA"),
    "*.went": (("A",), "the ENT wildcard queried literally: NODATA"),
    "a.*.went": (("A", "TXT"), "the name below the ENT wildcard"),
    "b.*.went": (("A",), "beside a.*.went: NXDOMAIN"),
    "towent": (("A", "TXT"), "CNAME into the ENT wildcard: CNAME, NODATA"),
}
for _tag in ("c8", "c9", "c10", "c12", "c20", "c10nodata", "c12nx", "c10out", "c12dn", "c10ref"):
    SHAPES[f"{_tag}-1"] = (("A", "AAAA", "TXT", "CNAME", "MX"), f"CNAME chain {_tag}")
SHAPES["c20-12"] = (("A",), "the last 9 hops of the 20-hop chain")


def shapes_cases() -> list[Case]:
    out: list[Case] = []
    add = out.append
    for rel, (qtypes, note) in SHAPES.items():
        n = _sh(rel)
        for t in qtypes:
            add(Case(f"shapes-e0-{t}-{n}", n, t, note=note, group="shapes"))
    # without EDNS (512 bytes: long chains truncate), over TCP, DO, small buffers
    for rel in ("host.dn", "host.dn3", "foo.dnx", "tocn", "c10-1", "c12-1", "c20-1", "c12nx-1", "c12dn-1",
                "loop-1", "foo.went", _LONG_LABEL + ".dnlong"):
        n = _sh(rel)
        for t in ("A", "TXT"):
            add(Case(f"shapes-noedns-{t}-{n}", n, t, edns=None, group="shapes"))
        add(Case(f"shapes-tcp-A-{n}", n, "A", transport="tcp", group="shapes"))
        add(Case(f"shapes-tcp-noedns-A-{n}", n, "A", transport="tcp", edns=None, group="shapes"))
        add(Case(f"shapes-do-A-{n}", n, "A", do=True, group="shapes"))
    for rel in ("c20-1", "c12dn-1", "host.dn3"):
        n = _sh(rel)
        add(Case(f"shapes-e0b512-AAAA-{n}", n, "AAAA", payload=512, group="shapes"))
    add(Case("shapes-case-A-HOST.Dn.SHAPES.example.", "HOST.Dn.SHAPES.example.", "A", group="shapes",
             note="0x20 below a DNAME: the synthesised CNAME's owner is the question's name"))
    add(Case("shapes-case-A-C10-1.shapes.EXAMPLE.", "C10-1.shapes.EXAMPLE.", "A", group="shapes"))
    return out


@cache
def chains_zone() -> dns.zone.Zone:
    return dns.zone.from_file(str(CHAINS_FILE), origin=CHAINS_ORIGIN, relativize=False)


def _ch(*labels: str) -> str:
    return ".".join(labels + ("chains.example.",))


_L40 = "x" * 40
# dlong's target is 212 octets: one more 40-octet label below dlong gives a
# 254-octet name (fits), two give 295 octets (YXDOMAIN).
CHAINS_EXTRA = {
    _ch("host", "d-in"): "below a DNAME, the target has data",
    _ch("mx", "d-in"): "below a DNAME, the target has an MX (additional data)",
    _ch("cn", "d-in"): "below a DNAME, the target is a CNAME",
    _ch("ext", "d-in"): "below a DNAME, the target is a CNAME out of the zone",
    _ch("e", "d-in"): "below a DNAME, the target is an empty non-terminal: NODATA",
    _ch("y", "e", "d-in"): "two labels below a DNAME",
    _ch("nx", "d-in"): "below a DNAME, the target does not exist: NXDOMAIN",
    _ch("a", "b", "c", "d-in"): "three labels below a DNAME, NXDOMAIN at the target",
    _ch("host", "d-out"): "below a DNAME to an out-of-zone target",
    _ch("a", "b", "d-out"): "two labels below a DNAME to an out-of-zone target",
    _ch("host", "d-to-d"): "DNAME -> DNAME -> data",
    _ch("nx", "d-to-d"): "DNAME -> DNAME -> NXDOMAIN",
    _ch("host", "d-sub"): "DNAME into a delegation: a referral, AA set",
    _ch("ns", "d-sub"): "DNAME onto glue: a referral",
    _ch("foo", "d-wild"): "DNAME onto a wildcard",
    _ch("a", "b", "d-wild"): "DNAME onto a wildcard, two labels",
    _ch("foo", "d-ew"): "DNAME onto a wildcard empty non-terminal: NODATA",
    _ch("x", "dl1"): "a DNAME loop",
    _ch("x", "dl2"): "a DNAME loop, entered at the other DNAME",
    _ch("x", "dgrow"): "a DNAME into its own subtree",
    _ch("a", "mixd"): "a loop through a DNAME and CNAMEs, entered below the DNAME",
    _ch("x", "mixt"): "beside the loop's CNAME: NXDOMAIN",
    _ch(_L40, "dlong"): "a DNAME expansion of 254 octets: followed",
    _ch(_L40, _L40, "dlong"): "a DNAME expansion over 255 octets: YXDOMAIN",
    _ch("foo", "dw"): "covered by a wildcard whose only RRset is a DNAME",
    _ch("a", "foo", "dw"): "below a name covered by the DNAME wildcard",
    _ch("x", "dn", "sub"): "below a DNAME below a zone cut: a referral",
    _ch("x", "dcut"): "below a DNAME at a zone cut: a referral",
    _ch("foo", "w"): "synthesised from *.w",
    _ch("foo", "ew"): "covered by the wildcard empty non-terminal *.ew: NODATA",
    _ch("a", "foo", "ew"): "two labels below ew, covered by *.ew: NODATA",
    _ch("b", "*", "ew"): "below the wildcard empty non-terminal: NXDOMAIN",
    _ch("x", "a", "*", "ew"): "below a name below the wildcard: NXDOMAIN",
    _ch("foo", "cw"): "a wildcard CNAME",
    _ch("foo", "wl"): "a wildcard CNAME onto a name it covers (a loop)",
    _ch("x", "wl"): "the wildcard CNAME's own target",
    _ch("nx"): "NXDOMAIN",
    _ch("x", "ent"): "NXDOMAIN below an empty non-terminal",
}
CHAINS_QTYPES = ("A", "AAAA", "TXT", "MX", "NS", "SOA", "CNAME", "DNAME")


def chains_names() -> list[str]:
    """The third zone's names: its owners (each chain h<N><end>-* by its
    first hop, plus h20d-11 in the middle of a 20-hop one), its empty
    non-terminals, then CHAINS_EXTRA."""
    out = []
    for n in zone_names(chains_zone(), CHAINS_ORIGIN):
        first = n.split(".", 1)[0]
        if first[0] == "h" and first[1].isdigit() and not first.endswith("-1") and first != "h20d-11":
            continue
        out.append(n)
    return out + [n for n in CHAINS_EXTRA if n not in out]


def chains_cases() -> list[Case]:
    out: list[Case] = []
    add = out.append
    names = chains_names()
    # every name x every qtype, with EDNS0 and without EDNS (512 bytes)
    for n in names:
        note = CHAINS_EXTRA.get(n, "")
        for t in CHAINS_QTYPES:
            dev = "repeated-cname" if n == _ch("x", "wl") and t != "CNAME" else ""
            add(Case(f"chains-e0-{t}-{n}", n, t, group="chains", note=note, deviation=dev))
            add(Case(f"chains-noedns-{t}-{n}", n, t, edns=None, group="chains", note=note, deviation=dev))
    # the chain heads and DNAME/ENT names over TCP, with DO, in a 512-byte EDNS buffer
    heads = [n for n in names if n[0] == "h" and n[1].isdigit()]
    heads += [_ch("host", "d-in"), _ch("c-to-dd"), _ch("x", "dl1"), _ch(_L40, _L40, "dlong"), _ch("foo", "ew")]
    for n in heads:
        for t in ("A", "TXT"):
            add(Case(f"chains-tcp-{t}-{n}", n, t, transport="tcp", group="chains"))
            add(Case(f"chains-do-{t}-{n}", n, t, do=True, group="chains"))
            add(Case(f"chains-e0b512-{t}-{n}", n, t, payload=512, group="chains"))
    for n in ("D-In.Chains.Example.", "HOST.D-IN.CHAINS.EXAMPLE.", "Host.D-To-D.chains.example.",
              "H20D-1.CHAINS.EXAMPLE.", "Foo.Ew.Chains.Example."):
        add(Case(f"chains-case-A-{n}", n, "A", group="chains",
                 note="0x20 through DNAMEs and chains: the question echoed, the chain's owners as NSD's"))
    return out


def by_expect(expect: str) -> list[Case]:
    return [c for c in all_cases() if c.expect == expect]


if __name__ == "__main__":  # a summary, for docs/testing.md
    from collections import Counter

    cs = all_cases()
    print(len(cs), "cases")
    print(Counter(c.expect for c in cs))
    print(Counter(c.group for c in cs))
