"""The compiled decision (takedown.dns._policy_c, issue 18) against the pure one.

``Policy.decide`` (the pure method, the reference) and the compiled
``Decider(policy).decide`` must give equal Decisions, field by field and
section by section (and ``limit_name`` the same name, or the same error), for every name and type of the test zones (the
differential zones: real-ish 3322.org with a blocklist, wildcards, CNAMEs
and delegations; the DNAME shapes; the chains; and a zone here with the
shapes those lack: a wildcard that is an empty non-terminal, in-zone NS
targets with A and AAAA, DS at a cut), names below them, below blocklisted
and seized parents, random names (hypothesis) in any letter case, the root,
255-octet names and malformed ones (the same exception). Then whole
queries: the differential cases through a Responder with each decision
give identical bytes and events.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from differential import cases as C
from differential.conftest import write_operation
from dns_helpers import logged_responder
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.operation import load_operation

try:
    from takedown.dns import _policy_c
except ImportError:
    _policy_c = None

pytestmark = pytest.mark.skipif(
    _policy_c is None, reason="takedown.dns._policy_c is not built (setup.py build_ext --inplace)"
)

PLAIN_ZONE = """\
$ORIGIN plain.example.
$TTL 600
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 300
        NS ns1
        NS ns2
        NS ns.outside.example.
        MX 10 mail
ns1     A 192.0.2.1
        AAAA 2001:db8::1
ns2     A 192.0.2.2
mail    A 192.0.2.25
host    A 192.0.2.80
        A 192.0.2.81
        AAAA 2001:db8::80
        TXT "host"
        SRV 0 5 80 host
deep.ent.here A 192.0.2.90
*.wild  A 192.0.2.99
        TXT "wild"
        MX 5 mail
x.*.entstar A 192.0.2.98
*.cw    CNAME host
alias   CNAME host
sub     NS ns1.sub
        DS 12345 8 1 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE
ns1.sub A 192.0.2.53
dsonly  DS 1 8 1 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE
key     DNSKEY 257 3 8 AwEAAQ==
blocked A 192.0.2.66
bad.host A 192.0.2.67
"""

PLAIN_BLOCKLIST = "blocked.plain.example\n*.evil.plain.example\n*.wild.plain.example\nns2.plain.example\n"
SEIZED = "seized.example\nseized.3322.org\ninner.host.plain.example\n"

TYPES = (wire.A, wire.NS, wire.CNAME, wire.SOA, wire.MX, wire.TXT, wire.AAAA, wire.SRV, wire.DNAME, wire.DS,
         wire.DNSKEY, wire.PTR, wire.ANY, 99, 65535)


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    d = tmp_path_factory.mktemp("zone-accel")
    op = write_operation(d, "127.0.0.1", 53)
    (d / "plain.example.zone").write_text(PLAIN_ZONE)
    (d / "plain-blocklist.txt").write_text(PLAIN_BLOCKLIST)
    (d / "seized.txt").write_text(SEIZED)
    op.write_text(op.read_text() + (
        '\n[[zones]]\norigin = "plain.example"\nfile = "plain.example.zone"\n'
        'blocklist = "plain-blocklist.txt"\nfamily = "plain"\n'
        '\n[[domains]]\nfamily = "seized"\nfile = "seized.txt"\n'))
    return Policy(load_operation(op), serial=7)


def _outcome(f, *args):
    try:
        d = f(*args)
    except Exception as e:  # noqa: BLE001 - the type is what must agree
        return ("raised", type(e))
    return (d.rule, d.family, d.result)


def _same(policy, decider, qn: bytes, qtype: int, any_class: bool = False) -> None:
    pure = _outcome(Policy.decide, policy, qn, qtype, any_class)
    fast = _outcome(decider.decide, qn, qtype, any_class)
    assert fast == pure, (qn, qtype, any_class)
    pure, fast = _limit(Policy.limit_name, policy, qn), _limit(decider.limit_name, qn)
    assert fast == pure, qn


def _limit(f, *args):
    try:
        return f(*args)
    except Exception as e:  # noqa: BLE001 - the type is what must agree
        return ("raised", type(e))


def _zone_names(policy) -> list[bytes]:
    """Every owner, empty non-terminal and cut of the policy's zones, names
    one and two labels below each, the blocklist's entries and below them,
    the rules' names and below them, and names outside every zone."""
    names = {b"\x00", wire.text_to_wire("outside.example"), wire.text_to_wire("org")}
    for tz in policy.zones:
        z = tz.zone
        for n in list(z.nodes) + list(z.ents) + list(z.cuts) + list(tz.exact) + list(tz.wild):
            names.update((n, b"\x01x" + n, b"\x03abc\x01y" + n, b"\x01*" + n))
    for n in policy.rules:
        names.update((n, b"\x05below" + n))
    return sorted(names)


def test_every_name_and_type_of_the_zones_is_decided_alike(policy):
    decider = _policy_c.Decider(policy)
    names = _zone_names(policy)
    assert len(names) > 600
    for qn in names:
        for qtype in TYPES:
            for any_class in (False, True):
                _same(policy, decider, qn, qtype, any_class)


