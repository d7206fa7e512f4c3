"""Two sensors, one dataset (issue 19): two real ``takedown serve``
processes, each writing its own storage, behind a round-robin relay that
spreads one range's check-ins over both (a bot checking in twice is seen by
both). The report over ``[events] sources`` must equal the range's truth,
which knows each bot once, and the report over one storage holding the same
files; adding up the sensors' own reports must not."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from harness.relay import Relay
from net_helpers import TAKEDOWN

from takedown.analytics.report import summarise
from takedown.enrich.choice import for_operation
from takedown.operation import load_operation
from takedown.range import compare
from takedown.range.demo import _takedown_command, _wait_ready, stop_server, write_operation
from takedown.range.run import bound, run_range
from takedown.store.reader import operation_dataset, read_parquet_sql


START = date(2026, 3, 16)  # a Monday
DAYS = 9  # two ISO weeks
BOTS = 400


def _sensor(root: Path, name: str, sources: str = "") -> Path:
    """A demo operation in ``root``, its events stamped ``sensor = name``."""
    op = write_operation(root, START, DAYS, case=False)
    op.write_text(op.read_text() + f'\n[events]\nsensor = "{name}"\n{sources}')
    return op


@pytest.fixture(scope="module")
def sensors(tmp_path_factory):
    base = tmp_path_factory.mktemp("sensors")
    ops = {name: _sensor(base / name, name) for name in ("a", "b")}
    procs, ready = {}, {}
    try:
        for name, op in ops.items():
            log = base / f"{name}.log"
            with open(log, "wb") as f:
                procs[name] = subprocess.Popen(_takedown_command() + ["serve", str(op), "--ready-file",
                                                                        str(base / f"{name}.ready")],
                                               stdout=f, stderr=subprocess.STDOUT, cwd=op.parent)
            ready[name] = _wait_ready(procs[name], base / f"{name}.ready", log)
        relays = {kind: Relay([_hostport(ready[n][kind][0]) for n in ("a", "b")]) for kind in ("http", "tls", "tcp")}
        try:
            # the range sees one sinkhole: DNS at sensor a, check-ins through the relays to both
            op = bound(load_operation(ops["a"]), ready["a"])
            op = bound(op, {**ready["a"], **{k: [f"127.0.0.1:{r.port}"] for k, r in relays.items()}})
            result = run_range(op, bots=BOTS, start=START, days=DAYS, seed=19, truth_dir=base / "truth",
                               concurrency=32, enricher=for_operation(op))
            sent = {k: r.sent for k, r in relays.items()}
        finally:
            for r in relays.values():
                r.close()
    finally:
        for p in procs.values():
            stop_server(p)
    # the collecting operation: sensor a's, reading sensor b's storage too
    together = _sensor(base / "together", "together", f'sources = ["{base}/[b]/data"]\n')
    shutil.rmtree(base / "together" / "data", ignore_errors=True)
    shutil.copytree(base / "a" / "data" / "events", base / "together" / "data" / "events")
    # one storage holding both sensors' files: the same traffic, read without sources
    single = base / "single" / "data" / "events"
    for name in ("a", "b"):
        shutil.copytree(base / name / "data" / "events", single, dirs_exist_ok=True)
    return {"base": base, "result": result, "sent": sent, "together": together, "ops": ops, "single": single.parent}


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _summary(storage, op_file: Path) -> dict:
    op = load_operation(op_file)
    return summarise(storage, enricher=for_operation(op), date_from=START, date_to=START + timedelta(DAYS - 1),
                     operation="demo")


def test_both_sensors_saw_the_same_bots(sensors):
    sent = sensors["sent"]
    assert all(min(n) > 0 for n in sent.values()) and min(sent["http"]) > 100, sent
    con = duckdb.connect()
    per_sensor = dict(con.sql(
        f"SELECT sensor, count(DISTINCT src_ip) FROM "
        f"{read_parquet_sql(operation_dataset(load_operation(sensors['together'])), 'http')} GROUP BY sensor"
    ).fetchall())
    assert set(per_sensor) == {"a", "b"}
    both = con.execute(f"SELECT count(*) FROM (SELECT src_ip FROM {read_parquet_sql(sensors['single'], 'http')} "
                   "GROUP BY src_ip HAVING count(DISTINCT sensor) = 2)").fetchone()[0]
    assert both > 50  # bots seen by both sensors: what a per-sensor sum would count twice


def test_report_over_sources_equals_the_truth(sensors):
    truth = sensors["result"].counts
    op_file = sensors["together"]
    dataset = operation_dataset(load_operation(op_file))
    assert len(dataset) == 2
    s = _summary(dataset, op_file)
    assert compare.differences(s, truth) == []
    assert s["total_events"] == sensors["result"].stats.checkins > 1000
    assert [w["week"] for w in s["weeks"]] == ["2026-W12", "2026-W13"]
    # and the single storage of the same traffic says the same, count for count
    single = _summary(sensors["single"], op_file)
    assert {k: v for k, v in s.items() if k != "generated"} == {k: v for k, v in single.items() if k != "generated"}


def test_report_on_spark_over_two_sensors_equals_the_truth(sensors):
    """Issue 19: the Spark engine over the two sensors' storages gives the
    truth of the range and DuckDB's summary, count for count."""
    op_file = sensors["together"]
    op = load_operation(op_file)
    dataset = operation_dataset(op)
    on_spark = summarise(dataset, enricher=for_operation(op), date_from=START, date_to=START + timedelta(DAYS - 1),
                         operation="demo", engine="spark", master="local[2]")
    assert compare.differences(on_spark, sensors["result"].counts) == []
    on_duckdb = _summary(dataset, op_file)
    assert ({k: v for k, v in on_spark.items() if k != "generated"}
            == {k: v for k, v in on_duckdb.items() if k != "generated"})


