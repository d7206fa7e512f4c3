"""The sans-I/O wire layer and responder, without sockets."""

from __future__ import annotations

import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.dns import wire
from takedown.dns.policy import Policy
from dns_helpers import logged_responder
from takedown.operation import load_operation

EXAMPLE = "examples/operation.toml"


@pytest.fixture(scope="module")
def policy():
    return Policy(load_operation(EXAMPLE), serial=2024010101)


@pytest.fixture()
def responder(policy):
    return logged_responder(policy)


def ask(responder, name, rdtype="A", *, use_edns=False, payload=1232, tcp=False, qid=4242, **kw):
    q = dns.message.make_query(name, rdtype, use_edns=use_edns, payload=payload, **kw)
    q.id = qid
    data = q.to_wire()
    out = responder.respond(data, "127.0.0.1", 5353, "tcp" if tcp else "udp", "127.0.0.1", 53, time.time())
    return data, (dns.message.from_wire(out) if out is not None else None)


def test_parse_query_round_trip():
    q = dns.message.make_query("WwW.Example.ORG", "AAAA", use_edns=0, payload=4096, want_dnssec=True)
    q.id = 777
    parsed = wire.parse_query(q.to_wire())
    assert parsed.id == 777
    assert parsed.qname == dns.name.from_text("WwW.Example.ORG").to_wire()
    assert parsed.key == dns.name.from_text("www.example.org").to_wire()
    assert (parsed.qtype, parsed.qclass) == (28, 1)
    assert parsed.edns == wire.Edns(4096, 0, True, None)
    assert parsed.edns_error is None


def test_parse_query_ecs_and_badvers():
    ecs = dns.edns.ECSOption("198.51.100.0", 24)
    q = dns.message.make_query("a.example", "A", use_edns=1, options=[ecs])
    parsed = wire.parse_query(q.to_wire())
    assert parsed.edns.ecs == "198.51.100.0/24"
    assert parsed.edns_error == wire.BADVERS


