"""Network-owner reports (takedown.analytics.notify): Shadowserver's CSV
formats per AS, country and contact network, routed by a contacts file,
mailed to a real SMTP server on loopback, and read back by IntelMQ's own
Shadowserver parser."""

from __future__ import annotations

import csv
import email
import email.policy
import ipaddress
import json
import random
import shutil
import socket
import tempfile
import unittest
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import intelmq.bots.parsers.shadowserver._config as ss_config
import intelmq.lib.test as intelmq_test
import intelmq.lib.utils as intelmq_utils
import pyarrow as pa
import pytest
from aiosmtpd.controller import Controller
from intelmq import VAR_STATE_PATH
from intelmq.bots.parsers.shadowserver.parser import ShadowserverParserBot

from smtp_helpers import Collect
from takedown.analytics import notify as notify_module
from takedown.analytics import shadowserver as ss
from takedown.analytics.notify import Contact, load_contacts, notify, route
from takedown.errors import NotifyError
from takedown.events import DNS_ROW
from takedown.store.checkins import template
from takedown.store.segments import SegmentWriter

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "shadowserver-intelmq-schema.json"
REPORTS_JSON = Path("/tmp/reports_schema.json")  # Shadowserver's reports.json, when at hand
INTELMQ_JSON = Path("/tmp/intelmq_schema.json")  # Shadowserver's intelmq.json, when at hand

DAY = date(2026, 11, 20)
OPERATION = "waledac-2010"
SENSOR_V4, SENSOR_V6 = "198.18.0.53", "2001:db8:ffff::53"

# ---------------------------------------------------------------------------
# A fake enricher: where each test address is
# ---------------------------------------------------------------------------

#: network -> (cc, asn, as_name); first match wins; anything else is unknown
WHERE = [
    ("192.0.2.0/25", "DE", 64500, "Example DE"),
    ("2001:db8:1::/48", "DE", 64500, "Example DE"),
    ("192.0.2.128/25", "NL", None, None),  # a country but no AS
    ("198.51.100.0/24", "DE", 64501, "Second DE"),
    ("203.0.113.0/24", "FR", 64502, "Example FR"),
    ("2001:db8:2::/48", "FR", 64502, "Example FR"),
    ("198.18.0.0/15", "SE", 64999, "Sinkhole hosting"),
    ("2001:db8:ffff::/48", "SE", 64999, "Sinkhole hosting"),
]


def where(ip: str) -> tuple[str | None, int | None, str | None]:
    addr = ipaddress.ip_address(ip)
    for net, cc, asn, name in WHERE:
        if addr in ipaddress.ip_network(net):
            return cc, asn, name
    return None, None, None


class FakeEnricher:
    """The IpLookup protocol of takedown.analytics.dataset, from :data:`WHERE`."""

    def __init__(self) -> None:
        self.calls = 0

    def lookup(self, ips: pa.Array) -> pa.Table:
        self.calls += 1
        found = [where(ip) for ip in ips.to_pylist()]
        return pa.table({
            "cc": pa.array([f[0] for f in found], pa.string()),
            "asn": pa.array([f[1] for f in found], pa.int64()),
            "as_name": pa.array([f[2] for f in found], pa.string()),
        })


# ---------------------------------------------------------------------------
# The synthetic dataset and its truth
# ---------------------------------------------------------------------------

SOURCES = [
    "192.0.2.10", "192.0.2.11", "192.0.2.12", "2001:db8:1::10", "2001:db8:1::11",
    "192.0.2.200", "198.51.100.7", "198.51.100.200", "203.0.113.5", "2001:db8:2::5",
    "100.64.0.1", "2001:db8:3::1",
]  # fmt: skip
RESOLVERS = ["192.0.2.53", "198.51.100.53", "198.51.100.153", "203.0.113.53", "2001:db8:1::53", "100.64.0.53"]
FAMILIES = [("domain:waledac", "waledac"), ("http:rustock", "rustock"), ("none", None)]


