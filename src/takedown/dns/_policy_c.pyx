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

The rare shapes of zonegen's 3322.org-like zone are answered here too
(docs/performance.md, "The decision's rare shapes"): CNAME chains inside
the zone (to data, NODATA, NXDOMAIN, a wildcard, a referral, a sunk name,
out of the zone, a loop) and NS/MX/SRV answers, whose in-zone targets'
addresses :meth:`Zone._targets` still finds (it is the one reference for
what a target contributes) while out-of-zone targets need nothing.

Answers that do not depend on the query (NXDOMAIN and NODATA of a zone, the
referral at a cut) are one :class:`Decision` shared by every query. The
truly rare shapes go to the pure method, unchanged: ANY (type or class),
zones with DNAMEs, blobs and names that Zone.load did not make. Every shape
gives a Decision equal to the pure one, field by field
(tests/test_dns_zone_accel.py, tests/test_dns_policy_shapes_accel.py); edit
the two together.
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


cdef class _Sink:
    """policy.Sinkhole's pre-encoded records, typed."""
    cdef list a
    cdef list aaaa
    cdef list ns
    cdef list glue
    cdef bytes soa

    def __init__(self, s):
        self.a = s.a
        self.aaaa = s.aaaa
        self.ns = s.ns
        self.glue = s.glue_rrsets
        self.soa = s.soa

    cdef object answer(self, bytes qn, bytes apex, int qtype):
        """Sinkhole.answer: the sinkhole's Result for ``qn``, sunk under ``apex``."""
        cdef list recs
        cdef list additional = []
        if qtype == T_A or qtype == T_ANY:
            recs = self.a if (self.a or qtype == T_A) else self.aaaa
        elif qtype == T_AAAA:
            recs = self.aaaa
        elif qtype == T_NS:
            recs = self.ns
            additional = self.glue
        elif qtype == T_SOA and qn == apex:
            recs = [self.soa]
        else:
            recs = None
        if recs:
            return _result(R_NOERROR, True, [[(qn, r) for r in recs]], [], [], additional)
        return _result(R_NOERROR, True, [], [[(apex, self.soa)]], [], additional)


