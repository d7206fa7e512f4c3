"""The tracker's store (takedown.tracker.store, db, schema, migrations) on
SQLite and on a real PostgreSQL server (the ``tracker_url`` fixture of
conftest.py runs each test on both): the upsert and its merge rules, the
history, revisions, enrichment at write time, streamed selection, export
serials, schema revisions (new, older, newer, foreign databases), and the
command line's import and export (tests/test_tracker_cli.py runs the
command as a user does)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from takedown.enrich import Enricher
from takedown.errors import TrackerError
from takedown.tracker import db, formats
from takedown.tracker.indicator import Indicator
from takedown.tracker.publish import export_selection
from takedown.tracker.store import Tracker, ip_host

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)

# addresses of the documentation ranges (RFC 5737, RFC 3849) with made-up owners
RANGES = [("192.0.2.0", "192.0.2.255", "NL", 64500, "TEST-NET-1 Hosting"),
          ("198.51.100.0", "198.51.100.255", "RU", 64501, "Bulletproof Ltd"),
          ("2001:db8::", "2001:db8::ffff", "DE", 64502, "V6 Net")]


@pytest.fixture
def tracker(tracker_url):
    t = Tracker.open(tracker_url, enricher=Enricher.from_ranges(RANGES))
    yield t
    t.close()


def ind(value: str, family: str = "zeus", **kw) -> Indicator:
    return Indicator.new(value, family, **kw)


def test_add_keeps_every_field_and_writes_the_creation_to_the_history(tracker):
    r = tracker.add([ind("C2.Evil.Example.", status="online", first_seen=T0, last_seen=T0 + H, last_online=T0 + H,
                         last_checked=T0 + 2 * H, asn=64999, as_name="Given AS", country="FR", source="feodo",
                         confidence=90, tags=("banker", "p2p", "banker"), notes="from a partner", checkins=7)],
                    by="test", reason="case 1", at=T0 + 3 * H)
    assert r.added == 1 and r.updated == r.unchanged == 0
    got = tracker.get("c2.evil.example")
    assert got == Indicator("c2.evil.example", "domain", "zeus", "online", T0, T0 + H, T0 + H, T0 + 2 * H, 64999,
                            "Given AS", "FR", "feodo", 90, ("banker", "p2p"), "from a partner", 7, got.id, 1,
                            T0 + 3 * H)
    assert isinstance(got.id, int)
    (c,) = tracker.history("C2.EVIL.example")
    assert (c.value, c.at, c.old, c.new, c.by, c.reason) == ("c2.evil.example", T0 + 3 * H, None, "online", "test",
                                                            "case 1")
    assert tracker.get("other.example") is None


def test_get_many_is_get_for_many_values(tracker):
    values = [f"c{i}.example" for i in range(4500)] + ["192.0.2.7:443", "http://198.51.100.9/gate.php"]
    tracker.add([ind(v) for v in values], by="test", at=T0)
    # more values than one IN (...) takes, written as a feed would, repeated, and some not tracked
    asked = [v.upper() + "." if v.endswith(".example") else v for v in values] + ["c0.example", "nope.example"]
    got = tracker.get_many(asked)
    assert set(got) == set(values)
    assert all(got[v] == tracker.get(v) for v in ("c0.example", "c4499.example", "192.0.2.7:443",
                                                  "http://198.51.100.9/gate.php"))
    assert tracker.get_many([]) == {} and tracker.get_many(["nope.example"]) == {}


def test_a_new_indicator_without_times_is_seen_now(tracker):
    tracker.add([ind("a.example")], by="test", at=T0)
    got = tracker.get("a.example")
    assert got.first_seen == got.last_seen == got.updated == T0
    assert got.last_online is None and got.last_checked is None and got.status == "unknown"


def test_merge_rules_when_added_again(tracker):
    tracker.add([ind("m.example", "zeus", status="online", first_seen=T0, last_seen=T0, source="a",
                     confidence=80, tags=("x",), notes="first")], by="feed", at=T0)
    before = tracker.get("m.example")
    # unknown status and family, default confidence, empty source/notes: nothing replaced
    r = tracker.add([ind("m.example", "unknown", first_seen=T0 + H)], by="feed", at=T0 + H)
    got = tracker.get("m.example")
    assert (got.status, got.family, got.confidence, got.source, got.notes) == ("online", "zeus", 80, "a", "first")
    assert got.first_seen == T0  # the earliest
    assert got.last_seen == T0 + H  # no sighting time given: the time it was added again
    assert got.revision == before.revision and got.updated == before.updated  # only a sighting time moved
    assert r.updated == 1 and r.status_changes == 0
    # everything given replaces, tags are the union, an earlier first sighting wins
    r = tracker.add([ind("m.example", "citadel", status="offline", first_seen=T0 - 5 * H, last_seen=T0 + 9 * H,
                         last_online=T0 + 8 * H, source="b", confidence=30, tags=("y", "x"), notes="second",
                         checkins=12)], by="feed2", reason="f2.csv", at=T0 + 10 * H)
    got = tracker.get("m.example")
    assert (got.status, got.family, got.confidence, got.source, got.notes, got.checkins) == (
        "offline", "citadel", 30, "b", "second", 12)
    assert got.tags == ("x", "y")
    assert (got.first_seen, got.last_seen, got.last_online) == (T0 - 5 * H, T0 + 9 * H, T0 + 8 * H)
    assert got.revision == before.revision + 1 and got.updated == T0 + 10 * H
    assert r.status_changes == 1
    h = tracker.history("m.example")
    assert [(c.old, c.new, c.by, c.reason) for c in h] == [(None, "online", "feed", ""),
                                                           ("online", "offline", "feed2", "f2.csv")]
    # the same again: nothing changes at all
    r = tracker.add([ind("m.example", "citadel", status="offline", last_seen=T0)], by="feed", at=T0)
    assert (r.added, r.updated, r.unchanged) == (0, 0, 1)
    assert tracker.get("m.example") == got


def test_a_value_twice_in_one_batch_is_merged_in_order(tracker):
    r = tracker.add([ind("d.example", status="online", tags=("a",)), ind("D.example.", status="seized", tags=("b",))],
                    by="t", at=T0)
    assert (r.added, r.updated, r.status_changes) == (1, 1, 1)
    got = tracker.get("d.example")
    assert got.status == "seized" and got.tags == ("a", "b") and got.revision == 2
    assert [(c.old, c.new) for c in tracker.history("d.example")] == [(None, "online"), ("online", "seized")]


def test_set_status_records_who_when_why(tracker):
    tracker.add([ind("s.example", status="online")], by="t", at=T0)
    c = tracker.set_status("S.example", "seized", by="cli", reason="court order 12-345", at=T0 + H,
                           detail={"registrar": "X"})
    assert (c.value, c.old, c.new, c.at, c.detail) == ("s.example", "online", "seized", T0 + H, {"registrar": "X"})
    assert tracker.set_status("s.example", "seized", by="cli") is None  # no change, no row
    got = tracker.get("s.example")
    assert got.status == "seized" and got.revision == 2 and got.updated == T0 + H
    last = tracker.history("s.example")[-1]
    assert (last.by, last.reason, last.detail) == ("cli", "court order 12-345", {"registrar": "X"})
    with pytest.raises(TrackerError, match="not tracked"):
        tracker.set_status("missing.example", "seized", by="cli")
    with pytest.raises(TrackerError, match="unknown status 'gone'"):
        tracker.set_status("s.example", "gone", by="cli")


def test_record_check_history_and_enrichment_from_the_address(tracker):
    tracker.add([ind("chk.example", status="unknown")], by="t", at=T0)
    c = tracker.record_check("chk.example", at=T0 + H, online=True, reason="TCP 443 connected", address="198.51.100.7")
    assert (c.old, c.new, c.by, c.detail) == ("unknown", "online", "check", {"online": True, "address": "198.51.100.7"})
    got = tracker.get("chk.example")
    assert (got.last_checked, got.last_online, got.status) == (T0 + H, T0 + H, "online")
    assert (got.asn, got.as_name, got.country) == (64501, "Bulletproof Ltd", "RU")
    rev = got.revision
    # a check that finds it as it was is still in the history, not in the changes feed
    tracker.record_check("chk.example", at=T0 + 2 * H, online=True, reason="again", address="198.51.100.7")
    assert tracker.get("chk.example").revision == rev
    assert [c.reason for c in tracker.history("chk.example")] == ["", "TCP 443 connected", "again"]
    assert [(c.old, c.new) for c in tracker.changes()] == [("unknown", "online"), (None, "unknown")]
    # the checker decides the status when it is not plain online/offline
    c = tracker.record_check("chk.example", at=T0 + 3 * H, online=True, reason="answers from our sinkhole",
                             status="sinkholed")
    got = tracker.get("chk.example")
    assert (c.new, got.status, got.last_online) == ("sinkholed", "sinkholed", T0 + 3 * H)
    tracker.record_check("chk.example", at=T0 + 4 * H, online=False, reason="refused")
    got = tracker.get("chk.example")
    assert (got.status, got.last_online, got.last_checked) == ("offline", T0 + 3 * H, T0 + 4 * H)


def test_enrichment_at_write_time_for_ips_and_ip_urls(tracker):
    tracker.add([ind("192.0.2.10:8080"), ind("[2001:db8::5]:443"), ind("http://198.51.100.3/gate.php"),
                 ind("https://[2001:db8::9]:8443/x"), ind("dom.example"), ind("http://host.example/p"),
                 ind("203.0.113.1"), ind("192.0.2.11", asn=1, as_name="Said By Source", country="US")],
                by="t", at=T0)
    got = {v: (i.asn, i.as_name, i.country) for v in ("192.0.2.10:8080", "[2001:db8::5]:443",
                                                       "http://198.51.100.3/gate.php", "https://[2001:db8::9]:8443/x",
                                                       "dom.example", "http://host.example/p", "203.0.113.1",
                                                       "192.0.2.11") if (i := tracker.get(v))}
    assert got == {"192.0.2.10:8080": (64500, "TEST-NET-1 Hosting", "NL"),
                   "[2001:db8::5]:443": (64502, "V6 Net", "DE"),
                   "http://198.51.100.3/gate.php": (64501, "Bulletproof Ltd", "RU"),
                   "https://[2001:db8::9]:8443/x": (64502, "V6 Net", "DE"),
                   "dom.example": (None, None, None), "http://host.example/p": (None, None, None),
                   "203.0.113.1": (None, None, None),
                   "192.0.2.11": (1, "Said By Source", "US")}


@pytest.mark.parametrize("value,kind,host", [
    ("1.2.3.4", "ip", "1.2.3.4"), ("1.2.3.4:443", "ip", "1.2.3.4"), ("[2001:db8::1]:53", "ip", "2001:db8::1"),
    ("2001:db8::1", "ip", "2001:db8::1"), ("http://u:p@1.2.3.4:8080/x", "url", "1.2.3.4"),
    ("http://[2001:db8::1]/x", "url", "2001:db8::1"), ("http://a.example/1.2.3.4", "url", None),
    ("http://host1/x", "url", None), ("a.example", "domain", None)])
def test_ip_host(value, kind, host):
    assert ip_host(value, kind) == host


def test_select_filters_and_order(tracker):
    tracker.add([ind("a.example", "zeus", status="online"), ind("192.0.2.1", "feodo", status="online"),
                 ind("http://b.example/x", "zeus", status="offline"), ind("c.example", "feodo", status="seized")],
                by="t", at=T0)
    tracker.record_check("a.example", at=T0 + 2 * H, online=True)
    tracker.record_check("c.example", at=T0 - H, online=False, status="seized")

    def vals(**kw):
        return [i.value for i in tracker.select(**kw)]

    assert vals() == ["a.example", "192.0.2.1", "http://b.example/x", "c.example"]
    assert vals(family="zeus") == ["a.example", "http://b.example/x"]
    assert vals(status=["online", "seized"], family="feodo") == ["192.0.2.1", "c.example"]
    assert vals(kind="url") == ["http://b.example/x"]
    assert vals(kind=("domain", "ip"), status="online") == ["a.example", "192.0.2.1"]
    assert vals(stale_before=T0 + H) == ["192.0.2.1", "http://b.example/x", "c.example"]
    assert tracker.count(family="feodo") == 2 and tracker.count() == 4
    with pytest.raises(TrackerError, match="unknown status"):
        tracker.select(status="nope")  # checked when called, not when first read


def test_select_streams_in_pages_and_holds_no_lock(tracker):
    tracker.add((ind(f"n{i}.example", status="online") for i in range(95)), by="t", at=T0, batch=20)
    seen = []
    for i in tracker.select(page=10):
        seen.append(i.id)
        if len(seen) == 15:  # a write while the selection is being read: no lock is held between pages
            tracker.set_status("n0.example", "offline", by="t")
    assert len(seen) == 95 and seen == sorted(seen)
    assert tracker.count(status="offline") == 1


def test_select_memory_is_bounded_by_the_page(tracker):
    """Streaming a selection holds a page, not the whole: its peak memory is
    a small part of what the same rows take when read whole."""
    import tracemalloc

    tracker.add((Indicator(f"mem{i}.example", "domain", "zeus", "online", notes="x" * 200) for i in range(20_000)),
                by="t", at=T0)

    def peak(run) -> int:
        tracemalloc.start()
        try:
            run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed = peak(lambda: sum(1 for _ in tracker.select(page=500)))
    whole = peak(lambda: len(list(tracker.select(page=20_000))))
    assert streamed * 8 < whole, (streamed, whole)


def test_large_batches_count_and_history(tracker):
    n = 12_345
    statuses = ("online", "offline", "unknown")
    r = tracker.add((Indicator(f"h{i}.example", "domain", "zeus", statuses[i % 3]) for i in range(n)), by="bulk",
                    at=T0, batch=5_000)
    assert r.added == n
    with tracker.engine.connect() as c:  # each creation row is its own indicator's
        assert c.execute(text("SELECT count(*) FROM indicators i JOIN changes c ON c.indicator_id = i.id "
                              "WHERE c.old IS NULL AND c.new = i.status")).scalar() == n
    assert [h.new for h in tracker.history("h4.example")] == ["offline"]
    r = tracker.add((Indicator(f"h{i}.example", "domain", "zeus", "seized" if i % 2 else "online")
                     for i in range(0, n, 3)), by="bulk", at=T0)  # every third was online
    changed = len(range(3, n, 6))  # the odd ones among every third
    assert (r.updated, r.unchanged, r.status_changes) == (changed, len(range(0, n, 3)) - changed, changed)
    assert tracker.count(status="seized") == changed
    with tracker.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM changes")).scalar() == n + changed


def test_a_value_added_by_another_writer_meanwhile_is_merged(tracker, monkeypatch):
    """Two imports at once: the other one inserts a value between this one's
    SELECT and INSERT; the unique value refuses the INSERT and the batch is
    done again, merging with the other's row."""
    from takedown.tracker import store

    tracker.add([ind("race.example", status="online", tags=("theirs",))], by="other", at=T0)
    real, hidden = store._rows_of, []

    def first_read_misses_it(conn, columns, values):
        rows = list(real(conn, columns, values))
        if not hidden and columns == store._COLUMNS:
            hidden.append(True)
            return iter(r for r in rows if r["value"] != "race.example")
        return iter(rows)

    monkeypatch.setattr(store, "_rows_of", first_read_misses_it)
    r = tracker.add([ind("race.example", status="seized", tags=("ours",)), ind("fresh.example")], by="me", at=T0 + H)
    assert hidden and (r.added, r.updated, r.status_changes) == (1, 1, 1)
    got = tracker.get("race.example")
    assert got.status == "seized" and got.tags == ("theirs", "ours")
    assert [(c.old, c.new, c.by) for c in tracker.history("race.example")] == [(None, "online", "other"),
                                                                             ("online", "seized", "me")]
    assert tracker.count() == 2


