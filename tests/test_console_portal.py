"""The partner portal's data: each partner sees exactly what its approved
claims cover, computed here in plain Python from the events written.

Two partners with overlapping claims (CERT-A: France, a v4 /26 and a v6 /48;
ISP-B: AS64500, which holds that /26, and a v6 /120), a third with only a
pending and a rejected claim. AS and country come from small MaxMind
databases written with mmdb-writer, named in the operation's ``[enrich]``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from console_helpers import PASSWORD, make_console
from test_report import write_dataset

from takedown.analytics.shadowserver import REPORTS
from takedown.console import hosts
from takedown.console import partnerdata as pd
from takedown.console.scope import Scope, scope_of
from takedown.tracker.indicator import Indicator

FIRST = date(2026, 10, 5)  # a Monday: 2026-W41
DAYS = 16
EVIL_UA = '<script>alert("ua")</script>'
EVIL_AS = 'FR <b onclick="x()">net</b>'

# (network, country, AS, AS name) of the test databases
GEO = [
    ("198.51.100.0/25", "US", 64500, "EXAMPLE-US"),
    ("198.51.100.128/25", "US", 64501, "OTHER-US"),
    ("203.0.113.0/24", "FR", 64502, EVIL_AS),
    ("2001:db8:1::/48", "DE", 64503, "EXAMPLE-DE"),
    ("2001:db8:2::/48", "NL", 64504, "EXAMPLE-NL"),
]

ALICE = {"country": ["FR"], "cidr": ["198.51.100.0/26", "2001:db8:1::/48"]}
BOB = {"asn": ["64500"], "cidr": ["2001:db8:2::/120"]}


def where(ip: str) -> tuple[str | None, int | None, str | None]:
    a = ipaddress.ip_address(ip)
    for net, cc, asn, name in GEO:
        if a in ipaddress.ip_network(net):
            return cc, asn, name
    return None, None, None


def in_claims(ip: str, claims: dict) -> bool:
    cc, asn, _ = where(ip)
    a = ipaddress.ip_address(ip)
    return (cc in claims.get("country", []) or str(asn) in claims.get("asn", [])
            or any(a in ipaddress.ip_network(n) for n in claims.get("cidr", [])))


def _mmdb(path, items, db_type):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=db_type, description="portal test")
    for net, record in items:
        w.insert_network(IPSet([net]), record)
    w.to_db_file(str(path))
    return path


def make_checkins(seed: int = 16) -> list[dict]:
    rnd = random.Random(seed)
    bots = ([f"198.51.100.{i}" for i in range(1, 250, 3)] + [f"203.0.113.{i}" for i in range(1, 60, 2)]
            + [f"192.0.2.{i}" for i in range(1, 20)] + [f"2001:db8:1::{i:x}" for i in range(1, 40)]
            + [f"2001:db8:2::{i:x}" for i in range(1, 400, 7)])
    families = [("rustock", "domain:rustock"), ("waledac", "domain:waledac"), (None, "none")]
    out = []
    for n, ip in enumerate(bots):
        for d in rnd.sample(range(DAYS), rnd.randint(1, 5)):
            family, rule = families[(n + d) % 3]  # a host can change family from day to day
            day = FIRST + timedelta(days=d)
            for _ in range(rnd.randint(1, 3)):
                t = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + rnd.uniform(0, 86399)
                out.append({"time": t, "day": day, "ip": ip, "kind": ("http", "tls", "tcp")[rnd.randrange(3)],
                            "family": family, "rule": rule})
    return out


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    d = tmp_path_factory.mktemp("portal")
    cc = _mmdb(d / "cc.mmdb", [(n, {"country": {"iso_code": c}}) for n, c, _, _ in GEO], "Test-Country")
    asn = _mmdb(d / "asn.mmdb", [(n, {"autonomous_system_number": a, "autonomous_system_organization": name})
                                 for n, _, a, name in GEO], "Test-ASN")
    console = make_console(d / "op", extra=f'[enrich]\ncountry_mmdb = "{cc}"\nasn_mmdb = "{asn}"\n')
    checkins = make_checkins()
    write_dataset(console.ctx.operation.storage, checkins, [])
    s = console.store
    for partner, claims in (("CERT-A", ALICE), ("ISP-B", BOB)):
        for kind, values in claims.items():
            for v in values:
                s.add_claim(console.partners[partner], kind, v, by="test", status="approved")
    carol_p = s.add_partner("NOC-C", "isp", "abuse@noc-c.example", by="test")
    s.add_user("carol", PASSWORD, role="partner", partner_id=carol_p, must_change=False, by="test")
    s.add_claim(carol_p, "asn", "64502", by="carol")  # pending
    rejected = s.add_claim(carol_p, "country", "US", by="carol")
    s.decide(rejected.id, "rejected", by="opa")
    # pending for CERT-A too: must not widen its view
    s.add_claim(console.partners["CERT-A"], "asn", "64501", by="alice")
    console.checkins = checkins
    return console


def truth(checkins, claims, first=None, last=None):
    """Per address: (families, check-ins, first and last time) of the check-ins in claims."""
    ips: dict[str, dict] = {}
    for e in checkins:
        if not in_claims(e["ip"], claims) or (first and e["day"] < first) or (last and e["day"] > last):
            continue
        h = ips.setdefault(e["ip"], {"families": set(), "checkins": 0})
        h["families"].add(e["family"])
        h["checkins"] += 1
    return ips


def week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def all_pages(client, path):
    seen, page = [], 1
    while True:
        r = client.get(f"{path}{'&' if '?' in path else '?'}page={page}&size=40")
        assert r.status_code == 200
        rows = [line.split('href="/my/ips/')[1].split('"')[0] for line in r.text.splitlines()
                if 'href="/my/ips/' in line]
        seen += rows
        if "next &rarr;" not in r.text:
            return seen
        page += 1


@pytest.mark.parametrize("user,claims", [("alice", ALICE), ("bob", BOB)])
def test_ip_list_is_exactly_the_scope(portal, user, claims):
    c = portal.client(user)
    from urllib.parse import unquote
    shown = [unquote(x) for x in all_pages(c, "/my/ips")]
    expected = truth(portal.checkins, claims)
    assert len(shown) == len(set(shown))
    assert set(shown) == set(expected) and expected
    first = c.get("/my/ips").text
    assert f"{len(expected)} infected addresses" in first
    if user == "alice":  # French addresses: their AS name carries markup, shown escaped
        text = c.get("/my/ips?size=500").text
        assert EVIL_AS not in text and "FR &lt;b onclick=&#34;x()&#34;&gt;net&lt;/b&gt;" in text


def test_partnerdata_counts_equal_the_truth(portal):
    op = portal.ctx.operation
    scope = scope_of(portal.store, portal.partners["CERT-A"])
    first, last = FIRST + timedelta(days=3), FIRST + timedelta(days=11)
    rows, total = pd.infected_ips(op, scope, first, last, page=1, size=10_000)
    expected = truth(portal.checkins, ALICE, first, last)
    assert total == len(expected) == len(rows)
    for r in rows:
        e = expected[r["ip"]]
        assert r["checkins"] == e["checkins"]
        assert set((r["families"] or "").split(",")) - {""} == {f for f in e["families"] if f}
    weeks = defaultdict(set)
    checks = defaultdict(int)
    for e in portal.checkins:
        if in_claims(e["ip"], ALICE):
            weeks[week(e["day"])].add(e["ip"])
            checks[week(e["day"])] += 1
    got = pd.weekly(op, scope)
    assert got == [{"week": w, "unique_ips": len(weeks[w]), "checkins": checks[w]} for w in sorted(weeks)]
    parts = pd.breakdown(op, scope)
    by_cc = defaultdict(set)
    for e in portal.checkins:
        if in_claims(e["ip"], ALICE):
            by_cc[where(e["ip"])[0]].add(e["ip"])
    assert {r["cc"]: r["unique_ips"] for r in parts["countries"]} == {k: len(v) for k, v in by_cc.items()}


@pytest.mark.parametrize("scope", [
    Scope(0, asns=frozenset({64500})),
    Scope(0, countries=frozenset({"fr", "de"})),
    Scope(0, networks=(ipaddress.ip_network("198.51.100.64/27"),)),
    Scope(0, networks=(ipaddress.ip_network("2001:db8:1::/120"), ipaddress.ip_network("2001:db8:2::/52"))),
    Scope(0, asns=frozenset({64504}), networks=(ipaddress.ip_network("192.0.2.0/28"),)),
])
def test_summary_equals_a_direct_count_over_the_events(portal, scope):
    op = portal.ctx.operation
    con = pd.open_scoped(op, scope)
    try:
        direct = con.execute("SELECT week, count(DISTINCT bot), count(*) FROM my_checkins "
                             "GROUP BY week ORDER BY week").fetchall()
        n_ips = con.execute("SELECT count(DISTINCT bot) FROM my_checkins").fetchone()[0]
    finally:
        con.close()
    assert [(w["week"], w["unique_ips"], w["checkins"]) for w in pd.weekly(op, scope)] == direct
    assert pd.infected_ips(op, scope, page=1, size=1)[1] == n_ips > 0


def test_summary_files_are_written_once_and_rebuilt_when_events_change(portal):
    op = portal.ctx.operation
    day = FIRST + timedelta(days=2)
    hosts.ensure(op, day, day)
    path = hosts.summary_path(op.storage, day)
    before = path.stat().st_mtime_ns
    hosts.ensure(op, day, day)
    assert path.stat().st_mtime_ns == before
    import os
    import time
    later = time.time() + 5
    for f in (op.storage / "events").glob(f"kind=http/date={day.isoformat()}/*.parquet"):
        os.utime(f, (later, later))
    hosts.ensure(op, day, day)
    assert path.stat().st_mtime_ns != before


def test_late_events_and_todays_reach_the_answers(portal):
    """A late segment for a closed day rebuilds its summary (and the
    remembered answers); today's check-ins are summarised live."""
    op = portal.ctx.operation
    scope = scope_of(portal.store, portal.partners["CERT-A"])
    before = pd.infected_ips(op, scope, page=1, size=1)[1]
    late_day = FIRST + timedelta(days=1)
    today = datetime.now(UTC).date()
    new = [{"time": datetime(d.year, d.month, d.day, 0, 0, 1, tzinfo=UTC).timestamp(), "day": d, "ip": ip,
            "kind": "http", "family": "rustock", "rule": "domain:rustock"}
           for d, ip in ((late_day, "203.0.113.250"), (today, "203.0.113.251"))]
    import time
    time.sleep(0.05)  # the late segment must be newer than the day's summary
    write_dataset(op.storage, new, [])
    portal.checkins.extend(new)
    rows, total = pd.infected_ips(op, scope, page=1, size=10_000)
    assert total == before + 2 == len(truth(portal.checkins, ALICE))
    assert {"203.0.113.250", "203.0.113.251"} <= {r["ip"] for r in rows}
    assert not hosts.summary_path(op.storage, today).exists()  # the open day is never written


