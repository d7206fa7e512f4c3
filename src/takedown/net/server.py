"""The HTTP, TLS and raw TCP sinkhole: connections in, check-in events out.

Thin asyncio protocols around sans-I/O parts: :mod:`takedown.net.proxy`
(PROXY protocol v1/v2), :mod:`takedown.net.http` (requests),
:mod:`takedown.net.tls` (ClientHello, JA3/JA4), :mod:`takedown.net.fingerprints`
(which family a check-in belongs to) and :mod:`takedown.net.responses` (what
to answer). Each connection is one small state machine: optional PROXY
header (only from trusted networks), then the listener's protocol. The
sinkhole never forwards anything anywhere: it reads, logs and answers.

Every HTTP request is one ``kind=http`` event; every TLS ClientHello one
``kind=tls`` event (and the HTTP requests read inside a finished handshake
are ``kind=http`` events carrying the TLS fingerprints); every raw TCP
connection one ``kind=tcp`` event when it ends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time

from takedown.net import proxy as proxy_mod
from takedown.net import tls as tls_mod
from takedown.net.answers import Answers
from takedown.net.http import HttpError, RequestParser
from takedown.operation import Listener, Operation
from takedown.store.checkins import template
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter

_MAX_PREAMBLE = 16384  # bytes buffered while waiting for a PROXY header or a ClientHello
_CACHE_MAX_ENTRIES = 4096
_CACHE_MAX_REQUEST = 4096  # bytes: longer requests are always parsed
_time = time.time


class RequestCache:
    """Answers to requests already seen, by their exact bytes (one per listening socket).

    A bot on a keep-alive connection repeats its check-in byte for byte, and
    the bots of a family send the same request: parsing, matching and
    rendering it again gives the same response and the same event record.
    An entry holds ``(response bytes, template index, close after it)``; it
    is valid until the next whole second (the response carries a ``Date``
    header) and within the event buffer's generation (the template index),
    so both clear it. Measured on the keep-alive benchmark: a hit costs
    about 0.6 us of Python against about 4 us for parse + match + render +
    event record.
    """

    __slots__ = ("entries", "until")

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple[bytes, int, bool]] = {}
        self.until = 0.0

    def clear(self) -> None:
        # in place: connections hold a reference to the dict
        self.entries.clear()
        self.until = 0.0

    def put(self, data: bytes, entry: tuple[bytes, int, bool], now: float) -> None:
        if now >= self.until:
            self.entries.clear()
            self.until = float(int(now) + 1)
        elif len(self.entries) >= _CACHE_MAX_ENTRIES:
            self.entries.clear()
        self.entries[data] = entry


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


class NetSensor:
    """One worker's HTTP/TLS/TCP listeners, their writers and shared state."""

    def __init__(self, op: Operation, index: int, sensor: str, answers: Answers):
        self.op = op
        self.index = index
        self.rules = answers.rules
        self.responses = answers.responses
        self.ssl_context = answers.ssl_context
        self.writers: dict[str, SegmentWriter] = {}
        for kind in ("http", "tls", "tcp"):
            if any(lst.kind == kind or (kind == "http" and lst.kind == "tls" and lst.handshake) for lst in self.listeners()):
                self.writers[kind] = SegmentWriter(
                    op.storage, kind, operation=op.name, sensor=sensor, worker=index,
                    flush_interval=op.events.flush_interval, transform=transform_for(op),
                )
        self.per_source: dict[str, int] = {}
        self.conns: set[_Conn] = set()
        self._sweeper = None
        self.proxy_refused = 0
        self.servers: list[asyncio.AbstractServer] = []

    def listeners(self) -> list[Listener]:
        return [x for x in (self.op.http, self.op.tls, self.op.tcp) if x is not None]

    async def start(self, loop: asyncio.AbstractEventLoop, bound: list[tuple[Listener, str, int, socket.socket]]) -> None:
        for w in self.writers.values():
            w.start(loop)
        self._loop = loop
        self._sweeper = loop.call_later(1.0, self._sweep)
        for lst, host, port, sock in bound:
            trust = Trust(lst.trusted_proxies)
            cls = {"http": HttpConn, "tls": TlsConn, "tcp": TcpConn}[lst.kind]
            cache = RequestCache()
            if "http" in self.writers:
                self.writers["http"].checkins.on_reset.append(cache.clear)
            factory = (lambda c=cls, l=lst, h=host, p=port, t=trust, k=cache: c(self, l, (h, p), t, k))
            self.servers.append(await loop.create_server(factory, sock=sock, backlog=4096))

    def _sweep(self) -> None:
        """Close connections past their deadline (idle, or a request too slow)."""
        now = _time()
        for conn in [c for c in self.conns if c.deadline < now]:
            try:
                conn.on_timeout()
            except Exception:  # a bug must cost one connection, not the sweep
                conn.close()
        self._sweeper = self._loop.call_later(1.0, self._sweep)

    async def retire(self, grace: float) -> None:
        """Stop accepting (a successor accepts on the same sockets), let the
        requests in progress finish for up to ``grace`` seconds, closing each
        connection as soon as it is idle, then stop."""
        for srv in self.servers:
            srv.close()
        end = _time() + grace
        while self.conns and _time() < end:
            for c in list(self.conns):
                if c.idle:
                    c.close()
            await asyncio.sleep(0.05)
        await self.stop()

    async def stop(self) -> None:
        for c in list(self.conns):
            c.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for srv in self.servers:
            srv.close()
        for w in self.writers.values():
            await w.aclose()


