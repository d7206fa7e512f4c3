"""DNS wire format, sans-I/O: bytes in, typed values out, and back.

Queries are parsed by :func:`parse_query` into a :class:`Query`; responses are
rendered by :func:`render` from sections of pre-encoded resource records. No
sockets here (compare dnspython's ``dns.message.from_wire``).

Resource records travel through the server as ``(owner, rec)`` pairs: ``owner``
is a lowercased uncompressed wire name, ``rec`` the rest of the record in wire
form (type, class, TTL, RDLENGTH, RDATA with uncompressed names). Zones store
``rec`` blobs as loaded, so answering is slicing and joining bytes, not building
objects. Why hand-written rather than dnspython's renderer: dnspython's
``make_response`` + ``to_wire`` costs about 60-100 us per answer on this
machine, against a few microseconds here; see bench/RESULTS.md.

References: RFC 1035 (format, compression), RFC 6891 (EDNS0, OPT, BADVERS),
RFC 7871 (client subnet), RFC 2181 s9 (TC only when required data is missing).
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass
from types import SimpleNamespace

import dns.name

# The clock option's encoding is the PROXY v2 clock TLV's (one definition, in
# takedown.net.proxy). Imported from there rather than moved: that module needs
# only the standard library (ipaddress, math, re, socket, struct, dataclasses,
# all loaded by the DNS server anyway) and takedown/net/__init__.py is empty,
# so it costs the DNS server ~4 ms once at start-up and nothing per query.
from takedown.accel import compiled
from takedown.clock import ClockError, decode_clock

# RR types and classes used by the server.
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, DNAME, OPT, DS = 1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 41, 43
HINFO, DNSKEY = 13, 48
IXFR, AXFR, MAILB, MAILA, ANY = 251, 252, 253, 254, 255
CLASS_IN, CLASS_CH = 1, 3

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN = 0, 1, 2, 3, 4, 5, 6
BADVERS = 16

OPCODE_QUERY = 0

# Header flag bits (second and third bytes as one 16-bit word).
QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010

EDNS_ECS = 8
EDNS_EDE = 15  # RFC 8914 extended DNS errors
EDE_PROHIBITED, EDE_NOT_AUTHORITATIVE, EDE_NOT_SUPPORTED = 18, 20, 21
# takedown's own option, in RFC 6891's Local/Experimental range (65001-65534):
# range mode's emulated clock, the DNS counterpart of the PROXY v2 TLV 0xE0
# (DNS has no PROXY header). Data: 8 bytes, big-endian unsigned microseconds
# since the UNIX epoch (takedown.clock.encode_clock). Honoured only from
# the networks of the operation's [dns] emulated_clock (the responder decides).
EDNS_TAKEDOWN_CLOCK = 65423

_H = struct.Struct("!HHHHHH")
_U16 = struct.Struct("!H")
_RRFIX = struct.Struct("!HHIH")


class WireError(Exception):
    """A packet that cannot be answered as a query.

    ``rcode`` is the error to answer with (FORMERR), or None when the packet
    must be dropped silently (too short to hold a header, or a response).
    """

    def __init__(self, message: str, rcode: int | None = FORMERR, no_question: bool = False):
        super().__init__(message)
        self.rcode = rcode
        self.no_question = no_question  # over TCP, NSD closes the connection instead


@dataclass(frozen=True, slots=True)
class Edns:
    udp_size: int
    version: int
    do: bool
    ecs: str | None = None  # "1.2.3.0/24" as sent by a resolver (RFC 7871)
    clock: float | None = None  # range mode's emulated clock (EDNS_TAKEDOWN_CLOCK), UNIX time


@dataclass(frozen=True, slots=True)
class Query:
    id: int
    flags: int
    opcode: int
    qname: bytes  # wire form as sent (letter case kept)
    qtype: int
    qclass: int
    question_end: int  # offset just past the question section
    edns: Edns | None
    edns_error: int | None = None  # BADVERS when the OPT version is unknown

    @property
    def key(self) -> bytes:
        return self.qname.lower()


def read_name(data: bytes, offset: int) -> tuple[bytes, int]:
    """An uncompressed name at ``offset``: (wire name, offset past it).

    Compression pointers are rejected: a query's question starts at offset 12
    and has nothing earlier to point to.
    """
    end = len(data)
    i = offset
    while True:
        if i >= end:
            raise WireError("name runs past the end of the packet")
        ln = data[i]
        if ln == 0:
            i += 1
            break
        if ln > 63:
            raise WireError("compressed or invalid label in question")
        i += ln + 1
    if i - offset > 255:
        raise WireError("name longer than 255 octets")
    return data[offset:i], i


def _parse_ecs(opt: bytes) -> str | None:
    """The client subnet of an ECS option (RFC 7871), or None if malformed.

    An authoritative server that does not tailor answers ignores ECS (as NSD
    does), so a malformed option is recorded as absent, not an error.
    """
    if len(opt) < 4:
        return None
    family, source, _scope = struct.unpack_from("!HBB", opt)
    addr = opt[4:]
    if family == 1 and source <= 32 and len(addr) == (source + 7) // 8:
        raw = addr + b"\0" * (4 - len(addr))
        return ".".join(str(b) for b in raw) + f"/{source}"
    if family == 2 and source <= 128 and len(addr) == (source + 7) // 8:
        raw = addr + b"\0" * (16 - len(addr))
        return f"{ipaddress.IPv6Address(raw)}/{source}"
    return None


def _parse_clock(opt: bytes) -> float | None:
    """UNIX time of an :data:`EDNS_TAKEDOWN_CLOCK` option, or None if malformed.

    Like a malformed ECS, a malformed clock is recorded as absent, never an
    error: an authoritative server must answer the query.
    """
    try:
        return decode_clock(opt)  # refuses a wrong length, and years past 9999 (no date partition holds them)
    except ClockError:
        return None


def _parse_opt(data: bytes, offset: int, end: int) -> tuple[Edns, int | None, int]:
    """The OPT pseudo-RR at ``offset`` (its owner must be the root)."""
    if offset + 11 > end or data[offset] != 0:
        raise WireError("malformed OPT record")
    rtype, udp, ttl, rdlen = _RRFIX.unpack_from(data, offset + 1)
    if rtype != OPT:
        raise WireError("additional record is not OPT")
    pos = offset + 11
    if pos + rdlen > end:
        raise WireError("OPT RDATA runs past the end of the packet")
    version = (ttl >> 16) & 0xFF
    do = bool(ttl & 0x8000)
    ecs = None
    clock = None
    stop = pos + rdlen
    while pos < stop:
        if pos + 4 > stop:
            raise WireError("truncated EDNS option")
        code, olen = struct.unpack_from("!HH", data, pos)
        pos += 4
        if pos + olen > stop:
            raise WireError("EDNS option runs past OPT RDATA")
        if code == EDNS_ECS:
            ecs = _parse_ecs(data[pos : pos + olen])
        elif code == EDNS_TAKEDOWN_CLOCK:
            clock = _parse_clock(data[pos : pos + olen])
        pos += olen
    err = BADVERS if version != 0 else None
    return Edns(max(udp, 512), version, do, ecs, clock), err, stop


def parse_query(data: bytes) -> Query:
    """Parse a DNS query; raise :class:`WireError` when it is not one.

    Accepts exactly one question, no answer or authority records, and at most
    one additional record, which must be OPT (RFC 6891 s6.1.1). Other opcodes
    parse; the caller decides how to refuse them.
    """
    if len(data) < 12:
        raise WireError("shorter than a DNS header", None)
    qid, flags, qd, an, ns, ar = _H.unpack_from(data)
    if flags & QR:
        raise WireError("a response, not a query", None)
    opcode = (flags >> 11) & 0xF
    if qd != 1 or len(data) == 12:
        raise WireError(f"QDCOUNT {qd}, expected 1", no_question=qd == 0 or len(data) == 12)
    qname, pos = read_name(data, 12)
    end = len(data)
    if pos + 4 > end:
        raise WireError("question runs past the end of the packet")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    qend = pos + 4
    if an or ns:
        raise WireError("a query with answer or authority records")
    edns = None
    edns_error = None
    if ar:
        if ar != 1:
            raise WireError(f"ARCOUNT {ar}, expected at most one OPT record")
        edns, edns_error, _stop = _parse_opt(data, qend, end)
    # Bytes after the last record are ignored, as NSD does.
    return Query(qid, flags, opcode, qname, qtype, qclass, qend, edns, edns_error)


_PLAIN = re.compile(rb"[A-Za-z0-9_*-]+")


def name_to_text(wire: bytes) -> str:
    """Presentation form without the final dot ("." for the root).

    Names made of letters, digits, '-', '_' and '*' (nearly all) are joined
    here; anything needing escapes goes through dnspython. Measured: about
    1 us against 6 us, on every answer-cache miss.
    """
    if wire == b"\x00":
        return "."
    labels = []
    i = 0
    ln = wire[0]
    while ln:
        label = wire[i + 1 : i + 1 + ln]
        if not _PLAIN.fullmatch(label):
            return dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
        labels.append(label)
        i += ln + 1
        ln = wire[i]
    return b".".join(labels).decode("ascii")


def text_to_wire(text: str) -> bytes:
    """Wire form of an absolute name given in text, lowercased."""
    return dns.name.from_text(text).canonicalize().to_wire()


def opt_record(udp_size: int, do: bool, ext_rcode: int = 0, ede: int | tuple[int, bytes] | None = None) -> bytes:
    """Our OPT pseudo-RR: root owner, buffer size, version 0, DO echoed (RFC 3225),
    and an extended DNS error (RFC 8914) when given: a code, or (code, text)."""
    ttl = (ext_rcode << 24) | (0x8000 if do else 0)
    if ede is None:
        rdata = b""
    elif type(ede) is tuple:
        code, text = ede
        rdata = struct.pack("!HHH", EDNS_EDE, 2 + len(text), code) + text
    else:
        rdata = struct.pack("!HHH", EDNS_EDE, 2, ede)
    return b"\x00" + _RRFIX.pack(OPT, udp_size, ttl, len(rdata)) + rdata


def rr(rtype: int, ttl: int, rdata: bytes, rclass: int = CLASS_IN) -> bytes:
    """The owner-less part of a resource record."""
    return _RRFIX.pack(rtype, rclass, ttl, len(rdata)) + rdata


def rec_type(rec: bytes) -> int:
    return (rec[0] << 8) | rec[1]


def rec_rdata(rec: bytes) -> bytes:
    return rec[10:]


# RR types whose RDATA names may be compressed (RFC 3597 s4): (offset of the
# first name, number of names).
_COMPRESSIBLE = {NS: (0, 1), CNAME: (0, 1), PTR: (0, 1), MX: (2, 1), SOA: (0, 2)}


class _Writer:
    """Appends names with compression against names already written (RFC 1035 4.1.4)."""

    __slots__ = ("parts", "size", "seen", "added")

    def __init__(self, prefix: bytes, qname_lower: bytes):
        self.parts = [prefix]
        self.size = len(prefix)
        self.seen: dict[bytes, int] = {}
        self.added: list[bytes] = []
        self._remember(qname_lower, 12)

    def _remember(self, name: bytes, at: int, upto: int = 256) -> None:
        """Record where each suffix of ``name`` starting before ``upto`` lies."""
        i = 0
        seen = self.seen
        while name[i] and i < upto and at + i < 0x3FFF:
            key = name[i:]
            if key not in seen:
                seen[key] = at + i
                self.added.append(key)
            i += name[i] + 1

    def mark(self) -> tuple[int, int, int]:
        return len(self.parts), self.size, len(self.added)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Forget everything written since ``mark``, compression targets included."""
        nparts, size, nadded = mark
        del self.parts[nparts:]
        self.size = size
        for key in self.added[nadded:]:
            del self.seen[key]
        del self.added[nadded:]

    def name(self, name: bytes) -> None:
        seen = self.seen
        low = name.lower()
        i = 0
        while name[i]:
            ptr = seen.get(low[i:])
            if ptr is not None:
                if i:
                    self._remember(low, self.size, i)
                self.parts.append(name[:i] + bytes((0xC0 | (ptr >> 8), ptr & 0xFF)))
                self.size += i + 2
                return
            i += name[i] + 1
        self._remember(low, self.size)
        self.parts.append(name)
        self.size += len(name)

    def record(self, owner: bytes, rec: bytes) -> None:
        """One RR; names inside the RDATA of RFC 1035 types are compressed too."""
        self.name(owner)
        layout = _COMPRESSIBLE.get((rec[0] << 8) | rec[1])
        if layout is None:
            self.raw(rec)
            return
        at = len(self.parts)
        self.raw(rec[:10])
        start = self.size
        rd = rec[10:]
        pos, count = layout
        if pos:
            self.raw(rd[:pos])
        for _ in range(count):
            name, pos = read_name(rd, pos)
            self.name(name)
        if pos < len(rd):
            self.raw(rd[pos:])
        self.parts[at] = rec[:8] + _U16.pack(self.size - start)

    def raw(self, b: bytes) -> None:
        self.parts.append(b)
        self.size += len(b)


