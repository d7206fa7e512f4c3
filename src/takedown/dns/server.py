"""The DNS sinkhole's runner: sockets, workers, signals, reloads.

A thin asyncio (uvloop) shell around :class:`takedown.dns.responder.Responder`.
UDP sockets are drained in batches from one readiness callback (no transport
object or protocol call per datagram); TCP uses ordinary asyncio protocols
with RFC 7766 framing. ``--workers N`` forks N processes that each bind every
address with SO_REUSEPORT, so the kernel spreads queries over all cores, and
each writes its own event segments.

Reloads (SIGHUP, or a changed operation, list or zone file) build a whole new
:class:`Policy` on a helper thread while the old one keeps answering, then
swap it in with one assignment: no query is dropped or answered from a
half-loaded state. A reload that fails leaves the old policy serving.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
import os
import signal
import socket
import sys
import time
from pathlib import Path

from takedown.dns.policy import Policy
from takedown.dns.responder import Responder
from takedown.dns.rrl import RateLimiter
from takedown.errors import ServeError, TakedownError
from takedown.operation import Operation, load_operation, parse_listen
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter

_BATCH = 256  # datagrams per wake-up before yielding to other callbacks
# Receive buffer per datagram. DNS queries are small (RFC 6891 queries carry
# at most a few options); a larger datagram is cut by the kernel and answered
# FORMERR. Measured here: recvfrom(65535) costs about 3 us more per packet than
# recvfrom(4096) (CPython allocates the full size, then shrinks it).
_RECV = 4096
_RCVBUF = 8 << 20
_TCP_MAX_CONNECTIONS = 2048


def _say(msg: str) -> None:
    print(f"takedown: {msg}", file=sys.stderr, flush=True)


def split_listen(text: str) -> tuple[str, int]:
    norm = parse_listen(text)
    host, _, port = norm.rpartition(":")
    return host.strip("[]"), int(port)


def _bind(host: str, port: int, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, kind)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            try:  # room for bursts while a reload holds the GIL
                s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), _RCVBUF)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        s.bind((host, port))
        if kind == socket.SOCK_STREAM:
            s.listen(1024)
        s.setblocking(False)
    except OSError as e:
        s.close()
        proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
        raise ServeError(f"cannot listen on {proto} {host}:{port}: {e.strerror or e}") from None
    return s


def _watched(op: Operation) -> list[Path]:
    paths = [op.path]
    paths += [d.file for d in op.domains]
    paths += [g.plugin for g in op.dga if g.plugin is not None]
    for z in op.zones:
        paths.append(z.file)
        if z.blocklist is not None:
            paths.append(z.blocklist)
    return paths


def _snapshot(paths: list[Path]) -> tuple:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(p), None, None, None))
    return tuple(out)


class _TcpDns(asyncio.Protocol):
    """RFC 7766: length-prefixed messages, pipelining, idle timeout."""

    def __init__(self, worker: Worker, dst: tuple[str, int]):
        self.worker = worker
        self.dst = dst
        self.buf = bytearray()
        self.transport = None
        self.peer = ("", 0)
        self.timer = None

    def connection_made(self, transport):
        w = self.worker
        if w.tcp_open >= _TCP_MAX_CONNECTIONS:
            transport.abort()
            return
        w.tcp_open += 1
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = (peer[0], peer[1])
        self._arm()

    def _arm(self):
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.worker.loop.call_later(self.worker.tcp_idle, self._idle)

    def _idle(self):
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data):
        self.buf += data
        buf = self.buf
        w = self.worker
        while len(buf) >= 2:
            n = (buf[0] << 8) | buf[1]
            if len(buf) < 2 + n:
                break
            msg = bytes(buf[2 : 2 + n])
            del buf[: 2 + n]
            try:
                out = w.responder.respond(msg, self.peer[0], self.peer[1], "tcp", self.dst[0], self.dst[1])
            except Exception as e:  # a bug must cost one answer, never the server
                w.internal_error(e)
                out = None
            if out is None:
                self.transport.close()
                return
            self.transport.write(len(out).to_bytes(2, "big") + out)
        if len(buf) > 65537:
            self.transport.close()
            return
        self._arm()

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.worker.tcp_open -= 1
            self.transport = None


class Worker:
    """One process's share of the server: its sockets, responder and event writer."""

    def __init__(self, op: Operation, policy: Policy, listens: list[tuple[str, int]], index: int, answers=None):
        self.op = op
        self.answers = answers
        self.listens = listens
        self.index = index
        self.tcp_idle = op.dns.tcp_idle_timeout
        self.tcp_open = 0
        self.errors = 0
        r = op.dns.rrl
        rrl = RateLimiter(r.responses_per_second, r.slip, r.window, r.ipv4_prefix, r.ipv6_prefix) if r.enabled else None
        sensor = op.events.sensor or socket.gethostname()
        self.writer = SegmentWriter(
            op.storage, "dns", operation=op.name, sensor=sensor, worker=index, flush_interval=op.events.flush_interval,
            transform=transform_for(op),
        )
        self.responder = Responder(
            policy, self.writer.rows.append, max_udp_payload=op.dns.max_udp_payload, rrl=rrl,
            emulated_clock=op.dns.emulated_clock,  # range mode: who may set its events' time
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.reloading = False
        self.reload_again = False
        self.udp: list[socket.socket] = []
        self.tcp_servers = []

    def internal_error(self, e: BaseException) -> None:
        self.errors += 1
        if self.errors <= 10 or self.errors % 10000 == 0:
            _say(f"worker {self.index}: internal error #{self.errors} answering a query: {type(e).__name__}: {e}")

    def _drain(self, sock: socket.socket, dst_ip: str, dst_port: int) -> None:
        recv = sock.recvfrom
        send = sock.sendto
        respond = self.responder.respond
        for _ in range(_BATCH):
            try:
                data, addr = recv(_RECV)
            except BlockingIOError:
                return
            except OSError:
                continue
            try:
                out = respond(data, addr[0], addr[1], "udp", dst_ip, dst_port)
            except Exception as e:
                self.internal_error(e)
                continue
            if out is not None:
                try:
                    send(out, addr)
                except OSError:
                    pass  # send buffer full or peer gone: UDP answers may be lost

    async def run(self, bound: list[tuple[socket.socket, socket.socket]], net_bound=()) -> None:
        loop = self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.writer.start(loop)
        net = None
        if net_bound:
            from takedown.net.server import NetSensor

            net = NetSensor(self.op, self.index, self.writer.sensor, self.answers)
            await net.start(loop, net_bound)
        for (host, port), (us, ts) in zip(self.listens, bound):
            self.udp.append(us)
            loop.add_reader(us.fileno(), self._drain, us, host, port)
            srv = await loop.create_server(lambda h=host, p=port: _TcpDns(self, (h, p)), sock=ts)
            self.tcp_servers.append(srv)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "SIGHUP")
        watcher = loop.create_task(self._watch())
        await self.stopping.wait()
        watcher.cancel()
        for us in self.udp:
            loop.remove_reader(us.fileno())
            self._drain_rest(us)
        for srv in self.tcp_servers:
            srv.close()
        if net is not None:
            await net.stop()
        await self.writer.aclose()

    def _drain_rest(self, sock: socket.socket) -> None:
        """Answer what is already queued before closing (no dropped queries at stop)."""
        for _ in range(64):
            before = self.writer.rows_written + len(self.writer.rows)
            self._drain(sock, *sock.getsockname()[:2])
            if self.writer.rows_written + len(self.writer.rows) == before:
                break
        sock.close()

    async def _watch(self) -> None:
        snap = _snapshot(_watched(self.op))
        while True:
            await asyncio.sleep(1.0)
            # the operation may have gained or lost files at the last reload
            now = _snapshot(_watched(self.op))
            if now != snap:
                snap = now
                self.request_reload("a file changed")
            elif self.op.dga and self.responder.policy.day != datetime.now(timezone.utc).date():
                self.request_reload("a new UTC day: DGA names roll over")

    def request_reload(self, why: str) -> None:
        if self.reloading:
            self.reload_again = True
            return
        self.reloading = True
        self.loop.create_task(self._reload(why))

    async def _reload(self, why: str) -> None:
        try:
            while True:
                self.reload_again = False
                t0 = time.monotonic()
                try:
                    policy = await self.loop.run_in_executor(None, _compile, self.op.path)
                except TakedownError as e:
                    _say(f"worker {self.index}: reload ({why}) failed, still serving the previous data: {e}")
                else:
                    self.op = policy.operation
                    self.responder.set_policy(policy)
                    self.responder.trust_clock(self.op.dns.emulated_clock)  # a reload may turn it off
                    _say(f"worker {self.index}: reloaded ({why}) in {time.monotonic() - t0:.2f}s")
                if not self.reload_again:
                    break
        finally:
            self.reloading = False


