"""The decision's rare shapes, compiled (takedown.dns._policy_c), against the pure code.

tests/test_dns_zone_accel.py compares the two decisions over the fixed test
zones; this file adds what the compiled code now answers itself instead of
handing to ``Policy.decide`` (docs/performance.md, "The decision's rare
shapes"): CNAME chains inside a zone and NS/MX/SRV answers with their
targets' addresses. Hypothesis writes whole zones of those shapes (CNAMEs
to in-zone, out-of-zone, missing, wildcard-covered, delegated, blocklisted
and seized targets, chains and loops, CNAMEs at wildcards, MX/NS/SRV with
targets in and out of the zone, wildcards under them, mixed case in owners
and RDATA, DNAMEs in some), and every name and type asked of them must get
an equal Decision and limit name from both. A counting pure ``decide``
shows which shapes the compiled code no longer hands back, and the
benchmark's zonegen zone is decided alike, question by question.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.operation import load_operation
from test_dns_responder_accel import zonegen_case  # noqa: F401 - the fixture: bench/dns_micro.py's scenario, small
from test_dns_zone_accel import TYPES, _same

try:
    from takedown.dns import _policy_c
except ImportError:
    _policy_c = None

pytestmark = pytest.mark.skipif(
    _policy_c is None, reason="takedown.dns._policy_c is not built (setup.py build_ext --inplace)"
)

ORIGIN = "hz.example"

OPERATION = """\
[operation]
name = "shapes"
storage = "data"

[sinkhole]
ipv4 = ["192.0.2.200"]
ipv6 = ["2001:db8::200"]
ttl = 60
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1" }}

[[zones]]
origin = "hz.example"
file = "hz.zone"
blocklist = "blocklist.txt"
family = "shapes"

