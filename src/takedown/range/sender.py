"""Puts a planned day on the wire: resolver queries over UDP, bot sessions over
TCP (HTTP, HTTP inside TLS, raw greetings), to a sinkhole on loopback.

Every connection opens with a PROXY protocol v2 header naming the bot's
public address and carrying the emulated clock (TLV 0xE0): the sinkhole
believes both only because the range's loopback network is in its
``trusted_proxies`` and its listener is in range mode (``emulated_clock``).
A session's HTTP check-ins are pipelined on one keep-alive connection, the
last asking the server to close, so a session ends when the server closes
it. DNS queries leave from the resolvers' own loopback addresses and carry
the clock in EDNS option 65423 (honoured from ``[dns] emulated_clock``
networks only).

A bot of a family that obeys commands keeps what the sinkhole answers (plain
or inside TLS) and, when the session ends, reads the commands in it
(:mod:`takedown.range.obey`): :meth:`Sender.send_day` returns them, and the
run stops the bots told to stop. Other bots read nothing.

Asyncio protocols on uvloop, ``concurrency`` sessions in flight; a session
or query that gets no answer within ``timeout`` seconds is counted as
failed, never retried (a retry could make an event twice).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import struct
from dataclasses import dataclass, field

import dns.edns
import dns.message
import numpy as np

from takedown.errors import RangeError
from takedown.net.proxy import build_v2_clocked4
from takedown.range import families
from takedown.range.obey import Commands, commands_in
from takedown.range.population import Population
from takedown.range.schedule import Day, resolver_address

#: EDNS(0) option carrying the emulated clock (RFC 6891 local/experimental range).
EDNS_CLOCK = 65423


@dataclass(frozen=True)
class Endpoints:
    """Where the sinkhole listens (all on loopback) and the address bots think they reach."""

    dns: tuple[str, int] | None
    http: tuple[str, int] | None
    tls: tuple[str, int] | None
    tcp: tuple[str, int] | None
    sinkhole_ip: str = "192.0.2.53"


@dataclass
class Stats:
    sessions: int = 0
    checkins: int = 0
    failed_sessions: int = 0
    queries: int = 0
    answered: int = 0
    commands: int = 0  # responses that carried a command
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Received:
    """The commands a day's sessions received: one row per (session, command)."""

    session: list[int] = field(default_factory=list)  # index into the Day's sessions
    command: list[str] = field(default_factory=list)
    count: list[int] = field(default_factory=list)  # responses of the session that carried it

    def __len__(self) -> int:
        return len(self.session)


class _Session(asyncio.Protocol):
    """One bot session: write, then wait for the server to close. A session the
    server leaves open past the deadline is aborted (and counted failed)."""

    __slots__ = ("payload", "done", "timeout", "timer", "transport")

    def __init__(self, payload: bytes, done: asyncio.Future, timeout: float):
        self.payload = payload
        self.done = done
        self.timeout = timeout
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        self.timer = self.done.get_loop().call_later(self.timeout, self.expire)
        transport.write(self.payload)

    def expire(self):
        if not self.done.done():
            self.done.set_exception(TimeoutError("no close from the sinkhole"))
        self.transport.abort()

    def data_received(self, data):
        pass

    def eof_received(self):
        return None  # close our side too

    def received(self) -> bytes | None:
        return None

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
        if not self.done.done():
            self.done.set_result(self.received())


class _Listening(_Session):
    """A session of a bot that obeys commands: it keeps what the sinkhole answers
    (the session's result, read when it ends)."""

    __slots__ = ("chunks",)

    def __init__(self, payload: bytes, done: asyncio.Future, timeout: float):
        super().__init__(payload, done, timeout)
        self.chunks: list[bytes] = []

    def data_received(self, data):
        self.chunks.append(data)

    def received(self) -> bytes:
        return b"".join(self.chunks)


class _Greeting(_Session):
    """A raw TCP bot: its greeting, then it hangs up (the server logs the connection at its end)."""

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.close()


class _Resolver(asyncio.DatagramProtocol):
    def __init__(self, owner: "_Dns", res: int):
        self.owner = owner
        self.res = res

    def datagram_received(self, data, addr):
        self.owner.answered(self, data)

    def error_received(self, exc):
        self.owner.errors.append(str(exc))
        if isinstance(exc, ConnectionRefusedError):  # ICMP port unreachable: no server
            self.owner.refused = True
            if self.owner.room is not None:
                self.owner.room.set()


