"""Event schema and crash-safe Parquet segment store."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takedown.errors import StoreError
from takedown.events import DNS_ROW, DNS_SCHEMA, rows_to_table
from takedown.store import SegmentWriter, connect, count_events, dataset_glob, event_files

SRC = Path(__file__).resolve().parents[1] / "src"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()  # a fixed UTC noon


def dns_row(i: int, t: float = T0, **kw) -> tuple:
    """A DNS_ROW tuple with distinct, predictable values."""
    values = {
        "time": t + i * 0.001,
        "transport": "udp" if i % 2 else "tcp",
        "src_ip": f"192.0.2.{i % 250}",
        "src_port": 1024 + i,
        "dst_ip": "203.0.113.53",
        "dst_port": 53,
        "qname": f"Host{i}.Example.COM.",
        "qtype": 1,
        "rcode": 0,
        "rule": "domain:waledac",
        "family": "waledac",
        "ecs": None,
        "response": "answer",
    }
    values.update(kw)
    return tuple(values[name] for name in DNS_ROW)


def writer(tmp_path: Path, **kw) -> SegmentWriter:
    kw.setdefault("operation", "op-test")
    kw.setdefault("sensor", "ns1")
    kw.setdefault("worker", 3)
    return SegmentWriter(tmp_path, "dns", **kw)


def test_dns_row_layout_is_the_documented_one():
    assert DNS_ROW == (
        "time", "transport", "src_ip", "src_port", "dst_ip", "dst_port",
        "qname", "qtype", "rcode", "rule", "family", "ecs", "response",
    )  # fmt: skip
    table = rows_to_table("dns", [dns_row(0)], operation="o", sensor="s", worker=1)
    assert table.schema.equals(DNS_SCHEMA)
    assert "kind" not in table.schema.names and "date" not in table.schema.names


def test_code_tables_match_dnspython():
    import dns.rcode
    import dns.rdatatype

    from takedown.events import QTYPE_TEXT, RCODE_TEXT

    assert QTYPE_TEXT.to_pylist() == [dns.rdatatype.to_text(i) for i in range(65536)]
    assert RCODE_TEXT.to_pylist() == [dns.rcode.to_text(i) for i in range(4096)]


def test_qname_normalisation():
    from takedown.events import normalise_qnames

    names = ["WWW.X.", "a", ".", "", None, "a\\.", "a\\..", "a\\\\.", "A\\065.B."]
    assert normalise_qnames(pa.array(names, pa.string())).to_pylist() == [
        "www.x", "a", ".", ".", None, "a\\.", "a\\.", "a\\\\", "a\\065.b",
    ]  # fmt: skip


def test_round_trip_values_types_and_partitions(tmp_path):
    w = writer(tmp_path)
    specials = [
        dns_row(0, qtype=1, rcode=0, qname="WWW.Waledac-Example.COM."),
        dns_row(1, qtype=28, rcode=3, qname="mail.example.com", ecs="198.51.100.0/24", family=None, rule="none"),
        dns_row(2, qtype=65280, rcode=5, qname=".", response="rrl-slip", transport="udp"),
        dns_row(3, qtype=65, rcode=16, qname="a\\..", response="truncated"),
    ]
    w.rows.extend(specials)
    w.rows.extend(dns_row(i) for i in range(4, 500))
    files = w.flush()
    assert len(files) == 1
    f = files[0]
    assert f.parent == tmp_path / "events" / "kind=dns" / "date=2024-05-01"
    assert f.name.startswith(f"ns1-w3-{os.getpid()}-00000001-") and f.suffix == ".parquet"
    # partition columns are not inside the file
    assert pq.read_schema(f).names == DNS_SCHEMA.names

    con = connect(tmp_path)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE events)").fetchall())
    assert types["time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["worker"] == "SMALLINT"
    assert types["src_port"] == types["dst_port"] == "INTEGER"
    assert types["qtype"] == types["rcode"] == "VARCHAR"
    assert types["kind"] == "VARCHAR" and types["date"] == "DATE"

    got = con.execute(
        "SELECT epoch_us(time), operation, sensor, worker, transport, src_ip, src_port, dst_ip, dst_port,"
        " qname, qtype, rcode, rule, family, ecs, response, kind, date"
        " FROM events WHERE src_port < 1028 ORDER BY src_port"
    ).fetchall()
    common = ("op-test", "ns1", 3)
    assert got == [
        (round(T0 * 1e6), *common, "tcp", "192.0.2.0", 1024, "203.0.113.53", 53,
         "www.waledac-example.com", "A", "NOERROR", "domain:waledac", "waledac", None, "answer",
         "dns", date(2024, 5, 1)),
        (round(T0 * 1e6) + 1000, *common, "udp", "192.0.2.1", 1025, "203.0.113.53", 53,
         "mail.example.com", "AAAA", "NXDOMAIN", "none", None, "198.51.100.0/24", "answer",
         "dns", date(2024, 5, 1)),
        (round(T0 * 1e6) + 2000, *common, "udp", "192.0.2.2", 1026, "203.0.113.53", 53,
         ".", "TYPE65280", "REFUSED", "domain:waledac", "waledac", None, "rrl-slip",
         "dns", date(2024, 5, 1)),
        (round(T0 * 1e6) + 3000, *common, "udp", "192.0.2.3", 1027, "203.0.113.53", 53,
         "a\\.", "HTTPS", "BADVERS", "domain:waledac", "waledac", None, "truncated",
         "dns", date(2024, 5, 1)),
    ]  # fmt: skip
    assert con.execute("SELECT count(*), count(DISTINCT src_port) FROM events").fetchone() == (500, 500)
    w.close()

    # a later kind with its own columns (bot check-ins): union by name
    http_dir = tmp_path / "events" / "kind=http" / "date=2024-05-02"
    http_dir.mkdir(parents=True)
    pq.write_table(
        pa.table({
            "time": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
            "src_ip": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            "method": ["GET", "POST", "GET"],
        }),
        http_dir / "x.parquet",
    )  # fmt: skip
    assert count_events(tmp_path, "dns") == 500
    assert count_events(tmp_path, "http") == 3
    assert count_events(tmp_path) == 503
    assert count_events(tmp_path, "tls") == 0
    con = connect(tmp_path)
    rows = con.execute(
        "SELECT kind, count(*), count(method), count(qname) FROM events GROUP BY kind ORDER BY kind"
    ).fetchall()
    assert rows == [("dns", 500, 0, 500), ("http", 3, 3, 0)]
    assert dataset_glob(tmp_path, "dns").endswith("events/kind=dns/date=*/*.parquet")


def test_unparseable_query_row(tmp_path):
    """What the DNS server logs for a query it cannot parse: no name, no type."""
    w = writer(tmp_path)
    w.rows.append(dns_row(0, qname=None, qtype=None, rcode=1, rule="none", family=None, response="formerr"))
    w.rows.append(dns_row(1, qname=None, qtype=0, rcode=1, rule="none", family=None, response="dropped"))
    w.close()
    got = connect(tmp_path).execute("SELECT qname, qtype, rcode, response FROM events ORDER BY src_port").fetchall()
    assert got == [(None, None, "FORMERR", "formerr"), (None, "TYPE0", "FORMERR", "dropped")]
    assert w.rows_rejected == 0


def test_midnight_split_writes_one_file_per_date(tmp_path):
    midnight = datetime(2024, 5, 2, tzinfo=UTC).timestamp()
    w = writer(tmp_path)
    # rows 1 ms apart from 0.5 s before midnight: 500 before, 100 after
    w.rows.extend(dns_row(i, t=midnight - 0.5) for i in range(600))
    files = w.flush()
    w.close()
    assert sorted(f.parent.name for f in files) == ["date=2024-05-01", "date=2024-05-02"]
    per_date = connect(tmp_path).execute(
        "SELECT date, count(*), min(time), max(time) FROM events GROUP BY date ORDER BY date"
    ).fetchall()
    assert [(d, n) for d, n, *_ in per_date] == [(date(2024, 5, 1), 500), (date(2024, 5, 2), 100)]
    for d, _, lo, hi in per_date:
        assert lo.date() == hi.date() == d


def test_close_flushes_everything_and_cached_append_survives_flushes(tmp_path):
    w = writer(tmp_path)
    append = w.rows.append  # what the server does once
    for i in range(1000):
        append(dns_row(i))
    w.flush()
    for i in range(1000, 2500):
        append(dns_row(i))
    w.close()
    assert count_events(tmp_path, "dns") == 2500
    assert w.rows_written == 2500
    with pytest.raises(StoreError):
        w.flush()


def test_asyncio_periodic_flush_and_aclose(tmp_path):
    async def serve() -> tuple[int, int]:
        w = writer(tmp_path, flush_interval=0.05)
        w.start()
        append = w.rows.append
        for i in range(300):
            append(dns_row(i))
        await asyncio.sleep(0.3)  # periodic flushes, no explicit call
        on_disk = count_events(tmp_path, "dns")
        for i in range(300, 450):
            append(dns_row(i))
        await w.aclose()  # SIGTERM path
        return on_disk, count_events(tmp_path, "dns")

    on_disk, after_close = asyncio.run(serve())
    assert on_disk == 300
    assert after_close == 450


def test_empty_flush_writes_nothing(tmp_path):
    w = writer(tmp_path)
    assert w.flush() == []
    w.close()
    assert event_files(tmp_path) == []
    assert count_events(tmp_path) == 0
    assert list((tmp_path / "events" / "kind=dns").rglob("*")) == []
    assert connect(tmp_path).execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_missing_storage_counts_zero(tmp_path):
    assert count_events(tmp_path / "nowhere") == 0
    assert count_events(tmp_path / "nowhere", "dns") == 0


def test_unreadable_file_is_named(tmp_path):
    w = writer(tmp_path)
    w.rows.extend(dns_row(i) for i in range(10))
    w.close()
    bad = tmp_path / "events" / "kind=dns" / "date=2024-05-01" / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(StoreError, match="broken.parquet"):
        count_events(tmp_path, "dns")
    with pytest.raises(StoreError, match="broken.parquet"):
        connect(tmp_path).execute("SELECT count(*) FROM events").fetchone()  # noqa: B018


def test_malformed_row_is_dropped_not_the_batch(tmp_path):
    w = writer(tmp_path)
    w.rows.extend(dns_row(i) for i in range(100))
    w.rows.append(dns_row(100, src_port="not a port"))
    w.rows.append(("too", "short"))
    w.rows.extend(dns_row(i) for i in range(101, 200))
    w.close()
    assert w.rows_rejected == 2
    assert count_events(tmp_path, "dns") == 199


def test_all_rows_malformed_is_bounded_and_reported(tmp_path, monkeypatch):
    import takedown.store.segments as segments

    calls = []

    def counting(*args, **kw):
        calls.append(len(args[1]))
        return rows_to_table(*args, **kw)

    monkeypatch.setattr(segments, "rows_to_table", counting)
    w = writer(tmp_path, chunk_rows=4096)
    w.rows.extend(dns_row(i, src_port=str(i)) for i in range(4096))  # a sensor bug
    assert w.flush() == []
    assert len(calls) <= 2 * 64 + 1  # not one attempt per row (8191)
    assert w.rows_rejected == 4096
    w.close()
    assert count_events(tmp_path) == 0


def test_stale_temporaries_are_removed_at_start(tmp_path):
    day = tmp_path / "events" / "kind=dns" / "date=2024-05-01"
    day.mkdir(parents=True)
    old = day / ".ns1-w0-1-00000001-1.parquet.tmp"
    fresh = day / ".ns1-w1-2-00000001-2.parquet.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    past = time.time() - 120
    os.utime(old, (past, past))
    writer(tmp_path).close()
    assert not old.exists()
    assert fresh.exists()  # may belong to a live writer
    assert count_events(tmp_path) == 0  # temporaries are never read


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from takedown.store import SegmentWriter

    run = int(sys.argv[2])

    async def main():
        w = SegmentWriter(Path(sys.argv[1]), "dns", operation="kill", sensor="ns1",
                          worker=run, flush_interval=0.2, fsync=run % 2 == 0)
        w.start()
        print("ready", flush=True)
        append = w.rows.append
        i = last = 0
        now = time.time()
        while True:
            for _ in range(500):
                append((now + i * 1e-6, "udp", "192.0.2.1", i % 65536, "203.0.113.1", 53,
                        f"r{run}-{i}.example", 1, 3, "none", None, None, "answer"))
                i += 1
            await asyncio.sleep(0.005)  # at most ~100k events/s, a busy DNS worker
            if w.rows_written != last:
                last = w.rows_written
                print(last, flush=True)

    asyncio.run(main())
    """
)