@pytest.mark.parametrize(
    "data, rcode",
    [
        (b"", None),
        (b"\x00" * 11, None),
        (struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01", None),  # a response
        (struct.pack("!HHHHHH", 1, 0, 0, 0, 0, 0), wire.FORMERR),  # no question
        (struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0) + b"\x00\x00\x01\x00\x01" * 2, wire.FORMERR),
        (struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", wire.FORMERR),  # pointer
        (struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x05ab", wire.FORMERR),  # truncated label
        (struct.pack("!HHHHHH", 1, 0, 1, 1, 0, 0) + b"\x00\x00\x01\x00\x01", wire.FORMERR),
        (struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 2) + b"\x00\x00\x01\x00\x01", wire.FORMERR),
    ],
)
def test_parse_query_rejects(data, rcode):
    with pytest.raises(wire.WireError) as e:
        wire.parse_query(data)
    assert e.value.rcode == rcode


def test_trailing_bytes_are_ignored_as_nsd_does():
    data = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01junk"
    assert wire.parse_query(data).question_end == 17


def test_render_compresses_and_keeps_case(responder):
    data, r = ask(responder, "WwW.3322.Org", "A")
    raw = responder.respond(data, "127.0.0.1", 1, "udp", "127.0.0.1", 53, time.time())
    assert raw[12 : 12 + len(b"\x03WwW")] == b"\x03WwW"
    assert b"\xc0\x0c" in raw  # answer owner points at the question
    assert r.question[0].name.to_text() == "WwW.3322.Org."
    assert [rd.address for rd in r.answer[0]] == ["198.51.100.80"]


def test_cache_serves_other_ids_and_case(responder):
    _, r1 = ask(responder, "shop.3322.org", qid=1)
    _, r2 = ask(responder, "SHOP.3322.ORG", qid=2)
    assert r1.id == 1 and r2.id == 2
    assert r2.question[0].name.to_text() == "SHOP.3322.ORG."
    assert r1.answer == r2.answer
    assert len(responder.cache) >= 1


def test_seized_name_and_below(responder, policy):
    seized = next(iter(k for k, v in policy.rules.items() if type(v).__name__ == "_Seized"))
    name = wire.name_to_text(seized)
    _, r = ask(responder, "deep.sub." + name, "A")
    assert r.flags & dns.flags.AA
    assert [rd.address for rd in r.answer[0]] == ["192.0.2.53"]
    _, r = ask(responder, name, "SOA")
    assert r.answer[0].name.to_text(omit_final_dot=True) == name
    _, r = ask(responder, "x." + name, "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    assert r.authority[0].name.to_text(omit_final_dot=True) == name
    row = responder.buffer.rows()[-1]
    assert row[6] == "x." + name and row[9] == "domain:waledac" and row[10] == "waledac"


def test_refused_outside(responder):
    _, r = ask(responder, "www.example.com", "A")
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.answer and not (r.flags & dns.flags.AA) and not (r.flags & dns.flags.RA)


def test_notimp_for_other_opcodes(responder):
    q = dns.message.make_query("www.3322.org", "A")
    q.set_opcode(dns.opcode.STATUS)
    out = responder.respond(q.to_wire(), "127.0.0.1", 1, "udp", "127.0.0.1", 53, time.time())
    r = dns.message.from_wire(out)
    assert r.rcode() == dns.rcode.NOTIMP
    assert r.opcode() == dns.opcode.STATUS


def test_edns_badvers_and_do(responder):
    _, r = ask(responder, "www.3322.org", "A", use_edns=1)
    assert r.rcode() == dns.rcode.BADVERS and r.edns == 0
    _, r = ask(responder, "www.3322.org", "A", use_edns=0, want_dnssec=True)
    assert r.edns == 0 and r.payload == 1232 and r.ednsflags & dns.flags.DO


def test_truncation_over_udp_not_tcp(responder):
    # the apex NS + MX + glue of the example fit; a 512-byte limit with a forced big answer does not:
    data, _ = ask(responder, "3322.org", "TXT")
    big = responder.respond(data, "127.0.0.1", 1, "tcp", "127.0.0.1", 53, time.time())
    assert big is not None
    q = wire.parse_query(data)
    dec = responder.policy.decide(q.key, q.qtype)
    big_set = [dec.result.answer[0][0]] * 40  # one RRset larger than 512 bytes
    out = wire.render(q, data, 0, True, [big_set], limit=512)
    r = dns.message.from_wire(out)
    assert r.flags & dns.flags.TC and not r.answer
    out = wire.render(q, data, 0, True, [big_set])
    assert not dns.message.from_wire(out).flags & dns.flags.TC
    # optional data that does not fit is left out without TC
    out = wire.render(q, data, 0, True, dec.result.answer, additional=[big_set], limit=512)
    r = dns.message.from_wire(out)
    assert not r.flags & dns.flags.TC and r.answer and not r.additional


def test_minimal_any(responder):
    _, r = ask(responder, "3322.org", "ANY")
    assert len(r.answer) == 1


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(responder, data):
    out = responder.respond(data, "127.0.0.1", 1, "udp", "127.0.0.1", 53, time.time())
    if out is not None:
        r = dns.message.from_wire(out, question_only=True)
        assert r.flags & dns.flags.QR


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=40), st.integers(0, 65535), st.integers(0, 0xFFFF))
def test_mutated_queries_never_raise(responder, tail, qtype, flags):
    head = struct.pack("!HHHHHH", 7, flags & 0x7FFF, 1, 0, 0, tail[0] % 3 if tail else 0)
    data = head + b"\x03www\x043322\x03org\x00" + struct.pack("!HH", qtype, 1) + tail
    out = responder.respond(data, "127.0.0.1", 1, "udp", "127.0.0.1", 53, time.time())
    if out is not None:
        assert out[:2] == b"\x00\x07" and out[2] & 0x80
        if not (flags >> 11) & 0xF:  # dnspython reads other opcodes (UPDATE) by other rules
            dns.message.from_wire(out)


@settings(max_examples=5000, deadline=None)
@given(st.binary(max_size=300))
def test_parse_query_raises_only_wire_errors(data):
    try:
        q = wire.parse_query(data)
    except wire.WireError:
        return
    assert 12 < q.question_end <= len(data)
    assert q.qname[-1] == 0


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=20).filter(lambda b: b"." not in b), min_size=1, max_size=5),
       st.integers(1, 65535), st.booleans(), st.integers(512, 65535))
def test_query_round_trip_with_dnspython(labels, qtype, do, payload):
    name = dns.name.Name(labels + [b""])
    q = dns.message.make_query(name, qtype, use_edns=0, want_dnssec=do, payload=payload)
    parsed = wire.parse_query(q.to_wire())
    assert parsed.qname == name.to_wire()
    assert parsed.qtype == qtype and parsed.edns.do == do and parsed.edns.udp_size == payload


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=4))
def test_name_to_text_agrees_with_dnspython(labels):
    name = dns.name.Name(labels + [b""])
    assert wire.name_to_text(name.to_wire()) == name.to_text(omit_final_dot=True)