[[domains]]
family = "seized"
file = "seized.txt"
{dga}
[dns]
listen = ["127.0.0.1:53"]
"""

HEAD = """\
$ORIGIN hz.example.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 120
@ NS ns1
@ NS {apex_ns2}
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
"""


def _policy(directory, zone_lines: list[str], blocked: list[str], seized: list[str], apex_ns2: str = "ns.out.example."):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hz.zone").write_text(HEAD.format(apex_ns2=apex_ns2) + "\n".join(zone_lines) + "\n")
    (directory / "blocklist.txt").write_text("".join(f"{n}\n" for n in blocked))
    (directory / "seized.txt").write_text("".join(f"{n}\n" for n in seized) or "nothing.example\n")
    op = directory / "operation.toml"
    op.write_text(OPERATION.format(dga=""))
    return Policy(load_operation(op), serial=3)


# -- hypothesis zones ---------------------------------------------------------

# Owners (relative to hz.example), some below others, one a wildcard's parent.
OWNERS = ["h0", "h1", "h2", "H3", "a.h0", "b.a.h0", "*.w", "*.h1", "x.*.e", "c0", "c1", "c2", "c3", "mx", "cut"]
# Targets of CNAME/MX/SRV/NS: owners, names that do not exist, a wildcard's
# cover, a name below the cut, an empty non-terminal, the apex, outside names.
TARGETS = OWNERS + ["nx", "q.w", "Q.W", "deep.h1", "z.cut", "a.h0", "e", "*.e", "@", "ns1",
                    "out.example.", "mail.Out.Example.", "blocked0", "seized0.hz.example.", "x.blockw"]
# Blocklist entries and seized names (as Policy reads them: absolute, no dot).
SUNK = ["h2", "c3", "blocked0", "q.w", "*.blockw", "*.h0"]


def _records(draw, owner: str) -> list[str]:
    kind = draw(st.sampled_from(["data", "data", "cname", "cname", "cname", "mail", "cut", "dname"]))
    if owner.startswith("*") and kind == "cut":
        kind = "data"
    if kind == "cname":
        out = [f"{owner} CNAME {draw(st.sampled_from(TARGETS))}"]
        if draw(st.integers(0, 9)) == 0:  # CNAME and other data: the pure code chains anyway
            out.append(f"{owner} A 192.0.2.77")
        return out
    if kind == "cut":
        out = [f"{owner} NS ns.{owner}", f"ns.{owner} A 192.0.2.53", f"{owner} NS {draw(st.sampled_from(TARGETS))}"]
        if draw(st.booleans()):
            out.append(f"{owner} DS 1 8 1 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE")
        return out
    if kind == "dname":
        return [f"{owner} DNAME {draw(st.sampled_from(['h1', 'out.example.', 'c0']))}"]
    out = []
    n = draw(st.integers(0, 4))
    if draw(st.booleans()):
        out.append(f"{owner} A 192.0.2.{n + 10}")
        if n > 2:
            out.append(f"{owner} 600 A 192.0.2.{n + 20}")  # an RRset's TTLs made one (RFC 2181 5.2)
    if draw(st.booleans()):
        out.append(f"{owner} AAAA 2001:db8::{n + 10}")
    if kind == "mail" or draw(st.booleans()):
        for t in draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3)):
            out.append(f"{owner} MX {draw(st.integers(0, 20))} {t}")
    if draw(st.booleans()):
        out.append(f"{owner} SRV 0 5 80 {draw(st.sampled_from(TARGETS))}")
    if draw(st.booleans()):
        out.append(f'{owner} TXT "t{n}"')
    return out


@st.composite
def zones(draw):
    owners = draw(st.lists(st.sampled_from(OWNERS), min_size=1, max_size=len(OWNERS), unique=True))
    lines = []
    for owner in owners:
        lines += _records(draw, owner)
    if draw(st.integers(0, 3)):  # a DNAME makes the compiled code hand the whole zone back: 1 in 4
        lines = [x for x in lines if " DNAME " not in x]
    blocked = [f"{n}.{ORIGIN}" for n in draw(st.lists(st.sampled_from(SUNK), unique=True))]
    seized = [f"{n}.{ORIGIN}" for n in draw(st.lists(st.sampled_from(["seized0", "c1", "b.a.h0"]), unique=True))]
    apex_ns2 = draw(st.sampled_from(["ns.out.example.", "h0", "mx", "c0", "q.w"]))
    return lines, blocked, seized, apex_ns2


def _names(policy) -> list[bytes]:
    """Every owner, empty non-terminal and target of the zone, a name below
    each, in lower and mixed case."""
    z = policy.zones[0].zone
    origin = z.origin
    names = {origin, b"\x01q" + origin}
    for rel in TARGETS + SUNK + ["seized0", "w", "e", "blockw"]:
        if rel == "@" or rel.endswith("."):
            continue
        n = wire.text_to_wire(f"{rel.replace('*', 'k')}.{ORIGIN}")
        names.update((n, b"\x01q" + n))
    for n in list(z.nodes) + list(z.ents):
        names.update((n, b"\x01q" + n, b"\x02zz\x01q" + n))
    out = sorted(names)
    return out + [n.upper() for n in out[::3]]


_counter = itertools.count()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zones())
def test_generated_zones_are_decided_alike(tmp_path, zone):
    lines, blocked, seized, apex_ns2 = zone
    policy = _policy(tmp_path / str(next(_counter)), lines, blocked, seized, apex_ns2)
    decider = _policy_c.Decider(policy)
    for qn in _names(policy):
        for qtype in TYPES:
            _same(policy, decider, qn, qtype)


# -- which shapes the compiled code answers itself ----------------------------

FIXED = [
    "in CNAME h0",
    "out CNAME elsewhere.example.",
    "missing CNAME nothere",
    "ent CNAME e",
    "wild CNAME q.w",
    "deleg CNAME z.cut",
    "tosunk CNAME blocked0",
    "toseized CNAME seized0",
    "chain CNAME in",
    "loop1 CNAME loop2",
    "loop2 CNAME loop1",
    "self CNAME self",
    "upper CNAME H0.HZ.example.",
    "tonodata CNAME ns1",
    "tomx CNAME mx",
    "h0 A 192.0.2.10",
    "h0 AAAA 2001:db8::10",
    "x.e A 192.0.2.11",
    "*.w A 192.0.2.12",
    "*.cw CNAME h0",
    "*.mw MX 5 h0",
    "cut NS ns.cut",
    "ns.cut A 192.0.2.53",
    "blocked0 A 192.0.2.66",
    "mx MX 10 mail.out.example.",
    "mx MX 20 mx2.out.example.",
    "inmx MX 10 h0",
    "inmx MX 20 q.w",
    "inmx MX 30 z.cut",
    "inmx MX 40 blocked0",
    "inmx MX 50 ns1",
    "srv SRV 0 5 80 h0",
    "srvout SRV 0 5 80 web.out.example.",
    "dsname CNAME cut",
]

# (name, type) the compiled code answers without the pure decide.
COMPILED = [("in", "A"), ("in", "AAAA"), ("in", "TXT"), ("out", "A"), ("missing", "A"), ("ent", "A"),
            ("wild", "A"), ("deleg", "A"), ("tosunk", "A"), ("tosunk", "NS"), ("toseized", "AAAA"),
            ("chain", "A"), ("loop1", "A"), ("self", "A"), ("upper", "A"), ("tonodata", "MX"),
            ("tomx", "MX"), ("x.cw", "A"), ("x.cw", "MX"), ("x.mw", "MX"), ("mx", "MX"), ("inmx", "MX"),
            ("srv", "SRV"), ("srvout", "SRV"), ("@", "NS"), ("@", "MX"), ("dsname", "DS"), ("in", "CNAME")]
# ... and what it still hands back.
HANDED_BACK = [("in", "ANY")]

_TYPE = {"A": wire.A, "AAAA": wire.AAAA, "TXT": wire.TXT, "MX": wire.MX, "SRV": wire.SRV, "NS": wire.NS,
         "DS": wire.DS, "CNAME": wire.CNAME, "ANY": wire.ANY}


@pytest.fixture(scope="module")
def fixed_policy(tmp_path_factory):
    return _policy(tmp_path_factory.mktemp("shapes"), FIXED + ["@ MX 5 h0"], ["blocked0.hz.example"],
                   ["seized0.hz.example"], apex_ns2="h0")


def _qn(rel: str) -> bytes:
    return wire.text_to_wire(ORIGIN if rel == "@" else f"{rel}.{ORIGIN}")


def test_the_rare_shapes_are_answered_without_the_pure_decision(fixed_policy, monkeypatch):
    pure = Policy.decide
    expected = {(n, t): pure(fixed_policy, _qn(n), _TYPE[t]) for n, t in COMPILED + HANDED_BACK}
    calls = []

    def counting(self, qn, qtype, any_class=False):
        calls.append((qn, qtype))
        return pure(self, qn, qtype, any_class)

    monkeypatch.setattr(Policy, "decide", counting)
    decide = _policy_c.Decider(fixed_policy).decide
    for n, t in COMPILED:
        d = decide(_qn(n), _TYPE[t])
        assert d == expected[n, t], (n, t)
    assert calls == []
    for n, t in HANDED_BACK:
        assert decide(_qn(n), _TYPE[t]) == expected[n, t]
    assert len(calls) == len(HANDED_BACK)


def test_the_fixed_shapes_have_what_they_are_named_for(fixed_policy):
    """The zone above does reach each shape: a chain's answer, its end at
    NXDOMAIN, NODATA, a referral (AA kept) and the sinkhole, a loop, and the
    addresses of in-zone MX targets before the apex NS ones."""
    decide = _policy_c.Decider(fixed_policy).decide

    def result(n, t):
        return decide(_qn(n), _TYPE[t]).result

    r = result("in", "A")
    assert [s[0][0] for s in r.answer] == [_qn("in"), _qn("h0")] and r.extra_authority and r.additional
    assert [s[0][0] for s in result("chain", "A").answer] == [_qn("chain"), _qn("in"), _qn("h0")]
    assert result("missing", "A").rcode == wire.NXDOMAIN and result("missing", "A").answer
    r = result("ent", "A")
    assert r.rcode == wire.NOERROR and len(r.answer) == 1 and r.authority
    r = result("deleg", "A")
    assert r.aa and len(r.answer) == 1 and r.authority[0][0][0] == _qn("cut") and r.additional
    r = result("tosunk", "A")
    assert wire.rec_type(r.answer[1][0][1]) == wire.A and r.answer[1][0][1][-4:] == bytes([192, 0, 2, 200])
    assert len(result("loop1", "A").answer) == 2 and len(result("self", "A").answer) == 1
    r = result("inmx", "MX")
    owners = [s[0][0] for s in r.additional]
    assert owners[:3] == [_qn("h0"), _qn("q.w"), _qn("blocked0")] and _qn("ns1") in owners
    assert _qn("z.cut") not in owners  # an MX target below a cut gets no addresses
    r = result("mx", "MX")  # out-of-zone targets: the apex NS addresses only, A then AAAA
    assert [(s[0][0], wire.rec_type(s[0][1])) for s in r.additional] == [
        (_qn("ns1"), wire.A), (_qn("h0"), wire.A), (_qn("ns1"), wire.AAAA), (_qn("h0"), wire.AAAA)]


def test_the_benchmark_zone_is_decided_alike(zonegen_case):  # noqa: F811 - the fixture
    """Every question of the small cold scenario (zonegen's CNAME and MX
    hosts among them), each asked once, in lower and upper case."""
    policy, packets = zonegen_case
    decider = _policy_c.Decider(policy)
    for data in packets:
        qn, end = wire.read_name(data, 12)
        qtype = (data[end] << 8) | data[end + 1]
        for name in (qn.lower(), qn.upper()):
            _same(policy, decider, name, qtype)
    cname = [n for n, blob in policy.zones[0].zone.nodes.items() if blob[:2] == b"\x00\x05"]
    assert len(cname) > 20
    for qn in cname:
        for qtype in (wire.A, wire.AAAA, wire.MX, wire.TXT, wire.CNAME):
            _same(policy, decider, qn, qtype)
