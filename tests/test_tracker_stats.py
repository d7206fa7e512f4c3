"""``takedown tracker stats``: the counts over a list of indicators (by
hand), the same counts made by the database in SQL (SQLite here, through
a table with the store's columns; PostgreSQL through the store's fixture
once it is merged), summary.json, the charts and the terminal tables."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from rich.console import Console

from takedown.errors import TrackerError
from takedown.tracker import stats
from takedown.tracker.indicator import STATUSES, Indicator

TAKEDOWN = str(Path(sys.executable).with_name("takedown"))
T0 = datetime(2026, 12, 21, 10, 0, tzinfo=timezone.utc)  # Monday of ISO week 2026-W52


def small() -> list[Indicator]:
    def i(value, family, status, cc, asn, days):
        return Indicator.new(value, family, status=status, country=cc, asn=asn,
                             as_name={64500: "EXAMPLE-HOST", 64501: "OTHER-NET"}.get(asn),
                             first_seen=T0 + timedelta(days=days))
    return [
        i("a.example", "zeus", "online", "RU", 64500, 0),
        i("b.example", "zeus", "online", "RU", 64500, 1),
        i("c.example", "zeus", "sinkholed", "US", 64501, 8),   # 2026-W53 (2026 has 53 ISO weeks)
        i("192.0.2.1:443", "zeus", "offline", "RU", 64500, 15),  # 2027-W01
        i("d.example", "feodo", "seized", None, None, 29),     # 2027-W03, W02 has none
        i("http://e.example/gate.php", "feodo", "online", "UA", 64502, 29),
    ]


def test_collect_counts_by_hand():
    s = stats.collect(small()).summary(T0)
    assert s["total"] == 6
    assert s["by_status"] == {"online": 3, "offline": 1, "sinkholed": 1, "seized": 1, "unknown": 0}
    assert s["families"] == [
        {"family": "zeus", "online": 2, "offline": 1, "sinkholed": 1, "seized": 0, "unknown": 0, "total": 4},
        {"family": "feodo", "online": 1, "offline": 0, "sinkholed": 0, "seized": 1, "unknown": 0, "total": 2},
    ]
    assert [(r["asn"], r["as_name"], r["total"], r["online"]) for r in s["ases"]] == [
        (64500, "EXAMPLE-HOST", 3, 2), (64501, "OTHER-NET", 1, 0), (64502, None, 1, 1), (None, None, 1, 0)]
    assert [(r["country"], r["total"]) for r in s["countries"]] == [("RU", 3), ("UA", 1), ("US", 1), (None, 1)]
    assert s["weeks"] == [{"week": "2026-W52", "new": 2}, {"week": "2026-W53", "new": 1},
                          {"week": "2027-W01", "new": 1}, {"week": "2027-W02", "new": 0},
                          {"week": "2027-W03", "new": 2}]
    assert s["generated"] == "2026-12-21T10:00:00Z"


def test_top_cuts_rows():
    s = stats.collect(small()).summary(T0, top=1)
    assert [r["family"] for r in s["families"]] == ["zeus"]
    assert [r["asn"] for r in s["ases"]] == [64500]


def test_empty():
    s = stats.collect([]).summary()
    assert s["total"] == 0 and s["families"] == [] and s["weeks"] == []


def generated(n: int, seed: int = 7) -> list[Indicator]:
    rnd = random.Random(seed)
    ases = [(64500 + k, f"AS-NAME-{k}") for k in range(12)] + [(None, None)]
    out = []
    for k in range(n):
        asn, name = rnd.choice(ases)
        out.append(Indicator.new(f"h{k}.c2.example", rnd.choice(["zeus", "feodo", "emotet", "qakbot"]),
                                 status=rnd.choice(STATUSES), asn=asn, as_name=name,
                                 country=rnd.choice(["RU", "US", "NL", "DE", "UA", None]),
                                 first_seen=T0 + timedelta(seconds=rnd.randrange(0, 90 * 86400))
                                 if rnd.random() > 0.05 else None))
    return out


def indicators_table(conn: sa.Connection, indicators: list[Indicator], times: str = "epoch") -> sa.Table:
    """A table of indicators with the columns stats reads: times as Unix
    seconds (``epoch``: the store's schema) or as SQL timestamps (``naive``)."""
    md = sa.MetaData()
    epoch = times == "epoch"
    table = sa.Table("indicators", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("value", sa.String(2048), unique=True), sa.Column("family", sa.String(128)),
                     sa.Column("status", sa.String(16)), sa.Column("asn", sa.BigInteger), sa.Column("as_name", sa.Text),
                     sa.Column("country", sa.String(2)),
                     sa.Column("first_seen", sa.BigInteger if epoch else sa.DateTime))

    def when(t):
        if t is None:
            return None
        return int(t.timestamp()) if epoch else t.replace(tzinfo=None)

    md.create_all(conn)
    conn.execute(table.insert(), [
        {"value": i.value, "family": i.family, "status": i.status, "asn": i.asn, "as_name": i.as_name,
         "country": i.country, "first_seen": when(i.first_seen)} for i in indicators])
    conn.commit()
    return table


@pytest.mark.parametrize("times", ["epoch", "naive"])
def test_sql_counts_equal_python_counts_sqlite(tmp_path, times):
    data = generated(3000)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.sqlite'}")
    with engine.connect() as conn:
        table = indicators_table(conn, data, times)
        by_sql = stats.collect_sql(conn, table).summary(T0, top=100)
    by_python = stats.collect(data).summary(T0, top=100)
    assert by_sql == by_python
    assert by_sql["total"] == 3000 and len(by_sql["weeks"]) >= 13


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stats_through_the_store(backend, tmp_path, request):
    """The counts of a real store, on SQLite and PostgreSQL (the store's
    private server, fixture ``postgres``), equal those made in Python; and
    the command over it."""
    from takedown.tracker import store
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"stats_{os.getpid()}_{tmp_path.name[-12:]}")
    data = generated(2000)
    with store.Tracker.open(url, enricher=False) as tracker:
        tracker.add(data, by="test")
        kept = list(tracker.select())  # as stored (first_seen: the store's rule for an absent one)
        assert stats.collect_store(tracker).summary(T0, top=100) == stats.collect(kept).summary(T0, top=100)
    p = subprocess.run([TAKEDOWN, "tracker", "stats", "--db", url, "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "C&Cs by family (2,000 tracked)" in p.stdout
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["total"] == 2000


class StoreStandIn:
    """What collect_store uses of takedown.tracker.store.Tracker: its engine."""

    def __init__(self, engine):
        self.engine = engine


def test_collect_store_reads_the_indicators_table(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.sqlite'}")
    with engine.connect() as conn:
        indicators_table(conn, small())
    assert stats.collect_store(StoreStandIn(engine)).summary(T0) == stats.collect(small()).summary(T0)
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(TrackerError, match="^tracker stats: "):
        stats.collect_store(StoreStandIn(empty))


def test_write_stats_summary_and_charts(tmp_path):
    out = tmp_path / "stats"
    summary = stats.write_stats(stats.collect(generated(400)), out, T0)
    assert json.loads((out / "summary.json").read_text()) == summary
    for stem in ("status_by_family", "top_ases", "top_countries", "new_per_week"):
        with Image.open(out / f"{stem}.png") as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 150
        assert (out / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    # the same data draws the same bytes (charts are versioned beside reports)
    again = tmp_path / "again"
    stats.write_stats(stats.collect(generated(400)), again, T0)
    assert (again / "top_ases.png").read_bytes() == (out / "top_ases.png").read_bytes()
    # an empty tracker still draws every chart
    stats.write_stats(stats.collect([]), tmp_path / "empty", T0)
    assert (tmp_path / "empty" / "new_per_week.png").stat().st_size > 0


def test_write_stats_refuses_an_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrackerError, match="--out: cannot make"):
        stats.write_stats(stats.collect(small()), tmp_path / "file" / "stats", T0)


def test_tables():
    console = Console(width=120, record=True)
    for table in stats.tables(stats.collect(small()).summary(T0)):
        console.print(table)
    text = console.export_text()
    assert "C&Cs by family (6 tracked)" in text
    assert "AS64500" in text and "EXAMPLE-HOST" in text
    assert "2027-W02" in text
    fam = next(line for line in text.splitlines() if "zeus" in line)
    # columns: online, offline, sinkholed, seized (unknown is empty everywhere: left out), total
    assert [c.strip() for c in fam.split("│")[1:-1]] == ["zeus", "2", "1", "1", "0", "4"]
