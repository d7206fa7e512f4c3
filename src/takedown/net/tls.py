"""TLS ClientHello parsing and client fingerprints (JA3, JA4), sans-I/O.

A bot that connects to the sinkhole on a TLS port sends a ClientHello before
anything else; that message alone names the TLS stack that built it. The
sensor feeds the first bytes of the connection to :func:`parse_client_hello`
until it returns a :class:`ClientHello` (None means: read more). No sockets,
no handshake: the sinkhole records the hello, it does not need to answer it.

The hello may span several TLS records (a large post-quantum key share, or a
client that fragments on purpose); records are reassembled up to
:data:`MAX_HELLO_BYTES` of input.

Fingerprints:

* JA3 (Salesforce, https://github.com/salesforce/ja3): ``md5`` of
  ``SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats``,
  decimal values joined with ``-``, GREASE values (RFC 8701) removed;
  SSLVersion is the ClientHello's legacy_version.
* JA4 (FoxIO, https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md),
  TLS-over-TCP form ``t``: see :func:`ja4` for each part.

Checked against published vectors (Salesforce's test captures, FoxIO's test
captures) and against OpenSSL's own trace of hellos sent by curl, ``openssl
s_client`` and Python's ``ssl``: tests/test_net_tls.py, docs/tls-fingerprints.md.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1

# Extension types used here (IANA TLS ExtensionType registry).
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43

MAX_HELLO_BYTES = 16384  # record headers included: past this the input is refused
MAX_RECORD = 16384  # TLSPlaintext.length limit, 2^14 (RFC 8446 s5.1)

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))  # RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}


class TlsError(ValueError):
    """The bytes are not a TLS ClientHello, or a malformed one."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    record_version: int  # of the first record
    legacy_version: int  # ClientHello.legacy_version (client_version before TLS 1.3)
    versions: tuple[int, ...]  # supported_versions (43), GREASE included; () if absent
    ciphers: tuple[int, ...]  # in order, GREASE included (fingerprints drop GREASE)
    extensions: tuple[int, ...]  # in order, GREASE included
    sni: str | None  # first host_name of server_name (0), lowercased
    alpn: tuple[str, ...]  # (16), in order; non-ASCII bytes shown as \xNN
    groups: tuple[int, ...]  # supported_groups (10), GREASE included
    ec_point_formats: tuple[int, ...]  # (11)
    sig_algs: tuple[int, ...]  # signature_algorithms (13), GREASE included
    ja3: str
    ja3_hash: str
    ja4: str
    ja4_r: str = ""  # JA4 before hashing (FoxIO's "raw" form), for debugging and docs

    @property
    def version(self) -> int:
        """The highest version offered: supported_versions without GREASE, else legacy_version."""
        real = [v for v in self.versions if v not in GREASE]
        return max(real) if real else self.legacy_version


def looks_like_tls(first: bytes | bytearray) -> bool:
    """True when the first 3 bytes open a TLS handshake record: 0x16 0x03 0x00-0x04.

    Needs 3 bytes; fewer give False (use :func:`parse_client_hello`, which
    says "need more", to decide on shorter input).
    """
    return len(first) >= 3 and first[0] == CONTENT_HANDSHAKE and first[1] == 3 and first[2] <= 4


def parse_client_hello(data: bytes | bytearray) -> ClientHello | None:
    """Parse the ClientHello at the start of a client's byte stream.

    Returns None when more bytes are needed (every proper prefix of a valid
    hello gives None); raises :class:`TlsError` as soon as the bytes seen
    prove the stream is not a TLS ClientHello, is malformed, or would exceed
    :data:`MAX_HELLO_BYTES`. Bytes after the hello are ignored.
    """
    msg = _reassemble(data)
    if msg is None:
        return None
    return _parse_body(msg, data[1] << 8 | data[2])


