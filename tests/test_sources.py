"""``[events] sources``: several sensors' storages read as one dataset
(issue 19). Storages are written by the segment writer, as ``takedown
serve`` writes them; tests/test_sources_serve.py runs two real sensors."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from net_helpers import TAKEDOWN, operation_text
from test_report import FakeEnricher

from takedown.analytics.report import summarise
from takedown.analytics.sql import run_sql
from takedown.errors import OperationError, StoreError
from takedown.operation import load_operation
from takedown.store.checkins import template
from takedown.store.reader import Dataset, connect, count_events, dataset_state, operation_dataset, resolve_sources
from takedown.store.segments import SegmentWriter

DAY = date(2025, 1, 6)  # a Monday
T0 = datetime(2025, 1, 6, 12, tzinfo=UTC).timestamp()

def write_sensor(storage: Path, sensor: str, ips: list[str], day_offset: int = 0) -> None:
    """One HTTP check-in per address, as sensor ``sensor`` writes it."""
    w = SegmentWriter(storage, "http", operation="op", sensor=sensor, worker=0, fsync=False)
    t = w.checkins.add_template(template(method="GET", host="c2.example", path="/gate.php", rule="r",
                                         family="zeus", status=200, response="notice"))
    for i, ip in enumerate(ips):
        conn = w.checkins.add_conn(("tcp", ip, 40000 + i, "203.0.113.80", 80, None))
        w.checkins.log(T0 + day_offset * 86400 + i, conn, t)
    w.close()


def operation(tmp_path: Path, sources: list[str] | None) -> Path:
    op = tmp_path / "operation.toml"
    body = '[events]\nsensor = "collector"\n' + (f"sources = {json.dumps(sources)}\n" if sources is not None else "")
    op.write_text(operation_text(0, "op", body))
    return op


@pytest.fixture
def three(tmp_path):
    """The collector's own storage and two sensors', overlapping: 100.64.1.1 is seen by all three."""
    write_sensor(tmp_path / "data", "collector", ["100.64.1.1", "100.64.2.1"])
    write_sensor(tmp_path / "sensors" / "s1", "s1", ["100.64.1.1", "100.64.1.2", "100.64.3.1"])
    write_sensor(tmp_path / "sensors" / "s2", "s2", ["100.64.1.1", "100.64.1.2", "100.64.4.1"], day_offset=7)
    return tmp_path


def test_globs_read_every_sensor_with_the_own_storage(three):
    op = load_operation(operation(three, ["sensors/*"]))
    assert op.events.sources == (str(three / "sensors/*"),)  # relative to the file, glob kept
    ds = operation_dataset(op)
    assert isinstance(ds, Dataset) and list(ds) == [three / "data", three / "sensors/s1", three / "sensors/s2"]
    assert ds.labels == ("[operation] storage", "[events] sources[0]", "[events] sources[0]")
    assert count_events(ds) == 8
    con = connect(ds)
    rows = con.execute("SELECT sensor, count(*) FROM events GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [("collector", 2), ("s1", 3), ("s2", 3)]
    s = summarise(ds, enricher=FakeEnricher())
    # unique across sensors: 5 addresses, 100.64.1.1 once though three sensors saw it
    assert s["total_unique_ips"] == 5 and s["total_events"] == 8
    assert {w["week"]: w["unique_ips"] for w in s["weeks"]} == {"2025-W02": 4, "2025-W03": 3}
    assert {c["cc"]: c["unique_ips"] for c in s["countries"]} == {"TR": 2, "CA": 1, "IN": 1, "BR": 1}


def test_sum_per_sensor_is_not_the_answer(three):
    """The planted bug (summing each sensor's unique count) gives 2 + 3 + 3, not 5."""
    ds = operation_dataset(load_operation(operation(three, ["sensors/s1", "sensors/s2"])))
    per_sensor = sum(summarise(r, enricher=FakeEnricher())["total_unique_ips"] for r in ds)
    assert per_sensor == 8 != summarise(ds, enricher=FakeEnricher())["total_unique_ips"] == 5


def test_a_storage_named_twice_is_read_once(three):
    """Overlapping globs and the own storage among the sources: no row counts twice."""
    ds = resolve_sources(three / "data", (str(three / "*"), str(three / "sensors/*"), str(three / "sensors/s1")))
    assert sorted(map(str, ds)) == sorted(map(str, [three / "data", three / "sensors/s1", three / "sensors/s2"]))
    assert count_events(ds) == 8
    assert resolve_sources(three / "data", ()) == three / "data"  # no sources: the storage as before


def test_no_own_events_yet(three):
    """A collector that is no sensor: its own storage absent, the sources' events still read."""
    ds = resolve_sources(three / "absent", (str(three / "sensors/*"),))
    assert count_events(ds) == 6 and summarise(ds, enricher=FakeEnricher())["total_unique_ips"] == 4


def test_dataset_state_sees_a_new_file_in_any_sensor(three):
    ds = resolve_sources(three / "data", (str(three / "sensors/*"),))
    before = dataset_state(ds)
    assert len(before) == 3
    write_sensor(three / "sensors" / "s2", "s2", ["100.64.2.9"])
    assert len(dataset_state(ds)) == 4


def test_events_sql_reads_the_sources_locked(three, tmp_path_factory):
    """``events sql`` keeps its lock (reads only events/ directories) and still reads every sensor."""
    ds = resolve_sources(three / "data", (str(three / "sensors/*"),))
    out = tmp_path_factory.mktemp("out") / "rows.json"
    n = run_sql(ds, "SELECT sensor, count(DISTINCT src_ip) AS n FROM events GROUP BY ALL ORDER BY ALL",
                fmt="json", enricher=FakeEnricher, out=out)
    assert n == 3 and [r["n"] for r in json.loads(out.read_text())] == [2, 3, 3]
    from takedown.errors import QueryError

    with pytest.raises(QueryError, match="inside the operation's event store"):  # no output among a sensor's events
        run_sql(ds, "SELECT 1", fmt="csv", enricher=FakeEnricher, out=three / "sensors/s1/events/x.csv")


def test_sources_in_the_cli(three):
    op = operation(three, ["sensors/*"])
    r = subprocess.run([TAKEDOWN, "events", "count", str(op)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "8\n"
    r = subprocess.run([TAKEDOWN, "events", "sql", str(op), "SELECT count(DISTINCT src_ip) FROM events",
                        "--format", "csv"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "5", r.stderr
    r = subprocess.run([TAKEDOWN, "events", "export", str(op), "--format", "csv"], capture_output=True, text=True)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1 + 8, r.stderr


@pytest.mark.parametrize("sources, message", [
    (["sensors/s1", "nowhere"], "[events] sources[1]: {root}/nowhere: no such directory"),
    (["sensors"], "[events] sources[0]: {root}/sensors: not a storage (it has no events/ directory)"),
    (["sensors/s1", "sensors/s1", "x*"],
     "[events] sources[2]: {root}/x*: matches no storage directory with an events/ directory"),
])
def test_a_bad_source_is_one_line_naming_it(three, sources, message):
    op = operation(three, sources)
    for args in (["events", "count", str(op)], ["report", str(op), "--out", str(three / "r")],
                 ["events", "sql", str(op), "SELECT 1"]):
        r = subprocess.run([TAKEDOWN, *args], capture_output=True, text=True)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", f"Error: {message.format(root=three)}\n"), args


def test_remote_sources_the_engine_cannot_read(three):
    """s3:// and hdfs:// are accepted and handed to DuckDB; here (no httpfs, never downloaded) one clear line."""
    op = load_operation(operation(three, ["s3://bucket/sensor-3", "hdfs://namenode:8020/sensor-4"]))
    assert op.events.sources == ("s3://bucket/sensor-3", "hdfs://namenode:8020/sensor-4")
    ds = operation_dataset(op)
    assert list(ds)[1:] == ["s3://bucket/sensor-3", "hdfs://namenode:8020/sensor-4"]
    with pytest.raises(StoreError) as e:
        connect(ds)
    assert str(e.value).startswith("[events] sources[0]: s3://bucket/sensor-3: DuckDB cannot read s3:// here")
    assert "\n" not in str(e.value)
    with pytest.raises(StoreError, match=r"^\[events\] sources\[0\]: hdfs://namenode:8020/sensor-4: DuckDB has no "
                                         "HDFS file system"):
        connect(resolve_sources(three / "data", ("hdfs://namenode:8020/sensor-4",)))
    with pytest.raises(StoreError, match="DuckDB cannot read s3:// here"):
        count_events(ds)  # a remote storage is not listed here: the engine counts, or says why it cannot
    from takedown.analytics.export import export

    with pytest.raises(StoreError, match=r"^\[events\] sources\[0\]: s3://bucket/sensor-3: events export reads "
                                         "local storages only"):
        export(ds, fmt="csv", enricher=FakeEnricher, out=three / "x.csv")
    op_file = operation(three, ["s3://bucket/sensor-3"])
    for args in (["events", "count", str(op_file)], ["notify", str(op_file), "--out", str(three / "n")]):
        r = subprocess.run([TAKEDOWN, *args], capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("Error: [events] sources[0]: s3://bucket/sensor-3: DuckDB cannot read s3:// here")


def test_unknown_url_scheme_is_refused_at_load(three):
    with pytest.raises(OperationError, match=r"operation.toml:\d+: events.sources\[0\]: 'ftp://x/y': unknown URL "
                                             r"scheme 'ftp'"):
        load_operation(operation(three, ["ftp://x/y"]))
    with pytest.raises(OperationError, match=r"events.sources\[0\] must not be empty"):
        load_operation(operation(three, [""]))


def _hashed_sensor(storage: Path, sensor: str, ips: list[str], key: bytes) -> None:
    from takedown.store.privacy import Pseudonymiser

    w = SegmentWriter(storage, "http", operation="op", sensor=sensor, worker=0, fsync=False,
                      transform=Pseudonymiser("hash", key, FakeEnricher().lookup))
    t = w.checkins.add_template(template(method="GET", host="c2.example", path="/gate.php", rule="r",
                                         family="zeus", status=200, response="notice"))
    for i, ip in enumerate(ips):
        w.checkins.log(T0 + i, w.checkins.add_conn(("tcp", ip, 40000 + i, "203.0.113.80", 80, None)), t)
    w.close()


def test_pseudonymised_sensors_count_as_one_only_with_one_key(tmp_path):
    """``privacy = "hash"``: the keyed hash (``src_key``) of one address is the same
    at two sensors only when they share ``privacy_key``; with two keys a bot
    seen by both counts twice (docs/events.md says so)."""
    one, other = b"k" * 32, b"x" * 32
    _hashed_sensor(tmp_path / "a", "a", ["100.64.1.1", "100.64.1.2"], one)
    _hashed_sensor(tmp_path / "b", "b", ["100.64.1.1", "100.64.3.1"], one)
    _hashed_sensor(tmp_path / "c", "c", ["100.64.1.1", "100.64.3.1"], other)
    shared = summarise(resolve_sources(tmp_path / "a", (str(tmp_path / "b"),)), enricher=FakeEnricher())
    assert shared["total_unique_ips"] == 3 and shared["total_events"] == 4
    assert {c["cc"]: c["unique_ips"] for c in shared["countries"]} == {"TR": 2, "IN": 1}
    apart = summarise(resolve_sources(tmp_path / "a", (str(tmp_path / "c"),)), enricher=FakeEnricher())
    assert apart["total_unique_ips"] == 4  # 100.64.1.1 under two keys: two "bots"


def test_console_figures_and_host_summaries_read_the_sources(three):
    """The console's numbers: the figures (a report's summary, kept per dataset
    state) and the partner portal's per-day host summaries."""
    import time

    import pyarrow.parquet as pq

    from takedown.console import hosts
    from takedown.console.figures import Figures

    op = load_operation(operation(three, ["sensors/*"]))
    figures = Figures(lambda: operation_dataset(op), enricher=FakeEnricher, operation="op", clock=time.monotonic)
    entry, _ = figures.look(None, None)
    assert entry.running.wait(60) and entry.error == ""
    entry, current = figures.look(None, None, start=False)
    assert current and entry.summary["total_unique_ips"] == 5
    (three / "sensors" / "s3").mkdir()
    write_sensor(three / "sensors" / "s3", "s3", ["100.64.4.7"])  # a sensor synced later: the glob finds it
    assert figures.look(None, None, start=False)[1] is False

    files, live = hosts.ensure(op, weeks=False)
    assert not live and all(f.is_relative_to(three / "data") for f in files)  # the cache is the own storage's
    bots = {b for f in files for b in pq.read_table(f, columns=["bot"]).column("bot").to_pylist()}
    assert len(bots) == 6
