"""Command responses under a court's authority, end to end: real clients
(raw sockets, curl) against a real ``takedown serve`` on loopback. The
command goes out only while its authority is valid, on the range's emulated
clock (a trusted PROXY header's TLV) and on the real clock (an authority
that ends a few seconds after start stops without a reload); every command
sent is a ``kind=command`` event whose SHA-256 is that of the bytes the
client received; addresses are stored as the privacy mode says."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from takedown.net import proxy as proxy_mod
from takedown.range.families.base import command_body
from harness.peers import free_port

from net_helpers import TRUSTED_SRC, events, operation_text, read_response, serving

STOP = command_body("zeus", "stop")
RULES = f"""\
[[rule]]
name = "zeus-gate"
family = "zeus"
source = "tests/test_net_commands_serve.py"
path = "/gate.php"

[[rule]]
name = "other-gate"
family = "other"
source = "tests/test_net_commands_serve.py"
path = "/other.php"

[[command]]
family = "zeus"
name = "stop"
source = "the range's emulated protocol (takedown.range.families.base.command_body)"
body_hex = "{STOP.hex(" ")}"

[[command]]
family = "other"
name = "stop"
source = "tests/test_net_commands_serve.py: no authority ever covers it"
body = "never sent"
"""
CASE = """
[case]
court = "U.S. District Court, District of Connecticut"
case_number = "3:26-cv-00017"
order_type = "temporary restraining order"
order_date = 2026-02-27

[[case.authorities]]
id = "stop-zeus"
kind = "command"
family = "zeus"
command = "stop"
valid_from = {start}
valid_until = {end}
"""
FROM = datetime(2026, 3, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 3, 8, tzinfo=timezone.utc)
GATE = b"GET /gate.php HTTP/1.1\r\nHost: c2.example\r\n\r\n"
OTHER = b"GET /other.php HTTP/1.1\r\nHost: c2.example\r\n\r\n"


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def ask(port: int, data: bytes, source: str = "127.0.0.1") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0)) as s:  # generous: a loaded CI machine
        s.sendall(data)
        return read_response(s)


# -- range mode: the emulated clock ---------------------------------------------------


@pytest.fixture(scope="module")
def ranged(tmp_path_factory):
    d = tmp_path_factory.mktemp("commands-range")
    ports = {k: free_port() for k in ("dns", "http", "tls", "control")}
    (d / "rules.toml").write_text(RULES)
    (d / "range.toml").write_text(operation_text(ports["dns"], "range", f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
response = "empty"
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
[tls]
listen = ["127.0.0.1:{ports['tls']}"]
response = "empty"
handshake = true
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
[fingerprints]
rules = "rules.toml"
[events]
flush_interval = 0.2
privacy = "hash"
[control]
listen = "127.0.0.1:{ports['control']}"
""" + CASE.format(start=_z(FROM), end=_z(UNTIL))))
    with serving(d, [("range.toml", ports["http"])]):
        yield {"dir": d, "ports": ports}


def at(clock: datetime, claimed: str) -> bytes:
    return proxy_mod.build_v2(claimed, 40000, "192.0.2.53", 80, [proxy_mod.clock_tlv(clock.timestamp())])


def test_emulated_clock_before_inside_and_after_the_window(ranged):
    port = ranged["ports"]["http"]
    before = ask(port, at(FROM - timedelta(seconds=1), "198.51.100.1") + GATE, TRUSTED_SRC)
    inside = ask(port, at(FROM + timedelta(days=3), "198.51.100.2") + GATE, TRUSTED_SRC)
    after = ask(port, at(UNTIL, "198.51.100.3") + GATE, TRUSTED_SRC)
    assert before.startswith(b"HTTP/1.1 200 OK") and body_of(before) == b""
    assert after.startswith(b"HTTP/1.1 200 OK") and body_of(after) == b""
    assert inside.startswith(b"HTTP/1.1 200 OK") and body_of(inside) == STOP
    assert b"Content-Type: application/octet-stream\r\n" in inside and b"Cache-Control: no-store\r\n" in inside

    checkins = events(ranged, "http", "family = 'zeus'")
    assert [r["response"] for r in checkins] == ["empty", "command", "empty"]
    assert checkins[1]["status"] == 200
    (cmd,) = events(ranged, "command")
    assert (cmd["authority"], cmd["command"], cmd["family"], cmd["rule"]) == ("stop-zeus", "stop", "zeus",
                                                                               "zeus-gate")
    assert cmd["command_sha256"] == hashlib.sha256(inside).hexdigest()
    assert str(cmd["date"]) == "2026-03-04"  # the emulated day's partition
    assert abs(cmd["time"].timestamp() - (FROM + timedelta(days=3)).timestamp()) < 5
    # privacy = "hash": the command event keeps no address, only its keyed hash
    assert cmd["src_ip"] is None and len(cmd["src_key"]) == 32
    assert cmd["src_key"] == checkins[1]["src_key"]


