"""The tracker from the operation (seized lists, DGA names due, zones'
blocklists) and from the sinkhole's events (DNS queries, HTTP Host and TLS
SNI check-ins per tracked domain), written through a store.

The events are written with the project's own segment writer; the counts
expected are computed here from the list of events the test wrote. The store
is a dict behind the API takedown.tracker.store.Tracker offers (get, add,
select): the store itself is tested with its own module.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import takedown.tracker.ingest as ingest
import takedown.tracker.sync as sync
from takedown.dga import get
from takedown.errors import OperationError, StoreError
from takedown.events import DNS_ROW
from takedown.operation import load_operation
from takedown.store.checkins import template
from takedown.store.segments import SegmentWriter
from takedown.tracker.indicator import Indicator
from takedown.tracker.sync import (apply_events, apply_operation, from_operation, merged, sightings, sinkholed)

from net_helpers import operation_text
from test_serve import ZONE  # 3322.org, the Nitol zone

DAY = date(2026, 3, 10)  # necurs' 4-day group 2026-03-08..11
NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


BODY = """
[[domains]]
family = "zeus"
file = "zeus.txt"
[[domains]]
family = "waledac"
file = "waledac.txt"
[[zones]]
origin = "3322.org"
file = "3322.org.zone"
blocklist = "3322-block.txt"
family = "nitol"
[[dga]]
family = "necurs"
params = { count = 4 }
days_before = 1
days_after = 2
"""


@pytest.fixture()
def op(tmp_path):
    (tmp_path / "zeus.txt").write_text("# seized under the court order\nzeus-gate.example\nBAD.3322.org.\n")
    (tmp_path / "waledac.txt").write_text("christmas-ecard.example\nzeus-gate.example  # listed twice\n")
    (tmp_path / "3322.org.zone").write_text(ZONE)
    (tmp_path / "3322-block.txt").write_text("pcbot.3322.org\n*.nitol.3322.org\nbad.3322.org\n")
    p = tmp_path / "op.toml"
    p.write_text(operation_text(5353, "b71", BODY))
    return load_operation(p)


def test_from_operation_seized_dga_and_sinkholed(op):
    got = {i.value: i for i in from_operation(op, DAY, NOW)}
    due = {n.lower().rstrip(".") for n in get("necurs").generate(DAY, count=4)}
    assert len(due) == 4
    assert set(got) == {"zeus-gate.example", "bad.3322.org", "christmas-ecard.example",
                        "pcbot.3322.org", "nitol.3322.org"} | due
    z = got["zeus-gate.example"]
    assert (z.kind, z.family, z.status, z.source, z.confidence) == ("domain", "zeus", "seized", "operation:b71", 100)
    assert (z.first_seen, z.last_seen) == (NOW, NOW)
    assert z.notes == "seized: listed in zeus.txt"  # the first list that names it wins
    # a seized name in a taken-over zone is sunk whole: seized, not the zone's sinkholed
    assert (got["bad.3322.org"].status, got["bad.3322.org"].family) == ("seized", "zeus")
    assert got["christmas-ecard.example"].family == "waledac"
    for name in due:
        assert (got[name].status, got[name].family, got[name].tags) == ("seized", "necurs", ("dga",))
        assert got[name].notes == "DGA name of 2026-03-08..2026-03-11, held 2026-03-07..2026-03-13"
    pc, ni = got["pcbot.3322.org"], got["nitol.3322.org"]
    assert (pc.status, pc.family, pc.notes) == ("sinkholed", "nitol", "blocklisted in zone 3322.org")
    assert ni.notes == "blocklisted in zone 3322.org and every name below it"


def test_dga_names_follow_the_day(op):
    names = lambda day: {i.value for i in from_operation(op, day, NOW) if i.tags == ("dga",)}  # noqa: E731
    fam = get("necurs")
    # 2026-03-12: the 08..11 group is held until 13, the 12..15 group is in its period
    assert names(date(2026, 3, 12)) == {n.lower() for d in (DAY, date(2026, 3, 12))
                                        for n in fam.generate(d, count=4)}
    assert names(date(2026, 3, 10)) == {n.lower() for n in fam.generate(DAY, count=4)}


def test_from_operation_reports_a_bad_list(op, tmp_path):
    (tmp_path / "zeus.txt").write_text("ok.example\nnot a name\n")
    with pytest.raises(OperationError, match=r"zeus\.txt:2: "):
        from_operation(op, DAY, NOW)


# --------------------------------------------------------------------------
# The events


def epoch(d: date, seconds: float) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + seconds


SEIZED = "domain:zeus"
BLOCK, PASS = "zone:3322.org:block", "zone:3322.org:pass"

#: (day, kind, name, the DNS rule that answered): DNS queries by qname, HTTP check-ins by Host, TLS by SNI
EVENTS = [
    (DAY, "dns", "zeus-gate.example", SEIZED),
    (DAY, "dns", "zeus-gate.example", SEIZED),
    (DAY, "dns", "www.zeus-gate.example", SEIZED),  # below a tracked name: counts for it
    (DAY, "dns", "ZEUS-GATE.example.", SEIZED),  # case and the final dot are normalised by the writer
    (DAY - timedelta(days=1), "dns", "zeus-gate.example", SEIZED),
    (DAY, "http", "zeus-gate.example", None),
    (DAY, "dns", "update-check.example", "dga:necurs:2026-03-08"),
    (DAY, "http", "update-check.example", None),
    (DAY, "http", "update-check.example", None),
    (DAY, "tls", "tls-c2.example", None),
    (DAY, "dns", "notgate.example", SEIZED),  # shares a suffix string with gate.example, not a label
    (DAY, "dns", "clean.example", SEIZED),
    (DAY, "dns", "quiet.example", "none"),  # refused: anyone may ask any name, not ours
    (DAY, "dns", "pcbot.3322.org", BLOCK),  # counts for pcbot.3322.org, not for the zone
    (DAY, "dns", "x.pcbot.3322.org", BLOCK),
    (DAY, "dns", "www.3322.org", PASS),  # answered from the zone: not sunk
    (DAY - timedelta(days=20), "dns", "old.example", SEIZED),  # before the period
    (DAY + timedelta(days=1), "dns", "late.example", SEIZED),  # after it
]

TRACKED = [
    Indicator.new("zeus-gate.example", "zeus", status="seized", source="operation:b71", confidence=100),
    Indicator.new("update-check.example", "zeus", status="online", source="threatfox", confidence=75,
                  tags=("c2",), last_seen=datetime(2026, 3, 1, tzinfo=UTC)),
    Indicator.new("tls-c2.example", "dridex", status="unknown"),
    Indicator.new("gate.example", "dridex", status="online"),
    Indicator.new("quiet.example", "zeus", status="offline"),
    Indicator.new("old.example", "zeus", status="offline"),
    Indicator.new("late.example", "zeus", status="offline"),
    Indicator.new("192.0.2.10:443", "dridex", status="online"),  # not a domain: never looked up
    Indicator.new("pcbot.3322.org", "nitol", status="online"),
    Indicator.new("3322.org", "nitol", status="online"),  # the zone: its blocklisted names do not count for it
    Indicator.new("www.3322.org", "nitol", status="online"),
]


def write_events(storage: Path) -> None:
    writers = {k: SegmentWriter(storage, k, operation="b71", sensor="s1", worker=0, fsync=False)
               for k in ("dns", "http", "tls")}
    for n, (day, kind, name, rule) in enumerate(EVENTS):
        t = epoch(day, 3600 + n)
        if kind == "dns":
            values = {"time": t, "transport": "udp", "src_ip": "198.51.100.53", "src_port": 1024 + n,
                      "dst_ip": "192.0.2.53", "dst_port": 53, "qname": name, "qtype": 1, "rcode": 0,
                      "rule": rule, "family": None, "ecs": None, "response": "answer"}
            writers["dns"].rows.append(tuple(values[c] for c in DNS_ROW))
        else:
            buf = writers[kind].checkins
            fields = {"host": name} if kind == "http" else {"sni": name}
            tpl = buf.add_template(template(response="notice" if kind == "http" else "close", **fields))
            buf.log(t, buf.add_conn(("tcp", "203.0.113.9", 40000 + n, "192.0.2.53", 443, None)), tpl)
    for w in writers.values():
        w.close()


def expected(since: date, until: date) -> dict[str, tuple[int, int, datetime]]:
    """value -> (queries, check-ins, last time), from EVENTS by label suffix: DNS
    queries the sinkhole sank (a zone's only below its origin), every check-in."""
    out: dict[str, list] = {}
    for n, (day, kind, name, rule) in enumerate(EVENTS):
        if not since <= day <= until or rule in ("none", PASS):
            continue
        labels = name.lower().rstrip(".").split(".")
        for ind in TRACKED:
            below_zone = rule != BLOCK or len(ind.value.split(".")) > 2
            if ind.kind == "domain" and ind.value.split(".") == labels[-len(ind.value.split(".")):] and below_zone:
                row = out.setdefault(ind.value, [0, 0, None])
                row[0 if kind == "dns" else 1] += 1
                t = datetime.fromtimestamp(epoch(day, 3600 + n), UTC)
                row[2] = max(row[2] or t, t)
    return {k: tuple(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Path:
    s = tmp_path_factory.mktemp("events")
    write_events(s)
    return s


@pytest.mark.parametrize("batch", [10_000, 2])
def test_sightings_count_per_tracked_domain(storage, monkeypatch, batch):
    monkeypatch.setattr(sync, "BATCH", batch)
    monkeypatch.setattr(ingest, "BATCH", batch)
    since, until = DAY - timedelta(days=6), DAY
    got = list(sightings(storage, iter(TRACKED), since, until))
    assert [s.value for s in got] == sorted(s.value for s in got)
    assert {s.value: (s.queries, s.checkins, s.last) for s in got} == expected(since, until)
    assert {s.value: (s.queries, s.checkins) for s in got} == {
        "zeus-gate.example": (5, 1), "update-check.example": (1, 2), "tls-c2.example": (0, 1),
        "pcbot.3322.org": (2, 0)}
    rows = {s.row() for s in got}
    assert rows == {("zeus-gate.example", "seized", 6), ("update-check.example", "sinkholed", 3),
                    ("tls-c2.example", "sinkholed", 1), ("pcbot.3322.org", "sinkholed", 2)}
    # the tracked indicator comes back whole
    up = next(s for s in got if s.value == "update-check.example")
    assert up.indicator == TRACKED[1]


def test_sightings_period_bounds(storage):
    everything = {s.value for s in sightings(storage, TRACKED, None, None)}
    assert {"old.example", "late.example"} <= everything
    assert {s.value for s in sightings(storage, TRACKED, DAY + timedelta(days=1), None)} == {"late.example"}
    assert list(sightings(storage, [], None, None)) == []


def test_sightings_count_a_name_tracked_twice_once(storage):
    twice = [TRACKED[1], TRACKED[1]]
    (s,) = sightings(storage, twice, DAY - timedelta(days=6), DAY)
    assert (s.queries, s.checkins) == (1, 2)


def test_sightings_of_an_unreadable_event_file_is_one_line(tmp_path):
    write_events(tmp_path)
    victim = next((tmp_path / "events" / "kind=dns").rglob("*.parquet"))
    victim.write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(StoreError) as e:
        list(sightings(tmp_path, TRACKED, None, None))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def test_sightings_without_events(tmp_path):
    assert list(sightings(tmp_path / "nothing", TRACKED, None, None)) == []


def test_sinkholed_keeps_seized_and_moves_last_seen(storage):
    got = {i.value: i for i in sinkholed(sightings(storage, TRACKED, DAY - timedelta(days=6), DAY))}
    up = got["update-check.example"]
    assert (up.status, up.checkins, up.source, up.confidence, up.tags) == ("sinkholed", 3, "threatfox", 75, ("c2",))
    assert up.last_seen == expected(DAY - timedelta(days=6), DAY)["update-check.example"][2]
    assert (got["zeus-gate.example"].status, got["zeus-gate.example"].checkins) == ("seized", 6)


# --------------------------------------------------------------------------
# Through a store


class DictTracker:
    """The part of takedown.tracker.store.Tracker the sync uses, over a dict."""

    def __init__(self, indicators=()) -> None:
        self.rows = {i.value: i for i in indicators}
        self.history: list[tuple[str, str | None, str, str]] = []
        self.adds: list[tuple[int, str, str]] = []

    def get(self, value):
        return self.rows.get(value)

    def get_many(self, values):
        return {v: self.rows[v] for v in values if v in self.rows}

    def add(self, indicators, *, by, reason):
        batch = list(indicators)
        self.adds.append((len(batch), by, reason))
        for i in batch:
            old = self.rows.get(i.value)
            if old is None or old.status != i.status:
                self.history.append((i.value, old.status if old else None, i.status, by))
            self.rows[i.value] = i

    def select(self, *, family=None, status=None, kind=None, stale_before=None):
        for i in list(self.rows.values()):
            if (kind is None or i.kind == kind) and (status is None or i.status == status):
                yield i


def test_apply_operation_merges_with_what_is_tracked(op):
    before = [
        Indicator.new("pcbot.3322.org", "nitol", status="online", source="threatfox", confidence=80,
                      tags=("c2",), notes="seen on ThreatFox"),
        Indicator.new("zeus-gate.example", "zeus", status="sinkholed"),
        Indicator.new("christmas-ecard.example", "waledac", status="seized", notes="kept"),
    ]
    tr = DictTracker(before)
    applied = apply_operation(tr, op, DAY, NOW)
    pc = tr.rows["pcbot.3322.org"]
    # the status from the operation, everything else as tracked
    assert (pc.status, pc.source, pc.confidence, pc.tags, pc.notes, pc.last_seen) == (
        "sinkholed", "threatfox", 80, ("c2",), "seen on ThreatFox", NOW)
    assert tr.rows["zeus-gate.example"].status == "seized"
    assert tr.rows["christmas-ecard.example"].notes == "kept"
    assert Counter(i.status for i in tr.rows.values()) == {"seized": 7, "sinkholed": 2}
    assert (applied.seized, applied.sinkholed) == (7, 2)
    assert {(by, reason) for _, by, reason in tr.adds} == {("operation", "held by operation b71 on 2026-03-10")}
    # again: nothing changes status
    n = len(tr.history)
    apply_operation(tr, op, DAY, NOW)
    assert len(tr.history) == n


def test_merged_never_weakens_a_status():
    seized = Indicator.new("a.example", "zeus", status="seized")
    sink = Indicator.new("a.example", "zeus", status="sinkholed")
    online = Indicator.new("a.example", "zeus", status="online")
    assert merged(seized, sink).status == "seized"
    assert merged(sink, seized).status == "seized"
    assert merged(online, sink).status == "sinkholed"
    assert merged(None, online) is online


def test_apply_events_marks_tracked_domains(storage, monkeypatch):
    monkeypatch.setattr(sync, "BATCH", 2)
    monkeypatch.setattr(ingest, "BATCH", 2)
    tr = DictTracker(TRACKED)
    applied = apply_events(tr, storage, DAY - timedelta(days=6), DAY)
    assert (applied.seized, applied.sinkholed, applied.checkins) == (1, 3, 12)
    assert tr.rows["update-check.example"].status == "sinkholed"
    assert tr.rows["tls-c2.example"].checkins == 1
    assert tr.rows["quiet.example"] == TRACKED[4]  # untouched
    assert tr.rows["gate.example"] == TRACKED[3]
    assert [h for h in tr.history if h[3] == "events"] == [
        ("pcbot.3322.org", "online", "sinkholed", "events"), ("tls-c2.example", "unknown", "sinkholed", "events"),
        ("update-check.example", "online", "sinkholed", "events")]
    assert tr.rows["3322.org"].status == tr.rows["www.3322.org"].status == "online"
    assert {by for _, by, _ in tr.adds} == {"events"}
    assert all(reason.endswith("2026-03-04..2026-03-10") for _, _, reason in tr.adds)


def test_a_tracked_indicator_is_carried_through_duckdb_unchanged(storage):
    odd = dataclasses.replace(TRACKED[1], notes='quote " and \\ and \n newline', as_name="ÆS ünïcode", asn=64500,
                              id=7, revision=3)
    (s,) = [s for s in sightings(storage, [odd], None, None)]
    assert s.indicator == odd
