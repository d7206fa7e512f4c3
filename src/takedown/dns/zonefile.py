"""RFC 1035 master files, read fast enough for a 3,000,000-name zone.

Yields ``(line, owner, rtype, ttl, rdata)`` with ``owner`` a lowercased wire
name and ``rdata`` uncompressed wire RDATA. Supports $ORIGIN, $TTL (RFC 2308),
$INCLUDE, '@', relative names, blank owners, TTL and class in either order,
TTL units (1h30m), parentheses, quoted strings, escapes and comments.

Why not ``dns.zone.from_file``: measured here, dnspython loads 300,000 A
records in 17 s at about 850 bytes a name (57 us a record), so a 3M-name
zone would take about 170 s and 2.5 GB before any index of ours. This reader
splits plain lines with ``str.split`` and encodes A, AAAA, NS, CNAME, PTR, MX
and simple TXT itself (about 4 us a record); every other type, and any line
with quotes or escapes in its RDATA, goes through dnspython's own RDATA parser.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.ttl

from takedown.errors import ZoneError

_SPECIAL = re.compile(r'[()"\\]')
_TYPES: dict[str, int] = {}
_NAME_RDATA = {2, 5, 12, 39}  # NS, CNAME, PTR, DNAME: one name
_A, _AAAA, _MX, _TXT, _SOA = 1, 28, 15, 16, 6
_U16 = struct.Struct("!H")


def _rtype(token: str) -> int:
    t = _TYPES.get(token)
    if t is None:
        t = dns.rdatatype.from_text(token)  # raises UnknownRdatatype
        _TYPES[token] = t
    return t


def _labels_to_wire(labels: list[str]) -> bytes:
    out = bytearray()
    for label in labels:
        raw = label.encode("ascii")
        n = len(raw)
        if not 0 < n < 64:
            raise ValueError(f"empty or over-long label in {'.'.join(labels)!r}")
        out.append(n)
        out += raw
    return bytes(out)


class _Names:
    """Text to wire names relative to the current origin."""

    def __init__(self, origin: dns.name.Name):
        self.set_origin(origin)

    def set_origin(self, origin: dns.name.Name) -> None:
        self.origin = origin
        self.origin_wire = origin.to_wire()

    def wire(self, text: str) -> bytes:
        if text == "@":
            return self.origin_wire
        if "\\" in text:
            return dns.name.from_text(text, self.origin).to_wire()
        if text.endswith("."):
            if text == ".":
                return b"\x00"
            w = _labels_to_wire(text[:-1].split(".")) + b"\x00"
        else:
            w = _labels_to_wire(text.split(".")) + self.origin_wire
        if len(w) > 255:
            raise ValueError(f"name {text!r} is longer than 255 octets")
        return w


def _tokens(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, bool, list[str]]]:
    """Logical lines: (first line number, owner left blank, raw tokens).

    Quoted strings are kept with their quotes (so RDATA parsers see them);
    parentheses join physical lines.
    """
    for lineno, line in lines:
        if not _SPECIAL.search(line):
            semi = line.find(";")
            body = line if semi < 0 else line[:semi]
            toks = body.split()
            if toks:
                yield lineno, line[0] in " \t", toks
            continue
        start = lineno
        blank = line[0] in " \t"
        toks: list[str] = []
        depth = 0
        cur: list[str] = []
        while True:
            i, n = 0, len(line)
            while i < n:
                c = line[i]
                if c == ";":
                    break
                if c in " \t\r\n":
                    if cur:
                        toks.append("".join(cur))
                        cur = []
                elif c == "(":
                    depth += 1
                elif c == ")":
                    if depth == 0:
                        raise ZoneError(f"{lineno}: ')' without '('")
                    depth -= 1
                elif c == '"':
                    j = i + 1
                    q = ['"']
                    while True:
                        if j >= n:
                            raise ZoneError(f"{lineno}: unterminated quoted string")
                        ch = line[j]
                        if ch == "\\" and j + 1 < n:
                            q.append(line[j : j + 2])
                            j += 2
                            continue
                        q.append(ch)
                        j += 1
                        if ch == '"':
                            break
                    cur.append("".join(q))
                    i = j
                    continue
                elif c == "\\" and i + 1 < n:
                    cur.append(line[i : i + 2])
                    i += 2
                    continue
                else:
                    cur.append(c)
                i += 1
            if cur:
                toks.append("".join(cur))
                cur = []
            if depth == 0:
                break
            nxt = next(lines, None)
            if nxt is None:
                raise ZoneError(f"{start}: '(' not closed before the end of the file")
            lineno, line = nxt
        if toks:
            yield start, blank, toks


def _numbered(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        yield from enumerate(f, 1)


def _encode(rtype: int, toks: list[str], names: _Names) -> bytes:
    if rtype == _A and len(toks) == 1:
        return socket.inet_pton(socket.AF_INET, toks[0])
    if rtype == _AAAA and len(toks) == 1:
        return socket.inet_pton(socket.AF_INET6, toks[0])
    if rtype in _NAME_RDATA and len(toks) == 1:
        return names.wire(toks[0])
    if rtype == _MX and len(toks) == 2 and toks[0].isdigit():
        return _U16.pack(int(toks[0])) + names.wire(toks[1])
    if rtype == _TXT and not any(('"' in t or "\\" in t) for t in toks):
        return b"".join(bytes((len(t),)) + t.encode("ascii") for t in toks)
    rd = dns.rdata.from_text(dns.rdataclass.IN, rtype, " ".join(toks), names.origin, relativize=False)
    return rd.to_wire()


def _ttl(token: str) -> int:
    """A TTL, in seconds or with units (1h30m). RFC 2181 s8: 0 to 2^31-1,
    whichever way it is written (dnspython's own bound is 2^32-1)."""
    v = int(token) if token.isdigit() else dns.ttl.from_text(token)
    if v > 0x7FFFFFFF:
        raise ValueError(f"TTL {token} is over 2147483647")
    return v


def read_zone(path: str | Path, origin: str) -> Iterator[tuple[int, bytes, int, int, bytes]]:
    """Records of the master file at ``path`` for zone ``origin``.

    Raises :class:`ZoneError` ``"FILE:LINE: reason"`` on the first bad line;
    records outside the zone are errors, as in NSD, not silently dropped.
    """
    path = Path(path)
    zone_origin = dns.name.from_text(origin)
    yield from _read(path, zone_origin, zone_origin, depth=0)


def _read(path: Path, zone_origin: dns.name.Name, origin: dns.name.Name, depth: int):
    if depth > 8:
        raise ZoneError(f"{path}: $INCLUDE nested more than 8 deep")
    names = _Names(origin)
    zone_wire = zone_origin.canonicalize().to_wire()
    default_ttl: int | None = None
    last_ttl: int | None = None
    owner: bytes | None = None
    try:
        lines = _numbered(path)
        for lineno, blank, toks in _tokens(lines):
            try:
                first = toks[0]
                if not blank and first.startswith("$"):
                    d = first.upper()
                    if d == "$ORIGIN" and len(toks) == 2:
                        names.set_origin(dns.name.from_text(toks[1], names.origin))
                    elif d == "$TTL" and len(toks) == 2:
                        default_ttl = _ttl(toks[1])
                    elif d == "$INCLUDE" and len(toks) in (2, 3):
                        inc = Path(toks[1])
                        if not inc.is_absolute():
                            inc = path.parent / inc
                        sub = dns.name.from_text(toks[2], names.origin) if len(toks) == 3 else names.origin
                        yield from _read(inc, zone_origin, sub, depth + 1)
                    else:
                        raise ValueError(f"unsupported or malformed directive {first}")
                    continue
                if blank:
                    if owner is None:
                        raise ValueError("record without an owner name")
                    rest = toks
                else:
                    text = first
                    owner = names.wire(text).lower()
                    if not text.endswith(".") and names.origin_wire.lower() == zone_wire:
                        pass  # relative to the zone's own origin: inside it by construction
                    elif not dns.name.from_wire(owner, 0)[0].is_subdomain(zone_origin):
                        raise ValueError(f"{text} is outside the zone {zone_origin.to_text(True)}")
                    rest = toks[1:]
                ttl = None
                i = 0
                while i < 2 and i < len(rest):
                    t = rest[i]
                    if t[0].isdigit():
                        ttl = _ttl(t)
                    elif t.upper() == "IN":
                        pass
                    elif t.upper() in ("CH", "HS", "CS", "NONE", "ANY") or t.upper().startswith("CLASS"):
                        raise ValueError(f"class {t} is not supported (only IN)")
                    else:
                        break
                    i += 1
                if i >= len(rest):
                    raise ValueError("record without a type")
                rtype = _rtype(rest[i].upper())
                if ttl is None:
                    ttl = default_ttl if default_ttl is not None else last_ttl
                    if ttl is None:
                        raise ValueError("no TTL given and no $TTL before this record")
                else:
                    last_ttl = ttl
                rdata = _encode(rtype, rest[i + 1 :], names)
                if len(rdata) > 65535:
                    raise ValueError("RDATA longer than 65535 octets")
                yield lineno, owner, rtype, ttl, rdata
            except ZoneError:
                raise
            except (ValueError, OSError, UnicodeError, dns.exception.DNSException, struct.error) as e:
                raise ZoneError(f"{path}:{lineno}: {_reason(e)}") from None
    except ZoneError as e:
        msg = str(e)
        if not msg.startswith(str(path)) and msg[:1].isdigit():
            raise ZoneError(f"{path}:{msg}") from None
        raise
    except OSError as e:
        raise ZoneError(f"{path}: cannot read zone file: {e.strerror or e}") from None


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and "illegal IP address" in text:
        return "not a valid address"
    return text.rstrip(".").splitlines()[0]


def count_names(path: str | Path, origin: str) -> int:
    """Number of distinct owner names in a zone file (for `takedown check`)."""
    return len({owner for _, owner, _, _, _ in read_zone(path, origin)})