def render(
    query: Query,
    data: bytes,
    rcode: int,
    aa: bool,
    answer=(),
    authority=(),
    extra_authority=(),
    additional=(),
    opt: bytes | None = None,
    limit: int = 65535,
    bare: bool = False,
) -> bytes:
    """Render a response to ``query`` (whose raw bytes are ``data``).

    Sections are lists of RRsets (lists of (owner, rec)). The question is
    copied from the query so its letter case is kept. RRsets are added whole,
    in order, while they fit in ``limit``: when a required one (answer,
    authority) does not, it and everything after it are left out and TC is
    set (RFC 2181 s9); when an optional one (extra authority, additional)
    does not, it and what follows are left out without TC. That is NSD's
    behaviour, checked by tests/differential. ``bare``: a header only (and
    the OPT record if given), as NSD sends for NOTIMP and FORMERR.
    CD is cleared in responses, as NSD does.
    """
    flags = QR | (query.flags & (0x7800 | RD)) | (AA if aa else 0) | (rcode & 0xF)
    arc = 1 if opt is not None else 0
    if bare:
        return _H.pack(query.id, flags, 0, 0, 0, arc) + (opt or b"")
    w = _Writer(b"", query.qname.lower())
    w.parts[0] = b"\0" * 12 + data[12 : query.question_end]
    w.size = len(w.parts[0])
    room = limit - (len(opt) if opt is not None else 0)
    counts = [0, 0, 0]
    tc = False
    stopped = False
    for idx, rrsets, required in ((0, answer, True), (1, authority, True), (1, extra_authority, False), (2, additional, False)):
        for rrset in rrsets:
            m = w.mark()
            for owner, rec in rrset:
                w.record(owner, rec)
            if w.size > room:
                w.rollback(m)
                tc = required
                stopped = True
                break
            counts[idx] += len(rrset)
        if stopped:
            break
    if opt is not None:
        w.raw(opt)
    w.parts[0] = _H.pack(query.id, flags | (TC if tc else 0), 1, counts[0], counts[1], counts[2] + arc) + w.parts[0][12:]
    return b"".join(w.parts)


def error_response(data: bytes, rcode: int) -> bytes | None:
    """A bare error header for a packet that did not parse as a query.

    Echoes the ID, opcode and RD bit, with no question and no records, as NSD
    does for FORMERR. None when there is no header to answer, or for a response.
    """
    if len(data) < 12:
        return None
    qid, flags = struct.unpack_from("!HH", data)
    if flags & QR:
        return None
    return _H.pack(qid, QR | (flags & (0x7800 | RD)) | (rcode & 0xF), 0, 0, 0, 0)


# The compiled twins (issue 18, docs/performance.md): the functions of the
# cache-miss path, Cython-compiled from takedown/dns/_wire_c.pyx when the
# package was built with a compiler. ``_PURE`` keeps this module's own
# versions, so tests and bench/dns_micro.py can hold one against the other.
ACCELERATED = ("parse_query", "render", "name_to_text")
_PURE = SimpleNamespace(**{_n: globals()[_n] for _n in ACCELERATED})
_compiled = compiled("takedown.dns._wire_c")
if _compiled is not None:
    for _n in ACCELERATED:
        globals()[_n] = getattr(_compiled, _n)