def test_next_serial_increases_per_format(tracker):
    a = tracker.next_serial("rpz", now=T0)
    assert a >= int(T0.timestamp())
    b = tracker.next_serial("rpz", now=T0)
    c = tracker.next_serial("rpz", now=T0 - H)  # a clock set back does not make it go down
    assert a < b < c
    assert tracker.next_serial("suricata", now=T0) == int(T0.timestamp())


def test_migrations_build_exactly_the_schema(tracker_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sqlalchemy import MetaData

    from takedown.case.history import metadata as case_metadata
    from takedown.case.sendings import metadata as sendings_metadata
    from takedown.console.schema import metadata as console_metadata
    from takedown.tracker.schema import metadata as tracker_metadata

    # the one database holds the tracker's, the console's and the case's tables
    metadata = MetaData()
    for table in (*tracker_metadata.tables.values(), *console_metadata.tables.values(),
                  *case_metadata.tables.values(), *sendings_metadata.tables.values()):
        table.to_metadata(metadata)
    engine = db.open_engine(tracker_url)
    db.ensure_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_newer_database_is_refused(tracker_url):
    Tracker.open(tracker_url).close()
    engine = create_engine(db.open_engine(tracker_url).url)
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9001'"))
    engine.dispose()
    with pytest.raises(TrackerError, match=rf"at revision 9001, newer than this takedown \(head {db.head()}\)"):
        Tracker.open(tracker_url)
    with pytest.raises(TrackerError, match="newer"):
        db.upgrade(db.open_engine(tracker_url))


def test_older_database_needs_upgrade_then_keeps_its_rows(tracker_url):
    from alembic import command

    engine = db.open_engine(tracker_url)
    with engine.begin() as conn:
        command.upgrade(db._config(conn), "0001")
        conn.execute(text("INSERT INTO indicators (value, kind, family, status, source, confidence, tags, notes, "
                          "revision) VALUES ('old.example', 'domain', 'zeus', 'seized', '', 50, '[]', '', 1)"))
    with pytest.raises(TrackerError, match=r"revision 0001, older than this takedown.*run `takedown db upgrade`"):
        Tracker.open(tracker_url)
    assert db.upgrade(engine) == ("0001", db.head())
    assert db.upgrade(engine) == (db.head(), db.head())
    engine.dispose()
    with Tracker.open(tracker_url) as t:
        assert t.get("old.example").status == "seized"
        assert t.next_serial("rpz") > 0


def test_a_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(TrackerError, match="has tables but no tracker revision"):
        Tracker.open(f"sqlite:///{path}")


def test_unopenable_databases_are_one_line(tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    for url, msg in [(f"sqlite:///{tmp_path}/dir.sqlite", "cannot use the tracker database"),
                     ("postgresql://nobody@127.0.0.1:1/x", "cannot use the tracker database postgresql"),
                     ("mysql://a@b/c", "only sqlite:/// and postgresql:// are supported"),
                     ("postgresql://u:secret@127.0.0.1:1/x", "postgresql://u:\\*\\*\\*@127.0.0.1:1/x")]:
        with pytest.raises(TrackerError, match=msg) as e:
            Tracker.open(url)
        assert "\n" not in str(e.value) and "secret" not in str(e.value)


def test_sqlite_is_wal_with_foreign_keys(tmp_path):
    with Tracker.open(f"sqlite:///{tmp_path}/w.sqlite") as t, t.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_resolve_url():
    assert db.resolve_url("postgresql://a@h/d") == "postgresql://a@h/d"
    assert db.resolve_url("rel/t.sqlite").startswith("sqlite:////") and db.resolve_url("rel/t.sqlite").endswith(
        "/rel/t.sqlite")
    assert db.resolve_url(None, Path("/srv/op")) == "sqlite:////srv/op/tracker.sqlite"
    with pytest.raises(TrackerError, match="give --db URL or --operation FILE"):
        db.resolve_url(None, None)


# --- a round trip through a format, with a format local to this test ---------

def _read_tsv(path: Path, skipped=None):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 5:
            raise TrackerError(f"{path}:{n}: expected 5 tab-separated fields")
        value, family, status, tags, seen = fields
        yield Indicator.new(value, family, what=f"{path}:{n}", status=status, tags=tuple(filter(None, tags.split(","))),
                            first_seen=datetime.fromisoformat(seen), last_seen=datetime.fromisoformat(seen))


def _write_tsv(indicators, ctx, f) -> int:
    n = 0
    for i in indicators:
        f.write(f"{i.value}\t{i.family}\t{i.status}\t{','.join(i.tags)}\t{i.first_seen.isoformat()}\n".encode())
        n += 1
    f.write(f"# serial {ctx.serial} sinkhole {ctx.sinkhole_v4} changes {len(ctx.changes)} "
            f"{json.dumps(ctx.params)}\n".encode())
    return n


@pytest.fixture
def tsv_format(monkeypatch):
    fmt = formats.Format("test-tsv", "a test's own format", read=_read_tsv, write=_write_tsv)
    monkeypatch.setattr(formats, "_FORMATS", {**formats._load(), "test-tsv": fmt})
    return fmt


def test_cli_import_and_export_round_trip(tracker_url, tsv_format, tmp_path):
    from takedown.cli import app

    feed = tmp_path / "feed.tsv"
    feed.write_text("a.example\tzeus\tonline\tbanker\t2026-01-02T03:04:05+00:00\n"
                    "192.0.2.7:443\tfeodo\tseized\t\t2026-01-03T00:00:00+00:00\n")
    runner = CliRunner()
    r = runner.invoke(app, ["tracker", "import", str(feed), "--format", "test-tsv", "--db", tracker_url])
    assert r.exit_code == 0, r.output
    assert f"imported 2 indicator(s) from {feed}: 1 domain, 1 ip" in r.output
    out = tmp_path / "out.tsv"
    r = runner.invoke(app, ["tracker", "export", "--format", "test-tsv", "--out", str(out), "--db", tracker_url,
                            "--param", "x=1", "--status", "online", "--status", "seized"])
    assert r.exit_code == 0, r.output
    assert f"wrote 2 indicator(s) to {out} (test-tsv, serial " in r.output
    lines = out.read_text().splitlines()
    assert lines[:2] == feed.read_text().splitlines()
    assert lines[2].startswith("# serial ") and lines[2].endswith('sinkhole None changes 2 {"x": "1"}')
    # with an operation, exports point sunk names at its sinkhole
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples", tmp_path / "ex")
    r = runner.invoke(app, ["tracker", "export", "--format", "test-tsv", "--out", str(out), "--db", tracker_url,
                            "--operation", str(tmp_path / "ex" / "operation.toml")])
    assert r.exit_code == 0, r.output
    assert " sinkhole 192.0.2.53 changes 2 {}" in out.read_text()
    # the import is in the history as the format and the file
    with Tracker.open(tracker_url) as t:
        (c,) = t.history("a.example")
        assert (c.by, c.reason) == ("import:test-tsv", "imported from feed.tsv")
        again = export_selection(t, "test-tsv", tmp_path / "again.tsv", family="feodo")
    assert again.count == 1 and again.serial > int(lines[2].split()[2])
    bad = tmp_path / "bad.tsv"
    bad.write_text("a.example\tzeus\n")
    with Tracker.open(tracker_url) as t, pytest.raises(TrackerError, match=f"{bad}:1: expected 5"):
        t.add(_read_tsv(bad), by="t")


# --- the formats of main, on the store ---------------------------------------

def _mixed() -> list[Indicator]:
    out = []
    for i in range(12):
        out += [ind(f"c{i}.zeus-cnc.example", "zeus", status=("online", "seized", "sinkholed")[i % 3],
                    first_seen=T0 - i * H, last_seen=T0, tags=("banker",), source="feed", confidence=75),
                ind(f"192.0.2.{i + 1}:{443 + i}", "feodo", status=("online", "offline")[i % 2], first_seen=T0 - H,
                    last_seen=T0, last_online=T0 - H, notes="n"),
                ind(f"http://198.51.100.{i + 1}/gate{i}.php", "emotet", status="offline", first_seen=T0, last_seen=T0,
                    last_checked=T0 + H)]
    return out


def test_every_writable_format_exports_from_the_store(tracker, tmp_path):
    tracker.add(_mixed(), by="t", at=T0 + 2 * H)
    for name in formats.names(writable=True):
        done = export_selection(tracker, name, tmp_path / f"out-{name}", sinkhole_v4="192.0.2.53",
                                sinkhole_v6="2001:db8::53", now=T0 + 3 * H)
        assert done.count > 0, name
        assert (tmp_path / f"out-{name}").exists(), name
    assert tracker.next_serial("rpz", now=T0) > int(T0.timestamp())


def test_own_format_round_trip_through_two_stores(tracker, tmp_path):
    """Export to takedown's JSON Lines and import into another store: every
    field the store keeps is the same (id, revision and updated are each
    store's own)."""
    tracker.add(_mixed(), by="t", at=T0 + 2 * H)
    export_selection(tracker, "jsonl", tmp_path / "all.jsonl")
    with Tracker.open(f"sqlite:///{tmp_path / 'other.sqlite'}", enricher=Enricher.from_ranges(RANGES)) as other:
        other.add(formats.get("jsonl", reading=True).read(tmp_path / "all.jsonl"), by="import:jsonl", at=T0 + 5 * H)
        strip = dict(id=None, revision=0, updated=None)
        theirs = [dataclasses.replace(i, **strip) for i in other.select()]
    ours = [dataclasses.replace(i, **strip) for i in tracker.select()]
    assert len(ours) == 36 and ours == theirs
