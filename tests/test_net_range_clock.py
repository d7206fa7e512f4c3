"""Range mode: the emulated clock travels in a PROXY v2 TLV (0xE0) and stamps the
connection's events, only on a listener with ``emulated_clock = true`` and only
from a trusted peer (issue 7: weeks pass in minutes on the range, and nobody
else can move a real operation's clock)."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timezone

import pytest

from takedown.net import proxy as proxy_mod
from harness.peers import free_port

from net_helpers import TAKEDOWN, TRUSTED_SRC, events, operation_text, raw, serving

EMULATED = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc).timestamp()
GATE = b"GET /range/gate.php HTTP/1.1\r\nHost: c2.example\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("range-clock")
    ports = {k: free_port() for k in ("dns", "range", "real")}
    (d / "range.toml").write_text(operation_text(ports["dns"], "range", f"""
[http]
listen = ["127.0.0.1:{ports['range']}"]
response = "empty"
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
[events]
flush_interval = 0.2
"""))
    dns2 = free_port()
    (d / "real.toml").write_text(operation_text(dns2, "real", f"""
[http]
listen = ["127.0.0.1:{ports['real']}"]
response = "empty"
trusted_proxies = ["{TRUSTED_SRC}/32"]
[events]
flush_interval = 0.2
""").replace('storage = "data"', 'storage = "data-real"'))
    with serving(d, [("range.toml", ports["range"]), ("real.toml", ports["real"])]):
        yield {"dir": d, "ports": ports}


def header(claimed: str) -> bytes:
    return proxy_mod.build_v2(claimed, 40000, "192.0.2.53", 80, [proxy_mod.clock_tlv(EMULATED)])


def test_trusted_range_peer_moves_the_clock(server):
    # the same request twice: the second is answered from the request cache (fast path)
    out = raw(server["ports"]["range"], header("198.51.100.20") + GATE + GATE, source=TRUSTED_SRC)
    assert out.count(b"HTTP/1.1 200") == 2
    rows = events(server, "http", "src_ip = '198.51.100.20'")
    assert len(rows) == 2
    for r in rows:
        assert abs(r["time"].timestamp() - EMULATED) < 5
        assert str(r["date"]) == "2026-03-20"  # stored in the emulated day's partition


def test_clock_ignored_outside_range_mode(server):
    before = time.time()
    raw(server["ports"]["real"], header("198.51.100.21") + GATE, source=TRUSTED_SRC)
    rows = _real_rows(server, "198.51.100.21")
    assert len(rows) == 1 and abs(rows[0]["time"].timestamp() - before) < 30


def test_untrusted_peer_cannot_move_the_clock(server):
    before = time.time()
    out = raw(server["ports"]["range"], header("198.51.100.22") + GATE, source="127.0.0.1")
    assert b"HTTP/1.1 200" not in out
    assert events(server, "http", "src_ip = '198.51.100.22'") == []
    refused = events(server, "http", "response = 'proxy-refused' and src_ip = '127.0.0.1'")
    assert refused and all(abs(r["time"].timestamp() - before) < 30 for r in refused)


def _real_rows(server, ip: str) -> list[dict]:
    import duckdb

    time.sleep(0.6)
    glob = str(server["dir"] / "data-real" / "events" / "kind=http" / "**" / "*.parquet")
    rel = duckdb.connect().execute(
        f"select * from read_parquet('{glob}', hive_partitioning=true) where src_ip = '{ip}'")
    cols = [c[0] for c in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def test_check_warns_about_range_mode(server):
    p = subprocess.run([TAKEDOWN, "check", str(server["dir"] / "range.toml")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "emulated_clock = true: range mode" in p.stdout
    p = subprocess.run([TAKEDOWN, "check", str(server["dir"] / "real.toml")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "emulated_clock" not in p.stdout