cdef inline object _rdata_name(bytes rec, Py_ssize_t start):
    """zone.rdata_name for a record of a blob Zone.load made: the lowercased
    wire name at ``start`` filling the rest of the RDATA, or None when it
    is not exactly that (the pure code then decides)."""
    cdef const unsigned char* p = rec
    cdef Py_ssize_t n = len(rec)
    cdef Py_ssize_t i = start
    cdef unsigned char ln
    while i < n:
        ln = p[i]
        if ln == 0:
            if i + 1 != n or i + 1 - start > 255:
                return None
            return PyBytes_FromStringAndSize(<const char*>p + start, n - start).lower()
        if ln > 63:
            return None
        i += ln + 1
    return None


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
    cdef list soa  # the authority section of NXDOMAIN and NODATA
    cdef _Sink sink
    cdef dict seized  # seized (and DGA) name -> its apex: Policy._sunk_in's rules
    cdef int max_chain

    def __init__(self, tz, _Sink sink, dict seized):
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
        self.soa = soa
        self.sink = sink
        self.seized = seized
        self.max_chain = _zone._MAX_CHAIN
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

    cdef object sunk_apex(self, bytes qn):
        """Policy._sunk_in's closure: the apex of the blocklist entry or the
        seized name at or above ``qn`` (below the origin), or None."""
        cdef const unsigned char* p = qn
        cdef Py_ssize_t n = len(qn)
        cdef Py_ssize_t i = 0
        apex = self.blocked(qn)
        if apex is not None or not self.seized:
            return apex
        while n - i > self.olen:
            apex = self.seized.get(_tail(qn, p, i, n))
            if apex is not None:
                return apex
            i += p[i] + 1
        return None

    cdef bint in_zone(self, bytes name):
        """Zone.in_zone."""
        cdef const unsigned char* p = name
        cdef Py_ssize_t n = len(name)
        cdef Py_ssize_t i = 0
        while n - i > self.olen:
            i += p[i] + 1
        return n - i == self.olen and _tail(name, p, i, n) == self.origin

    cdef object referral(self, bytes cut):
        """The shared Decision of the referral at ``cut``."""
        d = self.referrals.get(cut)
        if d is None:
            ref = self.zone.referral(cut)
            d = _decision(_result(R_NOERROR, False, [], ref.authority, [], ref.additional), self.rule_pass, None)
            self.referrals[cut] = d
        return d

    cdef object _end(self, int rcode, list answer, list authority, list additional):
        """The Decision of a chain that ended without data (Zone._answer
        returned None): no extra authority, nothing merged."""
        return _decision(_result(rcode, True, answer, authority, [], additional), self.rule_pass, None)

    cdef object lookup(self, bytes qn, int qtype):
        """The Decision of Zone.lookup (class IN, not ANY), or None for the
        pure code to answer. One step per name, as Zone._answer: a CNAME
        moves on to its target in this zone."""
        cdef const unsigned char* b
        cdef Py_ssize_t j, k, m
        cdef int t
        cdef int hops = 0
        cdef list answer = None  # the chain's RRsets so far (hops > 0)
        cdef set added = None  # owners of the CNAMEs in it (a loop ends the chain)
        cdef list recs
        cdef list cnames
        cdef bytes rec_blob
        if self.has_dnames:
            return None
        while True:
            if hops:
                apex = self.sunk_apex(qn)
                if apex is not None:  # a chain into a sunk name ends at the sinkhole
                    sub = self.sink.answer(qn, apex, qtype)
                    answer.extend(sub.answer)
                    return self._end(R_NOERROR, answer, sub.authority, sub.additional)
            if self.cuts:
                cut = self.find_cut(qn)
                if cut is not None and not (qtype == T_DS and cut == qn):
                    d = self.referral(cut)
                    if not hops:
                        return d
                    ref = d.result
                    return self._end(R_NOERROR, answer, ref.authority, ref.additional)
            blob = self.nodes.get(qn)
            if blob is None:
                if qn in self.ents:
                    return self._end(R_NOERROR, answer, self.soa, []) if hops else self.nodata
                if not self.has_wildcards:
                    return self._end(R_NXDOMAIN, answer, self.soa, []) if hops else self.nxdomain
                star = b"\x01*" + self.closest_encloser(qn)
                blob = self.nodes.get(star)
                if blob is None:
                    if star in self.ents:
                        return self._end(R_NOERROR, answer, self.soa, []) if hops else self.nodata
                    return self._end(R_NXDOMAIN, answer, self.soa, []) if hops else self.nxdomain
            rec_blob = blob
            recs = []
            cnames = None
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
                if t == qtype:
                    recs.append((qn, PyBytes_FromStringAndSize(<const char*>b + j, k - j)))
                elif t == T_CNAME:
                    if cnames is None:
                        cnames = []
                    cnames.append((qn, PyBytes_FromStringAndSize(<const char*>b + j, k - j)))
                j = k
            if cnames is not None:  # and qtype is not CNAME: the chain goes on
                if added is None:
                    answer, added = [], set()
                elif qn in added:  # a loop: the answer holds this CNAME already
                    return self._end(R_NOERROR, answer, [], [])
                target = _rdata_name(cnames[0][1], 10)
                if target is None:
                    return None
                added.add(qn)
                answer.append(cnames)
                hops += 1
                if hops > self.max_chain or not self.in_zone(target):
                    return self._end(R_NOERROR, answer, [], [])
                qn = target
                continue
            if not recs:
                return self._end(R_NOERROR, answer, self.soa, []) if hops else self.nodata
            if hops:
                answer.append(recs)
            else:
                answer = [recs]
            if qtype == T_NS or qtype == T_MX or qtype == T_SRV:
                return self._with_targets(answer, recs, qtype)
            if qtype == T_DS or qtype == T_DNSKEY:
                return _decision(_result(R_NOERROR, True, answer, [], [], []), self.rule_pass, None)
            if qn in self.apex_targets:
                additional = self._addresses(qn, qtype)
            else:
                additional = self.apex_add
            return _decision(_result(R_NOERROR, True, answer, [], self.apex_extra, additional), self.rule_pass, None)

    cdef object _with_targets(self, list answer, list recs, int qtype):
        """Zone.lookup's end for an NS, MX or SRV RRset: the addresses of its
        in-zone targets (found by Zone._targets), and for MX and SRV the
        apex NS RRset and its targets' addresses after them. The answer
        holds no A or AAAA RRset, so none is left out of the additional
        section (Zone._addresses' ``present``)."""
        cdef Py_ssize_t start = 10 if qtype == T_NS else (12 if qtype == T_MX else 16)
        cdef list found = []
        cdef bint inside = False
        for _owner, rec in recs:
            if len(rec) <= start:
                return None
            target = _rdata_name(rec, start)
            if target is None:
                return None
            if self.in_zone(target):
                inside = True
        if inside:
            self.zone._targets(found, [r for _o, r in recs], qtype == T_NS)
        if qtype == T_NS:
            return _decision(_result(R_NOERROR, True, answer, [], [], _in_order(found)), self.rule_pass, None)
        if not found:
            additional = self.apex_add
        else:
            names = {x[0] for x in found}
            additional = _in_order(found + [x for x in self.apex_found if x[0] not in names])
        return _decision(_result(R_NOERROR, True, answer, [], self.apex_extra, additional), self.rule_pass, None)


cdef list _in_order(list found):
    """Zone._addresses for targets of distinct names: every A RRset, then every AAAA one."""
    cdef list out = []
    for rtype in (T_A, T_AAAA):
        for _target, sets in found:
            rrset = sets.get(rtype)
            if rrset is not None:
                out.append(rrset)
    return out


cdef class Decider:
    """Policy.decide and Policy.limit_name for one policy, compiled: what
    the policy binds as its ``decide`` and ``limit_name`` when this module
    is built."""
    cdef object policy
    cdef object pure
    cdef dict rules
    cdef _Sink sink

    def __init__(self, policy):
        self.policy = policy
        self.pure = type(policy).decide
        self.sink = _Sink(policy.sinkhole)
        seized = {name: rule.apex for name, rule in policy.rules.items() if type(rule) is _Seized}
        zones = {id(tz): _ZoneRule(tz, self.sink, seized) for tz in policy.zones}
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
        return _decision(self.sink.answer(qn, apex, qtype), rule, family)

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
