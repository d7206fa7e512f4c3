"""The demo's court case (issue 17 point 7): the demo operation carries a
``[case]`` with a ZeuS stop command authorised from week 5, and after the
report the demo checks the case, writes the appendix, verifies the seizure
against its own loopback parent (takedown's DNS code serving fake TLD zones)
and seals its storage into the evidence chain; the ZeuS bots obey the
stop and the report still equals the truth.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shutil
import tomllib
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import duckdb
import pyarrow.parquet as pq
import pytest

from takedown.case.check import check_case
from takedown.case.verify import NOT_YET, VERIFIED, verify_operation
from takedown.cli import _print_demo
from takedown.evidence import chain
from takedown.evidence import seal as evidence
from takedown.lists import read_domain_list
from takedown.net.fingerprints import RuleSet
from takedown.operation import load_operation
from takedown.range import democase, families
from takedown.range.demo import run_demo, write_operation
from takedown.range.parent import LoopbackParent, zone_text

START = date(2026, 3, 2)  # a Monday
WEEKS = 8
STOP = datetime(2026, 3, 30, tzinfo=UTC)  # week 5, 00:00Z
SINK_NS = ("ns1.sinkhole.example", "ns2.sinkhole.example")

# ----------------------------------------------------------------- the case file


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    return load_operation(write_operation(tmp_path_factory.mktemp("op"), START, WEEKS * 7))


def test_the_demo_operation_carries_a_case(op):
    c = op.case
    assert c.case_number.startswith("DEMO-") and "(demo)" in c.court
    assert c.order_type == "temporary restraining order" and c.order_date == START - timedelta(days=1)
    assert {p.role for p in c.parties} == {"plaintiff", "defendant"}
    assert "John Does 1-40" in next(p.name for p in c.parties if p.role == "defendant")
    by_id = {a.id: a for a in c.authorities}
    stop = by_id[democase.COMMAND_AUTHORITY]
    assert (stop.kind, stop.family, stop.command, stop.valid_from, stop.valid_until) == \
        ("command", "zeus", "stop", STOP, None)
    assert democase.stop_from(START) == STOP
    assert by_id["notify-users"].kind == "notify"
    registries = {r.tld: r.name for r in c.registries}
    assert registries["com"] == registries["net"] == "Verisign"
    assert {"biz", "info", "ru", "org"} <= registries.keys()
    assert all("example" in r.contact for r in c.registries)
    # the case's nameservers default to the sinkhole's
    assert c.nameservers == SINK_NS


def test_case_check_holds_through_the_order(op):
    """The TRO, then the injunction: every seized and due DGA name is under a
    valid sink authority from the order's day on; the stop command is
    pending before week 5 and valid from its Monday 00:00Z."""
    early = check_case(op, datetime.combine(START, datetime.min.time(), UTC))
    assert early.ok, early.errors
    assert "tro-sink" in early.valid and democase.COMMAND_AUTHORITY in early.pending
    assert early.seized == 40 and early.dga_due > 0
    late = check_case(op, STOP)
    assert late.ok, late.errors
    assert "tro-sink" in late.expired and {"pi-sink", democase.COMMAND_AUTHORITY} <= set(late.valid)
    before = check_case(op, STOP - timedelta(seconds=1))
    assert democase.COMMAND_AUTHORITY in before.pending


def test_case_check_catches_a_name_outside_the_order(tmp_path):
    """The demo's case is checked, not rubber-stamped: a seized name of a
    family the order does not name is an error at its line."""
    path = write_operation(tmp_path, START, 7)
    text = path.read_text().replace('lists = ["zeus-domains.txt"]\n', "")
    path.write_text(text.replace('families = ["zeus", ', 'families = ['))
    res = check_case(load_operation(path), STOP)
    assert not res.ok and len(res.errors) == 40
    assert all("zeus-domains.txt:" in e and "outside every sink authority's scope" in e for e in res.errors)


def test_the_stop_command_rules():
    cmd = tomllib.loads(democase.command_rules())["command"]
    assert len(cmd) == 1
    c = cmd[0]
    assert (c["family"], c["name"], c["status"]) == ("zeus", "stop", 200) and c["source"]
    assert bytes.fromhex(c["body_hex"]) == families.get("zeus").commands["stop"] == b"takedown-range/1 stop zeus\n"
    assert "body" not in c


def test_the_rules_file_carries_the_command(op):
    rules = RuleSet.load(op.path.parent / "rules.toml")
    assert [(c.family, c.name) for c in rules.commands] == [("zeus", "stop")]


def test_without_the_case(tmp_path):
    """``case=False``: no [case] and no command (for tests declaring their own)."""
    op = load_operation(write_operation(tmp_path, START, 7, case=False))
    assert op.case is None and "[[command]]" not in (tmp_path / "rules.toml").read_text()


# ----------------------------------------------------------------- the loopback parent


def _ns(name: str, port: int, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, "NS")
    q.flags &= ~dns.flags.RD
    ask = dns.query.tcp if tcp else dns.query.udp
    return ask(q, "127.0.0.1", port=port, timeout=3)


def test_parent_refers_seized_names_to_their_nameservers(tmp_path):
    (tmp_path / "com.zone").write_text(zone_text("com", {"seized.com": SINK_NS}))
    (tmp_path / "ru.zone").write_text(zone_text("ru", {"lagging.ru": democase.OLD_NAMESERVERS}))
    with LoopbackParent({"com": tmp_path / "com.zone", "ru": tmp_path / "ru.zone"}) as p:
        assert p.address == f"127.0.0.1:{p.port}"
        for name, owner, tcp in (("seized.com", "seized.com.", False), ("www.seized.com", "seized.com.", True)):
            r = _ns(name, p.port, tcp)
            # a referral, as a TLD's server gives it: not authoritative, the cut's NS in authority
            assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA and not r.answer
            assert [(str(rr.name), sorted(x.target.to_text(True) for x in rr)) for rr in r.authority] == \
                [(owner, list(SINK_NS))]
        r = _ns("lagging.ru", p.port)
        assert sorted(x.target.to_text(True) for x in r.authority[0]) == list(democase.OLD_NAMESERVERS)
        r = _ns("unknown.com", p.port)
        assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
        assert _ns("other.org", p.port).rcode() == dns.rcode.REFUSED
    with pytest.raises(dns.exception.DNSException):  # closed: nothing answers any more
        dns.query.udp(dns.message.make_query("seized.com", "NS"), "127.0.0.1", port=p.port, timeout=0.5)


def test_zone_text_refuses_a_name_of_another_tld():
    with pytest.raises(ValueError, match="not below .com"):
        zone_text("com", {"x.net": SINK_NS})


def test_verify_against_the_parent_zones(op, tmp_path):
    """The demo's parent zones: every seized name verified but the lagging
    registry's, which are "not yet" (still delegated to the old servers)."""
    files = democase.parent_zones(op, tmp_path)
    names = read_domain_list(op.path.parent / "zeus-domains.txt")
    assert set(files) == {n.rsplit(".", 1)[1] for n in names}
    with LoopbackParent(files) as p:
        res = verify_operation(op, dns_check=True, rdap_check=False, parent=p.address, now=0, history=False)
    got = {r.name: r.status for r in res}
    assert got == {n: NOT_YET if n.endswith(".ru") else VERIFIED for n in names}


