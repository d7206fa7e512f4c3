"""Fingerprint rules (takedown.net.fingerprints): loading, errors, matching, shipped rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.errors import OperationError, RulesError
from takedown.net.fingerprints import SHIPPED_RULES, Rule, RuleSet, normalize_host
from takedown.net.http import RequestParser


def req(data: bytes):
    (r,) = RequestParser(body_head_bytes=256).feed(data)
    return r


def http(method="GET", target="/", headers=(), body=b""):
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return req(head.encode("latin-1") + b"\r\n" + body)


def rules(text: str) -> RuleSet:
    return RuleSet.loads(text, "rules.toml")


def load_error(tmp_path, text: str) -> str:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(RulesError) as e:
        RuleSet.load(f)
    assert isinstance(e.value, OperationError)
    return str(e.value)


# -- shipped rules: each matches its family's check-in; near misses do not ----------

SHIPPED = RuleSet.shipped()

TCP_CASES = [
    # (first bytes, port, expected rule or None)
    (b"\x00\x00\x00\x01", 23, "mirai-cnc-handshake"),  # the first send() alone
    (b"\x00\x00\x00\x01\x00", 23, "mirai-cnc-handshake"),  # empty id
    (b"\x00\x00\x00\x01\x07telnet0", 2323, "mirai-cnc-handshake"),  # with an id, other port
    (b"\x00\x00\x00\x02\x00", 23, None),  # another version byte
    (b"\x00\x00\x00\x01\x41", 23, None),  # id length 65: not Mirai's (< 32)
    (b"\x00\x00\x01", 23, None),
    (b"\x00\xc0\x00\x02\x05\x00\x17\x04root\x06xc3511", 48101, "mirai-scan-report"),
    (b"\x00\xc0\x00\x02\x05\x00\x17\x04root\x06xc3511", 4000, None),  # not the report port
    (b"\x00\xc0\x00\x02\x05\x00\x17\x00\x06xc3511", 48101, None),  # empty username
    (b"\x01\xc0\x00\x02\x05\x00\x17\x04root", 48101, None),
    (b"BUILD X86\n", 6667, "gafgyt-build-register"),
    (b"BUILD MIPSEL\n", 443, "gafgyt-build-register"),
    (b"BUILD x86_64:192.0.2.10\n", 666, "gafgyt-build-register"),
    (b"BUILD ARM4T\r\n", 23, "gafgyt-build-register"),
    (b"BUILD X86", 6667, None),  # no newline: not the whole line
    (b"build x86\n", 6667, None),
    (b"BUILDX86\n", 6667, None),
    (b"\xff\xfd\x18\xff\xfd \xff\xfd#", 23, None),  # a telnet client's negotiation
    (b"\x16\x03\x01\x02\x00\x01\x00", 443, None),  # a TLS ClientHello
    (b"", 23, None),
]


@pytest.mark.parametrize("data,port,expected", TCP_CASES)
def test_shipped_tcp_rules(data, port, expected):
    rule = SHIPPED.match_tcp(data, port=port)
    assert (rule.name if rule else None) == expected
    if rule:
        assert rule.family == {"mirai-cnc-handshake": "mirai", "mirai-scan-report": "mirai",
                               "gafgyt-build-register": "gafgyt"}[expected]


GATE_BODY = bytes(range(256)) * 2  # RC4-looking binary

HTTP_CASES = [
    (http("POST", "/gate.php", [("Host", "c2.example")], GATE_BODY), "zeus-gate-post"),
    (http("POST", "/panel/gate.php?x=1", [("Host", "C2.Example:8080")], b"\x01\x02"), "zeus-gate-post"),
    (http("GET", "/config.bin", [("Host", "c2.example")]), "zeus-config-download"),
    (http("GET", "/files/config.bin", [("Host", "c2.example")]), "zeus-config-download"),
    (http("GET", "/gate.php", [("Host", "c2.example")]), None),  # a GET: a browser or scanner
    (http("POST", "/gate.php", [("Host", "c2.example")]), None),  # no body: nothing reported
    (http("POST", "/gate.phps", [("Host", "c2.example")], b"x"), None),
    (http("POST", "/agate.php", [("Host", "c2.example")], b"x"), None),
    (http("POST", "/config.bin", [("Host", "c2.example")], b"x"), None),
    (http("GET", "/config.bin.bak", [("Host", "c2.example")]), None),
    (http("GET", "/myconfig.bin", [("Host", "c2.example")]), None),
    (http("GET", "/search?q=1", [("Host", "x.example")]), None),
]


@pytest.mark.parametrize("request_,expected", HTTP_CASES)
def test_shipped_http_rules(request_, expected):
    rule = SHIPPED.match_http(request_, port=80)
    assert (rule.name if rule else None) == expected
    if rule:
        assert rule.family == "zeus" and rule.confidence == "low"


def test_every_shipped_rule_is_exercised_and_documented():
    matched = {name for _, _, name in TCP_CASES if name} | {name for _, name in HTTP_CASES if name}
    assert matched == {r.name for r in SHIPPED}
    docs = (SHIPPED_RULES.parents[4] / "docs" / "fingerprints.md").read_text()
    for r in SHIPPED:
        assert r.source.strip() and r.description and r.confidence in ("high", "medium", "low")
        assert re.search(r"https?://|et al\.|source code", r.source), r.name
        assert r.name in docs, f"{r.name} missing from docs/fingerprints.md"


def test_shipped_min_confidence():
    assert {r.name for r in RuleSet.shipped(min_confidence="high")} == {"gafgyt-build-register"}
    medium = {r.name for r in RuleSet.shipped(min_confidence="medium")}
    assert "zeus-gate-post" not in medium and "mirai-cnc-handshake" in medium
    with pytest.raises(ValueError):
        RuleSet.shipped(min_confidence="certain")


# -- matching semantics -----------------------------------------------------------------


def test_first_match_wins_in_file_order():
    rs = rules("""
