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
"""

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
    # The RRL account of the two answers a flood gets most, as _rrl_key makes
    # it: a zone's NXDOMAIN (its shared key, once made) and an error; the rest there.
    rk = None
    if rcode == R_NXDOMAIN and res.authority:
        rc = _NXDOMAINS
        rk = r._shared.get((_NXDOMAINS, res.authority[0][0][0], None))
    elif rcode != R_NOERROR and rcode != R_NXDOMAIN:
        rc, rk = _ERRORS, _ERROR_KEY
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


# Last, so that takedown.dns.responder, importing this module at its end, is
# complete whichever of the two is imported first.
from takedown.dns import responder as _responder  # noqa: E402
from takedown.dns import wire as _wire  # noqa: E402
from takedown.dns.rrl import ERROR_KEY as _ERROR_KEY  # noqa: E402
from takedown.dns.rrl import ERRORS as _ERRORS  # noqa: E402
from takedown.dns.rrl import NXDOMAINS as _NXDOMAINS  # noqa: E402

cdef type _Entry = _responder._Entry
_ENTRY_SLOTS = ("head", "tail", "qname", "qtype", "rcode", "rule", "family", "size", "bare", "rc", "rk", "gen", "tk")
if tuple(_Entry.__slots__) != _ENTRY_SLOTS:
    raise ImportError("takedown.dns.responder._Entry has other slots: update _entry in _responder_c")
E_HEAD, E_TAIL, E_QNAME, E_QTYPE, E_RCODE, E_RULE, E_FAMILY, E_SIZE, E_BARE, E_RC, E_RK, E_GEN, E_TK = (
    _slot(_Entry, f) for f in _ENTRY_SLOTS)