# ----------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, small: 1,500 bots over eight emulated weeks (the stop from week 5)."""
    out = tmp_path_factory.mktemp("demo-case") / "demo"
    return run_demo(out, bots=1500, weeks=WEEKS, seed=7, start=START, tracker=False)


@pytest.fixture(scope="module")
def printed(demo):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _print_demo(demo, demo.operation.path.parent)
    return buf.getvalue().splitlines()


def _line(printed: list[str], prefix: str) -> str:
    hits = [x for x in printed if x.startswith(prefix)]
    assert len(hits) == 1, (prefix, printed)
    return hits[0]


def test_report_equals_truth(demo, printed):
    assert demo.differences == []
    assert "differences from truth: 0" in printed


def test_demo_prints_the_case(demo, printed):
    out = demo.operation.path.parent
    names = read_domain_list(out / "zeus-domains.txt")
    per_tld = Counter(n.rsplit(".", 1)[1] for n in names)
    assert _line(printed, "case check: ").startswith("case check: OK: case DEMO-")
    app = _line(printed, "case appendix: ")
    assert app.startswith(f"case appendix: {len(names)} names by registry: ")
    for tld, n in per_tld.items():
        assert f".{tld} {n}" in app
    assert "Verisign .com" in app and "Coordination Center for TLD RU .ru" in app
    lagging = per_tld["ru"]
    assert _line(printed, "case verify --dns (parent 127.0.0.1:").endswith(
        f"): {len(names) - lagging} verified, {lagging} not yet, 0 wrong")
    by = _line(printed, "  by registry: ")
    assert f".com (Verisign) {per_tld['com']} verified" in by
    assert f".ru (Coordination Center for TLD RU) {lagging} not yet" in by
    sealed = demo.case.sealed
    seal_line = _line(printed, "evidence seal: ")
    assert seal_line.startswith(f"evidence seal: {sealed} files into ")
    # the report and the appendix are written outside the storage and sealed with it ([case] evidence); this
    # demo runs without the tracker, so its directory is not there to seal
    assert "manifest.jsonl, with report/, case/appendix/ (" in seal_line and "tracker" not in seal_line
    assert demo.case.outputs == ("report/", "case/appendix/")
    assert _line(printed, "evidence verify: ") == f"evidence verify: OK ({sealed} of {sealed} files as sealed)"
    took = _line(printed, "took ")
    assert f"case {demo.timings['case']:.0f} s" in took
    assert demo.case.ok