def _weeks(files):
    return [f.parent.name + "/" + f.name for f in files if f.parent.name.startswith("week=")]


def test_closed_weeks_are_one_file_each(portal):
    """A closed ISO week inside the period is read from one week file whose
    rows are its day files' rows merged; a week the period cuts is read day by day."""
    op = portal.ctx.operation
    files, _ = hosts.ensure(op, FIRST, FIRST + timedelta(days=20))  # to W43's Sunday
    assert _weeks(files) == ["week=2026-W41/hosts-1111111.parquet", "week=2026-W42/hosts-1111111.parquet",
                             "week=2026-W43/hosts-1100000.parquet"] and len(files) == 3
    cut, _ = hosts.ensure(op, FIRST, FIRST + timedelta(days=9))
    assert _weeks(cut) == ["week=2026-W41/hosts-1111111.parquet"]
    assert [f.parent.name for f in cut[1:]] == [f"date={FIRST + timedelta(days=d)}" for d in range(7, 10)]
    assert _weeks(hosts.ensure(op, weeks=False)[0]) == []
    merged = ("SELECT bot, ip4, ip6hi, ip6lo, asn, cc, family, sum(checkins), min(first_seen), max(last_seen) "
              "FROM hosts GROUP BY ALL ORDER BY ALL")
    week = hosts.connect_hosts(files[:1], [])
    days = hosts.connect_hosts(hosts.ensure(op, FIRST, FIRST + timedelta(days=6), weeks=False)[0], [])
    try:
        assert week.execute(merged).fetchall() == days.execute(merged).fetchall() != []
        assert week.execute("SELECT count(*) = count(DISTINCT (bot, family)), min(day) = max(day), min(day) "
                            "FROM hosts").fetchone() == (True, True, FIRST)
        assert "ip" not in week.sql("SELECT * FROM hosts LIMIT 0").columns  # the address once, in bot
    finally:
        week.close()
        days.close()


