"""The tracker's feed exports (takedown.tracker.formats: feodo_csv_out,
feodo_json_out, threatfox_csv_out, plain_out, stix, misp, atom), each read
back by the tool its consumers run: IntelMQ's own parser bots, stix2 and
stix2-validator, pymisp, feedparser."""

from __future__ import annotations

import base64
import csv
import io
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import unittest
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterator
from unittest import mock

import feedparser
import intelmq.lib.test as intelmq_test
import pytest
import stix2
from intelmq.bots.parsers.abusech.parser_feodotracker import AbusechFeodoTrackerParserBot
from intelmq.bots.parsers.generic.parser_csv import GenericCsvParserBot
from pymisp import MISPEvent
from pymisp.tools import feed_meta_generator
from stix2.patterns import (AndBooleanExpression, EqualityComparisonExpression, IntegerConstant, ObjectPath,
                            ObservationExpression, StringConstant)  # fmt: skip
from stix2validator import ValidationOptions, validate_string

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, export, get
from takedown.tracker.formats import misp as misp_format
from takedown.tracker.formats._values import host_port, uuid5
from takedown.tracker.formats.misp import attribute_feed, md5s
from takedown.tracker.formats.stix import pattern
from takedown.tracker.indicator import Change, Indicator

NOW = datetime(2026, 12, 4, 17, 0, 0, tzinfo=UTC)
T0 = datetime(2026, 10, 1, 8, 30, 15, tzinfo=UTC)


def sample() -> list[Indicator]:
    """Every kind, several families and statuses, IPv6, an IDN domain, URLs
    with quotes and backslashes, notes and tags that need quoting."""
    rows = [
        ("192.0.2.10:443", "Emotet", "online", 64500, "Example DE", "DE", ("epoch4", 'say "hi"'), "line one\nline two"),
        ("192.0.2.11", "Emotet", "offline", 64500, "Example DE", "DE", (), ""),
        ("[2001:db8::1]:8080", "QakBot", "online", 64502, "Exämple FR, SA", "FR", ("ipv6",), "a,b;c'd"),
        ("2001:db8::2", "QakBot", "sinkholed", None, None, None, (), ""),
        ("198.51.100.7:447", "TrickBot", "seized", 64501, "Second DE", "DE", ("gtag,tt",), ""),
        ("198.51.100.7:449", "TrickBot", "seized", 64501, "Second DE", "DE", (), ""),  # same host, other port
        ("zeus-cc.example", "ZeuS", "sinkholed", None, None, None, ("b71",), "seized 2012-03-23"),
        ("bücher-c2.example", "ZeuS", "online", None, None, None, (), "IDN: ü"),
        ("gate.dridex.example", "Dridex", "unknown", None, None, None, (), ""),
        ("http://203.0.113.5/gate.php?id=1&x='2'", "ZeuS", "online", 64502, "Example FR", "FR", (), "<script>"),
        ("https://evil.example:8443/a\\b\"c/", "Dridex", "offline", None, None, None, ("x\\y",), ""),
    ]  # fmt: skip
    out = []
    for i, (value, family, status, asn, as_name, cc, tags, notes) in enumerate(rows):
        out.append(Indicator.new(value, family, status=status, first_seen=T0 + timedelta(days=i, seconds=7 * i),
                                 last_seen=NOW - timedelta(hours=i), last_online=NOW - timedelta(days=i),
                                 asn=asn, as_name=as_name, country=cc, source="feodo" if i % 2 else "",
                                 confidence=10 * i, tags=tags, notes=notes, id=i + 1, revision=i,
                                 updated=T0 + timedelta(days=30 + i)))  # fmt: skip
    return out


def write(name: str, indicators, **params) -> bytes:
    buf = io.BytesIO()
    get(name).write(indicators, ExportContext(now=NOW, params=params), buf)
    return buf.getvalue()


def comments_and_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    rows = list(csv.reader(ln for ln in lines if not ln.startswith("#")))
    return comments, rows


# ---------------------------------------------------------------------------
# abuse.ch layouts
# ---------------------------------------------------------------------------