def epoch(day: date, seconds: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + seconds


def build_storage(storage: Path, seed: int = 7) -> dict:
    """Write check-ins and DNS events for DAY (and the days around it, which
    must not be reported); return the truth: every event of DAY as a dict."""
    rnd = random.Random(seed)
    truth: dict[str, list[dict]] = {"checkins": [], "dns": []}
    writers = {k: SegmentWriter(storage, k, operation=OPERATION, sensor="s1", worker=0, fsync=False)
               for k in ("http", "tls", "tcp", "dns")}  # fmt: skip
    for day, n in ((DAY - timedelta(days=1), 20), (DAY, 400), (DAY + timedelta(days=1), 20)):
        for i in range(n):
            t = epoch(day, 30 + i * 211.017)  # distinct, millisecond times, all within the day
            src = rnd.choice(SOURCES)
            kind = rnd.choice(("http", "http", "http", "tls", "tcp"))
            rule, family = rnd.choice(FAMILIES)
            dst = SENSOR_V6 if ":" in src and rnd.random() < 0.5 else SENSOR_V4
            ev = {"kind": kind, "time": t, "src_ip": src, "src_port": 1024 + i, "dst_ip": dst,
                  "dst_port": {"http": 80, "tls": 443, "tcp": 8000}[kind], "rule": rule, "family": family,
                  "peer_ip": "10.9.8.7" if i % 9 == 0 else None, "host": None, "path": None, "query": None,
                  "user_agent": None, "headers": None, "sni": None, "ja3": None, "ja4": None}  # fmt: skip
            if kind == "http":
                tls = i % 4 == 0  # HTTP read inside a TLS handshake
                host = rnd.choice(["c2.waledac.example", "203.0.113.99", "gate.rustock.example"])
                ev.update(host=host, path=rnd.choice(["/gate.php", "/", "/a,b\"c"]),
                          query=rnd.choice([None, "id=1&x=2", ""]),
                          user_agent=rnd.choice(["Mozilla/4.0 (compatible; MSIE 6.0)", "bot, v2 \"x\""]))  # fmt: skip
                ev["headers"] = f"host: {host}\nuser-agent: {ev['user_agent']}"
                if i % 3 == 0:
                    ev["headers"] += "\nreferer: http://ref.example/p?q=1 \naccept: */*"
                if tls:
                    ev.update(sni="c2.waledac.example", ja3="a" * 32, ja4="t13d1516h2_8daaf6152771_e5627efa2ab1")
            elif kind == "tls":
                ev.update(host="tls.waledac.example", sni="tls.waledac.example", ja3="b" * 32, ja4="t13d_x_y")
            w = writers[kind].checkins
            conn = w.add_conn(("tcp", src, ev["src_port"], dst, ev["dst_port"], ev["peer_ip"]))
            fields = {k: ev[k] for k in ("rule", "family", "host", "path", "query", "user_agent", "headers",
                                         "sni", "ja3", "ja4")}  # fmt: skip
            extra = {"http": {"method": "GET", "status": 200, "response": "notice"},
                     "tls": {"tls_version": "1.3", "response": "close"},
                     "tcp": {"first_bytes": b"\x01\x02", "length": 2, "response": "close"}}[kind]  # fmt: skip
            w.log(t, conn, w.add_template(template(**fields, **extra)))
            if day == DAY:
                truth["checkins"].append(ev)
        for i in range(n * 2):
            t = epoch(day, 45 + i * 105.013)
            src = rnd.choice(RESOLVERS)
            rule, family, qname = rnd.choice([
                ("domain:waledac", "waledac", "christmas-ecard.example"),
                ("domain:waledac", "waledac", "www.christmas-ecard.example"),
                ("zone:3322.org:block", "nitol", "pcbot.3322.org"),
                ("zone:3322.org:pass", None, "www.3322.org"),  # a legitimate user of the zone
                ("none", None, "unrelated.example"),  # REFUSED
            ])
            qtype = rnd.choice((1, 28))
            transport = "udp" if rnd.random() < 0.8 else "tcp"
            row = {"time": t, "transport": transport, "src_ip": src, "src_port": 2000 + i, "dst_ip": SENSOR_V4,
                   "dst_port": 53, "qname": qname + ".", "qtype": qtype, "rcode": 0, "rule": rule,
                   "family": family, "ecs": None, "response": "answer"}  # fmt: skip
            writers["dns"].rows.append(tuple(row[c] for c in DNS_ROW))
            if day == DAY:
                truth["dns"].append({**row, "qname": qname, "qtype": {1: "A", 28: "AAAA"}[qtype]})
    for w in writers.values():
        w.close()
    return truth


def owners_of(ip: str) -> list[str]:
    cc, asn, _ = where(ip)
    owners = ([f"as{asn}"] if asn else []) + ([cc.lower()] if cc else [])
    return owners + (["unknown"] if not (asn and cc) else [])


def ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def checkin_report(ev: dict) -> str:
    return ("event6_" if ":" in ev["src_ip"] else "event4_") + ("sinkhole_http" if ev["kind"] == "http" else "sinkhole")


def expected_checkin_row(ev: dict) -> dict[str, str]:
    """The CSV row of a check-in, from the mapping in docs/notify.md."""
    cc, asn, _ = where(ev["src_ip"])
    dcc, dasn, _ = where(ev["dst_ip"])
    referer = ""
    for line in (ev["headers"] or "").split("\n"):
        if line.startswith("referer:"):
            referer = line.split(":", 1)[1].strip()
    app = {"http": "https" if ev["sni"] else "http", "tls": "tls", "tcp": ""}[ev["kind"]]
    url = "" if ev["path"] is None else ev["path"] + ("" if ev["query"] is None else "?" + ev["query"])
    row = {f: "" for f in ss.SINKHOLE_HTTP_FIELDS}
    row.update({
        "timestamp": ts(ev["time"]), "protocol": "tcp", "src_ip": ev["src_ip"], "src_port": str(ev["src_port"]),
        "src_asn": str(asn or ""), "src_geo": cc or "", "severity": "critical", "dst_ip": ev["dst_ip"],
        "dst_port": str(ev["dst_port"]), "dst_asn": str(dasn or ""), "dst_geo": dcc or "",
        "public_source": OPERATION, "infection": ev["family"] or "", "family": ev["family"] or "",
        "tag": "" if ev["rule"] == "none" else ev["rule"], "application": app, "http_url": url,
        "http_host": ev["host"] or "" if ev["kind"] == "http" else "", "http_agent": ev["user_agent"] or "",
        "forwarded_by": ev["peer_ip"] or "", "http_referer": referer, "ssl_servername": ev["sni"] or "",
    })  # fmt: skip
    return {f: row[f] for f in ss.REPORTS[checkin_report(ev)]}


def expected_dns_rows(truth: dict) -> list[dict[str, str]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for q in truth["dns"]:
        if q["rule"] != "none" and not q["rule"].endswith(":pass"):
            groups[(q["src_ip"], q["qname"], q["qtype"], q["transport"], q["rule"], q["family"])].append(q)
    rows = []
    for (ip, qname, qtype, transport, rule, family), qs in groups.items():
        cc, asn, _ = where(ip)
        row = {f: "" for f in ss.SINKHOLE_DNS_FIELDS}
        row.update({
            "timestamp": ts(min(q["time"] for q in qs)), "protocol": transport, "src_ip": ip,
            "src_asn": str(asn or ""), "src_geo": cc or "", "severity": "info", "infection": family,
            "family": family, "tag": rule, "query_type": qtype, "query": qname, "count": str(len(qs)),
        })  # fmt: skip
        rows.append(row)
    return rows


def expected_files(truth: dict, networks: list[str] = ()) -> dict[str, list[dict[str, str]]]:
    """File name -> its rows (any order), from the truth."""
    files: dict[str, list[dict]] = defaultdict(list)
    items = [(checkin_report(ev), ev["src_ip"], expected_checkin_row(ev)) for ev in truth["checkins"]]
    items += [("event4_sinkhole_dns", r["src_ip"], r) for r in expected_dns_rows(truth)]
    for report, ip, row in items:
        owners = owners_of(ip)
        owners += ["cidr-" + n.replace(".", "_").replace(":", "_").replace("/", "_")
                   for n in networks if ipaddress.ip_address(ip) in ipaddress.ip_network(n)]  # fmt: skip
        for owner in owners:
            files[f"{DAY.isoformat()}-{report}-{owner}.csv"].append(row)
    return files


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def key(row: dict) -> tuple:
    return tuple(sorted(row.items()))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    storage = tmp_path_factory.mktemp("storage")
    return storage, build_storage(storage)


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------


def test_columns_are_shadowservers_in_order():
    assert ss.SINKHOLE_HTTP_FIELDS == (
        "timestamp", "protocol", "src_ip", "src_port", "src_asn", "src_geo", "src_region", "src_city",
        "src_hostname", "src_naics", "src_sector", "device_vendor", "device_type", "device_model", "severity",
        "dst_ip", "dst_port", "dst_asn", "dst_geo", "dst_region", "dst_city", "dst_hostname", "dst_naics",
        "dst_sector", "public_source", "infection", "family", "tag", "application", "version", "event_id",
        "http_url", "http_host", "http_agent", "forwarded_by", "ssl_cipher", "http_referer", "ssl_servername",
        "machine_name",
    )  # fmt: skip
    assert ss.SINKHOLE_FIELDS == ss.SINKHOLE_HTTP_FIELDS[:31] + ("ssl_cipher", "ssl_servername")
    assert ss.SINKHOLE_FIELDS[30] == "event_id"
    assert ss.SINKHOLE_DNS_FIELDS == (
        "timestamp", "protocol", "src_ip", "src_port", "src_asn", "src_geo", "src_region", "src_city",
        "src_hostname", "src_naics", "src_sector", "device_vendor", "device_type", "device_model", "severity",
        "infection", "family", "tag", "query_type", "query", "count",
    )  # fmt: skip
    assert set(ss.REPORTS) == set(ss.SEVERITY)


@pytest.mark.skipif(not REPORTS_JSON.exists(), reason="no copy of Shadowserver's reports.json at hand")
def test_columns_equal_shadowservers_reports_json():
    reports = json.loads(REPORTS_JSON.read_text())
    for report, fields in ss.REPORTS.items():
        assert tuple(reports[report]["fields"]) == fields, report


@pytest.mark.skipif(not INTELMQ_JSON.exists(), reason="no copy of Shadowserver's intelmq.json at hand")
def test_test_schema_is_an_unchanged_copy_of_intelmq_json():
    published = json.loads(INTELMQ_JSON.read_text())
    ours = json.loads(SCHEMA.read_text())
    assert {v["file_name"] for v in ours.values()} == set(ss.REPORTS)
    for k, v in ours.items():
        assert published[k] == v, k


def test_one_csv_per_report_and_owner_with_the_right_rows(dataset, tmp_path):
    storage, truth = dataset
    enricher = FakeEnricher()
    result = notify(storage, tmp_path / "out", day=DAY, enricher=enricher, operation=OPERATION)
    expected = expected_files(truth)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(expected)  # no temporaries left
    assert [f.name for f in result.files] == sorted(expected)
    assert result.deliveries == () and result.sent == () and result.withheld == 0
    for f in result.files:
        header, rows = read_csv(f.path)
        assert tuple(header) == ss.REPORTS[f.report], f.name
        assert sorted(map(key, rows)) == sorted(map(key, expected[f.name])), f.name
        assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
        assert f.rows == len(rows)
        assert f.events == (sum(int(r["count"]) for r in rows) if f.report.endswith("_dns") else len(rows))
    # counts against the truth, independently of the row building above
    by_asn = Counter(owners_of(ev["src_ip"])[0] for ev in truth["checkins"] if where(ev["src_ip"])[1])
    for owner, n in by_asn.items():
        assert sum(f.rows for f in result.files if f.owner == owner and not f.report.endswith("_dns")) == n
    sunk = [q for q in truth["dns"] if q["rule"] in ("domain:waledac", "zone:3322.org:block")]
    assert sum(f.events for f in result.files if f.owner == "unknown" and f.report.endswith("_dns")) == sum(
        1 for q in sunk if not all(where(q["src_ip"])[:2]))
    assert sum(f.events for f in result.files if f.report.endswith("_dns") and f.owner.startswith("as")) == sum(
        1 for q in sunk if where(q["src_ip"])[1])
    assert enricher.calls == 2  # sources once (dataset), sensors once


def test_files_do_not_depend_on_batch_boundaries(dataset, tmp_path, monkeypatch):
    storage, _ = dataset
    notify(storage, tmp_path / "one", day=DAY, enricher=FakeEnricher(), operation=OPERATION)
    monkeypatch.setattr(notify_module, "BATCH_ROWS", 7)  # owners' runs now span many batches
    notify(storage, tmp_path / "many", day=DAY, enricher=FakeEnricher(), operation=OPERATION)
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "many").iterdir())
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "many" / name).read_bytes(), name