def test_week_file_is_rebuilt_when_a_day_changes_or_a_day_appears(portal):
    import os
    import time
    op = portal.ctx.operation
    w42 = FIRST + timedelta(days=7), FIRST + timedelta(days=13)  # W41's events are touched into the future above
    (wk,), _ = hosts.ensure(op, *w42)
    before = wk.stat().st_mtime_ns
    assert hosts.ensure(op, *w42)[0] == [wk] and wk.stat().st_mtime_ns == before
    later = time.time() + 5
    os.utime(hosts.summary_path(op.storage, FIRST + timedelta(days=10)), (later, later))
    assert hosts.ensure(op, *w42)[0] == [wk] and wk.stat().st_mtime_ns != before
    # events on a day of W43 that had none: another week file, the old one gone
    day = FIRST + timedelta(days=16)
    new = [{"time": datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp(), "day": day,
            "ip": "198.51.100.61", "kind": "http", "family": "waledac", "rule": "domain:waledac"}]
    write_dataset(op.storage, new, [])
    portal.checkins.extend(new)
    files, _ = hosts.ensure(op, FIRST + timedelta(days=14), FIRST + timedelta(days=20))
    assert _weeks(files) == ["week=2026-W43/hosts-1110000.parquet"]
    stale = files[0].parent / "hosts-1100000.parquet"
    assert stale.exists()  # a request may be reading it: kept a while
    old = time.time() - hosts.STALE_GRACE - 1
    os.utime(stale, (old, old))
    os.utime(hosts.summary_path(op.storage, day), (later, later))  # the next rebuild removes it
    hosts.ensure(op, FIRST + timedelta(days=14), FIRST + timedelta(days=20))
    assert sorted(p.name for p in files[0].parent.iterdir()) == ["hosts-1110000.parquet"]