def test_the_shapes_are_all_there(policy):
    """The names above do reach each shape the compiled code answers itself."""
    decide = _policy_c.Decider(policy).decide
    seen = set()
    for qn in _zone_names(policy):
        for qtype in TYPES:
            d = decide(qn, qtype)
            r = d.result
            kind = d.rule.rsplit(":", 1)[-1]
            seen.add((kind, r.rcode, bool(r.answer), r.aa, bool(r.additional)))
    for shape in [("pass", wire.NXDOMAIN, False, True, False),  # NXDOMAIN
                  ("pass", wire.NOERROR, False, True, False),  # NODATA
                  ("pass", wire.NOERROR, True, True, True),  # data, with the apex NS addresses
                  ("pass", wire.NOERROR, False, False, True),  # a referral with glue
                  ("block", wire.NOERROR, True, True, False),  # the sinkhole
                  ("seized", wire.NOERROR, True, True, False),
                  ("none", wire.REFUSED, False, False, False)]:
        assert shape in seen


def test_answers_that_do_not_depend_on_the_query_are_built_once(policy):
    decide = _policy_c.Decider(policy).decide
    nx = [decide(wire.text_to_wire(f"nx{i}.3322.org"), wire.A) for i in range(3)]
    assert nx[0].result.rcode == wire.NXDOMAIN and nx[0] is nx[1] is nx[2]
    ref = [decide(wire.text_to_wire(f"h{i}.sub.3322.org"), wire.A) for i in range(2)]
    assert not ref[0].result.aa and ref[0].result.authority and ref[0] is ref[1]


_LABELS = [b"www", b"WWW", b"sub", b"ns1", b"wild", b"evil", b"pcwk", b"host", b"plain", b"example", b"3322",
           b"org", b"*", b"x", b"ent", b"here", b"deep", b"seized", b"blocked", b"bad", b"cw", b"alias",
           b"entstar", b"chains", b"shapes", b"dn", b"tgt", b"Host", b"EXAMPLE"]
_label = st.one_of(st.sampled_from(_LABELS), st.binary(min_size=1, max_size=63))
_suffix = st.sampled_from([b"", b"\x053322\x03org\x00", b"\x05plain\x07example\x00", b"\x06chains\x07example\x00",
                           b"\x06shapes\x07example\x00", b"\x06seized\x07example\x00", b"\x07example\x00"])


def _wire(labels, suffix: bytes) -> bytes:
    return b"".join(bytes((len(x),)) + x for x in labels) + (suffix or b"\x00")


@settings(max_examples=1500, deadline=None)
@given(st.lists(_label, max_size=5), _suffix, st.sampled_from(TYPES), st.booleans(), st.booleans())
def test_random_names_are_decided_alike(policy, labels, suffix, qtype, lower, any_class):
    """Random names under each zone and seized name (the responder passes
    them lowercased; upper case must agree too: it is only not found)."""
    qn = _wire(labels, suffix)
    if lower:
        qn = qn.lower()
    _same(policy, _policy_c.Decider(policy), qn, qtype, any_class)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), _suffix, st.sampled_from(TYPES))
def test_malformed_names_raise_alike(policy, junk, suffix, qtype):
    _same(policy, _policy_c.Decider(policy), junk + suffix, qtype)
    _same(policy, _policy_c.Decider(policy), junk, qtype)


def test_long_names_are_decided_alike(policy):
    decider = _policy_c.Decider(policy)
    for suffix in (b"\x053322\x03org\x00", b"\x05plain\x07example\x00", b"\x04evil\x05plain\x07example\x00"):
        for width in (1, 30, 63):
            qn = suffix
            while len(qn) + width + 1 <= 255:
                qn = bytes((width,)) + b"a" * width + qn
            fill = 255 - len(qn) - 1
            if fill > 0:
                qn = bytes((fill,)) + b"b" * fill + qn
            assert len(qn) >= 254
            for qtype in TYPES:
                _same(policy, decider, qn, qtype)


def _answers(policy, packets) -> tuple[list, list]:
    out = []
    r = logged_responder(policy)
    for i, data in enumerate(packets):
        for transport in ("udp", "tcp"):
            out.append(r.respond(data, "192.0.2.7", 1024 + i, transport, "127.0.0.1", 53, 1_700_000_000.0 + i))
    return out, r.buffer.rows()


def test_differential_queries_give_identical_bytes_and_events(policy):
    """Every case of the differential test, answered through a Responder
    with the pure decision, then with the compiled one."""
    packets = [c.wire() for c in list(C.all_cases()) + list(C.shapes_cases()) + list(C.chains_cases())]
    assert len(packets) > 500
    policy.__dict__.pop("decide", None)
    policy.__dict__.pop("limit_name", None)
    pure = _answers(policy, packets)
    decider = _policy_c.Decider(policy)
    policy.decide, policy.limit_name = decider.decide, decider.limit_name
    fast = _answers(policy, packets)
    assert len(pure[1]) == 2 * len(packets)
    for i, (a, b) in enumerate(zip(pure[0], fast[0])):
        assert a == b, packets[i // 2]
    assert pure[1] == fast[1]


def _bound(env: dict) -> str:
    code = ("import sys; from takedown.dns.policy import Policy; from takedown.operation import load_operation; "
            "p = Policy(load_operation(sys.argv[1]), serial=1); "
            "print(type(p.decide.__self__).__name__, type(p.limit_name.__self__).__name__)")
    run = subprocess.run([sys.executable, "-c", code, str(C.HERE.parent.parent / "examples" / "operation.toml")],
                         env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_policy_binds_the_compiled_decision_unless_pure():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("TAKEDOWN_PURE", None)
    assert _bound(env) == "Decider Decider"
    assert _bound({**env, "TAKEDOWN_PURE": "1"}) == "Policy Policy"