def _reassemble(data: bytes | bytearray) -> bytes | None:
    """The ClientHello body (after the 4-byte handshake header), or None.

    Every check uses only bytes already present or lengths already declared,
    so a proper prefix of a valid hello always gives None.
    """
    n = len(data)
    pos = 0
    hs = bytearray()  # handshake bytes gathered from the records so far
    need = None  # handshake message length incl. its 4-byte header, once known
    while True:
        if pos >= n:
            return None
        if data[pos] != CONTENT_HANDSHAKE:
            what = "does not start with" if pos == 0 else "is interrupted by a record other than"
            raise TlsError(f"stream {what} a TLS handshake record (type {data[pos]})")
        if pos + 1 < n and data[pos + 1] != 3:
            raise TlsError(f"record version major {data[pos + 1]}, expected 3")
        if pos == 0 and n > 2 and data[2] > 4:
            raise TlsError(f"record version 3.{data[2]}, expected 3.0-3.4")
        if pos + 5 > n:
            return None
        rlen = data[pos + 3] << 8 | data[pos + 4]
        if rlen == 0:
            raise TlsError("zero-length handshake record")
        if rlen > MAX_RECORD:
            raise TlsError(f"record of {rlen} bytes exceeds 2^14")
        before = len(hs)
        avail = min(rlen, n - pos - 5)
        hs += data[pos + 5 : pos + 5 + avail]
        if hs and hs[0] != HANDSHAKE_CLIENT_HELLO:
            raise TlsError(f"first handshake message is type {hs[0]}, not ClientHello")
        if need is None and len(hs) >= 4:
            need = 4 + (hs[1] << 16 | hs[2] << 8 | hs[3])
            if need < 4 + 38:
                raise TlsError(f"ClientHello of {need - 4} bytes is too short")
            if need + 5 > MAX_HELLO_BYTES:
                raise TlsError(f"ClientHello of {need - 4} bytes exceeds the {MAX_HELLO_BYTES}-byte cap")
        if need is not None:
            if before + rlen >= need:  # this record completes the hello
                if pos + 5 + (need - before) > MAX_HELLO_BYTES:
                    raise TlsError(f"ClientHello exceeds the {MAX_HELLO_BYTES}-byte cap")
                if len(hs) < need:
                    return None
                return bytes(hs[4:need])
            if pos + 5 + rlen + 6 > MAX_HELLO_BYTES:  # the next record would end past the cap
                raise TlsError(f"ClientHello exceeds the {MAX_HELLO_BYTES}-byte cap")
        if avail < rlen:
            return None
        pos += 5 + rlen