def test_aligned_closed_weeks_are_one_span_file(portal):
    """W40-W47 (weeks 2960 to 2967 since 1970-01-05: an aligned run of 8)
    are one span file for the address list: W41-W43 closed in the period,
    the others without events."""
    op = portal.ctx.operation
    files, _ = hosts.ensure(op, FIRST, FIRST + timedelta(days=20), spans=True)
    assert [f"{f.parent.name}/{f.name}" for f in files] == ["weeks=2026-W40+8/hosts-01110000.parquet"]
    assert hosts.ensure(op, spans=True)[0][0] == files[0]  # the same file for the whole time
    weeks, _ = hosts.ensure(op, FIRST, FIRST + timedelta(days=20))
    merged = ("SELECT bot, ip4, ip6hi, ip6lo, asn, cc, family, sum(checkins), min(first_seen), max(last_seen) "
              "FROM hosts GROUP BY ALL ORDER BY ALL")
    span, parts = hosts.connect_hosts(files, []), hosts.connect_hosts(weeks, [])
    try:
        assert span.execute(merged).fetchall() == parts.execute(merged).fetchall() != []
        assert span.execute("SELECT min(day), max(day) FROM hosts").fetchone() == (FIRST - timedelta(days=7),) * 2
    finally:
        span.close()
        parts.close()
    # a period cutting W43 (it has events) reads W41, W42 and W43's days: no run to merge
    cut = hosts.ensure(op, FIRST, FIRST + timedelta(days=19), spans=True)[0]
    assert [f.parent.name for f in cut][:2] == ["week=2026-W41", "week=2026-W42"]
    assert all(f.parent.name.startswith("date=") for f in cut[2:]) and cut[2:]
    (w42,) = [f for f in weeks if f.parent.name == "week=2026-W42"]
    before = files[0].stat().st_mtime_ns
    import os
    import time
    later = time.time() + 5
    os.utime(w42, (later, later))
    assert hosts.ensure(op, FIRST, FIRST + timedelta(days=20), spans=True)[0] == files
    assert files[0].stat().st_mtime_ns != before  # rebuilt: a week file is newer