class _Conn(asyncio.Protocol):
    """What every sinkhole connection shares: PROXY header, limits, timers, events."""

    kind = "tcp"
    fast = False  # HttpConn: the next bytes may be answered from the request cache

    def __init__(self, sensor: NetSensor, listener: Listener, dst: tuple[str, int], trust: Trust,
                 cache: RequestCache | None = None):
        self.sensor = sensor
        self.listener = listener
        self.dst = dst
        self.trust = trust
        self.cache = cache
        self.served = 0  # HTTP requests answered on this connection
        self._keys: dict[str, tuple[int, int]] = {}  # kind -> (buffer generation, connection key)
        self.transport = None
        self.src = ("", 0)
        self.peer_ip: str | None = None
        self.buf = b""
        self.preamble = True  # still looking for a PROXY header
        self.shift = 0.0  # emulated minus real time (range mode: the clock of a trusted PROXY header)
        self.closed = False
        self.deadline = float("inf")
        self.counted = None

    # -- connection life --------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.src = (peer[0], peer[1])
        per = self.sensor.per_source
        n = per.get(peer[0], 0)
        if n >= self.listener.max_connections_per_source:
            transport.abort()
            self.closed = True
            return
        per[peer[0]] = n + 1
        self.counted = peer[0]
        self.sensor.conns.add(self)
        self.arm(self.listener.request_timeout)

    def connection_lost(self, exc):
        self.closed = True
        self.sensor.conns.discard(self)
        if self.counted is not None:
            per = self.sensor.per_source
            n = per.get(self.counted, 1) - 1
            if n <= 0:
                per.pop(self.counted, None)
            else:
                per[self.counted] = n
            self.counted = None
        self.ended()

    def arm(self, seconds: float) -> None:
        """Close the connection unless it makes progress within ``seconds``.

        A deadline checked by the sensor's once-a-second sweep, not a timer
        per request: re-arming an event-loop timer on every keep-alive
        request cost about 0.9 us of the ~17 us a request took (measured).
        Wall-clock time, the clock the events are stamped with, so the hot
        path reads one clock: a clock step can only end idle connections
        early or late by the step.
        """
        self.deadline = _time() + seconds if seconds > 0 else float("inf")

    def on_timeout(self) -> None:
        self.timed_out()
        self.close()

    def close(self) -> None:
        self.fast = False
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.preamble:
            # The first bytes of every connection are checked for a PROXY
            # header: from a trusted peer it gives the source; from anyone
            # else it is refused (and counted), never believed.
            data = self.buf + data if self.buf else data
            try:
                got = proxy_mod.parse_proxy(data)
            except proxy_mod.ProxyError:
                self.refuse_proxy()
                return
            if got is None:
                if len(data) > _MAX_PREAMBLE:
                    self.refuse_proxy()
                    return
                self.buf = data
                return
            self.buf = b""
            self.preamble = False
            header, used = got
            if header is not None:
                if not self.trust(self.src[0]):
                    self.refuse_proxy()
                    return
                if not header.local and header.src_ip is not None:
                    self.peer_ip = self.src[0]
                    self.src = (header.src_ip, header.src_port or 0)
                    self._keys.clear()
                if self.listener.emulated_clock:
                    # range mode: weeks pass in minutes; only a trusted peer gets here
                    try:
                        clock = header.clock
                    except proxy_mod.ProxyError:
                        self.refuse_proxy()
                        return
                    if clock is not None:
                        self.shift = clock - _time()
                self.on_proxy(header)
                data = data[used:]
                if not data:
                    return
        self.received(data)

    @property
    def idle(self) -> bool:
        """No request half-received: closing now loses nothing."""
        return not self.buf and not getattr(self, "midway", False)

    def refuse_proxy(self) -> None:
        self.sensor.proxy_refused += 1
        self.log_event(response="proxy-refused")
        self.close()

    # -- for subclasses -----------------------------------------------------

    def on_proxy(self, header) -> None:
        pass

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def timed_out(self) -> None:
        pass

    def ended(self) -> None:
        pass

    def conn_key(self, kind: str, buf) -> int:
        """This connection's key in ``buf`` (a CheckinBuffer), registering it
        once per buffer generation."""
        got = self._keys.get(kind)
        if got is not None and got[0] == buf.gen:
            return got[1]
        key = buf.add_conn(("tcp", self.src[0], self.src[1], self.dst[0], self.dst[1], self.peer_ip))
        self._keys[kind] = (buf.gen, key)
        return key

    def log_event(self, **f) -> None:
        """One check-in event; ``f`` holds request fields (takedown.store.checkins.TEMPLATE_FIELDS)."""
        kind = f.pop("kind", self.kind)
        w = self.sensor.writers.get(kind)
        if w is None:
            return
        buf = w.checkins
        key = self.conn_key(kind, buf)
        buf.log(_time() + self.shift, key, buf.add_template(template(**f)))


