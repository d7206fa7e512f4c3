"""takedown report --engine spark: the same queries on Apache Spark give the same summary.

One Spark session (``local[2]``) is shared by the file's tests: starting
its JVM costs 10-20 s. The dataset is written by the project's own segment
writer (tests/test_report.py's operation: weeks 2024-W51..2025-W02 across
the ISO year change, several countries and ASes, an empty week, DNS
resolvers), plus files written here with the event schema: pseudonymised
check-ins (``src_key``, stored ``src_cc``/``src_asn``), check-ins whose
``time`` is NULL, and command events. DuckDB's summary is checked against
a Python truth in tests/test_report.py; here Spark's must equal DuckDB's,
every count.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")

from takedown.analytics import queries
from takedown.analytics.engines import dialect
from takedown.analytics.engines.spark import SparkConnection, session, spark_dataset
from takedown.analytics.report import build_report
from takedown.errors import ReportError
from takedown.events import schema
from test_report import FakeEnricher, iso_week, make_events, write_dataset

MASTER = "local[2]"


def _write(storage: Path, kind: str, day: date, name: str, values: dict, n: int) -> None:
    sch = schema(kind)
    table = pa.table({f.name: pa.array(values[f.name], f.type) if f.name in values else pa.nulls(n, f.type)
                      for f in sch}, schema=sch)
    directory = storage / "events" / f"kind={kind}" / f"date={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / name)


def add_private_and_commands(storage: Path) -> None:
    """Pseudonymised check-ins on the days around new year (one key seen in
    two ISO years), check-ins with a NULL time, and command events."""
    for day, keys in ((date(2024, 12, 29), ["k1", "k2", "k2"]), (date(2024, 12, 30), ["k1", "k3"]),
                      (date(2025, 1, 1), ["k3", "k4"])):
        n = len(keys)
        _write(storage, "http", day, "p-w0-1-00000001-1.parquet", {
            "time": [datetime(day.year, day.month, day.day, 9, i, tzinfo=UTC) for i in range(n)],
            "src_ip": ["198.51.100.0"] * n, "src_key": keys, "src_cc": ["DE"] * n,
            "src_asn": [64510 if k != "k4" else None for k in keys],
            "rule": ["domain:rustock"] * n, "family": ["rustock"] * n, "response": ["notice"] * n,
        }, n)
    day = date(2025, 1, 5)  # a malformed event has no time: it still counts in its day and week
    _write(storage, "tcp", day, "n-w0-1-00000001-1.parquet", {
        "time": [None, None], "src_ip": ["100.64.1.250", "100.64.3.250"], "rule": [None, "none"],
    }, 2)
    for day, rows in ((date(2024, 12, 31), [("198.51.100.1", "stop", "court-1", "rustock"),
                                            ("198.51.100.1", "stop", "court-2", "rustock"),
                                            ("203.0.113.5", "uninstall", None, None)]),
                      (date(2025, 1, 7), [("203.0.113.5", "stop", "court-1", "rustock")])):
        n = len(rows)
        _write(storage, "command", day, "c-w0-1-00000001-1.parquet", {
            "time": [datetime(day.year, day.month, day.day, 12, i, 30, 250000, tzinfo=UTC) for i in range(n)],
            "src_ip": [r[0] for r in rows], "command": [r[1] for r in rows], "authority": [r[2] for r in rows],
            "family": [r[3] for r in rows], "rule": ["domain:rustock"] * n, "response": ["command"] * n,
        }, n)


@pytest.fixture(scope="session")
def spark():
    started = time.monotonic()
    s = session(MASTER)
    print(f"\nSpark {MASTER} session started in {time.monotonic() - started:.1f} s")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    checkins, dns = make_events()
    write_dataset(root, checkins, dns)
    add_private_and_commands(root)
    return root


@pytest.fixture(scope="module")
def reports(spark, storage, tmp_path_factory):
    out = {}
    for engine in ("duckdb", "spark"):
        started = time.monotonic()
        out[engine] = build_report(storage, tmp_path_factory.mktemp(engine), enricher=FakeEnricher(),
                                   operation="op", engine=engine, master=MASTER if engine == "spark" else None)
        print(f"\n{engine} report in {time.monotonic() - started:.1f} s")
    return out


def _without_time_of_generation(path: Path) -> dict:
    summary = json.loads(path.read_text(encoding="utf-8"))
    del summary["generated"]
    return summary


def test_spark_summary_json_equals_duckdb(reports):
    duck, spark_ = (_without_time_of_generation(reports[e].out / "summary.json") for e in ("duckdb", "spark"))
    assert spark_ == duck
    # the dataset does have what the engines could disagree on
    assert [w["week"] for w in duck["weeks"]] == ["2024-W51", "2024-W52", "2025-W01", "2025-W02"]
    assert {"cc": "DE", "unique_ips": 4, "events": 7} in duck["countries"]  # 4 keys behind one stored address
    assert len(duck["commands"]["sent"]) == 3 and duck["commands"]["sent"][0]["first"].endswith(".250000Z")
    assert {"rule": "unattributed", "unique_ips": 1, "events": 1} in duck["rules"]


def test_spark_csv_files_equal_duckdb(reports):
    names = sorted(p.name for p in reports["duckdb"].out.glob("*.csv"))
    assert len(names) == 10
    for name in names:
        assert (reports["spark"].out / name).read_bytes() == (reports["duckdb"].out / name).read_bytes(), name


def test_spark_period_subset_equals_duckdb(spark, storage):
    """--from/--to: the partition filter and the calendar on both engines."""
    def weeks(engine_dataset):
        with engine_dataset as con:
            queries.make_calendar(con, date(2024, 12, 28), date(2025, 1, 3))
            return queries.weeks(con), queries.new_returning(con), queries.days(con)

    from takedown.analytics.engines import dataset

    args = dict(enricher=FakeEnricher(), date_from=date(2024, 12, 28), date_to=date(2025, 1, 3))
    duck = weeks(dataset("duckdb", storage, **args))
    on_spark = weeks(dataset("spark", storage, master=MASTER, **args))
    assert on_spark == duck
    assert [w["week"] for w in duck[0]] == ["2024-W52", "2025-W01"] and duck[0][1]["unique_ips"] > 0


def _calendar_weeks(con, first: date, last: date) -> list[tuple]:
    queries.make_calendar(con, first, last)
    return [tuple(r) for r in con.execute("SELECT day, week FROM calendar ORDER BY day").fetchall()]


@pytest.mark.parametrize("first", [date(2020, 12, 24), date(2024, 12, 24), date(2026, 12, 24), date(2027, 12, 24)])
def test_iso_week_around_new_year_on_spark(spark, first):
    """%G-W%V: 2021-01-03 is 2020-W53, 2024-12-30 is 2025-W01, 2027-01-03 is 2026-W53."""
    last = first + timedelta(days=14)
    con = SparkConnection(spark.newSession())
    got = _calendar_weeks(con, first, last)
    want = [(first + timedelta(days=i), iso_week(first + timedelta(days=i))) for i in range(15)]
    assert got == want


def test_a_planted_translation_bug_is_caught(spark, storage, monkeypatch):
    """The calendar year in place of the ISO year: the new year's week gets
    another label on Spark, and the weeks no longer equal DuckDB's."""
    from takedown.analytics.engines import dataset

    def weeks(engine):
        with dataset(engine, storage, enricher=FakeEnricher(), master=MASTER if engine == "spark" else None) as con:
            queries.make_calendar(con, *queries.data_days(con))
            return queries.weeks(con)

    duck = weeks("duckdb")
    monkeypatch.setattr(dialect, "SPARK_ISO_WEEK", "format_string('%04d-W%02d', year({x}), weekofyear({x}))")
    dialect.spark_sql.cache_clear()
    try:
        planted = weeks("spark")
    finally:
        monkeypatch.undo()
        dialect.spark_sql.cache_clear()
    assert planted != duck
    assert "2024-W01" in [w["week"] for w in planted]  # 2024-12-30..31 under the wrong year
    assert weeks("spark") == duck


