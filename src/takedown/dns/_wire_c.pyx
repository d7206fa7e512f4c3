# cython: language_level=3
"""Compiled twins of the cache-miss half of :mod:`takedown.dns.wire` (issue 18).

The profile of a cache-cold query (docs/performance.md, bench/dns_micro.py)
put a third of its time in rendering the answer: the name compression of
RFC 1035 s4.1.4, a dictionary of name suffixes and many small byte slices.
These are the same algorithms as :func:`takedown.dns.wire.render` and
:func:`takedown.dns.wire.name_to_text`, line for line, with C integers and
direct byte access where the pure code indexes Python objects; the tests
(tests/test_dns_accel.py) hold both to identical bytes. Edit the two together.
"""

import struct

import dns.name

cdef object _H = struct.Struct("!HHHHHH")
cdef object _U16 = struct.Struct("!H")

# RR types whose RDATA names are compressed (RFC 3597 s4), as wire._COMPRESSIBLE
cdef enum:
    T_NS = 2
    T_CNAME = 5
    T_SOA = 6
    T_PTR = 12
    T_MX = 15


cdef tuple _read_name(bytes data, Py_ssize_t offset):
    """wire.read_name: an uncompressed name at ``offset`` and the offset past it."""
    cdef const unsigned char* p = data
    cdef Py_ssize_t end = len(data)
    cdef Py_ssize_t i = offset
    cdef unsigned char ln
    while True:
        if i >= end:
            _fail("name runs past the end of the packet")
        ln = p[i]
        if ln == 0:
            i += 1
            break
        if ln > 63:
            _fail("compressed or invalid label in question")
        i += ln + 1
    if i - offset > 255:
        _fail("name longer than 255 octets")
    return data[offset:i], i


cdef _fail(str message):
    raise _wire.WireError(message)


cdef class _Writer:
    """wire._Writer: appends names compressed against names already written."""

    cdef list parts
    cdef Py_ssize_t size
    cdef dict seen
    cdef list added

    def __cinit__(self, bytes first, bytes qname_lower):
        self.parts = [first]
        self.size = len(first)
        self.seen = {}
        self.added = []
        self._remember(qname_lower, 12, 256)

    cdef _remember(self, bytes name, Py_ssize_t at, Py_ssize_t upto):
        cdef const unsigned char* p = name
        cdef Py_ssize_t n = len(name)
        cdef Py_ssize_t i = 0
        cdef dict seen = self.seen
        while True:
            if i >= n:
                raise IndexError("index out of range")  # as the pure code's name[i]
            if not p[i] or i >= upto or at + i >= 0x3FFF:
                break
            key = name[i:]
            if key not in seen:
                seen[key] = at + i
                self.added.append(key)
            i += p[i] + 1

    cdef name(self, bytes name):
        cdef bytes low = name.lower()
        cdef const unsigned char* p = name
        cdef Py_ssize_t n = len(name)
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t ptr
        cdef dict seen = self.seen
        while True:
            if i >= n:
                raise IndexError("index out of range")
            if not p[i]:
                break
            found = seen.get(low[i:])
            if found is not None:
                ptr = found
                if i:
                    self._remember(low, self.size, i)
                self.parts.append(name[:i] + bytes((0xC0 | (ptr >> 8), ptr & 0xFF)))
                self.size += i + 2
                return
            i += p[i] + 1
        self._remember(low, self.size, 256)
        self.parts.append(name)
        self.size += n

    cdef record(self, bytes owner, bytes rec):
        cdef Py_ssize_t pos, count, at, start, k
        cdef int rtype
        self.name(owner)
        rtype = (rec[0] << 8) | rec[1]
        if rtype == T_NS or rtype == T_CNAME or rtype == T_PTR:
            pos, count = 0, 1
        elif rtype == T_MX:
            pos, count = 2, 1
        elif rtype == T_SOA:
            pos, count = 0, 2
        else:
            self.raw(rec)
            return
        at = len(self.parts)
        self.raw(rec[:10])
        start = self.size
        rd = rec[10:]
        if pos:
            self.raw(rd[:pos])
        for k in range(count):
            nm, pos = _read_name(rd, pos)
            self.name(nm)
        if pos < len(rd):
            self.raw(rd[pos:])
        self.parts[at] = rec[:8] + _U16.pack(self.size - start)

    cdef raw(self, bytes b):
        self.parts.append(b)
        self.size += len(b)


