"""The tracker's ways in from files: abuse.ch's feeds (Feodo Tracker CSV and
JSON, ThreatFox CSV, URLhaus CSV), plain lists and takedown's own JSON Lines.

The fixtures are made up in the layout of abuse.ch's downloads (their
comment headers, quoting, spacing and ``None`` values), with documentation
addresses and names only.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.errors import TakedownError, TrackerError
from takedown.tracker import formats
from takedown.tracker.formats import ExportContext, export
from takedown.tracker.ingest import Overrides, import_file, read_file
from takedown.tracker.indicator import STATUSES, Indicator


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return p


def read(fmt: str, path: Path, skipped: Counter | None = None, **over) -> list[Indicator]:
    return list(read_file(fmt, path, Overrides(**over), skipped))


FEODO_CSV = """\
################################################################
# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #
# Last updated: 2026-12-04 16:05:11 UTC                        #
#                                                              #
# Terms Of Use: https://feodotracker.abuse.ch/blocklist/       #
################################################################
#
"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2026-10-17 07:44:46","192.0.2.10","443","online","2026-12-04","Dridex"
"2026-11-02 13:01:09","198.51.100.7","8080","offline","2026-11-20","Emotet"
"2026-11-03 00:00:01","2001:db8::7","4443","online","2026-12-03","QakBot"
# Number of entries: 3
"""

FEODO_JSON = """[
    {
        "ip_address": "192.0.2.10",
        "port": 443,
        "status": "online",
        "hostname": "srv1.hosting.example",
        "as_number": 64500,
        "as_name": "EXAMPLE-HOSTING",
        "country": "FR",
        "first_seen": "2026-10-17 07:44:46",
        "last_online": "2026-12-04",
        "malware": "Dridex"
    },
    {
        "ip_address": "203.0.113.44",
        "port": 6601,
        "status": "offline",
        "hostname": null,
        "as_number": 64501,
        "as_name": "EXAMPLE-NET Ltd",
        "country": "KR",
        "last_online": "2026-11-15",
        "malware": "Emotet"
    }
]
"""

THREATFOX_CSV = """\
################################################################
# ThreatFox IOCs: recent                                       #
# Last updated: 2026-12-04 16:20:02 UTC                        #
#                                                              #
# Terms Of Use: https://threatfox.abuse.ch/api/                #
################################################################
#
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"
"2026-12-04 15:58:00", "1400001", "198.51.100.23:8443", "ip:port", "botnet_cc", "win.cobalt_strike", "Agentemis,BEACON", "Cobalt Strike", "", "100", "None", "c2,CobaltStrike", "0", "analyst1"
"2026-12-04 15:40:12", "1400002", "update-check.example", "domain", "botnet_cc", "win.zeus", "Zbot", "ZeuS", "2026-12-04 16:00:00", "75", "https://blog.example/zeus", "None", "1", "anonymous"
"2026-12-04 15:30:00", "1400003", "http://cdn.test/gate.php", "url", "payload_delivery", "unknown", "None", "Unknown malware", "", "50", "None", "None", "0", "analyst2"
"2026-12-04 15:20:00", "1400004", "0123456789abcdef0123456789abcdef", "md5_hash", "payload", "win.zeus", "None", "ZeuS", "", "100", "None", "None", "0", "analyst1"
"2026-12-04 15:10:00", "1400005", "a5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1", "sha256_hash", "payload", "win.zeus", "None", "ZeuS", "", "100", "None", "None", "0", "analyst1"
"2026-12-04 15:00:00", "1400006", "[2001:db8::66]:443", "ip:port", "botnet_cc", "elf.mirai", "None", "Mirai", "", "80", "None", "None", "0", "analyst3"
"""

URLHAUS_CSV = """\
################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs)           #
# Last updated: 2026-12-04 16:10:05 (UTC)                      #
#                                                              #
# Terms Of Use: https://urlhaus.abuse.ch/api/                  #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3000001","2026-12-04 16:00:07","http://198.51.100.9:8080/i","online","2026-12-04 16:05:00","malware_download","32-bit,elf,mips,Mozi","https://urlhaus.abuse.ch/url/3000001/","reporter_a"
"3000002","2026-12-03 10:11:12","https://Files.Example/Invoice.zip#x","offline","","malware_download","zip","https://urlhaus.abuse.ch/url/3000002/","reporter_b"
"3000003","2026-12-02 09:00:00","http://dl.test/a.exe","unknown","","malware_download","None","https://urlhaus.abuse.ch/url/3000003/","reporter_c"
"""

PLAIN = """\
# abuse.ch ZeuS domain blocklist (made up for tests)
#
update-check.example
Evil-Gate.TEST.   # trailing dot, upper case, a comment
192.0.2.66
198.51.100.9:8080
http://cdn.test/gate.php#fragment stays