def test_a_failing_case_or_chain_is_shown_and_not_ok(demo):
    errors = ["operation.toml:140: authority pi-sink (sink) expired at 2026-04-01T00:00:00Z; still in use: ...",
              "zeus-domains.txt:3: x.com (zeus) is seized but outside every sink authority's scope"]
    faulty = evidence.Verified(demo.case.manifest, 3, 2, faults=["changed: data/x.parquet (entry 2: ...)"])
    bad = dataclasses.replace(demo.case, check=f"2 error(s): {errors[0]}", check_errors=errors, evidence=faulty)
    lines = bad.lines()
    assert not bad.ok and lines[0] == f"case check: 2 error(s): {errors[0]}" and lines[1] == f"  {errors[1]}"
    assert lines[-1] == "evidence verify: 1 fault(s): changed: data/x.parquet (entry 2: ...)"
    assert not dataclasses.replace(demo.case, evidence=faulty).ok
    assert not dataclasses.replace(demo.case, check_errors=errors).ok


def test_appendix_and_seal_on_disk(demo):
    out = demo.operation.path.parent
    app = out / "case" / "appendix"
    rows = (app / "appendix.csv").read_text().splitlines()
    assert len(rows) == 1 + 40 and (app / "appendix.pdf").read_bytes().startswith(b"%PDF")
    manifest = demo.case.manifest
    assert manifest == out / "data" / "evidence" / "manifest.jsonl"
    sealed = manifest.read_text()
    # the closed event days, compacted first, and the operation's own files are in the chain
    assert "kind=http/date=2026-03-02/" in sealed and "operation.toml" in sealed and "rules.toml" in sealed
    # ... and so are the outputs written beside the storage, every file of them
    paths = {e.path for e in chain.read_manifest(manifest)}
    for d in ("report", "case/appendix"):
        written = {p.relative_to(out).as_posix() for p in (out / d).rglob("*") if p.is_file()}
        assert written and written <= paths, (d, written - paths)
    assert {"report/index.html", "case/appendix/appendix.pdf"} <= paths
    assert not any(p.startswith(("case/parent/", "truth/")) for p in paths)
    assert demo.case.open_days == 0 and demo.case.compacted > 0
    assert all((d / ".compacted.json").exists() for d in (out / "data" / "events" / "kind=http").iterdir())