def test_banner_says_title_time_count_and_terms():
    text = write("plain", sample(), terms="https://tracker.example/terms").decode()
    comments, rows = comments_and_rows(text)
    assert [r[0] for r in rows] == ["zeus-cc.example", "bücher-c2.example".encode("idna").decode(), "gate.dridex.example"]
    banner = "\n".join(comments)
    assert "takedown C&C tracker: C&C domain blocklist" in banner
    assert "Last updated: 2026-12-04 17:00:00 UTC" in banner
    assert "Terms of use: https://tracker.example/terms" in banner
    counts = [c for c in comments if "Number of entries:" in c]
    assert len(counts) == 1 and counts[0].split(":")[1].split()[0] == "3"
    # the box stays a box: every banner line as wide as the rules
    assert len({len(c) for c in comments[:7]}) == 1


def test_feodo_csv_has_feodos_header_and_only_addresses():
    text = write("feodo-csv", sample()).decode()
    comments, rows = comments_and_rows(text)
    assert rows[0] == ["first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware"]
    ips = [i for i in sample() if i.kind == "ip"]
    assert len(rows) - 1 == len(ips) == 6
    assert rows[1] == ["2026-10-01 08:30:15", "192.0.2.10", "443", "online", "2026-12-04", "Emotet"]
    assert rows[2][1:3] == ["192.0.2.11", ""]  # no port: empty dst_port
    assert rows[3][1:3] == ["2001:db8::1", "8080"]  # IPv6 bare, as Feodo writes it
    assert any("Number of entries: 6 " in c for c in comments)
    assert all(line.startswith('"') for line in text.splitlines() if not line.startswith("#"))  # all quoted


def test_feodo_json_is_feodos_array():
    data = json.loads(write("feodo-json", sample()))
    assert len(data) == 6
    assert data[0] == {"ip_address": "192.0.2.10", "port": 443, "status": "online", "hostname": None,
                       "as_number": 64500, "as_name": "Example DE", "country": "DE",
                       "first_seen": "2026-10-01 08:30:15", "last_online": "2026-12-04", "malware": "Emotet"}  # fmt: skip
    assert data[2]["as_name"] == "Exämple FR, SA" and data[3]["port"] is None and data[3]["as_number"] is None
    assert json.loads(write("feodo-json", [])) == []


def test_threatfox_csv_columns_and_what_it_leaves_out():
    text = write("threatfox-csv", sample(), reporter="cert-xy").decode()
    comments, rows = comments_and_rows(text)
    header = next(c for c in comments if c.startswith('# "first_seen_utc"'))
    assert next(csv.reader([header[2:]]))[:4] == ["first_seen_utc", "ioc_id", "ioc_value", "ioc_type"]
    by_value = {r[2]: r for r in rows}
    assert "192.0.2.11" not in by_value and "2001:db8::2" not in by_value  # ThreatFox has ip:port only
    assert len(rows) == len(sample()) - 2
    r = by_value["[2001:db8::1]:8080"]
    assert r == ["2026-10-03 08:30:29", "3", "[2001:db8::1]:8080", "ip:port", "botnet_cc", "QakBot", "None", "QakBot",
                 "2026-12-02 17:00:00", "20", "False", "None", "ipv6", "0", "cert-xy"]  # fmt: skip
    assert by_value["zeus-cc.example"][3] == "domain" and by_value["zeus-cc.example"][11] == "None"
    assert by_value["198.51.100.7:447"][12] == "gtag,tt"  # a tag with a comma: the field is quoted
    url = sample()[-1].value
    assert by_value[url][3] == "url" and by_value[url][12] == "x\\y"


def test_plain_ip_list_lists_each_host_once():
    text = write("plain", sample(), kind="ip").decode()
    comments, rows = comments_and_rows(text)
    assert [r[0] for r in rows] == ["192.0.2.10", "192.0.2.11", "2001:db8::1", "2001:db8::2", "198.51.100.7"]
    assert any("Number of entries: 5 " in c for c in comments)
    # an IPv6 address whose integer is an IPv4 one's is its own host
    v4 = Indicator.new("0.0.0.1", "x")
    v6 = Indicator.new("::1", "x")
    assert write("plain", [v4, v6], kind="ip").decode().splitlines()[-2:] == ["0.0.0.1", "::1"]


