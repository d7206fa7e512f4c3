"""Helpers for the integration tests of the running DNS sinkhole
(``tests/test_dns_server.py``): operation files in a temporary directory,
``takedown serve`` as a subprocess, DNS clients (dnspython, raw sockets, dig).

Everything talks to 127.0.0.1 / ::1 on high ports only, and every wait is
bounded in time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.zone

from harness.peers import free_port

__all__ = [
    "DIG",
    "DigResult",
    "EXAMPLES",
    "SINK_V4",
    "SINK_V6",
    "Server",
    "TAKEDOWN",
    "dig",
    "free_port",
    "ipv6_loopback_available",
    "make_operation",
    "query",
    "raw_tcp",
    "raw_udp",
    "rrsets",
    "tcp",
    "tcp_frames",
    "udp",
    "zone_truth",
]

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TAKEDOWN = Path(sys.executable).parent / "takedown"
DIG = shutil.which("dig")

# Sinkhole of every operation file written here (examples/operation.toml).
SINK_V4 = "192.0.2.53"
SINK_V6 = "2001:db8::53"
SINK_TTL = 300
SINK_NS = {"ns1.sinkhole.example.": "192.0.2.1", "ns2.sinkhole.example.": "192.0.2.2"}


# --------------------------------------------------------------------------- operation files


def logged_responder(policy, **kw):
    """A Responder over a fresh columnar event buffer (``r.buffer``; its
    events as DNS_ROW tuples: ``r.buffer.rows()``)."""
    from takedown.dns.responder import Responder
    from takedown.store.dnsbuffer import DnsBuffer

    buf = DnsBuffer()
    r = Responder(policy, buf, **kw)
    r.buffer = buf
    return r


def make_operation(
    directory: Path,
    *,
    name: str = "itest",
    sensor: str = "itest",
    flush_interval: float = 0.5,
    rrl: dict | None = None,
    max_udp_payload: int | None = None,
    extra_zones: dict[str, str | tuple[str, str]] | None = None,
    extra_toml: str = "",
) -> Path:
    """Copy ``examples/*`` into ``directory`` and write ``operation.toml`` there.

    ``rrl``: the ``[dns.rrl]`` table (default: ``enabled = false``, so tests
    sending many queries from 127.0.0.1 are not rate limited).
    ``extra_zones``: ``{origin: zone file text}`` or ``{origin: (zone file
    text, blocklist text)}``, each served whole (family ``test``) from
    ``{origin}.zone`` with its blocklist, if any, in ``{origin}-blocklist.txt``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for f in EXAMPLES.iterdir():
        if f.is_file() and f.name != "operation.toml":
            shutil.copy(f, directory / f.name)
    rrl = {"enabled": False} if rrl is None else rrl
    lines = [
        "[operation]",
        f'name = "{name}"',
        'storage = "data"',
        "",
        "[sinkhole]",
        f'ipv4 = ["{SINK_V4}"]',
        f'ipv6 = ["{SINK_V6}"]',
        f"ttl = {SINK_TTL}",
        'soa_email = "hostmaster.sinkhole.example"',
        'nameservers = { "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = "192.0.2.2" }',
        "",
        "[[domains]]",
        'family = "waledac"',
        'file = "waledac-domains.txt"',
        "",
        "[[zones]]",
        'origin = "3322.org"',
        'file = "3322.org.zone"',
        'blocklist = "3322-blocklist.txt"',
        'family = "nitol"',
        "",
    ]
    for origin, text in (extra_zones or {}).items():
        blocklist = None
        if isinstance(text, tuple):
            text, blocklist = text
        (directory / f"{origin}.zone").write_text(text)
        lines += ["[[zones]]", f'origin = "{origin}"', f'file = "{origin}.zone"', 'family = "test"']
        if blocklist is not None:
            (directory / f"{origin}-blocklist.txt").write_text(blocklist)
            lines.append(f'blocklist = "{origin}-blocklist.txt"')
        lines.append("")
    lines += ["[dns]", 'listen = ["127.0.0.1:5353"]']
    if max_udp_payload is not None:
        lines.append(f"max_udp_payload = {max_udp_payload}")
    lines += ["", "[dns.rrl]"]
    for k, v in rrl.items():
        lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
    lines += ["", "[events]", f"flush_interval = {flush_interval}", f'sensor = "{sensor}"', ""]
    path = directory / "operation.toml"
    # [service] last, so that the lines above keep their numbers; the tests
    # run as root in CI (tests/test_privileges.py drops to a user)
    path.write_text("\n".join(lines) + extra_toml + "\n[service]\nallow_root = true\n")
    return path


# --------------------------------------------------------------------------- the server process


def _fmt_listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class Server:
    """``takedown serve`` running in its own session (process group)."""

    opfile: Path
    port: int
    proc: subprocess.Popen
    stderr_path: Path
    stdout_path: Path
    listens: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        opfile: Path,
        *,
        port: int | None = None,
        hosts: tuple[str, ...] = ("127.0.0.1",),
        workers: int | None = None,
        wait: str = "dns",
        timeout: float = 20.0,
    ) -> Server:
        """Start the server on ``hosts`` at ``port``.

        ``wait``: "dns" probes with DNS queries until one is answered (the
        probes become events); "log" waits for the "takedown: ready " line on
        stderr and a TCP connect (no DNS message, so no event); "none" returns
        at once.
        """
        opfile = Path(opfile)
        port = port or free_port()
        argv = [str(TAKEDOWN), "serve", str(opfile)]
        for h in hosts:
            argv += ["--dns", _fmt_listen(h, port)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        tag = f"serve-{port}-{int(time.monotonic() * 1000) % 100000}"
        err = opfile.parent / f"{tag}.stderr"
        out = opfile.parent / f"{tag}.stdout"
        with open(err, "wb") as fe, open(out, "wb") as fo:
            proc = subprocess.Popen(
                argv,
                cwd=opfile.parent,
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                start_new_session=True,
            )
        srv = cls(opfile, port, proc, err, out, [(h, port) for h in hosts])
        try:
            if wait == "dns":
                srv.wait_dns(timeout)
            elif wait == "log":
                srv.wait_log(timeout)
        except BaseException:
            srv.kill()
            raise
        return srv

    # -- readiness

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"takedown serve exited with {self.proc.returncode}:\n{self.stderr()}")

    def wait_dns(self, timeout: float = 20.0, name: str = "www.3322.org") -> None:
        deadline = time.monotonic() + timeout
        host = self.listens[0][0]
        while True:
            self._check_alive()
            try:
                r = udp(query(name, "A"), self.port, host=host, timeout=0.25)
                if r.rcode() == 0:
                    return
            except (dns.exception.Timeout, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no DNS answer within {timeout}s:\n{self.stderr()}")
            time.sleep(0.05)

    def wait_log(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while "takedown: ready " not in self.stderr():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no ready line within {timeout}s:\n{self.stderr()}")
            time.sleep(0.02)
        host = self.listens[0][0]
        while True:
            try:
                with socket.create_connection((host, self.port), timeout=0.5):
                    return
            except OSError:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- output

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_stderr(self, pattern: str, timeout: float = 10.0, start: int = 0) -> re.Match | None:
        """Wait until ``pattern`` (regex) appears in stderr after offset ``start``."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.stderr(), start)
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    # -- lifetime

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send_signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit status (SIGKILL after ``timeout``)."""
        self.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL this server's process group (it and its workers); idempotent."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def events_dir(self) -> Path:
        return self.opfile.parent / "data" / "events" / "kind=dns"


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- dnspython clients


def query(
    name: str,
    rdtype: str | int = "A",
    *,
    edns: int | bool = 0,
    payload: int = 1232,
    do: bool = False,
    rd: bool = False,
    options=None,
) -> dns.message.Message:
    """A query without RD (``+norec``) unless ``rd``; ``edns`` False for none."""
    use_edns = False if edns is False else int(edns)
    q = dns.message.make_query(
        name, rdtype, use_edns=use_edns, payload=payload, want_dnssec=do, options=options
    )
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def udp(q: dns.message.Message, port: int, *, host: str = "127.0.0.1", timeout: float = 2.0) -> dns.message.Message:
    return dns.query.udp(q, host, port=port, timeout=timeout, ignore_unexpected=True)


def tcp(q: dns.message.Message, port: int, *, host: str = "127.0.0.1", timeout: float = 2.0) -> dns.message.Message:
    return dns.query.tcp(q, host, port=port, timeout=timeout)


def raw_udp(data: bytes, port: int, *, host: str = "127.0.0.1", timeout: float = 1.0) -> bytes | None:
    """Send one datagram, return the first reply (None on timeout)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recv(65535)
        except (socket.timeout, ConnectionRefusedError):
            return None


def raw_tcp(payload: bytes, port: int, *, host: str = "127.0.0.1", timeout: float = 2.0) -> bytes:
    """Send ``payload`` as is (framing included) and read until the server
    closes or ``timeout`` passes; return everything received."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65535)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def tcp_frames(data: bytes) -> list[bytes]:
    """Split a TCP byte stream into its length-prefixed DNS messages."""
    out = []
    i = 0
    while i + 2 <= len(data):
        n = struct.unpack_from("!H", data, i)[0]
        if i + 2 + n > len(data):
            break
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


# Types whose RDATA text is names and numbers only: lowercased for comparison,
# since a compressed name may take the letter case of the question (0x20).
_NAME_RDATA = {"NS", "CNAME", "PTR", "MX", "SRV", "SOA", "DNAME"}


def rrsets(r: dns.message.Message, section: str = "answer") -> dict[tuple[str, str], set[str]]:
    """{(owner lowercased, type): {rdata text}} of a message section (names
    in RDATA lowercased)."""
    out: dict[tuple[str, str], set[str]] = {}
    for rrset in getattr(r, section):
        t = dns.rdatatype.to_text(rrset.rdtype)
        key = (rrset.name.to_text().lower(), t)
        out.setdefault(key, set()).update(rd.to_text().lower() if t in _NAME_RDATA else rd.to_text() for rd in rrset)
    return out


def zone_truth(text: str, origin: str) -> dict[tuple[str, str], set[str]]:
    """{(owner, type): {rdata text}} of a master file, parsed by dnspython
    (an oracle independent of takedown's own zone reader)."""
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    out: dict[tuple[str, str], set[str]] = {}
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            out[(name.to_text().lower(), dns.rdatatype.to_text(rds.rdtype))] = {r.to_text() for r in rds}
    return out


# --------------------------------------------------------------------------- dig


@dataclass
class DigResult:
    returncode: int
    text: str
    status: str | None
    flags: set[str]
    sections: dict[str, list[tuple[str, int, str, str]]]  # section -> (owner, ttl, type, rdata)
    transports: list[str]  # "UDP"/"TCP" of the ;; SERVER: line(s)
    retried_tcp: bool
    edns_udp: int | None

    def records(self, section: str = "ANSWER") -> list[tuple[str, int, str, str]]:
        return self.sections.get(section, [])

    def rdata(self, rtype: str, section: str = "ANSWER", owner: str | None = None) -> set[str]:
        return {r[3] for r in self.records(section) if r[2] == rtype and (owner is None or r[0] == owner)}


_RR_LINE = re.compile(r"^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$")


def dig(port: int, *args: str, host: str = "127.0.0.1", timeout: float = 10.0) -> DigResult:
    """Run ``dig @host -p port +norec +time=1 +tries=2 ARGS`` and parse its output.

    Only the last response printed is parsed (dig prints the TCP retry after
    the truncated UDP one)."""
    if DIG is None:
        raise RuntimeError("dig is not installed")
    argv = [DIG, f"@{host}", "-p", str(port), "+norec", "+time=1", "+tries=2", *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    text = p.stdout
    # the last response block begins at its last "->>HEADER<<-" line
    blocks = text.split(";; ->>HEADER<<-")
    last = blocks[-1] if len(blocks) > 1 else ""
    m = re.search(r"status: (\w+)", last)
    status = m.group(1) if m else None
    m = re.search(r";; flags:([^;]*);", last)
    flags = set(m.group(1).split()) if m else set()
    m = re.search(r"; EDNS: version: \d+, flags:[^;]*; udp: (\d+)", last)
    edns_udp = int(m.group(1)) if m else None
    sections: dict[str, list] = {}
    current = None
    for line in last.splitlines():
        h = re.match(r"^;; (\w+) SECTION:$", line)
        if h:
            current = h.group(1)
            sections.setdefault(current, [])
            continue
        if not line.strip():
            current = None
            continue
        if current and current not in ("QUESTION",) and not line.startswith(";"):
            mm = _RR_LINE.match(line)
            if mm:
                sections[current].append((mm.group(1).lower(), int(mm.group(2)), mm.group(3), mm.group(4)))
        elif current == "QUESTION" and line.startswith(";"):
            sections.setdefault("QUESTION", []).append((line[1:].split()[0], 0, line.split()[-1], ""))
    transports = re.findall(r";; SERVER: \S+\((?:[^)]*)\) \((\w+)\)", text)
    return DigResult(
        returncode=p.returncode,
        text=text + p.stderr,
        status=status,
        flags=flags,
        sections=sections,
        transports=transports,
        retried_tcp="retrying in TCP mode" in text,
        edns_udp=edns_udp,
    )
