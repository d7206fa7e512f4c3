"""Retention (`takedown events prune`) and privacy modes (addresses stored
truncated or keyed-hashed, unique counts still exact)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takedown.errors import StoreError
from takedown.store.checkins import template
from takedown.store.privacy import Pseudonymiser, load_key, truncate
from takedown.store.reader import count_events
from takedown.store.retention import partitions, prune
from takedown.store.segments import SegmentWriter

TAKEDOWN = str(Path(sys.executable).parent / "takedown")


def _epoch(day: date, hour: int = 12) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc).timestamp()


def write_checkins(storage: Path, events: list[tuple[float, str]], transform=None) -> list[Path]:
    w = SegmentWriter(storage, "http", operation="op", sensor="s", worker=0, fsync=False, transform=transform)
    buf = w.checkins
    tix = buf.add_template(template(method="GET", path="/gate.php", status=200, response="empty"))
    for i, (t, ip) in enumerate(events):
        buf.log(t, buf.add_conn(("tcp", ip, 40000 + i, "127.0.0.1", 80, None)), tix)
    files = w.flush()
    w.close()
    return files


# -- retention -------------------------------------------------------------------


def test_prune_removes_whole_days_older_than_the_limit(tmp_path):
    days = [date(2026, 10, d) for d in (20, 24, 25, 26)] + [date(2026, 11, 24)]
    write_checkins(tmp_path, [(_epoch(d), "192.0.2.1") for d in days for _ in range(3)])
    assert count_events(tmp_path) == 15
    gone = prune(tmp_path, 30, today=date(2026, 11, 25), dry_run=True)
    # 2026-10-25 ended at 10-26 00:00 UTC, 30 days before 11-25 00:00: removed
    assert [p.day for p in gone] == [date(2026, 10, 20), date(2026, 10, 24), date(2026, 10, 25)]
    assert count_events(tmp_path) == 15  # a dry run removes nothing
    prune(tmp_path, 30, today=date(2026, 11, 25))
    assert [p.day for p in partitions(tmp_path)] == [date(2026, 10, 26), date(2026, 11, 24)]
    assert count_events(tmp_path) == 6


def test_prune_never_touches_directories_it_cannot_date(tmp_path):
    write_checkins(tmp_path, [(_epoch(date(2020, 1, 1)), "192.0.2.1")])
    odd = tmp_path / "events" / "kind=http" / "date=notadate"
    odd.mkdir()
    prune(tmp_path, 1, today=date(2026, 11, 25))
    assert odd.is_dir() and count_events(tmp_path) == 0


def test_prune_cli(tmp_path):
    (tmp_path / "op.toml").write_text(
        '[operation]\nname = "p"\nstorage = "data"\n'
        '[sinkhole]\nipv4 = ["192.0.2.53"]\nttl = 300\nsoa_email = "h.example"\n'
        'nameservers = { "ns1.sinkhole.example" = "192.0.2.1" }\n'
    )
    write_checkins(tmp_path / "data", [(_epoch(date(2020, 1, 1)), "192.0.2.1"), (_epoch(date.today()), "192.0.2.2")])
    out = subprocess.run([TAKEDOWN, "events", "prune", str(tmp_path / "op.toml"), "--older-than", "30"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "removed kind=http date=2020-01-01" in out.stdout
    assert count_events(tmp_path / "data") == 1
    bad = subprocess.run([TAKEDOWN, "events", "prune", str(tmp_path / "op.toml"), "--older-than", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr


# -- privacy ---------------------------------------------------------------------


class FakeLookup:
    """cc from the first octet; asn from the second (for checking what is stored)."""

    def __call__(self, ips: pa.Array) -> pa.Table:
        cc, asn = [], []
        for ip in ips.to_pylist():
            if ip and "." in ip:
                a, b = ip.split(".")[:2]
                cc.append({"192": "JP", "198": "FR"}.get(a))
                asn.append(64500 + int(b))
            else:
                cc.append(None)
                asn.append(None)
        return pa.table({"cc": pa.array(cc, pa.string()), "asn": pa.array(asn, pa.int64()),
                         "as_name": pa.nulls(len(cc), pa.string())})


def test_truncate():
    assert truncate("192.0.2.77") == "192.0.2.0"
    assert truncate("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert truncate("::ffff:198.51.100.9") == "198.51.100.0"
    assert truncate("not an address") is None


def test_key_is_created_once_and_checked(tmp_path):
    k = tmp_path / "privacy.key"
    key = load_key(k)
    assert len(key) == 32 and load_key(k) == key
    assert (os.stat(k).st_mode & 0o777) == 0o600
    (tmp_path / "short.key").write_bytes(b"x" * 5)
    with pytest.raises(StoreError, match="short.key"):
        load_key(tmp_path / "short.key")
    # a key that cannot be made (here: its directory is a file; for the
    # service user, a directory it may not write) is an error naming it
    (tmp_path / "plain").write_text("")
    with pytest.raises(StoreError, match=r"plain/privacy.key: cannot create the privacy key"):
        load_key(tmp_path / "plain" / "privacy.key")


@pytest.mark.parametrize("mode", ["truncate", "hash"])
def test_stored_addresses_and_exact_unique_counts(tmp_path, mode):
    ips = ["192.0.2.1", "192.0.2.2", "192.0.2.1", "198.51.100.7", "192.0.2.3", "198.51.100.7", "2001:db8::5"]
    p = Pseudonymiser(mode, b"k" * 32, FakeLookup())
    files = write_checkins(tmp_path, [(1_764_000_000.0 + i, ip) for i, ip in enumerate(ips)], transform=p)
    t = pq.read_table(files[0]).sort_by("time")
    stored = t.column("src_ip").to_pylist()
    if mode == "truncate":
        assert stored == ["192.0.2.0", "192.0.2.0", "192.0.2.0", "198.51.100.0", "192.0.2.0", "198.51.100.0",
                          "2001:db8::"]
    else:
        assert stored == [None] * len(ips)
    keys = t.column("src_key").to_pylist()
    assert all(k and len(k) == 32 for k in keys)
    # the same address gives the same key, different ones different keys: unique counts exact
    assert len(set(keys)) == len(set(ips)) == 5
    assert [keys[i] == keys[j] for i, j in ((0, 2), (3, 5), (0, 1))] == [True, True, False]
    assert t.column("src_cc").to_pylist() == ["JP", "JP", "JP", "FR", "JP", "FR", None]
    assert t.column("src_asn").to_pylist() == [64500, 64500, 64500, 64551, 64500, 64551, None]
    # no full address anywhere in the file
    raw = files[0].read_bytes()
    assert b"192.0.2.1" not in raw and b"198.51.100.7" not in raw


def test_a_failing_transform_keeps_events_back_instead_of_storing_them_in_clear(tmp_path):
    calls = {"n": 0}

    def flaky(table):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("enrichment unavailable")
        return Pseudonymiser("hash", b"k" * 32)(table)

    w = SegmentWriter(tmp_path, "http", operation="op", sensor="s", worker=0, fsync=False, transform=flaky)
    buf = w.checkins
    tix = buf.add_template(template(path="/g", response="empty"))
    buf.log(1_764_000_000.0, buf.add_conn(("tcp", "192.0.2.1", 1, "127.0.0.1", 80, None)), tix)
    with pytest.raises(StoreError, match="enrichment unavailable"):
        w.flush()
    assert count_events(tmp_path) == 0
    files = w.flush()  # retried: now transformed and written
    w.close()
    t = pq.read_table(files[0])
    assert t.num_rows == 1 and t.column("src_ip").to_pylist() == [None]


def test_serve_in_hash_mode_stores_no_address(tmp_path):
    """The running sinkhole, privacy = "hash": a check-in is stored with its
    keyed hash, country and AS, and without its address."""
    import signal
    import time

    import httpx

    from net_helpers import events, operation_text, wait_tcp
    from harness.peers import free_port

    ports = {k: free_port() for k in ("dns", "http")}
    (tmp_path / "op.toml").write_text(operation_text(ports["dns"], "privacy", f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
response = "empty"
[events]
flush_interval = 0.2
privacy = "hash"
"""))
    proc = subprocess.Popen([TAKEDOWN, "serve", str(tmp_path / "op.toml")], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_tcp(ports["http"], proc, timeout=60)
        for _ in range(3):
            assert httpx.get(f"http://127.0.0.1:{ports['http']}/gate.php").status_code == 200
        time.sleep(0.5)
        rows = events({"dir": tmp_path}, "http")
        assert len(rows) == 3
        assert {r["src_ip"] for r in rows} == {None}
        keys = {r["src_key"] for r in rows}
        assert len(keys) == 1 and len(next(iter(keys))) == 32  # one address, one key
        assert (tmp_path / "data" / "privacy.key").stat().st_size >= 32
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
