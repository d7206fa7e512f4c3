"""takedown report: the numbers of an operation (analytics.queries, .charts, .report).

Every expected value is computed here, in plain Python, from the list of
events the test itself wrote through the segment writer; the report computes
them with DuckDB over the Parquet files.
"""

from __future__ import annotations

import csv
import json
import random
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takedown.analytics.report import build_report, parse_date, top_bottom
from takedown.errors import ReportError, TakedownError
from takedown.events import DNS_ROW, schema
from takedown.store.checkins import template
from takedown.store.segments import SegmentWriter

FIRST_DAY = date(2024, 12, 16)  # a Monday: 2024-W51
LAST_DAY = date(2025, 1, 12)  # a Sunday: 2025-W02 (the ISO year changes on 2024-12-30)
EMPTY_WEEK = "2024-W52"  # 2024-12-23 .. 2024-12-29: no check-in (DNS only)
EVIL_AS_NAME = "R&D <Net> \"quoted\""  # must come out escaped in the page

# country, asn, as_name per /24 (the fake enricher's database); 192.0.2.0/24 is unknown
NETS = {
    "198.51.100": ("US", 64500, "EXAMPLE-US"),
    "203.0.113": ("FR", 64501, "EXAMPLE-FR"),
    "100.64.1": ("TR", 64502, "EXAMPLE-TR"),
    "100.64.2": ("CA", 64503, EVIL_AS_NAME),
    "100.64.3": ("IN", 64504, "EXAMPLE-IN"),
    "100.64.4": ("BR", None, None),  # country known, AS not
    "192.0.2": (None, None, None),
}


class FakeEnricher:
    """An enricher with a /24 table; answers like takedown.enrich.Enricher."""

    sources = [{"name": "fake-geo", "version": "2025-01-01", "license": "test"}]

    def __init__(self) -> None:
        self.calls = 0

    def lookup(self, ips: pa.Array) -> pa.Table:
        self.calls += 1
        rows = [NETS.get(ip.rsplit(".", 1)[0], (None, None, None)) for ip in ips.to_pylist()]
        return pa.table({
            "cc": pa.array([r[0] for r in rows], pa.string()),
            "asn": pa.array([r[1] for r in rows], pa.int64()),
            "as_name": pa.array([r[2] for r in rows], pa.string()),
        })


