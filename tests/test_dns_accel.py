"""The compiled twins of takedown.dns.wire (issue 18) against the pure code.

Every case of the differential test (tests/differential/cases.py: NXDOMAIN,
NODATA, referrals, wildcards, CNAME/DNAME chains, ECS, truncation, malformed
packets, other opcodes) and a cache-cold run over a zonegen zone go through
a Responder twice in one process, once with each implementation: the
response bytes and the events must be identical. Random RRsets and names
check :func:`render` and :func:`name_to_text` directly.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from differential import cases as C
from differential.conftest import write_operation
from dns_helpers import logged_responder
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.operation import load_operation

# Imported explicitly, whatever TAKEDOWN_PURE says: these tests hold the two
# implementations against each other in one process.
try:
    from takedown.dns import _wire_c
except ImportError:
    _wire_c = None

needs_compiled = pytest.mark.skipif(
    _wire_c is None, reason="takedown.dns._wire_c is not built (setup.py build_ext --inplace)"
)
REPO = Path(__file__).resolve().parent.parent
NOW = 1_700_000_000.25


def _use(monkeypatch, impl) -> None:
    for name in wire.ACCELERATED:
        monkeypatch.setattr(wire, name, getattr(impl, name))


def _answers(policy, packets, transports=("udp", "tcp"), **kw) -> tuple[list, list]:
    out, events = [], []
    for transport in transports:
        r = logged_responder(policy, **kw)
        for i, data in enumerate(packets):
            out.append(r.respond(data, "192.0.2.7", 1024 + i, transport, "127.0.0.1", 53, NOW + i))
            out.append(r.respond(data, "192.0.2.7", 1024 + i, transport, "127.0.0.1", 53, NOW + i))  # cached
        events += r.buffer.rows()
    return out, events


def _both(monkeypatch, policy, packets, **kw) -> None:
    _use(monkeypatch, wire._PURE)
    pure = _answers(policy, packets, **kw)
    _use(monkeypatch, _wire_c)
    fast = _answers(policy, packets, **kw)
    sent = 2 * len(packets) * len(kw.get("transports", ("udp", "tcp")))
    assert len(pure[0]) == sent and len(pure[1]) == sent  # one event per query, cached or not
    for i, (a, b) in enumerate(zip(pure[0], fast[0])):
        assert a == b, f"packet {i // 2 % len(packets)}: {packets[i // 2 % len(packets)]!r}"
    assert pure[1] == fast[1]


@pytest.fixture(scope="module")
def differential_policy(tmp_path_factory):
    op = write_operation(tmp_path_factory.mktemp("accel"), "127.0.0.1", 53)
    return Policy(load_operation(op), serial=7)


def _case_packets() -> list[bytes]:
    cases = list(C.all_cases()) + list(C.shapes_cases()) + list(C.chains_cases())
    return [c.wire() for c in cases]


@needs_compiled
@pytest.mark.parametrize("max_udp", [1232, 512])
def test_differential_cases_give_identical_bytes_and_events(monkeypatch, differential_policy, max_udp):
    packets = _case_packets()
    assert len(packets) > 500
    _both(monkeypatch, differential_policy, packets, max_udp_payload=max_udp)


@needs_compiled
def test_truncated_and_mixed_case_queries_are_identical(monkeypatch, differential_policy):
    """Upper-case questions (compression against the lowered name) and
    EDNS sizes from 512 up (TC at every RRset boundary of the big answers)."""
    import dns.message

    packets = []
    for c in C.all_cases():
        if c.raw is not None or c.edns is None or c.qclass != "IN" or c.opcode:
            continue
        for size in (512, 600, 900):
            q = dns.message.make_query(c.qname.upper(), c.qtype, use_edns=0, payload=size, id=c.qid)
            packets.append(q.to_wire())
    _both(monkeypatch, differential_policy, packets)


@needs_compiled
def test_cache_cold_zonegen_queries_are_identical(monkeypatch, tmp_path):
    """The benchmark's cold scenario, small: distinct queries of a zonegen zone, RRL on."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import dns_micro
        import zonegen
    finally:
        sys.path.remove(str(REPO / "bench"))
    zonegen.generate(tmp_path, 3000, 200, 6000, quiet=True)
    from dns_bench import write_operation as bench_operation

    op = tmp_path / "operation.toml"
    bench_operation(op, zone=tmp_path / zonegen.ZONE_FILE, blocklist=tmp_path / zonegen.BLOCKLIST_FILE,
                    storage=tmp_path / "data", port=53)
    policy = Policy(load_operation(op), serial=1)
    packets = dns_micro.distinct_queries(tmp_path / zonegen.QUERIES_FILE, 3000)
    assert len(packets) > 2000
    _both(monkeypatch, policy, packets, transports=("udp",))


