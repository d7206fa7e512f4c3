"""The operation file: the example loads as written; every bad file is
refused with FILE:LINE of the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.errors import OperationError
from takedown.tomlfile import Locator as _Locator
from takedown.operation import (
    DnsConfig,
    Rrl,
    load_operation,
    parse_listen,
    parse_workers,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "operation.toml"


# ---------------------------------------------------------------- the example


def test_example_loads_as_written():
    op = load_operation(EXAMPLE)
    ex = EXAMPLE.parent
    assert op.path == EXAMPLE
    assert op.name == "example"
    assert op.storage == ex / "data"
    assert op.sinkhole.ipv4 == ("192.0.2.53",)
    assert op.sinkhole.ipv6 == ("2001:db8::53",)
    assert op.sinkhole.ttl == 300
    assert op.sinkhole.soa_email == "hostmaster.sinkhole.example"
    assert op.sinkhole.nameservers == (
        ("ns1.sinkhole.example", ("192.0.2.1",)),
        ("ns2.sinkhole.example", ("192.0.2.2",)),
    )
    assert [(d.family, d.file) for d in op.domains] == [("waledac", ex / "waledac-domains.txt")]
    [z] = op.zones
    assert (z.origin, z.file, z.blocklist, z.family) == (
        "3322.org", ex / "3322.org.zone", ex / "3322-blocklist.txt", "nitol")
    assert op.dns == DnsConfig(listen=("127.0.0.1:5353",))
    assert op.dns.rrl == Rrl(enabled=True, responses_per_second=20, slip=2,
                             ipv4_prefix=24, ipv6_prefix=56, window=15)
    assert op.dns.rrl.nxdomains_per_second is None and op.dns.rrl.all_per_second == 0
    assert op.dns.rrl.exempt == ()
    assert op.events.flush_interval == 1.0
    assert op.events.sensor  # the hostname
    for p in (op.path, op.storage, op.domains[0].file, z.file, z.blocklist):
        assert p.is_absolute()


def test_example_loads_from_relative_path(monkeypatch):
    monkeypatch.chdir(ROOT / "examples")
    op = load_operation("operation.toml")
    assert op.path == EXAMPLE
    assert op.storage == ROOT / "examples" / "data"


def test_example_summary():
    from takedown.dns.zonefile import count_names

    s = summarize(load_operation(EXAMPLE), count_names)
    assert s["name"] == "example"
    assert s["families"] == {"waledac": 30}
    assert s["domains"][0]["names"] == 30
    [z] = s["zones"]
    assert (z["origin"], z["family"], z["blocked_exact"], z["blocked_wildcard"]) == (
        "3322.org", "nitol", 4, 1)
    assert z["names"] == 28
    assert summarize(load_operation(EXAMPLE))["zones"][0]["names"] is None  # no counter given
    assert s["dns"]["listen"] == ["127.0.0.1:5353"]
    assert s["dns"]["rrl"]["responses_per_second"] == 20
    assert s["notes"] == []


def test_example_zone_loads_with_dnspython():
    import dns.zone

    z = dns.zone.from_file(str(ROOT / "examples" / "3322.org.zone"), origin="3322.org",
                           relativize=False)
    names = {n.to_text() for n in z.nodes}
    # the cases a differential test relies on
    assert "*.wild.3322.org." in names
    assert "a.b.ent.3322.org." in names and "b.ent.3322.org." not in names
    assert z.get_rdataset("sub.3322.org.", "NS") is not None
    assert z.get_rdataset("ns.sub.3322.org.", "A") is not None
    assert z.get_rdataset("ftp.3322.org.", "CNAME") is not None
    assert z.get_rdataset("_sip._udp.3322.org.", "SRV") is not None
    [long_txt] = z.find_rdataset("notice.3322.org.", "TXT")
    assert [len(s) for s in long_txt.strings] == [255, 255, 90]
    assert z.find_rdataset("camera.dyn.3322.org.", "A").ttl == 60
    assert 30 <= sum(len(r) for node in z.nodes.values() for r in node.rdatasets) <= 60


# ---------------------------------------------------------------- bad files

BASE = """\
[operation]
name = "t"
storage = "data"

[sinkhole]
ipv4 = ["192.0.2.53"]
ipv6 = ["2001:db8::53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = { "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = ["192.0.2.2", "2001:db8::2"] }

