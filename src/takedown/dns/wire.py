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

import struct
from dataclasses import dataclass

import dns.name

# RR types and classes used by the server.
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, DNAME, OPT, DS = 1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 41, 43
HINFO = 13
IXFR, AXFR, MAILB, MAILA, ANY = 251, 252, 253, 254, 255
CLASS_IN = 1

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16

OPCODE_QUERY = 0

# Header flag bits (second and third bytes as one 16-bit word).
QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010

EDNS_ECS = 8

_H = struct.Struct("!HHHHHH")
_U16 = struct.Struct("!H")
_RRFIX = struct.Struct("!HHIH")


class WireError(Exception):
    """A packet that cannot be answered as a query.

    ``rcode`` is the error to answer with (FORMERR), or None when the packet
    must be dropped silently (too short to hold a header, or a response).
    """

    def __init__(self, message: str, rcode: int | None = FORMERR):
        super().__init__(message)
        self.rcode = rcode


@dataclass(frozen=True, slots=True)
class Edns:
    udp_size: int
    version: int
    do: bool
    ecs: str | None = None  # "1.2.3.0/24" as sent by a resolver (RFC 7871)


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


def _parse_ecs(opt: bytes) -> str:
    if len(opt) < 4:
        raise WireError("short EDNS client-subnet option")
    family, source, _scope = struct.unpack_from("!HBB", opt)
    addr = opt[4:]
    if family == 1 and source <= 32 and len(addr) == (source + 7) // 8:
        raw = addr + b"\0" * (4 - len(addr))
        return ".".join(str(b) for b in raw) + f"/{source}"
    if family == 2 and source <= 128 and len(addr) == (source + 7) // 8:
        import ipaddress

        raw = addr + b"\0" * (16 - len(addr))
        return f"{ipaddress.IPv6Address(raw)}/{source}"
    raise WireError("malformed EDNS client-subnet option")


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
        pos += olen
    err = BADVERS if version != 0 else None
    return Edns(max(udp, 512), version, do, ecs), err, stop


def parse_query(data: bytes) -> Query:
    """Parse a DNS query; raise :class:`WireError` when it is not one.

    Accepts exactly one question, no answer or authority records, and at most
    one additional record, which must be OPT (RFC 6891 s6.1.1). Other opcodes
    parse (so that NOTIMP can echo the question); the caller decides.
    """
    if len(data) < 12:
        raise WireError("shorter than a DNS header", None)
    qid, flags, qd, an, ns, ar = _H.unpack_from(data)
    if flags & QR:
        raise WireError("a response, not a query", None)
    opcode = (flags >> 11) & 0xF
    if qd != 1:
        raise WireError(f"QDCOUNT {qd}, expected 1")
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
        edns, edns_error, stop = _parse_opt(data, qend, end)
        if stop != end:
            raise WireError("trailing bytes after the OPT record")
    elif qend != end:
        raise WireError("trailing bytes after the question")
    if qtype == OPT:
        raise WireError("OPT is not a question type")
    return Query(qid, flags, opcode, qname, qtype, qclass, qend, edns, edns_error)


def name_to_text(wire: bytes) -> str:
    """Presentation form without the final dot ("." for the root)."""
    if wire == b"\x00":
        return "."
    return dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)


def text_to_wire(text: str) -> bytes:
    """Wire form of an absolute name given in text, lowercased."""
    return dns.name.from_text(text).canonicalize().to_wire()


def opt_record(udp_size: int, do: bool, ext_rcode: int = 0) -> bytes:
    """Our OPT pseudo-RR: root owner, buffer size, version 0, DO echoed (RFC 3225)."""
    ttl = (ext_rcode << 24) | (0x8000 if do else 0)
    return b"\x00" + _RRFIX.pack(OPT, udp_size, ttl, 0)


def rr(rtype: int, ttl: int, rdata: bytes, rclass: int = CLASS_IN) -> bytes:
    """The owner-less part of a resource record."""
    return _RRFIX.pack(rtype, rclass, ttl, len(rdata)) + rdata


def rec_type(rec: bytes) -> int:
    return (rec[0] << 8) | rec[1]


def rec_rdata(rec: bytes) -> bytes:
    return rec[10:]


class _Writer:
    """Appends names with compression against names already written (RFC 1035 4.1.4)."""

    __slots__ = ("parts", "size", "seen")

    def __init__(self, prefix: bytes, qname_lower: bytes):
        self.parts = [prefix]
        self.size = len(prefix)
        self.seen: dict[bytes, int] = {}
        self._remember(qname_lower, 12)

    def _remember(self, name: bytes, at: int, upto: int = 256) -> None:
        """Record where each suffix of ``name`` starting before ``upto`` lies."""
        i = 0
        while name[i] and i < upto and at + i < 0x3FFF:
            self.seen.setdefault(name[i:], at + i)
            i += name[i] + 1

    def name(self, name: bytes) -> None:
        seen = self.seen
        i = 0
        while name[i]:
            ptr = seen.get(name[i:])
            if ptr is not None:
                if i:
                    self._remember(name, self.size, i)
                self.parts.append(name[:i] + bytes((0xC0 | (ptr >> 8), ptr & 0xFF)))
                self.size += i + 2
                return
            i += name[i] + 1
        self._remember(name, self.size)
        self.parts.append(name)
        self.size += len(name)

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
    additional=(),
    opt: bytes | None = None,
    limit: int = 65535,
) -> bytes:
    """Render a response to ``query`` (whose raw bytes are ``data``).

    The question is copied from the query so its letter case is kept. When
    the response exceeds ``limit`` the additional section is dropped first;
    if answer and authority still do not fit, the response is sent with TC=1
    and empty sections (RFC 2181 s9), and the client retries over TCP.
    """
    flags = QR | (query.flags & (0x7800 | RD | CD)) | (AA if aa else 0) | (rcode & 0xF)
    question = data[12 : query.question_end]
    optc = 1 if opt is not None else 0
    for extra in (additional, ()):
        head = _H.pack(query.id, flags, 1, len(answer), len(authority), len(extra) + optc)
        w = _Writer(head + question, query.qname.lower())
        for section in (answer, authority, extra):
            for owner, rec in section:
                w.name(owner)
                w.raw(rec)
        if opt is not None:
            w.raw(opt)
        if w.size <= limit:
            return b"".join(w.parts)
    head = _H.pack(query.id, flags | TC, 1, 0, 0, optc)
    return head + question + (opt or b"")


def error_response(data: bytes, rcode: int) -> bytes | None:
    """A bare error answer for a packet that did not parse as a query.

    Echoes the ID, opcode and RD bit; the question is echoed only when it can
    be located, as NSD and BIND do. None when there is no header to answer.
    """
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack_from("!HHH", data)
    if flags & QR:
        return None
    out_flags = QR | (flags & (0x7800 | RD | CD)) | (rcode & 0xF)
    if qd == 1:
        try:
            _, pos = read_name(data, 12)
            if pos + 4 <= len(data):
                return _H.pack(qid, out_flags, 1, 0, 0, 0) + data[12 : pos + 4]
        except WireError:
            pass
    return _H.pack(qid, out_flags, 0, 0, 0, 0)
