"""PROXY protocol v1/v2 (takedown.net.proxy): parsing, building, partial input,
malformed headers, TLVs, CRC32C, the emulated clock TLV, fuzzing, and nginx
as an independent parser of the headers we build."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.net import proxy
from takedown.net.proxy import (
    MAX_HEADER,
    MAX_V1_HEADER,
    MAX_V2_HEADER,
    PROXY_V2_SIGNATURE,
    TLV_TAKEDOWN_CLOCK,
    ProxyError,
    ProxyHeader,
    build_v1,
    build_v2,
    clock_tlv,
    crc32c,
    decode_clock,
    encode_clock,
    parse_proxy,
)

SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"  # spec 2.2, byte by byte


def hdr(version, local, src=None, sport=None, dst=None, dport=None, tlvs=(), dgram=False):
    return ProxyHeader(version, local, src, sport, dst, dport, tuple(tlvs), dgram)


# ----------------------------------------------------------------- detection


def test_signature_constant():
    assert PROXY_V2_SIGNATURE == SIG
    assert MAX_V1_HEADER == 107 and MAX_V2_HEADER == 4096 and MAX_HEADER == 4096


@pytest.mark.parametrize("data", [b"", b"P", b"PR", b"PRO", b"PROX", b"\r", b"\r\n", b"\r\n\r\n\x00\r\nQUI", SIG[:11]])
def test_undecided_prefixes_need_more(data):
    assert parse_proxy(data) is None


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"G",
        b"\x16\x03\x01\x02\x00",  # a TLS record
        b"PUT / HTTP/1.1\r\n",  # 'P' but not PROXY: decided at the 2nd byte
        b"PROXZ",
        b"\r\n\r\n\x00\r\nQUIZ",
        b"\r\nGET",
        b"\x00",
        b"SSH-2.0-x\r\n",
    ],
)
def test_not_a_proxy_header(data):
    assert parse_proxy(data) == (None, 0)


def test_decided_at_the_first_mismatching_byte():
    assert parse_proxy(b"PU") == (None, 0)
    assert parse_proxy(b"\r\n\r\n\x01") == (None, 0)
    assert parse_proxy(bytearray(b"GET")) == (None, 0)


# ------------------------------------------------------------------------ v1


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", hdr(1, False, "192.168.0.1", 56324, "192.168.0.11", 443)),
        (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
         hdr(1, False, "255.255.255.255", 65535, "255.255.255.255", 65535)),
        (b"PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", hdr(1, False, "0.0.0.0", 0, "10.0.0.1", 0)),
        (b"PROXY TCP6 2001:DB8::1 2001:db8:0:0:0:0:0:2 1 2\r\n", hdr(1, False, "2001:db8::1", 1, "2001:db8::2", 2)),
        (b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1024 8443\r\n", hdr(1, False, "::ffff:192.0.2.1", 1024, "::1", 8443)),
        (b"PROXY UNKNOWN\r\n", hdr(1, True)),
        (b"PROXY UNKNOWN ffff:f::1 whatever, ignored 1 2\r\n", hdr(1, True)),
    ],
)
def test_v1_valid(line, expected):
    payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert parse_proxy(line + payload) == (expected, len(line))
    assert parse_proxy(line) == (expected, len(line))


def test_v1_longest_lines():
    ip6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    tcp6 = f"PROXY TCP6 {ip6} {ip6} 65535 65535\r\n".encode()
    assert len(tcp6) == 104
    assert parse_proxy(tcp6)[1] == 104
    worst = f"PROXY UNKNOWN {ip6} {ip6} 65535 65535\r\n".encode()
    assert len(worst) == 107  # the spec's worst case: accepted
    assert parse_proxy(worst + b"data") == (hdr(1, True), 107)
    too_long = worst[:-2] + b"0\r\n"  # 108 bytes: CRLF not within the first 107
    with pytest.raises(ProxyError, match="no CRLF"):
        parse_proxy(too_long)


def test_v1_no_crlf_within_107_bytes_is_an_error_not_need_more():
    assert parse_proxy(b"PROXY UNKNOWN " + b"x" * 92) is None  # 106 bytes: CRLF still possible
    with pytest.raises(ProxyError):
        parse_proxy(b"PROXY UNKNOWN " + b"x" * 93)  # 107 bytes, no CRLF


@pytest.mark.parametrize(
    "line, why",
    [
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "bare LF"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX", "CR not followed"),
        (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n", "CR not followed"),
        (b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "single space"),
        (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "single spaces"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "single spaces"),
        (b"PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "single space"),
        (b"PROXY\r\n", "single space"),
        (b"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "single space"),
        (b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"),
        (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"),
        (b"PROXY UNKNOWNX\r\n", "single spaces"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "single spaces"),
        (b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "IPv4 source"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", "IPv4 destination"),
        (b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "IPv4 source"),
        (b"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "IPv4 source"),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "IPv4 source"),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "IPv6 source"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "IPv6 source"),
        (b"PROXY TCP6 ::1::2 ::1 1 2\r\n", "IPv6 source"),
        (b"PROXY TCP6 12345::1 ::1 1 2\r\n", "IPv6 source"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "source port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "destination port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "source port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "source port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xd9\xa3\r\n", "destination port"),  # Arabic-Indic digit
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "single spaces"),
    ],
)
def test_v1_malformed(line, why):
    with pytest.raises(ProxyError, match=why):
        parse_proxy(line)


def test_v1_every_prefix_needs_more():
    for line in (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 1\r\n",
        b"PROXY UNKNOWN\r\n",
    ):
        for i in range(len(line)):
            assert parse_proxy(line[:i]) is None, line[:i]
        assert parse_proxy(line)[1] == len(line)


def test_v1_errors_early_on_a_bare_lf():
    with pytest.raises(ProxyError):
        parse_proxy(b"PROXY TCP4\n")


# ------------------------------------------------------------------------ v2


def test_v2_tcp4_hand_built():
    """The spec's layout written out by hand, independently of build_v2."""
    data = (
        SIG + b"\x21\x11\x00\x0c"  # v2 PROXY, TCP over IPv4, 12 address bytes
        + bytes([192, 0, 2, 1]) + bytes([198, 51, 100, 7])
        + (40000).to_bytes(2, "big") + (443).to_bytes(2, "big")
    )
    assert parse_proxy(data + b"\x16\x03\x01") == (hdr(2, False, "192.0.2.1", 40000, "198.51.100.7", 443), 28)
    assert build_v2("192.0.2.1", 40000, "198.51.100.7", 443) == data