@pytest.mark.parametrize("first,last", [(None, None), (0, 13), (2, 15), (7, 7), (6, 20)])
def test_counts_over_week_and_day_files_equal_the_truth(portal, first, last):
    op = portal.ctx.operation
    first = FIRST + timedelta(days=first) if first is not None else None
    last = FIRST + timedelta(days=last) if last is not None else None
    scope = scope_of(portal.store, portal.partners["ISP-B"])
    rows, total = pd.infected_ips(op, scope, first, last, page=1, size=10_000)
    mine = [e for e in portal.checkins if in_claims(e["ip"], BOB)
            and (first is None or e["day"] >= first) and (last is None or e["day"] <= last)]
    by_ip = defaultdict(list)
    for e in mine:
        by_ip[e["ip"]].append(e)
    assert total == len(rows) == len(by_ip) > 0
    for r in rows:
        es = by_ip[r["ip"]]
        assert r["checkins"] == len(es)
        assert set((r["families"] or "").split(",")) - {""} == {e["family"] for e in es if e["family"]}
        assert abs(r["first_seen"].timestamp() - min(e["time"] for e in es)) < 1e-3
        assert abs(r["last_seen"].timestamp() - max(e["time"] for e in es)) < 1e-3
    assert [r["last_seen"] for r in rows] == sorted((r["last_seen"] for r in rows), reverse=True)
    weeks, checks = defaultdict(set), defaultdict(int)
    for e in mine:
        weeks[week(e["day"])].add(e["ip"])
        checks[week(e["day"])] += 1
    assert pd.weekly(op, scope, first, last) == [{"week": w, "unique_ips": len(weeks[w]), "checkins": checks[w]}
                                                for w in sorted(weeks)]
    fams = defaultdict(set)
    for e in mine:
        fams[e["family"]].add(e["ip"])
    got = pd.breakdown(op, scope, first, last)["families"]
    assert {r["family"]: r["unique_ips"] for r in got} == {k: len(v) for k, v in fams.items()}


def test_concurrent_requests_share_the_database_but_not_their_views(portal):
    """Every request is a cursor of one DuckDB database: two scopes and
    periods at once get their own answers."""
    from concurrent.futures import ThreadPoolExecutor
    op = portal.ctx.operation
    scopes = {p: scope_of(portal.store, portal.partners[p]) for p in ("CERT-A", "ISP-B")}
    claims = {"CERT-A": ALICE, "ISP-B": BOB}
    jobs = [(p, FIRST + timedelta(days=d), FIRST + timedelta(days=d + 8)) for d in range(6) for p in scopes]
    pd._CACHE.clear()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: pd.infected_ips(op, scopes[j[0]], j[1], j[2], page=1, size=1)[1], jobs))
    assert got == [len(truth(portal.checkins, claims[p], a, b)) for p, a, b in jobs]


def main(html: str) -> str:
    return html.split("<main>")[1].split("</main>")[0]


def test_another_partners_ip_is_the_404_page(portal):
    alice, bob = portal.client("alice"), portal.client("bob")
    unknown = alice.get("/no/such/page")
    mine = next(e["ip"] for e in portal.checkins if in_claims(e["ip"], ALICE) and not in_claims(e["ip"], BOB))
    bobs = next(e["ip"] for e in portal.checkins if in_claims(e["ip"], BOB) and not in_claims(e["ip"], ALICE))
    r = alice.get(f"/my/ips/{bobs}")
    assert r.status_code == 404 and main(r.text) == main(unknown.text) and bobs not in r.text
    assert alice.get("/my/ips/not-an-address").status_code == 404
    ok = alice.get(f"/my/ips/{mine}")
    n = sum(1 for e in portal.checkins if e["ip"] == mine)
    assert ok.status_code == 200 and f"{n} events from this address" in ok.text
    assert bob.get(f"/my/ips/{mine}").status_code == 404
    both = next(e["ip"] for e in portal.checkins if in_claims(e["ip"], ALICE) and in_claims(e["ip"], BOB))
    assert alice.get(f"/my/ips/{both}").status_code == 200 and bob.get(f"/my/ips/{both}").status_code == 200
    # the operator has no partner pages
    assert portal.client("opa").get("/my/ips").status_code == 404