def test_a_changed_sealed_file_is_reported(demo, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(demo.operation.path.parent, copy)
    op = load_operation(copy / "operation.toml")
    victim = next((copy / "data" / "events" / "kind=http" / "date=2026-03-03").glob("*.parquet"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    (copy / "report" / "index.html").write_text("<h1>another report</h1>")
    (copy / "case" / "appendix" / "appendix.csv").unlink()
    res = evidence.verify(op)
    assert not res.ok and any(f.startswith("changed: data/events/kind=http/date=2026-03-03/") for f in res.faults)
    assert any(f.startswith("changed: report/index.html (entry ") for f in res.faults), res.faults
    assert any(f.startswith("removed: case/appendix/appendix.csv (entry ") for f in res.faults), res.faults
    assert len(res.faults) == 3


# ----------------------------------------------------------------- the stop obeyed (parts A and C)


def _events(demo, kind: str) -> str:
    return str(demo.operation.storage / "events" / f"kind={kind}" / "**" / "*.parquet")


def _zeus_checkins(demo):
    """(source address, time) of every ZeuS HTTP check-in the sinkhole stored, and its response."""
    return duckdb.sql(f"SELECT src_ip, time, response FROM read_parquet('{_events(demo, 'http')}') "
                      f"WHERE family = 'zeus'").fetchall()


def _stop_sessions(demo) -> dict[str, datetime]:
    """Each ZeuS bot's first session at or after the stop's authority (from
    the truth): the session whose check-ins are answered with the stop."""
    truth = demo.operation.path.parent / "truth"
    bots = pq.read_table(truth / "bots.parquet", columns=["ip", "family"]).to_pylist()
    sessions = pq.read_table(truth / "sessions.parquet", columns=["bot", "time"]).to_pylist()
    first: dict[str, datetime] = {}
    for s in sessions:
        b = bots[s["bot"]]
        if b["family"] == "zeus" and s["time"] >= STOP:
            first[b["ip"]] = min(first.get(b["ip"], s["time"]), s["time"])
    return first


def _week(t: datetime) -> date:
    d = t.astimezone(UTC).date()
    return d - timedelta(days=d.weekday())


def test_zeus_checkins_fall_to_zero_after_the_stop(demo):
    checkins = _zeus_checkins(demo)
    stops = _stop_sessions(demo)
    assert stops, "no ZeuS bot had a session after the stop's authority began"
    per_week = Counter(_week(t) for _ip, t, _r in checkins)
    weeks = [START + timedelta(weeks=i) for i in range(WEEKS)]
    last = _week(max(stops.values()))  # by its end, every ZeuS bot still running has had its stop
    assert per_week[STOP.date() - timedelta(weeks=1)] > per_week[STOP.date()] > 0
    after = [w for w in weeks if w > last]
    assert after, "the demo is too short to show a week after every ZeuS bot had its stop"
    assert all(per_week[w] == 0 for w in after), {w: per_week[w] for w in after}
    # per bot: nothing after the session that carried its stop (its check-ins take seconds; the next
    # session is on a later day)
    late = [(ip, t) for ip, t, _r in checkins if ip in stops and t > stops[ip] + timedelta(hours=2)]
    assert late == []


def test_command_events_name_the_authority(demo):
    rows = duckdb.sql(f"SELECT time, authority, command, command_sha256 FROM "
                      f"read_parquet('{_events(demo, 'command')}')").fetchall()
    assert rows
    assert {(a, c) for _t, a, c, _h in rows} == {(democase.COMMAND_AUTHORITY, "stop")}
    # the SHA-256 of the whole response sent (status line, headers with their Date, body): one per row
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for *_, h in rows)
    assert min(t for t, *_ in rows) >= STOP
    answered = [r for _ip, t, r in _zeus_checkins(demo) if t >= STOP]
    # every ZeuS check-in from the authority's start is answered with the command, and none before
    assert set(answered) == {"command"} and len(rows) == len(answered)
    assert all(r != "command" for _ip, t, r in _zeus_checkins(demo) if t < STOP)
