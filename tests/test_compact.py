"""Compaction of a day's segments (takedown.store.compact): every row kept,
sorted, in a few files of the segments' schema; atomic swap; kill -9 at any
step leaves a complete day; late segments kept; `takedown events compact`
and the automatic compaction of a running `takedown serve`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from net_helpers import TAKEDOWN, operation_text
from takedown.cli import app
from takedown.events import DNS_ROW, schema
from takedown.store import compact as compact_mod
from takedown.store import segments as segments_mod
from takedown.store.compact import KILL_AT_ENV, MANIFEST, compact, compact_day
from takedown.store.reader import count_events, event_files, retry_vanished
from takedown.store.segments import SegmentWriter

DAY = date(2026, 11, 30)
STEPS = ("recovered", "file-written", "staged", "swapped", "moved")


def dns_row(t: float, i: int) -> tuple:
    values = {"time": t, "transport": "udp", "src_ip": f"198.51.100.{i % 250}", "src_port": 1024 + i,
              "dst_ip": "203.0.113.53", "dst_port": 53, "qname": f"n{i}.c2.example.", "qtype": 1, "rcode": 0,
              "rule": "domain:rustock", "family": "rustock", "ecs": None, "response": "answer"}
    return tuple(values[c] for c in DNS_ROW)


def write_segments(storage: Path, day: date = DAY, *, sensors=("s1",), workers: int = 2, files: int = 20,
                   rows: int = 25, start: int = 0) -> int:
    """``files`` one-second segments per worker and sensor, as the real writer makes them."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    n = 0
    for sensor in sensors:
        for w in range(workers):
            with SegmentWriter(storage, "dns", operation="op", sensor=sensor, worker=w, fsync=False) as wr:
                for f in range(start, start + files):
                    for i in range(rows):
                        wr.rows.append(dns_row(t0 + f * 60 + i + w * 0.25, n))
                        n += 1
                    wr.flush()
    return n


def backdate(storage: Path, when: float) -> None:
    """Set every segment's modification time to ``when`` (a day written long ago)."""
    for f in (storage / "events").rglob("*.parquet"):
        os.utime(f, (when, when))


def day_dir(storage: Path, day: date = DAY) -> Path:
    return storage / "events" / "kind=dns" / f"date={day.isoformat()}"


def content(storage: Path) -> list[tuple]:
    """Every stored row, in a canonical order (the partition columns included)."""
    con = duckdb.connect()
    glob = str(storage / "events" / "kind=*" / "date=*" / "*.parquet")
    rows = con.execute(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true) "
                       "ORDER BY ALL").fetchall()
    con.close()
    return rows


def test_a_day_becomes_one_sorted_file_per_sensor_with_every_row(tmp_path):
    n = write_segments(tmp_path, sensors=("s1", "s2"), files=15)
    before = content(tmp_path)
    assert len(event_files(tmp_path)) == 60 and count_events(tmp_path) == n

    [c] = compact(tmp_path)

    assert (c.kind, c.day, c.files_before, c.files_after, c.rows) == ("dns", DAY, 60, 2, n)
    files = event_files(tmp_path)
    assert [f.name.split("-")[:2] for f in files] == [["compacted", "s1"], ["compacted", "s2"]]
    assert count_events(tmp_path) == n and content(tmp_path) == before
    for f in files:
        meta = pq.ParquetFile(f)
        # the segments' schema (types, kind and version metadata), statistics on every column
        assert meta.schema_arrow.equals(schema("dns")) and meta.schema_arrow.metadata == schema("dns").metadata
        rg = meta.metadata.row_group(0)
        stats = [rg.column(i).statistics for i in range(rg.num_columns)]
        assert all(st is not None and (st.has_min_max or st.null_count == rg.num_rows) for st in stats)
        assert sum(st.has_min_max for st in stats) >= 14  # every column that has a value
        t = pq.read_table(f)
        times = t.column("time").to_pylist()
        assert times == sorted(times) and set(t.column("sensor").to_pylist()) == {f.name.split("-")[1]}
    manifest = json.loads((day_dir(tmp_path) / MANIFEST).read_text())
    assert manifest["files"] == [f.name for f in files] and len(manifest["inputs"]) == 60
    assert [p.name for p in day_dir(tmp_path).parent.iterdir()] == [f"date={DAY}"]  # no staging left


def test_row_groups_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(compact_mod, "ROW_GROUP_ROWS", 100)
    n = write_segments(tmp_path, workers=1, files=10, rows=35)
    compact(tmp_path)
    [f] = event_files(tmp_path)
    meta = pq.ParquetFile(f).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 100, 50]
    assert meta.num_rows == n


