"""The per-packet path: query bytes in, response bytes and one event out.

Sans-I/O: :meth:`Responder.respond` takes a datagram or TCP message and the
peer's address and returns what to send (or None). The server around it only
moves bytes.

Answers depend only on the question, the header flags and the EDNS state, so
each is rendered once and cached as a template: later queries for the same
question (in any letter case) get the template with their own ID and their
own question bytes spliced in. Plain queries (no EDNS options) are recognised
without building any object. This is what keeps the CPU per answered query
under BIND's with both logging every query (bench/RESULTS.md).

Range mode: a query from one of the operation's ``[dns] emulated_clock``
networks may carry an emulated clock (EDNS option
:data:`takedown.dns.wire.EDNS_TAKEDOWN_CLOCK`); its event is then stamped with
that time instead of the wall clock, so an emulated population can make weeks
pass in minutes. Rate limiting keeps the wall clock. A query with any EDNS
option never takes the fast path, so the clock costs plain queries nothing.
"""

from __future__ import annotations

import ipaddress

from takedown.accel import compiled
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.zone import Result
from takedown.dns.rrl import ALLOW, ERROR_KEY, ERRORS, NODATA, NXDOMAINS, REFERRALS, RESPONSES, SLIP, RateLimiter
from takedown.dns.wire import ANY, AXFR, FORMERR, IXFR, NOERROR, NOTIMP, NS, NXDOMAIN, REFUSED, WireError

_join = b"".join
_CACHE_MAX = 250_000
_CLOCK_SOURCES_MAX = 65_536  # remembered clock-trust decisions, per source address
# NXDOMAIN answers cached per zone (per RRL account, "X" + the SOA owner). A
# random-subdomain flood asks each name once: its answers are never reused,
# and inserting them only churned the cache (a full clear every 250,000
# misses, the hot answers with them). Past this many, a zone's NXDOMAINs are
# answered without being cached until the next clear. Half the cache: a zone's
# ordinary NXDOMAINs (typos, stale names: 10 % of the benchmark's 200,000-query
# mix, ~20,000 distinct) all stay cached; 16,384 left some of them to miss on
# every pass (bench/dns_bench.py cache-hot, pure path: 12.09 us per query with
# 16,384, 10.85 with half the cache; bench/out/dns-20261205-033102/-033422.json).
_NX_PER_ZONE = _CACHE_MAX // 2
_SHARED_KEYS_MAX = 65_536  # RRL keys of shared accounts (zones, delegations, subtrees), remembered
# CHAOS names NSD hides (hide-version, hide-identity): REFUSED, EDE "prohibited"
_CHAOS_NAMES = {wire.text_to_wire(n) for n in ("version.bind", "version.server", "id.server", "hostname.bind")}


def _peek_question(data: bytes) -> tuple[str | None, int | None]:
    """The first question's name and type, for the event of a packet not answered normally."""
    try:
        if data[4:6] == b"\x00\x00":
            return None, None
        name, pos = wire.read_name(data, 12)
        if pos + 2 > len(data):
            return wire.name_to_text(name.lower()), None
        return wire.name_to_text(name.lower()), (data[pos] << 8) | data[pos + 1]
    except (wire.WireError, IndexError, ValueError):
        return None, None


class _Entry:
    __slots__ = ("head", "tail", "qname", "qtype", "rcode", "rule", "family", "size", "bare", "rc", "rk", "gen", "tk")

    def __init__(self, full: bytes, qend: int, qname: str, qtype: int, rcode: int, rule: str, family, bare=False,
                 rc: int = ERRORS, rk: str = ERROR_KEY):
        self.rc = rc  # RRL response class (takedown.dns.rrl.RESPONSES, ...)
        self.rk = rk  # RRL account key within the source prefix
        self.bare = bare
        self.head = full[2:12]
        self.tail = full[qend:]
        self.size = len(full)
        self.qname = qname
        self.qtype = qtype
        self.rcode = rcode
        self.rule = rule
        self.family = family
        self.gen = None  # the event buffer's generation ``tk`` belongs to
        self.tk = 0  # this answer's template in the event buffer (key part)