def test_file_names_are_shadowservers_and_intelmqs():
    import re

    intelmq_name = re.compile(r"^(?:\d{4}-\d{2}-\d{2}-)?(\w+)(-\w+)*\.csv$")  # IntelMQ's parser.py
    shadowserver = re.compile(r"^(\d{4}-\d{2}-\d{2})-([^-]+)-(.+)\.csv$")  # report-filename.md
    from takedown.analytics.notify import cidr_owner, report_name

    for owner in ("as64500", "de", "unknown", cidr_owner(ipaddress.ip_network("2001:db8::/32"))):
        name = report_name(DAY, "event4_sinkhole_http", owner)
        assert intelmq_name.match(name).group(1) == "event4_sinkhole_http"
        assert shadowserver.match(name).groups() == ("2026-11-20", "event4_sinkhole_http", owner)
    assert cidr_owner(ipaddress.ip_network("192.0.2.0/24")) == "cidr-192_0_2_0_24"


def test_pseudonymised_events_are_withheld_not_reported(tmp_path):
    w = SegmentWriter(tmp_path / "s", "http", operation="o", sensor="s", worker=0, fsync=False,
                      transform=lambda table: table.set_column(  # what privacy mode 'hash' stores
                          table.schema.get_field_index("src_key"), "src_key",
                          pa.array(["k"] * table.num_rows, pa.string())))  # fmt: skip
    tix = w.checkins.add_template(template(method="GET", path="/g", response="notice"))
    w.checkins.log(epoch(DAY, 60), w.checkins.add_conn(("tcp", "192.0.2.10", 1, SENSOR_V4, 80, None)), tix)
    w.close()
    result = notify(tmp_path / "s", tmp_path / "out", day=DAY, enricher=FakeEnricher())
    assert result.files == () and result.withheld == 1