[[domains]]
family = "waledac"
file = "domains.txt"

[[zones]]
origin = "3322.org"
file = "z.zone"
blocklist = "block.txt"
family = "nitol"

[dns]
listen = ["127.0.0.1:5353", "[::1]:5353"]
workers = 2

[dns.rrl]
slip = 0

[events]
flush_interval = 0.5
sensor = "s1"
"""


def _variant(edits: dict[int, str] | None = None, append: str = "") -> str:
    """BASE with line N (1-based) replaced by edits[N] (may hold several lines)."""
    lines = BASE.splitlines()
    for n, text in (edits or {}).items():
        lines[n - 1] = text
    return "\n".join(lines) + "\n" + append


@pytest.fixture
def opdir(tmp_path: Path) -> Path:
    (tmp_path / "domains.txt").write_text("a.example\n")
    (tmp_path / "z.zone").write_text("")  # content is not checked at load
    (tmp_path / "block.txt").write_text("x.3322.org\n")
    return tmp_path


def test_rrl_keys_as_bind_names_them(opdir):
    """Every [dns.rrl] key parses; unset class rates stay None (= responses_per_second)."""
    f = opdir / "op.toml"
    f.write_text(_variant({27: "\n".join([
        "responses_per_second = 0", "referrals_per_second = 7", "nodata_per_second = 0",
        "nxdomains_per_second = 1000", "all_per_second = 50", "window = 1", "slip = 1",
        "ipv4_prefix = 32", "ipv6_prefix = 0", 'exempt = ["192.0.2.7/24", "2001:db8::1"]',
    ])}))
    r = load_operation(f).dns.rrl
    assert r == Rrl(enabled=True, responses_per_second=0, referrals_per_second=7, nodata_per_second=0,
                    nxdomains_per_second=1000, errors_per_second=None, all_per_second=50, slip=1,
                    window=1, ipv4_prefix=32, ipv6_prefix=0, exempt=("192.0.2.0/24", "2001:db8::1/128"))


def test_base_is_valid(opdir):
    f = opdir / "op.toml"
    f.write_text(BASE)
    op = load_operation(f)
    assert op.dns.listen == ("127.0.0.1:5353", "[::1]:5353")
    assert op.dns.workers == 2
    assert op.dns.rrl.slip == 0 and op.dns.rrl.window == 15
    assert op.events.flush_interval == 0.5 and op.events.sensor == "s1"
    assert op.sinkhole.nameservers[1] == ("ns2.sinkhole.example", ("192.0.2.2", "2001:db8::2"))


BAD = [
    # (id, edits, append, expected line, expected message fragment)
    ("syntax", {8: "ttl = = 3"}, "", 8, "Invalid value"),
    ("syntax-duplicate-key", {8: "ttl = 3\nttl = 4"}, "", 9, "Cannot overwrite a value"),
    ("ttl-type", {8: 'ttl = "abc"'}, "", 8,
     "sinkhole.ttl must be an integer between 0 and 2147483647, not 'abc'"),
    ("ttl-range", {8: "ttl = -1"}, "", 8, "sinkhole.ttl must be an integer"),
    ("ttl-bool", {8: "ttl = true"}, "", 8, "not true"),
    ("bad-ipv4", {6: 'ipv4 = ["192.0.2.999"]'}, "", 6,
     "sinkhole.ipv4[0] must be an IPv4 address, not '192.0.2.999'"),
    ("ipv4-multiline", {6: 'ipv4 = [\n  "192.0.2.1",\n  "2001:db8::1",\n]'}, "", 8,
     "sinkhole.ipv4[1] must be an IPv4 address, not '2001:db8::1' (an IPv6 address)"),
    ("ipv4-duplicate", {6: 'ipv4 = ["192.0.2.1", "192.0.2.1"]'}, "", 6, "listed twice"),
    ("ipv6-given-v4", {7: 'ipv6 = "192.0.2.1"'}, "", 7, "sinkhole.ipv6 must be an IPv6 address"),
    ("no-address", {6: "", 7: ""}, "", 5, "at least one address"),
    ("ns-bad-address", {10: 'nameservers = { "ns1.sinkhole.example" = "192.0.2.x" }'}, "", 10,
     'sinkhole.nameservers."ns1.sinkhole.example" must be an IP address'),
    ("ns-unquoted", {10: 'nameservers = { ns1.sinkhole.example = "192.0.2.1" }'}, "", 10,
     'quote nameserver names that contain dots: "ns1.sinkhole.example"'),
    ("ns-empty", {10: "nameservers = {}"}, "", 10, "at least one nameserver"),
    ("ns-not-table", {10: 'nameservers = ["ns1.sinkhole.example"]'}, "", 10, "must be a table"),
    ("ns-bad-name", {10: 'nameservers = { "ns1..example" = "192.0.2.1" }'}, "", 10,
     "not a valid nameserver name"),
    ("soa-at", {9: 'soa_email = "hostmaster@sinkhole.example"'}, "", 9, "RNAME"),
    ("unknown-key", {8: "tll = 300"}, "", 8, "unknown key sinkhole.tll (did you mean sinkhole.ttl?)"),
    ("unknown-table", {}, "\n[dsn]\nlisten = []\n", 33, "unknown table [dsn] (did you mean dns?)"),
    ("unknown-rrl-key", {27: "rate = 5"}, "", 27, "unknown key dns.rrl.rate"),
    ("missing-key", {9: "# no soa_email"}, "", 5, "missing required key sinkhole.soa_email"),
    ("missing-name", {2: ""}, "", 1, "missing required key operation.name"),
    ("missing-sinkhole", {5: "", 6: "", 7: "", 8: "", 9: "", 10: ""}, "", 1,
     "missing required table [sinkhole]"),
    ("misspelt-table", {1: "[operatio]"}, "", 1, "unknown table [operatio] (did you mean operation?)"),
    ("missing-file", {14: 'file = "nope.txt"'}, "", 14, "domains[0].file: file 'nope.txt' does not exist"),
    ("missing-blocklist", {19: 'blocklist = "nope.txt"'}, "", 19, "zones[0].blocklist"),
    ("file-is-dir", {14: 'file = "."'}, "", 14, "is not a regular file"),
    ("second-zone-missing-file", {}, '\n[[zones]]\norigin = "99.org"\nfamily = "x"\n', 33,
     "missing required key zones[1].file"),
    ("duplicate-zone", {}, '\n[[zones]]\norigin = "3322.ORG."\nfile = "z.zone"\nfamily = "x"\n', 34,
     "zone 3322.org is declared twice (also zones[0], line 17)"),
    ("duplicate-domain-file", {}, '\n[[domains]]\nfamily = "x"\nfile = "./domains.txt"\n', 35,
     "domains[1].file is the same file as domains[0].file (line 14)"),
    ("domains-not-array", {12: "[domains]"}, "", 12, "domains must be an array of tables"),
    ("bad-origin", {17: 'origin = "bad..org"'}, "", 17, "zones[0].origin must be a DNS name"),
    ("tld-origin", {17: 'origin = "org"'}, "", 17, "below a top-level domain"),
    ("bad-family", {13: 'family = "wale dac"'}, "", 13, "domains[0].family must be"),
    ("listen-no-port", {23: 'listen = ["127.0.0.1"]'}, "", 23,
     "dns.listen[0]: '127.0.0.1' is not a valid listen address: missing :PORT"),
    ("listen-port-70000", {23: 'listen = "127.0.0.1:70000"'}, "", 23, "port '70000' is not a number between 0 (any free port) and 65535"),
    ("listen-hostname", {23: 'listen = ["localhost:53"]'}, "", 23, "is not an IP address"),
    ("listen-v6-brackets", {23: 'listen = ["::1:53"]'}, "", 23, "brackets"),
    ("listen-empty", {23: "listen = []"}, "", 23, "at least one"),
    ("workers-bool", {24: "workers = true"}, "", 24, "dns.workers must be an integer between 1 and 256"),
    ("workers-zero", {24: "workers = 0"}, "", 24, "dns.workers"),
    ("rrl-slip", {27: "slip = 11"}, "", 27, "dns.rrl.slip must be an integer between 0 and 10, not 11"),
    ("rrl-enabled", {27: 'enabled = "yes"'}, "", 27, "dns.rrl.enabled must be true or false"),
    ("rrl-rate", {27: "responses_per_second = 1001"}, "", 27,
     "dns.rrl.responses_per_second must be an integer between 0 and 1000, not 1001"),
    ("rrl-nxdomains", {27: "nxdomains_per_second = -1"}, "", 27,
     "dns.rrl.nxdomains_per_second must be an integer between 0 and 1000, not -1"),
    ("rrl-referrals", {27: 'referrals_per_second = "5"'}, "", 27, "dns.rrl.referrals_per_second must be an integer"),
    ("rrl-nodata", {27: "nodata_per_second = 2.5"}, "", 27, "dns.rrl.nodata_per_second must be an integer"),
    ("rrl-errors", {27: "errors_per_second = true"}, "", 27, "dns.rrl.errors_per_second must be an integer"),
    ("rrl-all", {27: "all_per_second = 5000"}, "", 27, "dns.rrl.all_per_second must be an integer between 0 and 1000"),
    ("rrl-window", {27: "window = 3601"}, "", 27, "dns.rrl.window must be an integer between 1 and 3600, not 3601"),
    ("rrl-v4prefix", {27: "ipv4_prefix = 33"}, "", 27, "dns.rrl.ipv4_prefix must be an integer between 0 and 32"),
    ("rrl-exempt", {27: 'exempt = ["192.0.2.0/24", "10.0.0.0/33"]'}, "", 27, "dns.rrl.exempt[1] must be a network"),
    ("rrl-exempt-type", {27: "exempt = 5"}, "", 27, "dns.rrl.exempt"),
    ("handshake-not-tls", {}, '\n[http]\nlisten = "127.0.0.1:0"\nhandshake = true\n', 35,
     "http.handshake: only [tls] has this key"),
    ("template-needs-file", {}, '\n[http]\nlisten = "127.0.0.1:0"\nresponse = "template"\n', 35,
     'http.response = "template" needs http.template'),
    ("rrl-prefix", {27: "ipv6_prefix = 129"}, "", 27, "dns.rrl.ipv6_prefix"),
    ("rrl-dotted", {24: "rrl.window = 0", 26: "", 27: ""}, "", 24, "dns.rrl.window must be"),
    ("payload", {24: "max_udp_payload = 511"}, "", 24, "between 512 and 4096"),
    ("tcp-idle", {24: 'tcp_idle_timeout = "10"'}, "", 24, "dns.tcp_idle_timeout must be a number"),
    ("flush", {30: "flush_interval = 0"}, "", 30, "events.flush_interval must be a number greater than 0"),
    ("sensor", {31: 'sensor = "a b"'}, "", 31, "events.sensor"),
    ("subtable-not-table", {24: "rrl = 5", 26: "", 27: ""}, "", 24,
     "dns.rrl must be a table ([dns.rrl]), not 5"),
    ("storage-is-file", {3: 'storage = "domains.txt"'}, "", 3, "exists and is not a directory"),
]


@pytest.mark.parametrize("edits,append,line,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_operation_files(opdir, edits, append, line, fragment):
    f = opdir / "op.toml"
    f.write_text(_variant(edits, append))
    with pytest.raises(OperationError) as info:
        load_operation(str(f))
    msg = str(info.value)
    assert msg.startswith(f"{f}:{line}: "), msg
    if fragment:
        assert fragment in msg
    assert "\n" not in msg


def test_exact_message_and_path_as_given(opdir, monkeypatch):
    (opdir / "op.toml").write_text(_variant({8: 'ttl = "abc"'}))
    monkeypatch.chdir(opdir)
    with pytest.raises(OperationError) as info:
        load_operation("op.toml")
    assert str(info.value) == (
        "op.toml:8: sinkhole.ttl must be an integer between 0 and 2147483647, not 'abc'")


def test_missing_operation_file(tmp_path):
    with pytest.raises(OperationError, match=r"nope\.toml: cannot read"):
        load_operation(tmp_path / "nope.toml")


def test_not_utf8(opdir):
    f = opdir / "op.toml"
    f.write_bytes(BASE.encode().replace(b'name = "t"', b'name = "\xff"'))
    with pytest.raises(OperationError, match=r":2: not valid UTF-8"):
        load_operation(f)


def test_syntax_error_at_end_of_file(opdir):
    f = opdir / "op.toml"
    f.write_text('[operation]\nname = [1,\n')
    with pytest.raises(OperationError) as info:
        load_operation(f)
    assert str(info.value).startswith(f"{f}:2: ")


def test_events_and_dns_optional(opdir):
    f = opdir / "op.toml"
    f.write_text(BASE.split("[dns]")[0])
    op = load_operation(f)
    assert op.dns == DnsConfig()
    assert op.dns.rrl.enabled is True
    assert op.events.sensor  # hostname by default


def test_domains_and_zones_optional(opdir):
    f = opdir / "op.toml"
    f.write_text(BASE.split("[[domains]]")[0])
    op = load_operation(f)
    assert op.domains == () and op.zones == ()
    assert "sinks nothing" in " ".join(summarize(op)["notes"])


def test_names_normalized(opdir):
    f = opdir / "op.toml"
    f.write_text(_variant({
        10: 'nameservers = { "NS1.Sinkhole.Example." = "2001:DB8:0::1" }',
        17: 'origin = "3322.ORG."',
        23: 'listen = ["[::0001]:53", "0.0.0.0:053"]',
    }))
    op = load_operation(f)
    assert op.sinkhole.nameservers == (("ns1.sinkhole.example", ("2001:db8::1",)),)
    assert op.zones[0].origin == "3322.org"
    assert op.dns.listen == ("[::1]:53", "0.0.0.0:53")


def test_summary_notes_overlaps(opdir):
    (opdir / "domains.txt").write_text("evil.3322.org\nfoo.example\n3322.org\n")
    (opdir / "other.txt").write_text("foo.example\n")
    (opdir / "sub.zone").write_text("")
    f = opdir / "op.toml"
    f.write_text(_variant(append=(
        '\n[[domains]]\nfamily = "other"\nfile = "other.txt"\n'
        '\n[[zones]]\norigin = "sub.3322.org"\nfile = "sub.zone"\nfamily = "x"\n'
    )))
    s = summarize(load_operation(f))
    notes = "\n".join(s["notes"])
    assert "foo.example is seized for both waledac and other" in notes
    assert "2 seized waledac name(s) are at or below zone 3322.org" in notes
    assert "zone sub.3322.org is inside zone 3322.org" in notes
    assert "zone sub.3322.org is below seized name 3322.org" in notes
    assert s["families"] == {"waledac": 3}  # the first family keeps a shared name
    assert s["seized_names"] == 3


def test_summary_notes_no_blocklist_and_rrl_off(opdir):
    f = opdir / "op.toml"
    f.write_text(_variant({19: "", 27: "enabled = false"}))
    op = load_operation(f)
    assert op.zones[0].blocklist is None
    notes = "\n".join(summarize(op)["notes"])
    assert "has no blocklist" in notes
    assert "rate limiting is off" in notes


def test_summary_propagates_list_errors(opdir):
    (opdir / "domains.txt").write_text("ok.example\nbad..example\n")
    f = opdir / "op.toml"
    f.write_text(BASE)
    with pytest.raises(OperationError, match=r"domains\.txt:2: 'bad\.\.example' is not a valid"):
        summarize(load_operation(f))


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1:5353", "127.0.0.1:5353"),
    ("[::1]:53", "[::1]:53"),
    ("[2001:DB8::1]:8053", "[2001:db8::1]:8053"),
    ("0.0.0.0:65535", "0.0.0.0:65535"),
])
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", [
    "127.0.0.1", "127.0.0.1:", ":53", "127.0.0.1:65536", "127.0.0.1:x",
    "::1:53", "[::1]", "[::1]53", "[127.0.0.1]:53", "localhost:53", "127.0.0.1:٥٣",
])
def test_parse_listen_rejects(text):
    with pytest.raises(ValueError, match="is not a valid listen address"):
        parse_listen(text)


def test_parse_workers():
    assert parse_workers(4) == 4
    for bad in (0, 257, True, "2"):
        with pytest.raises(ValueError):
            parse_workers(bad)


def test_locator_positions():
    text = '''\
top = 1
[a]
s = """multi
line "" string\\"""
"""
lit = \'\'\'x
y\'\'\'
arr = [
  1,   # comment with = and [brackets]
  { k = "v", "q.k" = 2 },
]
dotted.key = 3

