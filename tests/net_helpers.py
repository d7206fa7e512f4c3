"""Shared by the tests of the running HTTP/TLS/TCP sinkhole: operation files,
waiting for a port, reading stored events, raw sockets."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
TAKEDOWN = str(Path(sys.executable).parent / "takedown")
TRUSTED_SRC = "127.0.0.2"  # only this loopback address may send PROXY headers


def operation_text(dns_port: int, name: str, body: str) -> str:
    """An operation file with a sinkhole and DNS on ``dns_port``, plus ``body``
    (then ``[service]``, last, so that the lines of ``body`` keep their numbers)."""
    return f"""
[operation]
name = "{name}"
storage = "data"
[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1" }}
[dns]
listen = ["127.0.0.1:{dns_port}"]
""" + body + """
[service]
allow_root = true  # the tests run as root in CI; tests/test_privileges.py drops to a user
"""


def wait_tcp(port: int, proc, timeout=20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def events(server, kind: str, where: str = "true") -> list[dict]:
    """Rows of ``kind`` stored so far (waits for the flush)."""
    time.sleep(0.6)
    glob = str(server["dir"] / "data" / "events" / f"kind={kind}" / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        rel = con.execute(f"select * from read_parquet('{glob}', hive_partitioning=true, union_by_name=true) where {where} order by time")
    except duckdb.IOException:
        return []
    cols = [c[0] for c in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def raw(port: int, payload: bytes, *, source: str = "127.0.0.1", read_until_close=True, timeout=3.0) -> bytes:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(payload)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not read_until_close:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def read_response(s: socket.socket) -> bytes:
    """One HTTP response (headers and Content-Length body) from ``s``, or b'' at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def serving(d: Path, files_ports: list[tuple[str, int]]):
    """``takedown serve`` (one worker) for each (operation file in ``d``, HTTP port to
    wait for); their output goes to ``d/<file>.log``, checked for tracebacks at the end."""
    procs, logs = [], []
    try:
        for name, port in files_ports:
            log = open(d / f"{name}.log", "w")
            logs.append(log)
            procs.append(subprocess.Popen([TAKEDOWN, "serve", str(d / name), "--workers", "1"],
                                          stdout=log, stderr=log, cwd=d))
            wait_tcp(port, procs[-1])
        yield procs
        for name, _ in files_ports:
            assert "Traceback" not in (d / f"{name}.log").read_text()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()



#: Headless Chromium as a real browser (Debian's chromium, installed by
#: ``scripts/bootstrap --test``); the flags keep it off every network but the
#: loopback pages it is pointed at.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    import shutil
    import tempfile

    exe = shutil.which("chromium")
    assert exe, "chromium is missing: run scripts/bootstrap --test (make test does)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
