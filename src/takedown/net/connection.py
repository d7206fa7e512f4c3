"""One sinkhole connection, sans-I/O: bytes in, commands out.

A :class:`Connection` is everything the HTTP, TLS and raw TCP sinkhole does
with one TCP connection, without a socket, an event loop or a clock of its
own (in the manner of mitmproxy's sans-I/O layers): the shell
(:mod:`takedown.net.server`) creates it when a connection is accepted, feeds
it what the socket delivers and carries out what it returns::

    conn = state.connect(src, dst, now)      # HttpConnection, TlsConnection, TcpConnection
    if conn.refused: ...abort the socket     # over max_connections_per_source
    for cmd in conn.receive(data, now): ...  # Send / Record / Answer / Close
    if now > conn.deadline: conn.timeout(now)
    conn.closed(now)                         # the socket is gone (TCP: its event)

Commands (plain classes with slots: one small allocation each):

- :class:`Send` ``(data)``: write these bytes;
- :class:`Record` ``(kind, time, checkin)``: one check-in event of ``kind``
  (``http``, ``tls``, ``tcp``) at ``time`` (on the connection's clock: the
  emulated clock of a trusted PROXY header in range mode), whose record is a
  :class:`takedown.events.Checkin`; the connection's own part of the row is
  :attr:`Connection.origin` (a :class:`takedown.events.CheckinConn`);
- :class:`Answer`: a cacheable HTTP answer, both a Send and a Record
  (``out`` and the record's parts: ``base``, ``query``, ``body_len``,
  ``body_sha256``, ``body_head``, see :func:`takedown.events.checkin_parts`;
  ``checkin`` joins them), at the time of the ``receive`` call on the
  connection's clock (``now + conn.shift``). The same object is returned
  again for every repeat of the request (see below), so the shell may keep
  per-object bookkeeping on it (``gen``, ``tix``: its record's index in the
  shell's check-in buffer);
- :class:`Commanded` ``(time, checkin, authority, command, sha256)``: a
  command response was sent under a court's authority (one ``command``
  event; its check-in is also a Record, ``response = "command"``);
- :class:`Close` (:data:`CLOSE`): close the connection after what was sent.

The deadline is not a command but an attribute, :attr:`Connection.deadline`
(epoch seconds, ``inf`` for none), which the shell's once-a-second sweep
compares with the clock: a keep-alive request moves it, and a command
object per request would cost more than the attribute store.

The fast path
-------------
Bots repeat a check-in byte for byte, on one keep-alive connection and
across the bots of a family. A plain-HTTP request that arrived whole in one
read is answered once the long way (parse, match the rules, render, build
the record) and its :class:`Answer` is kept in the listener's
:class:`RequestCache` under its exact bytes until the next whole second (the
response carries a ``Date``). :meth:`HttpConnection.receive` looks the bytes
up first and, on a hit, returns the Answer's preallocated command tuple:
one dict lookup, three comparisons, two attribute stores. The shell stamps
the time, appends the event to its buffer (two array appends, the record's
index kept on the Answer) and writes ``out``. Answers that depend on who
asks (an operator template may show the client's address) and requests
inside TLS (their records carry the ClientHello's fingerprints) are never
cached; nor is the last request a connection may send
(``requests_per_connection``: its answer says ``Connection: close``); nor
is any check-in of a family that has authorised commands
(:mod:`takedown.net.commands`): whether a command answers it depends on the
clock, and a cached answer would keep sending a command up to a second
after its authority ended (or the notice for a second after it began).

Shared state
------------
What the connections of one listening socket share is a
:class:`ListenerState`: the listener's configuration, which peers may send
PROXY headers, the per-source connection counts (shared by all the
sensor's listeners), the request cache, the HTTP parser caches, the rules,
the response policy and the TLS context. The shell owns it and replaces it
as a unit on reload; a connection keeps the state it was created with.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl

from takedown.events import Checkin, CheckinConn, checkin_join, checkin_parts
from takedown.net import proxy as proxy_mod
from takedown.net import tls as tls_mod
from takedown.net.commands import CommandTable
from takedown.net.fingerprints import RuleSet
from takedown.net.http import HttpError, ParserCaches, RequestParser
from takedown.net.responses import ResponsePolicy
from takedown.operation import Listener

__all__ = [
    "Answer", "CLOSE", "Close", "Commanded", "Connection", "Counters", "HttpConnection", "ListenerState", "Record",
    "RequestCache", "Send", "TcpConnection", "TlsConnection", "Trust",
]

_MAX_PREAMBLE = 16384  # bytes buffered while waiting for a PROXY header or a ClientHello
_CACHE_MAX_ENTRIES = 4096
_CACHE_MAX_REQUEST = 4096  # bytes: longer requests are always parsed
_INF = float("inf")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
NOTHING: tuple = ()
_new_tuple = tuple.__new__  # CheckinConn's own __new__ is a Python-level call
_not_a_proxy_header = proxy_mod.not_a_header


# -- commands -------------------------------------------------------------------


class Send:
    """Write ``data`` to the peer."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Send({self.data[:40]!r}{'...' if len(self.data) > 40 else ''})"