def test_v2_udp6_hand_built():
    src = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    dst = socket.inet_pton(socket.AF_INET6, "2001:db8::53")
    data = SIG + b"\x21\x22\x00\x24" + src + dst + b"\x13\x88\x00\x35"
    assert parse_proxy(data) == (hdr(2, False, "2001:db8::1", 5000, "2001:db8::53", 53, dgram=True), 52)
    assert build_v2("2001:db8::1", 5000, "2001:db8::53", 53, dgram=True) == data


@pytest.mark.parametrize(
    "args, kw",
    [
        (("10.1.2.3", 1, "10.9.8.7", 2), {}),
        (("10.1.2.3", 65535, "10.9.8.7", 0), {"dgram": True}),
        (("2001:db8::1", 1, "2001:db8::2", 2), {}),
        (("::ffff:192.0.2.1", 1, "::1", 2), {}),
        (("2001:db8::1", 1, "2001:db8::2", 2), {"dgram": True}),
    ],
)
def test_v2_roundtrip(args, kw):
    tlvs = [(proxy.PP2_TYPE_AUTHORITY, b"bot.example"), (proxy.PP2_TYPE_NOOP, b""), clock_tlv(1_700_000_000.5)]
    data = build_v2(*args, tlvs, **kw)
    h, n = parse_proxy(data + b"rest")
    assert n == len(data)
    assert (h.version, h.local, h.src_ip, h.src_port, h.dst_ip, h.dst_port) == (2, False, *args)
    assert h.dgram == kw.get("dgram", False)
    assert h.tlvs == tuple(tlvs)
    assert h.tlv(proxy.PP2_TYPE_AUTHORITY) == b"bot.example"
    assert h.tlv(0x30) is None
    assert h.clock == 1_700_000_000.5


def test_v2_local_ignores_family_and_block():
    data = build_v2(None, None, None, None)
    assert data == SIG + b"\x20\x00\x00\x00"
    assert parse_proxy(data + b"GET") == (hdr(2, True), 16)
    # LOCAL with a family and an address block anyway: both ignored (spec 2.2).
    odd = SIG + b"\x20\x11\x00\x0c" + bytes(12)
    assert parse_proxy(odd) == (hdr(2, True), 28)
    odd_family = SIG + b"\x20\xff\x00\x03abc"
    assert parse_proxy(odd_family) == (hdr(2, True), 19)


