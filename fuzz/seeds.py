"""Seed corpora and dictionaries of the harnesses, built from the repository's
tests and examples (so they follow the code): the DNS queries dnspython sends
for the example zones, the HTTP requests and ClientHellos of the tests
(published captures of curl, Chrome, OpenSSL: tests/test_net_tls.py), PROXY
headers of both versions, the example zone, operation, rules and scenarios.
``write(target, directory)`` writes one target's seeds, one file each;
``dictionary(target)`` the lines of its libFuzzer dictionary, or None.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from _common import EXAMPLES, REPO, RESPONDER_ZONE, scratch, tests_on_path

_NAMES = ("www.3322.org", "3322.org", "nitol-c2.3322.org", "x.WILD.fuzz.test", "www.fuzz.test", "alias.fuzz.test",
          "far.fuzz.test", "a.b.sub.fuzz.test", "x.old.fuzz.test", "big.fuzz.test", "txt.fuzz.test",
          "fuzz.test", "nope.fuzz.test", "example.com", "waledac.example", "\\000weird.fuzz.test")
_TYPES = ("A", "AAAA", "ANY", "NS", "SOA", "MX", "TXT", "CNAME", "SRV", "AXFR", "IXFR", "DNAME", "TYPE65534")


def dns_queries() -> list[bytes]:
    import dns.edns
    import dns.message
    import dns.opcode
    import dns.rdataclass

    from takedown.clock import encode_clock
    from takedown.dns import wire

    out = []
    for i, name in enumerate(_NAMES):
        for j, rtype in enumerate(_TYPES):
            q = dns.message.make_query(name, rtype)
            q.id = i * 64 + j
            out.append(q.to_wire())
        for kw in ({"use_edns": 0}, {"use_edns": 0, "want_dnssec": True, "payload": 4096},
                   {"use_edns": 1}, {"use_edns": 0, "payload": 100},
                   {"use_edns": 0, "options": [dns.edns.ECSOption("192.0.2.0", 24)]},
                   {"use_edns": 0, "options": [dns.edns.ECSOption("2001:db8::", 56)]},
                   {"use_edns": 0, "options": [dns.edns.GenericOption(wire.EDNS_TAKEDOWN_CLOCK,
                                                                      encode_clock(1_700_000_000.5))]}):
            out.append(dns.message.make_query(name, "A", **kw).to_wire())
    chaos = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
    out.append(chaos.to_wire())
    notify = dns.message.make_query("3322.org", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    out.append(notify.to_wire())
    # a raw question (tests/test_dns_buffer.py's wq), an empty question, a response
    out.append(struct.pack("!HHHHHH", 7, 0, 1, 0, 0, 0) + wire.text_to_wire("n1.buf.test") + struct.pack("!HH", 1, 1))
    out.append(struct.pack("!HHHHHH", 8, 0, 0, 0, 0, 0))
    out.append(struct.pack("!HHHHHH", 9, 0x8000, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01")
    return out


def tls_hellos() -> list[bytes]:
    tests_on_path()
    import test_net_tls as t

    return [v for k, v in vars(t).items() if k.isupper() and isinstance(v, bytes) and v[:1] == b"\x16"]


def http_requests() -> list[bytes]:
    tests_on_path()
    import test_net_connection as c
    import test_net_http as h

    reqs = [h.GET, h.POST, h.CHUNKED, c.GET, c.GATE, c.EXPECT + c.BIG, h.GET + h.POST + h.CHUNKED,
            b"GET / HTTP/1.0\r\n\r\n", b"\r\nGET http://c2.example/x HTTP/1.1\r\nConnection: close\r\n\r\n",
            b"CONNECT c2.example:443 HTTP/1.1\r\nHost: c2.example:443\r\n\r\n",
            b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nxyz",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"]
    return reqs


def proxy_headers() -> list[bytes]:
    from takedown.net import proxy as p

    out = [
        p.build_v1(("192.0.2.1", 40000), ("127.0.0.1", 80)),
        p.build_v1(("2001:db8::1", 40000), ("::1", 80)),
        p.build_v1(None, None),
        p.build_v2("192.0.2.1", 40000, "127.0.0.1", 80),
        p.build_v2("2001:db8::1", 40000, "::1", 443, [(p.PP2_TYPE_ALPN, b"h2"), (p.PP2_TYPE_AUTHORITY, b"c2.example")]),
        p.build_v2("192.0.2.1", 40000, "127.0.0.1", 53, [p.clock_tlv(1_700_000_000.25)], dgram=True),
        p.build_v2("192.0.2.1", 40000, "127.0.0.1", 80, [(p.PP2_TYPE_NOOP, b"")], crc=True),
        p.build_v2(None, None, None, None),
        p.build_v2_clocked4(0xC0000201, 40000, 0x7F000001, 80, 1_700_000_000_250_000),
    ]
    return out + [h + b"GET / HTTP/1.1\r\n\r\n" for h in out[:2]]


def zone_texts() -> list[bytes]:
    example = (EXAMPLES / "3322.org.zone").read_text().replace("3322.org", "fuzz.test")
    return [
        example.encode(),
        RESPONDER_ZONE.encode(),
        b"$ORIGIN fuzz.test.\n$TTL 1h30m\n@ SOA ns1 host ( 1 2 3 4 5 )\nsub 60 IN TXT \"a\\\"b\" \\065\n"
        b"$INCLUDE inc.zone\n$INCLUDE inc.zone deep\n@ CAA 0 issue \"ca.example\"\nx IN TYPE65534 \\# 2 abcd\n",
    ]


def operation_texts() -> list[bytes]:
    tests_on_path()
    from dns_helpers import make_operation

    d = scratch("seed-operation")
    extra = ("\n[http]\nlisten = [\"127.0.0.1:8080\"]\nresponse = \"notice\"\ntrusted_proxies = [\"127.0.0.0/8\"]\n"
             "\n[tls]\nlisten = [\"127.0.0.1:8443\"]\nhandshake = true\n\n[tcp]\nlisten = [\"127.0.0.1:4444\"]\n")
    return [(EXAMPLES / "operation.toml").read_bytes(), make_operation(d).read_bytes(),
            make_operation(d, rrl={"enabled": True, "slip": 0}, extra_toml=extra).read_bytes()]


def rules_texts() -> list[bytes]:
    tests_on_path()
    import test_net_fingerprints as f

    texts = [v for v in vars(f).values() if isinstance(v, str) and "[[rule]]" in v]
    return [(REPO / "src/takedown/net/rules/default.toml").read_bytes()] + [t.encode() for t in texts]


def scenario_texts() -> list[bytes]:
    return [p.read_bytes() for p in sorted((REPO / "src/takedown/p2p/scenarios").glob("*.toml"))]


def _toml_keys(models) -> list[str]:
    from takedown.tomlfile import tables

    words = set()
    for model in models:
        for path, ks in tables(model).items():
            words.update(path)
            words.update(k.name for k in ks)
    return sorted(w for w in words if w)


# target -> (seeds, prefixes): each seed is written once per prefix (the harness's control bytes)
SEEDS = {
    "dns_query": (dns_queries, (b"",)),
    "dns_responder": (dns_queries, (b"\x00", b"\x01", b"\x02", b"\x0e", b"\xf8")),
    "http_request": (http_requests, (b"\x00", b"\x07")),
    "net_connection": (lambda: http_requests() + proxy_headers() + tls_hellos(),
                       (b"\x00\x00", b"\x04\x00", b"\x01\x00", b"\x02\x00", b"\x06\x00", b"\x03\x00", b"\x08\x05")),
    "proxy": (proxy_headers, (b"",)),
    "tls_hello": (tls_hellos, (b"",)),
    "zonefile": (zone_texts, (b"",)),
    "operation": (operation_texts, (b"",)),
    "rules": (rules_texts, (b"",)),
    "scenario": (scenario_texts, (b"",)),
}


def write(target: str, directory: Path) -> int:
    """Write ``target``'s seeds into ``directory``; the number written."""
    make, prefixes = SEEDS[target]
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for seed in make():
        for pre in prefixes:
            data = pre + seed
            (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
            n += 1
    return n


def dictionary(target: str) -> list[str] | None:
    """Lines of ``target``'s libFuzzer dictionary (generated ones: TOML keys
    from the schemas), or None when it has a committed one or none."""
    if target == "operation":
        from takedown.operation import Operation

        return [f'"{w}"' for w in _toml_keys([Operation])]
    if target == "rules":
        from takedown.net.fingerprints import _RulesFile

        return [f'"{w}"' for w in _toml_keys([_RulesFile])]
    if target == "scenario":
        from takedown.p2p.scenario import _File

        return [f'"{w}"' for w in _toml_keys([_File])]
    return None
