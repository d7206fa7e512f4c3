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
keeps serving. Otherwise, slot by slot, a new worker is forked with the new
Runtime on the same sockets; once it is serving, the old worker is told to
retire (SIGQUIT): it stops reading and accepting at once, finishes the
requests in progress and exits. The sockets never close, so a datagram or a
connection queued during the swap is answered by the new worker: a reload
drops nothing. A worker that dies is forked again with the parent's current
Runtime, the same every other worker serves.

*Compaction*: with ``[events] compact_after`` (on by default), the parent
looks every minute, and once right after start, for UTC days that ended that
long ago and hold segments not yet compacted, and forks one low-priority
child (nice 10, no sockets) that compacts them (:mod:`takedown.store.compact`)
and exits. The parent never waits for it; a new one starts only once the last
has exited. Killing it at any moment is safe: the next one finishes the job.

*Readiness*: once every worker serves, the parent prints one line::

    takedown: ready dns=127.0.0.1:5353 http=127.0.0.1:8080 workers=2 pid=1234

with the addresses actually bound (a port 0 in the file or on the command
line is the port the kernel chose), and writes the same as JSON to
``--ready-file`` (atomically; rewritten after every reload, with its
``generation``).
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
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from takedown import runtime as rt_mod
from takedown.dns.responder import Responder
from takedown.dns.rrl import RateLimiter
from takedown.dns.server import DnsShell
from takedown.errors import ServeError, TakedownError
from takedown.hostport import join, split_listen
from takedown.net.server import NetSensor
from takedown.operation import Operation, load_operation
from takedown.runtime import Overrides, Runtime
from takedown.store import compact as compact_mod
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter

_RCVBUF = 8 << 20
_READY_TIMEOUT = 60.0  # seconds a new worker has to start serving
_RETIRE_GRACE = 10.0  # seconds a retiring worker may take to finish requests in progress
_WATCH_INTERVAL = 1.0
_COMPACT_INTERVAL = 60.0  # seconds between looks for a day to compact
NET_KINDS = ("http", "tls", "tcp")


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

    def __init__(self, rt: Runtime, slot: Slot, index: int):
        self.rt = rt
        self.slot = slot
        self.index = index
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

    async def run(self, ready_fd: int | None) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        how = {"retire": False}

        def stop(retire: bool) -> None:
            how["retire"] = how["retire"] or retire
            done.set()

        self.writer.start(loop)
        await self.dns.start(loop, self.slot.dns)
        if self.net is not None:
            listeners = {lst.kind: lst for lst in self.rt.listeners()}
            await self.net.start(loop, [(listeners[k], h, p, s) for k, h, p, s in self.slot.net])
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop, False)
        loop.add_signal_handler(signal.SIGQUIT, stop, True)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the parent reloads
        if ready_fd is not None:
            os.write(ready_fd, b"r")
            os.close(ready_fd)
        await done.wait()
        if how["retire"]:
            # the successor already reads the same sockets: stop at once, finish what is in progress
            self.dns.pause()
            if self.net is not None:
                await self.net.retire(_RETIRE_GRACE)
            await self.dns.close(_RETIRE_GRACE)
        else:
            self.dns.pause()
            self.dns.drain()  # the server stops: answer what is queued
            await self.dns.close()
            if self.net is not None:
                await self.net.stop()
        await self.writer.aclose()


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


def _worker_main(rt: Runtime, slot: Slot, index: int, ready_fd: int) -> None:
    uvloop.run(Worker(rt, slot, index).run(ready_fd))


# -- the parent ---------------------------------------------------------------


@dataclass
class _Child:
    pid: int
    slot: int
    generation: int