def render(query, data, rcode, aa, answer=(), authority=(), extra_authority=(), additional=(),
           opt=None, Py_ssize_t limit=65535, bare=False):
    """wire.render, compiled: a response to ``query`` from RRsets of (owner, rec)."""
    cdef long flags = 0x8000 | (query.flags & (0x7800 | 0x0100)) | (0x0400 if aa else 0) | (rcode & 0xF)
    cdef int arc = 1 if opt is not None else 0
    cdef Py_ssize_t room, nparts, size, nadded
    cdef Py_ssize_t counts[3]
    cdef int idx
    cdef bint tc = False
    cdef bint stopped = False
    cdef _Writer w
    if bare:
        return _H.pack(query.id, flags, 0, 0, 0, arc) + (opt or b"")
    w = _Writer(b"\0" * 12 + data[12 : query.question_end], query.qname.lower())
    room = limit - (len(opt) if opt is not None else 0)
    counts[0] = counts[1] = counts[2] = 0
    for idx, rrsets, required in ((0, answer, True), (1, authority, True), (1, extra_authority, False),
                                  (2, additional, False)):
        for rrset in rrsets:
            nparts, size, nadded = len(w.parts), w.size, len(w.added)
            for owner, rec in rrset:
                w.record(owner, rec)
            if w.size > room:
                del w.parts[nparts:]
                w.size = size
                for key in w.added[nadded:]:
                    del w.seen[key]
                del w.added[nadded:]
                tc = required
                stopped = True
                break
            counts[idx] += len(rrset)
        if stopped:
            break
    if opt is not None:
        w.raw(opt)
    w.parts[0] = _H.pack(query.id, flags | (0x0200 if tc else 0), 1, counts[0], counts[1], counts[2] + arc) + w.parts[0][12:]
    return b"".join(w.parts)


def name_to_text(wire):
    """wire.name_to_text, compiled: presentation form without the final dot.
    A bytearray or memoryview goes to the pure function (the server passes bytes)."""
    cdef const unsigned char* p
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n, j, end
    cdef unsigned char c, ln
    if type(wire) is not bytes:
        return _wire._PURE.name_to_text(wire)
    p = <bytes>wire
    n = len(wire)
    if wire == b"\x00":
        return "."
    ln = p[0] if n else 0
    if not n:
        raise IndexError("index out of range")
    while ln:
        end = i + 1 + ln
        if end > n:
            end = n
        if end <= i + 1:
            break  # an empty label: the pure code's fullmatch fails and dnspython decides
        for j in range(i + 1, end):
            c = p[j]
            # [A-Za-z0-9_*-], wire._PLAIN
            if not (97 <= c <= 122 or 65 <= c <= 90 or 48 <= c <= 57 or c == 95 or c == 42 or c == 45):
                return dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
        i += ln + 1
        if i >= n:
            raise IndexError("index out of range")
        ln = p[i]
    if ln:
        return dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
    out = bytearray(wire[1:i]) if i else bytearray()
    j = 0
    while j < i - 1:
        ln = p[j]
        if j:
            out[j - 1] = 0x2E  # the length byte of every label after the first becomes the dot
        j += ln + 1
    return out.decode("ascii")


def parse_query(data):
    """wire.parse_query, compiled: a :class:`wire.Query`, or :class:`wire.WireError`.
    A bytearray or memoryview goes to the pure function, as for name_to_text."""
    cdef const unsigned char* p
    cdef Py_ssize_t n, pos, qend
    cdef unsigned int qid, flags, qd, an, ns, ar, qtype, qclass
    if type(data) is not bytes:
        return _wire._PURE.parse_query(data)
    p = <bytes>data
    n = len(data)
    WireError = _wire.WireError
    if n < 12:
        raise WireError("shorter than a DNS header", None)
    qid = (p[0] << 8) | p[1]
    flags = (p[2] << 8) | p[3]
    qd = (p[4] << 8) | p[5]
    an = (p[6] << 8) | p[7]
    ns = (p[8] << 8) | p[9]
    ar = (p[10] << 8) | p[11]
    if flags & 0x8000:
        raise WireError("a response, not a query", None)
    if qd != 1 or n == 12:
        raise WireError(f"QDCOUNT {qd}, expected 1", no_question=qd == 0 or n == 12)
    qname, pos = _read_name(data, 12)
    if pos + 4 > n:
        raise WireError("question runs past the end of the packet")
    qtype = (p[pos] << 8) | p[pos + 1]
    qclass = (p[pos + 2] << 8) | p[pos + 3]
    qend = pos + 4
    if an or ns:
        raise WireError("a query with answer or authority records")
    edns = None
    edns_error = None
    if ar:
        if ar != 1:
            raise WireError(f"ARCOUNT {ar}, expected at most one OPT record")
        edns, edns_error, _stop = _wire._parse_opt(data, qend, n)
    return _wire.Query(qid, flags, (flags >> 11) & 0xF, qname, qtype, qclass, qend, edns, edns_error)


# Last, so that every function above exists when takedown.dns.wire, importing
# this module at its end, looks them up (whichever of the two is imported first).
from takedown.dns import wire as _wire  # noqa: E402
