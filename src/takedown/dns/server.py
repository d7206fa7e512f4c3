"""The DNS shell: moves query bytes between sockets and a Responder.

A thin asyncio (uvloop) runner around the sans-I/O
:class:`takedown.dns.responder.Responder`. UDP sockets are drained in batches
from one readiness callback (no transport object or protocol call per
datagram); with the compiled twin of that loop (:mod:`takedown.dns._udp_c`)
each batch is one ``recvmmsg`` and one ``sendmmsg`` system call instead of a
``recvfrom`` and a ``sendto`` per datagram (docs/performance.md). TCP uses ordinary asyncio protocols with RFC 7766 framing. It
binds nothing and knows nothing of workers, signals or reloads: the
composition root (:mod:`takedown.serve`) hands it bound sockets and a
Responder, and takes them back.
"""

from __future__ import annotations

import asyncio
import socket
import time

from takedown.accel import compiled

# The compiled batch loop (recvmmsg/sendmmsg; takedown/dns/_udp_c.pyx), or
# None: the pure loop of DnsShell._drain (TAKEDOWN_PURE=1, not built, no
# recvmmsg on this platform).
_udp_c = compiled("takedown.dns._udp_c")
_BATCH = 256  # datagrams per wake-up before yielding to other callbacks
# Receive buffer per datagram. DNS queries are small (RFC 6891 queries carry
# at most a few options); a larger datagram is cut by the kernel and answered
# FORMERR. Measured here: recvfrom(65535) costs about 3 us more per packet than
# recvfrom(4096) (CPython allocates the full size, then shrinks it).
_RECV = 4096
_TCP_MAX_CONNECTIONS = 2048
_TCP_MAX_BUFFER = 65537  # one length prefix and the largest message


class _TcpDns(asyncio.Protocol):
    """RFC 7766: length-prefixed messages, pipelining, idle timeout."""

    def __init__(self, shell: DnsShell, dst: tuple[str, int]):
        self.shell = shell
        self.dst = dst
        self.buf = bytearray()
        self.transport = None
        self.peer = ("", 0)
        self.timer = None
        self.answered = 0

    def connection_made(self, transport):
        sh = self.shell
        if len(sh.tcp_conns) >= _TCP_MAX_CONNECTIONS:
            transport.abort()
            return
        sh.tcp_conns.add(self)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = (peer[0], peer[1])
        self._arm()

    def _arm(self):
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.shell.loop.call_later(self.shell.tcp_idle, self.close)

    def close(self):
        if self.transport is not None:
            self.transport.close()

    @property
    def idle(self) -> bool:
        """Between messages, after at least one: closing now loses nothing
        (a connection that has sent nothing yet is waiting to be served)."""
        return self.answered > 0 and not self.buf

    def data_received(self, data):
        self.buf += data
        buf = self.buf
        sh = self.shell
        while len(buf) >= 2:
            n = (buf[0] << 8) | buf[1]
            if len(buf) < 2 + n:
                break
            msg = bytes(buf[2 : 2 + n])
            del buf[: 2 + n]
            try:
                out = sh.responder.respond(msg, self.peer[0], self.peer[1], "tcp", self.dst[0], self.dst[1], time.time())
            except Exception as e:  # a bug must cost one answer, never the server
                sh.internal_error(e)
                out = None
            if out is None:
                self.transport.close()
                return
            self.transport.write(len(out).to_bytes(2, "big") + out)
            self.answered += 1
        if len(buf) > _TCP_MAX_BUFFER:
            self.transport.close()
            return
        if sh.retiring and not buf:
            self.transport.close()  # a retiring worker ends connections between messages
            return
        self._arm()

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.shell.tcp_conns.discard(self)
            self.transport = None


class DnsShell:
    """One worker's DNS listeners around one Responder."""

    def __init__(self, responder, *, tcp_idle: float, say=print):
        self.responder = responder
        self.tcp_idle = tcp_idle
        self.say = say
        self.loop: asyncio.AbstractEventLoop | None = None
        self.udp: list[tuple[socket.socket, str, int]] = []
        self.tcp_servers: list[asyncio.AbstractServer] = []
        self.tcp_conns: set[_TcpDns] = set()
        self.errors = 0
        self.retiring = False
        #: the batch loop per UDP socket (_udp_c.Drain, holding responder.respond: the
        #: shell never swaps its responder; a reload swaps the policy inside it)
        self._batched: dict[socket.socket, object] = {}
        #: the module of the compiled loop, or None: the pure one (tests set it)
        self.udp_twin = _udp_c

    def internal_error(self, e: BaseException) -> None:
        self.errors += 1
        if self.errors <= 10 or self.errors % 10000 == 0:
            self.say(f"internal error #{self.errors} answering a query: {type(e).__name__}: {e}")

    async def start(self, loop: asyncio.AbstractEventLoop, bound) -> None:
        """Serve ``bound``: (host, port, udp socket, tcp socket) for each address."""
        self.loop = loop
        for host, port, us, ts in bound:
            self.udp.append((us, host, port))
            if self.udp_twin is not None and us.family in (socket.AF_INET, socket.AF_INET6):
                self._batched[us] = self.udp_twin.Drain(
                    us.fileno(), self.responder.respond, host, port, time.time, self.internal_error)
            loop.add_reader(us.fileno(), self._drain, us, host, port)
            srv = await loop.create_server(lambda h=host, p=port: _TcpDns(self, (h, p)), sock=ts, backlog=1024)
            self.tcp_servers.append(srv)

    def _drain(self, sock: socket.socket, dst_ip: str, dst_port: int) -> int:
        batched = self._batched.get(sock)
        if batched is not None:
            return batched.drain(_BATCH)  # the same loop, compiled, a batch per system call
        recv = sock.recvfrom
        send = sock.sendto
        respond = self.responder.respond
        clock = time.time
        n = 0
        for n in range(_BATCH):
            try:
                data, addr = recv(_RECV)
            except BlockingIOError:
                return n
            except OSError:
                continue
            try:
                # the clock once per datagram: a wake-up's batch may take
                # long enough (256 of them) for one reading to skew events and RRL
                out = respond(data, addr[0], addr[1], "udp", dst_ip, dst_port, clock())
            except Exception as e:
                self.internal_error(e)
                continue
            if out is not None:
                try:
                    send(out, addr)
                except OSError:
                    pass  # send buffer full or peer gone: UDP answers may be lost
        return n + 1

    def pause(self) -> None:
        """Stop reading and accepting (a retiring worker: its successor reads
        the same sockets, so what is queued there is answered by it)."""
        self.retiring = True
        for us, _h, _p in self.udp:
            self.loop.remove_reader(us.fileno())
        for srv in self.tcp_servers:
            srv.close()
        for c in list(self.tcp_conns):
            if c.idle:
                c.close()

    def drain(self) -> None:
        """Answer every datagram already queued (the last worker to stop)."""
        for us, host, port in self.udp:
            for _ in range(64):
                if self._drain(us, host, port) == 0:
                    break

    async def close(self, grace: float = 0.0) -> None:
        self.pause()
        await asyncio.sleep(0.05)  # connections accepted just before the pause reach connection_made now
        end = time.monotonic() + grace
        while self.tcp_conns and time.monotonic() < end:
            await asyncio.sleep(0.05)
        for c in list(self.tcp_conns):
            c.close()
        await asyncio.sleep(0)
        for us, _h, _p in self.udp:
            us.close()