_HOSTS: dict[str, str | None] = {}


def _host(value: str | None) -> str | None:
    """Host header without port, lowercased (cached: bots repeat their Host)."""
    if not value:
        return None
    h = _HOSTS.get(value)
    if h is None:
        if len(_HOSTS) > 50_000:
            _HOSTS.clear()
        h = _HOSTS[value] = _host_uncached(value)
    return h


def _host_uncached(value: str) -> str:
    v = value.strip().lower()
    if v.startswith("["):
        return v[1 : v.find("]")] if "]" in v else v
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


class _HttpSession:
    """HTTP/1.x over a byte stream: parse, match, answer, log. Used plain and inside TLS."""

    def __init__(self, conn: _Conn, write, hello=None):
        self.conn = conn
        self.write = write
        lst = conn.listener
        self.parser = RequestParser(max_header_bytes=lst.max_header_bytes, max_body_bytes=lst.max_body_bytes)
        self.hello = hello
        self.policy = conn.sensor.responses[lst.kind]
        self.buf = conn.sensor.writers["http"].checkins
        # Requests are cached only on plain HTTP (inside TLS the record holds
        # the ClientHello's fingerprints) and when the answer does not depend
        # on who asks (an operator template may show the client's address).
        self.cache = conn.cache if hello is None else None
        self._last_headers = None
        self._last_text = None

    def feed(self, data: bytes) -> None:
        conn = self.conn
        lst = conn.listener
        parser = self.parser
        cacheable = self.cache is not None and not parser.pending() and len(data) <= _CACHE_MAX_REQUEST
        try:
            requests = parser.feed(data)
        except HttpError as e:
            conn.log_event(kind="http", status=e.status, response="bad-request", **self._tls_fields())
            self.write(self.policy.bad_request(e.status, e.reason))
            conn.close()
            return
        if len(requests) != 1 or parser.pending():
            cacheable = False
        rules = conn.sensor.rules
        hello = self.hello
        buf = self.buf
        src, dst = conn.src, conn.dst
        if hello is not None:
            sni, ja3, ja4 = hello.sni, hello.ja3_hash, hello.ja4
        else:
            sni = ja3 = ja4 = None
        for req in requests:
            conn.served += 1
            last = not req.keep_alive or conn.served >= lst.requests_per_connection
            rule = rules.match_http(req, port=dst[1], ja3=ja3, ja4=ja4)
            if rule is not None:
                policy_name = rule.response or lst.response
                rule_name, family = rule.name, rule.family
            else:
                policy_name, rule_name, family = lst.response, None, None
            out = self.policy.render(policy_name, req, family=family, rule=rule_name, client_ip=src[0],
                                     keep_alive=not last)
            h = req.headers
            if h is not self._last_headers:
                self._last_headers = h
                self._last_text = "\n".join(f"{k}: {v}" for k, v in h) if h else None
            tix = buf.add_template((
                rule_name or "none", family,
                req.method, _host(req.host), req.path, req.query or None, req.user_agent, self._last_text,
                req.body_len, req.body_sha256, req.body_head, _status(out), policy_name,
                sni, None, None, ja3, ja4, None, None,
            ))
            now = _time()
            buf.log(now + conn.shift, conn.conn_key("http", buf), tix)
            if out is None:
                conn.close()
                return
            if cacheable and policy_name != "template" and (not last or not req.keep_alive):
                # a repeat of these exact bytes gets the same answer and record
                self.cache.put(data, (out, tix, not req.keep_alive), now)
            self.write(out)
            if last:
                conn.close()
                return
        conn.midway = parser.pending()
        conn.arm(lst.request_timeout if conn.midway else lst.idle_timeout)

    def _tls_fields(self) -> dict:
        h = self.hello
        if h is None:
            return {}
        return {"sni": h.sni, "ja3": h.ja3_hash, "ja4": h.ja4}


