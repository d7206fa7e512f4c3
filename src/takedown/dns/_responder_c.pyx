# cython: language_level=3
"""Compiled twin of the common cache miss of :class:`takedown.dns.responder.Responder` (issue 18).

The profile of the compiled cold pass (docs/performance.md, "The miss
compiled") put most of a cache-cold query, after the compiled decision, in
the responder's own Python around it: ``_slow`` scanning the question again
through ``wire.parse_query`` (a ``Query`` and its ``Edns``), the cache key
made again, ``_decide``'s class and type checks, ``_render_result``,
``_miss``. A random-subdomain flood is almost all plain or EDNS-without-
options queries of class IN: for those, :func:`plain_miss` goes from the
question the fast path already scanned to the cached :class:`_Entry` in one
call, with the same decision, the same renderer and the same RRL key as
``Responder._miss``, and inserts it into the answer cache under the same
bounds. Everything else (other classes, AXFR/IXFR, a bare answer, a name
longer than 255 octets) returns None and goes to the pure ``_slow``, which
stays the reference (tests/test_dns_miss_accel.py holds the two to identical
bytes, events, RRL verdicts and cache contents). Edit the two together.

:func:`front` is the whole fast path of ``Responder.respond`` before it: the
profile of the compiled cold pass (docs/performance.md, "The front
compiled") put 57 % of it in ``respond`` itself (the question scanned by a
Python loop, four byte objects for the cache key) and 18 % in ``_record``.
Here the header, labels and OPT record are read from the packet's bytes, the
key is made once (lower-cased in C), the miss is :func:`plain_miss`'s C
function, the event is ``_record``'s, and the answer is spliced into one new
bytes object. ``Responder.respond`` is this function when the twin is built;
the pure method (``takedown.dns.responder.respond_pure``) is the reference
(tests/test_dns_front_accel.py).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_CheckExact, PyDict_GetItem
from cpython.long cimport PyLong_CheckExact
from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport memcpy

include "_slots.pxi"


cdef enum:
    T_IXFR = 251
    T_AXFR = 252
    R_NOERROR = 0
    R_NXDOMAIN = 3

# _Entry's __init__ is Python code run once per miss: _entry fills a new
# one's slots with _slots.pxi's _new and _put, at these offsets (read at
# import), as takedown.dns._policy_c fills Result and Decision.
cdef Py_ssize_t E_HEAD, E_TAIL, E_QNAME, E_QTYPE, E_RCODE, E_RULE, E_FAMILY, E_SIZE, E_BARE, E_RC, E_RK, E_GEN, E_TK


cdef object _entry(bytes full, Py_ssize_t qend, str qtext, int qtype, object rcode, object rule, object family,
                   object rc, object rk):
    """_Entry(full, qend, qtext, qtype, rcode, rule, family, False, rc, rk)."""
    e = _new(_Entry)
    _put(e, E_RC, rc)
    _put(e, E_RK, rk)
    _put(e, E_BARE, False)
    _put(e, E_HEAD, full[2:12])
    _put(e, E_TAIL, full[qend:])
    _put(e, E_SIZE, len(full))
    _put(e, E_QNAME, qtext)
    _put(e, E_QTYPE, qtype)
    _put(e, E_RCODE, rcode)
    _put(e, E_RULE, rule)
    _put(e, E_FAMILY, family)
    _put(e, E_GEN, None)
    _put(e, E_TK, 0)
    return e


cdef class _Question:
    """The fields of a ``wire.Query`` that ``wire.render`` reads, for a
    question already scanned: no ``Query``, no ``Edns``."""
    cdef readonly int id
    cdef readonly int flags
    cdef readonly bytes qname
    cdef readonly Py_ssize_t question_end


def plain_miss(r, bytes data not None, Py_ssize_t qend, bytes key not None, bint edns, bint do):
    """The answer-cache entry for a plain (``edns`` False) or EDNS-without-
    options query ``data`` whose question ends at ``qend`` (the fast path of
    ``Responder.respond`` checked the header, the labels, class IN and the
    OPT record), made and cached as ``Responder._miss`` makes it; or None
    for the pure path to answer."""
    return _plain_miss(r, data, qend, key, edns, do)


cdef object _plain_miss(r, bytes data, Py_ssize_t qend, bytes key, bint edns, bint do):
    """:func:`plain_miss` (what :func:`front` calls)."""
    cdef const unsigned char* p = data
    cdef Py_ssize_t n = len(data)
    cdef int qtype
    cdef int rcode
    cdef _Question q
    if qend < 17 or qend > n or qend - 16 > 255:
        return None  # wire.read_name refuses a name longer than 255 octets: FORMERR, the pure path's
    qtype = (p[qend - 4] << 8) | p[qend - 3]
    if qtype == T_AXFR or qtype == T_IXFR:
        return None
    qn = data[12 : qend - 4].lower()
    d = r.policy.decide(qn, qtype, False)
    res = d.result
    if res.bare:
        return None
    rcode = res.rcode
    opt = None
    if edns:
        ede = res.ede
        if ede is None and rcode < 16:
            opt = r._opt[do]  # wire.opt_record(max_udp, do), made once
        else:
            opt = _wire.opt_record(r.max_udp, do, rcode >> 4, ede)
    q = _Question.__new__(_Question)
    q.id = (p[0] << 8) | p[1]
    q.flags = (p[2] << 8) | p[3]
    q.qname = qn
    q.question_end = qend
    full = _wire.render(q, data, rcode & 0xF, res.aa, res.answer, res.authority, res.extra_authority,
                        res.additional, opt=opt, limit=65535, bare=False)
    qtext = _wire.name_to_text(qn)
    # The RRL account as _rrl_key makes it, for the answers a flood gets
    # most: a zone's NXDOMAIN (its shared key, once made), an error, a
    # positive answer or a NODATA under a name of its own; the rest there.
    rk = None
    if rcode == R_NXDOMAIN and res.authority:
        rc = _NXDOMAINS
        rk = r._shared.get((_NXDOMAINS, res.authority[0][0][0], None))
    elif rcode != R_NOERROR and rcode != R_NXDOMAIN:
        rc, rk = _ERRORS, _ERROR_KEY
    elif rcode == R_NOERROR and (res.answer or res.aa or not res.authority):  # (not a referral)
        ln = r.policy.limit_name(qn)
        if ln is qn or ln == qn:
            if res.answer:
                rc, rk = _RESPONSES, f"R{qtext}/{qtype}"
            else:
                rc, rk = _NODATA, "D" + qtext
        elif res.answer:  # an account the subtree's answers share
            rc, rk = _RESPONSES, r._shared_key(_RESPONSES, "R", ln, qtype)
        else:
            rc, rk = _NODATA, r._shared_key(_NODATA, "D", ln)
    if rk is None:
        rc, rk = r._rrl_key(qn, qtext, qtype, res)
    e = _entry(full, qend, qtext, qtype, res.rcode, d.rule, d.family, rc, rk)
    cache = r.cache
    if len(cache) >= _responder._CACHE_MAX:
        cache.clear()
        r._nx.clear()
    if rc == _NXDOMAINS:
        nx = r._nx
        count = nx.get(rk, 0)
        if count >= _responder._NX_PER_ZONE:
            return e  # a flood under this zone: answered, not remembered
        nx[rk] = count + 1
    cache[key] = e
    return e


cdef inline object _field(object e, Py_ssize_t offset, str name):
    """``e.<name>``: read from the slot of an ``_Entry`` (anything else, by its attribute)."""
    if type(e) is _Entry:
        return _got(e, offset, name)
    return getattr(e, name)


cdef inline void _set_field(object e, Py_ssize_t offset, str name, object value) except *:
    if type(e) is _Entry:
        _reput(e, offset, value)
    else:
        setattr(e, name, value)


cdef object _register(object ev, object e):
    """The key part of ``e``'s answer record in the event buffer ``ev``, as ``Responder._record`` registers it."""
    return ev.fresh(_field(e, E_QNAME, "qname"), _field(e, E_QTYPE, "qtype"), _field(e, E_RCODE, "rcode"),
                    _field(e, E_RULE, "rule"), _field(e, E_FAMILY, "family"))


