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
"""

from __future__ import annotations

import time

from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.rrl import ALLOW, SLIP, RateLimiter
from takedown.dns.wire import ANY, AXFR, FORMERR, IXFR, MAILA, MAILB, NOTIMP, REFUSED, WireError

_CACHE_MAX = 250_000


class _Entry:
    __slots__ = ("head", "tail", "qname", "qtype", "rcode", "rule", "family", "size")

    def __init__(self, full: bytes, qend: int, qname: str, qtype: int, rcode: int, rule: str, family):
        self.head = full[2:12]
        self.tail = full[qend:]
        self.size = len(full)
        self.qname = qname
        self.qtype = qtype
        self.rcode = rcode
        self.rule = rule
        self.family = family


class Responder:
    """Answers queries from a compiled :class:`Policy`; appends one event per query."""

    def __init__(self, policy: Policy, log, *, max_udp_payload: int = 1232, rrl: RateLimiter | None = None):
        self.policy = policy
        self.log = log  # list.append of the event writer (takedown.events DNS row layout)
        self.max_udp = max_udp_payload
        self.rrl = rrl
        self.cache: dict[bytes, _Entry] = {}
        self._opt = {False: wire.opt_record(max_udp_payload, False), True: wire.opt_record(max_udp_payload, True)}

    def set_policy(self, policy: Policy) -> None:
        """Swap in a reloaded policy; answers from the old one are forgotten at once."""
        self.policy = policy
        self.cache = {}

    def respond(self, data: bytes, src_ip: str, src_port: int, transport: str, dst_ip: str, dst_port: int):
        """Response bytes for one query, or None to stay silent."""
        now = time.time()
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
                    key = data[2:4] + data[12:qend].lower() + tag
                    e = self.cache.get(key)
                    if e is not None and (not udp or e.size <= limit):
                        out = "answer"
                        if udp and self.rrl is not None:
                            verdict = self.rrl.check(src_ip, now)
                            if verdict != ALLOW:
                                return self._limited(verdict, data, e, now, src_ip, src_port, dst_ip, dst_port)
                        self.log((now, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, None, out))
                        return data[:2] + e.head + data[12:qend] + e.tail
        return self._slow(data, now, udp, transport, src_ip, src_port, dst_ip, dst_port)

    def _limited(self, verdict, data, e, now, src_ip, src_port, dst_ip, dst_port):
        self.log((now, "udp", src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, None, "rrl-slip" if verdict == SLIP else "rrl-drop"))
        if verdict == SLIP:
            try:
                q = wire.parse_query(data)
            except WireError:
                return None
            opt = self._opt[q.edns.do] if q.edns else None
            return wire.render(q, data, e.rcode & 0xF, False, opt=opt, limit=0)
        return None

    def _slow(self, data, now, udp, transport, src_ip, src_port, dst_ip, dst_port):
        """Every query the fast path did not take: EDNS options, errors, misses."""
        try:
            q = wire.parse_query(data)
        except WireError as err:
            if err.rcode is None:
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, 0, FORMERR, "none", None, None, "dropped"))
                return None
            if udp and self.rrl is not None and self.rrl.check(src_ip, now) != ALLOW:
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, 0, FORMERR, "none", None, None, "rrl-drop"))
                return None
            self.log((now, transport, src_ip, src_port, dst_ip, dst_port, None, 0, FORMERR, "none", None, None, "formerr"))
            return wire.error_response(data, err.rcode)
        edns = q.edns
        if edns is None:
            limit = 512
            tag = b"N"
        else:
            limit = min(max(edns.udp_size, 512), self.max_udp)
            tag = b"D" if edns.do else b"E"
        key = data[2:4] + data[12 : q.question_end].lower() + tag
        e = self.cache.get(key) if q.edns_error is None else None
        if e is None:
            e = self._miss(q, data, key)
        if udp and self.rrl is not None:
            verdict = self.rrl.check(src_ip, now)
            if verdict != ALLOW:
                self.log((now, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, edns and edns.ecs, "rrl-slip" if verdict == SLIP else "rrl-drop"))
                if verdict == SLIP:
                    return wire.render(q, data, e.rcode & 0xF, False, opt=self._opt[edns.do] if edns else None, limit=0)
                return None
        full = data[:2] + e.head + data[12 : q.question_end] + e.tail
        out = "answer"
        if udp and e.size > limit:
            full = self._truncated(q, data, limit)
            out = "truncated"
        self.log((now, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule, e.family, edns and edns.ecs, out))
        return full

    def _decide(self, q: wire.Query):
        """(rcode, aa, answer, authority, additional, rule, family) for a parsed query."""
        if q.edns_error is not None:
            return q.edns_error, False, (), (), (), "none", None
        if q.opcode != wire.OPCODE_QUERY:
            return NOTIMP, False, (), (), (), "none", None
        if q.qclass != wire.CLASS_IN and not (q.qclass == ANY):
            return REFUSED, False, (), (), (), "none", None
        if q.qtype in (AXFR, IXFR):
            return REFUSED, False, (), (), (), "none", None
        if q.qtype in (MAILA, MAILB):
            return NOTIMP, False, (), (), (), "none", None
        d = self.policy.decide(q.qname.lower(), q.qtype)
        r = d.result
        return r.rcode, r.aa, r.answer, r.authority, r.additional, d.rule, d.family

    def _miss(self, q: wire.Query, data: bytes, key: bytes) -> _Entry:
        rcode, aa, an, ns, ad, rule, family = self._decide(q)
        if q.edns is not None:
            opt = wire.opt_record(self.max_udp, q.edns.do, rcode >> 4)
        else:
            opt = None
        full = wire.render(q, data, rcode & 0xF, aa, an, ns, ad, opt=opt)
        e = _Entry(full, q.question_end, wire.name_to_text(q.qname.lower()), q.qtype, rcode, rule, family)
        if q.edns_error is None:
            if len(self.cache) >= _CACHE_MAX:
                self.cache.clear()
            self.cache[key] = e
        return e

    def _truncated(self, q: wire.Query, data: bytes, limit: int) -> bytes:
        rcode, aa, an, ns, ad, _rule, _family = self._decide(q)
        opt = wire.opt_record(self.max_udp, q.edns.do, rcode >> 4) if q.edns else None
        return wire.render(q, data, rcode & 0xF, aa, an, ns, ad, opt=opt, limit=limit)
