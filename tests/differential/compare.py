"""Send the same query bytes to two servers and compare the responses.

Sans-test helpers used by ``test_differential.py`` and ``nsd_vs_bind.py``:
raw UDP/TCP exchange (so that odd, hand-built packets go out byte for byte),
a normalised view of a response, and a section-by-section diff.

The comparison (see docs/testing.md):

- header: ID, opcode, rcode (with the EDNS extended rcode), and the whole
  flags word (QR, AA, TC, RD, RA, Z, AD, CD);
- section counts as on the wire (QD/AN/NS/AR count, OPT included in AR), so a
  duplicated record is not hidden by the set comparison;
- question: the exact bytes (0x20 case echoed);
- answer, authority, additional: as SETS of RRsets; an RRset is (owner name
  compared case-insensitively, class, type, covered type, TTL, set of rdata);
- EDNS: present or not, version, flags (DO), advertised UDP payload size,
  options;
- when the answer holds a CNAME: the order of the RRsets' owners in the answer
  (the chain must be given in order, starting at the question name).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdata
import dns.rdatatype
import dns.rrset

UDP_TIMEOUT = 3.0
DROP_TIMEOUT = 0.6  # for packets both servers must ignore
TCP_TIMEOUT = 5.0


# --------------------------------------------------------------------------- exchange


def exchange_udp(wire: bytes, host: str, port: int, timeout: float = UDP_TIMEOUT) -> bytes | None:
    """Send ``wire`` in one datagram; the first datagram back, or None on timeout."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(wire)
        try:
            return s.recv(65535)
        except (TimeoutError, socket.timeout):
            return None
        except ConnectionRefusedError:
            raise ConnectionRefusedError(f"nothing listens on udp {host}:{port}") from None


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def exchange_tcp(wire: bytes, host: str, port: int, timeout: float = TCP_TIMEOUT) -> bytes | None:
    """Send ``wire`` with its 2-byte length over a new TCP connection; the first
    response message, or None if the server closes or stays silent."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(struct.pack("!H", len(wire)) + wire)
        try:
            head = _recv_exact(s, 2)
            if head is None:
                return None
            return _recv_exact(s, struct.unpack("!H", head)[0])
        except (TimeoutError, socket.timeout, ConnectionResetError):
            return None


def exchange(wire: bytes, host: str, port: int, transport: str, timeout: float | None = None) -> bytes | None:
    if transport == "udp":
        return exchange_udp(wire, host, port, timeout or UDP_TIMEOUT)
    if transport == "tcp":
        return exchange_tcp(wire, host, port, timeout or TCP_TIMEOUT)
    raise ValueError(transport)


# --------------------------------------------------------------------------- normalised view


def question_bytes(wire: bytes) -> bytes:
    """The raw question section (QDCOUNT entries after the header)."""
    if len(wire) < 12:
        return b""
    qd = struct.unpack("!H", wire[4:6])[0]
    off = 12
    for _ in range(qd):
        while True:
            if off >= len(wire):
                return wire[12:]
            ln = wire[off]
            if ln == 0:
                off += 1
                break
            if ln & 0xC0 == 0xC0:
                off += 2
                break
            off += 1 + ln
        off += 4
    return wire[12:off]


def section_counts(wire: bytes) -> tuple[int, int, int, int]:
    return struct.unpack("!HHHH", wire[4:12])


RRsetKey = tuple  # (name, class, type, covers, ttl, frozenset(rdata text))


def rrset_key(rrset: dns.rrset.RRset) -> RRsetKey:
    return (
        rrset.name.canonicalize().to_text(),
        dns.rdataclass.to_text(rrset.rdclass),
        dns.rdatatype.to_text(rrset.rdtype),
        dns.rdatatype.to_text(rrset.covers),
        rrset.ttl,
        frozenset(_canonical_text(rd) for rd in rrset),
    )


def _canonical_text(rd: dns.rdata.Rdata) -> str:
    """The rdata in presentation form with its domain names lowercased (RFC
    4034 section 6.2 canonical form; RFC 4343: names compare case-insensitively).
    Text fields (TXT, CAA values) keep their case."""
    wire = rd.to_digestable()
    return dns.rdata.from_wire(rd.rdclass, rd.rdtype, wire, 0, len(wire)).to_text()


def fmt_rrset(key: RRsetKey) -> str:
    name, cls, typ, covers, ttl, rdatas = key
    t = typ if covers == "TYPE0" else f"{typ}({covers})"
    return f"{name} {ttl} {cls} {t} " + " | ".join(sorted(rdatas))


@dataclass
class View:
    """A response reduced to what the comparison looks at."""

    wire: bytes
    id: int
    opcode: str
    rcode: str
    flags: frozenset[str]
    question: bytes
    counts: tuple[int, int, int, int]
    answer: frozenset
    authority: frozenset
    additional: frozenset
    answer_owners: tuple[str, ...]
    answer_has_cname: bool
    edns: tuple | None  # (version, flags, payload, options) or None
    msg: dns.message.Message = field(repr=False)

    def rrsets(self, section: str) -> frozenset:
        return getattr(self, section)

    def describe(self) -> str:
        lines = [
            f"  id={self.id} opcode={self.opcode} rcode={self.rcode} flags={' '.join(sorted(self.flags))} "
            f"counts={self.counts} edns={self.edns}",
            f"  question={self.question!r}",
        ]
        for sec in ("answer", "authority", "additional"):
            for k in sorted(self.rrsets(sec), key=fmt_rrset):
                lines.append(f"  {sec[:4]}: {fmt_rrset(k)}")
        return "\n".join(lines)


def view(wire: bytes) -> View:
    msg = dns.message.from_wire(wire, ignore_trailing=True)
    flags = frozenset(dns.flags.to_text(msg.flags).split())
    owners: list[str] = []
    for rrset in msg.answer:
        owners.append(rrset.name.canonicalize().to_text())
    edns = None
    if msg.edns >= 0:
        opts = tuple(sorted((int(o.otype), o.to_wire()) for o in msg.options))
        edns = (msg.edns, dns.flags.edns_to_text(msg.ednsflags), int(msg.payload), opts)
    return View(
        wire=wire,
        id=msg.id,
        opcode=dns.opcode.to_text(msg.opcode()),
        rcode=dns.rcode.to_text(msg.rcode()),
        flags=flags,
        question=question_bytes(wire),
        counts=section_counts(wire),
        answer=frozenset(rrset_key(r) for r in msg.answer),
        authority=frozenset(rrset_key(r) for r in msg.authority),
        additional=frozenset(rrset_key(r) for r in msg.additional),
        answer_owners=tuple(owners),
        answer_has_cname=any(r.rdtype == dns.rdatatype.CNAME for r in msg.answer),
        edns=edns,
        msg=msg,
    )


def repeated_answer_records(wire: bytes) -> dict[tuple[str, str, str], int]:
    """Records the answer section holds more than once, as (owner, type,
    rdata) -> how many times (the set comparison cannot see them)."""
    msg = dns.message.from_wire(wire, ignore_trailing=True, one_rr_per_rrset=True)
    seen: dict[tuple[str, str, str], int] = {}
    for rrset in msg.answer:
        for rd in rrset:
            k = (rrset.name.canonicalize().to_text(), dns.rdatatype.to_text(rrset.rdtype), _canonical_text(rd))
            seen[k] = seen.get(k, 0) + 1
    return {k: n for k, n in seen.items() if n > 1}


def parse_or_none(wire: bytes | None) -> View | None | str:
    """A View; None for no response; an error string if it does not parse."""
    if wire is None:
        return None
    try:
        return view(wire)
    except dns.exception.DNSException as e:
        return f"unparseable response ({type(e).__name__}: {e}): {wire!r}"


# --------------------------------------------------------------------------- diff

ALL_PARTS = ("header", "counts", "question", "answer", "authority", "additional", "edns", "order")


def diff(a: View, b: View, *, names: tuple[str, str] = ("ours", "ref"), skip: frozenset[str] = frozenset()) -> list[str]:
    """Differences between two responses, one message per differing part
    (empty when they agree). ``skip`` names parts not compared (each use must
    be a documented exception, see cases.py)."""
    na, nb = names
    out: list[str] = []
    if "header" not in skip:
        for attr in ("id", "opcode", "rcode", "flags"):
            va, vb = getattr(a, attr), getattr(b, attr)
            if va != vb:
                if attr == "flags":
                    out.append(f"flags: {na} has {sorted(va - vb)} extra, {nb} has {sorted(vb - va)} extra")
                else:
                    out.append(f"{attr}: {na}={va} {nb}={vb}")
    if "question" not in skip and a.question != b.question:
        out.append(f"question bytes: {na}={a.question!r} {nb}={b.question!r}")
    if "counts" not in skip and a.counts != b.counts:
        out.append(f"section counts (QD,AN,NS,AR): {na}={a.counts} {nb}={b.counts}")
    for sec in ("answer", "authority", "additional"):
        if sec in skip:
            continue
        sa, sb = a.rrsets(sec), b.rrsets(sec)
        if sa != sb:
            only_a = "; ".join(fmt_rrset(k) for k in sorted(sa - sb, key=fmt_rrset)) or "-"
            only_b = "; ".join(fmt_rrset(k) for k in sorted(sb - sa, key=fmt_rrset)) or "-"
            out.append(f"{sec}: only {na}: [{only_a}]  only {nb}: [{only_b}]")
    if "edns" not in skip and a.edns != b.edns:
        out.append(f"edns (version, flags, payload, options): {na}={a.edns} {nb}={b.edns}")
    if "order" not in skip and (a.answer_has_cname or b.answer_has_cname):
        if a.answer_owners != b.answer_owners:
            out.append(f"answer order (CNAME chain): {na}={a.answer_owners} {nb}={b.answer_owners}")
    return out


def compare_wires(
    wa: bytes | None, wb: bytes | None, *, names: tuple[str, str] = ("ours", "ref"), skip: frozenset[str] = frozenset()
) -> list[str]:
    """``diff`` for raw responses; both None (both dropped the query) is agreement."""
    va, vb = parse_or_none(wa), parse_or_none(wb)
    na, nb = names
    if va is None and vb is None:
        return []
    if va is None or vb is None:
        missing, other = (na, vb) if va is None else (nb, va)
        detail = other if isinstance(other, str) else other.describe()
        return [f"{missing} sent no response; the other sent:\n{detail}"]
    if isinstance(va, str) or isinstance(vb, str):
        return [m for m in (va, vb) if isinstance(m, str)]
    return diff(va, vb, names=names, skip=skip)