def _status(response: bytes | None) -> int | None:
    if not response:
        return None
    try:
        return int(response[9:12])
    except ValueError:
        return None


class HttpConn(_Conn):
    kind = "http"

    def connection_made(self, transport):
        super().connection_made(transport)
        self.session = _HttpSession(self, transport.write)
        lst = self.listener
        self.last_fast = lst.requests_per_connection - 1  # the last request is answered 'close'
        self.idle_timeout = lst.idle_timeout if lst.idle_timeout > 0 else float("inf")
        self.midway = False  # a request partly received: the next bytes continue it
        # bound once for the hot path (none of these objects is ever replaced)
        self.entries = self.cache.entries
        self.cbuf = cbuf = self.session.buf
        self.tappend = cbuf.times.append
        self.kappend = cbuf.keys.append
        self.send = transport.write
        self.gen = -1
        self.key = 0

    def data_received(self, data: bytes) -> None:
        # The hot path: a request already seen, byte for byte (RequestCache),
        # on a connection past its PROXY header with no request half-read.
        # Everything else goes the long way through the parser.
        if self.fast:
            hit = self.entries.get(data)
            if hit is not None:
                now = _time()
                if now < self.cache.until and self.served < self.last_fast:
                    self.served += 1
                    out, tix, close = hit
                    if self.gen != self.cbuf.gen:
                        self.gen = self.cbuf.gen
                        self.key = self.conn_key("http", self.cbuf)
                    self.tappend(now + self.shift)
                    self.kappend(self.key | tix)
                    self.send(out)
                    if close:
                        self.close()
                    else:
                        self.deadline = now + self.idle_timeout
                    return
        _Conn.data_received(self, data)
        self.fast = not (self.preamble or self.midway or self.closed)

    def received(self, data: bytes) -> None:
        self.session.feed(data)

    def timed_out(self) -> None:
        if self.session.parser.pending():
            self.log_event(status=408, response="timeout")