def _entries(kind_dir: Path) -> set[str]:
    return {p.name for p in kind_dir.glob("date=*/*")} | {p.name for p in kind_dir.glob("date=*/.*")}


def test_sigkill_leaves_only_complete_files_and_loses_at_most_unflushed(tmp_path):
    """Kill writers at random moments, and right as a segment file appears.

    A kill that lands while a file is being written is what would leave a
    truncated file; waiting for a new directory entry (temporary or final)
    aims the kill into that window whatever the writer's naming.
    """
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    kind_dir = tmp_path / "events" / "kind=dns"
    flushed_before_kill = 0
    for run in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(run)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.45, 1.0))  # a few flushes complete, at a random phase
        if run % 4 != 3:  # then kill as the next file shows up (some runs: just now)
            seen = _entries(kind_dir)
            deadline = time.monotonic() + 2
            while _entries(kind_dir) <= seen and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.003))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        counts = [int(line) for line in out.split()]
        assert counts, f"run {run}: no flush completed before the kill; stderr: {err}"
        flushed_before_kill += counts[-1]

    files = event_files(tmp_path, "dns")
    assert files
    total = 0
    for f in files:
        total += pq.read_table(f).num_rows  # every visible file is complete
    assert total == count_events(tmp_path, "dns")
    assert total >= flushed_before_kill
    con = connect(tmp_path)
    n, distinct = con.execute("SELECT count(*), count(DISTINCT qname) FROM events").fetchone()
    assert n == total and distinct == n  # no row written twice