@pytest.mark.parametrize(
    "fam, block",
    [
        (0x00, b""),  # AF_UNSPEC
        (0x00, b"\x01\x00\x01x"),  # AF_UNSPEC with bytes: ignored
        (0x10, bytes(12)),  # AF_INET, UNSPEC transport: address information ignored
        (0x20, bytes(36)),
        (0x30, bytes(216)),
    ],
)
def test_v2_proxy_without_usable_address(fam, block):
    data = SIG + bytes([0x21, fam]) + len(block).to_bytes(2, "big") + block
    assert parse_proxy(data) == (hdr(2, True), len(data))


def test_v2_unix_is_local_with_tlvs():
    path = b"/run/proxy.sock".ljust(108, b"\0")
    block = path + path + b"\x05\x00\x02id"
    for fam, dgram in ((0x31, False), (0x32, True)):
        data = SIG + bytes([0x21, fam]) + len(block).to_bytes(2, "big") + block
        assert parse_proxy(data) == (hdr(2, True, tlvs=[(5, b"id")], dgram=dgram), len(data))


@pytest.mark.parametrize(
    "data, why",
    [
        (SIG + b"\x11", "version 1"),
        (SIG + b"\x31", "version 3"),
        (SIG + b"\x22", "unknown command"),
        (SIG + b"\x2f", "unknown command"),
        (SIG + b"\x21\x41", "family"),
        (SIG + b"\x21\x13", "family"),
        (SIG + b"\x21\x11\x00\x08" + bytes(8), "address block"),
        (SIG + b"\x21\x21\x00\x0c" + bytes(12), "address block"),
        (SIG + b"\x21\x31\x00\x24" + bytes(36), "address block"),
        (SIG + b"\x21\x11\x00\x0e" + bytes(12) + b"\x04\x00", "truncated TLV"),
        (SIG + b"\x21\x11\x00\x10" + bytes(12) + b"\x04\x00\x02x", "runs past"),
        (SIG + b"\x21\x11\x0f\xf1", "cap"),  # 16 + 4081 > 4096, refused from 16 bytes
        (SIG + b"\x21\x11\xff\xff", "cap"),
    ],
)
def test_v2_malformed(data, why):
    with pytest.raises(ProxyError, match=why):
        parse_proxy(data)


def test_v2_cap_boundary():
    big = build_v2("10.0.0.1", 1, "10.0.0.2", 2, [(4, bytes(MAX_V2_HEADER - 16 - 12 - 3))])
    assert len(big) == MAX_V2_HEADER
    assert parse_proxy(big)[1] == MAX_V2_HEADER
    with pytest.raises(ValueError):
        build_v2("10.0.0.1", 1, "10.0.0.2", 2, [(4, bytes(MAX_V2_HEADER - 16 - 12 - 2))])


def test_v2_every_prefix_needs_more():
    for data in (
        build_v2("10.0.0.1", 1, "10.0.0.2", 2, [clock_tlv(1.0)], crc=True),
        build_v2("2001:db8::1", 1, "2001:db8::2", 2, [(0xE5, b"x" * 300)]),
        build_v2(None, None, None, None),
    ):
        for i in range(len(data)):
            assert parse_proxy(data[:i]) is None, i
        assert parse_proxy(data)[1] == len(data)


# --------------------------------------------------------------------- CRC32C


def test_crc32c_known_values():
    # RFC 3720 B.4 / the usual CRC-32C check value.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of 0xff


def test_crc32c_tlv_verified():
    good = build_v2("10.0.0.1", 1, "10.0.0.2", 2, [(2, b"example.org")], crc=True)
    h, n = parse_proxy(good)
    assert n == len(good) and h.tlvs[-1][0] == proxy.PP2_TYPE_CRC32C
    # Recompute by the spec's recipe, independently: zero the field, CRC the header.
    value = h.tlv(proxy.PP2_TYPE_CRC32C)
    zeroed = good[: len(good) - 4] + b"\0\0\0\0"
    assert int.from_bytes(value, "big") == crc32c(zeroed)
    for i in range(12, len(good)):  # any flipped bit after the signature is caught
        bad = bytearray(good)
        bad[i] ^= 0x01
        try:
            r = parse_proxy(bytes(bad))
        except ProxyError:
            continue
        if i in (12, 13):
            # PROXY became LOCAL (0x20), or the transport UNSPEC (0x10): the
            # block, CRC included, is ignored and the real peer stands.
            assert r == (hdr(2, True), len(good)), i
            continue
        if i == len(good) - 7:  # the CRC TLV's own type byte: no CRC TLV any more (it is optional)
            assert r[0].tlv(proxy.PP2_TYPE_CRC32C) is None
            continue
        assert r is None, i  # a flip in the length can also make it incomplete