class _Dns:
    """The emulated resolvers' sockets; queries built once per name by dnspython,
    then only their ID and clock bytes change."""

    def __init__(self, target: tuple[str, int], window: int = 256):
        self.target = target
        self.window = window
        self.socks: dict[int, tuple[asyncio.DatagramTransport, _Resolver]] = {}
        self.templates: dict[str, bytes] = {}
        self.pending: dict[tuple[int, int], float] = {}
        self.ids: dict[int, int] = {}
        self.errors: list[str] = []
        self.got = 0
        self.lost = 0
        self.refused = False
        self.room: asyncio.Event | None = None

    def template(self, name: str) -> bytes:
        t = self.templates.get(name)
        if t is None:
            opt = dns.edns.GenericOption(EDNS_CLOCK, b"\0" * 8)
            # the OPT record comes last and the clock is its only option, so the
            # clock is the query's last 8 bytes: a query is then ID + middle + clock
            t = dns.message.make_query(name, "A", use_edns=0, options=[opt]).to_wire()
            if t[-12:] != struct.pack("!HH", EDNS_CLOCK, 8) + b"\0" * 8:
                raise RangeError(f"dnspython did not put the clock option last in the query for {name}")
            self.templates[name] = t
        return t

    async def sock(self, res: int):
        got = self.socks.get(res)
        if got is None:
            loop = asyncio.get_running_loop()
            got = self.socks[res] = await loop.create_datagram_endpoint(
                lambda: _Resolver(self, res), local_addr=(resolver_address(res), 0), remote_addr=self.target)
        return got

    def answered(self, proto: _Resolver, data: bytes) -> None:
        if len(data) < 2:
            return
        key = (proto.res, (data[0] << 8) | data[1])
        if self.pending.pop(key, None) is not None:
            self.got += 1
            if self.room is not None and len(self.pending) < self.window:
                self.room.set()

    async def send(self, day: Day, timeout: float) -> tuple[int, int]:
        self.room = asyncio.Event()
        loop = asyncio.get_running_loop()
        start, lost_before = self.got, self.lost
        for res, t, name in zip(day.q_resolver.tolist(), day.q_time.tolist(), day.q_name):
            if self.refused:
                raise RangeError(f"nothing answers DNS on {self.target[0]}:{self.target[1]}: is the sinkhole running?")
            while len(self.pending) >= self.window:
                self.room.clear()
                try:
                    await asyncio.wait_for(self.room.wait(), timeout)
                except TimeoutError:
                    self.lost += self._expire(loop.time() - timeout)
            tr, _ = await self.sock(res)
            qid = self.ids.get(res, 0)
            self.ids[res] = (qid + 1) & 0xFFFF
            tpl = self.template(name)
            tr.sendto(struct.pack("!H", qid) + tpl[2:-8] + struct.pack("!Q", int(t * 1e6)))
            self.pending[(res, qid)] = loop.time()
        end = loop.time() + timeout
        while self.pending and loop.time() < end and not self.refused:
            await asyncio.sleep(0.005)
        if self.refused:
            raise RangeError(f"nothing answers DNS on {self.target[0]}:{self.target[1]}: is the sinkhole running?")
        self.lost += len(self.pending)
        self.pending.clear()
        return self.got - start, self.lost - lost_before

    def _expire(self, before: float) -> int:
        old = [k for k, t in self.pending.items() if t < before]
        for k in old:
            del self.pending[k]
        return len(old)

    def close(self) -> None:
        for tr, _ in self.socks.values():
            tr.close()


