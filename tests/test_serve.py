"""The composition root (takedown.serve): readiness, reload of everything,
no query or check-in dropped during reloads, restarted workers on the
current Runtime. Real `takedown serve` processes on loopback, real clients
(dnspython, http.client, curl)."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.message
import dns.query
import psutil
import pytest

from net_helpers import TAKEDOWN, events, operation_text

ZONE = """$ORIGIN 3322.org.
$TTL 300
@ IN SOA ns1.3322.org. hostmaster.3322.org. 1 3600 600 86400 300
@ IN NS ns1.3322.org.
ns1 IN A 198.51.100.1
www IN A 198.51.100.80
shop IN A 198.51.100.81
"""

RULES = """
[[rule]]
name = "{name}"
family = "{family}"
protocol = "http"
confidence = "high"
source = "tests/test_serve.py"
path = ["/gate.php"]
"""


def write_op(d: Path, *, workers: int = 2, rrl: bool = False) -> Path:
    (d / "3322.org.zone").write_text(ZONE)
    (d / "block.txt").write_text("bad.3322.org\n")
    (d / "rules.toml").write_text(RULES.format(name="gate-v1", family="famone"))
    op = d / "operation.toml"
    op.write_text(operation_text(0, "servetest", f"""workers = {workers}
[dns.rrl]
enabled = {str(rrl).lower()}
[[zones]]
origin = "3322.org"
file = "3322.org.zone"
blocklist = "block.txt"
family = "nitol"
[http]
listen = ["127.0.0.1:0"]
response = "notice"
[fingerprints]
rules = "rules.toml"
"""))
    return op


class Serve:
    def __init__(self, d: Path, *args: str):
        self.dir = d
        self.ready = d / "ready.json"
        self.err = d / "serve.stderr"
        with open(self.err, "wb") as fe:
            self.proc = subprocess.Popen([TAKEDOWN, "serve", str(d / "operation.toml"), "--ready-file",
                                          str(self.ready), *args], cwd=d, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=fe, start_new_session=True)
        end = time.monotonic() + 30
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"takedown serve did not start:\n{self.stderr()}")
            time.sleep(0.05)
        self.info = json.loads(self.ready.read_text())
        host, _, port = self.info["dns"][0].rpartition(":")
        self.dns_port = int(port)
        self.http_port = int(self.info["http"][0].rpartition(":")[2]) if self.info["http"] else None

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_said(self, text: str, timeout: float = 10) -> None:
        """Until the server's log says ``text``."""
        end = time.monotonic() + timeout
        while text not in self.stderr():
            assert time.monotonic() < end, self.stderr()
            time.sleep(0.05)

    def generation(self) -> int:
        return json.loads(self.ready.read_text())["generation"]

    def wait_generation(self, n: int, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while self.generation() < n:
            assert time.monotonic() < end, self.stderr()
            time.sleep(0.05)

    def workers(self) -> set[int]:
        return {c.pid for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path):
    made = []

    def start(*args, **kw):
        write_op(tmp_path, **kw)
        s = Serve(tmp_path, *args)
        made.append(s)
        return s

    yield start
    for s in made:
        s.kill()


def ask(port: int, name: str, qtype: str = "A") -> dns.message.Message:
    q = dns.message.make_query(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)  # generous: a restarted worker may still be starting on a loaded machine
        s.sendto(q.to_wire(), ("127.0.0.1", port))
        return dns.message.from_wire(s.recv(4096))


def addresses(m: dns.message.Message) -> set[str]:
    return {r.address for rr in m.answer for r in rr if hasattr(r, "address")}


def get(port: int, path: str = "/gate.php") -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        c.request("GET", path, headers={"Host": "bot.example"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# --------------------------------------------------------------------- readiness


def test_port_zero_and_the_ready_file(server):
    s = server()
    info = s.info
    assert info["pid"] == s.proc.pid and info["workers"] == 2 and info["generation"] == 1
    assert s.dns_port > 0 and s.http_port > 0 and info["tls"] == [] and info["tcp"] == []
    line = [ln for ln in s.stderr().splitlines() if ln.startswith("takedown: ready ")]
    assert line == [f"takedown: ready dns=127.0.0.1:{s.dns_port} http=127.0.0.1:{s.http_port} "
                    f"workers=2 pid={s.proc.pid}"]
    # both UDP and TCP answer on the reported DNS port, HTTP on its own
    assert addresses(ask(s.dns_port, "www.3322.org")) == {"198.51.100.80"}
    q = dns.message.make_query("bad.3322.org", "A")
    r = dns.query.tcp(q, "127.0.0.1", port=s.dns_port, timeout=3)
    assert addresses(r) == {"192.0.2.53"}
    assert get(s.http_port)[0] == 200
    assert s.stop() == 0


def test_a_bad_ready_file_directory_is_one_line(tmp_path):
    write_op(tmp_path)
    p = subprocess.run([TAKEDOWN, "serve", str(tmp_path / "operation.toml"), "--ready-file",
                        str(tmp_path / "no" / "such" / "ready.json")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.startswith("Error: --ready-file ") and p.stderr.count("\n") == 1
    (tmp_path / "a-directory").mkdir()  # the directory exists, the file cannot be written
    p = subprocess.run([TAKEDOWN, "serve", str(tmp_path / "operation.toml"), "--ready-file",
                        str(tmp_path / "a-directory")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith("Error: --ready-file ") and "cannot write it" in p.stderr
    assert p.stderr.count("\n") == 1


# ---------------------------------------------------------------------- reloads


def test_an_edited_rules_file_reloads(server):
    s = server(workers=2)
    assert get(s.http_port)[0] == 200
    (s.dir / "rules.toml").write_text(RULES.format(name="gate-v2", family="famtwo"))
    s.wait_generation(2)
    for _ in range(20):  # new connections, spread over both (new) workers
        assert get(s.http_port)[0] == 200
    assert s.stop() == 0
    rows = events({"dir": s.dir}, "http")
    assert rows[0]["rule"] == "gate-v1" and rows[0]["family"] == "famone"
    assert [r["rule"] for r in rows[1:]] == ["gate-v2"] * 20
    assert {r["family"] for r in rows[1:]} == {"famtwo"}


def test_a_bad_edit_keeps_the_running_runtime(server):
    s = server(workers=1)
    (s.dir / "rules.toml").write_text('[[rule]]\nname = "x"\nprotocol = "gopher"\n')
    end = time.monotonic() + 10
    while "reload (a file changed) failed" not in s.stderr():
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.05)
    line = [ln for ln in s.stderr().splitlines() if "reload (a file changed) failed" in ln][0]
    assert "rules.toml:3:" in line  # FILE:LINE of the bad value
    assert s.generation() == 1
    assert get(s.http_port)[0] == 200  # still serving the old rules
    (s.dir / "rules.toml").write_text(RULES.format(name="gate-v3", family="famthree"))
    s.wait_generation(2)
    assert get(s.http_port)[0] == 200
    assert s.stop() == 0
    rows = events({"dir": s.dir}, "http")
    assert [r["rule"] for r in rows] == ["gate-v1", "gate-v3"]


def test_a_restarted_worker_serves_the_current_runtime(server):
    s = server(workers=2)
    (s.dir / "block.txt").write_text("bad.3322.org\nshop.3322.org\n")
    s.wait_generation(2)
    end = time.monotonic() + 10
    while len(s.workers()) != 2:  # the retired workers have left
        assert time.monotonic() < end
        time.sleep(0.05)
    victim = sorted(s.workers())[0]
    os.kill(victim, signal.SIGKILL)
    end = time.monotonic() + 10
    while victim in s.workers() or len(s.workers()) != 2:
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.05)
    time.sleep(0.5)
    # new sockets, so the kernel spreads them over both slots: every answer is the new data
    for _ in range(60):
        assert addresses(ask(s.dns_port, "shop.3322.org")) == {"192.0.2.53"}
    assert "worker" in s.stderr() and "starting it again" in s.stderr()
    assert s.stop() == 0


def test_a_reload_that_moves_a_listener_is_refused(server):
    s = server(workers=1)
    op = s.dir / "operation.toml"
    op.write_text(op.read_text().replace('[http]\nlisten = ["127.0.0.1:0"]', '[http]\nlisten = ["127.0.0.1:1"]'))
    s.wait_said("reload (a file changed) failed")
    assert "[http] listen changed: restart takedown serve" in s.stderr()
    assert get(s.http_port)[0] == 200
    assert s.stop() == 0


# ------------------------------------------------------------- nothing dropped


class DnsLoad(threading.Thread):
    """Queries at a steady rate from 32 sockets; every answer matched by ID."""

    def __init__(self, port: int, rate: int, seconds: float):
        super().__init__(daemon=True)
        self.port, self.rate, self.seconds = port, rate, seconds
        self.sent = 0
        self.answered = 0
        self.wrong = 0
        self.stop_at = None

    def run(self) -> None:
        socks = []
        for _ in range(32):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.setblocking(False)
            socks.append(s)
        pending: dict[tuple[int, int], float] = {}
        wire = {name: dns.message.make_query(name, "A").to_wire() for name in ("www.3322.org", "bad.3322.org")}
        t0 = time.monotonic()
        end = t0 + self.seconds
        qid = 0
        while True:
            now = time.monotonic()
            if now < end:
                due = int((now - t0) * self.rate)
                while self.sent < due:
                    qid = (qid + 1) & 0xFFFF
                    i = self.sent % len(socks)
                    name = "www.3322.org" if self.sent % 2 else "bad.3322.org"
                    socks[i].sendto(struct.pack("!H", qid) + wire[name][2:], ("127.0.0.1", self.port))
                    pending[(i, qid)] = now
                    self.sent += 1
            elif not pending or now > end + 15:  # generous on a loaded machine; a lost query never comes
                break
            ready, _, _ = select.select(socks, [], [], 0.002)
            for s in ready:
                i = socks.index(s)
                while True:
                    try:
                        data = s.recv(4096)
                    except BlockingIOError:
                        break
                    k = (i, struct.unpack("!H", data[:2])[0])
                    if pending.pop(k, None) is not None:
                        self.answered += 1
                        if data[3] & 0x0F != 0 or data[2] & 0x02:  # rcode, TC
                            self.wrong += 1
        for s in socks:
            s.close()


class HttpLoad(threading.Thread):
    """Check-ins one after the other, a connection each (as most bots do)."""

    def __init__(self, port: int, seconds: float):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.sent = 0
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            self.sent += 1
            try:
                status, _ = get(self.port)
                if status == 200:
                    self.ok += 1
                else:
                    self.failures.append(str(status))
            except OSError as e:
                self.failures.append(repr(e))
            time.sleep(0.002)


def test_no_query_or_checkin_is_dropped_during_reloads(server):
    s = server(workers=2)
    dl = DnsLoad(s.dns_port, rate=1500, seconds=8)
    hl = HttpLoad(s.http_port, seconds=8)
    dl.start()
    hl.start()
    time.sleep(1)
    gen = 1
    for step in range(4):  # SIGHUP, a list, the rules, SIGHUP: each replaces both workers
        if step in (0, 3):
            s.proc.send_signal(signal.SIGHUP)
        elif step == 1:
            (s.dir / "block.txt").write_text(f"bad.3322.org\nnew{step}.3322.org\n")
        else:
            (s.dir / "rules.toml").write_text(RULES.format(name="gate-v2", family="famtwo"))
        gen += 1
        s.wait_generation(gen)
        time.sleep(0.8)
    dl.join(20)
    hl.join(20)
    assert dl.sent > 8000 and hl.sent > 100
    assert dl.answered == dl.sent, f"{dl.sent - dl.answered} of {dl.sent} queries unanswered"
    assert dl.wrong == 0
    assert hl.ok == hl.sent, hl.failures[:5]
    assert s.stop() == 0
    assert len(events({"dir": s.dir}, "http")) == hl.sent
    dns_rows = events({"dir": s.dir}, "dns")
    assert len(dns_rows) == dl.sent


def test_connections_open_across_a_reload_are_served(server):
    """A connection accepted by a worker just before it retires, whose first
    request comes after the reload, is answered (HTTP and DNS over TCP),
    and a keep-alive connection that was served is closed between requests."""
    s = server(workers=2)
    pending = []
    for _ in range(8):  # accepted now (by either worker), nothing sent yet
        h = socket.create_connection(("127.0.0.1", s.http_port), timeout=5)
        d = socket.create_connection(("127.0.0.1", s.dns_port), timeout=5)
        pending.append((h, d))
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGHUP)
    s.wait_generation(2)
    time.sleep(0.5)  # the old workers are retiring now
    wire = dns.message.make_query("www.3322.org", "A").to_wire()
    for h, d in pending:
        h.sendall(b"GET /gate.php HTTP/1.1\r\nHost: bot.example\r\n\r\n")
        assert h.recv(65536).startswith(b"HTTP/1.1 200")
        d.sendall(len(wire).to_bytes(2, "big") + wire)
        n = int.from_bytes(d.recv(2), "big")
        r = dns.message.from_wire(d.recv(n))
        assert addresses(r) == {"198.51.100.80"}
        h.close()
        d.close()
    assert s.stop() == 0


def test_a_file_written_during_the_build_calls_for_another(tmp_path):
    """The watcher compares file times with the build's start: a list edited
    while the build ran (after it was read, before the snapshot) is not lost."""
    from takedown import runtime

    op = write_op(tmp_path, workers=1)
    old = time.time() - 60
    for p in tmp_path.iterdir():
        os.utime(p, (old, old))
    rt = runtime.build(op)
    assert not runtime.changed_during_build(rt, runtime.snapshot(rt.files))
    written = rt.built - rt.seconds / 2  # inside the build's window
    os.utime(rt.files[-1], (written, written))
    assert runtime.changed_during_build(rt, runtime.snapshot(rt.files))


def test_the_certificate_a_build_generates_is_not_an_edit(tmp_path):
    """The first build of an operation whose [tls] finishes handshakes writes
    the sinkhole's certificate and key, both watched files: that write is the
    build's own, not a reason to build again (a reload at start would close
    the keep-alive connections opened right after it)."""
    from takedown import runtime

    op = write_op(tmp_path, workers=1)
    op.write_text(op.read_text() + '[tls]\nlisten = ["127.0.0.1:0"]\nhandshake = true\n')
    old = time.time() - 60
    for p in tmp_path.iterdir():
        os.utime(p, (old, old))
    rt = runtime.build(op)
    certs = [p for p in rt.files if p.name.startswith("sinkhole-")]
    assert len(certs) == 2 and all(p.exists() for p in certs) and set(rt.made) == set(certs)
    assert not runtime.changed_during_build(rt, runtime.snapshot(rt.files))
    again = runtime.build(op)  # the certificate exists now: nothing is made
    assert again.made == ()
    written = again.built - again.seconds / 2
    os.utime(certs[0], (written, written))  # replaced by the operator during the build: that counts
    assert runtime.changed_during_build(again, runtime.snapshot(again.files))