def test_crc32c_tlv_wrong_size_or_repeated():
    base = SIG + b"\x21\x11"
    block = bytes(12) + b"\x03\x00\x02ab"
    with pytest.raises(ProxyError, match="CRC32C"):
        parse_proxy(base + len(block).to_bytes(2, "big") + block)
    block = bytes(12) + b"\x03\x00\x04abcd\x03\x00\x04abcd"
    with pytest.raises(ProxyError, match="CRC32C"):
        parse_proxy(base + len(block).to_bytes(2, "big") + block)


# ---------------------------------------------------------------------- clock


def test_clock_tlv_encoding():
    assert TLV_TAKEDOWN_CLOCK == 0xE0
    assert proxy.PP2_TYPE_MIN_CUSTOM <= TLV_TAKEDOWN_CLOCK <= proxy.PP2_TYPE_MAX_CUSTOM
    assert encode_clock(0) == bytes(8)
    assert encode_clock(1.5) == struct.pack("!Q", 1_500_000)
    assert encode_clock(1_700_000_000.123456) == (1_700_000_000_123_456).to_bytes(8, "big")
    assert decode_clock((1_700_000_000_123_456).to_bytes(8, "big")) == 1_700_000_000.123456
    assert clock_tlv(2.0) == (0xE0, struct.pack("!Q", 2_000_000))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            encode_clock(bad)
    with pytest.raises(ProxyError):
        decode_clock(b"\0" * 7)
    h, _ = parse_proxy(build_v2("10.0.0.1", 1, "10.0.0.2", 2, [(0xE0, b"\0\0")]))
    with pytest.raises(ProxyError):
        _ = h.clock
    h, _ = parse_proxy(build_v2("10.0.0.1", 1, "10.0.0.2", 2))
    assert h.clock is None


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_clock_roundtrip_to_the_microsecond(t):
    assert abs(decode_clock(encode_clock(t)) - t) <= 0.5e-6 + abs(t) * 1e-15


# -------------------------------------------------------------------- builders


def test_build_v1():
    assert build_v1(("192.0.2.1", 1), ("192.0.2.2", 2)) == b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"
    assert build_v1(("2001:DB8::1", 1), ("::1", 2)) == b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
    assert build_v1(None, None) == b"PROXY UNKNOWN\r\n"
    for bad in ((("192.0.2.1", 1), ("::1", 2)), (("192.0.2.1", 1), None), (("192.0.2.1", 70000), ("192.0.2.2", 1))):
        with pytest.raises(ValueError):
            build_v1(*bad)


def test_build_v2_rejects_bad_input():
    for args in (
        ("10.0.0.1", 1, "::1", 2),
        ("10.0.0.1", None, "10.0.0.2", 2),
        (None, 1, None, None),
        ("10.0.0.1", 1, "10.0.0.2", 65536),
    ):
        with pytest.raises(ValueError):
            build_v2(*args)
    with pytest.raises(ValueError):
        build_v2("10.0.0.1", 1, "10.0.0.2", 2, [(256, b"")])


@given(
    st.one_of(
        st.tuples(st.ip_addresses(v=4), st.ip_addresses(v=4)),
        st.tuples(st.ip_addresses(v=6), st.ip_addresses(v=6)),
    ),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.lists(st.tuples(st.integers(0, 255).filter(lambda t: t != 3), st.binary(max_size=40)), max_size=5),
    st.booleans(),
    st.booleans(),
)
def test_v2_and_v1_build_parse_roundtrip(addrs, sport, dport, tlvs, dgram, crc):
    s, d = (socket.inet_ntop(socket.AF_INET if a.version == 4 else socket.AF_INET6, a.packed) for a in addrs)
    data = build_v2(str(addrs[0]), sport, str(addrs[1]), dport, tlvs, dgram=dgram, crc=crc)
    h, n = parse_proxy(data + b"\x00app")
    assert n == len(data)
    assert (h.src_ip, h.src_port, h.dst_ip, h.dst_port, h.dgram, h.local) == (s, sport, d, dport, dgram, False)
    assert h.tlvs[: len(tlvs)] == tuple(tlvs)
    line = build_v1((str(addrs[0]), sport), (str(addrs[1]), dport))
    h1, n1 = parse_proxy(line + b"app")
    assert n1 == len(line) <= MAX_V1_HEADER
    assert (h1.src_ip, h1.src_port, h1.dst_ip, h1.dst_port, h1.local) == (s, sport, d, dport, False)