def _compile(path: Path) -> Policy:
    return Policy(load_operation(path))


def _run_worker(op: Operation, policy: Policy, listens, bound, index: int, answers=None) -> None:
    import uvloop

    dns_bound, net_bound = bound
    worker = Worker(op, policy, listens, index, answers)
    uvloop.run(worker.run(dns_bound, net_bound))


def serve(
    op: Operation, listen: list[str] | None = None, workers: int | None = None, http: list[str] | None = None
) -> None:
    """Serve ``op`` (DNS, and the HTTP/TLS/TCP sinkhole when configured) until
    SIGTERM/SIGINT. Raises TakedownError on bad start-up input."""
    if http:
        from dataclasses import replace

        from takedown.operation import Listener

        op = replace(op, http=replace(op.http or Listener("http", ()), listen=tuple(http)))
    texts = list(listen) if listen else list(op.dns.listen)
    try:
        listens = [split_listen(t) for t in texts]
    except ValueError as e:
        raise ServeError(str(e)) from None
    nworkers = workers or op.dns.workers
    _raise_nofile()

    def bind_all():
        bound = []
        try:
            for h, p in listens:
                bound.append(_bind(h, p, socket.SOCK_DGRAM))
                bound.append(_bind(h, p, socket.SOCK_STREAM))
            net = []
            if op.http or op.tls or op.tcp:
                from takedown.net.server import bind_listeners

                net = bind_listeners(op)
        except ServeError:
            for s in bound:
                s.close()
            raise
        return list(zip(bound[0::2], bound[1::2])), net

    # Bind first: a busy port fails in a moment, not after a long zone load.
    first = bind_all()
    try:
        t0 = time.monotonic()
        policy = Policy(op)
        transform_for(op)  # the privacy key and enrichment tables, once, before the workers fork
        answers = None
        if first[1]:
            from takedown.net.server import load_answers

            answers = load_answers(op)
    except BaseException:
        _close_bound(first)
        raise
    zones = ", ".join(z.zone.origin_text for z in policy.zones) or "none"
    _say(
        f"operation {op.name!r}: {policy.seized_count} seized names, "
        + (f"{policy.dga_count} DGA names due {policy.day}, " if op.dga else "")
        + f"zones: {zones} "
        f"(loaded in {time.monotonic() - t0:.1f}s); events under {op.storage}"
    )
    where = "DNS on udp+tcp " + " ".join(f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h, p in listens)
    for lst, h, p, _s in first[1]:
        where += f", {lst.kind} on {h}:{p}" if ":" not in h else f", {lst.kind} on [{h}]:{p}"
    if nworkers == 1:
        _say(f"serving {where} with 1 worker (pid {os.getpid()})")
        _run_worker(op, policy, listens, first, 0, answers)
        return
    _close_bound(first)
    _supervise(op, policy, listens, bind_all, nworkers, where, answers)


