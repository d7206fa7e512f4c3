"""Integration tests of the running DNS sinkhole with real clients.

``takedown serve`` runs as a subprocess on 127.0.0.1 (and ::1 when it can be
bound) on a free high port, with an operation written in a temporary
directory from ``examples/``; dnspython, raw sockets and ``dig`` query it.
Tests that do not change the server share one (module scope); those that
reload, rate-limit, fork workers, count events or kill the server start
their own.

Helpers live in ``tests/dns_helpers.py``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.update
import psutil
import pyarrow.parquet as pq
import pytest

from dns_helpers import (
    DIG,
    EXAMPLES,
    SINK_V4,
    SINK_V6,
    TAKEDOWN,
    Server,
    dig,
    free_port,
    ipv6_loopback_available,
    make_operation,
    query,
    raw_tcp,
    raw_udp,
    rrsets,
    tcp,
    tcp_frames,
    udp,
    zone_truth,
)

NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5
SINK_NS = {"ns1.sinkhole.example.", "ns2.sinkhole.example."}
SINK_GLUE = {("ns1.sinkhole.example.", "A"): {"192.0.2.1"}, ("ns2.sinkhole.example.", "A"): {"192.0.2.2"}}
ZONE_SOA = "ns1.3322.org. hostmaster.3322.org. 2012091301 7200 1800 1209600 300"

needs_dig = pytest.mark.skipif(DIG is None, reason="dig is not installed")


# --------------------------------------------------------------------------- a zone with big answers


def bigzone_text() -> str:
    """bigzone.example: RRsets that do not fit in 512 or 1232 bytes.

    - big:   10 TXT records of 201 bytes (about 2,100 bytes: TC even with EDNS 1232)
    - mid:   2 TXT records of 251 bytes (fits 1232, not 512)
    - apex:  8 in-zone NS with A+AAAA glue (the NS answer fits 512, its glue does not)
    - deleg: a delegation to 6 in-domain NS with A+AAAA glue (the referral's
             NS fit 512, their glue does not)
    - spf, spf2: an SPF (type 99) and a TXT record; multi: A, AAAA, MX, TXT
    """
    lines = [
        "$TTL 3600",
        "$ORIGIN bigzone.example.",
        "@ IN SOA ns1 hostmaster 1 7200 1800 1209600 300",
    ]
    for i in range(1, 9):
        lines.append(f"@ IN NS ns{i}")
    for i in range(1, 9):
        lines += [f"ns{i} IN A 198.51.100.{i}", f"ns{i} IN AAAA 2001:db8:b1::{i}"]
    for i in range(10):
        lines.append(f'big IN TXT "{i:02d}' + "x" * 198 + '"')
    for i in range(2):
        lines.append(f'mid IN TXT "{i:02d}' + "m" * 248 + '"')
    for name in ("spf", "spf2"):
        lines += [f'{name} IN SPF "v=spf1 -all"', f'{name} IN TXT "v=spf1 -all"']
    lines += ["multi IN A 198.51.100.7", "multi IN AAAA 2001:db8::7", "multi IN MX 10 ns1", 'multi IN TXT "multi"']
    for i in range(1, 7):
        lines.append(f"deleg IN NS ns{i}.deleg")
    for i in range(1, 7):
        lines += [f"ns{i}.deleg IN A 198.51.100.{100 + i}", f"ns{i}.deleg IN AAAA 2001:db8:de::{i}"]
    return "\n".join(lines) + "\n"


# A zone whose blocklisted name (c2) is the target of a CNAME, an MX and an
# SRV record of names that are not blocklisted.
LEAK_ZONE = """$TTL 3600
$ORIGIN leak.example.
@ IN SOA ns1 hostmaster 1 7200 1800 1209600 300
@ IN NS ns1
ns1 IN A 198.51.100.1
c2 IN A 203.0.113.66
c2 IN AAAA 2001:db8:bad::66
alias IN CNAME c2
mail IN MX 10 c2
_x._tcp IN SRV 0 0 443 c2
"""
LEAK_BLOCKLIST = "c2.leak.example\n"
C2_REAL = {"203.0.113.66", "2001:db8:bad::66"}

TRUTH = {
    **zone_truth((EXAMPLES / "3322.org.zone").read_text(), "3322.org."),
    **zone_truth(bigzone_text(), "bigzone.example."),
}


def check_extras(r: dns.message.Message, required: dict | None = None, apex: str = "3322.org.") -> None:
    """The additional section holds the ``required`` address RRsets and
    nothing but whole address RRsets of the zone; the authority section of a
    positive answer is empty or the zone's NS RRset (NSD adds it there, with
    its addresses: either is right)."""
    add = rrsets(r, "additional")
    for k, v in (required or {}).items():
        assert add.get(k) == v, (k, add)
    for k, v in add.items():
        assert k[1] in ("A", "AAAA") and v == TRUTH.get(k), (k, v)
    auth = rrsets(r, "authority")
    assert auth == {} or auth == {(apex, "NS"): TRUTH[(apex, "NS")]}, auth


# --------------------------------------------------------------------------- fixtures and small helpers


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that do not change it: RRL off, bigzone added,
    listening on 127.0.0.1 and, when possible, [::1]."""
    d = tmp_path_factory.mktemp("shared")
    op = make_operation(d, extra_zones={"bigzone.example": bigzone_text(),
                                        "leak.example": (LEAK_ZONE, LEAK_BLOCKLIST)})
    hosts = ("127.0.0.1", "::1") if ipv6_loopback_available() else ("127.0.0.1",)
    srv = None
    for _ in range(3):  # the free port may be taken on ::1 or in between
        try:
            srv = Server.start(op, hosts=hosts)
            break
        except RuntimeError as e:
            if "in use" not in str(e):
                raise
    assert srv is not None
    yield srv
    srv.stop()
    srv.kill()


@pytest.fixture
def own_server():
    """Servers started by one test; SIGKILLed (process group) at teardown."""
    started: list[Server] = []
    yield started
    for s in started:
        s.kill()


def rule(kind: str, arg: str = "") -> tuple[str, str]:
    """The event ``rule`` of a match: (as docs/events.md and takedown.events
    document it, as the policy spells it today)."""
    return {
        "seized": (f"domain:{arg}", "seized"),
        "block": (f"zone:{arg}:block", f"blocklist:{arg}"),
        "pass": (f"zone:{arg}:pass", f"zone:{arg}"),
        "none": ("none", "none"),
    }[kind]


def a_set(r: dns.message.Message, name: str | None = None, rtype: str = "A") -> set[str]:
    out: set[str] = set()
    for (owner, t), v in rrsets(r).items():
        if t == rtype and (name is None or owner == name.lower()):
            out |= v
    return out


def flag(r: dns.message.Message, f: int) -> bool:
    return bool(r.flags & f)


def read_events(storage: Path) -> list[dict]:
    rows: list[dict] = []
    for f in sorted(Path(storage).glob("events/kind=dns/date=*/*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def wait_for_events(storage: Path, pred, timeout: float = 6.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in read_events(storage) if pred(r)]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def wire_query(name: str, rdtype: int = 1, *, qid: int = 0x1234, flags: int = 0, qd: int = 1,
               an: int = 0, ns: int = 0, ar: int = 0, tail: bytes = b"") -> bytes:
    """A query built by hand (name in the case given)."""
    qname = b"".join(bytes([len(lab)]) + lab.encode() for lab in name.rstrip(".").split(".")) + b"\x00"
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar) + qname + struct.pack("!HH", rdtype, 1) + tail


def events_count(opfile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TAKEDOWN), "events", "count", str(opfile), "--kind", "dns"],
        capture_output=True, text=True, timeout=60, cwd=opfile.parent,
    )


# =========================================================================== seized domains


SEIZED = [
    # (query name, seized apex)
    ("christmas-ecard-online.example", "christmas-ecard-online.example."),
    ("www.christmas-ecard-online.example", "christmas-ecard-online.example."),
    ("a.b.c.d.be-my-valentine-now.example", "be-my-valentine-now.example."),
    ("Zone-Repeater.EXAMPLE", "zone-repeater.example."),
]


@pytest.mark.parametrize("name,apex", SEIZED)
def test_seized_address_queries_get_the_sinkhole(shared, name, apex):
    r = udp(query(name, "A"), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA) and not flag(r, dns.flags.RA)
    assert rrsets(r) == {(name.lower() + ".", "A"): {SINK_V4}}
    assert r.answer[0].ttl == 300
    r = udp(query(name, "AAAA"), shared.port)
    assert rrsets(r) == {(name.lower() + ".", "AAAA"): {SINK_V6}}
    assert flag(r, dns.flags.AA)