def test_an_unchecked_strftime_format_is_refused():
    with pytest.raises(ReportError, match="no Spark translation checked for strftime format '%Y-%m'"):
        dialect.spark_sql("SELECT strftime(day, '%Y-%m') FROM checkins")


def test_views_are_temporary_and_week_is_rewritten():
    text = dialect.spark_sql(f"CREATE OR REPLACE VIEW calendar AS SELECT day, {queries.WEEK_OF_DAY} AS week FROM d")
    assert text.startswith("CREATE OR REPLACE TEMPORARY VIEW calendar")
    assert "YEAROFWEEK" in text and "%G" not in text


def test_spark_dataset_drops_its_views(spark, storage):
    with spark_dataset(storage, enricher=FakeEnricher(), master=MASTER) as con:
        names = {t.name for t in con.spark.catalog.listTables()}
        assert {"events", "checkins", "resolvers", "commands", "ipinfo"} <= names
    assert not [t for t in con.spark.catalog.listTables() if t.isTemporary]


def test_another_master_than_the_running_one_is_an_error(spark, tmp_path):
    with pytest.raises(ReportError, match=r"running in this process, not on spark://127.0.0.1:7077"):
        build_report(tmp_path, tmp_path / "out", enricher=FakeEnricher(), engine="spark",
                     master="spark://127.0.0.1:7077")


@pytest.mark.parametrize("kwargs, message", [
    ({"engine": "presto"}, "unknown engine 'presto'"),
    ({"master": "local[2]"}, "--master local\\[2\\] is a Spark master: it needs --engine spark"),
    ({"engine": "spark", "master": "bogus://x"}, "--master bogus://x: not a Spark master URL"),
    ({"engine": "spark", "master": "spark://127.0.0.1"}, "not a Spark master URL"),
])
def test_bad_engine_options_are_one_clear_error(tmp_path, kwargs, message):
    with pytest.raises(ReportError, match=message):
        build_report(tmp_path, tmp_path / "out", enricher=FakeEnricher(), **kwargs)


def test_cli_master_without_spark_is_one_error_line(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    main = "import sys; from takedown.cli import main; sys.argv[0] = 'takedown'; main()"
    p = subprocess.run([sys.executable, "-c", main, "report", str(root / "examples" / "operation.toml"),
                        "--out", str(tmp_path / "out"), "--master", "local[2]"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.splitlines() == ["Error: --master local[2] is a Spark master: it needs --engine spark"]