def info(ip: str) -> tuple:
    return NETS[ip.rsplit(".", 1)[0]]


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def days_between(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def epoch(d: date, seconds: float) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + seconds


# --------------------------------------------------------------------------
# The synthetic operation
# --------------------------------------------------------------------------

def make_events(seed: int = 7) -> tuple[list[dict], list[dict]]:
    """Check-ins and DNS queries with repeat visits, an empty week, several
    countries, ASes, families and kinds."""
    rnd = random.Random(seed)
    weights = {"198.51.100": 30, "203.0.113": 14, "100.64.1": 9, "100.64.2": 6, "100.64.3": 4,
               "100.64.4": 3, "192.0.2": 5}
    bots = [f"{net}.{i + 1}" for net, n in weights.items() for i in range(n)]
    families = [("rustock", "domain:rustock"), ("waledac", "domain:waledac"), (None, "none")]
    active = [d for d in days_between(FIRST_DAY, LAST_DAY) if iso_week(d) != EMPTY_WEEK]
    checkins = []
    for n, ip in enumerate(bots):
        family, rule = families[n % 3]
        # fewer bots later on, as after a takedown; each visits on a few days, many times a day
        for d in rnd.sample(active, rnd.randint(1, 6)):
            if d >= date(2025, 1, 6) and n % 2:
                continue
            for _ in range(rnd.randint(1, 4)):
                kind = ("http", "tls", "tcp")[rnd.randrange(3)]
                checkins.append({"time": epoch(d, rnd.uniform(0, 86399)), "day": d, "ip": ip, "kind": kind,
                                 "family": family, "rule": rule})
    # the data's first and last day are fixed, whatever the sample
    checkins.append({"time": epoch(FIRST_DAY, 1.5), "day": FIRST_DAY, "ip": "198.51.100.1", "kind": "http",
                     "family": "rustock", "rule": "domain:rustock"})
    checkins.append({"time": epoch(LAST_DAY, 86399.25), "day": LAST_DAY, "ip": "203.0.113.200", "kind": "tcp",
                     "family": None, "rule": "none"})
    dns = []
    resolvers = ["192.0.2.53", "192.0.2.54", "198.51.100.1", "8.8.8.8"]  # 198.51.100.1 is also a bot
    for d in days_between(FIRST_DAY, LAST_DAY):
        for r in rnd.sample(resolvers, rnd.randint(1, 4)):
            for _ in range(rnd.randint(1, 3)):
                dns.append({"time": epoch(d, rnd.uniform(0, 86399)), "day": d, "ip": r})
    return checkins, dns


def write_dataset(storage: Path, checkins: list[dict], dns: list[dict]) -> None:
    writers = {k: SegmentWriter(storage, k, operation="op", sensor="s1", worker=0, fsync=False)
               for k in ("http", "tls", "tcp", "dns")}
    templates: dict[tuple, int] = {}
    for e in checkins:
        buf = writers[e["kind"]].checkins
        key = (e["kind"], e["family"], e["rule"])
        if key not in templates:  # one request record per distinct request, as the sensors do
            templates[key] = buf.add_template(template(method="GET", host="c2.example", path="/gate.php",
                                                       rule=e["rule"], family=e["family"], status=200,
                                                       response="notice"))
        conn = buf.add_conn(("tcp", e["ip"], 40000, "203.0.113.80", 80, None))
        buf.log(e["time"], conn, templates[key])
    for i, e in enumerate(dns):
        values = {"time": e["time"], "transport": "udp", "src_ip": e["ip"], "src_port": 1024 + i,
                  "dst_ip": "203.0.113.53", "dst_port": 53, "qname": "c2.example.", "qtype": 1, "rcode": 0,
                  "rule": "domain:rustock", "family": "rustock", "ecs": None, "response": "answer"}
        writers["dns"].rows.append(tuple(values[c] for c in DNS_ROW))
    for w in writers.values():
        w.close()


# --------------------------------------------------------------------------
# The truth, in plain Python
# --------------------------------------------------------------------------

def _table(events: list[dict], key, null_as=None) -> list[dict]:
    ips, n = defaultdict(set), defaultdict(int)
    for e in events:
        k = key(e)
        k = null_as if k is None and null_as is not None else k
        ips[k].add(e["ip"])
        n[k] += 1
    return [(k, len(ips[k]), n[k]) for k in ips]


def truth(checkins: list[dict], dns: list[dict], first: date, last: date) -> dict:
    ck = [e for e in checkins if first <= e["day"] <= last]
    dn = [e for e in dns if first <= e["day"] <= last]
    cal = days_between(first, last)
    weeks = sorted({iso_week(d) for d in cal})

    def per(events, key):
        ips, n = defaultdict(set), defaultdict(int)
        for e in events:
            ips[key(e)].add(e["ip"])
            n[key(e)] += 1
        return ips, n

    wi, wn = per(ck, lambda e: iso_week(e["day"]))
    di, dn_ = per(ck, lambda e: e["day"])
    ri, rn = per(dn, lambda e: iso_week(e["day"]))
    first_week = {}
    for w in weeks:
        for ip in wi[w]:
            first_week.setdefault(ip, w)
    countries = sorted(_table(ck, lambda e: info(e["ip"])[0]),
                       key=lambda t: (-t[1], t[0] is None, t[0] or ""))
    asn_rows = _table(ck, lambda e: info(e["ip"])[1])
    asns = sorted(asn_rows, key=lambda t: (-t[1], t[0] is None, t[0] or 0))
    fams = sorted(_table(ck, lambda e: e["family"], "unattributed"), key=lambda t: (-t[1], t[0]))
    rules = sorted(_table(ck, lambda e: e["rule"]), key=lambda t: (-t[1], t[0]))
    as_names = {asn: name for _, asn, name in NETS.values()}
    return {
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "total_unique_ips": len({e["ip"] for e in ck}),
        "total_events": len(ck),
        "weeks": [{"week": w, "unique_ips": len(wi[w]), "events": wn[w]} for w in weeks],
        "days": [{"day": d.isoformat(), "unique_ips": len(di[d]), "events": dn_[d]} for d in cal],
        "new_returning": [{"week": w, "unique_ips": len(wi[w]),
                           "new_ips": sum(first_week[ip] == w for ip in wi[w]),
                           "returning_ips": sum(first_week[ip] < w for ip in wi[w])} for w in weeks],
        "countries": [{"cc": k, "unique_ips": u, "events": n} for k, u, n in countries],
        "asns": [{"asn": k, "as_name": as_names[k], "unique_ips": u, "events": n} for k, u, n in asns],
        "families": [{"family": k, "unique_ips": u, "events": n} for k, u, n in fams],
        "rules": [{"rule": k, "unique_ips": u, "events": n} for k, u, n in rules],
        "resolvers": {
            "total_unique_resolvers": len({e["ip"] for e in dn}),
            "total_events": len(dn),
            "weeks": [{"week": w, "unique_resolvers": len(ri[w]), "events": rn[w]} for w in weeks],
        },
    }


@pytest.fixture(scope="module")
def operation(tmp_path_factory):
    storage = tmp_path_factory.mktemp("storage")
    checkins, dns = make_events()
    write_dataset(storage, checkins, dns)
    return storage, checkins, dns


@pytest.fixture(scope="module")
def full_report(operation, tmp_path_factory):
    storage, checkins, dns = operation
    out = tmp_path_factory.mktemp("report")
    result = build_report(storage, out, enricher=FakeEnricher(), operation="rustock-2011",
                          top_n=3, bottom_min_ips=4)
    return result, truth(checkins, dns, FIRST_DAY, LAST_DAY)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

TABLE_KEYS = ("period", "total_unique_ips", "total_events", "weeks", "days", "new_returning",
              "countries", "asns", "families", "rules", "resolvers")


@pytest.mark.parametrize("key", TABLE_KEYS)
def test_summary_matches_the_truth(full_report, key):
    result, expected = full_report
    assert result.summary[key] == expected[key]


def test_summary_json_is_the_summary_and_has_provenance(full_report):
    result, _ = full_report
    on_disk = json.loads((result.out / "summary.json").read_text())
    assert on_disk == result.summary
    assert on_disk["operation"] == "rustock-2011"
    assert on_disk["sources"] == FakeEnricher.sources
    assert on_disk["exact"] is True
    generated = datetime.strptime(on_disk["generated"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - generated).total_seconds()) < 600


def test_empty_week_and_days_are_zeros_not_omitted(full_report):
    result, _ = full_report
    s = result.summary
    assert [w["week"] for w in s["weeks"]] == ["2024-W51", "2024-W52", "2025-W01", "2025-W02"]
    assert s["weeks"][1] == {"week": EMPTY_WEEK, "unique_ips": 0, "events": 0}
    assert s["new_returning"][1] == {"week": EMPTY_WEEK, "unique_ips": 0, "new_ips": 0, "returning_ips": 0}
    empty_days = [d for d in s["days"] if iso_week(date.fromisoformat(d["day"])) == EMPTY_WEEK]
    assert len(empty_days) == 7 and all(d["unique_ips"] == d["events"] == 0 for d in empty_days)
    assert len(s["days"]) == (LAST_DAY - FIRST_DAY).days + 1
    # the DNS events of that week are resolvers, reported apart
    assert s["resolvers"]["weeks"][1]["events"] > 0


def test_dns_events_never_count_as_infected(full_report, operation):
    result, _ = full_report
    _, checkins, dns = operation
    bots = {e["ip"] for e in checkins}
    assert "8.8.8.8" not in bots and any(e["ip"] == "8.8.8.8" for e in dns)
    assert result.summary["total_unique_ips"] == len(bots)
    assert result.summary["total_events"] == len(checkins)
    assert sum(c["events"] for c in result.summary["countries"]) == len(checkins)


def test_new_plus_returning_is_unique_and_new_sum_is_total(full_report):
    s = full_report[0].summary
    assert all(r["new_ips"] + r["returning_ips"] == r["unique_ips"] for r in s["new_returning"])
    assert sum(r["new_ips"] for r in s["new_returning"]) == s["total_unique_ips"]
    assert s["new_returning"][0]["returning_ips"] == 0
    assert s["new_returning"][-1]["returning_ips"] > 0  # the test data does have returning bots


def test_week_change_and_top_bottom(full_report, operation):
    s = full_report[0].summary
    w = s["weeks"]
    assert s["week_change_pct"] == round((w[-1]["unique_ips"] - w[0]["unique_ips"]) * 100 / w[0]["unique_ips"], 1)
    assert s["week_change_pct"] < 0  # fewer bots after the "takedown"
    # top 3 / bottom 3 by events, recomputed from the raw events
    _, checkins, _ = operation
    events, ips = defaultdict(int), defaultdict(set)
    for e in checkins:
        cc = info(e["ip"])[0]
        if cc is not None:
            events[cc] += 1
            ips[cc].add(e["ip"])
    ranked = sorted(events, key=lambda c: (-events[c], c))
    top = ranked[:3]
    bottom = [c for c in reversed(ranked[3:]) if len(ips[c]) >= 4][:3]
    assert [c["cc"] for c in s["countries_chart"]["top"]] == top
    assert [c["cc"] for c in s["countries_chart"]["bottom"]] == bottom
    assert "BR" not in bottom  # 3 addresses: below the minimum of 4
    assert all(c["events"] == events[c["cc"]] for c in s["countries_chart"]["top"] + s["countries_chart"]["bottom"])


def _csv_value(text: str, like):
    if text == "":
        return None
    return int(text) if isinstance(like, int) and not isinstance(like, bool) else text


@pytest.mark.parametrize("name", ["weeks", "days", "countries", "asns", "families", "rules", "new_returning",
                                  "resolver_weeks"])
def test_csv_files_equal_the_json_tables(full_report, name):
    result, _ = full_report
    s = result.summary
    rows = s["resolvers"]["weeks"] if name == "resolver_weeks" else s[name]
    with (result.out / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert len(read) == len(rows) > 0
    for got, want in zip(read, rows):
        assert list(got) == list(want)  # same columns, same order
        assert {k: _csv_value(v, want[k] if want[k] is not None else 0) for k, v in got.items()} == want


def test_unknown_country_and_asn_are_null_and_counted(full_report, operation):
    s = full_report[0].summary
    _, checkins, _ = operation
    unknown = [e for e in checkins if info(e["ip"])[0] is None]
    row = next(c for c in s["countries"] if c["cc"] is None)
    assert row == {"cc": None, "unique_ips": len({e["ip"] for e in unknown}), "events": len(unknown)}
    no_asn = [e for e in checkins if info(e["ip"])[1] is None]
    row = next(a for a in s["asns"] if a["asn"] is None)
    assert row["unique_ips"] == len({e["ip"] for e in no_asn}) and row["as_name"] is None
    with (full_report[0].out / "countries.csv").open() as f:
        assert any(r["cc"] == "" for r in csv.DictReader(f))


def test_charts_are_valid_png_and_svg_and_deterministic(full_report, operation, tmp_path):
    result, _ = full_report
    stems = ("weekly_unique_ips", "countries_top_bottom", "daily_unique_ips")
    for stem in stems:
        png = (result.out / f"{stem}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
        root = ET.fromstring((result.out / f"{stem}.svg").read_bytes())
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    svg = (result.out / "weekly_unique_ips.svg").read_text()
    for w in result.summary["weeks"]:
        assert w["week"] in svg  # text kept as text (svg.fonttype none)
    storage = operation[0]
    again = build_report(storage, tmp_path, enricher=FakeEnricher(), operation="rustock-2011",
                         top_n=3, bottom_min_ips=4)
    for stem in stems:
        for ext in ("png", "svg"):
            assert (again.out / f"{stem}.{ext}").read_bytes() == (result.out / f"{stem}.{ext}").read_bytes()


def test_index_html_is_self_contained_and_shows_the_numbers(full_report):
    result, _ = full_report
    s = result.summary
    html = (result.out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert html.count("<svg") == 3  # the three charts, inline
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert ids and len(ids) == len(set(ids))  # unique ids across the inlined charts
    assert set(re.findall(r'href="#([^"]+)"', html)) <= set(ids)  # every reference resolves
    assert f"{s['total_unique_ips']:,}" in html and f"{s['total_events']:,}" in html
    assert f"{s['week_change_pct']:+.1f}%" in html
    for w in s["weeks"]:
        assert w["week"] in html
    for c in s["countries"]:
        assert f"<td>{c['cc'] or 'unknown'}</td>" in html
    assert s["period"]["from"] in html and s["period"]["to"] in html
    assert "fake-geo" in html and "2025-01-01" in html
    assert EVIL_AS_NAME not in html and "R&amp;D &lt;Net&gt;" in html  # autoescaped


def test_from_to_filters_the_period(operation, tmp_path):
    storage, checkins, dns = operation
    first, last = date(2024, 12, 30), date(2025, 1, 8)
    result = build_report(storage, tmp_path, enricher=FakeEnricher(), date_from=first, date_to=last)
    expected = truth(checkins, dns, first, last)
    for key in TABLE_KEYS:
        assert result.summary[key] == expected[key], key
    assert [w["week"] for w in result.summary["weeks"]] == ["2025-W01", "2025-W02"]
    # everyone is new in the first week of the period, even if seen before it
    assert result.summary["new_returning"][0]["returning_ips"] == 0
    # strings are accepted as well (the CLI's form)
    again = build_report(storage, tmp_path / "s", enricher=FakeEnricher(), date_from="2024-12-30", date_to="2025-01-08")
    assert again.summary["weeks"] == result.summary["weeks"]


def test_one_bound_defaults_the_other_to_the_data(operation, tmp_path):
    storage, checkins, dns = operation
    result = build_report(storage, tmp_path, enricher=FakeEnricher(), date_from=date(2025, 1, 6))
    assert result.summary["period"] == {"from": "2025-01-06", "to": LAST_DAY.isoformat()}
    assert result.summary["total_events"] == truth(checkins, dns, date(2025, 1, 6), LAST_DAY)["total_events"]


def test_period_wider_than_the_data_is_zero_filled(operation, tmp_path):
    storage, checkins, dns = operation
    first, last = date(2024, 12, 1), date(2025, 1, 31)
    result = build_report(storage, tmp_path, enricher=FakeEnricher(), date_from=first, date_to=last)
    assert len(result.summary["days"]) == 62
    assert result.summary["days"][0] == {"day": "2024-12-01", "unique_ips": 0, "events": 0}
    assert result.summary["weeks"][0]["week"] == "2024-W48"  # Sunday 2024-12-01
    assert result.summary["weeks"] == truth(checkins, dns, first, last)["weeks"]
    assert result.summary["week_change_pct"] is None  # no bot in the first week: no base


def test_approximate_counts_are_close(operation, tmp_path):
    storage, checkins, _ = operation
    result = build_report(storage, tmp_path, enricher=FakeEnricher(), exact=False)
    n = len({e["ip"] for e in checkins})
    assert result.summary["exact"] is False
    assert abs(result.summary["total_unique_ips"] - n) <= max(2, n * 0.1)
    assert result.summary["total_events"] == len(checkins)  # event counts stay exact


def test_empty_dataset_gives_a_report_of_zeros(tmp_path):
    result = build_report(tmp_path / "no-storage", tmp_path / "out", enricher=FakeEnricher())
    s = result.summary
    assert s["total_unique_ips"] == s["total_events"] == 0
    assert s["weeks"] == s["days"] == s["countries"] == s["families"] == []
    assert s["period"] == {"from": None, "to": None} and s["week_change_pct"] is None
    assert (tmp_path / "out" / "index.html").is_file()
    assert (tmp_path / "out" / "weekly_unique_ips.png").read_bytes().startswith(b"\x89PNG")
    with_dates = build_report(tmp_path / "no-storage", tmp_path / "out2", enricher=FakeEnricher(),
                              date_from="2025-01-01", date_to="2025-01-14")
    assert [w["unique_ips"] for w in with_dates.summary["weeks"]] == [0, 0, 0]  # W01, W02, W03
    assert len(with_dates.summary["days"]) == 14
    assert with_dates.summary["resolvers"]["weeks"][0] == {"week": "2025-W01", "unique_resolvers": 0, "events": 0}


@pytest.mark.parametrize("kwargs, message", [
    ({"date_from": "2025-13-01"}, "invalid --from date '2025-13-01': expected a day as YYYY-MM-DD"),
    ({"date_to": "20250101"}, "invalid --to date '20250101'"),
    ({"date_from": "yesterday"}, "invalid --from date 'yesterday'"),
    ({"date_from": 20250101}, "invalid --from date 20250101"),
    ({"date_from": datetime(2025, 1, 1, tzinfo=UTC)}, "invalid --from date"),
    ({"date_from": date(2025, 1, 2), "date_to": date(2025, 1, 1)},
     "empty report period: --from 2025-01-02 is after --to 2025-01-01"),
])
def test_bad_dates_are_one_clear_error(tmp_path, kwargs, message):
    with pytest.raises(ReportError) as err:
        build_report(tmp_path, tmp_path / "out", enricher=FakeEnricher(), **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, TakedownError)
    assert not (tmp_path / "out").exists()  # nothing written for a bad request


def test_parse_date():
    assert parse_date(" 2024-02-29 ") == date(2024, 2, 29)
    with pytest.raises(ReportError, match="invalid date '2023-02-29'"):
        parse_date("2023-02-29")


def test_output_path_that_is_a_file_is_an_error(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ReportError, match="cannot create report directory"):
        build_report(tmp_path, tmp_path / "taken", enricher=FakeEnricher())


def test_top_bottom_rules():
    rows = [{"cc": cc, "events": ev, "unique_ips": ips}
            for cc, ev, ips in [("US", 90, 50), ("FR", 40, 20), ("TR", 40, 25), ("CA", 30, 3),
                                ("IN", 20, 12), ("CN", 5, 10), ("DK", 5, 11), (None, 100, 60)]]
    top, bottom = top_bottom(rows, n=2, min_ips=10)
    assert [r["cc"] for r in top] == ["US", "FR"]  # unknown never ranked; ties by code
    assert [r["cc"] for r in bottom] == ["CN", "DK"]  # fewest first; CA (3 IPs) excluded
    top, bottom = top_bottom(rows, n=10, min_ips=0)
    assert len(top) == 7 and bottom == []  # never the same country in both lists


def test_pseudonymised_addresses_count_by_key(tmp_path):
    """Privacy modes store a truncated address, its keyed hash and its place:
    unique counts follow the hash, the country and AS the stored values."""
    rows = [  # (src_ip as stored, src_key, src_cc, src_asn)
        ("198.51.100.0", "k1", "DE", 64510),
        ("198.51.100.0", "k2", "DE", 64510),
        ("198.51.100.0", "k2", "DE", 64510),
        ("198.51.100.7", None, None, None),  # stored in clear: the enricher answers (US)
    ]
    sch = schema("http")
    day = date(2025, 2, 3)
    values = {"time": [datetime(2025, 2, 3, 10, i, tzinfo=UTC) for i in range(len(rows))],
              "src_ip": [r[0] for r in rows], "src_key": [r[1] for r in rows],
              "src_cc": [r[2] for r in rows], "src_asn": [r[3] for r in rows],
              "rule": ["none"] * len(rows), "response": ["notice"] * len(rows)}
    table = pa.table({f.name: pa.array(values[f.name], f.type) if f.name in values else pa.nulls(len(rows), f.type)
                      for f in sch}, schema=sch)
    directory = tmp_path / "events" / "kind=http" / f"date={day.isoformat()}"
    directory.mkdir(parents=True)
    pq.write_table(table, directory / "s-w0-1-00000001-1.parquet")
    s = build_report(tmp_path, tmp_path / "out", enricher=FakeEnricher()).summary
    assert s["total_unique_ips"] == 3 and s["total_events"] == 4
    assert s["countries"] == [{"cc": "DE", "unique_ips": 2, "events": 3}, {"cc": "US", "unique_ips": 1, "events": 1}]
    assert [(a["asn"], a["unique_ips"]) for a in s["asns"]] == [(64510, 2), (64500, 1)]


def test_sources_as_dataclasses_are_provenance(operation, tmp_path):
    """takedown.enrich.Enricher describes its sources as dataclasses."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Source:
        name: str
        version: str
        fields: tuple[str, ...]

    enricher = FakeEnricher()
    enricher.sources = (Source("geo-db", "2025.02", ("cc", "asn")),)
    result = build_report(operation[0], tmp_path, enricher=enricher, date_from="2025-01-06")
    assert result.summary["sources"] == [{"name": "geo-db", "version": "2025.02", "fields": ["cc", "asn"]}]
    html = (tmp_path / "index.html").read_text()
    assert "geo-db" in html and "fields: cc, asn" in html
    enricher.sources = [42]
    with pytest.raises(ReportError, match="enricher sources must be"):
        build_report(operation[0], tmp_path, enricher=enricher)
