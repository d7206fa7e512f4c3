"""harness.peers: the reference servers start, answer, measure, stop."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from harness import peers
from harness.peers import PeerError, available, free_port, start_bind, start_nsd, wait_ready

from . import cases as C

ZONES = {"3322.org": C.ZONE_FILE}

STARTERS = [
    pytest.param(start_nsd, "nsd", id="nsd"),
    pytest.param(start_bind, "bind", id="bind"),
]


def _soa(host: str, port: int, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query("3322.org.", dns.rdatatype.SOA)
    q.flags = 0
    return (dns.query.tcp if tcp else dns.query.udp)(q, host, port=port, timeout=3)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("start, name", STARTERS)
def test_peer_serves_the_zone_and_stops_cleanly(start, name, tmp_path: Path) -> None:
    if not available(name):
        pytest.skip(f"{name} is not installed")
    port = free_port()
    peer = start(ZONES, port=port, workdir=tmp_path, threads=2)
    try:
        assert (peer.name, peer.host, peer.port) == (name, "127.0.0.1", port)
        for tcp in (False, True):
            r = _soa("127.0.0.1", port, tcp)
            assert r.rcode() == dns.rcode.NOERROR
            assert r.flags & dns.flags.AA
            assert r.answer and r.answer[0].rdtype == dns.rdatatype.SOA
            assert r.answer[0][0].mname.to_text() == "ns1.3322.org."
        pids = peer.pids()
        assert pids and pids[0] == peer.proc.pid
        if name == "nsd":  # NSD forks its serve processes (server-count) and xfrd
            assert len(pids) >= 3, pids
        before = peer.cpu_seconds()
        assert before >= 0.0
        for _ in range(200):
            _soa("127.0.0.1", port)
        assert peer.cpu_seconds() >= before
    finally:
        peer.stop()
    assert not peer.alive()
    assert not any(_alive(p) for p in pids), [p for p in pids if _alive(p)]
    assert not peers._group_members(peer.proc.pid)
    peer.stop()  # idempotent
    # the port is free again, for both protocols
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("start, name", STARTERS)
def test_peer_rejects_a_bad_zone_clearly(start, name, tmp_path: Path) -> None:
    if not available(name):
        pytest.skip(f"{name} is not installed")
    bad = tmp_path / "bad.zone"
    bad.write_text("$TTL 3600\n@ IN SOA ns1 hostmaster ( 1 2 3 4 5 )\nwww IN A 300.1.2.3\n")
    with pytest.raises(PeerError, match="checkzone"):
        start({"3322.org": bad}, port=free_port(), workdir=tmp_path / "w")


def test_bind_query_log(tmp_path: Path) -> None:
    if not available("bind"):
        pytest.skip("bind is not installed")
    peer = start_bind(ZONES, port=free_port(), workdir=tmp_path, query_log=True)
    try:
        _soa(peer.host, peer.port)
        log = tmp_path / "queries.log"
        deadline = time.monotonic() + 5
        while "query: 3322.org IN SOA" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "no query logged"
            time.sleep(0.05)
    finally:
        peer.stop()


def test_only_loopback_and_high_ports(tmp_path: Path) -> None:
    with pytest.raises(PeerError, match="loopback"):
        start_nsd(ZONES, host="192.0.2.1", port=free_port(), workdir=tmp_path)
    with pytest.raises(PeerError, match="never 53"):
        start_nsd(ZONES, port=53, workdir=tmp_path)


def test_free_port_is_free_for_udp_and_tcp() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", port))


def test_wait_ready_times_out_on_a_silent_port() -> None:
    port = free_port()
    t = time.monotonic()
    with pytest.raises(PeerError, match="no answer"):
        wait_ready("127.0.0.1", port, "3322.org", timeout=0.5)
    assert time.monotonic() - t < 5