class Sender:
    """Sends planned days to one sinkhole; reuse it across days (resolver sockets stay open)."""

    def __init__(self, pop: Population, ends: Endpoints, *, concurrency: int = 96, timeout: float = 20.0):
        self.pop, self.ends = pop, ends
        self.concurrency, self.timeout = concurrency, timeout
        self.dns = _Dns(ends.dns) if ends.dns else None
        self._ip = pop.ip.astype(np.int64).tolist()
        self._dst = int(ipaddress.IPv4Address(ends.sinkhole_ip))
        self._reqs: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        beh = {f: families.get(f) for f in np.unique(pop.family).tolist()}
        self._beh_of = [beh[f] for f in pop.family.tolist()]  # each bot's behaviour, looked up once
        self._commands = {f: Commands(b.commands) for f, b in beh.items() if b.commands}
        self._body = os.urandom(4096)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self._ctx = ctx

    def _payload(self, b: int, t: float, n: int, tls: bool, host: str, port: int) -> tuple[str, bytes, bytes, str]:
        """(kind, PROXY header, what the bot sends after it) of bot ``b``'s session."""
        beh = self._beh_of[b]
        kind = "tcp" if beh.transport == "tcp" else ("tls" if tls else "http")
        dst_port = (23 if beh.lookup else 666) if kind == "tcp" else (443 if tls else 80)
        head = build_v2_clocked4(self._ip[b], port, self._dst, dst_port, int(t * 1e6))
        if kind == "tcp":
            return kind, head, beh.greeting
        key = (beh.name, host)
        reqs = self._reqs.get(key)
        if reqs is None:
            body = self._body[: beh.body_bytes]
            h = host or self.ends.sinkhole_ip
            reqs = self._reqs[key] = (beh.request(h, body, False), beh.request(h, body, True))
        return kind, head, reqs[0] * (n - 1) + reqs[1]

    async def send_day(self, day: Day, stats: Stats) -> Received:
        """Send ``day``; the commands its sessions received."""
        if self.dns is not None and day.q_time.size:
            got, lost = await self.dns.send(day, self.timeout)
            stats.queries += int(day.q_time.size)
            stats.answered += got
            if lost:
                stats.errors.append(f"day {day.day}: {lost} DNS queries unanswered")
            while self.dns.errors and len(stats.errors) < 20:
                stats.errors.append(f"day {day.day}: DNS: {self.dns.errors.pop(0)}")
        loop = asyncio.get_running_loop()
        ports = np.random.default_rng([day.day, 99]).integers(1024, 65536, len(day)).tolist()
        # plain lists: indexing numpy arrays one session at a time costs more than the copy
        bots, times, counts, tls = day.bot.tolist(), day.time.tolist(), day.checkins.tolist(), day.tls.tolist()
        next_i = 0
        n = len(day)
        got = Received()

        async def lane():
            nonlocal next_i
            while next_i < n:
                i = next_i
                next_i += 1
                host = day.host[i]
                kind, head, data = self._payload(bots[i], times[i], counts[i], tls[i], host, ports[i])
                known = self._commands.get(self._beh_of[bots[i]].name) if kind != "tcp" else None
                try:
                    answer = await self._one(loop, kind, head, data, host, known is not None)
                except ConnectionRefusedError:
                    where = getattr(self.ends, kind)
                    raise RangeError(f"nothing listens for {kind} on {where[0]}:{where[1]}: "
                                     "is the sinkhole running?") from None
                except (OSError, TimeoutError, ssl.SSLError) as e:
                    stats.failed_sessions += 1
                    if len(stats.errors) < 20:
                        stats.errors.append(f"day {day.day}: {kind} session failed: {e!r}")
                    continue
                stats.sessions += 1
                stats.checkins += counts[i] + (1 if kind == "tls" else 0)
                if answer:
                    for command, k in commands_in(answer, known).items():
                        got.session.append(i)
                        got.command.append(command)
                        got.count.append(k)
                        stats.commands += k

        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, max(n, 1)))))
        return got

    async def _one(self, loop, kind: str, head: bytes, data: bytes, host: str, listen: bool) -> bytes | None:
        """One session; what the sinkhole answered when ``listen`` (else None)."""
        done = loop.create_future()
        proto = _Listening if listen else _Session
        if kind == "tcp":
            await loop.create_connection(lambda: _Greeting(head + data, done, self.timeout), *self.ends.tcp)
        elif kind == "http":
            await loop.create_connection(lambda: proto(head + data, done, self.timeout), *self.ends.http)
        else:
            tr, pr = await loop.create_connection(lambda: proto(head, done, self.timeout), *self.ends.tls)
            tls_tr = await loop.start_tls(tr, pr, self._ctx, server_hostname=host or None)
            tls_tr.write(data)
        return await done

    def close(self) -> None:
        if self.dns is not None:
            self.dns.close()