def _raise_nofile() -> None:
    """Lift the soft open-files limit to the hard one: a sinkhole holds many
    connections at once (tens of thousands of idle bots), each a descriptor."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def _close_bound(bound) -> None:
    dns_bound, net_bound = bound
    for us, ts in dns_bound:
        us.close()
        ts.close()
    for *_, s in net_bound:
        s.close()


def _supervise(op, policy, listens, bind_all, nworkers: int, where: str, answers=None) -> None:
    """Fork ``nworkers`` children, each with its own SO_REUSEPORT sockets; restart any that dies."""
    children: dict[int, int] = {}
    stopping = False

    def spawn(index: int, fresh: bool) -> None:
        bound = bind_all()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                pol = _compile(op.path) if fresh else policy
                _run_worker(op, pol, listens, bound, index, None if fresh else answers)
            except BaseException as e:  # the child must never return into the parent's code
                if not isinstance(e, (KeyboardInterrupt, SystemExit)):
                    _say(f"worker {index} failed: {e}")
                    code = 1
            finally:
                os._exit(code)
        _close_bound(bound)
        children[pid] = index

    def forward(sig, _frame):
        nonlocal stopping
        if sig in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for i in range(nworkers):
        spawn(i, fresh=False)
    _say(f"serving {where} with {nworkers} workers (pid {os.getpid()})")
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if index is not None and not stopping:
            _say(f"worker {index} exited ({status}); restarting it")
            time.sleep(0.5)
            spawn(index, fresh=True)
