"""Real reference authoritative servers on loopback, for tests and benchmarks.

The differential test (``tests/differential``) and the benchmarks (``bench/``)
compare takedown's DNS sinkhole with the authoritative servers Debian ships:
NSD 4 (``nsd``) and BIND 9 (``named``). This module starts them on a loopback
address and a high port, serving the zones it is given, with everything that
would make their answers differ from a plain authoritative server turned off
(response rate limiting, round robin, ANY refusal, recursion, DNSSEC
validation, NOTIFY) and nothing that reaches beyond loopback.

For the HTTP benchmark it also starts nginx (:func:`start_nginx`): one
worker, access log on, answering every request with a fixed small response,
on a loopback high port.

Usage::

    port = free_port()
    peer = start_nsd({"3322.org": Path("3322.org.zone")}, port=port, workdir=tmp)
    try:
        ...  # send queries to (peer.host, peer.port)
        used = peer.cpu_seconds()
    finally:
        peer.stop()

``Peer`` is also a context manager (``with start_nsd(...) as peer:``).

Every server runs in its own process group (session), so :meth:`Peer.stop`
ends the server and every process it forked (NSD's serve children and xfrd)
and nothing else. Its configuration, pid file, logs and stdout/stderr are
written to ``workdir`` (look there when a start fails: the error names them).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype

from takedown.errors import TakedownError

__all__ = [
    "Peer",
    "PeerError",
    "available",
    "free_port",
    "nginx_conf",
    "start_bind",
    "start_nginx",
    "start_nsd",
    "start_bind_rpz",
    "start_kresd",
    "start_process",
    "start_unbound",
    "wait_answer",
    "wait_http_ready",
    "wait_ready",
]


class PeerError(TakedownError):
    """A reference server cannot be started (missing program, bad zone, no answer)."""


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Programs by peer name; looked up on PATH, then in the Debian locations
# (/usr/sbin is not on every user's PATH).
_PROGRAMS = {
    "nsd": ("nsd", "nsd-checkconf", "nsd-checkzone"),
    "bind": ("named", "named-checkconf", "named-checkzone"),
    "nginx": ("nginx",),
    "unbound": ("unbound", "unbound-checkconf"),
    "kresd": ("kresd",),
}


def _which(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"):
        p = Path(d) / program
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def _program(program: str) -> str:
    path = _which(program)
    if path is None:
        raise PeerError(f"{program}: not installed (Debian packages nsd, bind9, nginx, unbound, knot-resolver; "
                        "see scripts/bootstrap)")
    return path


def available(name: str) -> bool:
    """True when the programs of peer ``name`` ("nsd", "bind", "nginx", "unbound"
    or "kresd") are installed."""
    programs = _PROGRAMS.get(name)
    return programs is not None and all(_which(p) for p in programs)


# --------------------------------------------------------------------------- Peer


@dataclass
class Peer:
    """A running reference server. ``proc`` is the process :func:`start_nsd` or
    :func:`start_bind` started; it leads its own process group."""

    name: str
    proc: subprocess.Popen
    host: str
    port: int
    workdir: Path
    logs: list[Path] = field(default_factory=list)

    # -- lifetime

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's process group, wait, SIGKILL what is left.

        Idempotent. Returns when no process of the group is alive (zombies
        already re-parented to init are not counted: they hold no socket)."""
        pgid = self.proc.pid
        if self.proc.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                self.proc.wait(timeout)
        # Children (NSD's serve processes, xfrd) may outlive the main process
        # for a moment; give them the same grace, then kill them.
        deadline = time.monotonic() + timeout
        while _group_members(pgid):
            if time.monotonic() > deadline:
                _signal_group(pgid, signal.SIGKILL)
                time.sleep(0.05)
                if not _group_members(pgid):
                    break
                deadline = time.monotonic() + timeout
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- measurement

    def pids(self) -> list[int]:
        """The server process and all its live descendants."""
        if self.proc.poll() is not None:
            return []
        return _process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User+system CPU time of the server and its descendants, in seconds.

        Sums ``utime+stime`` from ``/proc/<pid>/stat`` over the server process
        and every live descendant (found through
        ``/proc/<pid>/task/*/children``, recursively), plus ``cutime+cstime``
        of each (the CPU of descendants that already exited and were reaped,
        e.g. an NSD reload process). All threads of a process are included
        (BIND's workers are threads). Take the difference of two readings to
        measure an interval."""
        ticks = 0
        for pid in self.pids():
            t = _stat_times(pid)
            if t is not None:
                ticks += sum(t)
        return ticks / _CLK_TCK

    def describe_logs(self, lines: int = 30) -> str:
        """The tail of each log file, for error messages."""
        out = []
        for p in self.logs:
            try:
                text = p.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            if text:
                out.append(f"--- {p} ---\n" + "\n".join(text))
        return "\n".join(out)


def _read_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # Field 2 (comm) is parenthesised and may contain spaces or ')'.
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest  # rest[0] is field 3 (state)


def _stat_times(pid: int) -> tuple[int, int, int, int] | None:
    rest = _read_stat(pid)
    if rest is None:
        return None
    # fields 14..17: utime stime cutime cstime -> rest[11..14]
    return int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return kids
    supported = False
    for t in tasks:
        try:
            text = (t / "children").read_text()
            supported = True
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        kids.extend(int(x) for x in text.split())
    if not supported:  # kernel without CONFIG_PROC_CHILDREN: scan /proc
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                rest = _read_stat(int(entry.name))
                if rest is not None and int(rest[1]) == pid:
                    kids.append(int(entry.name))
    return kids


def _process_tree(pid: int) -> list[int]:
    seen: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        rest = _read_stat(int(entry.name))
        # rest[0] state, rest[1] ppid, rest[2] pgrp
        if rest is not None and int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- ports, readiness


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def _check_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise PeerError(f"{host}: reference servers are only started on a loopback address")


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free for both UDP and TCP right now.

    The kernel picks a TCP port; it is kept only if UDP can bind it too. (The
    port is released before returning: another process could take it before
    the server binds, which the start functions report as a clear error.)"""
    fam = _family(host)
    for _ in range(200):
        with socket.socket(fam, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            with socket.socket(fam, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
        if port >= 1024:
            return port
    raise PeerError(f"no port free for both UDP and TCP on {host}")


def wait_ready(
    host: str,
    port: int,
    probe_name: str,
    timeout: float = 30.0,
    *,
    proc: subprocess.Popen | None = None,
) -> None:
    """Send UDP queries (SOA, then A, alternately) for ``probe_name`` to
    ``host:port`` until any well-formed response arrives.

    Raises :class:`PeerError` after ``timeout`` seconds, or at once if
    ``proc`` is given and has exited."""
    name = dns.name.from_text(probe_name)
    deadline = time.monotonic() + timeout
    types = (dns.rdatatype.SOA, dns.rdatatype.A)
    i = 0
    last: Exception | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise PeerError(f"server exited with status {proc.returncode} before answering on {host}:{port}")
        q = dns.message.make_query(name, types[i % 2], use_edns=False)
        i += 1
        try:
            dns.query.udp(q, host, port=port, timeout=0.25, ignore_unexpected=True)
            return
        except (dns.exception.Timeout, OSError, dns.exception.DNSException) as e:
            last = e
        if time.monotonic() > deadline:
            raise PeerError(f"no answer from {host}:{port} for {probe_name} within {timeout:g}s ({last!r})")
        time.sleep(0.05)


# --------------------------------------------------------------------------- helpers


def _run_check(argv: list[str], what: str) -> None:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).strip()
        raise PeerError(f"{what} failed ({' '.join(argv)}):\n{out}")


def _origin_text(origin: str) -> str:
    """Zone name without the trailing dot (both servers accept that form)."""
    return dns.name.from_text(origin).to_text(omit_final_dot=True) or "."


def _quote(s: str | Path) -> str:
    s = str(s)
    if '"' in s or "\n" in s:
        raise PeerError(f"unsupported character in path or name: {s!r}")
    return f'"{s}"'


def _spawn(name: str, argv: list[str], host: str, port: int, workdir: Path, logs: list[Path]) -> Peer:
    out = workdir / f"{name}.stdout"
    fh = open(out, "wb")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() ends exactly this tree
        )
    finally:
        fh.close()
    return Peer(name=name, proc=proc, host=host, port=port, workdir=workdir, logs=[out, *logs])


def start_process(
    name: str,
    argv: list[str],
    *,
    host: str = "127.0.0.1",
    port: int,
    workdir: Path,
    probe_name: str,
    timeout: float = 30.0,
    logs: list[Path] | None = None,
) -> Peer:
    """Start any DNS server command (e.g. ``takedown serve``) as a :class:`Peer`:
    in ``workdir``, in its own process group, stdout/stderr to
    ``workdir/<name>.stdout``; return when it answers a query for
    ``probe_name`` on ``host:port``. The caller is responsible for having
    told the command to listen there (on loopback)."""
    _check_loopback(host)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    peer = _spawn(name, [str(a) for a in argv], host, port, workdir, list(logs or []))
    return _start_and_wait(peer, probe_name, timeout)


def _start_and_wait(peer: Peer, probe: str, timeout: float) -> Peer:
    try:
        wait_ready(peer.host, peer.port, probe, timeout, proc=peer.proc)
    except PeerError as e:
        peer.stop()
        raise PeerError(f"{peer.name} on {peer.host}:{peer.port}: {e}\n{peer.describe_logs()}") from None
    return peer


def _prepare(zones: dict[str, Path], host: str, port: int, workdir: Path) -> tuple[Path, dict[str, Path]]:
    _check_loopback(host)
    if not (1024 <= port <= 65535):
        raise PeerError(f"port {port}: use a high port (1024-65535); never 53")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    resolved: dict[str, Path] = {}
    for origin, path in zones.items():
        p = Path(path).resolve()
        if not p.is_file():
            raise PeerError(f"zone {origin}: file {p} not found")
        resolved[_origin_text(origin)] = p
    return workdir, resolved


# --------------------------------------------------------------------------- NSD


def nsd_conf(
    zones: dict[str, Path], *, host: str, port: int, workdir: Path, threads: int = 1, query_log: bool = False
) -> str:
    """The nsd.conf :func:`start_nsd` writes (zones already resolved)."""
    v6 = _family(host) == socket.AF_INET6
    w = workdir
    lines = [
        "# written by harness.peers: a loopback-only reference server",
        "server:",
        f"    ip-address: {host}@{port}",
        f"    port: {port}",
        f"    do-ip4: {'no' if v6 else 'yes'}",
        f"    do-ip6: {'yes' if v6 else 'no'}",
        # server-count is NSD's number of serve *processes* (forked children).
        f"    server-count: {threads}",
        # One socket per serve process (SO_REUSEPORT), as takedown's workers do.
        f"    reuseport: {'yes' if threads > 1 else 'no'}",
        '    username: ""',  # do not drop privileges (reads zone files where they are)
        '    chroot: ""',
        f"    zonesdir: {_quote(w)}",
        '    database: ""',  # NSD 4.6: no nsd.db, zones are read from the zone files
        f"    zonelistfile: {_quote(w / 'zone.list')}",
        f"    pidfile: {_quote(w / 'nsd.pid')}",
        f"    xfrdfile: {_quote(w / 'xfrd.state')}",
        f"    xfrdir: {_quote(w)}",
        "    xfrd-reload-timeout: 1",
        "    zonefiles-write: 0",
        f"    logfile: {_quote(w / 'nsd.log')}",
        # NSD 4.6 has no per-query log: `verbosity` only adds notify/xfr/soft-error
        # messages, and the Debian build's dnstap output needs a dnstap collector
        # socket. With query_log=True we raise verbosity to 2 and log nothing more.
        f"    verbosity: {2 if query_log else 0}",
        "    hide-version: yes",
        "    hide-identity: yes",
        # Response rate limiting off (Debian builds NSD with --enable-ratelimit).
        "    rrl-ratelimit: 0",
        "    rrl-whitelist-ratelimit: 0",
        "    minimal-responses: no",  # the default, stated
        "    refuse-any: no",  # the default, stated: ANY is answered with all RRsets
        "    round-robin: no",  # the default, stated: RRs in zone file order
        "    confine-to-zone: no",  # the default, stated
        "",
        "remote-control:",
        "    control-enable: no",
        "",
    ]
    for origin, path in zones.items():
        lines += ["zone:", f"    name: {_quote(origin)}", f"    zonefile: {_quote(path)}", ""]
    return "\n".join(lines)


def start_nsd(
    zones: dict[str, Path],
    *,
    host: str = "127.0.0.1",
    port: int,
    workdir: Path,
    threads: int = 1,
    query_log: bool = False,
    timeout: float = 30.0,
) -> Peer:
    """Start NSD (``nsd -d``, foreground) serving ``zones`` (origin -> master
    file) on ``host@port``, with ``threads`` serve processes; return when it
    answers. Zone files are checked with ``nsd-checkzone`` first.

    ``query_log``: NSD 4.6 cannot log individual queries (see :func:`nsd_conf`);
    the flag is accepted for symmetry with :func:`start_bind`."""
    nsd = _program("nsd")
    workdir, zones = _prepare(zones, host, port, workdir)
    for origin, path in zones.items():
        _run_check([_program("nsd-checkzone"), origin, str(path)], f"nsd-checkzone {origin}")
    conf = workdir / "nsd.conf"
    conf.write_text(nsd_conf(zones, host=host, port=port, workdir=workdir, threads=threads, query_log=query_log))
    _run_check([_program("nsd-checkconf"), str(conf)], "nsd-checkconf")
    peer = _spawn("nsd", [nsd, "-d", "-c", str(conf)], host, port, workdir, [workdir / "nsd.log"])
    return _start_and_wait(peer, next(iter(zones), "."), timeout)


# --------------------------------------------------------------------------- BIND


def _rate_limit_block(rate_limit: dict) -> list[str]:
    """BIND's ``rate-limit { ... };`` options block from ``{option: value}``
    (BIND's option names; a list value is an address match list)."""
    out = ["    rate-limit {"]
    for k, v in rate_limit.items():
        if isinstance(v, (list, tuple)):
            v = "{ " + "".join(f"{x}; " for x in v) + "}"
        elif isinstance(v, bool):
            v = "yes" if v else "no"
        out.append(f"        {k} {v};")
    out.append("    };")
    return out


def named_conf(
    zones: dict[str, Path], *, host: str, port: int, workdir: Path, threads: int = 1, query_log: bool = False,
    rate_limit: dict | None = None,
) -> str:
    """The named.conf :func:`start_bind` writes (zones already resolved).
    ``rate_limit``: BIND's response rate limiting, ``{option: value}`` with
    BIND's names (``responses-per-second``, ``slip``, ``exempt-clients``: a
    list...); None = off (BIND's default)."""
    v6 = _family(host) == socket.AF_INET6
    w = workdir
    listen4 = f"listen-on port {port} {{ {host}; }};" if not v6 else "listen-on { none; };"
    # listen-on-v6 must be explicit: BIND's default is every IPv6 address, port 53.
    listen6 = f"listen-on-v6 port {port} {{ {host}; }};" if v6 else "listen-on-v6 { none; };"
    logging = [
        "logging {",
        f"    channel main {{ file {_quote(w / 'named.log')} versions 1 size 100m; print-time yes; severity info; }};",
        "    category default { main; };",
        "    category lame-servers { null; };",
    ]
    if query_log:
        logging += [
            f"    channel q {{ file {_quote(w / 'queries.log')} versions 1 size 10g; print-time yes; }};",
            "    category queries { q; };",
        ]
    logging.append("};")
    text = [
        "// written by harness.peers: a loopback-only reference server",
        "options {",
        f"    directory {_quote(w)};",
        f"    pid-file {_quote(w / 'named.pid')};",
        f"    session-keyfile {_quote(w / 'session.key')};",
        f"    managed-keys-directory {_quote(w)};",
        f"    {listen4}",
        f"    {listen6}",
        "    automatic-interface-scan no;",
        "    recursion no;",
        "    allow-query { any; };",
        "    allow-transfer { none; };",
        "    dnssec-validation no;",
        "    notify no;",
        # Load any owner name, as NSD does: BIND's default check-names refuses
        # a primary zone with an A record at a name that is not a host name
        # (the wildcard-ENT fixtures hold a.*.went and a.*.ew).
        "    check-names primary ignore;",
        # Closest to NSD's default (minimal-responses: no): NSD 4.6 puts the
        # zone's NS RRset in the authority section of every positive answer and
        # their addresses in the additional section, as BIND's `no` does
        # (BIND's own default, no-auth-recursive, omits them for RD=1 queries).
        "    minimal-responses no;",
        "    minimal-any no;",
        f"    querylog {'yes' if query_log else 'no'};",
        "    version none;",
        "    hostname none;",
        "    server-id none;",
        *(_rate_limit_block(rate_limit) if rate_limit else []),
        "};",
        "controls { };",  # no rndc channel (it would bind 127.0.0.1:953)
        *logging,
    ]
    for origin, path in zones.items():
        text.append(f"zone {_quote(origin)} {{ type primary; file {_quote(path)}; }};")
    return "\n".join(text) + "\n"


def start_bind(
    zones: dict[str, Path],
    *,
    host: str = "127.0.0.1",
    port: int,
    workdir: Path,
    threads: int = 1,
    query_log: bool = False,
    timeout: float = 30.0,
    rate_limit: dict | None = None,
) -> Peer:
    """Start BIND 9 (``named -f``, foreground, logging{} honoured) serving
    ``zones`` on ``host`` port ``port`` with ``threads`` worker threads; return
    when it answers. ``query_log`` writes every query to
    ``workdir/queries.log``. ``rate_limit``: a ``rate-limit { ... };`` block
    (see :func:`named_conf`). The configuration and zones are checked with
    ``named-checkconf``/``named-checkzone`` first."""
    named = _program("named")
    workdir, zones = _prepare(zones, host, port, workdir)
    for origin, path in zones.items():
        _run_check([_program("named-checkzone"), "-q", "-i", "local", origin, str(path)], f"named-checkzone {origin}")
    conf = workdir / "named.conf"
    conf.write_text(named_conf(zones, host=host, port=port, workdir=workdir, threads=threads, query_log=query_log,
                               rate_limit=rate_limit))
    _run_check([_program("named-checkconf"), str(conf)], "named-checkconf")
    fam = "-6" if _family(host) == socket.AF_INET6 else "-4"
    argv = [named, "-f", fam, "-n", str(threads), "-c", str(conf)]
    peer = _spawn("bind", argv, host, port, workdir, [workdir / "named.log"])
    return _start_and_wait(peer, next(iter(zones), "."), timeout)


# --------------------------------------------------------------------------- resolvers with a response policy zone
#
# Recursive resolvers that load an RPZ (BIND 9, Unbound, Knot Resolver), for
# the tracker's RPZ export. Each sends every query it cannot answer to one
# upstream on loopback (an authoritative server the test starts, serving the
# root zone as its "Internet") and nowhere else: forwarding only, no DNSSEC
# validation, root hints that name only 127.0.0.1.


def _root_hints(workdir: Path) -> Path:
    """A root hints file naming only 127.0.0.1: should a resolver prime in
    spite of forwarding everything, the priming query stays on loopback."""
    p = workdir / "root.hints"
    p.write_text(". 3600000 NS hints.loopback.\nhints.loopback. 3600000 A 127.0.0.1\n")
    return p


def _prepare_resolver(rpz_path: Path, upstream: tuple[str, int], host: str, port: int,
                      workdir: Path) -> tuple[Path, Path]:
    _check_loopback(host)
    _check_loopback(upstream[0])
    if not (1024 <= port <= 65535):
        raise PeerError(f"port {port}: use a high port (1024-65535); never 53")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    rpz_path = Path(rpz_path).resolve()
    if not rpz_path.is_file():
        raise PeerError(f"RPZ file {rpz_path} not found")
    return workdir, rpz_path


def named_rpz_conf(origin: str, rpz_path: Path, *, upstream: tuple[str, int], host: str, port: int,
                   workdir: Path) -> str:
    """The named.conf of :func:`start_bind_rpz`: a recursive resolver that
    forwards only to ``upstream`` and applies the response policy zone
    ``origin`` loaded from ``rpz_path`` (BIND 9 ARM, "Response Policy Zone
    (RPZ) Rewriting")."""
    w = workdir
    return "\n".join([
        "// written by harness.peers: a loopback-only resolver with a response policy zone",
        "options {",
        f"    directory {_quote(w)};",
        f"    pid-file {_quote(w / 'named.pid')};",
        f"    session-keyfile {_quote(w / 'session.key')};",
        f"    managed-keys-directory {_quote(w)};",
        f"    listen-on port {port} {{ {host}; }};",
        "    listen-on-v6 { none; };",
        "    automatic-interface-scan no;",
        "    recursion yes;",
        "    allow-query { 127.0.0.0/8; };",
        "    allow-recursion { 127.0.0.0/8; };",
        f"    forward only; forwarders {{ {upstream[0]} port {upstream[1]}; }};",
        "    dnssec-validation no;",
        "    qname-minimization off;",
        "    notify no;",
        "    allow-transfer { none; };",
        f"    response-policy {{ zone {_quote(_origin_text(origin))}; }};",
        "};",
        "controls { };",
        "logging {",
        f"    channel main {{ file {_quote(w / 'named.log')} versions 1 size 100m; print-time yes; severity info; }};",
        "    category default { main; };",
        "    category rpz { main; };",
        "};",
        f"zone \".\" {{ type hint; file {_quote(_root_hints(w))}; }};",
        # check-names: a C&C name need not be a host name (underscores), yet
        # local data puts A records at it, which BIND's default refuses.
        f"zone {_quote(_origin_text(origin))} {{ type primary; file {_quote(rpz_path)}; check-names ignore; "
        "allow-query { none; }; };",
    ]) + "\n"


def start_bind_rpz(origin: str, rpz_path: Path, *, upstream: tuple[str, int], host: str = "127.0.0.1",
                   port: int, workdir: Path, timeout: float = 30.0, check: bool = True) -> Peer:
    """Start BIND 9 as a resolver applying the RPZ ``origin`` (the master file
    ``rpz_path``, checked with ``named-checkzone`` first unless ``check`` is
    false) and forwarding to ``upstream`` (host, port) only; return when it
    answers a query (the RPZ may still be loading: see :func:`wait_answer`)."""
    workdir, rpz_path = _prepare_resolver(rpz_path, upstream, host, port, workdir)
    if check:
        _run_check([_program("named-checkzone"), "-q", "-i", "local", _origin_text(origin), str(rpz_path)],
                   f"named-checkzone {origin}")
    conf = workdir / "named.conf"
    conf.write_text(named_rpz_conf(origin, rpz_path, upstream=upstream, host=host, port=port, workdir=workdir))
    _run_check([_program("named-checkconf"), str(conf)], "named-checkconf")
    argv = [_program("named"), "-f", "-4", "-n", "1", "-c", str(conf)]
    peer = _spawn("bind-rpz", argv, host, port, workdir, [workdir / "named.log"])
    return _start_and_wait(peer, _origin_text(origin), timeout)


def unbound_conf(origin: str, rpz_path: Path, *, upstream: tuple[str, int], host: str, port: int,
                 workdir: Path) -> str:
    """The unbound.conf of :func:`start_unbound`: the ``respip`` module before
    the iterator (RPZ's IP triggers need it: unbound.conf(5), "Response
    Policy Zone Options"), one ``rpz:`` zone from a file, everything
    forwarded to ``upstream``."""
    w = workdir
    return "\n".join([
        "# written by harness.peers: a loopback-only resolver with a response policy zone",
        "server:",
        f"    interface: {host}@{port}",
        f"    port: {port}",
        "    do-ip6: no",
        "    access-control: 127.0.0.0/8 allow",
        '    username: ""',
        '    chroot: ""',
        f"    directory: {_quote(w)}",
        f"    pidfile: {_quote(w / 'unbound.pid')}",
        "    use-syslog: no",
        f"    logfile: {_quote(w / 'unbound.log')}",
        "    verbosity: 1",
        "    num-threads: 1",
        "    so-reuseport: no",
        # Unbound refuses to send queries to 127.0.0.0/8 by default; the
        # upstream lives there.
        "    do-not-query-localhost: no",
        "    qname-minimisation: no",
        f"    root-hints: {_quote(_root_hints(w))}",
        '    module-config: "respip validator iterator"',
        "",
        "remote-control:",
        "    control-enable: no",
        "",
        "forward-zone:",
        '    name: "."',
        f"    forward-addr: {upstream[0]}@{upstream[1]}",
        "",
        "rpz:",
        f"    name: {_quote(_origin_text(origin))}",
        f"    zonefile: {_quote(rpz_path)}",
        "    rpz-log: yes",
        "",
    ])


def start_unbound(origin: str, rpz_path: Path, *, upstream: tuple[str, int], host: str = "127.0.0.1",
                  port: int, workdir: Path, timeout: float = 30.0) -> Peer:
    """Start Unbound (``unbound -d``, foreground) applying the RPZ ``origin``
    from ``rpz_path`` and forwarding to ``upstream`` only (see
    :func:`unbound_conf`; checked with ``unbound-checkconf`` first)."""
    workdir, rpz_path = _prepare_resolver(rpz_path, upstream, host, port, workdir)
    conf = workdir / "unbound.conf"
    conf.write_text(unbound_conf(origin, rpz_path, upstream=upstream, host=host, port=port, workdir=workdir))
    _run_check([_program("unbound-checkconf"), str(conf)], "unbound-checkconf")
    peer = _spawn("unbound", [_program("unbound"), "-d", "-c", str(conf)], host, port, workdir,
                  [workdir / "unbound.log"])
    return _start_and_wait(peer, _origin_text(origin), timeout)


def _lua_string(s: str | Path) -> str:
    s = str(s)
    if any(c in s for c in "'\\\n"):
        raise PeerError(f"unsupported character in path: {s!r}")
    return f"'{s}'"


def kresd_conf(rpz_path: Path, *, upstream: tuple[str, int], host: str, port: int, workdir: Path) -> str:
    """The Lua configuration of :func:`start_kresd`: ``policy.rpz`` over the
    file (Knot Resolver 5 documentation, "Policy module", "Response policy
    zones"), then every other query sent to ``upstream`` with
    ``policy.STUB`` (no DNSSEC, no validation: the upstream is an
    authoritative server, not a resolver)."""
    return "\n".join([
        "-- written by harness.peers: a loopback-only resolver with a response policy zone",
        f"net.listen({_lua_string(host)}, {port}, {{ kind = 'dns' }})",
        "net.ipv6 = false",
        f"cache.open(16 * MB, 'lmdb://' .. {_lua_string(workdir / 'cache')})",
        "trust_anchors.remove('.')",
        # A query no policy rule sends upstream (an RPZ passthru ends the
        # policy list) is iterated from the root hints: keep those on loopback.
        "modules.load('hints')",
        "hints.root({['hints.loopback.'] = '127.0.0.1'})",
        f"policy.add(policy.rpz(policy.DENY, {_lua_string(rpz_path)}, false))",
        f"policy.add(policy.all(policy.STUB({{{_lua_string(f'{upstream[0]}@{upstream[1]}')}}})))",
        "",
    ])


def start_kresd(rpz_path: Path, *, upstream: tuple[str, int], host: str = "127.0.0.1", port: int,
                workdir: Path, timeout: float = 30.0) -> Peer:
    """Start Knot Resolver (``kresd -n``, one process, ``workdir`` its run
    directory) applying the RPZ in ``rpz_path`` and sending every other
    query to ``upstream`` only (see :func:`kresd_conf`)."""
    workdir, rpz_path = _prepare_resolver(rpz_path, upstream, host, port, workdir)
    conf = workdir / "kresd.conf"
    conf.write_text(kresd_conf(rpz_path, upstream=upstream, host=host, port=port, workdir=workdir))
    peer = _spawn("kresd", [_program("kresd"), "-n", "-c", str(conf), str(workdir)], host, port, workdir, [])
    return _start_and_wait(peer, ".", timeout)


def wait_answer(host: str, port: int, name: str, check, timeout: float = 30.0, rdtype: str = "A") -> dns.message.Message:
    """Query ``host:port`` for ``name``/``rdtype`` (RD set) until
    ``check(response)`` is true; the response. A resolver answers before
    its policy zone is loaded (BIND and Unbound load a large zone in the
    background): this waits for the zone to take effect."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        q = dns.message.make_query(name, rdtype)
        try:
            last = dns.query.udp(q, host, port=port, timeout=1.0)
            if check(last):
                return last
        except (dns.exception.Timeout, OSError, dns.exception.DNSException) as e:
            last = e
        if time.monotonic() > deadline:
            raise PeerError(f"{host}:{port}: {name} {rdtype} not as expected within {timeout:g}s (last: {last})")
        time.sleep(0.05)


# --------------------------------------------------------------------------- nginx


def wait_http_ready(
    host: str,
    port: int,
    path: str = "/",
    timeout: float = 30.0,
    *,
    proc: subprocess.Popen | None = None,
) -> int:
    """Send ``GET path`` (``Connection: close``) to ``host:port`` until an HTTP
    status line comes back; return its status code.

    Raises :class:`PeerError` after ``timeout`` seconds, or at once if
    ``proc`` is given and has exited."""
    _check_loopback(host)
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    last: Exception | str | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise PeerError(f"server exited with status {proc.returncode} before answering on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5) as s:
                s.sendall(request)
                head = s.recv(4096)
            parts = head.split(b" ", 2)
            if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
                return int(parts[1])
            last = f"not an HTTP response: {head[:80]!r}"
        except OSError as e:
            last = e
        if time.monotonic() > deadline:
            raise PeerError(f"no HTTP answer from {host}:{port} within {timeout:g}s ({last!r})")
        time.sleep(0.05)


def _nginx_string(s: str) -> str:
    """An nginx configuration string literal: double-quoted, backslash and
    quote escaped, ``$`` through the ``$dollar`` variable of :func:`nginx_conf`."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}") + '"'


def nginx_conf(
    *,
    host: str,
    port: int,
    workdir: Path,
    workers: int = 1,
    access_log: bool = True,
    status: int = 200,
    body: str = "",
    worker_connections: int = 4096,
    keepalive_requests: int = 1_000_000,
) -> str:
    """The nginx.conf :func:`start_nginx` writes.

    Every request, whatever its method and path, gets ``status`` with
    ``body`` (the default, ``return 200 "";``, is a 200 with
    ``Content-Length: 0``). With ``access_log`` each request is written to
    ``workdir/access.log`` in the default ``combined`` format, unbuffered (one
    write(2) per request, nginx's default). A keep-alive connection serves up
    to ``keepalive_requests`` requests (nginx's default, 1000, would make a
    keep-alive benchmark reconnect every 1000 requests)."""
    w = workdir
    listen = f"[{host}]:{port}" if _family(host) == socket.AF_INET6 else f"{host}:{port}"
    temp = "\n".join(
        f"    {kind}_temp_path {_quote(w / 'tmp' / kind)};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    log = f"access_log {_quote(w / 'access.log')} combined;" if access_log else "access_log off;"
    return f"""\
# written by harness.peers: a loopback-only reference HTTP server
daemon off;
master_process on;
worker_processes {workers};
pid {_quote(w / 'nginx.pid')};
error_log {_quote(w / 'error.log')} warn;
# Enough descriptors for worker_connections (each client connection is one).
worker_rlimit_nofile {worker_connections + 1024};

events {{
    worker_connections {worker_connections};
}}

http {{
    geo $dollar {{ default "$"; }}  # a literal $ in the response body
{temp}
    {log}
    keepalive_requests {keepalive_requests};
    server_tokens off;
    default_type text/plain;

    server {{
        listen {listen} backlog=4096;
        location / {{
            return {status} {_nginx_string(body)};
        }}
    }}
}}
"""


def start_nginx(
    *,
    host: str = "127.0.0.1",
    port: int,
    workdir: Path,
    workers: int = 1,
    access_log: bool = True,
    status: int = 200,
    body: str = "",
    worker_connections: int = 4096,
    keepalive_requests: int = 1_000_000,
    timeout: float = 30.0,
) -> Peer:
    """Start nginx in the foreground (``daemon off; master_process on;``: the
    master and ``workers`` worker processes) on ``host:port``, answering every
    request with ``status`` and ``body`` (see :func:`nginx_conf`); return
    when it answers. Configuration, pid file, ``error.log`` and
    ``access.log`` are in ``workdir``; the configuration is checked with
    ``nginx -t`` first.

    ``worker_connections`` bounds the connections one worker holds (raise it
    to hold many idle connections; ``worker_rlimit_nofile`` follows it). Run
    as root, nginx's workers switch to the user ``nobody`` (the log files are
    opened by the master before that)."""
    nginx = _program("nginx")
    _check_loopback(host)
    if not (1024 <= port <= 65535):
        raise PeerError(f"port {port}: use a high port (1024-65535); never 80")
    workdir = Path(workdir).resolve()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(
        host=host, port=port, workdir=workdir, workers=workers, access_log=access_log, status=status,
        body=body, worker_connections=worker_connections, keepalive_requests=keepalive_requests,
    ))
    # -p: prefix for relative paths; -e: the error log used before the
    # configuration is read (else /var/log/nginx/error.log).
    base = [nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    _run_check([*base, "-t", "-q"], "nginx -t")
    peer = _spawn("nginx", base, host, port, workdir, [workdir / "error.log"])
    try:
        wait_http_ready(host, port, "/", timeout, proc=peer.proc)
    except PeerError as e:
        peer.stop()
        raise PeerError(f"nginx on {host}:{port}: {e}\n{peer.describe_logs()}") from None
    return peer