def test_partner_without_approved_claims_sees_nothing(portal):
    carol = portal.client("carol")
    assert "0 infected addresses" in carol.get("/my/ips").text
    assert "No infected address" in carol.get("/my/figures").text
    assert "No events from your networks" in carol.get("/my/reports").text
    any_ip = portal.checkins[0]["ip"]
    assert carol.get(f"/my/ips/{any_ip}").status_code == 404
    day = portal.checkins[0]["day"].isoformat()
    assert carol.get(f"/my/reports/{day}").status_code == 404


def test_figures_page_has_the_weeks_and_a_chart(portal):
    r = portal.client("bob").get("/my/figures")
    assert r.status_code == 200 and "<svg" in r.text and "<rect" in r.text
    weeks = defaultdict(set)
    for e in portal.checkins:
        if in_claims(e["ip"], BOB):
            weeks[week(e["day"])].add(e["ip"])
    for w, ips in weeks.items():
        assert f"<td>{w}</td><td class=\"num\">{len(ips)}</td>" in r.text


def test_daily_csvs_hold_only_the_scope_with_notifys_header(portal):
    alice = portal.client("alice")
    days = {e["day"] for e in portal.checkins if in_claims(e["ip"], ALICE)}
    listing = alice.get("/my/reports").text
    day = max(days)
    assert day.isoformat() in listing
    page = alice.get(f"/my/reports/{day.isoformat()}")
    assert page.status_code == 200
    names = [x.split('"')[0] for x in page.text.split(f'href="/my/reports/{day.isoformat()}/')[1:]]
    assert names and all(n.startswith(f"{day.isoformat()}-event") and n.endswith("-cert_a.csv") for n in names)
    seen = set()
    for name in names:
        r = alice.get(f"/my/reports/{day.isoformat()}/{name}")
        assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="{name}"'
        rows = list(csv.reader(io.StringIO(r.text)))
        report = name[len(day.isoformat()) + 1:].rsplit("-", 1)[0]
        assert tuple(rows[0]) == tuple(REPORTS[report])
        ip_col = rows[0].index("src_ip")
        seen |= {row[ip_col] for row in rows[1:]}
    expected = {e["ip"] for e in portal.checkins if e["day"] == day and in_claims(e["ip"], ALICE)}
    assert seen == expected
    assert any(a.action == "download" and a.target == names[0] for a in portal.store.audit_log(action="download"))
    # bob cannot fetch alice's file name, nor a day without his events
    assert portal.client("bob").get(f"/my/reports/{day.isoformat()}/{names[0]}").status_code == 404
    assert alice.get(f"/my/reports/{day.isoformat()}/../../op.toml").status_code == 404


def test_tracker_entries_in_scope(portal):
    t = portal.ctx.tracker
    t.add([Indicator("198.51.100.5", "ip", "rustock", asn=64500, country="US"), Indicator("198.51.100.200", "ip", "rustock"),
           Indicator("http://203.0.113.9/gate.php", "url", "waledac", asn=64502, country="FR"), Indicator("c2.cert-a.example", "domain", "x"),
           Indicator(f"http://evil.example/{EVIL_UA}", "url", "x")], by="test")
    portal.store.add_claim(portal.partners["CERT-A"], "domain", "cert-a.example", by="test", status="approved")
    page = portal.client("alice").get("/my/tracker")
    assert "198.51.100.5<" in page.text and "203.0.113.9" in page.text and "c2.cert-a.example" in page.text
    assert "198.51.100.200" not in page.text and "evil.example" not in page.text
    assert "3 entries" in page.text
    bob = portal.client("bob").get("/my/tracker?kind=ip")
    assert "198.51.100.5<" in bob.text and "203.0.113.9" not in bob.text


def test_ip_list_period_and_a_bad_date(portal):
    c = portal.client("bob")
    first, last = FIRST + timedelta(days=5), FIRST + timedelta(days=6)
    r = c.get(f"/my/ips?from={first.isoformat()}&to={last.isoformat()}&size=500")
    expected = truth(portal.checkins, BOB, first, last)
    assert f"{len(expected)} infected addresses" in r.text and 0 < len(expected) < len(truth(portal.checkins, BOB))
    bad = c.get("/my/ips?from=2026-13-01")
    assert bad.status_code == 200 and "from: &#39;2026-13-01&#39; is not a date" in bad.text
