"""``takedown serve``: the composition root.

It binds every listener (DNS over UDP and TCP, the HTTP, TLS and raw TCP
sinkholes), builds the :class:`~takedown.runtime.Runtime`, forks the worker
processes, handles signals, reloads and readiness. The protocol shells
(:mod:`takedown.dns.server`, :mod:`takedown.net.server`) only move bytes
between the sockets they are given and their sans-I/O cores; they import
nothing from each other, and only this module puts them together.

Process model (nginx's, for the same reasons)
---------------------------------------------
The parent process serves nothing. It binds one socket set per worker slot
(SO_REUSEPORT, so the kernel spreads queries and connections over the slots)
and keeps them open for the life of the server; each worker process inherits
its slot's sockets and the Runtime across ``fork``, so a worker starts at
once and shares the compiled policy copy-on-write.

*Reload* (SIGHUP, or a change to any file the operation names: the operation
file, seized lists, zones and blocklists, DGA plugins, fingerprint rules,
templates, the TLS certificate; or a new UTC day when DGA names roll over):
the parent builds a new Runtime while the workers keep serving. If that
fails, the parent logs the one ``FILE:LINE: ...`` line and the old Runtime
keeps serving. Otherwise a new worker is forked for every slot with the new
Runtime on the same sockets, and waits, built but reading nothing. Then
every old worker is told to retire (SIGQUIT): it stops reading and accepting
at once and says so, finishes the requests in progress and exits. Only when
all have stopped reading are the new workers let in. The swap is one
instant, as BIND's swap of a reloaded zone is (the new database replaces
the old in one step: lib/dns/zone.c, zone_replacedb): no answer from the
old data ever follows one from the new. nginx instead starts the new
workers, then asks the old ones to stop accepting, so both accept for a
moment (nginx.org/en/docs/control.html, "Changing Configuration"); for a
sinkhole, a name seized by a reload must not answer unseized again. The
sockets never close, so a datagram or a connection queued during the swap
(a few milliseconds) is answered by a new worker: a reload drops nothing. A
worker that dies is forked again with the parent's current Runtime, the
same every other worker serves.

*Compaction*: with ``[events] compact_after`` (on by default), the parent
looks every minute, and once right after start, for UTC days that ended that
long ago and hold segments not yet compacted, and forks one low-priority
child (nice 10, no sockets) that compacts them (:mod:`takedown.store.compact`)
and exits. The parent never waits for it; a new one starts only once the last
has exited. Killing it at any moment is safe: the next one finishes the job.

*Sealing* (``[case] seal = true``, docs/evidence.md): the parent looks every
minute, once right after start and again as soon as a compaction child has
finished, for event days closed in the evidence's sense (ended, compacted,
no segment since: :func:`takedown.evidence.collect.closed_days`) that it has
not sealed yet, and forks one low-priority child (nice 10, no sockets) that
appends the operation's new files to the evidence manifest
(:func:`takedown.evidence.seal.seal`, what ``takedown evidence seal`` does;
with ``[case] tsa``, time-stamped). Hashing a day may read gigabytes: never
in the parent, and one sealer at a time (a child, not a thread: a worker
forked while a thread held the manifest's lock would hold it forever). A
failure is one line in the log and the look is repeated at the next minute;
it never stops serving.

*Hot paths*: after the operation's line the parent says which path the
hot paths run, ``takedown: hot paths: compiled`` or ``pure Python (slower:
...)`` with why and how to build the compiled one (:func:`takedown.accel.notice`,
docs/performance.md "Building").

*Readiness*: once every worker serves, the parent prints one line::

    takedown: ready dns=127.0.0.1:5353 http=127.0.0.1:8080 control=127.0.0.1:9053 workers=2 pid=1234

with the addresses actually bound (a port 0 in the file or on the command
line is the port the kernel chose), and writes the same as JSON to
``--ready-file`` (atomically; rewritten after every reload, with its
``generation``). Under systemd (``Type=notify``, contrib/systemd/) it also
sends ``READY=1`` then, ``RELOADING=1``/``READY=1`` around each reload and
``STOPPING=1`` (:mod:`takedown.sdnotify`).

*Privileges* (:mod:`takedown.privileges`): the parent binds every listener
of every slot first; started as root, it then gives the storage to
``[service] user`` and becomes that user before it reads a file of the
operation or forks a worker, so no worker and no reload ever runs as root.
Started as the user with ``CAP_NET_BIND_SERVICE`` (the systemd unit), it
drops that capability once bound. The parent needs no privilege afterwards:
a reload re-reads files, and one that moves a listener is refused.

*Control* (``[control]``, :mod:`takedown.control`): the parent serves
``/metrics`` and ``/healthz`` on a thread of its own. Each worker has a
socketpair to the parent on which it answers health pings from its event
loop, and publishes its counts to the metrics once per flush interval
(:class:`takedown.metrics.Publisher`); the parent counts reloads and
restarts. Without ``[control]`` none of it runs.

*Console* (``[console]``, :mod:`takedown.console`, docs/console.md): the
parent binds the console's socket with the other listeners (before dropping
root) and forks one more child, not a worker: it builds the console's
context as the service user and serves the web console on that socket
(uvicorn). It is supervised like a worker: started again if it dies (after
0.5 s, doubling up to a minute while it keeps dying within seconds),
replaced on every reload (the new one serves on the same socket before the
old one is told to stop with SIGTERM and finishes the requests in progress),
stopped with the server. A reload that changes ``[console] listen`` is
refused like any other listener's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

import takedown
from takedown import control as control_mod
from takedown import accel, metrics, privileges, sdnotify
from takedown import runtime as rt_mod
from takedown.dns.responder import Responder
from takedown.dns.rrl import RateLimiter
from takedown.dns.server import DnsShell
from takedown.errors import ServeError, TakedownError
from takedown.evidence import collect as evidence_collect
from takedown.hostport import join, split_listen
from takedown.net.server import NetSensor
from takedown.operation import Operation, load_operation
from takedown.runtime import Overrides, Runtime
from takedown.store import compact as compact_mod
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter

_RCVBUF = 8 << 20
_READY_TIMEOUT = 60.0  # seconds a new worker has to start serving
_PAUSE_TIMEOUT = 5.0  # seconds a reload waits for the retiring workers to stop reading
_RETIRE_GRACE = 10.0  # seconds a retiring worker may take to finish requests in progress
_WATCH_INTERVAL = 1.0
_COMPACT_INTERVAL = 60.0  # seconds between looks for a day to compact
_SEAL_INTERVAL = 60.0  # seconds between looks for a closed day to seal ([case] seal)
CONSOLE = -1  # the console child's slot number (workers have 0..n-1)
_CONSOLE_BACKOFF = (0.5, 60.0)  # first and longest wait before the console is started again
_CONSOLE_STABLE = 10.0  # seconds a console must live for its next restart to wait the first delay again
NET_KINDS = ("http", "tls", "tcp")
# The handover of a slot's sockets, one byte each way on a worker's
# readiness socketpair (Supervisor.reload):
HANDOVER_READY = b"r"  # worker: built, waiting to be let read its sockets
HANDOVER_GO = b"g"  # parent: read them
HANDOVER_SERVING = b"s"  # worker: reading them
HANDOVER_PAUSED = b"p"  # a retiring worker: stopped reading them


def say(msg: str) -> None:
    print(f"takedown: {msg}", file=sys.stderr, flush=True)


# -- sockets ------------------------------------------------------------------


def _socket(host: str, port: int, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, kind)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            try:  # room for bursts while a worker is busy or being replaced
                s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), _RCVBUF)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        s.bind((host, port))
        if kind == socket.SOCK_STREAM:
            s.listen(4096)
        s.setblocking(False)
    except OSError as e:
        s.close()
        proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
        raise ServeError(f"cannot listen on {proto} {join(host, port)}: {e.strerror or e}") from None
    return s


@dataclass
class Slot:
    """One worker slot's sockets, kept open by the parent for the server's life."""

    dns: list[tuple[str, int, socket.socket, socket.socket]] = field(default_factory=list)
    net: list[tuple[str, str, int, socket.socket]] = field(default_factory=list)  # kind, host, port

    def close(self) -> None:
        for *_, us, ts in self.dns:
            us.close()
            ts.close()
        for *_, s in self.net:
            s.close()



def _bind_dns(host: str, port: int) -> tuple[str, int, socket.socket, socket.socket]:
    """UDP and TCP on the same port; with port 0, one the kernel finds free for both."""
    for _ in range(100 if port == 0 else 1):
        us = _socket(host, port, socket.SOCK_DGRAM)
        got = us.getsockname()[1]
        try:
            ts = _socket(host, got, socket.SOCK_STREAM)
        except ServeError:
            us.close()
            if port == 0:
                continue
            raise
        return host, got, us, ts
    raise ServeError(f"no port free for both UDP and TCP on {host}")


def bind_slot(dns: list[tuple[str, int]], net: list[tuple[str, str, int]]) -> Slot:
    slot = Slot()
    try:
        for host, port in dns:
            slot.dns.append(_bind_dns(host, port))
        for kind, host, port in net:
            s = _socket(host, port, socket.SOCK_STREAM)
            slot.net.append((kind, host, s.getsockname()[1], s))
    except ServeError:
        slot.close()
        raise
    return slot


def _addresses(op: Operation) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]]]:
    dns = [split_listen(t) for t in op.dns.listen]
    net = [(kind, *split_listen(t)) for kind in NET_KINDS if getattr(op, kind) is not None
           for t in getattr(op, kind).listen]
    return dns, net


# -- a worker process ---------------------------------------------------------


class Worker:
    """One worker process: its Runtime, its slot's sockets, its event writers."""

    def __init__(self, rt: Runtime, slot: Slot, index: int, ping: socket.socket | None = None):
        self.rt = rt
        self.slot = slot
        self.index = index
        self.ping = ping  # the health pings of the control listener (None without [control])
        op = rt.operation
        self.sensor = op.events.sensor or socket.gethostname()
        self.writer = SegmentWriter(
            op.storage, "dns", operation=op.name, sensor=self.sensor, worker=index,
            flush_interval=op.events.flush_interval, transform=transform_for(op),
        )
        r = op.dns.rrl
        rrl = RateLimiter.from_config(r)
        responder = Responder(rt.policy, self.writer.dns, max_udp_payload=op.dns.max_udp_payload, rrl=rrl,
                              emulated_clock=op.dns.emulated_clock)
        self.dns = DnsShell(responder, tcp_idle=op.dns.tcp_idle_timeout,
                            say=lambda m: say(f"worker {index}: {m}"))
        self.net = None
        if slot.net:
            self.net = NetSensor(op, index, self.sensor, rt.answers)
        self.publisher = None
        self._publish_errors = 0
        if op.control is not None:
            net = self.net
            self.publisher = metrics.Publisher(
                self.writers(), rrl, proxy_refused=(lambda: net.proxy_refused) if net else (lambda: 0),
                dns_errors=lambda: self.dns.errors,
                commands_sent=(lambda: net.counters.commands_sent) if net else dict)

    def writers(self) -> list[SegmentWriter]:
        return [self.writer] + (list(self.net.writers.values()) if self.net is not None else [])

    def health(self) -> str:
        """The answer to a health ping: ``ok``, or ``fail: reason``."""
        for w in self.writers():
            if w.failing:
                return f"fail: its {w.kind} events cannot be written: {w.last_error}"
        return "ok"

    def _answer_ping(self) -> None:
        try:
            data = self.ping.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the parent is gone
            asyncio.get_running_loop().remove_reader(self.ping.fileno())
            return
        with contextlib.suppress(OSError):
            self.ping.send(self.health().replace("\n", " ").encode() + b"\n")

    def _publish(self) -> None:
        try:
            self.publisher.publish()
        except Exception as e:  # never stop serving for metrics, nor flood the log: 1st failure, every 3600th
            self._publish_errors += 1
            if self._publish_errors % 3600 == 1:
                say(f"worker {self.index}: cannot publish metrics ({self._publish_errors} times): "
                    f"{type(e).__name__}: {e}")
        loop = asyncio.get_running_loop()
        self._publish_timer = loop.call_later(self.rt.operation.events.flush_interval, self._publish)

    async def _go(self, loop: asyncio.AbstractEventLoop, ready_fd: int, done: asyncio.Event) -> bool:
        """Say it is ready (HANDOVER_READY) and wait for the parent's
        HANDOVER_GO; False when told to stop first or the parent is gone."""
        os.write(ready_fd, HANDOVER_READY)
        told = loop.create_future()

        def readable() -> None:
            try:
                data = os.read(ready_fd, 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not told.done():
                told.set_result(HANDOVER_GO in data)  # b"": the parent is gone

        os.set_blocking(ready_fd, False)
        loop.add_reader(ready_fd, readable)
        stopped = asyncio.ensure_future(done.wait())
        try:
            await asyncio.wait((told, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(ready_fd)
            stopped.cancel()
        return told.done() and told.result() and not done.is_set()

    async def run(self, ready_fd: int | None) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        how = {"retire": False}

        def stop(retire: bool) -> None:
            how["retire"] = how["retire"] or retire
            done.set()

        self.writer.start(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, False)
        loop.add_signal_handler(signal.SIGQUIT, stop, True)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the parent reloads
        if self.ping is not None:
            self.ping.setblocking(False)
            loop.add_reader(self.ping.fileno(), self._answer_ping)
        if self.publisher is not None:
            self._publish_timer = loop.call_later(self.rt.operation.events.flush_interval, self._publish)
        # Ready to serve, but the sockets are read only once the parent says
        # so: on a reload, after the previous worker has stopped reading them.
        started = ready_fd is None or await self._go(loop, ready_fd, done)
        if started:
            await self.dns.start(loop, self.slot.dns)
            if self.net is not None:
                listeners = {lst.kind: lst for lst in self.rt.listeners()}
                await self.net.start(loop, [(listeners[k], h, p, s) for k, h, p, s in self.slot.net])
            if ready_fd is not None:
                os.write(ready_fd, HANDOVER_SERVING)
        await done.wait()
        if not started:
            pass  # stopped before it served: nothing to hand over or drain
        elif how["retire"]:
            # the successor reads the same sockets once this one has stopped: at once; finish what is in progress
            self.dns.pause()
            if self.net is not None:
                self.net.pause()
            if ready_fd is not None:
                # the parent lets the successor read only after this: no query is answered from the old data
                # once one has been answered from the new
                with contextlib.suppress(OSError):
                    os.write(ready_fd, HANDOVER_PAUSED)
            if self.net is not None:
                await self.net.retire(_RETIRE_GRACE)
            await self.dns.close(_RETIRE_GRACE)
        else:
            self.dns.pause()
            self.dns.drain()  # the server stops: answer what is queued
            await self.dns.close()
            if self.net is not None:
                await self.net.stop()
        if ready_fd is not None:
            with contextlib.suppress(OSError):
                os.close(ready_fd)
        await self.writer.aclose()
        if self.publisher is not None:
            self._publish_timer.cancel()
            self.publisher.publish()  # what the last flushes wrote


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: a worker must not outlive a parent killed with SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _fork(what: str, work) -> int:
    """Fork a child that runs ``work()`` and exits (status 1 if it raised); return its pid."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _die_with_parent()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)
            work()
        except BaseException as e:  # the child must never return into the parent's code
            if not isinstance(e, (KeyboardInterrupt, SystemExit)):
                say(f"{what} failed: {e}")
                code = 1
        finally:
            os._exit(code)
    return pid


def _worker_main(rt: Runtime, slot: Slot, index: int, ready_fd: int, ping: socket.socket | None) -> None:
    uvloop.run(Worker(rt, slot, index, ping).run(ready_fd))


# -- the parent ---------------------------------------------------------------


@dataclass
class _Child:
    pid: int
    slot: int
    generation: int
    ping: socket.socket | None = None  # the parent's end of its health socketpair
    ready: int | None = None  # the parent's end of its readiness socketpair (the HANDOVER_* bytes)


class Supervisor:
    def __init__(self, path: Path, overrides: Overrides, rt: Runtime, slots: list[Slot], ready_file: Path | None,
                 control: socket.socket | None = None, console: socket.socket | None = None):
        self.path = path
        self.overrides = overrides
        self.rt = rt
        self.slots = slots
        self.ready_file = ready_file
        self.generation = 1
        self.children: dict[int, _Child] = {}
        self.stop_signal: int | None = None
        self.reload_why: str | None = None
        self.control = control_mod.ControlServer(control, self.health) if control is not None else None
        self.compactor: int | None = None  # pid of the compaction child while one runs
        self.next_compact = 0.0  # monotonic time of the next look for days to compact
        self.sealer: int | None = None  # pid of the sealing child while one runs
        self.next_seal = 0.0  # monotonic time of the next look for days to seal
        self.sealed: set = set()  # (day directory, stamp) of the closed days sealed so far
        self.sealing: set = set()  # those the running sealer seals
        self.console = console  # the console's listening socket (None without [console])
        self.console_due: float | None = None  # monotonic time to start the console again after it died
        self.console_delay = _CONSOLE_BACKOFF[0]
        self.console_started = 0.0

    def _close_control(self) -> None:
        """In a forked child: the control socket and the workers' ping ends are the parent's."""
        self.control.sock.close()
        for c in self.children.values():
            if c.ping is not None:
                c.ping.close()

    def _close_inherited(self, keep_slot: int | None) -> None:
        """In a forked child: close what is not its own (the other slots'
        sockets, the console's, the control socket, the other children's pipes)."""
        for c in self.children.values():
            if c.ready is not None:
                os.close(c.ready)
        for j, s in enumerate(self.slots):
            if j != keep_slot:
                s.close()
        if self.console is not None and keep_slot != CONSOLE:
            self.console.close()
        if self.control is not None:
            self._close_control()

    def health(self) -> str | None:
        """None when every slot has a worker that answers a ping and reports
        no failure, else why not (the control thread asks)."""
        children = [c for c in list(self.children.values()) if c.generation != -1 and c.ping is not None]
        timeout = self.rt.operation.control.health_timeout
        answers = control_mod.ping({c.pid: c.ping for c in children}, timeout)
        problems = []
        for index in range(len(self.slots)):
            mine = [c for c in children if c.slot == index]
            said = [answers.get(c.pid) for c in mine]
            if "ok" in said:
                continue
            if not mine:
                problems.append(f"worker {index} is not running")
            for c, a in zip(mine, said):
                if a is None:
                    problems.append(f"worker {index} (pid {c.pid}) did not answer within {timeout:g}s")
                else:
                    problems.append(f"worker {index} (pid {c.pid}): {a.removeprefix('fail: ')}")
        return "; ".join(problems) or None

    # signals only set flags; the loop in run() acts on them
    def _on_signal(self, sig, _frame) -> None:
        if sig == signal.SIGHUP:
            self.reload_why = "SIGHUP"
        else:
            self.stop_signal = sig

    def spawn(self, index: int, wait: bool, gated: bool = False) -> int | None:
        """Fork a worker for slot ``index`` with the current Runtime; with
        ``wait``, return once it serves (None if it failed to). ``gated``
        (a reload): it reads no socket until :meth:`let_in`, and ``wait``
        returns once it is ready to."""
        # Objects alive now (the Runtime: millions of names) leave the
        # collector's generations, so its passes in the worker do not touch,
        # and so copy, the pages it shares with the parent.
        gc.freeze()
        r, w = (s.detach() for s in socket.socketpair())  # both ways: the handover's bytes
        mine, theirs = socket.socketpair() if self.control is not None else (None, None)

        def work() -> None:
            os.close(r)
            if mine is not None:  # the parent's end is not the worker's
                mine.close()
            self._close_inherited(index)
            _worker_main(self.rt, self.slots[index], index, w, theirs)

        pid = _fork(f"worker {index}", work)
        if not gated:  # let in at once: it reads its sockets as soon as it is built
            with contextlib.suppress(OSError):  # it died already: _started sees it
                os.write(r, HANDOVER_GO)
        return self._started(pid, index, r, w, mine, theirs, wait,
                             HANDOVER_READY if gated else HANDOVER_SERVING)

    def let_in(self, children: list[_Child]) -> list[_Child]:
        """Tell gated workers to read their sockets; return those that do
        within _PAUSE_TIMEOUT seconds. The others died or hang: a hung one is
        killed, and the loop in run() starts each again, let in at once."""
        children = [c for c in children if c.ready is not None]
        for c in children:
            with contextlib.suppress(OSError):
                os.write(c.ready, HANDOVER_GO)
        serving = [c for c in children if self._wait_ready(c.ready, HANDOVER_SERVING, _PAUSE_TIMEOUT)]
        for c in children:
            if c not in serving:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(c.pid, signal.SIGKILL)
        return serving

    def _started(self, pid: int, index: int, r: int, w: int, mine: socket.socket | None,
                 theirs: socket.socket | None, wait: bool, want: bytes = HANDOVER_READY) -> int | None:
        """The parent's side of a fork: keep the child; with ``wait``, its pid
        once it has said ``want``, None (and it killed) if it did not."""
        os.close(w)
        if theirs is not None:
            theirs.close()
        self.children[pid] = child = _Child(pid, index, self.generation, mine, r)
        if not wait or self._wait_ready(r, want):
            return pid
        child.generation = -1  # never restarted: it failed to start
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return None

    def spawn_console(self, wait: bool) -> int | None:
        """Fork the console's process with the current operation; with
        ``wait``, return once it serves (None if it failed to)."""
        gc.freeze()
        r, w = os.pipe()
        op = self.rt.operation
        sock = self.console

        def work() -> None:
            os.close(r)
            self._close_inherited(CONSOLE)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the parent reloads; uvicorn stops on SIGTERM/SIGINT
            # Imported in the function (as in _bind_console): without
            # [console], serve never loads the console, Starlette or uvicorn.
            from takedown.console import context as console_context
            from takedown.console import server as console_server

            ctx = console_context.build(op)
            console_server.run_on(ctx, sock, ready=lambda: os.write(w, HANDOVER_READY))

        self.console_started = time.monotonic()
        return self._started(_fork("console", work), CONSOLE, r, w, None, None, wait)

    def _wait_paused(self, retiring: list[_Child]) -> None:
        """Until each retiring worker has stopped reading its sockets (it writes
        HANDOVER_PAUSED; EOF if it died), at most _PAUSE_TIMEOUT seconds:
        its successor reads them only after this."""
        waiting = {c.ready: c for c in retiring if c.ready is not None}
        end = time.monotonic() + _PAUSE_TIMEOUT
        while waiting and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select(list(waiting), [], [], min(left, 0.2))
            for fd in ready:
                try:
                    data = os.read(fd, 16)
                except OSError:
                    data = b""
                if not data or HANDOVER_PAUSED in data:
                    del waiting[fd]

    def _wait_ready(self, r: int, want: bytes, timeout: float = _READY_TIMEOUT) -> bool:
        """Until the child says ``want`` on ``r`` (True) or dies, the timeout
        passes or the server is stopped (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([r], [], [], 0.2)
            if ready:
                try:
                    said = os.read(r, 1)
                except OSError:  # ECONNRESET: it died with a byte of ours unread
                    said = b""
                if said == want:
                    return True
                if not said:  # the child died first
                    return False
                continue  # an earlier step of the handover (ready before serving)
            if self.stop_signal is not None:
                return False
        return False

    def _reap(self) -> list[_Child]:
        dead = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == self.compactor:
                self.compactor = None
                metrics.process_dead(pid)
                if status != 0:
                    say(f"compaction process {pid} failed (status {status}); the next one finishes its work")
                else:
                    self.next_seal = 0.0  # a day may just have closed: seal it now, not in a minute
                continue
            if pid == self.sealer:
                self._sealer_done(status)
                continue
            c = self.children.pop(pid, None)
            metrics.process_dead(pid)
            if c is not None:
                if c.ping is not None:
                    c.ping.close()
                if c.ready is not None:
                    os.close(c.ready)
                    c.ready = None
                dead.append(c)
        return dead

    def maybe_compact(self) -> None:
        """Look for closed days (when a look is due and no compaction runs);
        fork the compaction child only if there are some. Never waits for it."""
        after = self.rt.operation.events.compact_after
        if after is None or self.compactor is not None or time.monotonic() < self.next_compact:
            return
        self.next_compact = time.monotonic() + _COMPACT_INTERVAL
        storage = self.rt.operation.storage
        try:  # the look is a few directory listings: here; only work gets a process
            if not compact_mod.closed_days(storage, after=after):
                return
        except OSError as e:
            say(f"compaction: cannot look for closed days under {storage}: {e}")
            return

        def work() -> None:
            self._close_inherited(None)  # it serves nothing: the listeners stay with the workers
            os.nice(10)
            t0 = time.monotonic()
            try:
                for c in compact_mod.compact(storage, after=after, threads=1):
                    if not c.skipped:
                        metrics.record_compaction(c.seconds, "ok")
                        say(f"compacted kind={c.kind} date={c.day.isoformat()}: {c.files_before} files -> "
                            f"{c.files_after} ({c.rows} events) in {c.seconds:.1f}s")
            except Exception:
                metrics.record_compaction(time.monotonic() - t0, "failed")
                raise

        self.compactor = _fork("compaction", work)

    def maybe_seal(self) -> None:
        """With ``[case] seal``: look for closed event days not sealed yet (when
        a look is due, no sealer and no compaction runs); fork the sealing
        child only if there are some. Never waits for it."""
        op = self.rt.operation
        if op.case is None or not op.case.seal or self.sealer is not None or self.compactor is not None \
                or time.monotonic() < self.next_seal:
            return
        self.next_seal = time.monotonic() + _SEAL_INTERVAL
        try:  # a listing and a stat per day not sealed yet: here; hashing gets a process
            days, _open = evidence_collect.closed_days(op, known=self.sealed)
        except OSError as e:
            say(f"sealing: cannot look for closed days under {op.storage}: {e}")
            return
        if not days:
            return
        tsa = op.case.tsa

        def work() -> None:
            from takedown.evidence.seal import seal  # the sealer's own import: the workers never need it

            self._close_inherited(None)
            os.nice(10)
            done = seal(op, tsa=tsa)
            stamped = f"; chain head time-stamped at {done.token_time}" if done.token is not None else ""
            absent = f"; [case] evidence not there yet: {', '.join(map(str, done.absent))}" if done.absent else ""
            say(f"sealed {len(done.added)} file(s) into {done.manifest} ({done.total} in all; "
                f"{done.open_days} event day(s) still open){stamped}{absent}")

        self.sealing = set(days)
        self.sealer = _fork("sealing the evidence (tried again in a minute)", work)

    def _sealer_done(self, status: int) -> None:
        pid, self.sealer = self.sealer, None
        if status == 0:
            self.sealed |= self.sealing
        elif not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1):  # 1: it said why itself
            say(f"sealing process {pid} died (status {status}); tried again in a minute")
        self.sealing = set()

    def current(self) -> dict[int, _Child]:
        """slot -> its worker of the current generation."""
        return {c.slot: c for c in self.children.values() if c.generation == self.generation}

    def ready_line(self) -> str:
        parts = [f"{k}={','.join(v)}" for k, v in self.bound().items() if v]
        return "ready " + " ".join(parts) + f" workers={len(self.slots)} pid={os.getpid()}"

    def bound(self) -> dict[str, list[str]]:
        s = self.slots[0]
        out: dict[str, list[str]] = {"dns": [join(h, p) for h, p, _u, _t in s.dns]}
        for kind in NET_KINDS:
            out[kind] = [join(h, p) for k, h, p, _s in s.net if k == kind]
        out["control"] = [self.control.address] if self.control is not None else []
        out["console"] = [join(*self.console.getsockname()[:2])] if self.console is not None else []
        return out

    def write_ready(self) -> None:
        if self.ready_file is None:
            return
        data = {"pid": os.getpid(), "workers": len(self.slots), "generation": self.generation,
                "loaded": self.rt.built, **self.bound()}
        try:
            _write_atomic(self.ready_file, json.dumps(data, indent=1) + "\n")
        except OSError as e:  # checked writable at start: it went away since; serving goes on
            say(f"cannot write the ready file {self.ready_file}: {e.strerror or e}")

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        if self.control is not None:
            metrics.start_parent()
            self.control.start()
        for i in range(len(self.slots)):
            if self.spawn(i, wait=True) is None and self.stop_signal is None:
                self._shutdown(signal.SIGTERM)
                raise ServeError(f"worker {i} did not start serving")
        if self.console is not None and self.spawn_console(wait=True) is None and self.stop_signal is None:
            self._shutdown(signal.SIGTERM)
            raise ServeError("the console did not start serving (its error is above)")
        if self.stop_signal is None:
            say(self.ready_line())
            self.write_ready()
            sdnotify.notify("READY=1", f"STATUS={self.ready_line()}", f"MAINPID={os.getpid()}")
        snap = rt_mod.snapshot(self.rt.files)
        if rt_mod.changed_during_build(self.rt, snap):
            self.reload_why = "a file changed"
        next_watch = time.monotonic() + _WATCH_INTERVAL
        while self.stop_signal is None:
            self.maybe_compact()
            self.maybe_seal()
            time.sleep(0.2)  # a signal cuts it short only by running its handler: stop takes up to 0.2 s
            for c in self._reap():
                if c.slot == CONSOLE:
                    self._console_died(c)
                elif c.generation == self.generation and self.stop_signal is None:
                    say(f"worker {c.slot} exited; starting it again")
                    metrics.record_worker_restart()
                    time.sleep(0.5)
                    self.spawn(c.slot, wait=False)
            if self.console_due is not None and time.monotonic() >= self.console_due and self.stop_signal is None:
                self.console_due = None
                self.spawn_console(wait=False)
            if time.monotonic() >= next_watch:
                next_watch = time.monotonic() + _WATCH_INTERVAL
                now = rt_mod.snapshot(self.rt.files)
                if now != snap:
                    snap = now
                    self.reload_why = self.reload_why or "a file changed"
                elif self.reload_why is None:
                    self.reload_why = rt_mod.stale(self.rt)
            if self.reload_why is not None and self.stop_signal is None:
                why, self.reload_why = self.reload_why, None
                sdnotify.notify(*sdnotify.reloading(), f"STATUS=reloading ({why})")
                before = self.rt
                outcome = self.reload(why)
                sdnotify.notify("READY=1", f"STATUS={outcome}")
                snap = rt_mod.snapshot(self.rt.files)
                if self.rt is not before and rt_mod.changed_during_build(self.rt, snap):
                    self.reload_why = "a file changed"
        sdnotify.notify("STOPPING=1")
        self._shutdown(self.stop_signal)

    def reload(self, why: str) -> str:
        """Rebuild and replace the workers; returns what happened, in a few words."""
        t0 = time.monotonic()
        try:
            new = rt_mod.build(self.path, self.overrides)
            rt_mod.same_listeners(self.rt.operation, new.operation)
        except TakedownError as e:
            say(f"reload ({why}) failed, still serving the previous data: {e}")
            metrics.record_reload("failed")
            return f"reload failed, serving generation {self.generation}: {e}"
        old_rt, old = self.rt, self.current()
        self.rt = new
        self.generation += 1
        outcome = "ok"
        # The handover is one instant for the whole server, as BIND's swap of
        # a zone is: every new worker is built first, reading nothing; then
        # every old one stops reading; only then do the new ones read. No
        # answer from the old data ever follows one from the new, on any slot
        # (an old and a new worker reading the same socket, or sockets of
        # other slots, at once would mix them). Meanwhile queries and
        # connections wait in the sockets, which never close: none is dropped.
        retiring: list[_Child] = []
        successors: list[_Child] = []
        for index in range(len(self.slots)):
            if self.stop_signal is not None:
                return "stopping"
            prev = old.get(index)
            pid = self.spawn(index, wait=True, gated=True)
            if pid is None:
                outcome = "partial"
                # keep serving: the slot's old worker stays, adopted by the new generation
                say(f"reload ({why}): the new worker {index} did not start; the previous one keeps serving")
                if prev is not None:
                    prev.generation = self.generation
                continue
            successors.append(self.children[pid])
            if prev is not None:
                retiring.append(prev)
        if self.stop_signal is not None:
            return "stopping"
        for prev in retiring:
            with contextlib.suppress(ProcessLookupError):
                os.kill(prev.pid, signal.SIGQUIT)
            prev.generation = -1  # retiring: never restarted
        del old_rt
        self._wait_paused(retiring)
        if len(self.let_in(successors)) < len(successors):
            outcome = "partial"  # one died or hangs after it was built: the reaper starts it again
        if self.console is not None and self.stop_signal is None:
            outcome = self._reload_console(old.get(CONSOLE), why) or outcome
        metrics.record_reload(outcome)
        self.write_ready()
        say(f"reloaded ({why}) in {time.monotonic() - t0:.2f}s: {summary(new)}")
        for w in new.warnings():
            say(f"warning: {w}")
        return f"serving generation {self.generation}: {summary(new)}"

    def _console_died(self, c: _Child) -> None:
        """Start it again later (not now: the loop must go on serving the
        workers), sooner if it had served a while."""
        if c.generation != self.generation or self.stop_signal is not None:
            return  # a retired one, or stopping
        if time.monotonic() - self.console_started >= _CONSOLE_STABLE:
            self.console_delay = _CONSOLE_BACKOFF[0]
        say(f"the console exited; starting it again in {self.console_delay:g}s")
        self.console_due = time.monotonic() + self.console_delay
        self.console_delay = min(self.console_delay * 2, _CONSOLE_BACKOFF[1])

    def _reload_console(self, prev: _Child | None, why: str) -> str | None:
        """A new console on the new operation, then the old one stopped
        (SIGTERM: uvicorn finishes the requests in progress)."""
        if self.spawn_console(wait=True) is None:
            say(f"reload ({why}): the new console did not start; the previous one keeps serving")
            if prev is not None:
                prev.generation = self.generation
            return "partial"
        self.console_due = None
        if prev is not None:
            prev.generation = -1
            with contextlib.suppress(ProcessLookupError):
                os.kill(prev.pid, signal.SIGTERM)
        return None

    def _shutdown(self, sig: int | None) -> None:
        sig = sig or signal.SIGTERM
        # Both are safe to stop at any moment: the compactor's next start
        # finishes its work; the sealer appends nothing until its files are
        # hashed, and the next start seals them.
        for pid in (self.compactor, self.sealer):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        self.compactor = self.sealer = None
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig if sig in (signal.SIGINT, signal.SIGTERM) else signal.SIGTERM)
        while self.children:
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            self.children.pop(pid, None)
        for s in self.slots:
            s.close()
        if self.console is not None:
            self.console.close()
        if self.control is not None:
            self.control.stop()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def summary(rt: Runtime) -> str:
    policy = rt.policy
    zones = ", ".join(z.zone.origin_text for z in policy.zones) or "none"
    return (f"{policy.seized_count} seized names, "
            + (f"{policy.dga_count} DGA names due {policy.day}, " if rt.operation.dga else "")
            + f"zones: {zones}")


def _raise_nofile() -> None:
    """Lift the soft open-files limit to the hard one: a sinkhole holds many
    connections at once (tens of thousands of idle bots), each a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _check_ready_file(ready_file: Path) -> None:
    """A ready file that cannot be written is an error at start, not after the workers start."""
    try:
        _write_atomic(ready_file, "")
        ready_file.unlink()
    except OSError as e:
        raise ServeError(f"--ready-file {ready_file}: cannot write it: {e.strerror or e}") from None


def _bind_slots(dns, net, workers: int) -> list[Slot]:
    """One socket set per worker slot; the other slots bind the ports the
    first one got (port 0: the kernel's choice)."""
    slots = [bind_slot(dns, net)]
    try:
        dns_bound = [(h, p) for h, p, _u, _t in slots[0].dns]
        net_bound = [(k, h, p) for k, h, p, _s in slots[0].net]
        for _ in range(1, workers):
            slots.append(bind_slot(dns_bound, net_bound))
    except BaseException:
        for s in slots:
            s.close()
        raise
    return slots


def _become(op: Operation, account: privileges.Account | None, ready_file: Path | None) -> str | None:
    """After binding: drop to ``account`` (started as root), or drop the
    capabilities a non-root start was given to bind. Returns who serves, to
    be said once the operation has loaded (a bad file stays one line)."""
    if account is None and os.geteuid() == 0:
        return "running as root ([service] allow_root = true)"
    if os.geteuid() != 0:
        privileges.drop_capabilities()
        return account and privileges.mismatch(account)
    privileges.own_storage(op.storage, account)
    privileges.drop(account)
    paths = sysconfig.get_paths()
    needed = [Path(paths["stdlib"]), Path(paths["purelib"]), Path(takedown.__file__).parent]
    bad = privileges.unreadable(needed)
    if bad is not None:
        raise ServeError(f"user {account.user} cannot read {bad}, which the server needs after dropping root: "
                         f"install takedown where that user can read it (docs/deploy.md)")
    if not os.access(op.storage, os.W_OK | os.X_OK):
        raise ServeError(f"storage {op.storage}: user {account.user} cannot write there "
                         f"(a directory above it is closed to that user)")
    if ready_file is not None:
        _check_ready_file(ready_file)
    return f"running as user {account.user}, group {account.group}"


def _bind_console(op: Operation) -> socket.socket | None:
    if op.console is None:
        return None
    # only with [console]: the console's server module brings uvicorn and Starlette with it
    from takedown.console import server as console_server

    try:
        return console_server.bind(op.console.listen)
    except TakedownError as e:
        raise ServeError(str(e)) from None


def serve(path: Path | str, overrides: Overrides = Overrides(), ready_file: Path | None = None) -> None:
    """Serve the operation file at ``path`` until SIGTERM/SIGINT. Raises
    TakedownError on bad start-up input (before anything serves)."""
    path = Path(path)
    op = overrides.apply(load_operation(path))
    account = privileges.plan(op)  # root without [service] user: refused before anything is bound
    try:
        dns, net = _addresses(op)
    except ValueError as e:
        raise ServeError(str(e)) from None
    if ready_file is not None:
        ready_file = Path(ready_file).resolve()
        _check_ready_file(ready_file)
    _raise_nofile()
    # Bind first, every slot and the control listener: a busy port fails in a
    # moment, not after a long zone load; and the files are read only once
    # root is dropped.
    ctl = control_mod.bind(*split_listen(op.control.listen)) if op.control is not None else None
    con = None
    try:
        con = _bind_console(op)
        slots = _bind_slots(dns, net, op.dns.workers)
    except BaseException:
        for s in (ctl, con):
            if s is not None:
                s.close()
        raise
    metrics_dir = op.storage / ".metrics" / str(os.getpid()) if ctl is not None else None
    try:
        try:
            who = _become(op, account, ready_file)
            if metrics_dir is not None:
                # as the service user (it writes there), before anything imports
                # prometheus_client (it reads the variable once, at import)
                metrics.remove_stale(metrics_dir.parent)
                try:
                    metrics.prepare(metrics_dir)
                except (OSError, ValueError) as e:
                    raise ServeError(f"cannot prepare the metrics directory {metrics_dir}: {e}") from None
            rt = rt_mod.build(path, overrides)
            rt_mod.same_listeners(op, rt.operation)  # edited since it was first read: the sockets follow the first read
            say(f"operation {rt.operation.name!r}: {summary(rt)} (loaded in {rt.seconds:.1f}s); "
                f"events under {rt.operation.storage}")
            say(accel.notice())  # the slower pure-Python path is said, with how to build the compiled one
            for w in rt.warnings():
                say(f"warning: {w}")
            if who:
                say(who)
        except BaseException:
            for s in slots:
                s.close()
            for s in (ctl, con):
                if s is not None:
                    s.close()
            raise
        Supervisor(path, overrides, rt, slots, ready_file, ctl, con).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
