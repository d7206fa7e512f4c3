# cython: language_level=3
"""Compiled twin of :meth:`takedown.dns.policy.Policy.decide` (issue 18).

The profile of a cache-cold query (docs/performance.md, "The decision and
the zone lookup") put a third of its in-process time in the decision: the
suffix walk over the rules and the blocklist, then :meth:`Zone.lookup`
splitting the owner's blob into a dictionary of RRsets and building a
:class:`Result` field by field. This module does the common shapes with C
integers over the bytes of the name and of the zone's blobs:

- the rule of the most specific suffix, the blocklist's exact names and
  wildcard entries, seized and DGA names: the sinkhole's answer;
- in a taken-over zone: an owner's RRset of the asked type (with the zone's
  NS RRset and its addresses, as NSD adds them), a wildcard's (RFC 4592),
  NODATA, NXDOMAIN (the SOA in authority, RFC 2308 s5), and referrals below
  a zone cut (RFC 1034 4.3.2).

Answers that do not depend on the query (NXDOMAIN and NODATA of a zone, the
referral at a cut) are one :class:`Decision` shared by every query. The
rare shapes go to the pure method, unchanged: CNAME and DNAME chains, ANY
(type or class), NS/MX/SRV answers (their targets' addresses), zones with
DNAMEs. Every shape gives a Decision equal to the pure one, field by field
(tests/test_dns_zone_accel.py); edit the two together.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize

include "_slots.pxi"

cdef enum:
    T_A = 1
    T_NS = 2
    T_CNAME = 5
    T_SOA = 6
    T_MX = 15
    T_AAAA = 28
    T_SRV = 33
    T_DS = 43
    T_DNSKEY = 48
    T_ANY = 255
    R_NOERROR = 0
    R_NXDOMAIN = 3

# Bound at the end of the module, from takedown.dns.policy and .zone.
cdef type Result = None
cdef type Decision = None
cdef object _Seized = None
cdef object _REFUSED = None


# Result and Decision are slotted dataclasses, made per answer: filled
# by _slots.pxi's _new and _put at these offsets (read at import).
cdef Py_ssize_t R_RCODE, R_AA, R_ANSWER, R_AUTHORITY, R_EXTRA, R_ADDITIONAL, R_EDE, R_BARE
cdef Py_ssize_t D_RESULT, D_RULE, D_FAMILY


cdef inline object _result(int rcode, bint aa, list answer, list authority, list extra, list additional):
    """Result(rcode, aa, answer, authority, extra, additional)."""
    r = _new(Result)
    _put(r, R_RCODE, rcode)
    _put(r, R_AA, aa)
    _put(r, R_ANSWER, answer)
    _put(r, R_AUTHORITY, authority)
    _put(r, R_EXTRA, extra)
    _put(r, R_ADDITIONAL, additional)
    _put(r, R_EDE, None)
    _put(r, R_BARE, False)
    return r


cdef inline object _decision(object result, object rule, object family):
    """Decision(result, rule, family)."""
    d = _new(Decision)
    _put(d, D_RESULT, result)
    _put(d, D_RULE, rule)
    _put(d, D_FAMILY, family)
    return d


cdef inline bytes _tail(bytes name, const unsigned char* p, Py_ssize_t i, Py_ssize_t n):
    """name[i:], with 0 <= i <= n."""
    return name if i == 0 else PyBytes_FromStringAndSize(<const char*>p + i, n - i)


cdef class _SeizedRule:
    """policy._Seized: the name and everything below it answer with the sinkhole."""
    cdef bytes apex
    cdef object rule
    cdef object family

    def __init__(self, seized):
        self.apex = seized.apex
        self.rule = seized.rule
        self.family = seized.family


cdef class _ZoneRule:
    """policy._TakenZone with what its lookups read, typed, and the answers
    that do not depend on the query built once."""
    cdef object zone
    cdef bytes origin
    cdef Py_ssize_t olen
    cdef set exact
    cdef set wild
    cdef dict nodes
    cdef set ents
    cdef set cuts
    cdef bint has_wildcards
    cdef bint has_dnames
    cdef object rule_block
    cdef object rule_pass
    cdef object family
    cdef object nxdomain  # Decision
    cdef object nodata  # Decision
    cdef list apex_extra  # [the apex NS RRset]: extra authority of positive answers
    cdef list apex_add  # the additional RRsets of the apex NS targets: A ones, then AAAA ones
    cdef set apex_targets  # owners of those RRsets
    cdef list apex_found  # zone.apex_ns()'s (target, {type: RRset})
    cdef dict referrals  # cut -> Decision

    def __init__(self, tz):
        zone = tz.zone
        self.zone = zone
        self.origin = zone.origin
        self.olen = len(zone.origin)
        self.exact = tz.exact
        self.wild = tz.wild
        self.nodes = zone.nodes
        self.ents = zone.ents
        self.cuts = zone.cuts
        self.has_wildcards = zone.has_wildcards
        self.has_dnames = zone.has_dnames
        self.rule_block = tz.rule_block
        self.rule_pass = tz.rule_pass
        self.family = tz.family
        soa = [[(zone.origin, zone.soa_neg)]]
        self.nxdomain = _decision(_result(R_NXDOMAIN, True, [], soa, [], []), tz.rule_pass, None)
        self.nodata = _decision(_result(R_NOERROR, True, [], soa, [], []), tz.rule_pass, None)
        ns, found = zone.apex_ns()
        self.apex_extra = [ns]
        self.apex_found = found
        self.apex_add = self._addresses(None, 0)
        self.apex_targets = {target for target, _sets in found}
        self.referrals = {}

    cdef list _addresses(self, bytes qn, int qtype):
        """Zone._addresses for an answer of one RRset, (qn, qtype), and the apex NS targets."""
        cdef list out = []
        for rtype in (T_A, T_AAAA):
            for target, sets in self.apex_found:
                if rtype in sets and not (rtype == qtype and target == qn):
                    out.append(sets[rtype])
        return out

    cdef object blocked(self, bytes qn):
        """_TakenZone.blocked: the blocklist entry that sinks ``qn``, or None."""
        cdef const unsigned char* p = qn
        cdef Py_ssize_t n = len(qn)
        cdef Py_ssize_t i = 0
        if qn in self.exact:
            return qn
        if self.wild:
            while n - i >= self.olen:
                key = _tail(qn, p, i, n)
                if key in self.wild:
                    return key
                if key == self.origin:
                    break
                i += p[i] + 1
        return None

    cdef object find_cut(self, bytes qn):
        """Zone.find_cut: the highest zone cut at or above ``qn``."""
        cdef const unsigned char* p = qn
        cdef Py_ssize_t n = len(qn)
        cdef Py_ssize_t i = 0
        found = None
        while n - i > self.olen:
            key = _tail(qn, p, i, n)
            if key in self.cuts:
                found = key
            i += p[i] + 1
        return found

    cdef bytes closest_encloser(self, bytes qn):
        """The nearest existing name strictly above ``qn`` (RFC 4592 s3.3.1),
        for a ``qn`` that does not exist: the origin exists, so the walk
        stops there at the latest."""
        cdef const unsigned char* p = qn
        cdef Py_ssize_t n = len(qn)
        cdef Py_ssize_t i = p[0] + 1
        while True:
            ce = _tail(qn, p, i, n)
            if n - i <= self.olen or ce in self.nodes or ce in self.ents:
                return ce
            i += p[i] + 1

    cdef object lookup(self, bytes qn, int qtype):
        """The Decision of Zone.lookup's common shapes (class IN), or None
        for the pure code to answer."""
        cdef const unsigned char* b
        cdef Py_ssize_t j, k, m
        cdef int t
        cdef bint has_cname = False
        if self.has_dnames:
            return None
        if self.cuts:
            cut = self.find_cut(qn)
            if cut is not None and not (qtype == T_DS and cut == qn):
                d = self.referrals.get(cut)
                if d is None:
                    ref = self.zone.referral(cut)
                    d = _decision(_result(R_NOERROR, False, [], ref.authority, [], ref.additional),
                                  self.rule_pass, None)
                    self.referrals[cut] = d
                return d
        blob = self.nodes.get(qn)
        if blob is None:
            if qn in self.ents:
                return self.nodata
            if not self.has_wildcards:
                return self.nxdomain
            star = b"\x01*" + self.closest_encloser(qn)
            blob = self.nodes.get(star)
            if blob is None:
                return self.nodata if star in self.ents else self.nxdomain
        cdef bytes rec_blob = blob
        cdef list recs = []
        b = rec_blob
        m = len(rec_blob)
        j = 0
        while j < m:
            if j + 10 > m:
                return None  # not a blob Zone.load made: the pure code decides
            t = (b[j] << 8) | b[j + 1]
            k = j + 10 + ((b[j + 8] << 8) | b[j + 9])
            if k > m:
                return None
            if t == T_CNAME:
                has_cname = True
            if t == qtype:
                recs.append((qn, PyBytes_FromStringAndSize(<const char*>b + j, k - j)))
            j = k
        if has_cname and qtype != T_CNAME:
            return None  # a chain
        if not recs:
            return self.nodata
        if qtype == T_NS or qtype == T_MX or qtype == T_SRV:
            return None  # their targets' addresses
        if qtype == T_DS or qtype == T_DNSKEY:
            return _decision(_result(R_NOERROR, True, [recs], [], [], []), self.rule_pass, None)
        if qn in self.apex_targets:
            additional = self._addresses(qn, qtype)
        else:
            additional = self.apex_add
        return _decision(_result(R_NOERROR, True, [recs], [], self.apex_extra, additional), self.rule_pass, None)


cdef class Decider:
    """Policy.decide and Policy.limit_name for one policy, compiled: what
    the policy binds as its ``decide`` and ``limit_name`` when this module
    is built."""
    cdef object policy
    cdef object pure
    cdef dict rules
    cdef list sink_a
    cdef list sink_aaaa
    cdef list sink_ns
    cdef list sink_glue
    cdef bytes sink_soa

    def __init__(self, policy):
        self.policy = policy
        self.pure = type(policy).decide
        s = policy.sinkhole
        self.sink_a = s.a
        self.sink_aaaa = s.aaaa
        self.sink_ns = s.ns
        self.sink_glue = s.glue_rrsets
        self.sink_soa = s.soa
        zones = {id(tz): _ZoneRule(tz) for tz in policy.zones}
        self.rules = {}
        for name, rule in policy.rules.items():
            self.rules[name] = _SeizedRule(rule) if type(rule) is _Seized else zones[id(rule)]

    cdef object _rule(self, bytes qn):
        """Policy._rule: the rule of the most specific suffix of ``qn``."""
        cdef const unsigned char* p = qn
        cdef Py_ssize_t n = len(qn)
        cdef Py_ssize_t i = 0
        cdef dict rules = self.rules
        while True:
            rule = rules.get(_tail(qn, p, i, n) if i <= n else b"")
            if rule is not None:
                return rule
            if i >= n:
                raise IndexError("index out of range")  # as the pure code's qn[i]
            if p[i] == 0:
                return None
            i += p[i] + 1

    cdef object _sinkhole(self, bytes qn, bytes apex, int qtype, object rule, object family):
        """Sinkhole.answer: the sinkhole's records for ``qn``, sunk under ``apex``."""
        cdef list recs
        cdef list additional = []
        if qtype == T_A or qtype == T_ANY:
            recs = self.sink_a if (self.sink_a or qtype == T_A) else self.sink_aaaa
        elif qtype == T_AAAA:
            recs = self.sink_aaaa
        elif qtype == T_NS:
            recs = self.sink_ns
            additional = self.sink_glue
        elif qtype == T_SOA and qn == apex:
            recs = [self.sink_soa]
        else:
            recs = None
        if recs:
            res = _result(R_NOERROR, True, [[(qn, r) for r in recs]], [], [], additional)
        else:
            res = _result(R_NOERROR, True, [], [[(apex, self.sink_soa)]], [], additional)
        return _decision(res, rule, family)

    def decide(self, bytes qn not None, int qtype, bint any_class=False):
        """Policy.decide: the Decision for lowercased wire name ``qn`` and ``qtype``."""
        cdef _SeizedRule seized
        cdef _ZoneRule z
        rule = self._rule(qn)
        if rule is None:
            return _REFUSED
        if type(rule) is _SeizedRule:
            seized = <_SeizedRule>rule
            return self._sinkhole(qn, seized.apex, qtype, seized.rule, seized.family)
        z = <_ZoneRule>rule
        apex = z.blocked(qn)
        if apex is not None:
            return self._sinkhole(qn, apex, qtype, z.rule_block, z.family)
        if not any_class and qtype != T_ANY:
            d = z.lookup(qn, qtype)
            if d is not None:
                return d
        return self.pure(self.policy, qn, qtype, any_class)

    def limit_name(self, bytes qn not None):
        """Policy.limit_name: the name an answer for ``qn`` is rate limited under."""
        cdef _ZoneRule z
        rule = self._rule(qn)
        if rule is None:
            return qn
        if type(rule) is _SeizedRule:
            return (<_SeizedRule>rule).apex
        z = <_ZoneRule>rule
        apex = z.blocked(qn)
        if apex is not None:
            return apex
        if z.has_wildcards and not (qn in z.nodes or qn in z.ents):
            ce = z.closest_encloser(qn)
            if b"\x01*" + ce in z.nodes:
                return ce
        return qn


# Last, so that takedown.dns.policy, importing this module when a Policy is
# built, is complete whichever of the two is imported first.
from takedown.dns import policy as _policy  # noqa: E402
from takedown.dns import zone as _zone  # noqa: E402

Result = _zone.Result
Decision = _policy.Decision
R_RCODE, R_AA, R_ANSWER, R_AUTHORITY, R_EXTRA, R_ADDITIONAL, R_EDE, R_BARE = (
    _slot(Result, f) for f in ("rcode", "aa", "answer", "authority", "extra_authority", "additional", "ede", "bare"))
D_RESULT, D_RULE, D_FAMILY = (_slot(Decision, f) for f in ("result", "rule", "family"))
_Seized = _policy._Seized
_REFUSED = _policy._REFUSED