def test_running_again_is_idempotent_and_merges_new_segments(tmp_path):
    n = write_segments(tmp_path)
    compact(tmp_path)
    first = event_files(tmp_path)
    [again] = compact(tmp_path, day=DAY)
    assert again.skipped and event_files(tmp_path) == first  # nothing new: left alone
    assert compact(tmp_path) == []  # not due at all

    n += write_segments(tmp_path, files=5, start=100)  # late flushes, a restart
    assert len(event_files(tmp_path)) == 1 + 10
    before = content(tmp_path)
    [c] = compact(tmp_path)
    assert (c.files_before, c.files_after, c.rows) == (11, 1, n)
    assert count_events(tmp_path) == n and content(tmp_path) == before


def test_privacy_columns_are_copied_not_transformed_again(tmp_path):
    calls = []

    def pseudonymise(table):  # stands for takedown.store.privacy: runs once, at write time
        calls.append(table.num_rows)
        import pyarrow as pa
        import pyarrow.compute as pc
        keys = pc.binary_join_element_wise("k:", table.column("src_ip"), "")
        return table.set_column(table.schema.get_field_index("src_key"), "src_key", keys).set_column(
            table.schema.get_field_index("src_ip"), "src_ip", pa.nulls(table.num_rows, pa.string()))

    t0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()
    with SegmentWriter(tmp_path, "dns", operation="op", sensor="s1", worker=0, fsync=False,
                       transform=pseudonymise) as wr:
        for f in range(4):
            wr.rows.extend(dns_row(t0 + f * 10 + i, i) for i in range(10))
            wr.flush()
    before = content(tmp_path)
    written = sum(calls)
    compact(tmp_path)
    assert sum(calls) == written == 40
    assert content(tmp_path) == before
    con = duckdb.connect()
    keys = con.execute(f"SELECT count(*) FROM read_parquet('{event_files(tmp_path)[0]}') "
                       "WHERE src_key LIKE 'k:%' AND src_key NOT LIKE 'k:k:%' AND src_ip IS NULL").fetchone()
    assert keys == (40,)


def test_a_segment_landing_during_compaction_is_kept(tmp_path, monkeypatch):
    n = write_segments(tmp_path, files=5)
    exchange = compact_mod._exchange
    late = []

    def exchange_after_a_late_flush(a, b):
        # a worker flushes into the day after compaction listed it, just before the swap
        late.append(write_segments(tmp_path, workers=1, files=1, start=500))
        exchange(a, b)

    monkeypatch.setattr(compact_mod, "_exchange", exchange_after_a_late_flush)
    [c] = compact(tmp_path)
    assert c.rows == n and late == [25]
    names = sorted(p.name for p in day_dir(tmp_path).glob("*.parquet"))
    assert len(names) == 2 and names[0].startswith("compacted-")  # the late segment moved into the new set
    assert count_events(tmp_path) == n + 25
    monkeypatch.setattr(compact_mod, "_exchange", exchange)
    [c] = compact(tmp_path)
    assert (c.files_before, c.files_after, c.rows) == (2, 1, n + 25)


def test_a_writer_whose_directory_is_swapped_mid_write_writes_again(tmp_path, monkeypatch):
    n = write_segments(tmp_path, files=3)
    real_open = segments_mod.open_parquet
    swapped = []

    def open_then_compact(path, *args, **kw):
        pw = real_open(path, *args, **kw)
        if not swapped:  # the day is compacted while this temporary is being written
            swapped.append(compact_day(tmp_path, "dns", DAY))
        return pw

    t0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()
    monkeypatch.setattr(segments_mod, "open_parquet", open_then_compact)
    with SegmentWriter(tmp_path, "dns", operation="op", sensor="s9", worker=5, fsync=True) as wr:
        wr.rows.extend(dns_row(t0 + 3000 + i, i) for i in range(7))
        [path] = wr.flush()
    assert swapped[0].rows == n and wr.write_errors == 0
    assert path.parent == day_dir(tmp_path) and path.exists()
    assert count_events(tmp_path) == n + 7
    assert not list(day_dir(tmp_path).glob(".*.tmp"))


def test_readers_list_again_when_files_vanish(tmp_path, monkeypatch):
    n = write_segments(tmp_path, files=4)
    stale = event_files(tmp_path)
    compact(tmp_path)
    from takedown.store import reader

    listings = [stale]
    real = reader.event_files
    monkeypatch.setattr(reader, "event_files", lambda *a: listings.pop() if listings else real(*a))
    assert reader.count_events(tmp_path) == n  # the stale listing's files are gone: counted from a new one

    calls = []

    def query():
        calls.append(1)
        files = [str(p) for p in (stale if len(calls) == 1 else real(tmp_path))]
        return duckdb.connect().execute("SELECT count(*) FROM read_parquet($f)", {"f": files}).fetchone()[0]

    assert retry_vanished(query) == n and len(calls) == 2
    with pytest.raises(duckdb.Error):
        retry_vanished(lambda: duckdb.connect().execute("SELECT * FROM nonexistent_table").fetchall())