[[rule]]
name = "specific"
family = "a"
source = "test"
path = "/gate.php"
user_agent = "Bot/1"

[[rule]]
name = "general"
family = "b"
source = "test"
path = "/gate.php"
""")
    assert rs.match_http(http("GET", "/gate.php", [("User-Agent", "x Bot/1 y")]), port=80).name == "specific"
    assert rs.match_http(http("GET", "/gate.php", [("User-Agent", "Other")]), port=80).name == "general"


def test_host_index_keeps_file_order():
    rs = rules("""
[[rule]]
name = "any-host-first"
family = "a"
source = "test"
path = "/x"

[[rule]]
name = "host-rule"
family = "b"
source = "test"
host = "c2.example"

[[rule]]
name = "after"
family = "c"
source = "test"
host = ["other.example", "c2.example"]
path = "/y"
""")
    assert rs.match_http(http("GET", "/x", [("Host", "c2.example")]), port=80).name == "any-host-first"
    assert rs.match_http(http("GET", "/z", [("Host", "C2.EXAMPLE.:80")]), port=80).name == "host-rule"
    assert rs.match_http(http("GET", "/y", [("Host", "other.example")]), port=80).name == "after"
    assert rs.match_http(http("GET", "/z", [("Host", "nope.example")]), port=80) is None
    assert rs.match_http(http("GET", "/z"), port=80) is None


def test_operator_rules_before_shipped():
    mine = rules('[[rule]]\nname = "mine"\nfamily = "citadel"\nsource = "our analysis"\n'
                 'path = { regex = "gate\\\\.php$" }\nresponse = "empty"\n')
    both = mine.then(SHIPPED)
    rule = both.match_http(http("POST", "/gate.php", [("Host", "c2.example")], b"x"), port=80)
    assert (rule.name, rule.family, rule.response) == ("mine", "citadel", "empty")
    assert both.match_tcp(b"BUILD X86\n", port=23).name == "gafgyt-build-register"
    assert len(both) == len(SHIPPED) + 1
    dup = rules('[[rule]]\nname = "zeus-gate-post"\nfamily = "x"\nsource = "s"\nport = 1\n').then(SHIPPED)
    assert [r.family for r in dup if r.name == "zeus-gate-post"] == ["x"]
    assert len(RuleSet.empty()) == 0 and RuleSet.empty().match_tcp(b"x", port=1) is None


@pytest.mark.parametrize("matcher,yes,no", [
    ('host = "*.example.com"', [("Host", "a.b.example.com")], [("Host", "example.org")]),
    ('host = { regex = "^c2-[0-9]+\\\\.example$" }', [("Host", "C2-7.example:80")], [("Host", "c2-x.example")]),
    ('host = ["a.example", "*.b.example"]', [("Host", "x.b.example")], [("Host", "b.example")]),
    ('user_agent = { absent = true }', [], [("User-Agent", "x")]),
    ('user_agent = { exact = "Mozilla/4.0" }', [("User-Agent", "Mozilla/4.0")], [("User-Agent", "Mozilla/4.01")]),
    ('user_agent = { regex = "^Mozilla/4\\\\.0 \\\\(compatible; MSIE [5-6]\\\\." }',
     [("User-Agent", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)")], [("User-Agent", "Mozilla/5.0")]),
    ('header = { name = "Content-Type", regex = "^application/octet-stream$" }',
     [("Content-Type", "application/octet-stream")], [("Content-Type", "text/plain")]),
    ('header = [{ name = "x-a", contains = "1" }, { name = "x-b", absent = true }]',
     [("X-A", "010")], [("X-A", "010"), ("X-B", "")]),
    ('header = { name = "cookie", prefix = ["id=", "sid="] }', [("Cookie", "x=1"), ("Cookie", "sid=2")], [("Cookie", "x=1")]),
])
def test_http_matchers(matcher, yes, no):
    rs = rules(f'[[rule]]\nname = "r"\nfamily = "f"\nsource = "s"\n{matcher}\n')
    assert rs.match_http(http("GET", "/", yes), port=80) is not None
    assert rs.match_http(http("GET", "/", no), port=80) is None


@pytest.mark.parametrize("matcher,yes,no", [
    ('path = "/a"', "/a?x", "/a/"),
    ('path = ["/a", "/b"]', "/b", "/c"),
    ('path = { prefix = "/img/" }', "/img/1.png", "/im"),
    ('path = { regex = "^/[a-z]{5}\\\\.php$" }', "/abcde.php", "/abcdef.php"),
    ('query = { regex = "^q=[0-9]+$" }', "/search?q=12", "/search?q=a"),
    ('query = ""', "/x", "/x?y"),
    ('method = ["post", "PUT"]', "/", None),
])
def test_path_query_method(matcher, yes, no):
    rs = rules(f'[[rule]]\nname = "r"\nfamily = "f"\nsource = "s"\n{matcher}\n')
    method = "POST" if "method" in matcher else "GET"
    assert rs.match_http(http(method, yes), port=80) is not None
    if no is not None:
        assert rs.match_http(http(method, no), port=80) is None
    else:
        assert rs.match_http(http("GET", yes), port=80) is None


def test_body_and_port_matchers():
    rs = rules("""