class Record:
    """One check-in event: ``kind`` (http, tls, tcp), ``time`` (epoch seconds,
    the connection's clock), ``checkin`` (its record)."""

    __slots__ = ("kind", "time", "checkin")

    def __init__(self, kind: str, time: float, checkin: Checkin) -> None:
        self.kind = kind
        self.time = time
        self.checkin = checkin

    def __repr__(self) -> str:
        return f"Record({self.kind!r}, {self.time!r}, {self.checkin!r})"


class Commanded:
    """A command response was sent: one ``command`` event at ``time`` (the
    connection's clock) for the check-in ``checkin`` it answered, under
    authority ``authority``, naming ``command``; ``sha256``: the hex digest
    of the exact response bytes sent (status line, headers and body)."""

    __slots__ = ("time", "checkin", "authority", "command", "sha256")

    def __init__(self, time: float, checkin: Checkin, authority: str, command: str, sha256: str) -> None:
        self.time = time
        self.checkin = checkin
        self.authority = authority
        self.command = command
        self.sha256 = sha256

    def __repr__(self) -> str:
        return f"Commanded({self.time!r}, {self.authority!r}, {self.command!r}, {self.sha256[:12]}...)"


class Close:
    """Close the connection once what was sent is written."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Close()"


CLOSE = Close()


class Answer:
    """A cacheable HTTP answer: send ``out`` and record the check-in (kind http,
    at the ``receive`` call's time on the connection's clock); then close when
    ``close``. ``commands`` is what ``receive`` returns for it. ``gen`` and
    ``tix`` belong to the shell (its record's index in its check-in buffer,
    and the buffer generation it is valid in).

    The record is kept as its parts (:func:`takedown.events.checkin_parts`:
    the ``base`` a family repeats, a plain tuple, and the four fields a bot
    varies), which the shell appends to the buffer's columns as they are: no
    :class:`~takedown.events.Checkin` per request (a namedtuple, which the
    cyclic GC tracks for as long as it lives; a plain tuple of strings and
    numbers it stops tracking). ``checkin`` joins them, for the rare paths
    and for tests.
    """

    __slots__ = ("out", "base", "query", "body_len", "body_sha256", "body_head", "close", "commands", "until",
                 "gen", "tix")

    def __init__(self, out: bytes, base: tuple, query: str | None, body_len: int | None, body_sha256: str | None,
                 body_head: bytes | None, close: bool) -> None:
        self.out = out
        self.base = base
        self.query = query
        self.body_len = body_len
        self.body_sha256 = body_sha256
        self.body_head = body_head
        self.close = close
        self.commands = (self, CLOSE) if close else (self,)
        self.until = 0.0  # valid before this time (RequestCache.put sets it: the next whole second)
        self.gen = -1
        self.tix = 0

    @classmethod
    def of(cls, out: bytes, checkin: Checkin, close: bool) -> Answer:
        """The answer recording ``checkin`` (split into its parts)."""
        return cls(out, *checkin_parts(checkin), close)

    @property
    def checkin(self) -> Checkin:
        """The record (joined from its parts)."""
        return checkin_join(self.base, self.query, self.body_len, self.body_sha256, self.body_head)

    def __repr__(self) -> str:
        return f"Answer({self.out[:20]!r}..., {self.checkin!r}, close={self.close})"


# -- what the connections of a listener share -----------------------------------


class RequestCache:
    """Answers to requests already seen, by their exact bytes (one per listener).

    A bot on a keep-alive connection repeats its check-in byte for byte, and
    the bots of a family send the same request: parsing, matching and
    rendering it again gives the same response and the same event record.
    An entry (an :class:`Answer`) is valid until the next whole second (the
    response carries a ``Date`` header): ``Answer.until``; the table is
    emptied by the first insertion after that.

    An answer is in a reference cycle (``Answer.commands`` holds the answer:
    the fast path returns it without building a tuple), so one dropped from
    the table would wait for the cyclic GC. Under check-ins that never repeat
    (each bot id its own request) every request puts an answer, and the
    collector had to find and free all of them (1.3-2 us of GC per request
    in the running server; 0.8-1 us with this, docs/performance.md "Unique
    check-ins in the running server"). The table breaks the cycle of each
    answer it drops, so they go by reference counting.
    """

    __slots__ = ("entries", "until")

    def __init__(self) -> None:
        self.entries: dict[bytes, Answer] = {}
        self.until = 0.0

    def clear(self) -> None:
        self._drop_all()
        self.until = 0.0

    def _drop_all(self) -> None:
        # in place: connections hold a reference to the dict. Nothing holds
        # a dropped answer past the receive() that returned it (the event
        # loop runs one call at a time), so its cycle can go.
        entries = self.entries
        for answer in entries.values():
            answer.commands = None
        entries.clear()

    def get(self, data: bytes, now: float) -> Answer | None:
        hit = self.entries.get(data)
        return hit if hit is not None and now < hit.until else None

    def put(self, data: bytes, entry: Answer, now: float) -> None:
        entries = self.entries
        if now >= self.until:
            self._drop_all()
            self.until = float(int(now) + 1)
        elif len(entries) >= _CACHE_MAX_ENTRIES:
            self._drop_all()
        else:
            old = entries.get(data)  # the same bytes again (a connection's last request)
            if old is not None:
                old.commands = None
        entry.until = self.until
        entries[data] = entry


class Trust:
    """Which peers may send PROXY protocol headers (load balancers, the emulated range)."""

    def __init__(self, networks: tuple[str, ...]):
        self.networks = [ipaddress.ip_network(n) for n in networks]
        self._cache: dict[str, bool] = {}

    def __call__(self, ip: str) -> bool:
        ok = self._cache.get(ip)
        if ok is None:
            try:
                addr = ipaddress.ip_address(ip.split("%", 1)[0])
                if addr.version == 6 and addr.ipv4_mapped is not None:
                    addr = addr.ipv4_mapped
                ok = any(addr in n for n in self.networks)
            except ValueError:
                ok = False
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[ip] = ok
        return ok


class Counters:
    """What a sensor counts across its listeners (and across reloads)."""

    __slots__ = ("proxy_refused", "commands_sent")

    def __init__(self) -> None:
        self.proxy_refused = 0  # PROXY headers refused (untrusted peer, malformed, too long)
        self.commands_sent: dict[tuple[str, str], int] = {}  # (family, command) -> responses sent


class ListenerState:
    """What the connections of one listener share: its configuration and
    answers (rules, command table, response policy, TLS context, PROXY trust), the
    per-source connection counts (``per_source``: one dict for all the
    sensor's listeners), the request cache and the HTTP parser caches.
    Made by the shell, replaced as a unit on reload (connections already
    open keep the one they were created with)."""

    def __init__(self, listener: Listener, *, rules: RuleSet | None = None, policy: ResponsePolicy | None = None,
                 ssl_context: ssl.SSLContext | None = None, per_source: dict[str, int] | None = None,
                 parser_caches: ParserCaches | None = None, counters: Counters | None = None,
                 commands: CommandTable | None = None) -> None:
        self.listener = listener
        self.kind = listener.kind
        self.trust = Trust(listener.trusted_proxies)
        self.rules = rules if rules is not None else RuleSet.empty()
        self.commands = commands if commands is not None else CommandTable()
        self.policy = policy
        self.ssl_context = ssl_context if listener.handshake else None
        self.per_source = per_source if per_source is not None else {}
        self.cache = RequestCache()
        self.parser_caches = parser_caches if parser_caches is not None else ParserCaches()
        self.counters = counters if counters is not None else Counters()
        #: the last check-in base (events.checkin_parts) the listener's sessions
        #: made: an equal one is replaced by this object, so that the check-in
        #: buffer knows it by identity instead of hashing 16 fields (240 ns)
        self.last_base: tuple | None = None
        #: the class of this listener's connections: ``conn_class(state, src, dst, now)``
        #: is :meth:`connect` without its call (the shell's per-connection path)
        self.conn_class = _CLASSES[listener.kind]

    def connect(self, src: tuple[str, int], dst: tuple[str, int], now: float) -> Connection:
        """The connection accepted from ``src`` on ``dst`` at ``now``."""
        return self.conn_class(self, src, dst, now)


# -- connections ------------------------------------------------------------------


class Connection:
    """What every sinkhole connection shares: PROXY header, limits, deadlines, events.

    ``refused`` is true when the source already has
    ``max_connections_per_source`` connections open: the shell aborts the
    socket (no event, except the raw TCP one when it is closed). After a
    Close command (``done``) further bytes are ignored.
    """

    kind = "tcp"
    fast = False  # HttpConnection: the next bytes may be answered from the request cache

    def __init__(self, state: ListenerState, src: tuple[str, int], dst: tuple[str, int], now: float):
        self.state = state
        lst = self.listener = state.listener
        self.src = src
        self.dst = dst
        self.peer_ip: str | None = None
        ip = src[0]
        self.origin = _new_tuple(CheckinConn, ("tcp", ip, src[1], dst[0], dst[1], None))
        self.served = 0  # HTTP requests answered on this connection
        self.buf = b""
        self.preamble = True  # still looking for a PROXY header
        self.shift = 0.0  # emulated minus real time (range mode: the clock of a trusted PROXY header)
        self.done = False  # a Close was returned (or the socket is gone): nothing more is read
        self.deadline = _INF
        self.counted: str | None = None
        self.refused = False
        per = state.per_source
        n = per.get(ip, 0)
        if n >= lst.max_connections_per_source:
            self.refused = True
            self.done = True
            return
        per[ip] = n + 1
        self.counted = ip
        seconds = lst.request_timeout  # (arm(), inlined: once per connection)
        if seconds > 0:
            self.deadline = now + seconds

    # -- driven by the shell ----------------------------------------------------

    def receive(self, data: bytes, now: float):
        """The commands for ``data``, the next bytes from the peer."""
        if self.done:
            return NOTHING
        out: list = []
        if self.preamble:
            data = self._preamble(data, now, out)
            if not data:
                return out
        self._received(data, now, out)
        return out

    def timeout(self, now: float) -> list:
        """The deadline passed (idle, or a request too slow): the commands to end it."""
        out: list = []
        if not self.done:
            self._timed_out(now, out)
            self._close(out)
        return out

    def closed(self, now: float) -> list:
        """The socket is gone (closed by either side): the commands left (the
        raw TCP event). Releases the per-source count; call it once."""
        self.done = True
        self.fast = False
        if self.counted is not None:
            per = self.state.per_source
            n = per.get(self.counted, 1) - 1
            if n <= 0:
                per.pop(self.counted, None)
            else:
                per[self.counted] = n
            self.counted = None
        out: list = []
        self._ended(now, out)
        return out

    # -- shared machinery -------------------------------------------------------

    def arm(self, now: float, seconds: float) -> None:
        """Close the connection unless it makes progress within ``seconds``.

        A deadline checked by the shell's once-a-second sweep, not a timer
        per request: re-arming an event-loop timer on every keep-alive
        request cost about 0.9 us of the ~17 us a request took (measured).
        """
        self.deadline = now + seconds if seconds > 0 else _INF

    def _close(self, out: list) -> None:
        self.fast = False
        if not self.done:
            self.done = True
            out.append(CLOSE)

    def _record(self, out: list, kind: str, now: float, checkin: Checkin) -> None:
        out.append(Record(kind, now + self.shift, checkin))

    def _preamble(self, data: bytes, now: float, out: list) -> bytes:
        """The first bytes of every connection are checked for a PROXY
        header: from a trusted peer it gives the source; from anyone else it
        is refused (and counted), never believed. Returns the bytes after
        it (empty while it is incomplete or when it was refused)."""
        data = self.buf + data if self.buf else data
        try:
            got = proxy_mod.parse_proxy(data)
        except proxy_mod.ProxyError:
            self._refuse_proxy(now, out)
            return b""
        if got is None:
            if len(data) > _MAX_PREAMBLE:
                self._refuse_proxy(now, out)
                return b""
            self.buf = data
            return b""
        self.buf = b""
        self.preamble = False
        header, used = got
        if header is None:
            return data
        if not self.state.trust(self.src[0]):
            self._refuse_proxy(now, out)
            return b""
        if not header.local and header.src_ip is not None:
            self.peer_ip = self.src[0]
            self.src = (header.src_ip, header.src_port or 0)
            self.origin = _new_tuple(CheckinConn, ("tcp", self.src[0], self.src[1], self.dst[0], self.dst[1],
                                                   self.peer_ip))
        if self.listener.emulated_clock:
            # range mode: weeks pass in minutes; only a trusted peer gets here
            try:
                clock = header.clock
            except proxy_mod.ProxyError:
                self._refuse_proxy(now, out)
                return b""
            if clock is not None:
                self.shift = clock - now
        return data[used:]

    def _refuse_proxy(self, now: float, out: list) -> None:
        self.state.counters.proxy_refused += 1
        self._record(out, self.kind, now, Checkin(response="proxy-refused"))
        self._close(out)

    # -- for subclasses -----------------------------------------------------------

    def _received(self, data: bytes, now: float, out: list) -> None:
        raise NotImplementedError

    def _timed_out(self, now: float, out: list) -> None:
        pass

    def _ended(self, now: float, out: list) -> None:
        pass


class _HttpSession:
    """HTTP/1.x over a byte stream: parse, match, answer, record. Used plain and inside TLS.

    (A compiled twin, a ``cdef class`` with the same ``feed``, was measured
    and is not shipped: docs/performance.md, "The session, the rules, the
    record".)
    """

    def __init__(self, conn: Connection, send, hello=None):
        self.conn = conn
        self.send = send  # send(out, data): a Send command (plain) or encrypt first (TLS)
        state = conn.state
        lst = conn.listener
        self.caches = state.parser_caches
        self.state = state
        self.parser = RequestParser(max_header_bytes=lst.max_header_bytes, max_body_bytes=lst.max_body_bytes,
                                    caches=self.caches)
        self.hello = hello
        self.policy = state.policy
        self.rules = state.rules
        self.commands = state.commands
        self.command_families = state.commands.families  # empty for most operations: one truth test
        # Requests are cached only on plain HTTP (inside TLS the record holds
        # the ClientHello's fingerprints) and when the answer does not depend
        # on who asks (an operator template may show the client's address).
        self.cache = state.cache if hello is None else None
        if hello is not None:
            self.sni, self.ja3, self.ja4 = hello.sni, hello.ja3_hash, hello.ja4
        else:
            self.sni = self.ja3 = self.ja4 = None
        # What every request reads, read once (a Listener is frozen; a
        # connection's destination never changes: a PROXY header sets the
        # source only).
        self.port = conn.dst[1]
        self.max_requests = lst.requests_per_connection
        self.default_response = lst.response
        self.request_timeout = lst.request_timeout
        self.idle_timeout = lst.idle_timeout
        self._last_headers = None
        self._last_text = None
        self._last_response = None  # the response bytes whose status is _last_status
        self._last_status = None

    def feed(self, data: bytes, now: float, out: list) -> None:
        conn = self.conn
        parser = self.parser
        cacheable = self.cache is not None and not parser.pending() and len(data) <= _CACHE_MAX_REQUEST
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
            served = conn.served = conn.served + 1
            keep_alive = req.keep_alive
            last = not keep_alive or served >= self.max_requests
            method = req.method
            rule = match(req, port, ja3, ja4)
            sent = None
            if rule is not None:
                policy_name = rule.response or self.default_response
                rule_name, family = rule.name, rule.family
                if commanding and family in commanding:
                    # The answer depends on the clock: never cached. Cost
                    # for the other families: the truth test above, or one
                    # dict lookup when some family has commands.
                    cacheable = False
                    sent = self.commands.pick(family, now + conn.shift)
            else:
                policy_name, rule_name, family = self.default_response, "none", None
            if sent is not None and method != "CONNECT":  # a 2xx to CONNECT opens a tunnel
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
                self._last_text = "\n".join(f"{k}: {v}" for k, v in h) if h else None
            # The policy returns the same bytes object for a second: its
            # status is parsed once.
            if response is not self._last_response:
                self._last_response = response
                self._last_status = _status(response)
            # The record as its parts (events.checkin_parts): the base, in
            # CHECKIN_BASE_FIELDS order (a plain tuple: the GC stops tracking
            # it; events.py checks the order against the schema), and the four
            # fields a bot varies, which the shell appends to the buffer's
            # columns as they are (docs/performance.md "The check-in as columns").
            base = (
                rule_name,  # rule
                family,  # family
                method,  # method
                self.caches.host(req.host),  # host
                req.path,  # path
                req.user_agent,  # user_agent
                self._last_text,  # headers
                self._last_status,  # status
                policy_name,  # response
                sni,  # sni
                None,  # alpn
                None,  # tls_version
                ja3,  # ja3
                ja4,  # ja4
                None,  # first_bytes
                None,  # length
            )
            last_base = self.state.last_base
            if base == last_base:  # the bots of one family: the same base, shared
                base = last_base
            else:
                self.state.last_base = base
            query = req.query or None
            if response is not None and cacheable and policy_name != "template" and (not last or not keep_alive):
                # a repeat of these exact bytes gets the same answer and record
                answer = Answer(response, base, query, req.body_len, req.body_sha256, req.body_head, not keep_alive)
                self.cache.put(data, answer, now)  # type: ignore[union-attr]
                out.append(answer)
                if answer.close:
                    conn._close(out)
            else:
                checkin = checkin_join(base, query, req.body_len, req.body_sha256, req.body_head)
                conn._record(out, "http", now, checkin)
                if response is None:  # silent
                    conn._close(out)
                    return
                self.send(out, response)
                if sent is not None:
                    self._commanded(out, now, checkin, sent, response)
            if last:
                conn._close(out)
                return
        if midway and parser.expects_continue():
            # Expect: 100-continue (HTTP/1.1) and the body has not come:
            # ask for it rather than let the client wait (curl waits 1 s).
            self.send(out, CONTINUE)
        conn.midway = midway
        conn.arm(now, self.request_timeout if midway else self.idle_timeout)

    def _commanded(self, out: list, now: float, checkin: Checkin, sent, response: bytes) -> None:
        command, authority = sent
        counts = self.conn.state.counters.commands_sent
        k = (command.family, command.name)
        counts[k] = counts.get(k, 0) + 1
        out.append(Commanded(now + self.conn.shift, checkin, authority, command.name,
                             hashlib.sha256(response).hexdigest()))


def _status(response: bytes | None) -> int | None:
    if not response:
        return None
    try:
        return int(response[9:12])
    except ValueError:
        return None


def _send_plain(out: list, data: bytes) -> None:
    out.append(Send(data))


class HttpConnection(Connection):
    """Plain HTTP/1.x: one ``http`` event per request."""

    kind = "http"
    #: the parser and the rest of the request path, made for the first
    #: request the request cache does not answer (in :meth:`_received`): a
    #: bot that opens a connection per check-in it repeats never needs one
    session: _HttpSession | None = None

    def __init__(self, state: ListenerState, src: tuple[str, int], dst: tuple[str, int], now: float):
        Connection.__init__(self, state, src, dst, now)  # (cheaper than super(): once per connection)
        lst = self.listener
        self.last_fast = lst.requests_per_connection - 1  # the last request is answered 'close'
        self.idle_timeout = lst.idle_timeout if lst.idle_timeout > 0 else _INF
        self.midway = False  # a request partly received: the next bytes continue it
        self.entries = state.cache.entries  # never replaced (cleared in place)

    def receive(self, data: bytes, now: float):
        if not self.fast:
            if self.preamble and not self.buf and not self.done and _not_a_proxy_header(data):
                # A connection's first bytes, which cannot start a PROXY
                # header (what _preamble would decide, without parsing):
                # past the preamble, and on to the fast path below (a bot
                # that opens a connection per check-in).
                self.preamble = False
                self.fast = True
            else:
                out = Connection.receive(self, data, now)
                self.fast = not (self.preamble or self.midway or self.done)
                return out
        # The fast path: a request already seen, byte for byte (RequestCache),
        # on a connection past its PROXY header with no request half-read.
        hit = self.entries.get(data)
        if hit is not None and now < hit.until and self.served < self.last_fast:
            self.served += 1
            if hit.close:
                self.done = True
                self.fast = False
            else:
                self.deadline = now + self.idle_timeout
            return hit.commands
        out = Connection.receive(self, data, now)
        self.fast = not (self.preamble or self.midway or self.done)
        return out

    def _received(self, data: bytes, now: float, out: list) -> None:
        if not self.midway:
            # The first request of a connection (after its PROXY header, if
            # any) may be a cached one too: a bot that opens a connection
            # per check-in.
            hit = self.entries.get(data)
            if hit is not None and now < hit.until and self.served < self.last_fast:
                self.served += 1
                out.append(hit)
                if hit.close:
                    self._close(out)
                else:
                    self.deadline = now + self.idle_timeout
                return
        session = self.session
        if session is None:
            session = self.session = _HttpSession(self, _send_plain)
        session.feed(data, now, out)

    def _timed_out(self, now: float, out: list) -> None:
        if self.session is not None and self.session.parser.pending():
            self._record(out, "http", now, Checkin(status=408, response="timeout"))

    def _ended(self, now: float, out: list) -> None:
        # The session refers to this connection: dropping it here lets both
        # go by reference counting, without waiting for the cyclic GC (which
        # a connection per check-in would run every few hundred connections).
        self.session = None


class TlsConnection(Connection):
    """ClientHello first (one ``tls`` event: fingerprints, no certificate
    needed); then close, or finish the handshake with the listener's
    certificate (through ssl.MemoryBIO) and read the HTTP inside (``http``
    events carrying the ClientHello's fingerprints)."""

    kind = "tls"

    def __init__(self, state: ListenerState, src: tuple[str, int], dst: tuple[str, int], now: float):
        super().__init__(state, src, dst, now)
        self.hello_buf = b""
        self.hello: tls_mod.ClientHello | None = None
        self.tls: ssl.SSLObject | None = None
        self.session: _HttpSession | None = None
        self.handshaken = False
        self.midway = False

    def _received(self, data: bytes, now: float, out: list) -> None:
        if self.hello is None:
            self.hello_buf += data
            try:
                hello = tls_mod.parse_client_hello(self.hello_buf)
            except tls_mod.TlsError:
                self._record(out, "tls", now, Checkin(response="bad-hello", first_bytes=self.hello_buf[:64],
                                                      length=len(self.hello_buf)))
                self._close(out)
                return
            if hello is None:
                if len(self.hello_buf) > _MAX_PREAMBLE:
                    self._close(out)
                return
            self.hello = hello
            rule = self.state.rules.match_tls(sni=hello.sni, ja3=hello.ja3_hash, ja4=hello.ja4, port=self.dst[1])
            ctx = self.state.ssl_context
            self._record(out, "tls", now, Checkin(
                rule=rule.name if rule else "none", family=rule.family if rule else None,
                host=hello.sni, sni=hello.sni, alpn=",".join(hello.alpn) or None,
                tls_version=_tls_version(hello), ja3=hello.ja3_hash, ja4=hello.ja4,
                response="handshake" if ctx is not None else "close", length=len(self.hello_buf),
            ))
            if ctx is None:
                self._close(out)
                return
            self.incoming = ssl.MemoryBIO()
            self.outgoing = ssl.MemoryBIO()
            self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
            self.session = _HttpSession(self, self._send, hello)
            data, self.hello_buf = self.hello_buf, b""
        self.incoming.write(data)
        self._pump(now, out)

    def _pump(self, now: float, out: list) -> None:
        tls = self.tls
        chunks = []
        try:
            if not self.handshaken:
                tls.do_handshake()  # type: ignore[union-attr]
                self.handshaken = True
            while True:
                try:
                    chunk = tls.read(65536)  # type: ignore[union-attr]
                except ssl.SSLWantReadError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            chunks = []
        except (ssl.SSLError, OSError):
            self._flush(out)
            self._close(out)
            return
        self._flush(out)
        if chunks:
            self.session.feed(b"".join(chunks), now, out)  # type: ignore[union-attr]

    def _send(self, out: list, data: bytes) -> None:
        if self.done:
            return
        try:
            self.tls.write(data)  # type: ignore[union-attr]
        except (ssl.SSLError, OSError):
            self._close(out)
            return
        self._flush(out)

    def _flush(self, out: list) -> None:
        data = self.outgoing.read()
        if data and not self.done:
            out.append(Send(data))


def _tls_version(hello) -> str | None:
    names = {0x0304: "1.3", 0x0303: "1.2", 0x0302: "1.1", 0x0301: "1.0", 0x0300: "ssl3"}
    versions = [v for v in hello.versions if v in names] or [hello.legacy_version]
    best = max(versions)
    return names.get(best, hex(best))


class TcpConnection(Connection):
    """A raw TCP catch-all port: the first bytes (capped) and the length, one
    ``tcp`` event per connection, recorded when it ends."""

    kind = "tcp"

    def __init__(self, state: ListenerState, src: tuple[str, int], dst: tuple[str, int], now: float):
        super().__init__(state, src, dst, now)
        self.first = b""
        self.length = 0
        self.logged = False
        self.arm(now, self.listener.idle_timeout)

    def _received(self, data: bytes, now: float, out: list) -> None:
        cap = self.listener.capture_bytes
        if len(self.first) < cap:
            self.first += data[: cap - len(self.first)]
        self.length += len(data)
        self.arm(now, self.listener.idle_timeout)

    def _ended(self, now: float, out: list) -> None:
        if self.logged:
            return
        self.logged = True
        rule = self.state.rules.match_tcp(self.first, port=self.dst[1])
        self._record(out, "tcp", now, Checkin(rule=rule.name if rule else "none", family=rule.family if rule else None,
                                              first_bytes=self.first, length=self.length, response="close"))


_CLASSES: dict[str, type[Connection]] = {"http": HttpConnection, "tls": TlsConnection, "tcp": TcpConnection}