def test_adding_up_the_sensors_reports_is_wrong(sensors):
    """The planted bug: counting per sensor, then summing, counts a bot seen by both twice."""
    truth = sensors["result"].counts
    a, b = (_summary(sensors["ops"][n].parent / "data", sensors["ops"][n]) for n in ("a", "b"))
    summed = dict(truth, total_unique_ips=a["total_unique_ips"] + b["total_unique_ips"])
    summed_weeks = {w["week"]: w["unique_ips"] for w in a["weeks"]}
    for w in b["weeks"]:
        summed_weeks[w["week"]] = summed_weeks.get(w["week"], 0) + w["unique_ips"]
    assert a["total_events"] + b["total_events"] == truth["total_events"]  # events add up...
    assert summed["total_unique_ips"] > truth["total_unique_ips"]  # ...unique bots do not
    assert any(summed_weeks[w["week"]] != w["unique_ips"] for w in truth["weeks"])
    assert compare.differences(dict(a, total_unique_ips=summed["total_unique_ips"]), truth) != []


def test_weekly_unique_by_country_over_sources(sensors):
    """The query of the issue's benchmark, over two sensors and over one storage of the same files."""
    sql = "SELECT week, cc, count(DISTINCT bot) AS n FROM checkins GROUP BY ALL ORDER BY ALL"
    rows = []
    for op_file in (sensors["together"], sensors["single"].parent / "op.toml"):
        if op_file.parent.name == "single":
            op_file.write_text(sensors["together"].read_text()
                               .replace('storage = "data"', f'storage = "{sensors["single"]}"')
                               .replace("sources = ", "# sources = "))
            for f in ("zeus-domains.txt", "3322.org.zone", "3322-blocklist.txt", "rules.toml"):
                shutil.copy(sensors["together"].parent / f, op_file.parent / f)
        r = subprocess.run([TAKEDOWN, "events", "sql", str(op_file), sql, "--format", "json"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        rows.append(json.loads(r.stdout))
    assert rows[0] == rows[1] and len(rows[0]) > 10
    truth_total = {w["week"]: w["unique_ips"] for w in sensors["result"].counts["weeks"]}
    # unique by country adds up to the week's unique bots (one country per address)
    by_week: dict[str, int] = {}
    for r in rows[0]:
        by_week[r["week"]] = by_week.get(r["week"], 0) + r["n"]
    assert by_week == truth_total


def test_report_and_notify_cli_over_sources(sensors, tmp_path):
    op_file = sensors["together"]
    r = subprocess.run([TAKEDOWN, "report", str(op_file), "--out", str(tmp_path / "report"),
                        "--from", START.isoformat(), "--to", (START + timedelta(DAYS - 1)).isoformat()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert compare.differences(summary, sensors["result"].counts) == []
    # notify's CSVs of a day: over two sensors as over the single storage
    op = load_operation(op_file)
    day = START + timedelta(days=2)
    two, _ = notify_files(operation_dataset(op), tmp_path / "two", day, op)
    one, _ = notify_files(sensors["single"], tmp_path / "one", day, op)
    assert [f.name for f in two] == [f.name for f in one] and two
    for f, g in zip(two, one):
        assert Path(f.path).read_bytes() == Path(g.path).read_bytes()


def notify_files(storage, out: Path, day: date, op):
    from takedown.analytics.notify import write_reports

    return write_reports(storage, out, day=day, enricher=for_operation(op), operation="demo")