# ---------------------------------------------------------------------- fuzzing


def _check(data: bytes) -> None:
    try:
        r = parse_proxy(data)
    except ProxyError:
        return
    if r is None:
        assert len(data) < MAX_HEADER  # with MAX_HEADER bytes a decision is always reached
        return
    h, n = r
    if h is None:
        assert n == 0
    else:
        assert isinstance(h, ProxyHeader) and 0 < n <= len(data) and n <= MAX_HEADER


_VALID = [
    b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
    b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
    b"PROXY UNKNOWN\r\n",
    build_v2("10.0.0.1", 1, "10.0.0.2", 2, [clock_tlv(5.0), (2, b"a.example")], crc=True),
    build_v2("2001:db8::1", 1, "2001:db8::2", 2, [(0x20, b"\x01\0\0\0\0\x21\x00\x07TLSv1.3")]),
    build_v2(None, None, None, None),
]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data):
    _check(data)
    _check(b"PROXY " + data)
    _check(SIG + data)


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_VALID),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 400),
    st.binary(max_size=20),
)
def test_fuzz_mutated_valid_headers(base, flips, cut, tail):
    data = bytearray(base)
    for i, v in flips:
        data[i % len(data)] = v
    _check(bytes(data))
    _check(bytes(data[: cut % (len(data) + 1)]))
    _check(bytes(data) + tail)
    _check(bytes(data[: cut % (len(data) + 1)]) + tail)


def test_fuzz_maximal_inputs_always_decide():
    for data in (b"PROXY " + b"A" * 5000, SIG + b"\x21\x11\x0f\xf0" + bytes(5000), b"\r\n\r\n" + bytes(5000)):
        try:
            assert parse_proxy(data[:MAX_HEADER]) is not None
        except ProxyError:
            pass


# ------------------------------------------- nginx: an independent PROXY parser

NGINX = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")


@pytest.fixture(scope="module")
def nginx_pp(tmp_path_factory):
    """nginx (Debian's, 1.22) with a ``listen ... proxy_protocol`` server that
    echoes what it parsed from our headers."""
    if not NGINX:
        pytest.skip("nginx not installed")
    work = tmp_path_factory.mktemp("nginx-pp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "tmp").mkdir()
    conf = work / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp;
    proxy_temp_path {work}/tmp;
    fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp;
    scgi_temp_path {work}/tmp;
    server {{
        listen 127.0.0.1:{port} proxy_protocol;
        location / {{
            return 200 "[$proxy_protocol_addr] [$proxy_protocol_port] [$proxy_protocol_server_addr] [$proxy_protocol_server_port]";
        }}
    }}
}}
""")
    proc = subprocess.Popen(
        [NGINX, "-p", str(work), "-e", str(work / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"nginx did not start: {(work / 'error.log').read_text()[-500:]}")
                time.sleep(0.05)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _ask_nginx(port: int, header: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(header + b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        out = b""
        for _ in range(100):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode() + " " + body.decode()


@pytest.mark.parametrize(
    "src, sport, dst, dport",
    [
        ("192.0.2.1", 40000, "198.51.100.7", 443),
        ("2001:db8::1", 1, "2001:db8::2", 65535),
    ],
)
def test_nginx_reads_our_headers_as_we_do(nginx_pp, src, sport, dst, dport):
    want = f"HTTP/1.1 200 OK [{src}] [{sport}] [{dst}] [{dport}]"
    v2 = build_v2(src, sport, dst, dport, [clock_tlv(1_700_000_000.0), (2, b"bot.example")], crc=True)
    v1 = build_v1((src, sport), (dst, dport))
    for header in (v2, v1):
        assert _ask_nginx(nginx_pp, header) == want
        h, n = parse_proxy(header)
        assert n == len(header) and (h.src_ip, h.src_port, h.dst_ip, h.dst_port) == (src, sport, dst, dport)


def test_nginx_and_we_agree_on_local_and_unknown(nginx_pp):
    for header in (build_v2(None, None, None, None), build_v1(None, None)):
        assert _ask_nginx(nginx_pp, header) == "HTTP/1.1 200 OK [] [] [] []"
        assert parse_proxy(header)[0].local


def test_nginx_and_we_both_refuse_a_bad_v1_line(nginx_pp):
    bad = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"
    with pytest.raises(ProxyError):
        parse_proxy(bad)
    assert not _ask_nginx(nginx_pp, bad).startswith("HTTP/1.1 200")
