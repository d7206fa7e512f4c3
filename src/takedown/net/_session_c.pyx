# cython: language_level=3
"""Compiled twin of :class:`takedown.net.connection._HttpSession` (issue 18).

The same attributes and the same ``feed``, line for line, as a ``cdef
class``: the session's own fields are struct slots (no dictionary, no
attribute lookup), the per-request flags and counters C integers, and the
check-in record a tuple built in place. What it calls (the request parser,
the rules, the response policy, the request cache) is the same Python as
on the pure path. tests/test_net_session_accel.py holds both to the same
bytes, records, closes and deadlines; edit the two together.

The objects it shares with the pure module (``Answer``, ``Checkin._make``,
``Commanded``, ``HttpError``, ``RequestParser``...) are handed over by
:func:`bind` when takedown.net.connection selects this twin, rather than
imported: that module imports this one.
"""

cimport cython

import hashlib

cdef object Answer = None
cdef object Checkin = None
cdef object make_checkin = None
cdef object Commanded = None
cdef object HttpError = None
cdef object RequestParser = None
cdef object status_of = None
cdef object CONTINUE = None
cdef Py_ssize_t CACHE_MAX_REQUEST = 0
cdef object _sha256 = hashlib.sha256


def bind(ns):
    """Take the pure module's shared objects (a mapping of its globals)."""
    global Answer, Checkin, make_checkin, Commanded, HttpError, RequestParser, status_of, CONTINUE
    global CACHE_MAX_REQUEST
    Answer = ns["Answer"]
    Checkin = ns["Checkin"]
    make_checkin = ns["_make_checkin"]
    Commanded = ns["Commanded"]
    HttpError = ns["HttpError"]
    RequestParser = ns["RequestParser"]
    status_of = ns["_status"]
    CONTINUE = ns["CONTINUE"]
    CACHE_MAX_REQUEST = ns["_CACHE_MAX_REQUEST"]


@cython.final
cdef class HttpSession:
    """HTTP/1.x over a byte stream: parse, match, answer, record (compiled)."""

    cdef public object conn, send, caches, parser, hello, policy, rules, commands, command_families, cache
    cdef public object sni, ja3, ja4, port, default_response, request_timeout, idle_timeout
    cdef public Py_ssize_t max_requests
    cdef object _last_headers, _last_text, _last_response, _last_status

    def __init__(self, conn, send, hello=None):
        self.conn = conn
        self.send = send
        state = conn.state
        lst = conn.listener
        self.caches = state.parser_caches
        self.parser = RequestParser(max_header_bytes=lst.max_header_bytes, max_body_bytes=lst.max_body_bytes,
                                    caches=self.caches)
        self.hello = hello
        self.policy = state.policy
        self.rules = state.rules
        self.commands = state.commands
        self.command_families = state.commands.families
        self.cache = state.cache if hello is None else None
        if hello is not None:
            self.sni, self.ja3, self.ja4 = hello.sni, hello.ja3_hash, hello.ja4
        else:
            self.sni = self.ja3 = self.ja4 = None
        self.port = conn.dst[1]
        self.max_requests = lst.requests_per_connection
        self.default_response = lst.response
        self.request_timeout = lst.request_timeout
        self.idle_timeout = lst.idle_timeout
        self._last_headers = None
        self._last_text = None
        self._last_response = None
        self._last_status = None

    def feed(self, data, now, list out):
        cdef object conn = self.conn
        cdef object parser = self.parser
        cdef bint cacheable, midway, last, keep_alive
        cdef Py_ssize_t served
        cdef object requests, req, rule, sent, policy_name, rule_name, family, response, h, checkin, answer
        cdef object method, sni, ja3, ja4, port, match, commanding
        cacheable = self.cache is not None and not parser.pending() and len(data) <= CACHE_MAX_REQUEST
        try:
            requests = parser.feed(data)
        except HttpError as e:
            conn._record(out, "http", now, Checkin(status=e.status, response="bad-request",
                                                   sni=self.sni, ja3=self.ja3, ja4=self.ja4))
            self.send(out, self.policy.bad_request(e.status, e.reason))
            conn._close(out)
            return
        midway = parser.pending()
        if len(requests) != 1 or midway:
            cacheable = False
        match = self.rules.http
        port = self.port
        sni, ja3, ja4 = self.sni, self.ja3, self.ja4
        commanding = self.command_families
        for req in requests:
            served = conn.served + 1
            conn.served = served
            keep_alive = req.keep_alive
            last = not keep_alive or served >= self.max_requests
            method = req.method
            rule = match(req, port, ja3, ja4)
            sent = None
            if rule is not None:
                policy_name = rule.response or self.default_response
                rule_name, family = rule.name, rule.family
                if commanding and family in commanding:
                    cacheable = False
                    sent = self.commands.pick(family, now + conn.shift)
            else:
                policy_name, rule_name, family = self.default_response, "none", None
            if sent is not None and method != "CONNECT":
                command = sent[0]
                policy_name = "command"
                response = self.policy.command(command.status, command.content_type, command.body,
                                               keep_alive=not last, head=method == "HEAD")
            else:
                sent = None
                response = self.policy.answer(policy_name, req, family, rule_name if rule else None, conn.src[0],
                                              not last)
            h = req.headers
            if h is not self._last_headers:
                self._last_headers = h
                self._last_text = "\n".join([f"{k}: {v}" for k, v in h]) if h else None
            if response is not self._last_response:
                self._last_response = response
                self._last_status = status_of(response)
            checkin = make_checkin((
                rule_name, family, method, self.caches.host(req.host), req.path, req.query or None,
                req.user_agent, self._last_text, req.body_len, req.body_sha256, req.body_head,
                self._last_status, policy_name, sni, None, None, ja3, ja4, None, None,
            ))
            if response is None:
                conn._record(out, "http", now, checkin)
                conn._close(out)
                return
            if cacheable and policy_name != "template" and (not last or not keep_alive):
                answer = Answer(response, checkin, not keep_alive)
                self.cache.put(data, answer, now)
                out.append(answer)
                if not keep_alive:
                    conn._close(out)
            else:
                conn._record(out, "http", now, checkin)
                self.send(out, response)
                if sent is not None:
                    self._commanded(out, now, checkin, sent, response)
            if last:
                conn._close(out)
                return
        if midway and parser.expects_continue():
            self.send(out, CONTINUE)
        conn.midway = midway
        conn.arm(now, self.request_timeout if midway else self.idle_timeout)

    def _commanded(self, list out, now, checkin, sent, response):
        command, authority = sent
        counts = self.conn.state.counters.commands_sent
        k = (command.family, command.name)
        counts[k] = counts.get(k, 0) + 1
        out.append(Commanded(now + self.conn.shift, checkin, authority, command.name,
                             _sha256(response).hexdigest()))