[[rule]]
name = "magic"
family = "f"
source = "s"
body = { prefix_hex = "de ad", contains_hex = "be:ef" }
[[rule]]
name = "re"
family = "g"
source = "s"
body = { regex = '\\Aa=[A-Za-z0-9+/=]+&b=' }
port = [8080, 8081]
[[rule]]
name = "len"
family = "h"
source = "s"
body_len = { min = 10, max = 12 }
[[rule]]
name = "exact-len"
family = "i"
source = "s"
method = "PUT"
body_len = 3
""")
    assert rs.match_http(http("POST", "/", body=b"\xde\xad..\xbe\xef"), port=80).name == "magic"
    assert rs.match_http(http("POST", "/", body=b"\xde\xad.."), port=80) is None
    assert rs.match_http(http("POST", "/", body=b"a=QUJD&b=x"), port=8081).name == "re"
    assert rs.match_http(http("POST", "/", body=b"a=QUJD&b=x"), port=80).name == "len"
    assert rs.match_http(http("POST", "/", body=b"x" * 13), port=80) is None
    assert rs.match_http(http("PUT", "/", body=b"abc"), port=80).name == "exact-len"


def test_tls_and_ja3_ja4():
    rs = rules("""
[[rule]]
name = "tls-sni"
family = "f"
source = "s"
protocol = "tls"
sni = "*.bad.example"
ja4 = ["t13d1516h2_*"]
[[rule]]
name = "tls-ja3"
family = "g"
source = "s"
protocol = "tls"
ja3 = "E7D705A3286E19EA42F587B344EE6865"
port = 443
[[rule]]
name = "http-inside-tls"
family = "h"
source = "s"
path = "/x"
ja3 = ["e7d705a3286e19ea42f587b344ee6865"]
""")
    assert rs.match_tls(sni="a.BAD.example", ja3=None, ja4="t13d1516h2_8daaf6152771_02713d6af862", port=443).name == "tls-sni"
    assert rs.match_tls(sni="a.bad.example", ja3=None, ja4="t12d1516h2_x", port=443) is None
    assert rs.match_tls(sni=None, ja3="e7d705a3286e19ea42f587b344ee6865", ja4=None, port=443).name == "tls-ja3"
    assert rs.match_tls(sni=None, ja3="e7d705a3286e19ea42f587b344ee6865", ja4=None, port=8443) is None
    r = http("GET", "/x")
    assert rs.match_http(r, port=443, ja3="e7d705a3286e19ea42f587b344ee6865").name == "http-inside-tls"
    assert rs.match_http(r, port=80) is None


def test_tcp_payload_forms():
    rs = rules("""
