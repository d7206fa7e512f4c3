"""`takedown events sql` and `takedown events export` (analytics.sql, .export, .output).

The events are written by the real SegmentWriter (the report's synthetic
operation of tests/test_report.py, plus check-ins with binary, empty and
awkward values). Every expected value is computed here from the same
Parquet files read with pyarrow, or from the enricher's table in
test_report; every output is parsed back with a standard parser (csv,
json, pyarrow).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from takedown.analytics.export import columns, export
from takedown.analytics.sql import read_only, run_sql
from takedown.errors import QueryError
from takedown.store.checkins import template
from takedown.store.segments import SegmentWriter
from test_report import FIRST_DAY, NETS, FakeEnricher, epoch, info, make_events, write_dataset

TAKEDOWN = str(Path(sys.executable).parent / "takedown")
ODD_DAY = date(2024, 12, 18)
ODD_AGENT = 'Bot "x", [red]not markup[/red]\nsecond line'
ODD_BYTES = b"\x00\xff\r\nGET"


def _op_file(root: Path) -> Path:
    p = root / "op.toml"
    p.write_text(
        '[operation]\nname = "sql-test"\nstorage = "data"\n'
        '[sinkhole]\nipv4 = ["192.0.2.53"]\nttl = 300\nsoa_email = "h.example"\n'
        'nameservers = { "ns1.sinkhole.example" = "192.0.2.1" }\n'
    )
    return p


def _write_odd(storage: Path) -> None:
    """Check-ins whose values test the formats: bytes, an empty query string
    (not NULL), quotes, a comma, a newline, rich markup."""
    w = SegmentWriter(storage, "tcp", operation="op", sensor="s2", worker=1, fsync=False)
    tix = w.checkins.add_template(template(first_bytes=ODD_BYTES, length=len(ODD_BYTES), response="close",
                                           rule="none"))
    w.checkins.log(epoch(ODD_DAY, 3600.25), w.checkins.add_conn(("tcp", "100.64.1.77", 5555, "203.0.113.80", 23, None)),
                   tix)
    w.close()
    w = SegmentWriter(storage, "http", operation="op", sensor="s2", worker=1, fsync=False)
    tix = w.checkins.add_template(template(method="POST", host="c2.example", path="/", query="",
                                           user_agent=ODD_AGENT, body_head=b"\x01\x02\x03", body_len=3,
                                           status=200, response="notice", rule="none"))
    w.checkins.log(epoch(ODD_DAY, 7200.5), w.checkins.add_conn(("tcp", "100.64.2.9", 6666, "203.0.113.80", 80, None)),
                   tix)
    w.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sql")
    _op_file(root)
    checkins, dns = make_events()
    write_dataset(root / "data", checkins, dns)
    _write_odd(root / "data")
    return root


def rows_of(storage: Path) -> list[dict]:
    """Every stored event, read file by file with pyarrow (independently of DuckDB)."""
    rows = []
    for f in sorted((storage / "data" / "events").glob("kind=*/date=*/*.parquet")):
        kind, day = f.parent.parent.name.removeprefix("kind="), f.parent.name.removeprefix("date=")
        rows += [{**r, "kind": kind, "date": date.fromisoformat(day)} for r in pq.read_table(f).to_pylist()]
    return rows


def sql(storage: Path, query: str, fmt: str, **kw) -> tuple[int, bytes]:
    buf = io.BytesIO()
    n = run_sql(storage / "data", query, fmt=fmt, enricher=kw.pop("enricher", FakeEnricher), stdout=buf, **kw)
    return n, buf.getvalue()


def place(ip: str) -> tuple:
    """(cc, asn, as_name) of the test enricher (FakeEnricher), NULLs for an address it does not know."""
    return NETS.get(ip.rsplit(".", 1)[0], (None, None, None))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------
# Results against independent computations
# --------------------------------------------------------------------------

def test_events_view_counts_match_pyarrow(store):
    expect = Counter((r["kind"], r["date"].isoformat()) for r in rows_of(store))
    ips = defaultdict(set)
    for r in rows_of(store):
        ips[r["kind"]].add(r["src_ip"])
    n, out = sql(store, "SELECT kind, date, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL", "json")
    got = json.loads(out)
    assert n == len(expect) == len(got)
    assert {(g["kind"], g["date"]): g["n"] for g in got} == dict(expect)
    _, out = sql(store, "SELECT kind, count(DISTINCT src_ip) AS ips FROM events GROUP BY kind", "jsonl")
    assert {g["kind"]: g["ips"] for g in map(json.loads, out.splitlines())} == {k: len(v) for k, v in ips.items()}


def test_enriched_views_match_the_enricher_table_and_enrich_only_when_named(store):
    rows = rows_of(store)
    bots = [r for r in rows if r["kind"] != "dns"]
    by_cc = defaultdict(set)
    for r in bots:
        by_cc[info(r["src_ip"])[0]].add(r["src_ip"])
    n, out = sql(store, "SELECT cc, count(DISTINCT bot) AS ips, count(*) AS n FROM checkins GROUP BY cc", "json")
    got = {g["cc"]: (g["ips"], g["n"]) for g in json.loads(out)}
    assert got == {cc: (len(ips), sum(info(r["src_ip"])[0] == cc for r in bots)) for cc, ips in by_cc.items()}

    _, out = sql(store, "SELECT src_ip, asn, as_name, week FROM resolvers", "jsonl")
    for g in map(json.loads, out.splitlines()):
        assert (g["asn"], g["as_name"]) == place(g["src_ip"])[1:]
        assert g["week"].startswith("202")

    class Counting(FakeEnricher):
        made = 0

        def __init__(self):
            super().__init__()
            Counting.made += 1

    sql(store, "SELECT count(*) FROM events", "csv", enricher=Counting)
    assert Counting.made == 0  # events alone: no enricher, no pass over the addresses
    sql(store, "WITH c AS (SELECT * FROM ipinfo) SELECT count(*) FROM c", "csv", enricher=Counting)
    assert Counting.made == 1


# --------------------------------------------------------------------------
# Every format, parsed back
# --------------------------------------------------------------------------

QUERY = ("SELECT time, kind, src_ip, src_port, query, user_agent, body_head, first_bytes, status, cc, asn "
         "FROM checkins ORDER BY time, src_port")


def _expected_checkins(store: Path) -> list[dict]:
    rows = sorted((r for r in rows_of(store) if r["kind"] != "dns"), key=lambda r: (r["time"], r["src_port"]))
    for r in rows:
        r["cc"], r["asn"] = place(r["src_ip"])[:2]
    return rows


def test_csv_parses_back_with_null_empty_iso_times_and_base64(store):
    expect = _expected_checkins(store)
    n, out = sql(store, QUERY, "csv")
    assert n == len(expect)
    got = list(csv.DictReader(io.StringIO(out.decode())))
    assert [g["time"] for g in got] == [iso(r["time"]) for r in expect]
    assert all(datetime.fromisoformat(g["time"]).tzinfo is not None for g in got)
    assert [g["src_ip"] for g in got] == [r["src_ip"] for r in expect]
    assert [g["asn"] for g in got] == ["" if r["asn"] is None else str(r["asn"]) for r in expect]
    odd = [g for g in got if g["user_agent"] == ODD_AGENT]
    assert len(odd) == 1 and base64.b64decode(odd[0]["body_head"]) == b"\x01\x02\x03"
    tcp = [g for g in got if g["first_bytes"]]
    assert [base64.b64decode(g["first_bytes"]) for g in tcp] == [ODD_BYTES]
    # NULL is an empty field, an empty string is "": a parser that tells them apart does
    table = pacsv.read_csv(io.BytesIO(out), convert_options=pacsv.ConvertOptions(
        column_types={"query": pa.string()}, strings_can_be_null=True, quoted_strings_can_be_null=False))
    queries = table.column("query").to_pylist()
    assert queries.count("") == 1 and queries.count(None) == len(expect) - 1


def test_json_and_jsonl_parse_back(store):
    expect = _expected_checkins(store)
    _, arr = sql(store, QUERY, "json")
    _, lines = sql(store, QUERY, "jsonl")
    got = json.loads(arr)
    assert got == [json.loads(line) for line in lines.decode().splitlines()]
    assert [g["time"] for g in got] == [iso(r["time"]) for r in expect]
    assert [(g["src_port"], g["status"], g["asn"]) for g in got] == [(r["src_port"], r["status"], r["asn"])
                                                                     for r in expect]
    odd = next(g for g in got if g["user_agent"] == ODD_AGENT)
    assert odd["query"] == "" and odd["cc"] == "CA" and base64.b64decode(odd["body_head"]) == b"\x01\x02\x03"
    assert got[0]["query"] is None and got[0]["first_bytes"] is None
    # empty result: still valid JSON
    assert json.loads(sql(store, "SELECT * FROM events WHERE false", "json")[1]) == []
    assert sql(store, "SELECT * FROM events WHERE false", "jsonl")[1] == b""
    # NaN has no JSON number
    assert json.loads(sql(store, "SELECT 'nan'::DOUBLE AS x, 1.5::DOUBLE AS y", "json")[1]) == [{"x": None, "y": 1.5}]


def test_parquet_keeps_types(store, tmp_path):
    expect = _expected_checkins(store)
    n = run_sql(store / "data", QUERY, fmt="parquet", enricher=FakeEnricher, out=tmp_path / "q.parquet")
    t = pq.read_table(tmp_path / "q.parquet")
    assert n == t.num_rows == len(expect)
    assert t.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert t.column("time").to_pylist() == [r["time"] for r in expect]
    assert t.column("first_bytes").to_pylist() == [r["first_bytes"] for r in expect]
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_shows_at_most_max_rows_and_values_as_text(store):
    con = io.StringIO()
    shown = run_sql(store / "data", 'SELECT src_ip, user_agent AS "[b]agent[/b]" FROM checkins '
                    "ORDER BY user_agent NULLS LAST",
                    fmt="table", enricher=FakeEnricher, console=con, max_rows=4, width=200)
    text = con.getvalue()
    assert shown == 4
    assert "[red]not markup[/red]" in text and "[b]agent[/b]" in text  # shown, not interpreted
    assert "first 4 rows; the query returned more" in text
    con = io.StringIO()
    shown = run_sql(store / "data", "SELECT kind, count(*) AS n FROM events GROUP BY kind", fmt="table",
                    enricher=FakeEnricher, console=con, width=200)
    assert shown == 4 and "4 rows" in con.getvalue() and "returned more" not in con.getvalue()
    for kind, n in Counter(r["kind"] for r in rows_of(store)).items():
        assert any(line.split() == ["│", kind, "│", str(n), "│"] for line in con.getvalue().splitlines())


# --------------------------------------------------------------------------
# Read-only
# --------------------------------------------------------------------------

def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("query, fragment", [
    ("COPY (SELECT 1) TO '{events}/kind=dns/x.parquet' (FORMAT parquet)", "not COPY"),
    ("EXPORT DATABASE '{events}/db'", "not EXPORT"),
    ("ATTACH '{events}/new.duckdb'", "not ATTACH"),
    ("INSTALL httpfs", "not LOAD"),
    ("LOAD json", "not LOAD"),
    ("SET enable_external_access = true", "not SET"),
    ("PRAGMA enable_profiling", "not PRAGMA"),
    ("CREATE TABLE t AS SELECT 1", "not CREATE"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{events}/y.csv'", "not EXPLAIN"),
    ("SELECT 1; COPY (SELECT 1) TO '{events}/z.csv'", "one statement at a time"),
    ("   ", "empty"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
    ("SELECT * FROM read_text('{root}/op.toml')", "Permission Error"),
    ("SELECT * FROM 'http://127.0.0.1:9/x.parquet'", "Permission Error"),
    ("WITH x AS (INSERT INTO events VALUES (1) RETURNING *) SELECT * FROM x", "Error"),
])
def test_nothing_but_reading_the_store(store, query, fragment):
    before = _listing(store)
    events = store / "data" / "events"
    with pytest.raises(QueryError, match=fragment) as exc:
        sql(store, query.format(events=events, root=store), "csv")
    assert "\n" not in str(exc.value)
    assert _listing(store) == before


def test_the_connection_itself_is_locked(store, tmp_path):
    """Layer 2 on its own: statements layer 1 would refuse, sent to the connection directly."""
    with read_only(store / "data", enriched=True, enricher=FakeEnricher) as con:
        assert con.execute("SELECT count(*) FROM checkins").fetchone()[0] > 0
        for stmt, fragment in [
            ("SET enable_external_access = true", "locked"),
            ("SET allowed_directories = ['/']", "locked"),
            (f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "Permission Error"),
            (f"ATTACH '{tmp_path}/x.duckdb'", "Permission Error"),
            ("INSTALL spatial", "Permission Error"),
        ]:
            with pytest.raises(duckdb.Error, match=fragment):
                con.execute(stmt)
    assert list(tmp_path.iterdir()) == []


def test_failing_query_leaves_no_output_file(store, tmp_path):
    out = tmp_path / "x.csv"
    query = "SELECT CASE WHEN range = 250000 THEN error('boom at 250000') END AS r FROM range(300000)"
    with pytest.raises(QueryError, match="boom"):
        run_sql(store / "data", query, fmt="csv", enricher=FakeEnricher, out=out)
    assert list(tmp_path.iterdir()) == []


def test_output_inside_the_store_is_refused(store):
    target = store / "data" / "events" / "kind=dns" / "date=2024-12-16" / "mine.parquet"
    with pytest.raises(QueryError, match="inside the operation's event store"):
        run_sql(store / "data", "SELECT * FROM events", fmt="parquet", enricher=FakeEnricher, out=target)
    with pytest.raises(QueryError, match="inside the operation's event store"):
        export(store / "data", fmt="parquet", enricher=FakeEnricher, out=target)
    assert not target.exists()


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def _export(store: Path, fmt: str, **kw) -> tuple[int, bytes]:
    buf = io.BytesIO()
    n = export(store / "data", fmt=fmt, enricher=FakeEnricher, stdout=buf, **kw)
    return n, buf.getvalue()


def test_export_of_a_kind_and_period_in_every_format(store, tmp_path):
    first, last = date(2024, 12, 18), date(2024, 12, 21)
    expect = [r for r in rows_of(store) if r["kind"] == "http" and first <= r["date"] <= last]
    expect.sort(key=lambda r: r["time"])
    assert {r["date"] for r in expect} >= {first, last}  # both ends are in it: --to is inclusive
    names = columns("http")
    assert names[-5:] == ["kind", "date", "cc", "asn", "as_name"] and "qname" not in names

    n, out = _export(store, "csv", kind="http", date_from=first, date_to=last)
    got = list(csv.DictReader(io.StringIO(out.decode())))
    assert n == len(got) == len(expect)
    assert list(got[0]) == names
    assert [g["time"] for g in got] == [iso(r["time"]) for r in expect]  # in time order across the days
    assert [(g["src_ip"], g["cc"]) for g in got] == [(r["src_ip"], info(r["src_ip"])[0] or "") for r in expect]

    _, out = _export(store, "jsonl", kind="http", date_from=first, date_to=last)
    got = [json.loads(line) for line in out.splitlines()]
    assert [(g["time"], g["date"], g["asn"]) for g in got] == [
        (iso(r["time"]), r["date"].isoformat(), info(r["src_ip"])[1]) for r in expect]

    n = export(store / "data", fmt="parquet", enricher=FakeEnricher, kind="http", date_from=first, date_to=last,
               out=tmp_path / "e.parquet")
    t = pq.read_table(tmp_path / "e.parquet")
    assert n == t.num_rows == len(expect) and t.schema.names == names
    assert t.column("time").to_pylist() == [r["time"] for r in expect]


def test_export_of_everything_and_of_nothing(store, tmp_path):
    rows = rows_of(store)
    n, out = _export(store, "json")
    got = json.loads(out)
    assert n == len(got) == len(rows)
    assert Counter(g["kind"] for g in got) == Counter(r["kind"] for r in rows)
    assert [g["time"] for g in got] == sorted(g["time"] for g in got)
    dns = [g for g in got if g["kind"] == "dns"]
    assert all("dga_date" in g and g["method"] is None for g in dns)
    assert got[0]["time"] == iso(datetime.fromtimestamp(epoch(FIRST_DAY, 1.5), UTC))

    # a period without events: a header, an empty array, an empty file with the columns
    assert _export(store, "json", date_from=date(2030, 1, 1)) == (0, b"[]\n")
    n, out = _export(store, "csv", kind="dns", date_from=date(2030, 1, 1))
    assert n == 0 and next(csv.reader(io.StringIO(out.decode()))) == columns("dns")
    export(store / "data", fmt="parquet", enricher=FakeEnricher, kind="tls", date_to=date(2000, 1, 1),
           out=tmp_path / "none.parquet")
    t = pq.read_table(tmp_path / "none.parquet")
    assert t.num_rows == 0 and t.schema.names == columns("tls")


@pytest.mark.parametrize("kw, fragment", [
    ({"kind": "smtp"}, "unknown kind 'smtp'"),
    ({"date_from": date(2025, 1, 2), "date_to": date(2025, 1, 1)}, "is after"),
    ({"fmt": "xml"}, "'xml' is not one of csv, json, jsonl, parquet"),
    ({"fmt": "parquet"}, "needs --out"),
])
def test_export_errors(store, kw, fragment):
    kw.setdefault("fmt", "csv")
    with pytest.raises(QueryError, match=fragment):
        export(store / "data", enricher=FakeEnricher, stdout=io.BytesIO(), **kw)


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------

def run(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TAKEDOWN, "events", *args], capture_output=True, text=True, timeout=120, cwd=store)


def test_cli_sql_and_export(store):
    rows = rows_of(store)
    out = run(store, "sql", "op.toml", "SELECT kind, count(*) AS n FROM events GROUP BY kind", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert {r["kind"]: int(r["n"]) for r in csv.DictReader(io.StringIO(out.stdout))} == Counter(
        r["kind"] for r in rows)
    out = run(store, "export", "op.toml", "--kind", "dns", "--from", "2024-12-20", "--to", "2024-12-20",
              "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    got = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(got) == sum(r["kind"] == "dns" and r["date"] == date(2024, 12, 20) for r in rows) > 0
    # enriched by the operation's enricher, the shipped data
    from takedown.enrich.choice import make_enricher

    ips = sorted({g["src_ip"] for g in got})
    known = make_enricher().lookup(pa.array(ips)).to_pylist()
    assert {(g["src_ip"], g["cc"], g["asn"]) for g in got} == {(ip, k["cc"], k["asn"]) for ip, k in zip(ips, known)}


@pytest.mark.parametrize("args, fragment", [
    (["sql", "op.toml", "SELEC kind FROM events"], "Parser Error"),
    (["sql", "op.toml", "SELECT * FROM bots"], "Table with name bots does not exist"),
    (["sql", "op.toml", "SELECT nope FROM checkins"], "Binder Error"),
    (["sql", "op.toml", "COPY (SELECT 1) TO 'x.csv'"], "not COPY"),
    (["sql", "op.toml", "SELECT 1", "--format", "parquet"], "needs --out"),
    (["sql", "op.toml", "SELECT 1", "--max-rows", "0"], "--max-rows"),
    (["export", "op.toml", "--from", "2024-12-32"], "--from: '2024-12-32' is not a date"),
    (["export", "op.toml", "--to", "yesterday"], "--to: 'yesterday' is not a date"),
    (["export", "op.toml", "--from", "2024-12-20", "--to", "2024-12-19"], "is after"),
    (["export", "op.toml", "--kind", "DNS"], "unknown kind 'DNS'"),
    (["export", "op.toml", "--out", "data/events/x.csv"], "inside the operation's event store"),
])
def test_cli_errors_are_one_line(store, args, fragment):
    out = run(store, *args)
    assert out.returncode == 1, out.stdout
    assert out.stderr.startswith("Error: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert fragment in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_reader_that_stops_early_is_no_error(store):
    proc = subprocess.Popen([TAKEDOWN, "events", "sql", "op.toml", "SELECT range FROM range(2000000)",
                             "--format", "csv"], cwd=store, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b'"range"\n'
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


def test_big_outputs_stream_in_bounded_memory(store, tmp_path):
    """JSON Lines written by a process that never holds them: its peak RSS
    (the kernel's, for that one child) does not grow with the output. Four
    times the rows (800 MB against 200 MB) may not cost 1.5 times the
    memory. (Absolute peaks: 270-370 MB alone, up to 850 MB on a loaded
    machine, where DuckDB's producers run ahead of a slow writer: so the test
    compares two runs on the same machine, not a fixed figure.)"""

    def run(rows: int) -> tuple[int, int]:
        out = tmp_path / f"big-{rows}.jsonl"
        proc = subprocess.Popen([TAKEDOWN, "events", "sql", "op.toml",
                                 f"SELECT range AS n, repeat('x', 380) AS pad FROM range({rows})",
                                 "--format", "jsonl", "--out", str(out)], cwd=store, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
        size = out.stat().st_size
        with out.open("rb") as f:
            assert json.loads(f.readline()) == {"n": 0, "pad": "x" * 380}
            f.seek(size - 500)
            assert json.loads(f.read().splitlines()[-1]) == {"n": rows - 1, "pad": "x" * 380}
        out.unlink()
        return size, usage.ru_maxrss * 1024

    small_size, small_peak = run(500_000)
    size, peak = run(2_000_000)
    assert size > 800_000_000 and size > 3.9 * small_size
    assert peak < 1.5 * small_peak, f"peak RSS {peak / 1e6:.0f} MB for {size / 1e6:.0f} MB written, " \
                                    f"{small_peak / 1e6:.0f} MB for {small_size / 1e6:.0f} MB"
