"""The compiled common miss (takedown.dns._responder_c.plain_miss) against the
pure ``Responder._slow`` (issue 18, docs/performance.md "The miss compiled").

Two responders over one policy in one process, one with the compiled miss and
one without (every miss through ``_slow``, the reference), are given the same
packets: the responses must be the same bytes, the events the same rows, the
RRL verdicts the same (rate-limited rows carry them) and the answer caches the
same entries. The wire functions and the decision are whatever this process
has (compiled when built); the miss is the only difference.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential import cases as C
from differential.conftest import write_operation
from takedown.dns import responder as responder_mod
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.responder import Responder
from takedown.dns.rrl import RateLimiter
from takedown.operation import load_operation
from takedown.store.dnsbuffer import DnsBuffer
from test_dns_responder_accel import zonegen_case  # noqa: F401 - the fixture: bench/dns_micro.py's scenario, small

try:
    from takedown.dns import _responder_c
except ImportError:
    _responder_c = None

pytestmark = pytest.mark.skipif(_responder_c is None, reason="_responder_c not built")

NOW = 1_700_000_000.25
# An entry's fields, but ``gen`` (its event buffer's generation object, one per buffer)
_ENTRY_FIELDS = tuple(f for f in responder_mod._Entry.__slots__ if f != "gen")
RRL = {"responses_per_second": 1, "nxdomains_per_second": 3, "errors_per_second": 2, "slip": 2}


@pytest.fixture(scope="module")
def differential_policy(tmp_path_factory):
    op = write_operation(tmp_path_factory.mktemp("miss-accel"), "127.0.0.1", 53)
    return Policy(load_operation(op), serial=7)


def _pair(policy, rrl=None, **kw) -> tuple[Responder, Responder]:
    """(pure, compiled): the same responder, without and with the compiled miss."""
    out = []
    for fn in (None, _responder_c.plain_miss):
        r = Responder(policy, DnsBuffer(), rrl=RateLimiter(**rrl) if rrl else None, **kw)
        r.plain_miss = fn
        out.append(r)
    return out[0], out[1]


def _entries(r: Responder) -> dict[bytes, tuple]:
    return {k: tuple(getattr(e, f) for f in _ENTRY_FIELDS) for k, e in r.cache.items()}


def _same(policy, packets, *, repeat=2, transports=("udp", "tcp"), rrl=RRL, **kw) -> tuple[Responder, Responder]:
    pure, fast = _pair(policy, rrl, **kw)
    n = 0
    for transport in transports:
        for i, data in enumerate(packets):
            for _ in range(repeat):  # a miss, then the cached answer
                args = (data, f"192.0.2.{i % 5}", 1024 + i % 50_000, transport, "127.0.0.1", 53, NOW + i / 8)
                a = pure.respond(*args)
                b = fast.respond(*args)
                assert a == b, f"{transport} packet {i}: {data!r}"
                n += 1
    assert pure.events.rows() == fast.events.rows()
    assert len(fast.events.rows()) == n  # one event per query
    assert _entries(pure) == _entries(fast)
    assert pure._nx == fast._nx
    if rrl:
        assert pure.rrl.counters() == fast.rrl.counters()  # the limiter's verdicts, counted
    return pure, fast


def _query(qname: bytes, qtype: int, *, qid=0x1234, flags=0x0100, qclass=1, edns=None, do=False) -> bytes:
    """A query packet; ``edns``: the OPT record's UDP size (no options), None for none."""
    head = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0 if edns is None else 1)
    out = head + qname + struct.pack("!HH", qtype, qclass)
    if edns is not None:
        out += b"\x00" + struct.pack("!HHIH", wire.OPT, edns, 0x8000 if do else 0, 0)
    return out


def _variants(data: bytes) -> list[bytes]:
    """The question of ``data`` as plain and EDNS-without-options queries, DO set and not, in upper case."""
    q = wire._PURE.parse_query(data)
    out = []
    for name in (q.qname, q.qname.upper()):
        out.append(_query(name, q.qtype, qclass=q.qclass))
        for size, do in ((512, False), (600, True), (1232, False), (4096, True), (100, False)):
            out.append(_query(name, q.qtype, qclass=q.qclass, edns=size, do=do))
    return out