[[t]]
x = 1
[[t]]
x = 2
[t.sub]
y = 3
[a.b]
z = 'q'
'''
    import tomllib
    doc = tomllib.loads(text)  # the locator only runs on valid TOML
    assert doc["t"][1]["sub"]["y"] == 3
    loc = _Locator(text)
    assert loc.line_of(("top",)) == 1
    assert loc.line_of(("a",)) == 2
    assert loc.line_of(("a", "s")) == 3
    assert loc.line_of(("a", "lit")) == 6
    assert loc.line_of(("a", "arr")) == 8
    assert loc.line_of(("a", "arr", 0)) == 9
    assert loc.line_of(("a", "arr", 1, "q.k")) == 10
    assert loc.line_of(("a", "dotted", "key")) == 12
    assert loc.line_of(("a", "dotted")) == 12
    assert loc.line_of(("t", 0, "x")) == 15
    assert loc.line_of(("t", 1)) == 16
    assert loc.line_of(("t", 1, "x")) == 17
    assert loc.line_of(("t", 1, "sub", "y")) == 19
    assert loc.line_of(("a", "b", "z")) == 21
    assert loc.line_of(("a", "missing")) == 2  # falls back to the table header
    assert loc.line_of(("nowhere",)) == 1


def test_rrl_bind_keys(opdir):
    f = opdir / "op.toml"
    f.write_text(_variant({27: (
        "responses_per_second = 0\nnxdomains_per_second = 5\nreferrals_per_second = 1000\n"
        "all_per_second = 100\nipv4_prefix = 0\nipv6_prefix = 128\n"
        'exempt = ["192.0.2.7/24", "2001:DB8::/32", "198.51.100.1"]'
    )}))
    r = load_operation(f).dns.rrl
    assert r == Rrl(responses_per_second=0, nxdomains_per_second=5, referrals_per_second=1000,
                    all_per_second=100, slip=2, ipv4_prefix=0, ipv6_prefix=128,
                    exempt=("192.0.2.0/24", "2001:db8::/32", "198.51.100.1/32"))
    assert r.nodata_per_second is None and r.errors_per_second is None and r.window == 15
    rrl = summarize(load_operation(f))["dns"]["rrl"]
    assert rrl["nxdomains_per_second"] == 5 and rrl["exempt"] == ["192.0.2.0/24", "2001:db8::/32",
                                                                 "198.51.100.1/32"]


def test_listen_port_zero(opdir):
    f = opdir / "op.toml"
    f.write_text(_variant({23: 'listen = ["127.0.0.1:0", "[::1]:0"]'},
                          '\n[http]\nlisten = "127.0.0.1:0"\n[tcp]\nlisten = "0.0.0.0:0"\ncapture_bytes = 8\n'))
    op = load_operation(f)
    assert op.dns.listen == ("127.0.0.1:0", "[::1]:0")
    assert op.http.listen == ("127.0.0.1:0",) and op.http.kind == "http"
    assert op.tcp.capture_bytes == 8 and op.tls is None


def test_every_model_field_is_a_key_once():
    """The schema is the model: each key has a kind, a doc, and (if optional)
    its default; the walk covers every table."""
    from takedown.tomlfile import keys, tables

    paths = {".".join(p) for p in tables(load_operation.__globals__["Operation"])}
    assert {"operation", "sinkhole", "domains", "zones", "dns", "dns.rrl", "events", "enrich", "dga",
            "http", "tls", "tcp", "notice", "fingerprints"} <= paths
    assert [k.name for k in keys(Rrl)] == [
        "enabled", "responses_per_second", "referrals_per_second", "nodata_per_second",
        "nxdomains_per_second", "errors_per_second", "all_per_second", "slip", "window",
        "ipv4_prefix", "ipv6_prefix", "exempt"]
    assert all(k.doc for k in keys(Rrl))


def test_a_home_of_an_unknown_user_is_one_line(tmp_path):
    """``~nosuchuser/x`` (found by the fuzz campaign: pathlib raises
    RuntimeError) is the file's error, naming the key."""
    from takedown.errors import OperationError
    from takedown.operation import load_operation

    op = tmp_path / "op.toml"
    op.write_text('[operation]\nname = "t"\nstorage = "~no-such-user-takedown/data"\n'
                  '[sinkhole]\nipv4 = ["192.0.2.1"]\n')
    with pytest.raises(OperationError, match=r"storage.*no-such-user-takedown: no such user"):
        load_operation(op)