class _Reader:
    """Bounds-checked reads from an extension body."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes):
        self.buf, self.pos, self.end = buf, 0, len(buf)

    def take(self, k: int, what: str) -> bytes:
        if self.pos + k > self.end:
            raise TlsError(f"ClientHello: {what} runs past its enclosing length")
        out = self.buf[self.pos : self.pos + k]
        self.pos += k
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def vec(self, width: int, what: str) -> bytes:
        ln = int.from_bytes(self.take(width, f"{what} length"), "big")
        return self.take(ln, what)

    def done(self, what: str) -> None:
        if self.pos != self.end:
            raise TlsError(f"ClientHello: {self.end - self.pos} stray bytes after {what}")


def _u16s(raw: bytes, what: str) -> tuple[int, ...]:
    if len(raw) % 2:
        raise TlsError(f"ClientHello: {what} has an odd length")
    return struct.unpack(f"!{len(raw) // 2}H", raw)


def _parse_body(body: bytes, record_version: int) -> ClientHello:
    end = len(body)  # >= 38, checked by _reassemble
    legacy_version = body[0] << 8 | body[1]
    pos = 34  # after legacy_version and random
    sid_len = body[pos]
    if sid_len > 32:
        raise TlsError(f"ClientHello: session_id of {sid_len} bytes (max 32)")
    pos += 1 + sid_len
    if pos + 2 > end:
        raise TlsError("ClientHello: cipher_suites length runs past its enclosing length")
    clen = body[pos] << 8 | body[pos + 1]
    pos += 2
    if pos + clen > end:
        raise TlsError("ClientHello: cipher_suites runs past its enclosing length")
    ciphers = _u16s(body[pos : pos + clen], "cipher_suites")
    pos += clen
    if pos + 1 > end or pos + 1 + body[pos] > end:
        raise TlsError("ClientHello: compression_methods runs past its enclosing length")
    pos += 1 + body[pos]
    exts: list[int] = []
    bodies: dict[int, bytes] = {}
    if pos < end:  # extensions are optional before TLS 1.3
        if pos + 2 > end:
            raise TlsError("ClientHello: extensions length runs past its enclosing length")
        stop = pos + 2 + (body[pos] << 8 | body[pos + 1])
        if stop > end:
            raise TlsError("ClientHello: extensions runs past its enclosing length")
        if stop < end:
            raise TlsError(f"ClientHello: {end - stop} stray bytes after extensions")
        pos += 2
        while pos < stop:
            if pos + 4 > stop:
                raise TlsError("ClientHello: extension header runs past its enclosing length")
            t = body[pos] << 8 | body[pos + 1]
            ln = body[pos + 2] << 8 | body[pos + 3]
            pos += 4
            if pos + ln > stop:
                raise TlsError(f"ClientHello: extension {t} runs past its enclosing length")
            exts.append(t)
            if t not in bodies:  # a repeated type (forbidden, RFC 8446 s4.2): the first counts
                bodies[t] = body[pos : pos + ln]
            pos += ln
    sni = alpn_raw = None
    versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    points: tuple[int, ...] = ()
    sig_algs: tuple[int, ...] = ()
    if EXT_SERVER_NAME in bodies:
        sni = _server_name(bodies[EXT_SERVER_NAME])
    if EXT_ALPN in bodies:
        alpn_raw = _alpn(bodies[EXT_ALPN])
    if EXT_SUPPORTED_GROUPS in bodies:
        groups = _u16s(_whole_vec(bodies[EXT_SUPPORTED_GROUPS], 2, "supported_groups"), "supported_groups")
    if EXT_EC_POINT_FORMATS in bodies:
        points = tuple(_whole_vec(bodies[EXT_EC_POINT_FORMATS], 1, "ec_point_formats"))
    if EXT_SIGNATURE_ALGORITHMS in bodies:
        sig_algs = _u16s(_whole_vec(bodies[EXT_SIGNATURE_ALGORITHMS], 2, "signature_algorithms"), "signature_algorithms")
    if EXT_SUPPORTED_VERSIONS in bodies:
        versions = _u16s(_whole_vec(bodies[EXT_SUPPORTED_VERSIONS], 1, "supported_versions"), "supported_versions")
    ext_t = tuple(exts)
    ja3_s = ja3_string(legacy_version, ciphers, ext_t, groups, points)
    ja4_s, ja4_raw = _ja4(legacy_version, versions, ciphers, ext_t, alpn_raw[0] if alpn_raw else None, sig_algs)
    return ClientHello(
        record_version=record_version,
        legacy_version=legacy_version,
        versions=versions,
        ciphers=ciphers,
        extensions=ext_t,
        sni=sni,
        alpn=tuple(_text(p) for p in alpn_raw or ()),
        groups=groups,
        ec_point_formats=points,
        sig_algs=sig_algs,
        ja3=ja3_s,
        ja3_hash=hashlib.md5(ja3_s.encode("ascii"), usedforsecurity=False).hexdigest(),
        ja4=ja4_s,
        ja4_r=ja4_raw,
    )


def _whole_vec(body: bytes, width: int, what: str) -> bytes:
    r = _Reader(body)
    v = r.vec(width, what)
    r.done(what)
    return v


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


def _server_name(body: bytes) -> str | None:
    """The first host_name (type 0) of a ServerNameList (RFC 6066 s3)."""
    r = _Reader(_whole_vec(body, 2, "server_name list"))
    host = None
    while r.pos < r.end:
        kind = r.u8("server_name type")
        name = r.vec(2, "server_name")
        if kind == 0 and host is None:
            host = _text(name).lower()
    return host


def _alpn(body: bytes) -> tuple[bytes, ...]:
    """ProtocolNameList (RFC 7301 s3.1); empty names are kept (JA4 has a rule for them)."""
    r = _Reader(_whole_vec(body, 2, "ALPN list"))
    out = []
    while r.pos < r.end:
        out.append(r.vec(1, "ALPN protocol name"))
    return tuple(out)


# -- fingerprints ---------------------------------------------------------------


def ja3_string(
    legacy_version: int,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    groups: tuple[int, ...],
    point_formats: tuple[int, ...],
) -> str:
    """Salesforce JA3: decimal fields, ``-`` within, ``,`` between, GREASE removed.

    Point formats are 8-bit and never GREASE. A hello without extensions
    gives empty trailing fields ("769,4-5-10,,,").
    """

    def join(values) -> str:
        return "-".join(str(v) for v in values if v not in GREASE)

    return ",".join(
        (str(legacy_version), join(ciphers), join(extensions), join(groups), "-".join(map(str, point_formats)))
    )


def _alnum(b: int) -> bool:
    return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def ja4_alpn(first: bytes | None) -> str:
    """JA4's two ALPN characters from the first ALPN protocol name.

    "00" without ALPN or for an empty first name; its first and last
    characters when both are ASCII alphanumeric (a one-character name gives
    that character twice); otherwise the first and last characters of its
    lowercase hex representation.
    """
    if not first:
        return "00"
    if _alnum(first[0]) and _alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    h = first.hex()
    return h[0] + h[-1]


def _hash12(s: str) -> str:
    return hashlib.sha256(s.encode("ascii")).hexdigest()[:12] if s else "000000000000"


def _ja4(
    legacy_version: int,
    versions: tuple[int, ...],
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    alpn_first: bytes | None,
    sig_algs: tuple[int, ...],
) -> tuple[str, str]:
    """(JA4, JA4_r) for TLS over TCP."""
    if EXT_SUPPORTED_VERSIONS in extensions:
        real = [v for v in versions if v not in GREASE]
        version = _JA4_VERSIONS.get(max(real), "00") if real else "00"
    else:
        version = _JA4_VERSIONS.get(legacy_version, "00")
    cs = [c for c in ciphers if c not in GREASE]
    ex = [e for e in extensions if e not in GREASE]
    sigs = [s for s in sig_algs if s not in GREASE]
    a = (
        f"t{version}{'d' if EXT_SERVER_NAME in ex else 'i'}"
        f"{min(len(cs), 99):02d}{min(len(ex), 99):02d}{ja4_alpn(alpn_first)}"
    )
    b_raw = ",".join(f"{c:04x}" for c in sorted(cs))
    c_exts = ",".join(f"{e:04x}" for e in sorted(e for e in ex if e not in (EXT_SERVER_NAME, EXT_ALPN)))
    c_raw = c_exts
    if c_exts and sigs:
        c_raw += "_" + ",".join(f"{s:04x}" for s in sigs)
    return f"{a}_{_hash12(b_raw)}_{_hash12(c_raw)}", f"{a}_{b_raw}_{c_raw}"