def test_plain_refuses_an_unknown_kind():
    with pytest.raises(TrackerError, match="kind=url"):
        write("plain", sample(), kind="url")


def test_exports_are_atomic_files(tmp_path):
    out = tmp_path / "ipblocklist.csv"
    export(get("feodo-csv"), sample(), ExportContext(now=NOW), out)
    assert out.read_text().count("\n192.0.2.") == 0 and '"192.0.2.10"' in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["ipblocklist.csv"]


# ---------------------------------------------------------------------------
# IntelMQ's own parser bots read every abuse.ch export with no field dropped
# ---------------------------------------------------------------------------


class IntelMQCase(intelmq_test.BotTestCase):
    # IntelMQ's generic bot checks test IntelMQ, not us
    test_bot_name = None
    test_static_bot_check_method = None

    @classmethod
    def setUpClass(cls):
        # IntelMQ refuses to run as root and would switch to an 'intelmq'
        # user; the tests run as root in the VM and the parser needs no rights
        cls._root = mock.patch("intelmq.lib.utils.drop_privileges", return_value=True)
        cls._root.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls._root.stop()
        super().tearDownClass()

    def parse(self, raw: bytes, **parameters) -> list[dict]:
        self.input_message = {"__type": "Report", "raw": base64.b64encode(raw).decode(),
                              "time.observation": "2026-12-04T17:05:00+00:00"}  # fmt: skip
        self.run_bot(parameters=parameters, allowed_warning_count=0, allowed_error_count=0)
        return [json.loads(e) for e in self.get_output_queue()]


def check_ip_fields(ind: Indicator, ev: dict) -> None:
    """The fields both Feodo formats carry, as IntelMQ maps them."""
    v = ind.parsed
    assert ev["source.ip"] == v.host
    assert ev.get("source.port") == v.port
    assert ev["status"] == ind.status
    assert ev["malware.name"] == ind.family.lower()
    assert ev["time.source"] == ind.first_seen.isoformat()
    assert ev["extra.last_online"] == ind.last_online.strftime("%Y-%m-%d")


class TestFeodoJsonByIntelMQ(IntelMQCase, unittest.TestCase):
    @classmethod
    def set_bot(cls):
        cls.bot_reference = AbusechFeodoTrackerParserBot

    def test_every_field_arrives(self):
        ips = [i for i in sample() if i.kind == "ip"]
        events = self.parse(write("feodo-json", sample()))
        assert len(events) == len(ips)
        for ind, ev in zip(ips, events, strict=True):
            check_ip_fields(ind, ev)
            assert ev["classification.type"] == "c2-server"
            assert ev.get("source.asn") == ind.asn
            assert ev.get("source.as_name") == ind.as_name
            assert ev.get("source.geolocation.cc") == ind.country


#: IntelMQ's generic CSV parser, configured as intelmq/etc/feeds.yaml
#: configures it for URLhaus, the one abuse.ch CSV feed it lists, with each
#: format's own columns (feeds.yaml has no entry for them)
URLHAUS_LIKE = {"skip_header": False, "default_url_protocol": "http://", "delimiter": ","}
# a list with no type column: the classification is the feed's (the bot's "type")
C2_LIST = {**URLHAUS_LIKE, "type": "c2-server"}
FEODO_CSV = {**C2_LIST, "skip_header": True,
             "columns": ["time.source", "source.ip", "source.port", "status", "extra.last_online", "malware.name"]}
# ioc_value: a domain is an FQDN, a URL a URL; an ip:port fits neither (nor
# source.ip), so it arrives whole in extra.ioc_value (default_url_protocol
# "" keeps it from passing as a URL "http://ADDRESS:PORT")
THREATFOX_CSV = {**URLHAUS_LIKE, "default_url_protocol": "", "type_translation": {"botnet_cc": "c2-server"},
                 "columns": ["time.source", "extra.ioc_id", "source.fqdn|source.url|extra.ioc_value",
                             "extra.ioc_type", "classification.type", "malware.name", "extra.malware_alias",
                             "extra.malware_printable", "extra.last_seen_utc", "extra.confidence_level",
                             "extra.is_compromised", "extra.reference", "extra.tags", "extra.anonymous",
                             "extra.reporter"]}  # fmt: skip


