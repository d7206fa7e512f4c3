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
