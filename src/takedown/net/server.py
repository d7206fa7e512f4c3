"""The HTTP, TLS and raw TCP sinkhole: connections in, check-in events out.

A thin asyncio shell (uvloop in ``takedown serve``) around the sans-I/O
:mod:`takedown.net.connection`, where everything a connection does is
decided: PROXY header (only from trusted networks), per-source limits,
HTTP parsing, fingerprint rules, responses, the request cache, deadlines,
TLS. A protocol object here feeds the bytes its socket delivers to its
:class:`~takedown.net.connection.Connection` and carries out the commands
it gets back: write (``Send``), append a check-in to the kind's
:class:`~takedown.store.checkins.CheckinBuffer` (``Record``, ``Answer``),
close (``Close``). A once-a-second sweep ends connections past their
``deadline``. The sinkhole never forwards anything anywhere: it reads, logs
and answers.

Every HTTP request is one ``kind=http`` event; every TLS ClientHello one
``kind=tls`` event (and the HTTP requests read inside a finished handshake
are ``kind=http`` events carrying the TLS fingerprints); every raw TCP
connection one ``kind=tcp`` event when it ends. A command response sent
under a court's authority (:mod:`takedown.net.commands`) is also one
``kind=command`` event, beside the ``http`` event of the check-in it
answered (``response = 'command'``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from functools import partial

from takedown.net.answers import Answers
from takedown.net.connection import (
    Answer,
    Close,
    Commanded,
    Connection,
    Counters,
    ListenerState,
    Record,
    Send,
    TcpConnection,
)
from takedown.net.http import ParserCaches
from takedown.operation import Listener, Operation
from takedown.store.checkins import CheckinBuffer
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter

_time = time.time


class NetSensor:
    """One worker's HTTP/TLS/TCP listeners, their writers and shared state.

    Each listening socket has a :class:`ListenerState` (rules, response
    policy, TLS context, PROXY trust, limits, request cache, parser caches).
    A reload does not patch a running sensor: the composition root
    (:mod:`takedown.serve`) replaces the whole worker.
    """

    def __init__(self, op: Operation, index: int, sensor: str, answers: Answers):
        self.op = op
        self.index = index
        self.answers = answers
        self.writers: dict[str, SegmentWriter] = {}
        serves_http = any(lst.kind == "http" or (lst.kind == "tls" and lst.handshake) for lst in self.listeners())
        for kind in ("http", "tls", "tcp", "command"):
            if kind == "command":
                wanted = serves_http and bool(answers.commands)  # sent only to HTTP check-ins
            else:
                wanted = any(lst.kind == kind for lst in self.listeners()) or (kind == "http" and serves_http)
            if wanted:
                self.writers[kind] = SegmentWriter(
                    op.storage, kind, operation=op.name, sensor=sensor, worker=index,
                    flush_interval=op.events.flush_interval, transform=transform_for(op),
                )
        w = self.writers.get("http")
        # what every connection's hot path binds (made once: bound methods
        # are new objects at each attribute load): the http check-in buffer
        # and the appends of its two per-event arrays (never replaced)
        self.http_binds = (w.checkins, w.checkins.times.append, w.checkins.keys.append) if w is not None else None
        self.per_source: dict[str, int] = {}
        self.counters = Counters()
        self.states: list[ListenerState] = []  # one per bound socket, in start()'s order
        self.protocols: set[_Protocol] = set()
        self._sweeper = None
        self.servers: list[asyncio.AbstractServer] = []

    @property
    def proxy_refused(self) -> int:
        return self.counters.proxy_refused

    def listeners(self) -> list[Listener]:
        return [x for x in (self.op.http, self.op.tls, self.op.tcp) if x is not None]

    def _state(self, lst: Listener, answers: Answers, caches: ParserCaches | None) -> ListenerState:
        return ListenerState(lst, rules=answers.rules, policy=answers.responses.get(lst.kind),
                             ssl_context=answers.ssl_context, per_source=self.per_source,
                             parser_caches=caches, counters=self.counters, commands=answers.commands)

    async def start(self, loop: asyncio.AbstractEventLoop, bound: list[tuple[Listener, str, int, socket.socket]]) -> None:
        for w in self.writers.values():
            w.start(loop)
        self._loop = loop
        self._sweeper = loop.call_later(1.0, self._sweep)
        for i, (lst, host, port, sock) in enumerate(bound):
            self.states.append(self._state(lst, self.answers, None))
            factory = partial(_Protocol, self, i, (host, port))  # (no Python frame of its own)
            self.servers.append(await loop.create_server(factory, sock=sock, backlog=4096))

    def _sweep(self) -> None:
        """Close connections past their deadline (idle, or a request too slow)."""
        now = _time()
        for p in [p for p in self.protocols if p.conn.deadline < now]:
            try:
                p.run(p.conn.timeout(now), now)
            except Exception:  # a bug must cost one connection, not the sweep
                p.close()
        self._sweeper = self._loop.call_later(1.0, self._sweep)

    def pause(self) -> None:
        """Stop accepting now (a retiring worker: its successor accepts on the
        same sockets); :meth:`retire` then finishes what is in progress."""
        for srv in self.servers:
            srv.close()

    async def retire(self, grace: float) -> None:
        """Stop accepting (a successor accepts on the same sockets), let the
        requests in progress finish for up to ``grace`` seconds, closing each
        connection as soon as it is between requests, then stop."""
        for srv in self.servers:
            srv.close()
        # connections the loop accepted just before the close reach
        # connection_made only now: wait for them, or their check-ins would
        # come after the writers' last flush
        await asyncio.sleep(0.05)
        end = _time() + grace
        while self.protocols and _time() < end:
            for p in list(self.protocols):
                if _between_requests(p.conn):
                    p.close()
            await asyncio.sleep(0.05)
        await self.stop()

    async def stop(self) -> None:
        for srv in self.servers:
            srv.close()
        await asyncio.sleep(0.05)  # (as in retire: connections accepted before the close)
        for p in list(self.protocols):
            p.close()
        await asyncio.sleep(0)  # their connection_lost callbacks (raw TCP events) run before the flush
        if self._sweeper is not None:
            self._sweeper.cancel()
        for srv in self.servers:
            srv.close()
        for w in self.writers.values():
            await w.aclose()


def _between_requests(c: Connection | None) -> bool:
    """Closing ``c`` now loses nothing: it has been served and nothing of a
    next request has come. (A connection that has sent nothing yet is
    waiting for its first answer, not idle; a raw TCP one is, once it has
    sent something: its event is written when it closes.)"""
    if c is None:
        return True
    if c.buf or getattr(c, "midway", False):
        return False
    if isinstance(c, TcpConnection):
        return c.length > 0
    return c.served > 0


class _Protocol(asyncio.Protocol):
    """The asyncio side of one connection: bytes to its Connection, commands to the socket and the buffers.

    One per connection, so it holds no more than the connection needs
    (slots, no dict; the per-connection work is measured in
    docs/performance.md, "Per connection: accept, PROXY, close").
    """

    __slots__ = ("sensor", "index", "dst", "conn", "transport", "_keys", "hgen", "hkey", "horigin", "shift",
                 "receive", "send", "hbuf", "tappend", "kappend")

    def __init__(self, sensor: NetSensor, index: int, dst: tuple[str, int]):
        self.sensor = sensor
        self.index = index
        self.dst = dst
        self.conn: Connection | None = None
        self.transport = None
        # this connection's key in each check-in buffer it logs to (conn_key):
        # http's in slots (hgen, hkey, horigin: the buffer generation, the key,
        # the record it registered), the others' (TLS, TCP) in a dict made
        # when one logs: kind -> (buffer generation, record, key)
        self._keys: dict[str, tuple[int, object, int]] | None = None
        self.hgen = -1

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        if len(peer) != 2:  # IPv6: (host, port, flowinfo, scope id)
            peer = peer[:2]
        sensor = self.sensor
        state = sensor.states[self.index]
        self.conn = conn = state.conn_class(state, peer, self.dst, _time())  # state.connect(), one call less
        # bound once for the hot path (none of these objects is ever replaced)
        self.receive = conn.receive
        self.send = transport.write
        if conn.refused:
            transport.abort()
            return
        binds = sensor.http_binds
        if binds is not None:
            self.hbuf, self.tappend, self.kappend = binds
        sensor.protocols.add(self)

    def connection_lost(self, exc):
        self.sensor.protocols.discard(self)
        conn = self.conn
        if conn is not None:
            now = _time()
            left = conn.closed(now)
            if left:
                self.run(left, now)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        now = _time()
        for c in self.receive(data, now):
            cls = c.__class__
            if cls is Answer:
                # The hot path (a request answered from the request cache or
                # just put in it): the record's index is kept on the Answer
                # for the buffer's generation, the connection's key here
                # (a PROXY header, the only thing that changes the source,
                # comes before any answer).
                buf = self.hbuf
                gen = buf.gen
                if c.gen != gen:
                    # the record's parts straight into the buffer's columns
                    c.tix = buf.add_parts(c.base, c.query, c.body_len, c.body_sha256, c.body_head)
                    c.gen = gen
                if self.hgen != gen:
                    self.http_key(buf)
                self.tappend(now + self.shift)
                self.kappend(self.hkey | c.tix)
                self.send(c.out)
            elif cls is Close:
                # (the loop's close() does nothing on a closing transport)
                self.transport.close()
            elif cls is Record:
                self.record(c.kind, c.time, c.checkin)
            elif cls is Send:
                self.send(c.data)
            else:
                self.run1(c, now)

    def run(self, commands, now: float) -> None:
        for c in commands:
            self.run1(c, now)

    def run1(self, c, now: float) -> None:
        cls = c.__class__
        if cls is Send:
            t = self.transport
            if t is not None and not t.is_closing():
                t.write(c.data)
        elif cls is Record:
            self.record(c.kind, c.time, c.checkin)
        elif cls is Close:
            self.close()
        elif cls is Commanded:
            self.commanded(c)
        elif cls is Answer:  # not returned outside receive(); for completeness
            self.record("http", now + self.conn.shift, c.checkin)
            self.run1(Send(c.out), now)
        else:  # pragma: no cover
            raise TypeError(f"unknown command {c!r}")

    def close(self) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.close()

    def conn_key(self, kind: str, buf: CheckinBuffer) -> int:
        """This connection's key in ``buf``, registering its record once per
        buffer generation (and again if a PROXY header changed the source)."""
        if kind == "http":
            return self.http_key(buf)
        origin = self.conn.origin
        keys = self._keys
        if keys is None:
            keys = self._keys = {}
        else:
            got = keys.get(kind)
            if got is not None and got[0] == buf.gen and got[1] is origin:
                return got[2]
        key = buf.add_conn(origin)
        keys[kind] = (buf.gen, origin, key)
        return key

    def http_key(self, buf: CheckinBuffer) -> int:
        """:meth:`conn_key` for the http buffer; also takes the connection's
        clock shift for the hot path (a PROXY header, the only thing that
        changes the source or the clock, comes before any answer)."""
        origin = self.conn.origin
        if self.hgen != buf.gen or self.horigin is not origin:
            self.hkey = buf.add_conn(origin)
            self.hgen = buf.gen
            self.horigin = origin
            self.shift = self.conn.shift
        return self.hkey

    def commanded(self, c: Commanded) -> None:
        """One ``command`` event (its row: events.COMMAND_ROW)."""
        w = self.sensor.writers.get("command")
        if w is None:
            return
        o, k = self.conn.origin, c.checkin
        w.rows.append((c.time, o.transport, o.src_ip, o.src_port, o.dst_ip, o.dst_port, k.rule, k.family,
                       o.peer_ip) + tuple(k[2:]) + (c.authority, c.command, c.sha256))

    def record(self, kind: str, t: float, checkin) -> None:
        w = self.sensor.writers.get(kind)
        if w is None:
            return
        buf = w.checkins
        buf.log(t, self.conn_key(kind, buf), buf.add_template(checkin))