cdef object _record(object r, object e, object at, object transport, object src_ip, object src_port, object dst_ip,
                    object dst_port):
    """``Responder._record(e, at, transport, src_ip, src_port, dst_ip, dst_port)``, the same event."""
    cdef long long k
    ev = r.events
    gen = ev.gen
    if _field(e, E_GEN, "gen") is not gen:
        _set_field(e, E_TK, "tk", _register(ev, e))
        gen = ev.gen
        _set_field(e, E_GEN, "gen", gen)
    if (dst_ip is not r._lip or dst_port != r._lport or transport is not r._ltr
            or r._lgen is not ev.gen):
        r._listener(transport, dst_ip, dst_port)
    r._tappend(at)
    r._sappend(src_ip)
    tk = _field(e, E_TK, "tk")
    lk = r._lk
    if PyLong_CheckExact(tk) and PyLong_CheckExact(lk) and PyLong_CheckExact(src_port):
        k = <long long>tk | <long long>lk | <long long>src_port  # (template index < 2**31: no overflow)
        r._kappend(k)
    else:
        r._kappend(tk | lk | src_port)
    return None


cdef object _front(object r, object data, object src_ip, object src_port, object transport, object dst_ip,
                   object dst_port, object now):
    """``Responder.respond`` (the pure method's fast path, line for line; the rest through ``r._slow``)."""
    cdef const unsigned char* p
    cdef Py_ssize_t n, i, ln, qend, limit = 512, mx, size, hn, tn, j
    cdef unsigned char c
    cdef char tag = 0
    cdef bytes key, out
    cdef char* o
    cdef PyObject* hit
    if not PyBytes_CheckExact(data):
        return _respond_pure(r, data, src_ip, src_port, transport, dst_ip, dst_port, now)
    udp = transport == "udp"
    n = PyBytes_GET_SIZE(data)
    p = <const unsigned char*>PyBytes_AS_STRING(data)
    # Fast path: one question, no answer/authority, no EDNS options.
    if (n > 16 and not (p[2] & 0xF8) and p[4] == 0 and p[5] == 1 and p[6] == 0 and p[7] == 0 and p[8] == 0
            and p[9] == 0 and p[10] == 0):
        i = 12
        ln = p[12]
        while ln:
            if ln > 63:
                i = -1
                break
            i += ln + 1
            if i >= n:
                i = -1  # the name runs past the packet
                break
            ln = p[i]
        if i > 0:
            qend = i + 5
            if p[11] == 0 and qend == n:
                tag = c'N'
            elif (p[11] == 1 and n == qend + 11 and p[qend] == 0 and p[qend + 1] == 0 and p[qend + 2] == 0x29
                    and p[qend + 6] == 0 and p[qend + 9] == 0 and p[qend + 10] == 0):
                tag = c'D' if p[qend + 7] & 0x80 else c'E'
                limit = (p[qend + 3] << 8) | p[qend + 4]
                if limit < 512:
                    limit = 512
                else:
                    mx = r.max_udp
                    if limit > mx:
                        limit = mx
            if tag and p[qend - 2] == 0 and p[qend - 1] == 1:
                # flags, counts and name case-folded (the flag bytes of a plain
                # query are below 0x41, so folding leaves them be), the type as
                # is, the tag: data[2:qend-4].lower() + data[qend-4:qend] + tag
                key = PyBytes_FromStringAndSize(NULL, qend - 1)
                o = PyBytes_AS_STRING(key)
                for j in range(qend - 6):
                    c = p[j + 2]
                    o[j] = c + 32 if 65 <= c <= 90 else c
                memcpy(o + qend - 6, p + qend - 4, 4)
                o[qend - 2] = tag
                cache = r.cache
                if PyDict_CheckExact(cache):
                    hit = PyDict_GetItem(cache, key)
                    e = <object>hit if hit != NULL else None
                else:
                    e = cache.get(key)
                if e is None:
                    miss = r.plain_miss
                    if miss is _PLAIN_MISS:
                        e = _plain_miss(r, data, qend, key, tag != c'N', tag == c'D')
                    elif miss is not None:
                        e = miss(r, data, qend, key, tag != c'N', tag == c'D')
                if e is not None:
                    size = _field(e, E_SIZE, "size")
                    if not udp or size <= limit:
                        if udp:
                            rrl = r.rrl
                            if rrl is not None:
                                verdict = rrl.check(src_ip, _field(e, E_RC, "rc"), _field(e, E_RK, "rk"), now)
                                if verdict is not _ALLOW and verdict != _ALLOW:
                                    return r._limited(verdict, data, e, now, src_ip, src_port, dst_ip, dst_port)
                        if type(r) is _Responder:
                            _record(r, e, now, transport, src_ip, src_port, dst_ip, dst_port)
                        else:  # a subclass's own _record
                            r._record(e, now, transport, src_ip, src_port, dst_ip, dst_port)
                        head = _field(e, E_HEAD, "head")
                        tail = _field(e, E_TAIL, "tail")
                        if not (PyBytes_CheckExact(head) and PyBytes_CheckExact(tail)):
                            return b"".join((data[:2], head, data[12:qend], tail))
                        # data[:2] + e.head + data[12:qend] + e.tail, in one allocation
                        hn = PyBytes_GET_SIZE(head)
                        tn = PyBytes_GET_SIZE(tail)
                        out = PyBytes_FromStringAndSize(NULL, hn + qend - 10 + tn)
                        o = PyBytes_AS_STRING(out)
                        memcpy(o, p, 2)
                        memcpy(o + 2, PyBytes_AS_STRING(head), hn)
                        memcpy(o + 2 + hn, p + 12, qend - 12)
                        memcpy(o + hn + qend - 10, PyBytes_AS_STRING(tail), tn)
                        return out
    return r._slow(data, now, udp, transport, src_ip, src_port, dst_ip, dst_port)


