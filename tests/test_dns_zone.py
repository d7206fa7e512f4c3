"""The fast master-file reader agrees with dnspython's, record for record."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.zone
import pytest

from takedown.dns import wire
from takedown.dns.zone import Zone, split_records
from takedown.dns.zonefile import read_zone
from takedown.errors import ZoneError

TRICKY = r"""
$TTL 1h
$ORIGIN example.net.
@ IN SOA ns1 hostmaster ( 2024010101 ; serial
        2h 30m 2w 300 )
  IN NS ns1
  NS ns2.example.net.
ns1 300 IN A 192.0.2.1
ns2 IN 300 A 192.0.2.2
www A 192.0.2.80
    AAAA 2001:db8::80
txt TXT "hello world" "with \"quotes\"" plain
txt2 TXT a b c
mx MX 10 mail
mail A 192.0.2.25
srv._tcp SRV 0 5 5060 sip
sip A 192.0.2.30
caa CAA 0 issue "letsencrypt.org"
esc\.dot A 192.0.2.99
UPPER.Case A 192.0.2.7
$ORIGIN sub.example.net.
deep A 192.0.2.44
@ A 192.0.2.43
unk TYPE65280 \# 4 0a000001
"""


def _ours(path, origin):
    out = set()
    for _line, owner, rtype, ttl, rdata in read_zone(path, origin):
        out.add((owner, rtype, ttl, rdata.lower() if rtype in (2, 5, 15, 33, 6) else rdata))
    return out


def _theirs(path, origin):
    z = dns.zone.from_file(str(path), origin=origin, relativize=False)
    out = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                w = rd.to_wire()
                out.add((name.canonicalize().to_wire(), rds.rdtype, rds.ttl, w.lower() if rds.rdtype in (2, 5, 15, 33, 6) else w))
    return out


@pytest.mark.parametrize("text,origin", [(TRICKY, "example.net")])
def test_reader_matches_dnspython(tmp_path, text, origin):
    p = tmp_path / "z.zone"
    p.write_text(text)
    assert _ours(p, origin) == _theirs(p, origin)


def test_example_zone_matches_dnspython():
    assert _ours("examples/3322.org.zone", "3322.org") == _theirs("examples/3322.org.zone", "3322.org")


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("www A 300.1.1.1\n", 3, "valid address"),
        ("www A\n", 3, ""),
        ("www IN CH A 1.2.3.4\n", 3, ""),
        ("www.other.org. A 1.2.3.4\n", 3, "outside the zone"),
        ("x BOGUSTYPE 1\n", 3, ""),
        ('t TXT "unterminated\n', 3, "unterminated"),
        ("$GENERATE 1-3 h$ A 1.2.3.$\n", 3, "directive"),
        # RFC 2181 s8: 0..2^31-1, in seconds or with units (found by fuzz/fuzz_zonefile.py)
        ("www 2147483648 A 192.0.2.1\n", 3, "over 2147483647"),
        ("www 600000h A 192.0.2.1\n", 3, "over 2147483647"),
        ("$TTL 3551w\nwww A 192.0.2.1\n", 3, "over 2147483647"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, body, line, words):
    p = tmp_path / "bad.zone"
    p.write_text("$TTL 300\n@ SOA ns hm 1 2 3 4 5\n" + body)
    with pytest.raises(ZoneError) as e:
        list(read_zone(p, "example.net"))
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert words in msg


def test_ttl_up_to_2_31_minus_1_in_any_notation(tmp_path):
    p = tmp_path / "ttl.zone"
    p.write_text("$TTL 3550w\n@ SOA ns hm 1 2 3 4 5\nwww 2147483647 A 192.0.2.1\n")
    assert [ttl for _l, _o, _t, ttl, _r in read_zone(p, "example.net")] == [3550 * 604800, 2147483647]


def test_zone_requires_soa_and_ns(tmp_path):
    p = tmp_path / "z.zone"
    p.write_text("$TTL 300\nwww A 192.0.2.1\n")
    with pytest.raises(ZoneError, match="SOA"):
        Zone.load(p, "example.net")


def test_lookup_cases():
    z = Zone.load("examples/3322.org.zone", "3322.org")
    w = wire.text_to_wire
    r = z.lookup(w("www.3322.org"), 1)
    assert r.rcode == 0 and r.aa and len(r.answer) == 1
    r = z.lookup(w("nope.3322.org"), 1)
    assert r.rcode == wire.NXDOMAIN and r.authority[0][0][0] == w("3322.org")
    # an RRset's records are kept together and deduplicated
    for blob in z.nodes.values():
        types = [wire.rec_type(x) for x in split_records(blob)]
        assert types == sorted(types, key=types.index)


def test_duplicate_records_collapse(tmp_path):
    p = tmp_path / "z.zone"
    p.write_text("$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nns 60 A 192.0.2.1\nns A 192.0.2.2\n")
    z = Zone.load(p, "example.net")
    recs = split_records(z.nodes[wire.text_to_wire("ns.example.net")])
    assert len(recs) == 2
    assert {int.from_bytes(r[4:8], "big") for r in recs} == {60}


# --------------------------------------------------------------------------- DNAME, long chains, "*" ENT (issue 13.7)

def _apex(origin: str) -> str:
    return f"$TTL 3600\n$ORIGIN {origin}\n@ SOA ns1 hostmaster 1 7200 3600 1209600 600\n@ NS ns1\nns1 A 192.0.2.1\n"


SHAPES = _apex("example.net.") + r"""
web A 192.0.2.80
host.tgt A 192.0.2.60
cn.tgt CNAME host.tgt
dn 300 DNAME tgt.example.net.
dn A 192.0.2.63
dn2 DNAME dn.example.net.
dnx DNAME outside.example.
dnloop1 DNAME dnloop2.example.net.
dnloop2 DNAME dnloop1.example.net.
dnself DNAME in.dnself.example.net.
dnlong DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccc.ddddddddddddddddddddddddddddddddddddddddddddddd.example.net.
tocn CNAME host.dn
sub NS ns.sub
ns.sub A 192.0.2.53
dn.sub DNAME tgt.example.net.
dncut DNAME sub.example.net.
went TXT "parent"
a.*.went A 192.0.2.70
towent CNAME foo.went
pcwk DNAME tgt.example.net.
dnevil DNAME evil.example.net.
evil A 192.0.2.66
"""


def _shapes(tmp_path, chains=()):
    p = tmp_path / "shapes.zone"
    text = SHAPES
    for tag, n, end in chains:
        text += "".join(f"{tag}-{i} CNAME {tag}-{i + 1}\n" for i in range(1, n)) + f"{tag}-{n} CNAME {end}\n"
    p.write_text(text)
    return Zone.load(p, "example.net")


def _rr(res_section):
    """[(owner text, type, ttl, rdata name or bytes)] of a section."""
    out = []
    for rrset in res_section:
        for owner, rec in rrset:
            t = wire.rec_type(rec)
            rd = rec[10:]
            if t in (wire.CNAME, wire.DNAME, wire.NS):
                rd = wire.name_to_text(wire.read_name(rec, 10)[0])
            out.append((wire.name_to_text(owner), t, int.from_bytes(rec[4:8], "big"), rd))
    return out


def _q(z, name, qtype=wire.A):
    return z.lookup(wire.text_to_wire(name), qtype)


def test_dname_synthesises_a_cname_with_its_ttl_and_follows_it(tmp_path):
    z = _shapes(tmp_path)
    r = _q(z, "host.dn.example.net")
    assert r.rcode == wire.NOERROR and r.aa
    assert [(o, t, ttl) for o, t, ttl, _ in _rr(r.answer)] == [
        ("dn.example.net", wire.DNAME, 300),
        ("host.dn.example.net", wire.CNAME, 300),  # the DNAME's TTL, as NSD
        ("host.tgt.example.net", wire.A, 3600),
    ]
    assert _rr(r.answer)[1][3] == "host.tgt.example.net"
    assert r.extra_authority  # a positive answer: the zone's NS, as NSD
    # the owner itself answers from its own data; QTYPE DNAME there gives the DNAME
    assert _rr(_q(z, "dn.example.net").answer) == [("dn.example.net", wire.A, 3600, bytes([192, 0, 2, 63]))]
    assert [t for _, t, _, _ in _rr(_q(z, "dn.example.net", wire.DNAME).answer)] == [wire.DNAME]
    # QTYPE CNAME below the DNAME: the DNAME and the synthesised CNAME only
    r = _q(z, "cn.dn.example.net", wire.CNAME)
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME, wire.CNAME] and not r.extra_authority


def test_dname_negative_answers_out_of_zone_and_chains(tmp_path):
    z = _shapes(tmp_path)
    r = _q(z, "nx.dn.example.net")  # target absent: NXDOMAIN after the chain, SOA in authority
    assert r.rcode == wire.NXDOMAIN and len(r.answer) == 2 and wire.rec_type(r.authority[0][0][1]) == wire.SOA
    r = _q(z, "foo.dnx.example.net")  # out of the zone: DNAME and CNAME, nothing more
    assert r.rcode == wire.NOERROR and [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME, wire.CNAME]
    assert not r.authority and not r.extra_authority
    r = _q(z, "host.dn2.example.net")  # DNAME -> DNAME
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME, wire.CNAME, wire.DNAME, wire.CNAME, wire.A]
    r = _q(z, "tocn.example.net")  # CNAME -> DNAME
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.CNAME, wire.DNAME, wire.CNAME, wire.A]
    r = _q(z, "host.dncut.example.net")  # DNAME into a delegation: referral, AA set
    assert r.aa and [t for _, t, _, _ in _rr(r.authority)] == [wire.NS]
    r = _q(z, "x.dn.sub.example.net")  # a DNAME below a cut is occluded: a referral
    assert not r.aa and not r.answer and [t for _, t, _, _ in _rr(r.authority)] == [wire.NS]


def test_dname_overflow_is_yxdomain_with_nsd_ede(tmp_path):
    z = _shapes(tmp_path)
    assert _q(z, "x" * 43 + ".dnlong.example.net").rcode == wire.NXDOMAIN  # 255 octets: fits
    r = _q(z, "x" * 44 + ".dnlong.example.net")  # 256 octets
    assert r.rcode == wire.YXDOMAIN and [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME]
    assert r.ede == (0, b"DNAME expansion became too large")
    opt = wire.opt_record(1232, False, 0, r.ede)
    assert opt.endswith(b"\x00\x0f\x00\x22\x00\x00DNAME expansion became too large")


def test_dname_loops_end_as_nsd_ends_them(tmp_path):
    z = _shapes(tmp_path)
    r = _q(z, "x.dnloop1.example.net")
    assert r.rcode == wire.NOERROR and [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME, wire.CNAME] * 2
    assert not r.authority
    r = _q(z, "x.dnself.example.net")  # into its own subtree: once, then stop
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.DNAME, wire.CNAME] and not r.authority


@pytest.mark.parametrize("hops", [8, 9, 10, 12, 20, 200])
def test_long_cname_chains_are_followed_to_the_end(tmp_path, hops):
    z = _shapes(tmp_path, [("c", hops, "web"), ("n", hops, "nothere"), ("d", hops, "host.dn")])
    r = _q(z, "c-1.example.net")
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.CNAME] * hops + [wire.A]
    r = _q(z, "n-1.example.net", wire.A)
    assert r.rcode == wire.NXDOMAIN and len(r.answer) == hops
    assert wire.rec_type(r.authority[0][0][1]) == wire.SOA  # the SOA at the end of the chain
    r = _q(z, "c-1.example.net", wire.TXT)  # NODATA at the end: SOA too
    assert r.rcode == wire.NOERROR and len(r.answer) == hops and wire.rec_type(r.authority[0][0][1]) == wire.SOA
    r = _q(z, "d-1.example.net")
    assert [t for _, t, _, _ in _rr(r.answer)] == [wire.CNAME] * hops + [wire.DNAME, wire.CNAME, wire.A]


def test_wildcard_that_is_an_empty_non_terminal_gives_nodata(tmp_path):
    z = _shapes(tmp_path)
    for name in ("foo.went.example.net", "x.y.went.example.net", "*.went.example.net"):
        r = _q(z, name)
        assert r.rcode == wire.NOERROR and not r.answer, name
        assert wire.rec_type(r.authority[0][0][1]) == wire.SOA
    assert _q(z, "b.*.went.example.net").rcode == wire.NXDOMAIN
    assert _q(z, "a.*.went.example.net").answer
    r = _q(z, "towent.example.net")  # CNAME into it: the CNAME, then NODATA
    assert r.rcode == wire.NOERROR and len(r.answer) == 1 and r.authority


def test_sunk_names_never_show_their_dname(tmp_path):
    """A blocklisted DNAME owner hides its DNAME from the names below it; a
    DNAME into a sunk name ends at the sinkhole, as a CNAME does."""
    from takedown.dns.policy import Policy
    from takedown.operation import load_operation

    z = tmp_path / "shapes.zone"
    z.write_text(SHAPES)
    (tmp_path / "block.txt").write_text("pcwk.example.net\n*.evil.example.net\n")
    op = tmp_path / "operation.toml"
    op.write_text(
        '[operation]\nname = "t"\nstorage = "data"\n\n[sinkhole]\nipv4 = ["192.0.2.53"]\nttl = 300\n'
        'soa_email = "hostmaster.sinkhole.example"\nnameservers = { "ns1.sinkhole.example" = "192.0.2.1" }\n\n'
        '[[zones]]\norigin = "example.net"\nfile = "shapes.zone"\nblocklist = "block.txt"\nfamily = "nitol"\n'
    )
    policy = Policy(load_operation(op))
    d = policy.decide(wire.text_to_wire("host.pcwk.example.net"), wire.A)
    assert d.rule == "zone:example.net:pass"
    assert d.result.rcode == wire.NXDOMAIN and not d.result.answer  # no DNAME of the sunk owner
    d = policy.decide(wire.text_to_wire("x.dnevil.example.net"), wire.A)
    got = _rr(d.result.answer)
    assert [t for _, t, _, _ in got] == [wire.DNAME, wire.CNAME, wire.A]
    assert got[2] == ("x.evil.example.net", wire.A, 300, bytes([192, 0, 2, 53]))  # the sinkhole


# --------------------------------------------------------------------------- the same shapes, harder (chains.example)
# Ported from the abandoned zone2 branch: behaviours the zone above does not
# reach (the differential test's third zone holds the same records).

CHAINS = _apex("example.org.") + r"""
leaf A 192.0.2.80
y.ent A 192.0.2.81
tgt A 192.0.2.90
host.tgt A 192.0.2.91
d-in 1800 DNAME tgt
d-in TXT "owner"
d-out DNAME outside.example.
d-to-d 600 DNAME d-in
dgrow DNAME x.dgrow
*.wl CNAME x.wl
self CNAME self
"""


def _chains(tmp_path):
    text = CHAINS
    for n in (8, 9, 10, 12, 20):
        for end, target in (("d", "leaf"), ("x", "missing"), ("o", "far.outside.example."), ("n", "y.ent")):
            text += "".join(f"h{n}{end}-{i} CNAME h{n}{end}-{i + 1}\n" for i in range(1, n))
            text += f"h{n}{end}-{n} CNAME {target}\n"
    p = tmp_path / "chains.zone"
    p.write_text(text)
    return Zone.load(p, "example.org")


def _types(res_section):
    return [t for _, t, _, _ in _rr(res_section)]


def _soa_only(res):
    return _types(res.authority) == [wire.SOA]


def test_dname_owner_without_the_type_is_nodata(tmp_path):
    z = _chains(tmp_path)
    assert _types(_q(z, "d-in.example.org", wire.TXT).answer) == [wire.TXT]
    r = _q(z, "d-in.example.org", wire.A)  # the owner is not below its own DNAME
    assert r.rcode == wire.NOERROR and not r.answer and _soa_only(r)


def test_dname_substitutes_every_label_below_the_owner(tmp_path):
    z = _chains(tmp_path)
    r = _q(z, "a.b.d-out.example.org")
    assert r.rcode == wire.NOERROR and not r.authority and not r.extra_authority
    assert _rr(r.answer)[-1][:2] == ("a.b.d-out.example.org", wire.CNAME)
    assert _rr(r.answer)[-1][3] == "a.b.outside.example"
    # a DNAME into its own subtree: each synthesised target one label longer
    r = _q(z, "a.dgrow.example.org")
    assert [rd for _, t, _, rd in _rr(r.answer) if t == wire.CNAME] == ["a.x.dgrow.example.org"]


def test_qtype_cname_stops_at_the_first_synthesised_cname(tmp_path):
    z = _chains(tmp_path)
    r = _q(z, "x.d-to-d.example.org", wire.CNAME)
    assert _types(r.answer) == [wire.DNAME, wire.CNAME] and not r.authority
    r = _q(z, "host.d-to-d.example.org", wire.A)  # every other type follows both DNAMEs
    assert [(t, ttl) for _, t, ttl, _ in _rr(r.answer)] == [
        (wire.DNAME, 600), (wire.CNAME, 600), (wire.DNAME, 1800), (wire.CNAME, 1800), (wire.A, 3600)]


@pytest.mark.parametrize("hops", [8, 9, 10, 12, 20])
def test_long_chains_out_of_the_zone_and_below_an_ent(tmp_path, hops):
    z = _chains(tmp_path)
    r = _q(z, f"h{hops}o-1.example.org")  # out of the zone: the chain, no authority
    assert r.rcode == wire.NOERROR and _types(r.answer) == [wire.CNAME] * hops
    assert not r.authority and not r.extra_authority
    r = _q(z, f"h{hops}n-1.example.org")  # data below an empty non-terminal
    assert _types(r.answer) == [wire.CNAME] * hops + [wire.A] and r.extra_authority
    r = _q(z, f"h{hops}x-1.example.org", wire.MX)  # NXDOMAIN whatever the type
    assert r.rcode == wire.NXDOMAIN and len(r.answer) == hops and _soa_only(r)


def test_cname_loops_give_each_record_once(tmp_path):
    """A CNAME to itself, and a wildcard CNAME whose target is a name it
    covers: the CNAME once, NOERROR, no authority. NSD 4.6 repeats the
    second one (x.wl CNAME x.wl twice); RFC 2181 s5 has servers suppress
    identical records (docs/testing.md, the documented NSD deviations)."""
    z = _chains(tmp_path)
    for name in ("self.example.org", "x.wl.example.org"):
        r = _q(z, name)
        assert r.rcode == wire.NOERROR and _rr(r.answer) == [(name, wire.CNAME, 3600, name)], name
        assert not r.authority and not r.extra_authority
    r = _q(z, "foo.wl.example.org")  # entered from another covered name: both CNAMEs, each once
    assert [(o, rd) for o, _, _, rd in _rr(r.answer)] == [
        ("foo.wl.example.org", "x.wl.example.org"), ("x.wl.example.org", "x.wl.example.org")]


def test_data_below_a_dname_is_occluded(tmp_path):
    """NSD refuses such a zone, so only here: loaded anyway, the DNAME wins
    and the data below its owner is never shown (RFC 6672 s2.4)."""
    p = tmp_path / "z.zone"
    p.write_text("$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
                 "d DNAME t\nhidden.d A 192.0.2.9\nhidden.t A 192.0.2.10\n")
    z = Zone.load(p, "example.net")
    r = _q(z, "hidden.d.example.net")
    assert _types(r.answer) == [wire.DNAME, wire.CNAME, wire.A]
    assert _rr(r.answer)[-1] == ("hidden.t.example.net", wire.A, 300, bytes([192, 0, 2, 10]))