class TestAbuseChCsvByIntelMQ(IntelMQCase, unittest.TestCase):
    @classmethod
    def set_bot(cls):
        cls.bot_reference = GenericCsvParserBot
        cls.sysconfig = {"columns": ["source.fqdn"]}  # the bot's checks want columns; each test sets its own

    def test_feodo_csv(self):
        ips = [i for i in sample() if i.kind == "ip"]
        events = self.parse(write("feodo-csv", sample()), **FEODO_CSV)
        assert len(events) == len(ips)
        for ind, ev in zip(ips, events, strict=True):
            check_ip_fields(ind, ev)

    def test_threatfox_csv(self):
        carried = [i for i in sample() if i.kind != "ip" or i.parsed.port is not None]
        events = self.parse(write("threatfox-csv", sample()), **THREATFOX_CSV)
        assert len(events) == len(carried)
        for ind, ev in zip(carried, events, strict=True):
            value = {"domain": "source.fqdn", "url": "source.url", "ip": "extra.ioc_value"}[ind.kind]
            assert ev[value] == ind.value
            assert ev["extra.ioc_type"] == {"domain": "domain", "url": "url", "ip": "ip:port"}[ind.kind]
            assert ev["classification.type"] == "c2-server"
            assert ev["malware.name"] == ind.family.lower() and ev["extra.malware_printable"] == ind.family
            assert ev["time.source"] == ind.first_seen.isoformat()
            assert ev["extra.last_seen_utc"] == ind.last_online.strftime("%Y-%m-%d %H:%M:%S")
            assert int(ev["extra.confidence_level"]) == ind.confidence
            assert ev["extra.ioc_id"] in (str(ind.id), ind.id)
            assert ev["extra.tags"] == (",".join(ind.tags) or "None")
            assert ev["extra.reference"] == (ind.source or "None")

    def test_plain_lists(self):
        domains = [i.value for i in sample() if i.kind == "domain"]
        events = self.parse(write("plain", sample()), **C2_LIST, columns=["source.fqdn"])
        assert [ev["source.fqdn"] for ev in events] == domains
        hosts = list(dict.fromkeys(i.parsed.host for i in sample() if i.kind == "ip"))
        events = self.parse(write("plain", sample(), kind="ip"), **C2_LIST, columns=["source.ip"])
        assert [ev["source.ip"] for ev in events] == hosts


# ---------------------------------------------------------------------------
# STIX 2.1
# ---------------------------------------------------------------------------


def stix_pattern(ind: Indicator) -> str:
    """The pattern as stix2's own pattern classes write it."""

    def eq(obj, path, value):
        const = IntegerConstant(value) if isinstance(value, int) else StringConstant(value)
        return EqualityComparisonExpression(ObjectPath(obj, path), const)

    v = ind.parsed
    if ind.kind in ("domain", "url"):
        return str(ObservationExpression(eq("domain-name" if ind.kind == "domain" else "url", ["value"], ind.value)))
    addr = "ipv6-addr" if ":" in v.host else "ipv4-addr"
    if v.port is None:
        return str(ObservationExpression(eq(addr, ["value"], v.host)))
    return str(ObservationExpression(AndBooleanExpression([
        eq("network-traffic", ["dst_ref", "type"], addr), eq("network-traffic", ["dst_ref", "value"], v.host),
        eq("network-traffic", ["dst_port"], v.port)])))  # fmt: skip


def test_stix_patterns_are_stix2s():
    for ind in sample():
        assert pattern(ind) == stix_pattern(ind), ind.value