def front(self, data, src_ip, src_port, transport, dst_ip, dst_port, now):
    """Response bytes for one query, or None to stay silent: the compiled
    ``Responder.respond`` (see the module's docstring), the same bytes and
    the same event as the pure method. The UDP batch loop
    (``takedown.dns._udp_c.Drain``) calls its C function (:data:`FRONT`) directly."""
    return _front(self, data, src_ip, src_port, transport, dst_ip, dst_port, now)


#: The C function of :func:`front`, for a caller in C (``_udp_c.Drain``):
#: ``object (*)(r, data, src_ip, src_port, transport, dst_ip, dst_port, now)``.
FRONT = PyCapsule_New(<void*>_front, b"takedown.dns._responder_c.FRONT", NULL)


# Last, so that takedown.dns.responder, importing this module at its end, is
# complete whichever of the two is imported first.
from takedown.dns import responder as _responder  # noqa: E402
from takedown.dns import wire as _wire  # noqa: E402
from takedown.dns.rrl import ERROR_KEY as _ERROR_KEY  # noqa: E402
from takedown.dns.rrl import ERRORS as _ERRORS  # noqa: E402
from takedown.dns.rrl import NXDOMAINS as _NXDOMAINS  # noqa: E402
from takedown.dns.rrl import NODATA as _NODATA  # noqa: E402
from takedown.dns.rrl import RESPONSES as _RESPONSES  # noqa: E402
from takedown.dns.rrl import ALLOW as _ALLOW  # noqa: E402

cdef type _Entry = _responder._Entry
cdef type _Responder = _responder.Responder
cdef object _respond_pure = _responder.respond_pure
cdef object _PLAIN_MISS = plain_miss
_ENTRY_SLOTS = ("head", "tail", "qname", "qtype", "rcode", "rule", "family", "size", "bare", "rc", "rk", "gen", "tk")
if tuple(_Entry.__slots__) != _ENTRY_SLOTS:
    raise ImportError("takedown.dns.responder._Entry has other slots: update _entry in _responder_c")
E_HEAD, E_TAIL, E_QNAME, E_QTYPE, E_RCODE, E_RULE, E_FAMILY, E_SIZE, E_BARE, E_RC, E_RK, E_GEN, E_TK = (
    _slot(_Entry, f) for f in _ENTRY_SLOTS)