def _op(d: Path, extra: str = "") -> Path:
    op = d / "operation.toml"
    op.write_text(operation_text(0, "compacttest", "workers = 1\n" + (f"[events]\n{extra}\n" if extra else "")))
    return op


def _cli_env() -> dict:
    env = dict(os.environ)
    src = str(Path(compact_mod.__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


def _compact_cli(op: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([TAKEDOWN, "events", "compact", str(op), "--date",
                           DAY.isoformat()], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_leaves_a_complete_day(tmp_path, step):
    op = _op(tmp_path)
    storage = tmp_path / "data"
    n = write_segments(storage, files=10)
    before = content(storage)
    env = _cli_env()
    if step == "recovered":  # a killed earlier run left a staging directory to clean up
        _kill_at(op, env, "staged")
    killed = _kill_at(op, env, step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert count_events(storage) == n and content(storage) == before
    done = _compact_cli(op, env)  # the next run finishes (or redoes) the work
    assert done.returncode == 0, done.stderr
    assert count_events(storage) == n and content(storage) == before
    assert [p.name for p in day_dir(storage).parent.iterdir()] == [f"date={DAY}"]
    assert [f.name.split("-")[0] for f in event_files(storage)] == ["compacted"]


def _kill_at(op: Path, env: dict, step: str) -> subprocess.CompletedProcess:
    return _compact_cli(op, {**env, KILL_AT_ENV: step})


def test_kill_9_at_moments_into_the_work_never_loses_or_doubles_a_row(tmp_path):
    template = tmp_path / "template"
    n = write_segments(template, sensors=("s1", "s2"), files=60, rows=20)
    before = content(template)
    env = _cli_env()
    alive = 0
    for i, delay in enumerate((0.0, 0.005, 0.02, 0.05, 0.1, 0.2)):
        d = tmp_path / f"run{i}"
        shutil.copytree(template, d / "data")
        op = _op(d)
        kind_dir = d / "data" / "events" / "kind=dns"
        p = subprocess.Popen([TAKEDOWN, "events", "compact", str(op)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        # the moment counts from the start of the work: the staging directory appears
        while not any(q.name.startswith(".compact-") for q in kind_dir.iterdir()) and p.poll() is None:
            assert time.monotonic() < end
            time.sleep(0.001)
        time.sleep(delay)
        alive += p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert count_events(d / "data") == n, delay
        assert content(d / "data") == before, delay
        done = _compact_cli(op, env)
        assert done.returncode == 0, done.stderr
        assert content(d / "data") == before and len(event_files(d / "data")) == 2
    assert alive >= 3  # most kills landed while it worked


def test_cli_compacts_and_reports(tmp_path):
    op = _op(tmp_path)
    storage = tmp_path / "data"
    n = write_segments(storage, files=3)
    runner = CliRunner()
    r = runner.invoke(app, ["events", "compact", str(op), "--kind", "dns"])
    assert r.exit_code == 0, r.output
    assert f"kind=dns date={DAY}: 6 files -> 1 ({n} events)" in r.output
    assert "compacted 1 day partition(s)" in r.output
    r = runner.invoke(app, ["events", "compact", str(op), "--date", DAY.isoformat()])
    assert "already compacted (1 files)" in r.output and "compacted 0 day" in r.output
    r = runner.invoke(app, ["events", "count", str(op)])
    assert r.output.strip() == str(n)


@pytest.mark.parametrize("args, message", [
    (["--date", "tomorrow"], "--date: 'tomorrow' is not a date (YYYY-MM-DD)"),
    (["--date", datetime.now(UTC).date().isoformat()], "the day is not over yet"),
    (["--kind", "nope"], "unknown event kind 'nope'"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    op = _op(tmp_path)
    r = subprocess.run([TAKEDOWN, "events", "compact", str(op), *args],
                       env=_cli_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("Error: ") and message in r.stderr and "Traceback" not in r.stderr


def test_compact_after_is_validated(tmp_path):
    from takedown.errors import OperationError
    from takedown.operation import load_operation

    assert load_operation(_op(tmp_path)).events.compact_after == 3600.0
    assert load_operation(_op(tmp_path, "compact_after = false")).events.compact_after is None
    assert load_operation(_op(tmp_path, "compact_after = 0")).events.compact_after == 0.0
    with pytest.raises(OperationError, match="compact_after must be a number of seconds"):
        load_operation(_op(tmp_path, "compact_after = -1"))
    with pytest.raises(OperationError, match="compact_after"):
        load_operation(_op(tmp_path, "compact_after = true"))


def test_report_is_equal_before_and_after(tmp_path):
    from test_report import FakeEnricher, make_events, write_dataset

    from takedown.analytics.report import build_report

    checkins, dns = make_events()
    for part in range(4):  # several segments a day per kind
        write_dataset(tmp_path, checkins[part::4], dns[part::4])
    files_before = len(event_files(tmp_path))
    before = build_report(tmp_path, tmp_path / "r1", enricher=FakeEnricher()).summary
    done = compact(tmp_path)
    assert len(event_files(tmp_path)) < files_before and all(c.files_after == 1 for c in done)
    after = build_report(tmp_path, tmp_path / "r2", enricher=FakeEnricher()).summary
    before.pop("generated", None), after.pop("generated", None)
    assert after == before and after["total_events"] == len(checkins)


def test_serve_compacts_closed_days_in_a_separate_process(tmp_path):
    op = _op(tmp_path)  # compact_after: the default (an hour)
    storage = tmp_path / "data"
    old = datetime.now(UTC).date() - timedelta(days=2)
    n = write_segments(storage, old, files=8)
    backdate(storage, time.time() - 7200)  # written while that day was current
    before = content(storage)
    ready = tmp_path / "ready.json"
    with open(tmp_path / "serve.stderr", "wb") as err:
        proc = subprocess.Popen([TAKEDOWN, "serve", str(op), "--ready-file", str(ready)], cwd=tmp_path,
                                env=_cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    try:
        end = time.monotonic() + 30
        while not (day_dir(storage, old) / MANIFEST).exists():
            assert proc.poll() is None and time.monotonic() < end, (tmp_path / "serve.stderr").read_text()
            time.sleep(0.1)
        assert ready.exists()
        time.sleep(0.5)
        log = (tmp_path / "serve.stderr").read_text()
        assert f"compacted kind=dns date={old}: 16 files -> 1 ({n} events)" in log
        assert count_events(storage) == n and content(storage) == before
        # the compaction child has exited and was reaped; serving goes on
        import psutil

        kids = [c for c in psutil.Process(proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        assert len(kids) == 1  # the one worker
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_prune_removes_what_a_killed_compaction_left(tmp_path):
    from takedown.store.retention import prune

    op = _op(tmp_path)
    storage = tmp_path / "data"
    write_segments(storage, files=3)
    assert _kill_at(op, _cli_env(), "swapped").returncode == -signal.SIGKILL
    kind_dir = day_dir(storage).parent
    assert len(list(kind_dir.glob(".compact-*"))) == 1
    [gone] = prune(storage, 1)
    assert gone.day == DAY and list(kind_dir.iterdir()) == []


def test_a_day_is_due_once_it_ended_compact_after_seconds_ago(tmp_path):
    from takedown.store.compact import closed_days

    write_segments(tmp_path, files=2)
    end = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1)
    backdate(tmp_path, end.timestamp())  # its last segment written at midnight
    assert closed_days(tmp_path, after=3600, now=end + timedelta(seconds=3599)) == []
    assert closed_days(tmp_path, after=3600, now=end + timedelta(seconds=3600)) == [("dns", DAY)]
    assert closed_days(tmp_path, kind="http", now=end + timedelta(days=1)) == []
    compact(tmp_path)
    assert closed_days(tmp_path, now=end + timedelta(days=1)) == []  # nothing new since


def test_a_day_still_being_written_waits_until_it_is_quiet(tmp_path):
    """Range mode writes emulated past days now, and a late flush lands after
    midnight: a day whose newest segment is younger than compact_after is not
    due (it would be compacted again at every look), whenever it ended."""
    from takedown.store.compact import closed_days

    write_segments(tmp_path, files=2)  # written just now, for a day long over
    now = datetime.now(UTC)
    assert closed_days(tmp_path, after=3600, now=now) == []
    assert closed_days(tmp_path, after=0, now=now) == [("dns", DAY)]  # the CLI: no quiet period
    backdate(tmp_path, (now - timedelta(seconds=3601)).timestamp())
    assert closed_days(tmp_path, after=3600, now=now) == [("dns", DAY)]


def test_a_file_system_without_exchange_is_a_clear_error_and_changes_nothing(tmp_path, monkeypatch):
    from takedown.errors import StoreError

    n = write_segments(tmp_path, files=3)
    before = sorted(p.name for p in day_dir(tmp_path).iterdir())

    def no_exchange(a, b):
        raise StoreError(f"cannot swap {a} and {b}: Invalid argument (the file system must support "
                         "RENAME_EXCHANGE: ext4, xfs, btrfs, tmpfs)")

    monkeypatch.setattr(compact_mod, "_exchange", no_exchange)
    with pytest.raises(StoreError, match="RENAME_EXCHANGE"):
        compact(tmp_path)
    assert sorted(p.name for p in day_dir(tmp_path).iterdir()) == before
    assert [p.name for p in day_dir(tmp_path).parent.iterdir()] == [f"date={DAY}"]
    assert count_events(tmp_path) == n