[[rule]]
name = "prefix"
family = "f"
source = "s"
protocol = "tcp"
payload = { prefix_hex = ["00 01", "ff ee"] }
""")
    assert rs.match_tcp(b"\xff\xee\x00", port=1).name == "prefix"
    assert rs.match_tcp(b"\x00\x02", port=1) is None


@pytest.mark.parametrize("value,expected", [
    ("C2.Example", "c2.example"), ("c2.example:8080", "c2.example"), ("c2.example.", "c2.example"),
    ("[2001:db8::1]:80", "2001:db8::1"), ("2001:db8::1", "2001:db8::1"), ("", None), (None, None),
])
def test_normalize_host(value, expected):
    assert normalize_host(value) == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 65535))
def test_tcp_matching_never_raises(data, port):
    rule = SHIPPED.match_tcp(data, port=port)
    assert rule is None or isinstance(rule, Rule)


# -- bad rules files: FILE:LINE ----------------------------------------------------------


GOOD = '[[rule]]\nname = "r"\nfamily = "f"\nsource = "s"\npath = "/x"\n'


@pytest.mark.parametrize("text,line,what", [
    ("[[rule]]\nname = \"r\"\nfamily = \"f\"\nsource = \"s\"\npath = \n", 5, "Invalid value"),
    (GOOD + "pahts = 1\n", 6, "unknown key rule[0].pahts (did you mean rule[0].path?)"),
    (GOOD + "[[rule]]\nfamily = \"f\"\nsource = \"s\"\npath = \"/\"\n", 6, "missing required key rule[1].name"),
    (GOOD + "[[rule]]\nname = \"r\"\nfamily = \"g\"\nsource = \"s\"\npath = \"/y\"\n", 7, "used twice"),
    ("\n\n[[rule]]\nname = \"r\"\nfamily = \"f\"\nsource = \"s\"\n"
     "path = { regex = \"([a-z\" }\n", 7, "invalid regular expression"),
    ("[[rule]]\nname = \"r\"\nfamily = \"f\"\nsource = \"s\"\nprotocol = \"udp\"\n", 5, "protocol must be one of"),
    ("[[rule]]\nname = \"r\"\nfamily = \"f\"\nsource = \"s\"\nprotocol = \"tcp\"\npath = \"/\"\n", 6,
     "not a matcher of tcp rules"),
    ("[[rule]]\nname = \"r\"\nfamily = \"f\"\nsource = \"s\"\n", 1, "has no matcher"),
    (GOOD.replace('path = "/x"', "port = 70000"), 5, "port number between 1 and 65535"),
    (GOOD.replace('path = "/x"', 'ja3 = "abc"'), 5, "JA3 hash"),
    (GOOD.replace('path = "/x"', 'body = { prefix_hex = "zz" }'), 5, "hexadecimal bytes"),
    (GOOD.replace('path = "/x"', 'body = { regex = "\\u3042" }'), 5, "up to \\xff"),
    (GOOD + 'response = "redirect"\n', 6, "response must be one of"),
    (GOOD + 'confidence = "sure"\n', 6, "confidence must be one of"),
    (GOOD.replace('name = "r"', 'name = "has space"'), 2, "1-64 letters"),
    (GOOD.replace('source = "s"', 'source = ""'), 4, "non-empty string"),
    ("[rules]\nx = 1\n", 1, "did you mean [[rule]]"),
    (GOOD.replace('path = "/x"', 'header = { regex = "x" }'), 5, "needs a name"),
    (GOOD.replace('path = "/x"', 'user_agent = { absent = false }'), 5, "must be true"),
    (GOOD.replace('path = "/x"', 'body_len = { min = 5, max = 2 }'), 5, "max is smaller than min"),
    (GOOD.replace('path = "/x"', 'path = { regexp = "x" }'), 5, "unknown key rule[0].path.regexp (did you mean rule[0].path.regex?)"),
    ('rule = "x"\n', 1, "array of tables"),
])
def test_bad_rules_files(tmp_path, text, line, what):
    msg = load_error(tmp_path, text)
    path = str(tmp_path / "bad.toml")
    assert msg.startswith(f"{path}:{line}: "), msg
    assert what in msg, msg


def test_unreadable_and_not_utf8(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        RuleSet.load(tmp_path / "missing.toml")
    f = tmp_path / "latin1.toml"
    f.write_bytes(b'# ok\n# caf\xe9\n')
    with pytest.raises(RulesError, match=r"latin1\.toml:2: not valid UTF-8"):
        RuleSet.load(f)


def test_rule_location_and_matchers(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text("# header\n\n" + GOOD)
    (rule,) = RuleSet.load(f).rules
    assert rule.location == f"{f}:3" and rule.matchers == ("path",)
    assert rule.protocol == "http" and rule.response is None and rule.confidence is None


def test_empty_rules_file(tmp_path):
    f = tmp_path / "empty.toml"
    f.write_text("# no rules yet\n")
    assert len(RuleSet.load(f)) == 0