def test_stix_bundle_is_valid_and_every_object_is_what_stix2_makes():
    raw = write("stix", sample())
    # 103: ids are UUIDv5 of the value on purpose (stable across exports), not v4
    results = validate_string(raw.decode(), ValidationOptions(version="2.1", disabled=["103"]))
    assert results.is_valid, [str(e) for e in results.errors]
    assert not results.warnings, [str(w) for w in results.warnings]
    bundle = json.loads(raw)
    by_type: dict[str, list[dict]] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
        parsed = stix2.parse(obj)  # validates properties and the pattern
        assert json.loads(parsed.serialize()) == obj
    inds = sample()
    assert len(by_type["indicator"]) == len(by_type["relationship"]) == len(inds)
    malware = {m["name"]: m for m in by_type["malware"]}
    assert set(malware) == {i.family for i in inds} and all(m["is_family"] for m in malware.values())
    for ind, obj, rel in zip(inds, by_type["indicator"], by_type["relationship"], strict=True):
        assert obj["name"] == ind.value and obj["pattern"] == stix_pattern(ind)
        assert obj["created"] == ind.first_seen.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert obj["valid_from"] == ind.first_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert obj["labels"] == [ind.status, *ind.tags] and obj["confidence"] == ind.confidence
        assert rel["source_ref"] == obj["id"] and rel["target_ref"] == malware[ind.family]["id"]
        assert rel["relationship_type"] == "indicates"


def test_registry_has_every_feed_format():
    from takedown.tracker.formats import names

    assert {"feodo-csv", "feodo-json", "threatfox-csv", "plain", "stix", "misp", "atom"} <= set(
        names(writable=True))


def test_banner_needs_a_seekable_file():
    class Pipe(io.BytesIO):
        def seekable(self):
            return False

    with pytest.raises(TrackerError, match="seekable"):
        get("feodo-csv").write(sample(), ExportContext(now=NOW), Pipe())


def test_stix_ids_are_stable_across_exports():
    a = json.loads(write("stix", sample()))
    buf = io.BytesIO()
    get("stix").write(sample()[::-1], ExportContext(now=NOW + timedelta(days=3), serial=9), buf)
    b = json.loads(buf.getvalue())
    assert a["id"] != b["id"]  # a new bundle...
    assert {o["id"] for o in a["objects"]} == {o["id"] for o in b["objects"]}  # ...of the same objects
    # a family's malware object is the same in every export, whichever indicator comes first
    assert sorted(json.dumps(o) for o in a["objects"] if o["type"] == "malware") == sorted(
        json.dumps(o) for o in b["objects"] if o["type"] == "malware")


# ---------------------------------------------------------------------------
# MISP feed
# ---------------------------------------------------------------------------


def misp_value(ind: Indicator) -> tuple[str, str]:
    v = ind.parsed
    if ind.kind != "ip":
        return ind.kind, ind.value
    return ("ip-dst", v.host) if v.port is None else ("ip-dst|port", f"{v.host}|{v.port}")


def test_misp_attributes_are_what_pymisp_makes():
    ctx = ExportContext(now=NOW)
    for ind in sample():
        ours = attribute_feed(ind, ctx)
        kind, value = misp_value(ind)
        a = MISPEvent().add_attribute(kind, value, category="Network activity", to_ids=True, comment=ind.notes,
                                      uuid=ours["uuid"], timestamp=ind.updated)  # fmt: skip
        a.first_seen = ind.first_seen
        a.last_seen = ind.last_online
        for t in (f'takedown:status="{ind.status}"', f'takedown:family="{ind.family}"', *ind.tags):
            a.add_tag(t)
        assert ours == a._to_feed(), ind.value
        assert md5s(kind, value) == a.hash_values("md5")


