"""The tracker's Suricata export (takedown.tracker.formats.suricata), read
back with idstools (the OISF's rule parser, as suricata-update uses): every
line a rule, sids unique and stable across exports, rev rising with the
indicator's revision."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timezone

import idstools.rule
import pytest

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, get
from takedown.tracker.formats.suricata import SID_BASE, SLOTS
from takedown.tracker.indicator import Indicator

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
VALUES = [
    ("evil-cc.example", "seized"),
    ("1.2.3.4", "online"),
    ("1.2.3.4:443", "online"),
    ("[2001:db8::cc]:8080", "offline"),
    ('http://url-cc.example/gate.php?id=1;x="|"', "online"),
    ("https://tls-cc.example/panel", "unknown"),
    ("https://198.51.100.9:8443/p", "sinkholed"),
]


def indicators() -> list[Indicator]:
    return [Indicator.new(v, 'Zeus "GameOver"; P2P', status=s, id=10 + i, revision=i,
                          first_seen=datetime(2026, 1, 2, tzinfo=timezone.utc), updated=NOW)
            for i, (v, s) in enumerate(VALUES)]


def export_text(inds, **params) -> str:
    out = io.BytesIO()
    n = get("suricata").write(inds, ExportContext(now=NOW, params=params), out)
    assert n == len(inds)
    return out.getvalue().decode()


def parse(text: str) -> list[idstools.rule.Rule]:
    return idstools.rule.parse_fileobj(io.StringIO(text))


def rule_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def options(rule) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for opt in rule.options:
        out.setdefault(opt["name"], []).append(opt["value"])
    return out


def test_idstools_parses_every_line_as_a_rule():
    text = export_text(indicators())
    rules = parse(text)
    assert len(rules) == len(rule_lines(text)) == 3 + 1 + 1 + 1 + 1 + 1 + 1
    assert all(r.enabled and r.action == "alert" for r in rules)
    assert len({r.sid for r in rules}) == len(rules)
    for r in rules:
        assert r.classtype == "trojan-activity"
        assert "Zeus" in r.msg and "GameOver" in r.msg
        assert any(ref.startswith("url,takedown.invalid/tracker/") for ref in r.references)
        assert "takedown_family Zeus_GameOver_P2P" in r.metadata


def test_each_kind_gets_its_rules():
    by_sid = {r.sid: r for r in parse(export_text(indicators()))}
    dns_rule, tls_rule, http_rule = (by_sid[SID_BASE + SLOTS * 10 + slot] for slot in range(3))
    assert dns_rule.proto == "dns" and options(dns_rule)["content"] == ['".evil-cc.example"']
    assert "dns.query" in options(dns_rule) and "dotprefix" in options(dns_rule)
    assert tls_rule.proto == "tls" and "tls.sni" in options(tls_rule)
    assert http_rule.proto == "http" and "http.host" in options(http_rule)
    ip_rule = by_sid[SID_BASE + SLOTS * 11]
    assert (ip_rule.proto, ip_rule.dest_addr, ip_rule.dest_port) == ("ip", "1.2.3.4", "any")
    port_rule = by_sid[SID_BASE + SLOTS * 12]
    assert (port_rule.proto, port_rule.dest_addr, port_rule.dest_port) == ("tcp", "1.2.3.4", "443")
    v6_rule = by_sid[SID_BASE + SLOTS * 13]
    assert (v6_rule.dest_addr, v6_rule.dest_port) == ("2001:db8::cc", "8080")
    url_rule = by_sid[SID_BASE + SLOTS * 14]
    # the URL's ; " | are in hex: the rule stays one rule
    assert options(url_rule)["content"] == ['"url-cc.example"', '"/gate.php?id=1|3B|x=|22 7C 22|"']
    assert "tls.sni" in options(by_sid[SID_BASE + SLOTS * 15])
    https_ip = by_sid[SID_BASE + SLOTS * 16]
    assert (https_ip.proto, https_ip.dest_addr, https_ip.dest_port) == ("tcp", "198.51.100.9", "8443")


def test_sids_are_stable_and_rev_follows_the_revision():
    first = {r.sid: r for r in parse(export_text(indicators()))}
    changed = [dataclasses.replace(ind, status="sinkholed", revision=ind.revision + 1) if ind.id == 11 else ind
               for ind in reversed(indicators())]
    second = {r.sid: r for r in parse(export_text(changed))}
    assert first.keys() == second.keys()
    for sid, rule in second.items():
        was = first[sid]
        if sid == SID_BASE + SLOTS * 11:
            assert rule.rev == was.rev + 1 and "(sinkholed)" in rule.msg
        else:
            assert rule.rev == was.rev and rule.raw == was.raw


def test_sid_base_is_a_parameter():
    rules = parse(export_text(indicators(), sid_base="1000000"))
    assert min(r.sid for r in rules) == 1_000_000 + SLOTS * 10


@pytest.mark.parametrize("params, said", [
    ({"sid_base": "-1"}, "--param sid_base=-1: not a positive integer"),
    ({"sid_base": "4294967290"}, "over 2\\^32-1"),
    ({"policy.online": "nxdomain"}, "not a parameter of the suricata format"),
])
def test_bad_params_are_one_line_errors(params, said):
    with pytest.raises(TrackerError, match=said):
        export_text(indicators(), **params)


def test_an_unstored_indicator_has_no_sid():
    with pytest.raises(TrackerError, match="evil.example: not stored"):
        export_text([Indicator.new("evil.example", "zeus")])