class TlsConn(_Conn):
    """ClientHello first (fingerprints, no certificate needed); then close, or
    finish the handshake with a self-signed certificate and read the HTTP inside."""

    kind = "tls"

    def connection_made(self, transport):
        super().connection_made(transport)
        self.hello_buf = b""
        self.hello = None
        self.tls = None
        self.session = None

    def received(self, data: bytes) -> None:
        if self.hello is None:
            self.hello_buf += data
            try:
                hello = tls_mod.parse_client_hello(self.hello_buf)
            except tls_mod.TlsError:
                self.log_event(response="bad-hello", first_bytes=self.hello_buf[:64], length=len(self.hello_buf))
                self.close()
                return
            if hello is None:
                if len(self.hello_buf) > _MAX_PREAMBLE:
                    self.close()
                return
            self.hello = hello
            rule = self.sensor.rules.match_tls(sni=hello.sni, ja3=hello.ja3_hash, ja4=hello.ja4, port=self.dst[1])
            ctx = self.sensor.ssl_context if self.listener.handshake else None
            self.log_event(
                rule=rule.name if rule else "none", family=rule.family if rule else None,
                host=hello.sni, sni=hello.sni, alpn=",".join(hello.alpn) or None,
                tls_version=_tls_version(hello), ja3=hello.ja3_hash, ja4=hello.ja4,
                response="handshake" if ctx is not None else "close", length=len(self.hello_buf),
            )
            if ctx is None:
                self.close()
                return
            self.incoming = ssl.MemoryBIO()
            self.outgoing = ssl.MemoryBIO()
            self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
            self.session = _HttpSession(self, self._send, hello)
            data, self.hello_buf = self.hello_buf, b""
        self.incoming.write(data)
        self._pump()

    def _pump(self) -> None:
        tls = self.tls
        try:
            if not getattr(self, "handshaken", False):
                tls.do_handshake()
                self.handshaken = True
            chunks = []
            while True:
                try:
                    chunk = tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            chunks = []
        except (ssl.SSLError, OSError):
            self._flush()
            self.close()
            return
        self._flush()
        if chunks:
            self.session.feed(b"".join(chunks))

    def _send(self, data: bytes) -> None:
        try:
            self.tls.write(data)
        except (ssl.SSLError, OSError):
            self.close()
            return
        self._flush()

    def _flush(self) -> None:
        out = self.outgoing.read()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)


def _tls_version(hello) -> str | None:
    names = {0x0304: "1.3", 0x0303: "1.2", 0x0302: "1.1", 0x0301: "1.0", 0x0300: "ssl3"}
    versions = [v for v in hello.versions if v in names] or [hello.legacy_version]
    best = max(versions)
    return names.get(best, hex(best))


class TcpConn(_Conn):
    """A raw TCP catch-all port: the first bytes (capped) and the length, one event per connection."""

    kind = "tcp"

    def connection_made(self, transport):
        super().connection_made(transport)
        self.first = b""
        self.length = 0
        self.logged = False
        self.arm(self.listener.idle_timeout)

    def received(self, data: bytes) -> None:
        cap = self.listener.capture_bytes
        if len(self.first) < cap:
            self.first += data[: cap - len(self.first)]
        self.length += len(data)
        self.arm(self.listener.idle_timeout)

    def ended(self) -> None:
        if self.logged or self.transport is None:
            return
        self.logged = True
        rule = self.sensor.rules.match_tcp(self.first, port=self.dst[1])
        self.log_event(rule=rule.name if rule else "none", family=rule.family if rule else None,
                       first_bytes=self.first, length=self.length, response="close")