class Supervisor:
    def __init__(self, path: Path, overrides: Overrides, rt: Runtime, slots: list[Slot], ready_file: Path | None):
        self.path = path
        self.overrides = overrides
        self.rt = rt
        self.slots = slots
        self.ready_file = ready_file
        self.generation = 1
        self.children: dict[int, _Child] = {}
        self.stop_signal: int | None = None
        self.reload_why: str | None = None
        self.compactor: int | None = None  # pid of the compaction child while one runs
        self.next_compact = 0.0  # monotonic time of the next look for days to compact

    # signals only set flags; the loop in run() acts on them
    def _on_signal(self, sig, _frame) -> None:
        if sig == signal.SIGHUP:
            self.reload_why = "SIGHUP"
        else:
            self.stop_signal = sig

    def spawn(self, index: int, wait: bool) -> int | None:
        """Fork a worker for slot ``index`` with the current Runtime; with
        ``wait``, return once it serves (None if it failed to)."""
        # Objects alive now (the Runtime: millions of names) leave the
        # collector's generations, so its passes in the worker do not touch,
        # and so copy, the pages it shares with the parent.
        gc.freeze()
        r, w = os.pipe()

        def work() -> None:
            os.close(r)
            for j, s in enumerate(self.slots):
                if j != index:
                    s.close()
            _worker_main(self.rt, self.slots[index], index, w)

        pid = _fork(f"worker {index}", work)
        os.close(w)
        self.children[pid] = _Child(pid, index, self.generation)
        try:
            if not wait or self._wait_ready(r, pid):
                return pid
        finally:
            os.close(r)
        self.children[pid].generation = -1  # never restarted: it failed to start
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return None

    def _wait_ready(self, r: int, pid: int) -> bool:
        end = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < end:
            ready, _, _ = select.select([r], [], [], 0.2)
            if ready:
                return os.read(r, 1) == b"r"  # b"" when the child died first
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
                if status != 0:
                    say(f"compaction process {pid} failed (status {status}); the next one finishes its work")
                continue
            c = self.children.pop(pid, None)
            if c is not None:
                dead.append(c)
        return dead

    def maybe_compact(self) -> None:
        """Fork the compaction child if a look is due and none runs (never waits for it)."""
        after = self.rt.operation.events.compact_after
        if after is None or self.compactor is not None or time.monotonic() < self.next_compact:
            return
        self.next_compact = time.monotonic() + _COMPACT_INTERVAL
        storage = self.rt.operation.storage

        def work() -> None:
            for s in self.slots:  # it serves nothing: the listeners stay with the workers
                s.close()
            os.nice(10)
            for c in compact_mod.compact(storage, after=after, threads=1):
                if not c.skipped:
                    say(f"compacted kind={c.kind} date={c.day.isoformat()}: {c.files_before} files -> "
                        f"{c.files_after} ({c.rows} events) in {c.seconds:.1f}s")

        self.compactor = _fork("compaction", work)

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
        for i in range(len(self.slots)):
            if self.spawn(i, wait=True) is None and self.stop_signal is None:
                self._shutdown(signal.SIGTERM)
                raise ServeError(f"worker {i} did not start serving")
        if self.stop_signal is None:
            say(self.ready_line())
            self.write_ready()
        snap = rt_mod.snapshot(self.rt.files)
        next_watch = time.monotonic() + _WATCH_INTERVAL
        while self.stop_signal is None:
            self.maybe_compact()
            time.sleep(0.2)  # a signal cuts it short only by running its handler: stop takes up to 0.2 s
            for c in self._reap():
                if c.generation == self.generation and self.stop_signal is None:
                    say(f"worker {c.slot} exited; starting it again")
                    time.sleep(0.5)
                    self.spawn(c.slot, wait=False)
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
                self.reload(why)
                snap = rt_mod.snapshot(self.rt.files)
        self._shutdown(self.stop_signal)

    def reload(self, why: str) -> None:
        t0 = time.monotonic()
        try:
            new = rt_mod.build(self.path, self.overrides)
            rt_mod.same_listeners(self.rt.operation, new.operation)
        except TakedownError as e:
            say(f"reload ({why}) failed, still serving the previous data: {e}")
            return
        old_rt, old = self.rt, self.current()
        self.rt = new
        self.generation += 1
        for index in range(len(self.slots)):
            if self.stop_signal is not None:
                return
            prev = old.get(index)
            if self.spawn(index, wait=True) is None:
                # keep serving: the slot's old worker stays, adopted by the new generation
                say(f"reload ({why}): the new worker {index} did not start; the previous one keeps serving")
                if prev is not None:
                    prev.generation = self.generation
                continue
            if prev is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(prev.pid, signal.SIGQUIT)
                prev.generation = -1  # retiring: never restarted
        del old_rt
        self.write_ready()
        say(f"reloaded ({why}) in {time.monotonic() - t0:.2f}s: {summary(new)}")

    def _shutdown(self, sig: int | None) -> None:
        sig = sig or signal.SIGTERM
        if self.compactor is not None:  # safe to stop at any moment: the next start finishes its work
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.compactor, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.compactor, 0)
            self.compactor = None
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


def serve(path: Path | str, overrides: Overrides = Overrides(), ready_file: Path | None = None) -> None:
    """Serve the operation file at ``path`` until SIGTERM/SIGINT. Raises
    TakedownError on bad start-up input (before anything serves)."""
    path = Path(path)
    op = overrides.apply(load_operation(path))
    try:
        dns, net = _addresses(op)
    except ValueError as e:
        raise ServeError(str(e)) from None
    if ready_file is not None:
        ready_file = Path(ready_file).resolve()
        try:  # a ready file that cannot be written is an error now, not after the workers start
            _write_atomic(ready_file, "")
            ready_file.unlink()
        except OSError as e:
            raise ServeError(f"--ready-file {ready_file}: cannot write it: {e.strerror or e}") from None
    _raise_nofile()
    # Bind first: a busy port fails in a moment, not after a long zone load.
    first = bind_slot(dns, net)
    slots = [first]
    try:
        rt = rt_mod.build(path, overrides)
        say(f"operation {rt.operation.name!r}: {summary(rt)} (loaded in {rt.seconds:.1f}s); "
            f"events under {rt.operation.storage}")
        # the other slots bind the ports the first one got (port 0: the kernel's choice)
        dns_bound = [(h, p) for h, p, _u, _t in first.dns]
        net_bound = [(k, h, p) for k, h, p, _s in first.net]
        for _ in range(1, rt.operation.dns.workers):
            slots.append(bind_slot(dns_bound, net_bound))
    except BaseException:
        for s in slots:
            s.close()
        raise
    Supervisor(path, overrides, rt, slots, ready_file).run()