def test_storage_with_dns_events_only(tmp_path):
    # the events view then has no check-in column at all (path, sni...)
    w = SegmentWriter(tmp_path / "s", "dns", operation="o", sensor="s", worker=0, fsync=False)
    for i in range(5):
        w.rows.append((epoch(DAY, 10 + i), "udp", "203.0.113.53", 5000 + i, SENSOR_V4, 53,
                       "christmas-ecard.example.", 1, 0, "domain:waledac", "waledac", None, "answer"))  # fmt: skip
    w.close()
    result = notify(tmp_path / "s", tmp_path / "out", day=DAY, enricher=FakeEnricher())
    assert [(f.name, f.rows, f.events) for f in result.files] == [
        ("2026-11-20-event4_sinkhole_dns-as64502.csv", 1, 5), ("2026-11-20-event4_sinkhole_dns-fr.csv", 1, 5)]
    _, rows = read_csv(result.files[0].path)
    assert rows[0]["timestamp"] == "2026-11-20 00:00:10" and rows[0]["count"] == "5" and rows[0]["src_port"] == ""


def test_parse_smtp_and_summary(dataset, tmp_path):
    from takedown.analytics.notify import parse_smtp

    assert parse_smtp("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_smtp("[::1]:25") == ("::1", 25)
    assert parse_smtp("mail.example:587") == ("mail.example", 587)
    for bad in ("127.0.0.1", ":25", "host:0", "host:70000", "host:x"):
        with pytest.raises(NotifyError, match="--smtp"):
            parse_smtp(bad)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    result = notify(dataset[0], tmp_path / "out", day=DAY, enricher=FakeEnricher(), contacts=contacts)
    lines = result.summary()
    assert f"{len(result.files)} report files for 2026-11-20" in lines
    assert any(line.startswith("for abuse@as64500.example: ") for line in lines)
    assert lines[-1] == "no SMTP relay given: nothing was sent"


def test_operation_name_is_quoted_not_interpreted(tmp_path):
    w = SegmentWriter(tmp_path / "s", "tcp", operation="o", sensor="s", worker=0, fsync=False)
    tix = w.checkins.add_template(template(response="close"))
    w.checkins.log(epoch(DAY, 60), w.checkins.add_conn(("tcp", "203.0.113.5", 1, SENSOR_V4, 8000, None)), tix)
    w.close()
    name = "it's a \\ test, \"quoted\""
    result = notify(tmp_path / "s", tmp_path / "out", day=DAY, enricher=FakeEnricher(), operation=name)
    _, rows = read_csv(result.files[0].path)
    assert rows[0]["public_source"] == name and rows[0]["application"] == "" and rows[0]["tag"] == ""


def test_no_events_writes_nothing(tmp_path):
    result = notify(tmp_path / "empty", tmp_path / "out", day=DAY, enricher=FakeEnricher())
    assert result.files == () and list((tmp_path / "out").iterdir()) == []


# ---------------------------------------------------------------------------
# Contacts and routing
# ---------------------------------------------------------------------------

CONTACTS = """\
# who gets what (test)
match,address,organisation

AS64500,abuse@as64500.example,"Example Networks, DE"
198.51.100.0/25,noc@as64501.example,Second DE NOC
2001:db8:1::/48,ABUSE@as64500.example,
fr,cert@cert-fr.example,CERT-FR (sécurité)
AS64777,quiet@nowhere.example,No events at all
"""
NETWORKS = ["198.51.100.0/25", "2001:db8:1::/48"]


def expected_routes(truth: dict) -> dict[str, set[str]]:
    files = set(expected_files(truth, NETWORKS))

    def of(owner: str) -> set[str]:
        return {f for f in files if f.endswith(f"-{owner}.csv")}

    return {
        "abuse@as64500.example": of("as64500") | of("cidr-2001_db8_1___48"),
        "noc@as64501.example": of("cidr-198_51_100_0_25"),
        "cert@cert-fr.example": of("fr"),
    }


def test_contacts_route_asn_cidr_country_and_merge_addresses(dataset, tmp_path):
    storage, truth = dataset
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    loaded = load_contacts(contacts)
    assert [(c.owner, c.where) for c in loaded] == [
        ("as64500", f"{contacts}:4"), ("cidr-198_51_100_0_25", f"{contacts}:5"),
        ("cidr-2001_db8_1___48", f"{contacts}:6"), ("fr", f"{contacts}:7"), ("as64777", f"{contacts}:8"),
    ]  # fmt: skip
    assert loaded[0].organisation == "Example Networks, DE"
    result = notify(storage, tmp_path / "out", day=DAY, enricher=FakeEnricher(), contacts=contacts,
                    operation=OPERATION)  # fmt: skip
    expected = expected_files(truth, NETWORKS)
    assert [f.name for f in result.files] == sorted(expected)
    for f in result.files:
        if f.owner.startswith("cidr-"):
            _, rows = read_csv(f.path)
            assert sorted(map(key, rows)) == sorted(map(key, expected[f.name]))
            net = ipaddress.ip_network(NETWORKS[0] if "198" in f.owner else NETWORKS[1])
            assert rows and all(ipaddress.ip_address(r["src_ip"]) in net for r in rows)
    routes = {d.address.lower(): set(d.attachments) for d in result.deliveries}
    assert routes == expected_routes(truth)
    assert [d.address for d in result.deliveries] == ["abuse@as64500.example", "noc@as64501.example",
                                                      "cert@cert-fr.example"]  # fmt: skip
    assert result.deliveries[0].organisation == "Example Networks, DE"
    assert result.sent == ()  # no relay given: routed, not sent


def test_route_merges_duplicate_lines_and_skips_empty_recipients():
    from takedown.analytics.notify import ReportFile

    f1 = ReportFile(Path("/o/2026-11-20-event4_sinkhole-as1.csv"), "event4_sinkhole", "as1", 2, 2)
    f2 = ReportFile(Path("/o/2026-11-20-event4_sinkhole-de.csv"), "event4_sinkhole", "de", 3, 3)
    contacts = [Contact("as1", "a@x.example", "", "f:1"), Contact("de", "a@x.example", "Org", "f:2"),
                Contact("as1", "a@x.example", "Other", "f:3"), Contact("fr", "b@x.example", "B", "f:4")]  # fmt: skip
    (d,) = route(contacts, [f1, f2])
    assert d.address == "a@x.example" and d.organisation == "Org"
    assert d.files == (f1, f2) and d.events == 5


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("match,addr,organisation\n", 1, "header"),
        ("# c\nmatch,address,organisation\nAS64500,abuse@x.example\n", 3, "expected 3 fields"),
        ("match,address,organisation\n\nAS-1,abuse@x.example,X\n", 3, "match"),
        ("match,address,organisation\nAS99999999999,abuse@x.example,X\n", 2, "match"),
        ("match,address,organisation\n192.0.2.1/24,abuse@x.example,X\n", 2, "match"),
        ("match,address,organisation\nDEU,abuse@x.example,X\n", 2, "match"),
        ("match,address,organisation\nDE,not an address,X\n", 2, "address"),
        ("match,address,organisation\nDE,a@x.example b@y.example,X\n", 2, "address"),
        ('match,address,organisation\nDE,a@x.example,"open\n', 2, "bad CSV"),
        ("match,address,organisation\nDE,a@x.example,X\n\xff\n", 3, "not UTF-8"),
    ],
)
def test_bad_contacts_lines_name_file_line_and_field(tmp_path, text, line, field):
    path = tmp_path / "contacts.csv"
    path.write_bytes(text.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(NotifyError) as exc:
        load_contacts(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:{line}: {field}"), message
    assert "\n" not in message


def test_missing_or_empty_contacts_and_bad_arguments(tmp_path, dataset):
    with pytest.raises(NotifyError, match=r"cannot read the contacts file"):
        load_contacts(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("# nothing\n\n")
    with pytest.raises(NotifyError, match=r"empty.csv: empty contacts file"):
        load_contacts(tmp_path / "empty.csv")
    with pytest.raises(NotifyError, match="needs a contacts file"):
        notify(dataset[0], tmp_path / "out", day=DAY, enricher=FakeEnricher(), smtp=("127.0.0.1", 25))
    with pytest.raises(NotifyError, match="sender"):
        notify(dataset[0], tmp_path / "out", day=DAY, enricher=FakeEnricher(), sender="nobody")
    assert not (tmp_path / "out").exists()  # checked before anything is written
    (tmp_path / "file").write_text("")
    with pytest.raises(NotifyError, match=r"cannot create the output directory .*file/out"):
        notify(dataset[0], tmp_path / "file" / "out", day=DAY, enricher=FakeEnricher())


# ---------------------------------------------------------------------------
# Mail, through a real SMTP server on loopback
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_message_per_recipient_with_its_csvs_attached(dataset, tmp_path):
    storage, truth = dataset
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    handler = Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = notify(storage, tmp_path / "out", day=DAY, enricher=FakeEnricher(), contacts=contacts,
                        smtp=("127.0.0.1", port), sender="sinkhole@cert.example", operation=OPERATION)  # fmt: skip
    finally:
        controller.stop()
    routes = expected_routes(truth)
    assert len(handler.envelopes) == len(routes) == len(result.sent)
    assert result.sent == result.deliveries
    seen = {}
    for env in handler.envelopes:
        assert env.mail_from == "sinkhole@cert.example"
        (rcpt,) = env.rcpt_tos
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        assert msg["From"] == "sinkhole@cert.example"
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert msg["To"].addresses[0].display_name == {
            "abuse@as64500.example": "Example Networks, DE", "noc@as64501.example": "Second DE NOC",
            "cert@cert-fr.example": "CERT-FR (sécurité)"}[rcpt]  # fmt: skip
        assert OPERATION in msg["Subject"] and DAY.isoformat() in msg["Subject"]
        body = msg.get_body(("plain",)).get_content()
        attachments = {}
        for part in msg.iter_attachments():
            assert part.get_content_type() == "text/csv"
            attachments[part.get_filename()] = part.get_content()
        for name, text in attachments.items():
            assert text == (tmp_path / "out" / name).read_text(encoding="utf-8")
            rows = len(read_csv(tmp_path / "out" / name)[1])
            assert f"{name}: {rows} rows" in body
        seen[rcpt.lower()] = set(attachments)
    assert seen == routes
    assert "quiet@nowhere.example" not in seen  # nothing to send, nothing sent


def test_smtp_failure_is_one_error_naming_the_relay(dataset, tmp_path):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    port = free_port()  # nobody listens there
    with pytest.raises(NotifyError, match=rf"^SMTP 127\.0\.0\.1:{port}: cannot send to abuse@as64500\.example"):
        notify(dataset[0], tmp_path / "out", day=DAY, enricher=FakeEnricher(), contacts=contacts,
               smtp=("127.0.0.1", port))  # fmt: skip


# ---------------------------------------------------------------------------
# IntelMQ's own Shadowserver parser reads every CSV we write
# ---------------------------------------------------------------------------


def intelmq_keys(feed: dict) -> dict[str, list[str]]:
    """CSV column -> the event keys IntelMQ's mapping may put its value in."""
    keys: dict[str, list[str]] = defaultdict(list)
    for intelmqkey, column, *_ in feed["required_fields"] + feed["optional_fields"]:
        if intelmqkey == "extra.":
            keys[column].append(f"extra.{column}")
        elif intelmqkey:
            keys[column] += [intelmqkey, f"extra.{column}"]  # an invalid value goes to extra.<column>
    return keys


class TestIntelMQShadowserverParser(intelmq_test.BotTestCase, unittest.TestCase):
    """Runs IntelMQ's parser on each file as its own tests do (intelmq.lib.test),
    with the schema of tests/data (the parser normally downloads it)."""

    # IntelMQ's generic bot checks test IntelMQ, not us
    test_bot_name = None
    test_static_bot_check_method = None

    @classmethod
    def set_bot(cls):
        cls.bot_reference = ShadowserverParserBot

    @classmethod
    def setUpClass(cls):
        # IntelMQ refuses to run as root and would switch to an 'intelmq'
        # user; the tests run as root in the VM and the parser needs no rights
        cls._root = mock.patch("intelmq.lib.utils.drop_privileges", return_value=True)
        cls._root.start()
        cls._tmp = Path(tempfile.mkdtemp())
        # the parser reads {state}/shadowserver-schema.json, as after a download
        shutil.copy(SCHEMA, ss_config.prepare_update_schema_test(str(cls._tmp)))
        ss_config.enable_test_mode(False)  # that file, not the test schema IntelMQ ships
        storage = cls._tmp / "storage"
        cls.truth = build_storage(storage, seed=11)
        contacts = cls._tmp / "contacts.csv"
        contacts.write_text(CONTACTS, encoding="utf-8")
        cls.result = notify(storage, cls._tmp / "out", day=DAY, enricher=FakeEnricher(), contacts=contacts,
                            operation=OPERATION)  # fmt: skip
        cls.schema = json.loads(SCHEMA.read_text())
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        ss_config.prepare_update_schema_test(VAR_STATE_PATH)
        ss_config.enable_test_mode(False)
        cls._root.stop()
        shutil.rmtree(cls._tmp, ignore_errors=True)
        super().tearDownClass()

    def parse(self, path: Path) -> list[dict]:
        self.input_message = {
            "__type": "Report",
            "raw": intelmq_utils.base64_encode(path.read_text(encoding="utf-8")),
            "time.observation": "2026-11-21T00:00:00+00:00",
            "extra.file_name": path.name,
        }
        self.run_bot(allowed_warning_count=0, allowed_error_count=0)
        return [json.loads(e) for e in self.get_output_queue()]

    def test_every_csv_is_parsed_with_no_field_dropped(self):
        files = self.result.files
        seen = Counter()
        assert {f.report for f in files} == set(ss.REPORTS)  # every type, IPv4 and IPv6, CIDR files too
        assert any(f.owner.startswith("cidr-") for f in files)
        for f in files:
            with self.subTest(file=f.name):
                feed = next(v for v in self.schema.values() if v["file_name"] == f.report)
                keys = intelmq_keys(feed)
                header, rows = read_csv(f.path)
                assert set(header) <= set(keys), set(header) - set(keys)  # no column IntelMQ does not know
                events = self.parse(f.path)
                assert len(events) == len(rows) == f.rows
                for row, ev in zip(rows, events, strict=True):
                    assert ev["feed.name"] == feed["feed_name"]
                    for column, value in row.items():
                        if value == "":
                            continue
                        if column == "http_host" and "destination.fqdn" not in ev:
                            # an address as Host is no FQDN: IntelMQ keeps it in the URL only
                            ipaddress.ip_address(value)
                            assert ev["destination.url"].split("/")[2] == value
                            seen["address as host"] += 1
                            continue
                        assert any(k in ev for k in keys[column]), (column, value, ev)
                    self.check_values(f.report, row, ev)
                    seen[ev.get("destination.url", "").partition(":")[0]] += 1
        # the branches above all ran: an address as Host, http and https URLs
        assert seen["address as host"] and seen["http"] and seen["https"], seen

    def check_values(self, report: str, row: dict, ev: dict) -> None:
        assert ev["time.source"] == row["timestamp"].replace(" ", "T") + "+00:00"
        assert ev["source.ip"] == row["src_ip"]
        assert ev.get("source.port") == (int(row["src_port"]) if row["src_port"] else None)
        assert ev.get("source.asn") == (int(row["src_asn"]) if row["src_asn"] else None)
        assert ev.get("source.geolocation.cc") == (row["src_geo"] or None)
        assert ev.get("malware.name") == (row["infection"] or None)
        assert ev["severity"] == ss.SEVERITY[report]
        if report.endswith("_dns"):
            assert ev["extra.dns_query"] == row["query"]
            assert ev["extra.dns_query_type"] == row["query_type"]
            assert ev["extra.count"] == int(row["count"])
            assert ev["classification.identifier"] == "sinkholedns"
            return
        assert ev["destination.ip"] == row["dst_ip"]
        assert ev["destination.port"] == int(row["dst_port"])
        assert ev["destination.asn"] == int(row["dst_asn"]) == 64999
        assert ev["destination.geolocation.cc"] == row["dst_geo"] == "SE"
        assert ev["classification.type"] == "infected-system"
        assert ev["extra.public_source"] == OPERATION
        if report.endswith("_http"):
            host = row["http_host"]
            assert ev["destination.url"] == f"{row['application']}://{host}{row['http_url'].split('?')[0]}" + (
                "?" + row["http_url"].split("?", 1)[1] if "?" in row["http_url"] else "")
            if not host[0].isdigit():
                assert ev["destination.fqdn"] == host
            assert ev["extra.http_agent"] == row["http_agent"]
        else:
            assert ev.get("extra.ssl_servername") == (row["ssl_servername"] or None)
