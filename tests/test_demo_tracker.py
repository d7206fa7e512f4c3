"""The tracker in the demo (issue 15, point 7): a short demo (300 bots, the
last full week) tracks what its operation holds, checks eight emulated C&C
servers on loopback and a sample of the held names through its own
sinkhole's DNS, and writes every export and the statistics beside the
report; its line of figures is the database's."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime, timezone

import pytest

from takedown.evidence import chain
from takedown.range import cnc, tracking
from takedown.range.demo import default_start, run_demo
from takedown.tracker import formats, sync
from takedown.tracker.indicator import STATUSES
from takedown.tracker.store import Tracker
from takedown.operation import load_operation

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def listed(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-tracker") / "demo"
    # the last full week: the operation then holds a few thousand DGA names today, not tens of thousands
    result = run_demo(out, bots=300, weeks=1, seed=3, start=default_start(weeks=1))
    return out, result


@pytest.fixture(scope="module")
def tracker(demo):
    out, _ = demo
    with Tracker.open(f"sqlite:///{out / 'data' / 'tracker.sqlite'}", enricher=False) as t:
        yield t


def test_the_operations_names_are_tracked_as_it_holds_them(demo, tracker):
    out, result = demo
    op = load_operation(out / "operation.toml")
    held = sync.from_operation(op, datetime.now(timezone.utc).date(), datetime.now(timezone.utc))
    zeus = listed(out / "zeus-domains.txt")
    assert len(zeus) == 40
    for name in zeus:
        assert tracker.get(name).status == "seized", name
    mirai = listed(out / "3322-blocklist.txt")
    assert mirai and all(tracker.get(n).status == "sinkholed" for n in mirai)
    dga = [i for i in held if "dga" in i.tags]
    assert len(dga) > 1000 and {i.family for i in dga} == {"conficker", "locky"}
    assert tracker.count(status="seized") == sum(i.status == "seized" for i in held) == len(zeus) + len(dga)
    # the bots asked the sinkhole for tracked names in the emulated week: check-ins counted
    asked = [i for i in tracker.select(kind="domain") if i.checkins]
    assert len(asked) == result.tracker.sighted > 10


def test_emulated_servers_are_online_exactly_when_they_listen(tracker):
    emulated = {i.value: i for i in tracker.select() if i.source == "demo"}
    assert len(emulated) == len(cnc.PLAN) == 8
    for p in cnc.PLAN:
        (ind,) = [i for v, i in emulated.items() if f"{p.address}:" in v]
        assert ind.kind == ("url" if p.path else "ip") and ind.family == p.family
        assert ind.status == ("online" if p.listening else "offline"), (p, ind)
        assert ind.last_checked is not None and (ind.last_online is not None) == p.listening
        (check,) = [c for c in tracker.history(ind.value) if c.by == "check"]
        assert check.detail["online"] is p.listening
    assert sum(p.listening for p in cnc.PLAN) == 5


def test_held_names_checked_through_the_sinkhole_stay_held(demo, tracker):
    out, result = demo
    checked = [i for i in tracker.select(kind="domain") if i.last_checked is not None]
    families = {i.family for i in checked}
    assert families == {"zeus", "conficker", "locky", "mirai"}
    assert len(checked) <= 4 * tracking.PER_FAMILY
    for ind in checked:
        (c,) = [c for c in tracker.history(ind.value) if c.by == "check"]
        assert c.reason == "resolves to the sinkhole 192.0.2.53", (ind.value, c.reason)
        assert c.new == c.old == ind.status in ("seized", "sinkholed")
        assert c.detail["attempts"] == []  # the sinkhole's address is never connected to
    assert result.tracker.checked == len(checked) + len(cnc.PLAN) and result.tracker.alarms == 0


def test_the_check_connected_to_loopback_only(tracker):
    reached = [a["address"] for i in tracker.select() for c in tracker.history(i.value) if c.by == "check"
               for a in c.detail["attempts"]]
    assert len(reached) >= len(cnc.PLAN)
    assert all(ipaddress.ip_address(a) in LOOPBACK for a in reached)


def test_every_export_and_the_statistics_are_written(demo, tracker):
    out, result = demo
    d = out / "tracker"
    written = tracking.exports()
    assert {fmt for fmt, _, _ in written} == set(formats.names(writable=True))
    assert len(written) == len(formats.names(writable=True)) + 1 == len(result.tracker.exports)
    for fmt, name, _ in written:
        path = d / name
        assert path in result.tracker.exports
        if fmt == "misp":
            assert path.is_symlink() and {"manifest.json", "hashes.csv"} <= {p.name for p in path.iterdir()}
        else:
            assert path.is_file() and path.stat().st_size > 0, fmt
    rpz = set((d / "rpz.zone").read_text().splitlines())
    zeus = listed(out / "zeus-domains.txt")
    assert all(f"{n} A 192.0.2.53" in rpz for n in zeus)  # seized: local data pointing at the sinkhole
    assert len(listed(d / "plain-domains.txt")) == tracker.count(kind="domain") > 1000
    assert sorted(listed(d / "plain-ips.txt")) == [p.address for p in cnc.PLAN if p.path is None]
    summary = json.loads((d / "stats" / "summary.json").read_text())
    assert summary["total"] == tracker.count()
    assert {p.suffix for p in (d / "stats").iterdir()} >= {".json", ".png", ".svg"}


def test_the_exports_are_sealed(demo):
    """The tracker's exports are written beside the report, outside the
    storage, and sealed with it ([case] evidence): the MISP feed under its
    link's name, not the hidden directory it points to."""
    out, result = demo
    paths = {e.path for e in chain.read_manifest(result.case.manifest)}
    for _fmt, name, _ in tracking.exports():
        path = out / "tracker" / name
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        assert files and {f.relative_to(out).as_posix() for f in files} <= paths, name
    assert "tracker/misp/manifest.json" in paths and not any("/.misp" in p for p in paths)
    assert any(p.startswith("tracker/stats/") for p in paths)
    assert result.case.outputs == ("report/", "case/appendix/", "tracker/") and result.case.evidence.ok


def test_the_line_is_the_databases_counts(demo, tracker):
    _, result = demo
    line = result.tracker.line()
    m = re.fullmatch(r"tracker: ([\d,]+) indicators \(([^)]*)\); ([\d,]+) asked for at the sinkhole; "
                     r"checked ([\d,]+) \(([\d,]+) alarms\); (\d+) exports and stats in (.+)/", line)
    assert m, line
    assert int(m[1].replace(",", "")) == tracker.count()
    said = {s: int(n.replace(",", "")) for n, s in (p.split(" ") for p in m[2].split(", "))}
    assert said == {s: tracker.count(status=s) for s in STATUSES if tracker.count(status=s)}
    assert said["online"] == 5 and said["offline"] == 3
    assert int(m[6]) == len(tracking.exports()) == len(formats.names(writable=True)) + 1
    assert result.differences == []
    assert result.timings["tracker"] < 60


def test_the_checks_lookups_stay_out_of_the_emulated_week(demo):
    out, result = demo
    days = sorted(p.name for p in (out / "data" / "events" / "kind=http").iterdir())
    dns_days = sorted(p.name for p in (out / "data" / "events" / "kind=dns").iterdir())
    # the check's lookups through the sinkhole carry no emulated clock: today's events, after the week
    (today,) = sorted(set(dns_days) - set(days))
    assert len(days) == 7 and set(days) <= set(dns_days) and today > days[-1]
    assert result.differences == []  # the report covers the emulated week only