def test_https_check_ins_get_the_command_inside_the_window(ranged):
    """The HTTP inside a finished TLS handshake (Python's ssl as the bot,
    after a PROXY header carrying the emulated clock)."""
    def over_tls(clock: datetime, claimed: str) -> bytes:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", ranged["ports"]["tls"]), timeout=20,
                                       source_address=(TRUSTED_SRC, 0))
        raw.sendall(at(clock, claimed))
        with ctx.wrap_socket(raw, server_hostname="c2.example") as s:
            s.sendall(GATE)
            return read_response(s)

    inside = over_tls(FROM + timedelta(days=2), "198.51.100.30")
    after = over_tls(UNTIL + timedelta(seconds=1), "198.51.100.31")
    assert body_of(inside) == STOP and body_of(after) == b""
    rows = events(ranged, "command", "ja3 is not null")
    assert [(r["authority"], r["command_sha256"]) for r in rows] == [("stop-zeus", hashlib.sha256(inside).hexdigest())]


def test_a_command_without_authority_is_never_sent(ranged):
    port = ranged["ports"]["http"]
    for when in (FROM - timedelta(days=30), FROM + timedelta(days=3), UNTIL + timedelta(days=30)):
        out = ask(port, at(when, "198.51.100.9") + OTHER, TRUSTED_SRC)
        assert out.startswith(b"HTTP/1.1 200 OK") and b"never sent" not in out
    assert events(ranged, "command", "family = 'other'") == []
    log = (ranged["dir"] / "range.toml.log").read_text()
    assert re.search(r"takedown: warning: \S*rules\.toml:19: command stop for other is never sent: no "
                     r"\[\[case\.authorities\]\] entry of kind command covers it\n", log), log


def test_commands_sent_are_counted_in_metrics(ranged):
    port = ranged["ports"]["http"]
    for _ in range(2):
        assert body_of(ask(port, at(FROM + timedelta(days=1), "198.51.100.4") + GATE, TRUSTED_SRC)) == STOP
    end = time.monotonic() + 10
    while True:
        text = urllib.request.urlopen(f"http://127.0.0.1:{ranged['ports']['control']}/metrics", timeout=5).read()
        m = re.search(rb'takedown_commands_sent_total\{command="stop",family="zeus"\} (\d+)', text)
        if m and int(float(m.group(1))) >= 2 or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert m is not None and int(float(m.group(1))) >= 2, text.decode()[-2000:]


# -- the real clock: an authority that ends while serving ---------------------------------


def test_authority_ending_while_serving_stops_the_command_without_reload(tmp_path):
    """The authority ends a few seconds after start: a keep-alive connection
    gets the command before and the notice after, on the same socket, and a
    new connection the notice too; nothing is reloaded; addresses are
    truncated (privacy = "truncate")."""
    ports = {k: free_port() for k in ("dns", "http")}
    (tmp_path / "rules.toml").write_text(RULES)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    end = now + timedelta(seconds=20)  # serve's start on a loaded machine stays well inside it
    (tmp_path / "real.toml").write_text(operation_text(ports["dns"], "real", f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
response = "notice"
[fingerprints]
rules = "rules.toml"
[events]
flush_interval = 0.2
privacy = "truncate"
""" + CASE.format(start=_z(now - timedelta(hours=1)), end=_z(end))))
    with serving(tmp_path, [("real.toml", ports["http"])]):
        with socket.create_connection(("127.0.0.1", ports["http"]), timeout=15) as s:
            s.sendall(GATE)
            first = read_response(s)
            if time.time() >= end.timestamp():
                pytest.fail("takedown serve took longer to start than the authority's window")
            assert body_of(first) == STOP and b"Connection: keep-alive" in first
            time.sleep(max(0.0, end.timestamp() - time.time()) + 0.3)
            s.sendall(GATE)  # the same keep-alive connection, after the authority's end
            second = read_response(s)
        assert second.startswith(b"HTTP/1.1 200 OK") and b"Content-Type: text/html" in second  # the notice
        curl = subprocess.run(["curl", "-s", f"http://127.0.0.1:{ports['http']}/gate.php"], capture_output=True,
                              timeout=10)
        assert curl.returncode == 0 and b"<html" in curl.stdout.lower() and STOP not in curl.stdout
        server = {"dir": tmp_path}
        checkins = events(server, "http", "family = 'zeus'", at_least=3)
        (row,) = events(server, "command")
        assert (row["authority"], row["command"]) == ("stop-zeus", "stop")
        assert row["command_sha256"] == hashlib.sha256(first).hexdigest()
        assert row["time"].timestamp() < end.timestamp()
        assert row["src_ip"] == "127.0.0.0"  # truncated to its /24
        assert [r["response"] for r in checkins] == ["command", "notice", "notice"]
    assert "reload" not in (tmp_path / "real.toml.log").read_text()