def test_the_twin_is_selected():
    assert responder_mod._twin is _responder_c or os.environ.get("TAKEDOWN_PURE") == "1"
    code = "from takedown.dns import responder as m; print(m._twin is None)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for pure, expect in (("1", "True"), ("0", "False")):
        out = subprocess.run([sys.executable, "-c", code], env={**env, "TAKEDOWN_PURE": pure},
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expect


def test_differential_cases_pure_and_compiled_miss_agree(differential_policy):
    cases = list(C.all_cases()) + list(C.shapes_cases()) + list(C.chains_cases())
    packets = [c.wire() for c in cases]
    for max_udp in (512, 1232):
        _pure, fast = _same(differential_policy, packets, max_udp_payload=max_udp)
        assert fast.cache  # the compiled miss cached answers


def test_plain_and_edns_variants_agree(differential_policy):
    """Every differential question plain and with EDNS sizes 100-4096, DO or
    not, in upper case: truncation at 512 and at the EDNS size, the OPT record."""
    seen = set()
    packets = []
    for c in list(C.all_cases()) + list(C.shapes_cases()):
        data = c.wire()
        try:
            q = wire._PURE.parse_query(data)
        except wire.WireError:
            continue
        if (q.qname.lower(), q.qtype, q.qclass) in seen:
            continue
        seen.add((q.qname.lower(), q.qtype, q.qclass))
        packets += _variants(data)
    assert len(packets) > 1000
    _same(differential_policy, packets, max_udp_payload=1232)


def test_the_compiled_miss_takes_the_common_queries_and_hands_back_the_rest(differential_policy):
    pure, fast = _pair(differential_policy)
    org = wire.text_to_wire("www.3322.org")
    calls = []

    def spy(r, *a):
        e = _responder_c.plain_miss(r, *a)
        calls.append(e)
        return e

    fast.plain_miss = spy
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 octets: FORMERR
    for data in (_query(org, wire.A), _query(org, wire.AXFR), _query(org, wire.IXFR),
                 _query(org, wire.A, edns=1232, do=True), _query(long_name, wire.A)):
        assert pure.respond(data, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW) == \
            fast.respond(data, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW)
    assert [e is not None for e in calls] == [True, False, False, True, False]
    assert pure.events.rows() == fast.events.rows()
    assert pure.events.rows()[-1][8] == wire.FORMERR


def test_cold_zonegen_run_agrees(zonegen_case):
    policy, packets = zonegen_case
    # RRL at rates a repeated question exceeds: slips and drops on the second asking
    pure, fast = _same(policy, packets, transports=("udp",))
    outcomes = {row[-1] for row in fast.events.rows()}
    assert {"answer", "rrl-slip", "rrl-drop"} <= outcomes
    # and without RRL, over EDNS: one pass, every query a miss
    edns = [p[:11] + b"\x01" + p[12:] + b"\x00" + struct.pack("!HHIH", wire.OPT, 1232, 0, 0) for p in packets]
    _same(policy, edns, repeat=1, transports=("udp",), rrl=None)


def test_nxdomain_flood_bound_and_cache_clear_agree(monkeypatch, differential_policy):
    monkeypatch.setattr(responder_mod, "_NX_PER_ZONE", 7)
    monkeypatch.setattr(responder_mod, "_CACHE_MAX", 25)
    rnd = random.Random(18)
    packets = []
    for _ in range(300):
        label = "".join(rnd.choice("abcdefghij0123") for _ in range(rnd.randint(1, 20)))
        zone = rnd.choice(["3322.org", "shapes.example", "chains.example", "seized.example", "nowhere.test"])
        packets.append(_query(wire.text_to_wire(f"{label}.{zone}"), rnd.choice([wire.A, wire.AAAA, wire.TXT])))
    pure, fast = _same(differential_policy, packets, rrl=None)
    assert 0 < len(fast.cache) <= 25


_LABELS = st.sampled_from([b"www", b"WwW", b"mail", b"*", b"3322", b"org", b"shapes", b"example", b"chains",
                           b"sub", b"ns1", b"a", b"x-y", b"_tcp", b"\xff\x00", b"seized"])


@st.composite
def _packets(draw):
    labels = draw(st.lists(st.one_of(_LABELS, st.binary(min_size=1, max_size=63)), min_size=0, max_size=6))
    suffix = draw(st.sampled_from(["3322.org", "shapes.example", "chains.example", "", "org"]))
    name = b"".join(bytes([len(x)]) + x for x in labels)
    if suffix:
        name += wire.text_to_wire(suffix)[:-1]
    name += b"\x00"
    qtype = draw(st.sampled_from([wire.A, wire.AAAA, wire.MX, wire.NS, wire.TXT, wire.SOA, wire.CNAME, wire.DS,
                                  wire.ANY, wire.AXFR, wire.IXFR, wire.DNSKEY, 99, 65535]))
    flags = draw(st.integers(0, 0x07FF))  # QR=0, opcode QUERY: every other flag bit and the rcode nibble
    edns = draw(st.one_of(st.none(), st.integers(0, 65535)))
    return _query(name, qtype, qid=draw(st.integers(0, 0xFFFF)), flags=flags, edns=edns, do=draw(st.booleans()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_packets(), min_size=1, max_size=6))
def test_random_queries_agree(differential_policy, packets):
    _same(differential_policy, packets, repeat=2)