@pytest.mark.parametrize("name,apex", SEIZED)
def test_seized_ns_query_gets_our_nameservers_with_glue(shared, name, apex):
    r = udp(query(name, "NS"), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
    assert rrsets(r) == {(name.lower() + ".", "NS"): SINK_NS}
    assert rrsets(r, "additional") == SINK_GLUE


@pytest.mark.parametrize("name,apex", SEIZED)
@pytest.mark.parametrize("rdtype", ["MX", "TXT", "SRV", "CAA", "HTTPS", "DS", "PTR"])
def test_seized_other_types_are_nodata_with_the_apex_soa(shared, name, apex, rdtype):
    r = udp(query(name, rdtype), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
    assert r.answer == []
    auth = rrsets(r, "authority")
    assert list(auth) == [(apex, "SOA")]
    (soa,) = auth[(apex, "SOA")]
    mname, rname, *_ = soa.split()
    assert (mname, rname) == ("ns1.sinkhole.example.", "hostmaster.sinkhole.example.")


def test_seized_soa_at_apex_and_nodata_below(shared):
    r = udp(query("merry-xmas-greetings.example", "SOA"), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
    (soa,) = rrsets(r)[("merry-xmas-greetings.example.", "SOA")]
    f = soa.split()
    assert f[:2] == ["ns1.sinkhole.example.", "hostmaster.sinkhole.example."]
    assert [int(x) for x in f[3:]] == [3600, 600, 1209600, 300]
    r = udp(query("deep.merry-xmas-greetings.example", "SOA"), shared.port)
    assert r.rcode() == NOERROR and r.answer == []
    assert list(rrsets(r, "authority")) == [("merry-xmas-greetings.example.", "SOA")]


@needs_dig
def test_seized_with_dig(shared):
    d = dig(shared.port, "www.love-letter-for-you.example", "A")
    assert d.status == "NOERROR" and "aa" in d.flags and "ra" not in d.flags
    assert d.rdata("A") == {SINK_V4}
    d = dig(shared.port, "love-letter-for-you.example", "NS")
    assert d.rdata("NS") == SINK_NS
    assert d.rdata("A", "ADDITIONAL") == {"192.0.2.1", "192.0.2.2"}
    d = dig(shared.port, "www.love-letter-for-you.example", "MX")
    assert d.status == "NOERROR" and d.records("ANSWER") == []
    assert [(o, t) for o, _, t, _ in d.records("AUTHORITY")] == [("love-letter-for-you.example.", "SOA")]


# =========================================================================== the taken-over zone


BLOCKLISTED = [
    "pcbot.3322.org",        # exact, exists in the zone
    "update-srv.3322.org",   # exact, has A and AAAA in the zone
    "gone.3322.org",         # exact, not in the zone
    "bot.wild.3322.org",     # exact, would be wildcard-synthesised
    "ctl.3322.org",          # *.ctl: the base itself
    "x1.ctl.3322.org",       # *.ctl: an existing name below
    "x3.ctl.3322.org",       # *.ctl: an empty non-terminal
    "deep.x3.ctl.3322.org",  # *.ctl: deeper
    "never.existed.ctl.3322.org",
    "PCBOT.3322.org",
]


@pytest.mark.parametrize("name", BLOCKLISTED)
def test_blocklisted_names_are_sunk(shared, name):
    r = udp(query(name, "A"), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
    assert rrsets(r) == {(name.lower() + ".", "A"): {SINK_V4}}
    r = udp(query(name, "AAAA"), shared.port)
    assert rrsets(r) == {(name.lower() + ".", "AAAA"): {SINK_V6}}
    r = tcp(query(name, "NS"), shared.port)
    assert rrsets(r) == {(name.lower() + ".", "NS"): SINK_NS}


def test_zone_passthrough_addresses_and_cname(shared):
    p = shared.port
    r = udp(query("www.3322.org", "A"), p)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
    assert rrsets(r) == {("www.3322.org.", "A"): {"198.51.100.80"}}
    assert r.answer[0].ttl == 3600
    check_extras(r)
    r = udp(query("www.3322.org", "AAAA"), p)
    assert rrsets(r) == {("www.3322.org.", "AAAA"): {"2001:db8:3322::80"}}
    check_extras(r)
    # in-zone CNAME, chased
    r = udp(query("ftp.3322.org", "A"), p)
    assert rrsets(r) == {("ftp.3322.org.", "CNAME"): {"www.3322.org."}, ("www.3322.org.", "A"): {"198.51.100.80"}}
    assert [x.rdtype for x in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    check_extras(r)
    # out-of-zone CNAME: the CNAME alone
    r = udp(query("blog.3322.org", "A"), p)
    assert rrsets(r) == {("blog.3322.org.", "CNAME"): {"blog.hosting.example."}}
    assert r.rcode() == NOERROR and r.additional == []
    # dynamic-DNS customers (an $ORIGIN section), short TTL kept
    r = udp(query("camera.dyn.3322.org", "A"), p)
    assert rrsets(r) == {("camera.dyn.3322.org.", "A"): {"203.0.113.12"}} and r.answer[0].ttl == 60
    check_extras(r)
    # not blocklisted although its neighbours are
    r = udp(query("x.3322.org", "A"), p)
    assert r.rcode() == NXDOMAIN


def test_zone_passthrough_mx_srv_txt_with_additional(shared):
    p = shared.port
    r = udp(query("shop.3322.org", "MX"), p)
    assert rrsets(r) == {("shop.3322.org.", "MX"): {"10 mx.3322.org."}}
    check_extras(r, {("mx.3322.org.", "A"): {"198.51.100.25"}})
    r = udp(query("3322.org", "MX"), p)
    assert rrsets(r) == {("3322.org.", "MX"): {"10 mx.3322.org.", "20 mx2.3322.org."}}
    check_extras(r, {("mx.3322.org.", "A"): {"198.51.100.25"}, ("mx2.3322.org.", "A"): {"198.51.100.26"}})
    r = udp(query("_sip._udp.3322.org", "SRV"), p)
    assert rrsets(r) == {("_sip._udp.3322.org.", "SRV"): {"10 60 5060 sip.3322.org."}}
    check_extras(r, {("sip.3322.org.", "A"): {"198.51.100.60"}})
    r = udp(query("txt.3322.org", "TXT"), p)
    assert rrsets(r) == {("txt.3322.org.", "TXT"): {'"first string" "second string" "third string"'}}
    check_extras(r)
    r = udp(query("notice.3322.org", "TXT"), p)  # 600 bytes of strings: fits EDNS 1232
    assert not flag(r, dns.flags.TC)
    strings = r.answer[0][0].strings
    assert [len(s) for s in strings] == [255, 255, 90]


def test_zone_apex_soa_ns_with_glue(shared):
    p = shared.port
    r = udp(query("3322.org", "SOA"), p)
    assert rrsets(r) == {("3322.org.", "SOA"): {ZONE_SOA}}
    check_extras(r)
    r = udp(query("3322.org", "NS"), p)
    assert flag(r, dns.flags.AA)
    assert rrsets(r) == {("3322.org.", "NS"): {"ns1.3322.org.", "ns2.3322.org."}}
    assert rrsets(r, "additional") == {
        ("ns1.3322.org.", "A"): {"198.51.100.1"},
        ("ns2.3322.org.", "A"): {"198.51.100.2"},
        ("ns2.3322.org.", "AAAA"): {"2001:db8:3322::2"},
    }


def test_zone_wildcard_synthesis(shared):
    p = shared.port
    r = udp(query("anything.wild.3322.org", "A"), p)
    assert rrsets(r) == {("anything.wild.3322.org.", "A"): {"198.51.100.99"}} and flag(r, dns.flags.AA)
    check_extras(r)
    r = udp(query("Other.Wild.3322.org", "TXT"), p)
    assert rrsets(r) == {("other.wild.3322.org.", "TXT"): {'"synthesized from *.wild.3322.org"'}}
    r = udp(query("exists.wild.3322.org", "A"), p)
    assert rrsets(r) == {("exists.wild.3322.org.", "A"): {"198.51.100.98"}}
    check_extras(r)
    r = udp(query("anything.wild.3322.org", "MX"), p)  # synthesised name, no MX: NODATA
    assert r.rcode() == NOERROR and r.answer == [] and list(rrsets(r, "authority")) == [("3322.org.", "SOA")]


@pytest.mark.parametrize("name", ["ent.3322.org", "b.ent.3322.org"])
def test_zone_empty_non_terminal_is_nodata(shared, name):
    r = udp(query(name, "A"), shared.port)
    assert r.rcode() == NOERROR and flag(r, dns.flags.AA) and r.answer == []
    auth = rrsets(r, "authority")
    assert auth == {("3322.org.", "SOA"): {ZONE_SOA}}
    assert r.authority[0].ttl == 300  # min(SOA TTL, MINIMUM), RFC 2308


@pytest.mark.parametrize("name", ["sub.3322.org", "www.sub.3322.org", "a.b.sub.3322.org"])
def test_zone_delegation_gives_a_referral_with_glue(shared, name):
    r = udp(query(name, "A"), shared.port)
    assert r.rcode() == NOERROR
    assert not flag(r, dns.flags.AA)
    assert r.answer == []
    assert rrsets(r, "authority") == {("sub.3322.org.", "NS"): {"ns.sub.3322.org.", "ns.sub.hosting.example."}}
    assert rrsets(r, "additional") == {("ns.sub.3322.org.", "A"): {"198.51.100.53"}}


def test_zone_nxdomain_carries_the_zone_soa(shared):
    r = udp(query("no-such-host.3322.org", "A"), shared.port)
    assert r.rcode() == NXDOMAIN and flag(r, dns.flags.AA) and r.answer == []
    assert rrsets(r, "authority") == {("3322.org.", "SOA"): {ZONE_SOA}}
    assert r.authority[0].ttl == 300


@needs_dig
def test_zone_with_dig(shared):
    p = shared.port
    d = dig(p, "shop.3322.org", "MX")
    assert d.status == "NOERROR" and "aa" in d.flags
    assert d.rdata("MX") == {"10 mx.3322.org."}
    assert d.rdata("A", "ADDITIONAL", owner="mx.3322.org.") == {"198.51.100.25"}
    for owner, _ttl, rtype, rdata in d.records("ADDITIONAL"):
        assert rdata in TRUTH[(owner, rtype)]
    d = dig(p, "ftp.3322.org", "A")
    assert d.rdata("CNAME") == {"www.3322.org."} and d.rdata("A") == {"198.51.100.80"}
    d = dig(p, "nothing-here.3322.org", "A")
    assert d.status == "NXDOMAIN" and "aa" in d.flags
    assert [(o, t) for o, _, t, _ in d.records("AUTHORITY")] == [("3322.org.", "SOA")]
    d = dig(p, "host.sub.3322.org", "A")
    assert d.status == "NOERROR" and "aa" not in d.flags
    assert d.rdata("NS", "AUTHORITY") == {"ns.sub.3322.org.", "ns.sub.hosting.example."}
    assert d.rdata("A", "ADDITIONAL") == {"198.51.100.53"}
    d = dig(p, "pcbot.3322.org", "A")
    assert d.rdata("A") == {SINK_V4}


def test_blocklisted_name_in_a_second_zone_is_sunk(shared):
    for rdtype, sink in (("A", SINK_V4), ("AAAA", SINK_V6)):
        r = udp(query("c2.leak.example", rdtype), shared.port)
        assert rrsets(r) == {("c2.leak.example.", rdtype): {sink}}


def _all_rdata(r: dns.message.Message) -> set[str]:
    return {rd.to_text() for sec in (r.answer, r.authority, r.additional) for rrset in sec for rd in rrset}


@pytest.mark.parametrize("name,rdtype", [("alias.leak.example", "A"), ("alias.leak.example", "AAAA"),
                                         ("mail.leak.example", "MX"), ("_x._tcp.leak.example", "SRV")])
def test_blocklisted_address_never_leaks_through_cname_or_additional(shared, name, rdtype):
    for send in (udp, tcp):
        r = send(query(name, rdtype), shared.port)
        assert r.rcode() == NOERROR and r.answer
        assert not (_all_rdata(r) & C2_REAL), _all_rdata(r)
        for (owner, t), v in {**rrsets(r), **rrsets(r, "additional")}.items():
            if owner == "c2.leak.example." and t in ("A", "AAAA"):
                assert v == {SINK_V4 if t == "A" else SINK_V6}


def test_cname_and_mx_to_a_blocklisted_name_keep_their_own_records(shared):
    r = udp(query("alias.leak.example", "A"), shared.port)
    assert rrsets(r)[("alias.leak.example.", "CNAME")] == {"c2.leak.example."}
    r = udp(query("mail.leak.example", "MX"), shared.port)
    assert rrsets(r)[("mail.leak.example.", "MX")] == {"10 c2.leak.example."}


# =========================================================================== everything else: REFUSED


OUTSIDE = [
    "example.com",
    "org",
    ".",
    "example",
    "evil3322.org",                       # label boundary: not below 3322.org
    "3322.org.evil.example",
    "xchristmas-ecard-online.example",    # label boundary: not below the seized name
    "christmas-ecard-online.example.com",
]


@pytest.mark.parametrize("rd", [False, True])
@pytest.mark.parametrize("name", OUTSIDE)
def test_other_names_are_refused(shared, name, rd):
    for send in (udp, tcp):
        r = send(query(name, "A", rd=rd), shared.port)
        assert r.rcode() == REFUSED
        assert not flag(r, dns.flags.RA) and not flag(r, dns.flags.AA)
        assert flag(r, dns.flags.RD) == rd
        assert r.answer == [] and r.authority == [] and r.additional == []


@pytest.mark.parametrize("rdclass", ["CH", "HS", "NONE"])
def test_other_classes_are_refused(shared, rdclass):
    q = dns.message.make_query("www.3322.org", "A", rdclass=rdclass)
    r = udp(q, shared.port)
    assert r.rcode() == REFUSED and r.answer == []


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_zone_transfers_are_refused(shared, rdtype):
    r = tcp(query("3322.org", rdtype), shared.port)
    assert r.rcode() == REFUSED and r.answer == []


@needs_dig
def test_refused_with_dig_recursion_desired(shared):
    d = dig(shared.port, "+rec", "www.example.com", "A")
    assert d.status == "REFUSED"
    assert "ra" not in d.flags and "aa" not in d.flags and "rd" in d.flags
    assert d.records("ANSWER") == []


# =========================================================================== EDNS0


def test_edns_opt_has_our_buffer_size(shared):
    p = shared.port
    for payload in (512, 1232, 4096):
        r = udp(query("www.3322.org", "A", payload=payload), p)
        assert r.edns == 0 and r.payload == 1232
        assert rrsets(r) == {("www.3322.org.", "A"): {"198.51.100.80"}}
    r = udp(query("www.3322.org", "A", edns=False), p)
    assert r.edns == -1 and r.opt is None


def test_edns_do_bit_is_echoed(shared):
    p = shared.port
    # alternating, so that cached answers for one DO state never serve the other
    for name, ips in (("www.3322.org", {"198.51.100.80"}), ("pcbot.3322.org", {SINK_V4})):
        for do in (True, False, True, False):
            r = udp(query(name, "A", do=do), p)
            assert bool(r.ednsflags & dns.flags.DO) == do
            assert r.edns == 0 and a_set(r) == ips


@pytest.mark.parametrize("version", [1, 2, 255])
def test_edns_unknown_version_is_badvers(shared, version):
    for do in (False, True):
        r = udp(query("www.3322.org", "A", edns=version, do=do), shared.port)
        assert r.rcode() == dns.rcode.BADVERS
        assert r.edns == 0 and r.payload == 1232
        assert bool(r.ednsflags & dns.flags.DO) == do
        assert r.answer == []


@needs_dig
def test_edns_with_dig(shared):
    d = dig(shared.port, "+dnssec", "+bufsize=4096", "www.3322.org", "A")
    assert d.edns_udp == 1232
    assert re.search(r"; EDNS: version: 0, flags: do;", d.text)
    assert d.rdata("A") == {"198.51.100.80"}


@pytest.mark.parametrize(
    "qname,option,stored",
    [
        ("ecs-v4.be-my-valentine-now.example", dns.edns.ECSOption("198.51.100.0", 24), "198.51.100.0/24"),
        ("ecs-v6.be-my-valentine-now.example", dns.edns.ECSOption("2001:db8:1234::", 48), "2001:db8:1234::/48"),
    ],
)
def test_edns_client_subnet_is_answered_and_recorded(shared, qname, option, stored):
    r = udp(query(qname, "A", options=[option]), shared.port)
    assert r.rcode() == NOERROR and a_set(r) == {SINK_V4}
    storage = shared.opfile.parent / "data"
    rows = wait_for_events(storage, lambda e: e["qname"] == qname)
    assert [(e["qname"], e["qtype"], e["ecs"], e["family"]) for e in rows] == [(qname, "A", stored, "waledac")]
    assert rows[0]["rule"] in rule("seized", "waledac")


# =========================================================================== truncation


def test_tc_when_the_answer_does_not_fit_udp_and_full_over_tcp(shared):
    p = shared.port
    r = udp(query("big.bigzone.example", "TXT"), p)  # ~2,100 bytes > 1232
    assert flag(r, dns.flags.TC) and flag(r, dns.flags.AA)
    assert r.answer == [] and r.edns == 0
    r = tcp(query("big.bigzone.example", "TXT"), p)
    assert not flag(r, dns.flags.TC)
    assert len(r.answer) == 1 and len(r.answer[0]) == 10
    assert sorted(rd.strings[0][:2] for rd in r.answer[0]) == [b"%02d" % i for i in range(10)]


def test_tc_under_the_512_byte_limit_without_edns(shared):
    p = shared.port
    for name in ("mid.bigzone.example", "notice.3322.org"):
        r = udp(query(name, "TXT", edns=False), p)
        assert flag(r, dns.flags.TC) and r.answer == [], name
        r = udp(query(name, "TXT"), p)  # EDNS 1232: fits
        assert not flag(r, dns.flags.TC) and len(r.answer) == 1, name
        r = tcp(query(name, "TXT", edns=False), p)
        assert not flag(r, dns.flags.TC) and len(r.answer) == 1, name


def test_ns_answer_keeps_its_rrset_and_drops_glue_under_512(shared):
    """RFC 2181 s9: an authoritative NS answer that fits is sent without TC;
    glue (optional in an answer) is left out when it does not fit."""
    p = shared.port
    ns = {f"ns{i}.bigzone.example." for i in range(1, 9)}
    r = udp(query("bigzone.example", "NS", edns=False), p)
    assert len(r.to_wire()) <= 512
    assert not flag(r, dns.flags.TC)
    assert rrsets(r) == {("bigzone.example.", "NS"): ns}
    full = {(f"ns{i}.bigzone.example.", t) for i in range(1, 9) for t in ("A", "AAAA")}
    assert set(rrsets(r, "additional")) <= full
    r = udp(query("bigzone.example", "NS"), p)  # EDNS 1232: all the glue
    assert set(rrsets(r, "additional")) == full


def test_referral_keeps_the_glue_that_fits_under_512(shared):
    """A referral whose in-domain glue does not all fit in 512 bytes keeps
    what fits (NSD 4.6) or sets TC (RFC 9471); it never drops all glue silently."""
    r = udp(query("www.deleg.bigzone.example", "A", edns=False), shared.port)
    assert len(r.to_wire()) <= 512
    assert not flag(r, dns.flags.AA) and r.answer == []
    ns = {f"ns{i}.deleg.bigzone.example." for i in range(1, 7)}
    assert rrsets(r, "authority") == {("deleg.bigzone.example.", "NS"): ns}
    glue = {(f"ns{i}.deleg.bigzone.example.", t) for i in range(1, 7) for t in ("A", "AAAA")}
    add = rrsets(r, "additional")
    assert flag(r, dns.flags.TC) or (add and set(add) <= glue)
    for k, v in add.items():
        assert v == TRUTH[k]


def test_referral_glue_complete_over_tcp_and_edns(shared):
    glue = {(f"ns{i}.deleg.bigzone.example.", t) for i in range(1, 7) for t in ("A", "AAAA")}
    for r in (tcp(query("www.deleg.bigzone.example", "A", edns=False), shared.port),
              udp(query("www.deleg.bigzone.example", "A"), shared.port)):
        assert not flag(r, dns.flags.AA) and not flag(r, dns.flags.TC)
        assert set(rrsets(r, "authority")) == {("deleg.bigzone.example.", "NS")}
        assert set(rrsets(r, "additional")) == glue


@needs_dig
def test_dig_retries_truncated_answers_over_tcp(shared):
    p = shared.port
    d = dig(p, "+ignore", "big.bigzone.example", "TXT")
    assert "tc" in d.flags and d.records("ANSWER") == [] and d.transports == ["UDP"]
    d = dig(p, "big.bigzone.example", "TXT")  # no +ignore: dig retries over TCP
    assert d.retried_tcp and d.transports[-1] == "TCP"
    assert d.status == "NOERROR" and "tc" not in d.flags
    assert len(d.rdata("TXT")) == 10
    d = dig(p, "+noedns", "notice.3322.org", "TXT")
    assert d.retried_tcp and d.transports[-1] == "TCP" and len(d.rdata("TXT")) == 1
    d = dig(p, "+tcp", "big.bigzone.example", "TXT")
    assert d.transports == ["TCP"] and not d.retried_tcp and len(d.rdata("TXT")) == 10


# =========================================================================== 0x20, ANY


def test_question_letter_case_is_kept(shared):
    p = shared.port
    for name in ("WwW.3322.ORG", "www.3322.org", "WWW.3322.org", "wWw.3322.oRg", "WwW.3322.ORG"):
        data = wire_query(name, 1, qid=0x0220)
        resp = raw_udp(data, p)
        assert resp is not None
        assert resp[:2] == b"\x02\x20"
        assert resp[12:len(data)] == data[12:], name  # question bytes as sent
        r = dns.message.from_wire(resp)
        assert r.question[0].name.to_text() == name + "."
        assert a_set(r) == {"198.51.100.80"}
    r = tcp(query("PcBoT.3322.Org", "A"), p)
    assert r.question[0].name.to_text() == "PcBoT.3322.Org."
    assert a_set(r) == {SINK_V4}


@needs_dig
def test_question_letter_case_with_dig(shared):
    d = dig(shared.port, "WwW.3322.ORG", "A")
    assert d.sections["QUESTION"][0][0] == "WwW.3322.ORG."
    assert d.rdata("A") == {"198.51.100.80"}


@pytest.mark.parametrize(
    "name", ["3322.org", "www.3322.org", "multi.bigzone.example", "christmas-ecard-online.example", "pcbot.3322.org"]
)
def test_minimal_any_returns_exactly_one_rrset(shared, name):
    for send in (udp, tcp):
        r = send(query(name, "ANY"), shared.port)
        assert r.rcode() == NOERROR and flag(r, dns.flags.AA)
        assert len(r.answer) == 1, r.answer
        assert r.answer[0].name.to_text().lower() == name + "."


def test_minimal_any_rrset_belongs_to_the_name(shared):
    r = udp(query("multi.bigzone.example", "ANY"), shared.port)
    (rrset,) = r.answer
    full = {
        "A": {"198.51.100.7"}, "AAAA": {"2001:db8::7"}, "MX": {"10 ns1.bigzone.example."}, "TXT": {'"multi"'},
    }
    assert {rd.to_text() for rd in rrset} == full[dns.rdatatype.to_text(rrset.rdtype)]


def test_qtypes_differing_by_0x20_are_not_confused(shared):
    p = shared.port
    # TYPE67 first (NODATA is cached), then SPF (type 99 = 67 | 0x20)
    r = udp(query("spf.bigzone.example", 67), p)
    assert r.answer == []
    r = udp(query("spf.bigzone.example", "SPF"), p)
    assert rrsets(r) == {("spf.bigzone.example.", "SPF"): {'"v=spf1 -all"'}}
    # the other order: SPF cached, then TYPE67 must not get the SPF RRset
    r = udp(query("spf2.bigzone.example", "SPF"), p)
    assert len(r.answer) == 1
    r = udp(query("spf2.bigzone.example", 67), p)
    assert r.answer == []


# =========================================================================== opcodes, malformed packets


# NOTIFY from a primary the server does not know: NSD, the project's
# reference, says REFUSED; NOTIMP is as right for a server without secondaries.
OPCODE_RCODES = {4: (NOTIMP, REFUSED)}


@pytest.mark.parametrize("opcode", [1, 2, 3, 4, 5, 6, 15])
def test_other_opcodes_get_notimp(shared, opcode):
    for send in (udp, tcp):
        q = query("www.3322.org", "SOA")
        q.set_opcode(opcode)
        r = send(q, shared.port)
        assert r.rcode() in OPCODE_RCODES.get(opcode, (NOTIMP,))
        assert r.opcode() == opcode and r.id == q.id
        assert not flag(r, dns.flags.AA) and r.answer == [] and r.authority == []
        # the question is echoed or left out (NSD sends a bare header)
        assert [x.name.to_text() for x in r.question] in ([], ["www.3322.org."])


def _update_message() -> dns.message.Message:
    u = dns.update.UpdateMessage("3322.org")
    u.add("x", 300, "A", "192.0.2.99")
    return u


def _notify_with_soa() -> dns.message.Message:
    q = dns.message.make_query("3322.org", "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    q.flags = dns.flags.AA | (dns.opcode.NOTIFY << 11)
    q.answer.append(dns.rrset.from_text("3322.org.", 3600, "IN", "SOA", ZONE_SOA))
    return q


@pytest.mark.parametrize("kind", ["update", "notify-with-soa", "status-no-question"])
def test_realistic_messages_of_other_opcodes_get_notimp(shared, kind):
    if kind == "update":
        data = _update_message().to_wire()
    elif kind == "notify-with-soa":
        data = _notify_with_soa().to_wire()
    else:
        data = struct.pack("!HHHHHH", 0x5151, dns.opcode.STATUS << 11, 0, 0, 0, 0)
    resp = raw_udp(data, shared.port)
    assert resp is not None
    assert resp[3] & 0xF in (OPCODE_RCODES.get((data[2] >> 3) & 0xF, (NOTIMP,)))
    assert (resp[2] >> 3) & 0xF == (data[2] >> 3) & 0xF


_HDR = struct.Struct("!HHHHHH")
_GOOD = wire_query("www.3322.org", 1, qid=0x4242)

ANSWER = "answer"  # answered as the query it contains (www.3322.org A)

MALFORMED = {
    # name: (packet, expected: FORMERR, None (silence), or a tuple of allowed outcomes)
    "empty": (b"", None),
    "short-header": (b"\x12\x34\x00\x00\x00\x01", None),
    "header-only-qd1": (_HDR.pack(0x4242, 0, 1, 0, 0, 0), FORMERR),
    "qdcount-0": (_HDR.pack(0x4242, 0, 0, 0, 0, 0), FORMERR),
    "qdcount-2": (_HDR.pack(0x4242, 0, 2, 0, 0, 0) + _GOOD[12:] + _GOOD[12:], FORMERR),
    "qr-set": (_HDR.pack(0x4242, 0x8000, 1, 0, 0, 0) + _GOOD[12:], None),
    "truncated-question": (_GOOD[:-3], FORMERR),
    "truncated-name": (_GOOD[:16], FORMERR),
    "pointer-in-question": (_HDR.pack(0x4242, 0, 1, 0, 0, 0) + b"\x03www\xc0\x0c" + b"\x00\x01\x00\x01", FORMERR),
    "pointer-only": (_HDR.pack(0x4242, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", FORMERR),
    "label-64": (_HDR.pack(0x4242, 0, 1, 0, 0, 0) + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", FORMERR),
    "label-past-end": (_HDR.pack(0x4242, 0, 1, 0, 0, 0) + b"\x3fabc", FORMERR),
    "name-over-255": (_HDR.pack(0x4242, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01", FORMERR),
    # bytes after the last record: NSD ignores them (and so may we)
    "trailing-bytes": (_GOOD + b"\x00\x00", (FORMERR, ANSWER)),
    "answer-count": (_HDR.pack(0x4242, 0, 1, 1, 0, 0) + _GOOD[12:], FORMERR),
    "ar-not-opt": (_HDR.pack(0x4242, 0, 1, 0, 0, 1) + _GOOD[12:] + b"\x00\x00\x01\x00\x01" + b"\x00" * 6,
                   FORMERR),
    "opt-rdata-overrun": (_HDR.pack(0x4242, 0, 1, 0, 0, 1) + _GOOD[12:] + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00"
                          + b"\x00\x20", FORMERR),
    # an ECS source prefix of 33 bits for IPv4: FORMERR (RFC 7871 s6) or ignored (as NSD does)
    "ecs-bad-prefix": (_HDR.pack(0x4242, 0, 1, 0, 0, 1) + _GOOD[12:] + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0a"
                       + b"\x00\x08\x00\x06\x00\x01\x21\x00\xc6\x33", (FORMERR, ANSWER)),
    "two-opt": (_HDR.pack(0x4242, 0, 1, 0, 0, 2) + _GOOD[12:] + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" * 2,
                FORMERR),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_packets_get_formerr_or_silence(shared, case):
    data, expected = MALFORMED[case]
    allowed = expected if isinstance(expected, tuple) else (expected,)
    resp = raw_udp(data, shared.port, timeout=0.5 if expected is None else 2.0)
    if expected is None:
        assert resp is None
        return
    assert resp is not None
    qid, flags, qd, an, ns, ar = _HDR.unpack_from(resp)
    assert qid == 0x4242 and flags & 0x8000
    if ANSWER in allowed and flags & 0xF == NOERROR:
        r = dns.message.from_wire(resp)
        assert rrsets(r) == {("www.3322.org.", "A"): {"198.51.100.80"}}
        return
    assert flags & 0xF in allowed
    assert an == 0 and ns == 0
    if qd:  # a question is echoed only when it could be located, exactly as sent
        assert qd == 1 and resp[12:] == data[12 : len(resp)]


def _fuzz_corpus(rng: random.Random) -> list[bytes]:
    out = [rng.randbytes(rng.randint(0, 600)) for _ in range(5000)]
    good = [wire_query(n, t) for n, t in (("www.3322.org", 1), ("christmas-ecard-online.example", 28),
                                          ("notice.3322.org", 16), ("example.com", 1))]
    good.append(query("www.3322.org", "A", options=[dns.edns.ECSOption("198.51.100.0", 24)]).to_wire())
    for g in good:
        out += [g[:i] for i in range(len(g))]  # every truncation
        for _ in range(100):  # single-byte mutations
            b = bytearray(g)
            b[rng.randrange(len(b))] = rng.randrange(256)
            out.append(bytes(b))
    for qd in (0, 2, 3, 0xFFFF):
        out.append(_HDR.pack(7, 0, qd, 0, 0, 0) + _GOOD[12:])
    for opcode in range(16):
        out.append(_HDR.pack(7, opcode << 11, 1, 0, 0, 0) + _GOOD[12:])
    for ln in (0x40, 0x7F, 0x80, 0xBF, 0xFF):
        out.append(_HDR.pack(7, 0, 1, 0, 0, 0) + bytes([ln]) + b"x" * 20 + b"\x00\x00\x01\x00\x01")
    for ptr in (b"\xc0\x0c", b"\xc0\x00", b"\xff\xff", b"\x03www\xc0\x10"):
        out.append(_HDR.pack(7, 0, 1, 0, 0, 0) + ptr + b"\x00\x01\x00\x01")
    out.append(_HDR.pack(7, 0x8000, 1, 1, 0, 0) + _GOOD[12:])  # QR=1
    return out


def test_garbage_never_kills_the_server(shared):
    p = shared.port
    rng = random.Random(20120913)
    corpus = _fuzz_corpus(rng)
    replies: list[bytes] = []
    deadline = time.monotonic() + 30
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", p))
        s.settimeout(0.05)
        for i in range(0, len(corpus), 100):
            for data in corpus[i : i + 100]:
                s.send(data)
            while time.monotonic() < deadline:  # read until 50 ms of silence
                try:
                    replies.append(s.recv(65535))
                except (socket.timeout, ConnectionRefusedError):
                    break
            assert time.monotonic() < deadline
    assert shared.proc.poll() is None
    assert len(replies) > 500  # the well-formed share was answered
    for resp in replies:
        assert len(resp) >= 12
        assert resp[2] & 0x80  # QR
        assert resp[3] & 0xF in (NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED)
    # TCP: random frames, a length prefix larger than the data, a 0-length message
    for _ in range(40):
        blob = rng.randbytes(rng.randint(0, 300))
        raw_tcp(blob, p, timeout=1.0)
    assert raw_tcp(b"\x01\x00" + _GOOD[:20], p, timeout=1.0) == b""  # prefix 256, 22 bytes, close
    assert raw_tcp(b"\x00\x00", p, timeout=1.0) == b""  # 0-length message: dropped, closed
    assert raw_tcp(b"\x00", p, timeout=1.0) == b""
    bad = _HDR.pack(0x4242, 0, 2, 0, 0, 0) + _GOOD[12:] * 2
    frames = tcp_frames(raw_tcp(len(bad).to_bytes(2, "big") + bad, p))
    assert len(frames) == 1 and frames[0][3] & 0xF == FORMERR
    # still alive and correct, over UDP and TCP, pipelined too
    assert shared.proc.poll() is None
    assert a_set(udp(query("www.3322.org", "A"), p)) == {"198.51.100.80"}
    assert a_set(tcp(query("pcbot.3322.org", "A"), p)) == {SINK_V4}
    q1, q2, q3 = (wire_query(n, 1, qid=i) for i, n in ((1, "www.3322.org"), (2, "pcbot.3322.org"), (3, "example.com")))
    stream = b"".join(len(q).to_bytes(2, "big") + q for q in (q1, q2, q3))
    frames = tcp_frames(raw_tcp(stream, p))
    assert [f[:2] for f in frames] == [b"\x00\x01", b"\x00\x02", b"\x00\x03"]
    assert [f[3] & 0xF for f in frames] == [NOERROR, NOERROR, REFUSED]
    assert "internal error" not in shared.stderr()
    assert "Traceback" not in shared.stderr()


# =========================================================================== response rate limiting


def _burst(port: int, name: str, n: int, *, host: str = "127.0.0.1") -> list[dns.message.Message]:
    """Send ``n`` UDP queries back to back from one socket; collect the replies."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    out = []
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        for i in range(n):
            s.send(wire_query(name, 1, qid=i))
        s.settimeout(0.5)
        deadline = time.monotonic() + 5
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(dns.message.from_wire(s.recv(65535)))
            except socket.timeout:
                break
    return out


@pytest.fixture(scope="module")
def rrl_run(tmp_path_factory):
    """A server with [dns.rrl] responses_per_second = 5, slip = 2: a burst of
    200 UDP queries, then 30 TCP queries from the same source; stopped."""
    d = tmp_path_factory.mktemp("rrl")
    op = make_operation(d, rrl={"enabled": True, "responses_per_second": 5, "slip": 2})
    srv = Server.start(op, wait="log")  # no probe: the burst meets a full bucket
    try:
        replies = _burst(srv.port, "www.christmas-ecard-online.example", 200)
        tcp_replies = [tcp(query("www.christmas-ecard-online.example", "A"), srv.port) for _ in range(30)]
        rc = srv.stop()
    finally:
        srv.kill()
    return {"replies": replies, "tcp": tcp_replies, "rc": rc, "rows": read_events(d / "data")}


def _rrl_split(replies):
    full = [r for r in replies if r.answer]
    slips = [r for r in replies if not r.answer]
    return full, slips


def test_rrl_limits_udp_and_never_tcp(rrl_run):
    full, slips = _rrl_split(rrl_run["replies"])
    assert 1 <= len(full) <= 15  # 5 of credit, 5 a second
    assert all(a_set(r) == {SINK_V4} and flag(r, dns.flags.AA) and not flag(r, dns.flags.TC) for r in full)
    assert 60 <= len(slips) <= 110  # every 2nd limited response slips
    assert all(r.rcode() == NOERROR and not flag(r, dns.flags.AA) and r.authority == [] for r in slips)
    dropped = 200 - len(full) - len(slips)
    assert dropped >= 60
    # TCP from the same (limited) source: every query answered in full
    assert all(not flag(r, dns.flags.TC) and a_set(r) == {SINK_V4} for r in rrl_run["tcp"])
    assert rrl_run["rc"] == 0
    rows = rrl_run["rows"]
    assert len(rows) == 230
    got = {k: sum(1 for e in rows if e["response"] == k) for k in ("answer", "rrl-slip", "rrl-drop")}
    assert got == {"answer": len(full) + 30, "rrl-slip": len(slips), "rrl-drop": dropped}
    assert {e["transport"] for e in rows if e["response"] != "answer"} == {"udp"}


def test_rrl_slips_have_tc(rrl_run):
    _full, slips = _rrl_split(rrl_run["replies"])
    assert slips
    assert all(flag(r, dns.flags.TC) for r in slips)


def test_without_rrl_every_query_of_a_burst_is_answered(shared):
    replies = _burst(shared.port, "www.christmas-ecard-online.example", 200)
    assert len(replies) == 200
    assert sorted(r.id for r in replies) == list(range(200))
    assert all(not flag(r, dns.flags.TC) and a_set(r) == {SINK_V4} for r in replies)


# =========================================================================== reload


def _summary(r: dns.message.Message | None):
    if r is None:
        return None
    return dns.rcode.to_text(r.rcode()), frozenset(a_set(r))


SINK = ("NOERROR", frozenset({SINK_V4}))


class Stream(threading.Thread):
    """Sends ``count`` UDP queries over ``duration`` seconds (1 s timeout each),
    cycling through ``names``; records (time, name, summary or None)."""

    def __init__(self, port: int, names: list[str], count: int, duration: float):
        super().__init__(daemon=True)
        self.port, self.names, self.count, self.duration = port, names, count, duration
        self.results: list[tuple[float, str, tuple | None]] = []

    def run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            t0 = time.monotonic()
            for i in range(self.count):
                delay = t0 + i * self.duration / self.count - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                name = self.names[i % len(self.names)]
                try:
                    r = dns.query.udp(query(name, "A"), "127.0.0.1", port=self.port, timeout=1.0, sock=s,
                                      ignore_unexpected=True)
                except dns.exception.Timeout:
                    r = None
                self.results.append((time.monotonic(), name, _summary(r)))


def _check_stream(results, allowed: dict[str, list]) -> dict[str, float | None]:
    """Every query answered; each name's answers are old* then new* (the
    allowed list's order); return the time each changed name first got its
    new answer."""
    assert results, "no queries sent"
    lost = [(t, n) for t, n, s in results if s is None]
    assert not lost, f"{len(lost)} of {len(results)} queries unanswered, first {lost[:3]}"
    first_new: dict[str, float | None] = {}
    for name, answers in allowed.items():
        seq = [s for _, n, s in results if n == name]
        assert seq, name
        bad = {s for s in seq if s not in answers}
        assert not bad, f"{name}: unexpected answers {bad}"
        if len(answers) == 2:
            idx = [answers.index(s) for s in seq]
            assert idx == sorted(idx), f"{name}: answers went back to the old data: {idx}"
            first_new[name] = next((t for t, n, s in results if n == name and s == answers[1]), None)
    return first_new


def test_reload_on_sighup_and_on_file_change_without_dropping_queries(tmp_path, own_server):
    op = make_operation(tmp_path)
    srv = Server.start(op)
    own_server.append(srv)
    blocklist = tmp_path / "3322-blocklist.txt"
    domains = tmp_path / "waledac-domains.txt"
    stable = {
        "www.3322.org": [("NOERROR", frozenset({"198.51.100.80"}))],
        "pcbot.3322.org": [SINK],
        "x1.ctl.3322.org": [SINK],
        "christmas-ecard-online.example": [SINK],
    }

    # (a) SIGHUP. The files are edited in place to the same size and their
    # mtime restored, so the mtime watcher cannot see it: only SIGHUP reloads.
    changes_a = {
        "shop.3322.org": [("NOERROR", frozenset({"198.51.100.81"})), SINK],   # added to the blocklist
        "gone.3322.org": [SINK, ("NXDOMAIN", frozenset())],                   # removed from it
        "fresh-seized1.example": [("REFUSED", frozenset()), SINK],           # seized
        "zone-repeater.example": [SINK, ("REFUSED", frozenset())],           # released
    }
    stream = Stream(srv.port, list(stable) + list(changes_a), 3000, 3.0)
    stream.start()
    time.sleep(0.5)
    for path, old, new in ((blocklist, "gone.3322.org", "shop.3322.org"),
                           (domains, "zone-repeater.example", "fresh-seized1.example")):
        st = path.stat()
        text = path.read_text()
        assert len(old) == len(new) and old in text
        with open(path, "r+") as f:
            f.write(text.replace(old, new))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(1.3)  # at least one watcher poll: nothing reloads
    assert "reloaded" not in srv.stderr()
    t_hup = time.monotonic()
    srv.send_signal(signal.SIGHUP)
    stream.join(10)
    assert not stream.is_alive()
    first_new = _check_stream(stream.results, {**stable, **changes_a})
    assert all(t is not None for t in first_new.values()), first_new
    assert min(first_new.values()) > t_hup  # nothing changed before the signal
    assert max(first_new.values()) - t_hup < 2.0
    # atomic: from the first new answer on, every changed name answers new
    t_swap = min(first_new.values())
    for t, n, s in stream.results:
        if n in changes_a and t > t_swap + 0.01:  # 10 ms: a reply in flight at the swap
            assert s == changes_a[n][1], (n, s)
    assert srv.wait_stderr(r"reloaded \(SIGHUP\)")

    # (b) a file change alone: the watcher polls the mtimes every second
    changes_b = {
        "office.dyn.3322.org": [("NOERROR", frozenset({"203.0.113.11"})), SINK],
        "another-seizure.example": [("REFUSED", frozenset()), SINK],
    }
    stream = Stream(srv.port, list(stable) + list(changes_b), 3000, 4.0)
    before = len(srv.stderr())
    stream.start()
    time.sleep(0.3)
    t_write = time.monotonic()
    blocklist.write_text(blocklist.read_text() + "office.dyn.3322.org\n")
    domains.write_text(domains.read_text() + "another-seizure.example\n")
    stream.join(10)
    assert not stream.is_alive()
    first_new = _check_stream(stream.results, {**stable, **changes_b})
    assert all(t is not None for t in first_new.values()), first_new
    assert max(first_new.values()) - t_write < 3.5  # a poll a second, then the compile
    assert srv.wait_stderr(r"reloaded \(a file changed\)", start=before)
    assert "SIGHUP" not in srv.stderr()[before:]

    # (c) a broken blocklist: the reload fails, the old data keeps serving
    current = {**stable, **{n: [a[-1]] for n, a in {**changes_a, **changes_b}.items()}}
    stream = Stream(srv.port, list(current), 1200, 2.0)
    before = len(srv.stderr())
    stream.start()
    time.sleep(0.2)
    text = blocklist.read_text()
    bad_line = text.count("\n") + 1
    blocklist.write_text(text + "not a valid name!\n")
    m = srv.wait_stderr(r"reload \(a file changed\) failed[^\n]*", timeout=5, start=before)
    assert m, srv.stderr()[before:]
    assert re.search(rf"3322-blocklist\.txt:{bad_line}\b", m.group(0)), m.group(0)
    stream.join(10)
    assert not stream.is_alive()
    _check_stream(stream.results, current)
    assert srv.proc.poll() is None
    # fixed again: reloads
    before = len(srv.stderr())
    blocklist.write_text(text + "camera.dyn.3322.org\n")
    assert srv.wait_stderr(r"reloaded \(a file changed\)", timeout=5, start=before)
    # "reloaded" is said once the new workers serve and the old ones have
    # stopped reading the shared sockets: the very next answer is the new one
    for _ in range(20):
        assert a_set(udp(query("camera.dyn.3322.org", "A"), srv.port)) == {SINK_V4}
    assert a_set(udp(query("office.dyn.3322.org", "A"), srv.port)) == {SINK_V4}
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def added_list_run(tmp_path_factory):
    """A reload of the operation file adds a [[domains]] list; later, only
    that new list file changes."""
    d = tmp_path_factory.mktemp("addlist")
    op = make_operation(d)
    srv = Server.start(op)
    out = {}
    try:
        extra = d / "extra-domains.txt"
        extra.write_text("first-extra.example\n")
        before = len(srv.stderr())
        op.write_text(op.read_text() + '\n[[domains]]\nfamily = "extra"\nfile = "extra-domains.txt"\n')
        out["op_reloaded"] = bool(srv.wait_stderr(r"reloaded \(a file changed\)", timeout=5, start=before))
        out["first"] = _summary(udp(query("www.first-extra.example", "A"), srv.port))
        before = len(srv.stderr())
        extra.write_text("first-extra.example\nsecond-extra.example\n")
        out["list_reloaded"] = bool(srv.wait_stderr(r"reloaded \(a file changed\)", timeout=4, start=before))
        out["second"] = _summary(udp(query("second-extra.example", "A"), srv.port))
        srv.send_signal(signal.SIGHUP)
        srv.wait_stderr(r"reloaded \(SIGHUP\)", timeout=5)
        out["second_after_hup"] = _summary(udp(query("second-extra.example", "A"), srv.port))
        out["rc"] = srv.stop()
    finally:
        srv.kill()
    return out


def test_reload_of_the_operation_file_adds_a_list(added_list_run):
    assert added_list_run["op_reloaded"]
    assert added_list_run["first"] == SINK
    assert added_list_run["second_after_hup"] == SINK
    assert added_list_run["rc"] == 0


def test_a_list_file_added_by_a_reload_is_watched_too(added_list_run):
    assert added_list_run["list_reloaded"]
    assert added_list_run["second"] == SINK


# =========================================================================== workers, IPv6


def test_two_workers_share_the_port_and_stop_on_sigterm(tmp_path, own_server):
    op = make_operation(tmp_path, sensor="wtest")
    srv = Server.start(op, workers=2, wait="log")
    own_server.append(srv)
    deadline = time.monotonic() + 10
    while len(psutil.Process(srv.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = {c.pid for c in psutil.Process(srv.pid).children()}
    assert len(children) == 2
    names = ["www.3322.org", "pcbot.3322.org", "new-year-postcard.example", "example.com"]
    expect = {
        "www.3322.org": ("NOERROR", frozenset({"198.51.100.80"})),
        "pcbot.3322.org": SINK,
        "new-year-postcard.example": SINK,
        "example.com": ("REFUSED", frozenset()),
    }
    n_udp, n_tcp = 300, 40
    for i in range(n_udp):  # a new socket (source port) each: spread over both workers
        name = names[i % 4]
        assert _summary(udp(query(name, "A"), srv.port)) == expect[name]
    for i in range(n_tcp):
        name = names[i % 4]
        assert _summary(tcp(query(name, "A"), srv.port)) == expect[name]
    # SIGHUP to the supervisor reaches both workers (same-size edit, mtime
    # kept: the watcher cannot see it)
    blocklist = tmp_path / "3322-blocklist.txt"
    st = blocklist.stat()
    text = blocklist.read_text()
    with open(blocklist, "r+") as f:
        f.write(text.replace("gone.3322.org", "shop.3322.org"))
    os.utime(blocklist, ns=(st.st_atime_ns, st.st_mtime_ns))
    srv.send_signal(signal.SIGHUP)
    assert srv.wait_stderr(r"reloaded \(SIGHUP\)")
    n_after = 60
    for _ in range(n_after):  # new sockets again: both workers answer with the new data
        assert _summary(udp(query("shop.3322.org", "A"), srv.port)) == SINK
    # a reload replaces each worker (nginx's model): two new ones, the old ones retired
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = {c.pid for c in psutil.Process(srv.pid).children() if c.status() != psutil.STATUS_ZOMBIE}
        if not now & children:
            break
        time.sleep(0.05)
    assert len(now) == 2 and not now & children
    assert srv.stop() == 0
    for pid in children | now:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    children |= now
    files = sorted(srv.events_dir().glob("date=*/*.parquet"))
    seen = set()
    for f in files:
        m = re.match(r"^wtest-w(\d+)-(\d+)-", f.name)
        assert m, f.name
        seen.add((int(m.group(1)), int(m.group(2))))
    assert {w for w, _ in seen} == {0, 1}
    assert {pid for _, pid in seen} == children
    rows = read_events(op.parent / "data")
    assert len(rows) == n_udp + n_tcp + n_after
    assert {e["worker"] for e in rows} == {0, 1}
    assert {e["worker"] for e in rows if e["qname"] == "shop.3322.org"} == {0, 1}
    assert len({e["rule"] for e in rows if e["qname"] == "shop.3322.org"}) == 1
    assert {e["rule"] for e in rows if e["qname"] == "shop.3322.org"} <= set(rule("block", "3322.org"))
    assert {e["transport"] for e in rows} == {"udp", "tcp"}


def test_ipv6_udp_and_tcp(shared):
    if ("::1", shared.port) not in shared.listens:
        pytest.skip("::1 cannot be bound here")
    p = shared.port
    r = udp(query("www.3322.org", "AAAA"), p, host="::1")
    assert rrsets(r) == {("www.3322.org.", "AAAA"): {"2001:db8:3322::80"}}
    r = tcp(query("pcbot.3322.org", "A"), p, host="::1")
    assert a_set(r) == {SINK_V4} and flag(r, dns.flags.AA)
    r = udp(query("v6-probe.sweet-heart-ecard.example", "A"), p, host="::1")
    assert a_set(r) == {SINK_V4}
    r = tcp(query("example.com", "A"), p, host="::1")
    assert r.rcode() == REFUSED
    if DIG:
        d = dig(p, "-6", "ftp.3322.org", "A", host="::1")
        assert d.rdata("A") == {"198.51.100.80"}
    rows = wait_for_events(shared.opfile.parent / "data", lambda e: e["qname"] == "v6-probe.sweet-heart-ecard.example")
    assert [(e["src_ip"], e["dst_ip"], e["transport"]) for e in rows] == [("::1", "::1", "udp")]


# =========================================================================== events


@pytest.fixture(scope="module")
def events_run(tmp_path_factory):
    """A server that gets a known list of queries (all kinds of outcome) and is
    stopped with SIGTERM; returns what was sent and received, and the events."""
    tmp_path = tmp_path_factory.mktemp("events")
    op = make_operation(tmp_path, sensor="evtest", flush_interval=0.3,
                        extra_zones={"bigzone.example": bigzone_text()})
    srv = Server.start(op, wait="log")  # no probe queries: every event is one of ours
    try:
        return _run_event_queries(srv, op)
    finally:
        srv.kill()


def _run_event_queries(srv: Server, op: Path) -> dict:
    p = srv.port
    sent: list[tuple[dict, bytes | None]] = []

    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.bind(("127.0.0.1", 0))
    usock.settimeout(2.0)
    uport = usock.getsockname()[1]

    def via_udp(data: bytes, expect: dict, reply: bool = True):
        usock.sendto(data, ("127.0.0.1", p))
        resp = None
        if reply:
            resp = usock.recv(65535)
            assert resp[:2] == data[:2]
        else:
            with pytest.raises(socket.timeout):
                usock.settimeout(0.5)
                usock.recv(65535)
            usock.settimeout(2.0)
        sent.append(({**expect, "transport": "udp", "src_port": uport}, resp))

    def via_tcp(data: bytes, expect: dict, reply: bool = True):
        with socket.create_connection(("127.0.0.1", p), timeout=2.0) as t:
            port = t.getsockname()[1]
            t.sendall(len(data).to_bytes(2, "big") + data)
            t.shutdown(socket.SHUT_WR)
            buf = b""
            while True:
                chunk = t.recv(65535)
                if not chunk:
                    break
                buf += chunk
        frames = tcp_frames(buf)
        assert len(frames) == (1 if reply else 0)
        sent.append(({**expect, "transport": "tcp", "src_port": port}, frames[0] if frames else None))

    NOQ = (None, "TYPE0")  # no question could be read: no type (or type 0)

    def ev(qname, qtype, rcodes, rule, family, response="answer", ecs=None):
        rcodes = (rcodes,) if isinstance(rcodes, str) else rcodes
        return dict(qname=qname, qtype=qtype, rcode=rcodes, rule=rule, family=family, response=response, ecs=ecs)

    t_start = time.time()
    via_udp(wire_query("Christmas-Ecard-Online.EXAMPLE", 1, qid=1),
            ev("christmas-ecard-online.example", "A", "NOERROR", rule("seized", "waledac"), "waledac"))
    via_udp(wire_query("x.y.merry-xmas-greetings.example", 28, qid=2),
            ev("x.y.merry-xmas-greetings.example", "AAAA", "NOERROR", rule("seized", "waledac"), "waledac"))
    via_udp(wire_query("pcbot.3322.org", 1, qid=3),
            ev("pcbot.3322.org", "A", "NOERROR", rule("block", "3322.org"), "nitol"))
    via_udp(wire_query("www.3322.org", 15, qid=4), ev("www.3322.org", "MX", "NOERROR", rule("pass", "3322.org"), None))
    via_udp(wire_query("nope.3322.org", 1, qid=5), ev("nope.3322.org", "A", "NXDOMAIN", rule("pass", "3322.org"), None))
    via_udp(wire_query("example.com", 1, qid=6), ev("example.com", "A", "REFUSED", rule("none"), None))
    via_tcp(wire_query("WWW.3322.org", 1, qid=7), ev("www.3322.org", "A", "NOERROR", rule("pass", "3322.org"), None))
    ecs_q = query("ecs.holiday-card-delivery.example", "TXT", options=[dns.edns.ECSOption("203.0.113.0", 24)])
    ecs_q.id = 8
    via_udp(ecs_q.to_wire(), ev("ecs.holiday-card-delivery.example", "TXT", "NOERROR", rule("seized", "waledac"),
                                "waledac",
                                ecs="203.0.113.0/24"))
    bv = query("www.3322.org", "A", edns=1)
    bv.id = 9
    via_udp(bv.to_wire(), ev("www.3322.org", "A", "BADVERS", rule("none"), None))
    via_udp(wire_query("www.3322.org", 6, qid=10, flags=dns.opcode.NOTIFY << 11),
            ev("www.3322.org", "SOA", ("NOTIMP", "REFUSED"), rule("none"), None))
    via_udp(wire_query("www.3322.org", 6, qid=11, flags=dns.opcode.STATUS << 11),
            ev("www.3322.org", "SOA", "NOTIMP", rule("none"), None))
    via_udp(_HDR.pack(12, 0, 2, 0, 0, 0) + _GOOD[12:] * 2, ev(None, NOQ, "FORMERR", rule("none"), None, "formerr"))
    via_udp(_HDR.pack(13, 0x8000, 1, 0, 0, 0) + _GOOD[12:], ev(None, NOQ, "FORMERR", rule("none"), None, "dropped"),
            reply=False)
    via_udp(wire_query("t.free-sms-sender.example", 65280, qid=14),
            ev("t.free-sms-sender.example", "TYPE65280", "NOERROR", rule("seized", "waledac"), "waledac"))
    via_tcp(b"", ev(None, NOQ, "FORMERR", rule("none"), None, "dropped"), reply=False)
    via_udp(wire_query("notice.3322.org", 16, qid=16),
            ev("notice.3322.org", "TXT", "NOERROR", rule("pass", "3322.org"), None, "truncated"))
    # over 512 bytes with its glue, but the NS RRset fits: no TC, so not 'truncated'
    via_udp(wire_query("bigzone.example", 2, qid=17),
            ev("bigzone.example", "NS", "NOERROR", rule("pass", "bigzone.example"), None))
    via_udp(wire_query("ctl.3322.org", 255, qid=18),
            ev("ctl.3322.org", "ANY", "NOERROR", rule("block", "3322.org"), "nitol"))
    usock.close()
    rc = srv.stop()
    t_end = time.time()
    return {
        "sent": sent, "rc": rc, "count": events_count(op), "port": p, "t": (t_start, t_end),
        "rows": sorted(read_events(op.parent / "data"), key=lambda e: e["time"]),
    }


def test_every_query_is_one_event_with_the_right_fields(events_run):
    sent, rows = events_run["sent"], events_run["rows"]
    t_start, t_end = events_run["t"]
    n = len(sent)
    assert sent[-3][1][2] & 0x02  # the notice query was truncated (TC)
    assert not sent[-2][1][2] & 0x02  # the NS answer was not
    assert events_run["rc"] == 0
    c = events_run["count"]
    assert c.returncode == 0, c.stderr
    assert c.stdout.strip() == str(n)
    assert len(rows) == n
    for e, (exp, resp) in zip(rows, sent):
        where = (exp, e)
        for k in ("qname", "family", "ecs", "transport", "src_port"):
            assert e[k] == exp[k], where
        assert e["rule"] in exp["rule"], where  # either spelling; see the test below
        if exp["response"] == "truncated":  # the label is checked on its own below
            assert e["response"] in ("answer", "truncated"), where
        else:
            assert e["response"] == exp["response"], where
        assert e["qtype"] in exp["qtype"] if isinstance(exp["qtype"], tuple) else e["qtype"] == exp["qtype"], where
        assert e["rcode"] in exp["rcode"], where
        if resp is not None:  # the event tells what was sent back
            assert e["rcode"] == dns.rcode.to_text(dns.message.from_wire(resp).rcode()), where
        assert e["src_ip"] == "127.0.0.1" and e["dst_ip"] == "127.0.0.1" and e["dst_port"] == events_run["port"]
        assert (e["operation"], e["sensor"], e["worker"]) == ("itest", "evtest", 0)
        assert t_start - 1 <= e["time"].timestamp() <= t_end + 1


def test_event_rule_names_are_the_documented_ones(events_run):
    for e, (exp, _resp) in zip(events_run["rows"], events_run["sent"]):
        assert e["rule"] == exp["rule"][0], e


def test_event_response_is_truncated_exactly_when_tc_was_sent(events_run):
    checked = 0
    for e, (_exp, resp) in zip(events_run["rows"], events_run["sent"]):
        if resp is not None and e["response"] in ("answer", "truncated"):
            assert (e["response"] == "truncated") == bool(resp[2] & 0x02), e
            checked += 1
    assert checked >= 10


def test_sigkill_leaves_only_readable_files_with_the_flushed_events(tmp_path, own_server):
    flush = 0.5
    op = make_operation(tmp_path, flush_interval=flush)
    srv = Server.start(op, wait="log")
    own_server.append(srv)
    answered: list[float] = []
    names = ["www.3322.org", "pcbot.3322.org", "bestflux-node.example", "example.com"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        t_end = time.monotonic() + 2.5
        i = 0
        while time.monotonic() < t_end and i < 20000:
            r = dns.query.udp(query(names[i % 4], "A"), "127.0.0.1", port=srv.port, timeout=1.0, sock=s)
            assert r.rcode() in (NOERROR, REFUSED)
            answered.append(time.monotonic())
            i += 1
            if i % 10 == 0:
                time.sleep(0.001)
    t_kill = time.monotonic()
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait(10)
    files = sorted(srv.events_dir().glob("date=*/*.parquet"))
    assert files
    total = 0
    for f in files:
        total += pq.read_table(f).num_rows  # every file complete and readable
    old_enough = sum(1 for t in answered if t < t_kill - 1.5 * flush)
    assert total >= old_enough > 0
    assert total <= len(answered)
    c = events_count(op)
    assert c.returncode == 0 and c.stdout.strip() == str(total)


# =========================================================================== start-up errors


def _occupy(port: int, kind: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, kind)  # no SO_REUSEPORT
    s.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        s.listen(1)
    return s


@pytest.mark.parametrize("kind,proto", [(socket.SOCK_DGRAM, "udp"), (socket.SOCK_STREAM, "tcp")])
@pytest.mark.parametrize("workers", [1, 2])
def test_port_in_use_is_an_error_with_exit_1(tmp_path, kind, proto, workers):
    op = make_operation(tmp_path)
    port = free_port()
    with _occupy(port, kind):
        p = subprocess.run([str(TAKEDOWN), "serve", str(op), "--dns", f"127.0.0.1:{port}", "--workers", str(workers)],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert p.returncode == 1
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("Error: ")]
    assert errors == [f"Error: cannot listen on {proto} 127.0.0.1:{port}: Address already in use"]
    assert p.stderr.splitlines()[-1] == errors[0]
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert not list(tmp_path.glob("data/events/kind=dns/date=*/*.parquet"))


def test_port_in_use_prints_exactly_one_line(tmp_path):
    op = make_operation(tmp_path)
    port = free_port()
    with _occupy(port, socket.SOCK_DGRAM):
        p = subprocess.run([str(TAKEDOWN), "serve", str(op), "--dns", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [f"Error: cannot listen on udp 127.0.0.1:{port}: Address already in use"]