_labels = st.lists(st.binary(min_size=1, max_size=12).filter(lambda b: len(b) <= 63), min_size=0, max_size=4)
_plain = st.lists(st.text("abcXYZ019-_*", min_size=1, max_size=10), min_size=0, max_size=4)


def _name(labels) -> bytes:
    return b"".join(bytes((len(x),)) + x for x in labels) + b"\x00"


def _same_outcome(f, g, *args):
    try:
        a = f(*args)
    except Exception as e:  # noqa: BLE001 - the type is what must agree
        with pytest.raises(type(e)):
            g(*args)
        return
    assert g(*args) == a


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(_labels, _plain, st.binary(max_size=6))
def test_name_to_text_agrees(labels, plain, junk):
    _same_outcome(wire._PURE.name_to_text, _wire_c.name_to_text, _name(labels))
    _same_outcome(wire._PURE.name_to_text, _wire_c.name_to_text, _name([p.encode() for p in plain]))
    _same_outcome(wire._PURE.name_to_text, _wire_c.name_to_text, _name([p.encode() for p in plain])[:-1] + junk)
    _same_outcome(wire._PURE.name_to_text, _wire_c.name_to_text, bytearray(_name(labels)))


_host = st.lists(st.sampled_from(["a", "B", "www", "mail", "ns1", "x" * 20]), min_size=1, max_size=3)


def _wname(labels, origin=b"\x07example\x00") -> bytes:
    return b"".join(bytes((len(x),)) + x.encode() for x in labels) + origin


@st.composite
def _rrset(draw):
    owner = _wname(draw(_host))
    rtype = draw(st.sampled_from([wire.A, wire.NS, wire.CNAME, wire.MX, wire.SOA, wire.TXT, wire.PTR]))
    recs = []
    for _ in range(draw(st.integers(1, 4))):
        if rtype == wire.A:
            rdata = bytes(draw(st.lists(st.integers(0, 255), min_size=4, max_size=4)))
        elif rtype == wire.TXT:
            rdata = b"\x05hello"
        elif rtype == wire.MX:
            rdata = struct.pack("!H", draw(st.integers(0, 50))) + _wname(draw(_host))
        elif rtype == wire.SOA:
            rdata = _wname(draw(_host)) + _wname(draw(_host)) + struct.pack("!IIIII", 1, 2, 3, 4, 5)
        else:
            rdata = _wname(draw(_host))
        recs.append((owner, wire.rr(rtype, 300, rdata)))
    return recs


_sections = st.lists(_rrset(), max_size=4)


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(_host, _sections, _sections, _sections, _sections, st.integers(30, 700), st.booleans(), st.booleans(),
       st.integers(0, 0xFFFF))
def test_render_agrees_on_random_rrsets(qhost, an, ns, extra, ad, limit, with_opt, aa, flags):
    qname = _wname(qhost)
    data = struct.pack("!HHHHHH", 0x1234, flags & 0x7FFF, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    q = wire.parse_query(data)
    opt = wire.opt_record(1232, True) if with_opt else None
    for bare in (False, True):
        args = (q, data, 3, aa, an, ns, extra, ad, opt, limit, bare)
        assert _wire_c.render(*args) == wire._PURE.render(*args)


def _selected(env: dict) -> str:
    code = ("from takedown.dns import wire; "
            "print('pure' if wire.render is wire._PURE.render and wire.name_to_text is wire._PURE.name_to_text "
            "else 'compiled')")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_takedown_pure_selects_the_pure_path():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TAKEDOWN_PURE": "1"}
    assert _selected(env) == "pure"
    if _wire_c is not None:
        env.pop("TAKEDOWN_PURE", None)
        assert _selected(env) == "compiled"


def _parsed(parse, data):
    try:
        return parse(data)
    except wire.WireError as e:
        return ("WireError", str(e), e.rcode, e.no_question)


@needs_compiled
@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_case_packets()), st.integers(0, 80), st.binary(max_size=4), st.integers(0, 100))
def test_parse_query_agrees_on_real_and_damaged_packets(packet, at, junk, cut):
    """The differential test's queries (EDNS, ECS, the clock option, malformed
    ones), then each with bytes overwritten and cut short."""
    damaged = packet[:at] + junk + packet[at + len(junk):]
    for data in (packet, damaged, damaged[:cut], packet[:cut], bytearray(damaged)):
        assert _parsed(_wire_c.parse_query, data) == _parsed(wire._PURE.parse_query, data)