@pytest.mark.parametrize("mode", ["family", "day"])
def test_misp_feed_is_read_back_by_pymisp(tmp_path, monkeypatch, mode):
    monkeypatch.setattr(misp_format._Parts, "OPEN", 2)  # part files closed and reopened as events interleave
    feed = tmp_path / "feed"
    n = export(get("misp"), sample(), ExportContext(now=NOW, params={"events": mode}), feed)
    assert n == len(sample())
    files = sorted(p for p in feed.iterdir() if p.name not in ("manifest.json", "hashes.csv"))
    assert all(p.suffix == ".json" for p in files)  # nothing else left behind (the part files)
    manifest = json.loads((feed / "manifest.json").read_text())
    assert {p.stem for p in files} == set(manifest)
    seen: dict[str, tuple[str, str, bool]] = {}
    for p in files:
        ev = MISPEvent()
        ev.load_file(str(p))
        assert ev.uuid == p.stem and manifest[ev.uuid]["info"] == ev.info
        for a in ev.attributes:
            seen[a.value] = (a.type, ev.info, a.to_ids)
            assert f'takedown:status="' in " ".join(t.name for t in a.tags)
    want = {misp_value(i)[1]: i for i in sample()}
    assert set(seen) == set(want)
    for value, ind in want.items():
        kind, info, to_ids = seen[value]
        assert kind == misp_value(ind)[0] and to_ids
        key = ind.family if mode == "family" else ind.first_seen.strftime("%Y-%m-%d")
        assert key in info
    # manifest.json and hashes.csv are what pymisp's own feed tool makes of the event files
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in files:
        shutil.copy(p, copy / p.name)
    feed_meta_generator(copy)
    assert json.loads((copy / "manifest.json").read_text()) == manifest
    assert sorted((copy / "hashes.csv").read_text().split()) == sorted((feed / "hashes.csv").read_text().split())


def test_misp_keeps_event_and_attribute_uuids(tmp_path):
    def uuids(d: Path) -> set[str]:
        out = set()
        for p in d.glob("*-*.json"):
            ev = json.loads(p.read_text())["Event"]
            out |= {ev["uuid"]} | {a["uuid"] for a in ev["Attribute"]}
        return out

    export(get("misp"), sample(), ExportContext(now=NOW), tmp_path / "a")
    export(get("misp"), sample()[::-1], ExportContext(now=NOW + timedelta(days=1)), tmp_path / "b")
    assert uuids(tmp_path / "a") == uuids(tmp_path / "b") and len(uuids(tmp_path / "a")) == len(sample()) + 5


def test_misp_refuses_an_unknown_grouping(tmp_path):
    with pytest.raises(TrackerError, match="events=week"):
        export(get("misp"), sample(), ExportContext(now=NOW, params={"events": "week"}), tmp_path / "feed")
    assert not (tmp_path / "feed").exists()


# ---------------------------------------------------------------------------
# Atom
# ---------------------------------------------------------------------------


def changes() -> list[Change]:
    return [
        Change("zeus-cc.example", NOW - timedelta(minutes=5), "online", "sinkholed", "events",
               "resolvers ask our sinkhole <&> \x01\x1f", {"checkins": 12}),
        Change("http://203.0.113.5/gate.php?id=1&x='2'", NOW - timedelta(hours=2), "offline", "online", "check",
               "HTTP 200 \"ok\""),
        Change("[2001:db8::1]:8080", NOW - timedelta(days=1), None, "online", "import:feodo-csv", "feed.csv:7"),
    ]  # fmt: skip


def test_atom_feed_is_read_by_feedparser():
    raw = write_atom(changes())
    d = feedparser.parse(raw)
    assert not d.bozo, d.get("bozo_exception")
    assert d.version == "atom10" and len(d.entries) == 3
    assert d.feed.updated == "2026-12-04T16:55:00Z"
    for c, e in zip(changes(), d.entries, strict=True):
        assert e.title == f"{c.value}: {c.old or 'new'} -> {c.new}"
        assert e.updated == c.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert e.id.startswith("tag:takedown.invalid,")
        assert c.by in e.summary and e.tags[0].term == c.new
    assert "resolvers ask our sinkhole <&> " in d.entries[0].summary  # escaped, and the controls dropped


def test_atom_entry_ids_are_stable_and_distinct():
    a = [e.id for e in feedparser.parse(write_atom(changes())).entries]
    b = [e.id for e in feedparser.parse(write_atom(changes()[1:])).entries]
    assert len(set(a)) == 3 and a[1:] == b


