"""The operators' pages of the console (takedown.console.pages: numbers,
events, tracker, notifications): the numbers against `takedown report`'s
own summary, each event filter against a truth computed here from the events
the test wrote, a status change by hand, and `takedown notify`'s deliveries.
The live status page is tests/test_console_status.py."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import threading
import time
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from aiosmtpd.controller import Controller
from net_helpers import TAKEDOWN
from test_notify import Collect, free_port
from test_report import NETS, FakeEnricher, make_events, write_dataset

from takedown.analytics.report import build_report
from takedown.console import eventsearch, figures
from takedown.events import DNS_ROW
from takedown.store.checkins import template
from takedown.store.segments import SegmentWriter
from takedown.tracker.indicator import Indicator


class Tables(HTMLParser):
    """The text of every cell of every ``<table id=...>``, by id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id = None
        self._row = None
        self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._id = a.get("id")
            self.tables[self._id] = []
        elif tag == "tr" and self._id is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables[self._id].append(self._row)
            self._row = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def num(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture
def dataset(console):
    """make_events written into the console's operation, looked up with test_report's fake enricher."""
    checkins, dns = make_events()
    write_dataset(console.ctx.storage, checkins, dns)
    console.ctx.enricher = FakeEnricher()
    return checkins, dns


# --------------------------------------------------------------------------
# /numbers
# --------------------------------------------------------------------------

def numbers_page(client, params: dict | None = None, timeout: float = 60.0):
    """/numbers once its figures are computed: asked again (as its htmx poll does) while it says computing."""
    r = client.get("/numbers", params=params or {})
    deadline = time.monotonic() + timeout
    while 'id="computing"' in r.text and time.monotonic() < deadline:
        time.sleep(0.05)
        r = client.get("/numbers", params=params or {}, headers={"HX-Request": "true"})
    return r


@pytest.mark.parametrize("period", [{}, {"from": "2024-12-20", "to": "2025-01-05"}])
def test_numbers_are_the_reports(console, dataset, tmp_path, period):
    s = build_report(console.ctx.storage, tmp_path / "report", enricher=FakeEnricher(),
                     date_from=period.get("from"), date_to=period.get("to")).summary
    r = numbers_page(console.client("opa"), period)
    assert r.status_code == 200 and 'id="as-of"' in r.text
    t = Tables(r.text).tables
    assert num(re.search(r'id="total-unique">([\d,]+)<', r.text).group(1)) == s["total_unique_ips"]
    assert num(re.search(r'id="total-events">([\d,]+)<', r.text).group(1)) == s["total_events"]
    assert [(w, num(u), num(e)) for w, u, e in t["weeks"]] == [(w["week"], w["unique_ips"], w["events"])
                                                              for w in s["weeks"]]
    assert [(d, num(u), num(e)) for d, u, e in t["days"]] == [(d["day"], d["unique_ips"], d["events"])
                                                             for d in s["days"]]
    assert [(w, num(u), num(n), num(ret)) for w, u, n, ret in t["new_returning"]] == [
        (w["week"], w["unique_ips"], w["new_ips"], w["returning_ips"]) for w in s["new_returning"]]
    assert [(c, num(u), num(e)) for c, u, e in t["countries"]] == [
        (c["cc"] or "unknown", c["unique_ips"], c["events"]) for c in s["countries"]]
    assert [(a, n, num(u), num(e)) for a, n, u, e in t["asns"]] == [
        (f"AS{a['asn']}" if a["asn"] is not None else "unknown", a["as_name"] or "", a["unique_ips"], a["events"])
        for a in s["asns"]]
    assert [(f, num(u), num(e)) for f, u, e in t["families"]] == [(f["family"], f["unique_ips"], f["events"])
                                                                 for f in s["families"]]
    # the charts: one bar per week, labels escaped (an AS name with markup is in the table, escaped)
    assert r.text.count('<svg class="chart"') + r.text.count('<p class="muted">No data.</p>') == 7
    weeks_chart = r.text[r.text.index('<svg class="chart"'):r.text.index("</svg>")]
    assert weeks_chart.count('<rect class="bar"') == len(s["weeks"])
    assert all(f">{w['week']}</text>" in weeks_chart for w in s["weeks"])
    assert "R&amp;D &lt;Net&gt;" in r.text and "<Net>" not in r.text


class CountedSummarise:
    """figures.summarise, counted, and held until ``go`` is set."""

    def __init__(self, monkeypatch) -> None:
        self.calls, self.go, self.real = 0, threading.Event(), figures.summarise
        self.go.set()
        monkeypatch.setattr(figures, "summarise", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        assert self.go.wait(30)
        return self.real(*args, **kwargs)


def total_events(html: str) -> int:
    return num(re.search(r'id="total-events">([\d,]+)<', html).group(1))


def test_numbers_are_computed_once_per_dataset_state(console, dataset, monkeypatch):
    counted = CountedSummarise(monkeypatch)
    c = console.client("opa")
    first = numbers_page(c)
    assert counted.calls == 1 and 'id="computing"' not in first.text
    again = c.get("/numbers")
    assert counted.calls == 1 and again.text.count('id="total-events"') == 1
    assert total_events(again.text) == total_events(first.text) == len(dataset[0])
    # another period is its own computation; the first stays kept
    numbers_page(c, {"from": "2025-01-01"})
    assert counted.calls == 2
    c.get("/numbers")
    assert counted.calls == 2
    # a new event file: the state changed, the figures are computed again and count it
    t0 = datetime(2025, 1, 6, 12, tzinfo=UTC).timestamp()
    write_dataset(console.ctx.storage, [{"time": t0, "day": date(2025, 1, 6), "ip": "198.51.100.77", "kind": "http",
                                         "family": "rustock", "rule": "none"}], [])
    after = numbers_page(c)
    assert counted.calls == 3 and total_events(after.text) == len(dataset[0]) + 1
    numbers_page(c, {"from": "2025-01-01"})  # that period holds the new day too
    assert counted.calls == 4
    numbers_page(c, {"to": "2024-12-31"})
    c.get("/numbers", params={"to": "2024-12-31"})
    assert counted.calls == 5


def test_numbers_while_computing_say_so_and_poll(console, dataset, monkeypatch):
    counted = CountedSummarise(monkeypatch)
    counted.go.clear()
    console.ctx.figures.first_wait = 0.05
    console.ctx.now = lambda: datetime(2026, 12, 4, 20, 15, 7, tzinfo=UTC).timestamp()
    c = console.client("opa")
    try:
        r = c.get("/numbers", params={"from": "2024-12-20", "to": "2025-01-05"})
        assert r.status_code == 200
        line = re.search(r'<p class="notice" id="computing">([^<]*)<a href="([^"]*)"', r.text)
        assert line.group(1).startswith("Computing the figures for 2024-12-20 to 2025-01-05 (started 20:15:07 UTC)")
        assert line.group(2) == "/numbers?from=2024-12-20&amp;to=2025-01-05"  # the plain reload link
        assert ('<div id="figures" hx-get="/numbers?from=2024-12-20&amp;to=2025-01-05" hx-trigger="every 2s" '
                'hx-swap="outerHTML">') in r.text
        assert "http-equiv" not in r.text and 'id="total-events"' not in r.text
        # more requests, plain and htmx, while it runs: still the one computation
        for headers in ({}, {"HX-Request": "true"}, {}):
            again = c.get("/numbers", params={"from": "2024-12-20", "to": "2025-01-05"}, headers=headers)
            assert 'id="computing"' in again.text
        poll = c.get("/numbers", params={"from": "2024-12-20", "to": "2025-01-05"}, headers={"HX-Request": "true"})
        assert poll.text.startswith("<div id=\"figures\" hx-get=") and "<html" not in poll.text
        # an htmx poll never starts a computation
        idle = c.get("/numbers", params={"from": "2025-01-01"}, headers={"HX-Request": "true"})
        assert 'id="stale"' in idle.text and "hx-trigger" not in idle.text
        assert counted.calls == 1
    finally:
        counted.go.set()
    done = numbers_page(c, {"from": "2024-12-20", "to": "2025-01-05"})
    assert "hx-trigger" not in done.text and 'id="total-events"' in done.text
    assert "As of 2026-12-04 20:15:07 UTC" in done.text and counted.calls == 1


def test_numbers_bad_period_is_a_400_with_the_form(console, dataset):
    r = console.client("opa").get("/numbers", params={"from": "2025-13-01"})
    assert r.status_code == 400 and 'id="error"' in r.text and "2025-13-01" in r.text
    assert '<form class="inline" method="get" action="/numbers">' in r.text
    r = console.client("opa").get("/numbers", params={"from": "2025-01-05", "to": "2025-01-01"})
    assert r.status_code == 400 and "empty period" in r.text


# --------------------------------------------------------------------------
# /events
# --------------------------------------------------------------------------

def truth(checkins, dns, **f) -> list[dict]:
    """The events matching the filters, computed here; newest first."""
    rows = [{**e, "rule": e["rule"]} for e in checkins]
    rows += [{**e, "kind": "dns", "family": "rustock", "rule": "domain:rustock"} for e in dns]
    out = []
    for e in rows:
        cc, asn, _ = NETS.get(e["ip"].rsplit(".", 1)[0], (None, None, None))
        if "ip" in f and e["ip"] != f["ip"]:
            continue
        if "cidr" in f and ipaddress.ip_address(e["ip"]) not in ipaddress.ip_network(f["cidr"]):
            continue
        if "asn" in f and asn != f["asn"]:
            continue
        if "country" in f and cc != f["country"]:
            continue
        if "family" in f and e["family"] != f["family"]:
            continue
        if "rule" in f and e["rule"] != f["rule"]:
            continue
        if "kind" in f and e["kind"] != f["kind"]:
            continue
        if "from" in f and e["day"] < date.fromisoformat(f["from"]):
            continue
        if "to" in f and e["day"] > date.fromisoformat(f["to"]):
            continue
        out.append(e)
    return sorted(out, key=lambda e: -e["time"])


def shown(client, params: dict) -> tuple[int, list[tuple[str, str]]]:
    """(the total, from /events/count's page; the rows of the first page, as /events shows them)."""
    r = client.get("/events/count", params={**params, "size": 500})
    assert r.status_code == 200, r.text[:500]
    total = num(re.search(r'id="total">([\d,]+) events', r.text).group(1))
    page = client.get("/events", params={**params, "size": 500})
    assert page.status_code == 200 and 'id="total"' not in page.text  # the page does not count
    rows = [(row[1], row[2]) for row in Tables(page.text).tables["events"]]
    assert rows == [(row[1], row[2]) for row in Tables(r.text).tables["events"]]
    assert ('rel="next"' in page.text) == (total > 500)
    return total, rows


FILTERS = [
    {},
    {"ip": "198.51.100.1"},
    {"cidr": "100.64.0.0/16"},
    {"cidr": "203.0.113.0/25"},
    {"cidr": "2001:db8::/32"},
    {"asn": 64501},
    {"country": "TR"},
    {"family": "waledac"},
    {"rule": "none"},
    {"kind": "dns"},
    {"kind": "tls", "country": "US"},
    {"from": "2024-12-30", "to": "2025-01-01"},
    {"family": "rustock", "kind": "http", "from": "2025-01-06"},
]


def test_each_event_filter_against_the_truth(console, dataset):
    checkins, dns = dataset
    c = console.client("opa")
    for f in FILTERS:  # one dataset for all (writing it is the slow part)
        want = truth(checkins, dns, **f)
        params = {k: (f"AS{v}" if k == "asn" else v) for k, v in f.items()}
        total, rows = shown(c, params)
        assert total == len(want), f
        if len(want) <= 500:
            assert sorted(rows) == sorted((e["kind"], e["ip"]) for e in want), f
        else:
            assert len(rows) == 500


def test_events_paging_is_newest_first_and_exact_at_the_boundaries(console, dataset):
    checkins, dns = dataset
    want = truth(checkins, dns, kind="http")
    c = console.client("opa")
    size = 40
    pages = -(-len(want) // size)
    seen = []
    for page in range(1, pages + 2):
        r = c.get("/events", params={"kind": "http", "page": page, "size": size})
        rows = Tables(r.text).tables["events"]
        seen += rows
        assert len(rows) == (size if page < pages else len(want) - size * (pages - 1) if page == pages else 0)
        assert ('rel="next"' in r.text) == (page < pages)
        assert ('rel="prev"' in r.text) == (page > 1)
    times = [row[0] for row in seen]
    assert times == sorted(times, reverse=True) and len(seen) == len(want)
    assert [row[2] for row in seen] == [e["ip"] for e in want]  # the times are random: no ties
    assert pages >= 3


class Sizes(FakeEnricher):
    """FakeEnricher that notes how many addresses each lookup had."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def lookup(self, ips):
        self.sizes.append(len(ips))
        return super().lookup(ips)


def test_page_one_reads_the_newest_days_only_and_the_count_reads_all(console, dataset):
    checkins, dns = dataset
    # a damaged file on the first day: a page that needs only the newest days never opens it
    first = min(e["day"] for e in checkins)
    broken = console.ctx.storage / "events" / "kind=http" / f"date={first}" / "damaged.parquet"
    broken.write_bytes(b"not parquet")
    c = console.client("opa")
    want = truth(checkins, dns)
    r = c.get("/events", params={"size": 20})
    assert r.status_code == 200 and 'rel="next"' in r.text
    assert [row[2] for row in Tables(r.text).tables["events"]] == [e["ip"] for e in want[:20]]
    assert c.get("/events/count").status_code == 503  # the total reads every day: it meets the file
    broken.unlink()
    assert c.get("/events/count").status_code == 200


def test_an_as_filter_looks_up_each_day_once(console, dataset, monkeypatch):
    checkins, dns = dataset
    monkeypatch.setattr(eventsearch, "PLACES_DAYS", 64)  # every day of the dataset kept
    console.ctx.enricher = sizes = Sizes()
    c = console.client("opa")
    want = truth(checkins, dns, asn=64501)
    _, rows = shown(c, {"asn": "AS64501"})  # the count (every day) and page 1
    assert len(rows) == min(500, len(want))
    looked_up = len(sizes.sizes)
    again = c.get("/events", params={"asn": "64501", "size": 10, "page": 2})
    assert [row[2] for row in Tables(again.text).tables["events"]] == [e["ip"] for e in want[10:20]]
    # the days' addresses are kept: only the page's own addresses were looked up (for its columns)
    assert len(sizes.sizes) == looked_up + 1 and sizes.sizes[-1] <= 10


@pytest.mark.parametrize("params,field", [
    ({"cidr": "10.0.0.0/33"}, "cidr"), ({"cidr": "nonsense"}, "cidr"), ({"ip": "1.2.3"}, "ip"),
    ({"from": "2025-02-30"}, "from"), ({"to": "yesterday"}, "to"), ({"asn": "AS-1"}, "asn"),
    ({"country": "FRA"}, "country"), ({"kind": "smtp"}, "kind"),
    ({"from": "2025-01-02", "to": "2025-01-01"}, "from"),
])
def test_bad_event_filters_are_a_400_with_the_form(console, dataset, params, field):
    r = console.client("opa").get("/events", params=params)
    assert r.status_code == 400
    error = re.search(r'<p class="error" id="error">([^<]*)</p>', r.text).group(1)
    assert field in error and "\n" not in error
    assert 'action="/events"' in r.text  # the form again


def test_event_search_with_htmx_answers_the_results_only(console, dataset):
    c = console.client("opa")
    r = c.get("/events", params={"kind": "dns"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<p id="shown">') and "<html" not in r.text
    assert len(Tables(r.text).tables["events"]) == min(50, len(dataset[1]))
    # the count link: its own request, answered with the number alone
    link = re.search(r'<a id="count" href="([^"]+)" hx-get="\1"', r.text).group(1).replace("&amp;", "&")
    n = c.get(link, headers={"HX-Request": "true"})
    assert n.status_code == 200 and n.text.startswith('<span id="total">') and "<table" not in n.text
    assert num(re.search(r'id="total">([\d,]+) events', n.text).group(1)) == len(dataset[1])
    # htmx swaps no 400: the error line comes in a 200 partial (the plain form gets the 400)
    bad = c.get("/events", params={"cidr": "x"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200 and bad.text.startswith('<p class="error" id="error">cidr:')


def test_an_unreadable_dataset_is_a_503_not_a_500(console):
    day = console.ctx.storage / "events" / "kind=http" / "date=2025-01-06"
    day.mkdir(parents=True)
    (day / "broken.parquet").write_bytes(b"not parquet at all")
    c = console.client("opa")
    for path in ("/events", "/events/count", "/numbers"):
        r = numbers_page(c) if path == "/numbers" else c.get(path)
        r = c.get(path) if path == "/numbers" else r  # the poll said the error; a reload answers 503
        assert r.status_code == 503 and 'id="error"' in r.text, (path, r.status_code, r.text[-800:])


def test_markup_in_events_is_shown_escaped(console):
    storage = console.ctx.storage
    t = 1736000000.0  # 2025-01-04
    w = SegmentWriter(storage, "http", operation="op", sensor="s1", worker=0, fsync=False)
    key = w.checkins.add_template(template(method="GET", host="<b>host</b>.example", path="/<i>p</i>",
                                           user_agent='<script>alert("ua")</script>', rule="none", status=200,
                                           response="notice"))
    w.checkins.log(t, w.checkins.add_conn(("tcp", "192.0.2.7", 40000, "192.0.2.80", 80, None)), key)
    w.close()
    d = SegmentWriter(storage, "dns", operation="op", sensor="s1", worker=0, fsync=False)
    values = {"time": t + 1, "transport": "udp", "src_ip": "192.0.2.8", "src_port": 1024, "dst_ip": "192.0.2.53",
              "dst_port": 53, "qname": "<img src=x onerror=alert(1)>.example.", "qtype": 1, "rcode": 0,
              "rule": "none", "family": None, "ecs": None, "response": "answer"}
    d.rows.append(tuple(values[c] for c in DNS_ROW))
    d.close()
    console.ctx.enricher = FakeEnricher()
    r = console.client("opa").get("/events")
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(&#34;ua&#34;)&lt;/script&gt;" in r.text
    assert "<b>host</b>" not in r.text and "&lt;b&gt;host&lt;/b&gt;.example" in r.text
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    assert "&lt;i&gt;p&lt;/i&gt;" in r.text


def test_ipv6_address_and_prefix_filters(console):
    t0 = datetime(2025, 1, 6, tzinfo=UTC).timestamp()
    ips = ["2001:db8:1::5", "2001:db8:1::5", "2001:db8:2::7", "2001:db9::1", "198.51.100.1"]
    write_dataset(console.ctx.storage, [{"time": t0 + i, "day": NOTIFY_DAY, "ip": ip, "kind": "tcp",
                                         "family": None, "rule": "none"} for i, ip in enumerate(ips)], [])
    console.ctx.enricher = FakeEnricher()
    c = console.client("opa")
    for params, want in [({"cidr": "2001:db8::/32"}, ["2001:db8:2::7", "2001:db8:1::5", "2001:db8:1::5"]),
                         ({"cidr": "2001:db8:1::/48"}, ["2001:db8:1::5", "2001:db8:1::5"]),
                         ({"ip": "2001:DB8:1:0:0::5"}, ["2001:db8:1::5", "2001:db8:1::5"]),
                         ({"cidr": "::/0"}, ["2001:db9::1", "2001:db8:2::7", "2001:db8:1::5", "2001:db8:1::5"]),
                         ({"cidr": "198.51.100.1/32"}, ["198.51.100.1"])]:
        total, rows = shown(c, params)
        assert total == len(want) and [ip for _kind, ip in rows] == want, params


def test_operator_pages_are_404_for_a_partner(console, dataset):
    alice = console.client("alice")
    for path in ("/status", "/status/panel", "/numbers", "/events", "/tracker", "/tracker/i/evil.example",
                 "/notifications"):
        assert alice.get(path).status_code == 404, path


# --------------------------------------------------------------------------
# /tracker
# --------------------------------------------------------------------------

@pytest.fixture
def tracked(console):
    t = console.ctx.tracker
    inds = [Indicator.new(f"c2-{i}.example", "rustock" if i % 2 else "waledac", status="online" if i % 3 else
                          "sinkholed") for i in range(30)]
    inds.append(Indicator.new("198.51.100.9", "waledac"))
    inds.append(Indicator.new("http://evil.example/<b>gate</b>.php?a=1", "rustock"))
    t.add(inds, by="test", reason="seed")
    return t


def test_tracker_list_filters_and_pages(console, tracked):
    c = console.client("opa")
    all_ = list(tracked.select())
    for params, want in [
        ({}, all_),
        ({"family": "rustock"}, [i for i in all_ if i.family == "rustock"]),
        ({"status": "sinkholed"}, [i for i in all_ if i.status == "sinkholed"]),
        ({"kind": "ip"}, [i for i in all_ if i.kind == "ip"]),
        ({"q": "C2-1"}, [i for i in all_ if "c2-1" in i.value]),
        ({"q": "%"}, []),
        ({"family": "waledac", "status": "online", "kind": "domain"},
         [i for i in all_ if i.family == "waledac" and i.status == "online" and i.kind == "domain"]),
    ]:
        r = c.get("/tracker", params={**params, "size": 500})
        assert r.status_code == 200
        assert num(re.search(r'id="total">([\d,]+) indicators', r.text).group(1)) == len(want), params
        assert sorted(row[0] for row in Tables(r.text).tables["indicators"] if len(row) > 1) == sorted(
            i.value for i in want) or not want
    first = Tables(c.get("/tracker", params={"size": 10}).text).tables["indicators"]
    third = c.get("/tracker", params={"size": 10, "page": 4})
    assert len(first) == 10 and len(Tables(third.text).tables["indicators"]) == 2  # 32 = 10+10+10+2
    assert 'rel="next"' not in third.text and 'rel="prev"' in third.text
    assert c.get("/tracker", params={"status": "gone"}).status_code == 400
    url = c.get("/tracker", params={"q": "gate"})
    assert "&lt;b&gt;gate&lt;/b&gt;" in url.text and "<b>gate</b>" not in url.text


def test_status_change_by_hand_is_in_the_history_and_the_audit_log(console, tracked):
    c = console.client("opa")
    page = c.get("/tracker/i/c2-4.example")
    assert page.status_code == 200 and 'id="status">online<' in page.text
    token = console.csrf(c, "/tracker/i/c2-4.example")
    r = c.post("/tracker/i/c2-4.example", data={"status": "seized", "reason": "court order 42 <b>",
                                                "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/tracker/i/c2-4.example"
    assert tracked.get("c2-4.example").status == "seized"
    last = tracked.history("c2-4.example")[-1]
    assert (last.old, last.new, last.by, last.reason) == ("online", "seized", "opa", "court order 42 <b>")
    page = c.get("/tracker/i/c2-4.example").text
    assert "court order 42 &lt;b&gt;" in page and 'id="status">seized<' in page
    audit = console.store.audit_log(action="status")
    assert [(a.actor, a.target, a.detail) for a in audit] == [
        ("opa", "c2-4.example", {"old": "online", "new": "seized", "reason": "court order 42 <b>"})]
    # a URL indicator, reached by its escaped value
    u = c.get("/tracker/i/" + "http%3A%2F%2Fevil.example%2F%3Cb%3Egate%3C%2Fb%3E.php%3Fa%3D1")
    assert u.status_code == 200 and "&lt;b&gt;gate&lt;/b&gt;" in u.text


def test_status_change_needs_a_reason_and_a_known_status_and_csrf(console, tracked):
    c = console.client("opa")
    token = console.csrf(c, "/tracker/i/c2-4.example")
    r = c.post("/tracker/i/c2-4.example", data={"status": "seized", "reason": "  ", "csrf_token": token})
    assert r.status_code == 400 and "reason" in re.search(r'id="error">([^<]*)<', r.text).group(1)
    r = c.post("/tracker/i/c2-4.example", data={"status": "gone", "reason": "x", "csrf_token": token})
    assert r.status_code == 400 and "status" in r.text
    r = c.post("/tracker/i/c2-4.example", data={"status": "seized", "reason": "x"})
    assert r.status_code == 403
    assert tracked.get("c2-4.example").status == "online" and console.store.audit_log(action="status") == []
    assert c.get("/tracker/i/unknown.example").status_code == 404
    assert c.get("/tracker/i/not a value at all").status_code == 404
    assert c.post("/tracker/i/unknown.example", data={"status": "seized", "reason": "x",
                                                      "csrf_token": token}).status_code == 404


# --------------------------------------------------------------------------
# /notifications: takedown notify's deliveries
# --------------------------------------------------------------------------

NOTIFY_DAY = date(2025, 1, 6)
NOTIFY_CONTACTS = """match,address,organisation
198.51.100.0/24,noc@a.example,Org <A>
203.0.113.0/24,noc@b.example,Org B
192.0.2.0/24,quiet@c.example,No events
"""


def notify_cli(console, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(NOTIFY_CONTACTS)
    return subprocess.run([TAKEDOWN, "notify", str(console.path), "--out", str(tmp_path / "out"), "--date",
                           NOTIFY_DAY.isoformat(), "--contacts", str(contacts), *extra],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def notify_data(console):
    """Check-ins of NOTIFY_DAY from two contact networks (the real enricher does
    not know these documentation addresses: the contacts match by prefix)."""
    t0 = datetime(2025, 1, 6, tzinfo=UTC).timestamp()
    checkins = [{"time": t0 + 60 * i, "day": NOTIFY_DAY, "ip": ip, "kind": "http", "family": "rustock",
                 "rule": "domain:rustock"}
                for i, ip in enumerate(["198.51.100.1"] * 3 + ["198.51.100.2"] + ["203.0.113.5"] * 2)]
    write_dataset(console.ctx.storage, checkins, [])
    return {"noc@a.example": 4, "noc@b.example": 2}


def deliveries_shown(console) -> list[list[str]]:
    r = console.client("opa").get("/notifications")
    assert r.status_code == 200
    return Tables(r.text).tables["deliveries"]


def test_notify_sent_deliveries_are_on_the_page(console, notify_data, tmp_path):
    handler = Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        p = notify_cli(console, tmp_path, "--smtp", f"127.0.0.1:{port}")
    finally:
        controller.stop()
    assert p.returncode == 0, p.stderr
    assert sorted(e.rcpt_tos[0] for e in handler.envelopes) == sorted(notify_data)
    rows = deliveries_shown(console)
    got = {r[3]: r for r in rows}
    assert set(got) == set(notify_data)  # quiet@c.example had nothing: no delivery
    for address, events in notify_data.items():
        _, day, owner, _, organisation, files, n, status, _ = got[address]
        assert (day, status, num(n)) == (NOTIFY_DAY.isoformat(), "sent", events)
        assert owner.startswith("cidr-") and files and all(f.endswith(".csv") for f in files.split(", "))
        assert all((tmp_path / "out" / f).exists() for f in files.split(", "))
    assert got["noc@a.example"][4] == "Org <A>"  # the parser unescaped it: it was escaped in the page
    stored = console.store.deliveries()
    assert {d["address"]: d["events"] for d in stored} == notify_data


def test_notify_without_smtp_and_with_a_dead_relay_are_recorded(console, notify_data, tmp_path):
    p = notify_cli(console, tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted((r[3], r[7]) for r in deliveries_shown(console)) == [("noc@a.example", "written"),
                                                                     ("noc@b.example", "written")]
    port = free_port()  # nobody listens there
    p = notify_cli(console, tmp_path, "--smtp", f"127.0.0.1:{port}")
    assert p.returncode == 1 and p.stderr.startswith(f"Error: SMTP 127.0.0.1:{port}: cannot send to")
    rows = deliveries_shown(console)
    assert len(rows) == 4
    failed = [r for r in rows if r[7] == "failed"]
    assert sorted(r[3] for r in failed) == ["noc@a.example", "noc@b.example"]
    assert any(f"SMTP 127.0.0.1:{port}" in r[8] for r in failed)
    assert any("not sent" in r[8] for r in failed)