class Responder:
    """Answers queries from a compiled :class:`Policy`; logs one event per query.

    ``events`` is the columnar buffer of the event writer
    (:class:`takedown.store.dnsbuffer.DnsBuffer`: ``gen``, ``fresh()``, ``template()``,
    ``listener()``, ``add_row()`` and the ``times``/``srcs``/``keys``
    arrays, which it empties in place)."""

    def __init__(
        self, policy: Policy, events, *, max_udp_payload: int = 1232, rrl: RateLimiter | None = None,
        emulated_clock=(),
    ):
        self.policy = policy
        self.events = events
        self.log = events.add_row  # one takedown.events.DNS_ROW tuple: the paths off the fast one
        self._tappend = events.times.append
        self._sappend = events.srcs.append
        self._kappend = events.keys.append
        # the listener of the last query (its key part), for its generation
        self._lip = self._lport = self._ltr = self._lgen = None
        self._lk = 0
        self.max_udp = max_udp_payload
        self.rrl = rrl
        self.cache: dict[bytes, _Entry] = {}
        self._nx: dict[str, int] = {}  # cached NXDOMAIN answers per RRL account (_NX_PER_ZONE)
        self._shared: dict[tuple, str] = {}  # (class, wire name, qtype) -> its RRL key, one object each
        self._opt = {False: wire.opt_record(max_udp_payload, False), True: wire.opt_record(max_udp_payload, True)}
        #: The compiled common miss (:func:`takedown.dns._responder_c.plain_miss`),
        #: or None: every miss through :meth:`_slow`, the reference.
        self.plain_miss = _twin.plain_miss if _twin is not None else None
        self.trust_clock(emulated_clock)

    def trust_clock(self, networks) -> None:
        """Honour the emulated clock option from ``networks`` (CIDR or address
        strings, as ``[dns] emulated_clock`` gives them); empty: from nobody."""
        self._clock_nets = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self._clock_trust: dict[str, bool] = {}  # source address -> in _clock_nets

    def _clock_trusted(self, src_ip: str) -> bool:
        """Whether ``src_ip`` may set its events' time (asked only of queries with a clock)."""
        ok = self._clock_trust.get(src_ip)
        if ok is None:
            try:
                addr = ipaddress.ip_address(src_ip)
            except ValueError:
                ok = False
            else:
                ok = any(addr in net for net in self._clock_nets)
            if len(self._clock_trust) >= _CLOCK_SOURCES_MAX:
                self._clock_trust.clear()
            self._clock_trust[src_ip] = ok
        return ok

    def set_policy(self, policy: Policy) -> None:
        """Swap in a reloaded policy; answers from the old one are forgotten at once."""
        self.policy = policy
        self.cache = {}
        self._nx = {}
        self._shared = {}

    def respond(self, data: bytes, src_ip: str, src_port: int, transport: str, dst_ip: str, dst_port: int,
                now: float):
        """Response bytes for one query, or None to stay silent. ``now`` is
        the wall-clock time of its arrival (Unix seconds): the events' time
        and the rate limiter's.

        The reference (:data:`respond_pure`): when the compiled twin is
        built, ``Responder.respond`` is its ``front``, this fast path in C
        (docs/performance.md, "The front compiled"). Edit the two together."""
        udp = transport == "udp"
        n = len(data)
        # Fast path: one question, no answer/authority, no EDNS options.
        if n > 16 and not (data[2] & 0xF8) and data[4:11] == b"\x00\x01\x00\x00\x00\x00\x00":
            i = 12
            try:
                ln = data[12]
                while ln:
                    if ln > 63:
                        raise IndexError
                    i += ln + 1
                    ln = data[i]
            except IndexError:
                i = -1
            if i > 0:
                qend = i + 5
                ar = data[11]
                tag = None
                if ar == 0 and qend == n:
                    tag = b"N"
                    limit = 512
                elif (
                    ar == 1
                    and n == qend + 11
                    and data[qend : qend + 3] == b"\x00\x00\x29"
                    and data[qend + 6] == 0
                    and data[qend + 9 : qend + 11] == b"\x00\x00"
                ):
                    do = data[qend + 7] & 0x80
                    tag = b"D" if do else b"E"
                    limit = (data[qend + 3] << 8) | data[qend + 4]
                    limit = 512 if limit < 512 else (self.max_udp if limit > self.max_udp else limit)
                if tag is not None and (data[qend - 2 : qend] == b"\x00\x01"):
                    # flags, counts and name case-folded (the flag bytes of a plain
                    # query are below 0x41, so folding leaves them be), the type as is
                    key = data[2 : qend - 4].lower() + data[qend - 4 : qend] + tag
                    e = self.cache.get(key)
                    if e is None and self.plain_miss is not None:
                        # the compiled miss (takedown.dns._responder_c): the entry
                        # _miss would make and cache, or None for _slow to answer
                        e = self.plain_miss(self, data, qend, key, tag != b"N", tag == b"D")
                    if e is not None and (not udp or e.size <= limit):
                        if udp and self.rrl is not None:
                            verdict = self.rrl.check(src_ip, e.rc, e.rk, now)
                            if verdict != ALLOW:
                                return self._limited(verdict, data, e, now, src_ip, src_port, dst_ip, dst_port)
                        self._record(e, now, transport, src_ip, src_port, dst_ip, dst_port)
                        return _join((data[:2], e.head, data[12:qend], e.tail))  # one allocation, not three
        return self._slow(data, now, udp, transport, src_ip, src_port, dst_ip, dst_port)

    def _listener(self, transport: str, dst_ip: str, dst_port: int) -> None:
        ev = self.events
        self._lk = ev.listener(transport, dst_ip, dst_port)
        self._lip, self._lport, self._ltr, self._lgen = dst_ip, dst_port, transport, ev.gen

    def _limited(self, verdict, data, e, now, src_ip, src_port, dst_ip, dst_port):
        self.log((now, "udp", src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, None, "rrl-slip" if verdict == SLIP else "rrl-drop"))
        if verdict == SLIP:
            try:
                q = wire.parse_query(data)
            except WireError:
                return None
            return self._slip(q, data, e)
        return None

    def _slip(self, q: wire.Query, data: bytes, e: _Entry) -> bytes:
        """An empty TC=1 answer: a real resolver retries over TCP, a spoofed victim gets little."""
        opt = self._opt[q.edns.do] if q.edns else None
        out = bytearray(wire.render(q, data, e.rcode & 0xF, False, opt=opt))
        out[2] |= 0x02  # TC
        return bytes(out)

    def _slow(self, data, now, udp, transport, src_ip, src_port, dst_ip, dst_port):
        """Every query the fast path did not take: EDNS options, errors, misses."""
        if len(data) >= 12 and not data[2] & 0x80 and data[2] & 0x78:
            # Another opcode: refused before anything else is read, as NSD does
            # (UPDATE and NOTIFY carry records a QUERY may not).
            if udp and self.rrl is not None and self.rrl.check(src_ip, ERRORS, ERROR_KEY, now) != ALLOW:
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, None, NOTIMP, "none", None, None, "rrl-drop"))
                return None
            rcode = REFUSED if (data[2] >> 3) & 0xF == 4 else NOTIMP
            qname, qtype = _peek_question(data)
            self.log((now, transport, src_ip, src_port, dst_ip, dst_port, qname, qtype, rcode, "none", None, None, "answer"))
            return wire.error_response(data, rcode)
        try:
            q = wire.parse_query(data)
        except WireError as err:
            if err.rcode is None or (err.no_question and not udp):
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, None, FORMERR, "none", None, None, "dropped"))
                return None
            if udp and self.rrl is not None and self.rrl.check(src_ip, ERRORS, ERROR_KEY, now) != ALLOW:
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, None, FORMERR, "none", None, None, "rrl-drop"))
                return None
            self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, None, FORMERR, "none", None, None, "formerr"))
            return wire.error_response(data, err.rcode)
        edns = q.edns
        at = now  # the event's time; RRL keeps ``now``
        if edns is None:
            limit = 512
            tag = b"N"
        else:
            limit = min(max(edns.udp_size, 512), self.max_udp)
            tag = b"D" if edns.do else b"E"
            if edns.clock is not None and self._clock_nets and self._clock_trusted(src_ip):
                at = edns.clock  # range mode: the emulated time of a trusted source
        qend = q.question_end
        key = data[2 : qend - 4].lower() + data[qend - 4 : qend] + tag
        e = self.cache.get(key) if q.edns_error is None else None
        if e is None:
            e = self._miss(q, data, key, udp)
        ecs = edns.ecs if edns is not None else None
        if udp and self.rrl is not None:
            verdict = self.rrl.check(src_ip, e.rc, e.rk, now)
            if verdict != ALLOW:
                self.log((at, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, ecs, "rrl-slip" if verdict == SLIP else "rrl-drop"))
                return self._slip(q, data, e) if verdict == SLIP else None
        if e.bare:
            full = data[:2] + e.head + e.tail
        else:
            full = data[:2] + e.head + data[12 : q.question_end] + e.tail
        out = "answer"
        if udp and e.size > limit:
            full = self._render(q, data, udp, limit)
            out = "truncated" if full[2] & 0x02 else "answer"
        if ecs is None and out == "answer":
            self._record(e, at, transport, src_ip, src_port, dst_ip, dst_port)
        else:
            self.log((at, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, ecs, out))
        return full

    def _record(self, e: _Entry, at: float, transport: str, src_ip: str, src_port: int, dst_ip: str,
                dst_port: int) -> None:
        """The event of an answer sent as ``e`` holds it (no ECS, outcome
        "answer"), cached or missed: the answer's record registered once per
        buffer generation, then three numbers appended; no 13-field row and
        no fresh record tuple per query (the same event as ``add_row`` of
        that row)."""
        ev = self.events
        if e.gen is not ev.gen:
            e.tk = ev.fresh(e.qname, e.qtype, e.rcode, e.rule, e.family)
            e.gen = ev.gen
        if dst_ip is not self._lip or dst_port != self._lport or transport is not self._ltr or self._lgen is not ev.gen:
            self._listener(transport, dst_ip, dst_port)
        self._tappend(at)
        self._sappend(src_ip)
        self._kappend(e.tk | self._lk | src_port)

    def _decide(self, q: wire.Query, udp: bool):
        """(Result, rule, family) for a parsed query; NSD's choices for the odd ones."""
        if q.edns_error is not None:
            return Result(q.edns_error, False), "none", None
        if q.qclass == wire.CLASS_CH:
            hidden = q.qtype == wire.TXT and q.qname.lower() in _CHAOS_NAMES
            ede = wire.EDE_PROHIBITED if hidden else wire.EDE_NOT_SUPPORTED
            return Result(REFUSED, False, ede=ede), "none", None
        if q.qclass not in (wire.CLASS_IN, ANY):
            return Result(REFUSED, False, ede=wire.EDE_NOT_SUPPORTED, bare=True), "none", None
        if q.qtype == AXFR and udp:
            return Result(NOTIMP, False), "none", None
        if q.qtype in (AXFR, IXFR):
            return Result(REFUSED, False, ede=wire.EDE_PROHIBITED), "none", None
        d = self.policy.decide(q.qname.lower(), q.qtype, q.qclass == ANY)
        return d.result, d.rule, d.family

    def _render(self, q: wire.Query, data: bytes, udp: bool, limit: int = 65535) -> bytes:
        res, _rule, _family = self._decide(q, udp)
        return self._render_result(q, data, res, limit)

    def _render_result(self, q: wire.Query, data: bytes, res: Result, limit: int) -> bytes:
        opt = None
        if q.edns is not None and not (res.bare and res.ede is None):
            opt = wire.opt_record(self.max_udp, q.edns.do, res.rcode >> 4, res.ede)
        return wire.render(
            q, data, res.rcode & 0xF, res.aa, res.answer, res.authority, res.extra_authority,
            res.additional, opt=opt, limit=limit, bare=res.bare,
        )

    def _miss(self, q: wire.Query, data: bytes, key: bytes, udp: bool) -> _Entry:
        res, rule, family = self._decide(q, udp)
        full = self._render_result(q, data, res, 65535)
        qend = q.question_end if not res.bare else 12
        qn = q.qname.lower()
        qtext = wire.name_to_text(qn)
        rc, rk = self._rrl_key(qn, qtext, q.qtype, res)
        e = _Entry(full, qend, qtext, q.qtype, res.rcode, rule, family, res.bare, rc, rk)
        # Transfers differ by transport, and BADVERS answers are rare: keep them out.
        if q.edns_error is None and q.qtype not in (AXFR, IXFR) and not res.bare:
            cache = self.cache
            if len(cache) >= _CACHE_MAX:
                cache.clear()
                self._nx.clear()
            if rc == NXDOMAINS:
                nx = self._nx
                n = nx.get(rk, 0)
                if n >= _NX_PER_ZONE:
                    return e  # a flood under this zone: answered, not remembered
                nx[rk] = n + 1
            cache[key] = e
        return e

    def _shared_key(self, cls: int, tag: str, name: bytes, qtype: int | None = None) -> str:
        """The RRL key of an account many answers share (a zone, a delegation
        point, a subtree): made once, then the same string object for every
        answer that names it (the limiter's lookups then match by identity)."""
        k = (cls, name, qtype)
        text = self._shared.get(k)
        if text is None:
            text = tag + wire.name_to_text(name) + ("" if qtype is None else f"/{qtype}")
            if len(self._shared) >= _SHARED_KEYS_MAX:
                self._shared.clear()
            self._shared[k] = text
        return text

    def _rrl_key(self, qn: bytes, qtext: str, qtype: int, res: Result) -> tuple[int, str]:
        """The RRL class and account key of an answer, as BIND keys them
        (lib/dns/rrl.c make_key, and the names ns/query.c passes it):
        positive answers by name and type, NODATA by name, NXDOMAIN by the
        zone (the SOA owner in the authority section), referrals by the
        delegation point, errors by nothing. Answers synthesised for many
        names (wildcards, the sinkhole below a seized domain) count under
        their common parent, as BIND counts wildcards. ``qtext`` is ``qn``
        as text (the event's name): a key of the query name itself reuses it,
        a shared account's key is made once (:meth:`_shared_key`)."""
        rcode = res.rcode
        if rcode == NXDOMAIN:
            if not res.authority:
                return NXDOMAINS, "X" + qtext
            return NXDOMAINS, self._shared_key(NXDOMAINS, "X", res.authority[0][0][0])
        if rcode != NOERROR:
            return ERRORS, ERROR_KEY
        if res.answer:
            ln = self.policy.limit_name(qn)
            if ln is qn or ln == qn:
                return RESPONSES, f"R{qtext}/{qtype}"
            return RESPONSES, self._shared_key(RESPONSES, "R", ln, qtype)
        if not res.aa and res.authority:
            owner, rec = res.authority[0][0]
            if wire.rec_type(rec) == NS:
                return REFERRALS, self._shared_key(REFERRALS, "F", owner)
        ln = self.policy.limit_name(qn)
        if ln is qn or ln == qn:
            return NODATA, "D" + qtext
        return NODATA, self._shared_key(NODATA, "D", ln)


#: The pure ``Responder.respond``: the reference of the compiled front
#: (takedown.dns._responder_c.front), and the method when it is not built.
respond_pure = Responder.respond
# The compiled twin of the common miss and of the whole fast path (issue 18,
# docs/performance.md, "The miss compiled", "The front compiled"); imported
# last, as it reads this module's names.
_twin = compiled("takedown.dns._responder_c")
if _twin is not None:
    Responder.respond = _twin.front