def test_atom_feed_without_changes_is_valid():
    d = feedparser.parse(write_atom([]))
    assert not d.bozo and d.entries == [] and d.feed.updated == "2026-12-04T17:00:00Z"


def write_atom(chs: list[Change]) -> bytes:
    buf = io.BytesIO()
    assert get("atom").write([], ExportContext(now=NOW, changes=chs), buf) == len(chs)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Big exports stream in bounded memory
# ---------------------------------------------------------------------------


def many(n: int) -> Iterator[Indicator]:
    """``n`` indicators made one at a time (nothing here keeps them)."""
    families = ("Emotet", "QakBot", "ZeuS", "Dridex")
    for i in range(n):
        fam = families[i % 4]
        if i % 3 == 0:
            value, kind = f"c{i}.{fam.lower()}.example", "domain"
        elif i % 3 == 1:
            value, kind = f"{ipaddress.IPv4Address(0x0A000000 + i)}:{443 + i % 7}", "ip"
        else:
            value, kind = f"http://h{i}.example/gate.php?id={i}", "url"
        yield Indicator(value, kind, fam, status="online", first_seen=T0, last_online=NOW, confidence=75,
                        tags=("t",), id=i + 1)  # fmt: skip


BIG_FORMATS = ("stix", "feodo-csv", "feodo-json", "threatfox-csv", "plain")


def peak_rss(n: int, out: Path) -> int:
    """The peak resident memory (bytes) of a fresh process that exports
    ``n`` indicators in every streaming format (tracemalloc would make the
    200,000 three times slower)."""
    code = f"""
import resource, sys
from test_tracker_feeds import many, NOW
from takedown.tracker.formats import ExportContext, get
for name in {BIG_FORMATS!r}:
    with open(sys.argv[1] + "." + name, "wb") as f:
        get(name).write(many({n}), ExportContext(now=NOW), f)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                          timeout=600, check=True)  # fmt: skip
    return int(done.stdout.split()[-1])


def test_big_exports_stream_in_bounded_memory(tmp_path):
    """200,000 indicators take no more memory than 20,000: each writer holds
    one at a time (a list of 200,000 indicators alone is about 100 MB)."""
    small = peak_rss(20_000, tmp_path / "small")
    big = peak_rss(200_000, tmp_path / "big")
    for name in BIG_FORMATS:  # each did write about ten times as much
        assert (tmp_path / f"big.{name}").stat().st_size > 8 * (tmp_path / f"small.{name}").stat().st_size
    assert big - small < 16 * 1024 * 1024, (small, big)


# ---------------------------------------------------------------------------
# The writers' fast paths agree with the general parsers
# ---------------------------------------------------------------------------


def test_host_port_agrees_with_parse_value():
    values = [i.value for i in sample() if i.kind == "ip"] + ["::1", "[::ffff:1.2.3.4]:1", "0.0.0.0:65535"]
    for value in values:
        v = Indicator.new(value, "x").parsed
        assert host_port(v.text) == (v.host, v.port), value


def test_uuid5_agrees_with_uuid_module():
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "https://takedown.invalid/test")
    for name in ("", "a", "indicator:xn--bcher-kva.example", "ü" * 100, "x" * 1000):
        assert uuid5(ns, name) == str(uuid.uuid5(ns, name))


@pytest.mark.parametrize("name", ["feodo-csv", "feodo-json", "threatfox-csv", "plain"])
def test_what_we_export_we_read_back(tmp_path, name):
    """An abuse.ch-format file we publish is one our own importer (and so a
    partner running takedown) reads: every entry comes back, each one an
    indicator we exported (or, for an address list, its host)."""
    fmt = get(name)
    out = tmp_path / f"x{fmt.suffix}"
    written = export(fmt, sample(), ExportContext(now=NOW), out)
    back = list(fmt.read(out))
    assert written > 0 and len(back) == written
    ours = {i.value: i for i in sample()}
    hosts = {i.parsed.host for i in sample()}
    for b in back:
        assert b.value in ours or b.value in hosts, b.value
        if b.value in ours and name.startswith("feodo"):
            assert b.status == ours[b.value].status