[2001:db8::5]:443
"""


# --------------------------------------------------------------------------
# The registry


def test_every_reader_is_registered():
    assert set(formats.names(readable=True)) >= {"feodo-csv", "feodo-json", "threatfox-csv", "urlhaus-csv",
                                                 "plain", "jsonl"}
    with pytest.raises(TrackerError, match="cannot read 'rpz-nope'"):
        formats.get("rpz-nope", reading=True)


# --------------------------------------------------------------------------
# Feodo Tracker


@pytest.mark.parametrize("bom,crlf", [(False, False), (True, True)])
def test_feodo_csv_fields_and_statuses(tmp_path, bom, crlf):
    got = read("feodo-csv", write(tmp_path, "ipblocklist.csv", FEODO_CSV, bom=bom, crlf=crlf))
    assert [i.value for i in got] == ["192.0.2.10:443", "198.51.100.7:8080", "[2001:db8::7]:4443"]
    a, b, c = got
    assert (a.kind, a.family, a.status, a.source, a.confidence) == ("ip", "dridex", "online", "feodotracker", 100)
    assert a.first_seen == t("2026-10-17 07:44:46")
    assert a.last_online == t("2026-12-04 00:00:00") == a.last_seen
    assert (b.family, b.status, b.last_online) == ("emotet", "offline", t("2026-11-20"))
    assert (c.family, c.status) == ("qakbot", "online")


def test_feodo_csv_without_header_uses_documented_columns_and_header_order_is_followed(tmp_path):
    bare = '"2026-10-17 07:44:46","192.0.2.10","443","online","2026-12-04","Dridex"\n'
    assert [i.value for i in read("feodo-csv", write(tmp_path, "a.csv", bare))] == ["192.0.2.10:443"]
    swapped = ("malware,dst_ip,dst_port,c2_status,last_online,first_seen_utc\n"
               "Heodo,192.0.2.11,,offline,2026-12-01,2026-11-01 01:02:03\n")
    (i,) = read("feodo-csv", write(tmp_path, "b.csv", swapped))
    assert (i.value, i.family, i.first_seen) == ("192.0.2.11", "heodo", t("2026-11-01 01:02:03"))


@pytest.mark.parametrize("row,fragment", [
    ('"2026-10-17 07:44:46","192.0.2.300","443","online","2026-12-04","Dridex"', "is not an IP address"),
    ('"2026-10-17 07:44:46","192.0.2.1","70000","online","2026-12-04","Dridex"', "port '70000'"),
    ('"2026-10-17","192.0.2.1","443","up","2026-12-04","Dridex"', "c2_status: 'up'"),
    ('"17/10/2026","192.0.2.1","443","online","2026-12-04","Dridex"', "first_seen_utc: '17/10/2026' is not a time"),
    ('"2026-10-17","192.0.2.1","443","online"', "4 fields, expected 6"),
    ('"2026-10-17,"192.0.2.1","443","online","2026-12-04","Dridex"', "not a CSV row"),
])
def test_feodo_csv_bad_row_names_file_and_line(tmp_path, row, fragment):
    lines = FEODO_CSV.splitlines()
    lines.insert(9, row)  # after the first two data rows: line 10
    p = write(tmp_path, "ipblocklist.csv", "\n".join(lines) + "\n")
    with pytest.raises(TrackerError) as e:
        read("feodo-csv", p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:10: ")
    assert fragment in msg
    assert "\n" not in msg


def test_feodo_json_fields(tmp_path):
    a, b = read("feodo-json", write(tmp_path, "ipblocklist.json", FEODO_JSON, bom=True))
    assert (a.value, a.family, a.status, a.asn, a.as_name, a.country) == (
        "192.0.2.10:443", "dridex", "online", 64500, "EXAMPLE-HOSTING", "FR")
    assert a.notes == "hostname srv1.hosting.example"
    assert (a.first_seen, a.last_online, a.source, a.confidence) == (
        t("2026-10-17 07:44:46"), t("2026-12-04"), "feodotracker", 100)
    assert (b.value, b.status, b.first_seen, b.notes, b.as_name) == (
        "203.0.113.44:6601", "offline", None, "", "EXAMPLE-NET Ltd")


@pytest.mark.parametrize("text,fragment", [
    (FEODO_JSON.replace('"as_number": 64501', '"as_number": "AS64501"'), ":14: as_number"),
    (FEODO_JSON.replace('"status": "offline"', '"status": "dead"'), ":14: status: 'dead'"),
    (FEODO_JSON.replace('"ip_address": "203.0.113.44"', '"ip_address": "203.0.113"'), ":14: "),
    (FEODO_JSON.replace('"country": "KR"', '"country": "Korea"'), ":14: country"),
    (FEODO_JSON.replace('"malware": "Emotet"\n', '"malware": "Emotet",\n'), "not JSON"),
    ('{"ip_address": "192.0.2.1"}', ":1: expected a JSON array"),
    ('[1]', ":1: an entry must be a JSON object"),
    ('[] []', "text after the JSON array"),
])
def test_feodo_json_errors(tmp_path, text, fragment):
    with pytest.raises(TrackerError, match=None) as e:
        read("feodo-json", write(tmp_path, "ipblocklist.json", text))
    assert fragment in str(e.value) and "ipblocklist.json" in str(e.value)


# --------------------------------------------------------------------------
# ThreatFox


def test_threatfox_kinds_families_confidence_and_hashes_counted(tmp_path):
    skipped: Counter = Counter()
    got = read("threatfox-csv", write(tmp_path, "threatfox.csv", THREATFOX_CSV), skipped)
    assert skipped == {"md5_hash": 1, "sha256_hash": 1}
    assert [(i.value, i.kind) for i in got] == [("198.51.100.23:8443", "ip"), ("update-check.example", "domain"),
                                                ("http://cdn.test/gate.php", "url"), ("[2001:db8::66]:443", "ip")]
    cs, zeus, unknown, mirai = got
    assert (cs.family, cs.confidence, cs.tags, cs.status, cs.source) == (
        "cobalt-strike", 100, ("c2", "CobaltStrike"), "unknown", "threatfox")
    assert cs.first_seen == cs.last_seen == t("2026-12-04 15:58:00")
    assert cs.notes == "ThreatFox IOC 1400001 (botnet_cc); reported by analyst1"
    assert (zeus.family, zeus.confidence, zeus.tags, zeus.last_seen) == ("zeus", 75, (), t("2026-12-04 16:00:00"))
    assert "reference https://blog.example/zeus" in zeus.notes
    assert (unknown.family, unknown.confidence) == ("unknown", 50)
    assert mirai.family == "mirai"


@pytest.mark.parametrize("old,new,fragment", [
    ('"75", "https://blog', '"175", "https://blog', "confidence_level: '175'"),
    ('"update-check.example"', '"update check.example"', "ioc_value"),
    ('"ip:port", "botnet_cc", "win.cobalt_strike"', '"", "botnet_cc", "win.cobalt_strike"', "ioc_type is empty"),
])
def test_threatfox_bad_rows(tmp_path, old, new, fragment):
    p = write(tmp_path, "threatfox.csv", THREATFOX_CSV.replace(old, new, 1))
    with pytest.raises(TrackerError) as e:
        read("threatfox-csv", p)
    assert fragment in str(e.value) and "threatfox.csv:" in str(e.value)


# --------------------------------------------------------------------------
# URLhaus


def test_urlhaus_statuses_tags_and_family_override(tmp_path):
    p = write(tmp_path, "urlhaus.csv", URLHAUS_CSV, crlf=True)
    a, b, c = read("urlhaus-csv", p)
    assert (a.value, a.status, a.family, a.tags, a.confidence, a.source) == (
        "http://198.51.100.9:8080/i", "online", "unknown", ("32-bit", "elf", "mips", "Mozi"), 75, "urlhaus")
    assert a.first_seen == t("2026-12-04 16:00:07") and a.last_online == a.last_seen == t("2026-12-04 16:05:00")
    assert a.notes == ("URLhaus 3000001 (malware_download); reported by reporter_a; "
                       "https://urlhaus.abuse.ch/url/3000001/")
    assert (b.value, b.status, b.last_online) == ("https://files.example/Invoice.zip", "offline", None)
    assert (c.status, c.tags) == ("unknown", ())
    over = read("urlhaus-csv", p, family="Mozi", confidence=90)
    assert {(i.family, i.confidence) for i in over} == {("mozi", 90)}


def test_urlhaus_bad_status(tmp_path):
    p = write(tmp_path, "urlhaus.csv", URLHAUS_CSV.replace('"offline"', '"gone"'))
    with pytest.raises(TrackerError, match=r"urlhaus\.csv:10: url_status: 'gone'"):
        read("urlhaus-csv", p)


# --------------------------------------------------------------------------
# Plain lists


def test_plain_kinds_per_line_comments_and_overrides(tmp_path):
    p = write(tmp_path, "zeus-domains.txt", PLAIN, bom=True, crlf=True)
    got = read("plain", p)
    assert [(i.value, i.kind) for i in got] == [
        ("update-check.example", "domain"), ("evil-gate.test", "domain"), ("192.0.2.66", "ip"),
        ("198.51.100.9:8080", "ip"), ("http://cdn.test/gate.php", "url"), ("[2001:db8::5]:443", "ip")]
    assert {(i.family, i.status, i.source) for i in got} == {("unknown", "unknown", "zeus-domains.txt")}
    over = read("plain", p, family="ZeuS", status="seized", source="cert.example")
    assert {(i.family, i.status, i.source) for i in over} == {("zeus", "seized", "cert.example")}


def test_plain_bad_line(tmp_path):
    p = write(tmp_path, "list.txt", "# header\nok.example\nnot a name\n")
    with pytest.raises(TrackerError, match=r"list\.txt:3: "):
        read("plain", p)


def test_bad_overrides_are_refused(tmp_path):
    p = write(tmp_path, "list.txt", "ok.example\n")
    with pytest.raises(TrackerError, match="--status: unknown status 'gone'"):
        read("plain", p, status="gone")
    with pytest.raises(TrackerError, match="--confidence"):
        read("plain", p, confidence=101)


@pytest.mark.parametrize("fmt", ["feodo-csv", "feodo-json", "threatfox-csv", "urlhaus-csv", "plain", "jsonl"])
def test_empty_and_comment_only_files_give_nothing(tmp_path, fmt):
    assert read(fmt, write(tmp_path, "empty", "")) == []
    if fmt not in ("feodo-json", "jsonl"):
        assert read(fmt, write(tmp_path, "comments", "# only\n#\n\n", bom=True, crlf=True)) == []


@pytest.mark.parametrize("fmt", ["feodo-csv", "feodo-json", "plain", "jsonl"])
def test_unreadable_files(tmp_path, fmt):
    with pytest.raises(TrackerError, match="missing.txt: cannot read"):
        read(fmt, tmp_path / "missing.txt")
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"ok.example\n\xe9vil.example\n")
    with pytest.raises(TrackerError, match="not valid UTF-8"):
        read(fmt, p)


# --------------------------------------------------------------------------
# The import: all or nothing


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Indicator], str, str]] = []

    def add(self, indicators, *, by, reason):
        self.calls.append((list(indicators), by, reason))


def test_import_adds_every_row_in_batches_and_counts(tmp_path, monkeypatch):
    import takedown.tracker.ingest as ingest

    monkeypatch.setattr(ingest, "BATCH", 2)
    rec = Recorder()
    result = import_file(rec, "threatfox-csv", write(tmp_path, "threatfox.csv", THREATFOX_CSV))
    assert result.count == 4 and result.kinds == {"ip": 2, "domain": 1, "url": 1}
    assert result.skipped == {"md5_hash": 1, "sha256_hash": 1}
    assert [len(c[0]) for c in rec.calls] == [2, 2]
    assert {(c[1], c[2]) for c in rec.calls} == {("import:threatfox-csv", "imported from threatfox.csv")}


def test_import_with_a_bad_last_row_writes_nothing(tmp_path):
    rec = Recorder()
    bad = FEODO_CSV.replace("# Number of entries: 3", '"2026-10-17","192.0.2.1","443","up","2026-12-04","Dridex"')
    with pytest.raises(TrackerError, match=":12: c2_status"):
        import_file(rec, "feodo-csv", write(tmp_path, "ipblocklist.csv", bad))
    assert rec.calls == []


# --------------------------------------------------------------------------
# takedown's own JSON Lines


def _when():
    return st.one_of(st.none(), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))
                     .map(lambda d: d.replace(microsecond=0, tzinfo=timezone.utc)))


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_domains = st.builds(lambda a, b: f"{a}.{b}.example", _label, _label)
_ips = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: f"[{a}]"))
_values = st.one_of(
    _domains,
    st.ip_addresses().map(str),
    st.builds(lambda ip, port: f"{ip}:{port}", _ips, st.integers(1, 65535)),
    st.builds(lambda h, p: f"https://{h}/{p}", _domains, st.from_regex(r"[a-z0-9/._-]{0,20}", fullmatch=True)),
)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def indicators(draw) -> Indicator:
    ind = Indicator.new(draw(_values), draw(_label), status=draw(st.sampled_from(STATUSES)),
                        first_seen=draw(_when()), last_seen=draw(_when()), last_online=draw(_when()),
                        last_checked=draw(_when()), asn=draw(st.one_of(st.none(), st.integers(0, 2**32 - 1))),
                        as_name=draw(st.one_of(st.none(), _text)),
                        country=draw(st.one_of(st.none(), st.from_regex(r"[A-Z]{2}", fullmatch=True))),
                        source=draw(_text), confidence=draw(st.integers(0, 100)),
                        tags=tuple(draw(st.lists(_text, max_size=4))), notes=draw(_text),
                        checkins=draw(st.one_of(st.none(), st.integers(0, 2**40))),
                        id=draw(st.one_of(st.none(), st.integers(1, 2**40))), revision=draw(st.integers(0, 1000)),
                        updated=draw(_when()))
    return ind


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(indicators(), max_size=40))
def test_jsonl_round_trip_is_lossless(tmp_path, inds):
    out = tmp_path / "tracker.jsonl"
    n = export(formats.get("jsonl"), iter(inds), ExportContext(now=t("2026-12-04 17:00:00")), out)
    assert n == len(inds)
    assert list(read_file("jsonl", out)) == inds


def test_jsonl_one_object_per_line_with_every_field(tmp_path):
    ind = Indicator.new("C2.Example", "zeus", status="seized", tags=("a",), first_seen=t("2026-12-01 01:02:03"))
    out = tmp_path / "t.jsonl"
    export(formats.get("jsonl"), [ind, ind], ExportContext(now=t("2026-12-04 17:00:00")), out)
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    d = json.loads(lines[0])
    assert list(d) == ["value", "kind", "family", "status", "first_seen", "last_seen", "last_online",
                       "last_checked", "asn", "as_name", "country", "source", "confidence", "tags", "notes",
                       "checkins", "id", "revision", "updated"]
    assert (d["value"], d["first_seen"], d["tags"]) == ("c2.example", "2026-12-01T01:02:03Z", ["a"])


@pytest.mark.parametrize("line,fragment", [
    ('{"value": "c2.example", "kind": "domain"}', "2: family is missing"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "colour": "red"}', "2: unknown key 'colour'"),
    ('{"value": "C2.example", "kind": "domain", "family": "z"}', "2: value: 'C2.example' is not in canonical form"),
    ('{"value": "c2.example", "kind": "host", "family": "z"}', "2: kind: 'host'"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "confidence": "high"}', "2: confidence: 'high'"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "confidence": 101}', "2: confidence"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "status": "dead"}', "2: status"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "tags": "a,b"}', "2: tags"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "first_seen": "yesterday"}', "2: first_seen"),
    ('{"value": "c2.example", "kind": "domain", "family": "z", "asn": true}', "2: asn"),
    ('["c2.example"]', "2: a line must be a JSON object"),
    ('{"value": ', "2: not JSON"),
])
def test_jsonl_bad_lines(tmp_path, line, fragment):
    good = '{"value": "ok.example", "kind": "domain", "family": "z"}'
    p = write(tmp_path, "t.jsonl", f"{good}\n{line}\n")
    with pytest.raises(TrackerError) as e:
        read("jsonl", p)
    assert f"t.jsonl:{fragment}" in str(e.value)
    assert isinstance(e.value, TakedownError)


# --------------------------------------------------------------------------
# The command line: the input is checked before the store is opened
# (the import into a store, end to end, is tested with the store)


def test_cli_refuses_bad_input_in_one_line_before_opening_the_store(tmp_path):
    from test_cli import ROOT, assert_one_error_line, run

    op = str(ROOT / "examples" / "operation.toml")
    bad = write(tmp_path, "ipblocklist.csv", FEODO_CSV.replace('"offline"', '"gone"'))
    assert_one_error_line(run("tracker", "import", str(bad), "--format", "feodo-csv", "--operation", op),
                          f"Error: {bad}:10: c2_status: 'gone'")
    assert_one_error_line(run("tracker", "import", str(bad), "--format", "stix", "--operation", op),
                          "Error: --format: cannot read 'stix' (one of feodo-csv, feodo-json, jsonl, plain, ")
    assert_one_error_line(run("tracker", "import", str(bad), "--format", "plain", "--status", "gone",
                              "--operation", op), "Error: --status: unknown status 'gone'")
    assert_one_error_line(run("tracker", "sync", "--operation", op, "--date", "2026-13-01"),
                          "Error: --date: '2026-13-01' is not a date")


# --------------------------------------------------------------------------
# The readers' fast path for canonical values agrees with the model's parser


_raw_values = st.one_of(
    _values,
    st.builds(lambda a, b: f"{a}.{b}", st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True),
              st.sampled_from(["example", "EXAMPLE.", "test..", "1", "0"])),
    st.builds(lambda s, h, p, rest: f"{s}://{h}{p}{rest}", st.sampled_from(["http", "https", "HTTP", "ftp"]),
              st.one_of(_domains, st.just("Host.Example"), st.just("192.0.2.1"), st.just("[2001:db8::1]"),
                        st.just("user@h.example")),
              st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":080"]),
              st.from_regex(r"(/[a-z0-9?#%@ :/.-]{0,12})?", fullmatch=True)),
    st.builds(lambda a, p: f"{a}{p}", st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", fullmatch=True),
              st.sampled_from(["", ":1", ":443", ":65535", ":65536", ":0", ":0443"])),
    st.text(max_size=20),
)


@settings(max_examples=500, deadline=None)
@given(_raw_values, st.sampled_from([None, "domain", "ip", "url"]))
def test_canonical_fast_path_agrees_with_parse_value(raw, kind):
    from takedown.tracker.formats.text import canonical
    from takedown.tracker.indicator import parse_value

    try:
        v = parse_value(raw, kind, "x")
        want = (v.text, v.kind)
    except TrackerError as e:
        want = type(e)
    try:
        got = canonical(raw, kind, "x")
    except TrackerError as e:
        got = type(e)
    assert got == want


def test_threatfox_header_with_a_new_column_and_an_unknown_type(tmp_path):
    text = THREATFOX_CSV.replace('"confidence_level","reference"', '"confidence_level","is_compromised","reference"')
    text = text.replace('"100", "None", "c2,CobaltStrike"', '"100", "0", "None", "c2,CobaltStrike"')
    rows = text.splitlines()
    keep = [r for r in rows if r.startswith("#") or "1400001" in r]
    keep.append('"2026-12-04 15:58:00", "1400009", "ops@mail.example", "email", "botnet_cc", "win.x", "None", '
                '"X", "", "100", "0", "None", "None", "0", "analyst1"')
    skipped: Counter = Counter()
    (i,) = read("threatfox-csv", write(tmp_path, "tf.csv", "\n".join(keep) + "\n"), skipped)
    assert (i.value, i.tags, i.confidence) == ("198.51.100.23:8443", ("c2", "CobaltStrike"), 100)
    assert skipped == {"email": 1}


def test_a_file_of_another_format_is_refused_at_its_first_row(tmp_path):
    p = write(tmp_path, "urlhaus.csv", URLHAUS_CSV)
    with pytest.raises(TrackerError, match=r"urlhaus\.csv:9: 9 fields, expected 6 \(first_seen_utc,dst_ip,"):
        read("feodo-csv", p)
