"""Address strings to integers, a whole Arrow array at a time, without a
per-address Python loop: dotted quads by ``takedown.enrich.ipv4``, IPv6 text
by ``takedown.enrich.ipv6``.

IPv4-mapped (``::ffff:a.b.c.d``, RFC 4291 2.5.5.2) and IPv4-compatible
(``::a.b.c.d``, 2.5.5.1) addresses count as IPv4: MaxMind DBs keep IPv4 at
``::/96`` and alias the mapped block to it, and geoip2fast's integer
lookup does the same for ``::/96``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from takedown.enrich.ipv4 import LEAD, ROW, dotted_quads
from takedown.enrich.ipv6 import WIDTH, parse_v6

__all__ = ["Parsed", "parse"]

_MAX_V6_TEXT = 45  # "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"


@dataclass(frozen=True)
class Parsed:
    """Row-aligned parse result: ``v4[i]`` is meaningful where ``is_v4[i]``;
    ``v6_rows`` lists the rows holding a (non-IPv4) IPv6 address and
    ``v6_keys`` their 16 big-endian bytes ('S16' sorts numerically)."""

    is_v4: np.ndarray
    v4: np.ndarray
    v6_rows: np.ndarray
    v6_keys: np.ndarray

    def within(self, networks) -> np.ndarray:
        """Row-aligned booleans: which addresses lie inside one of
        ``networks`` (``ipaddress`` networks; IPv4 ones match the addresses
        that count as IPv4), compared on the integers."""
        out = np.zeros(len(self.is_v4), dtype=bool)
        v4 = self.v4.astype(np.uint64)
        for net in networks:
            if net.version == 4:
                out |= self.is_v4 & (v4 >= int(net.network_address)) & (v4 <= int(net.broadcast_address))
            elif len(self.v6_rows):
                inside = ((self.v6_keys >= np.bytes_(net.network_address.packed))
                          & (self.v6_keys <= np.bytes_(net.broadcast_address.packed)))
                out[self.v6_rows[inside]] = True
        return out


def _buffers(arr: pa.Array):
    """Offsets and data bytes of a string/binary array, without copying."""
    bufs = arr.buffers()
    n = len(arr)
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    odt = np.int64 if large else np.int32
    offsets = np.frombuffer(bufs[1], dtype=odt)[arr.offset: arr.offset + n + 1] if n else np.zeros(1, odt)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and bufs[2].size else np.zeros(0, np.uint8)
    return offsets, data


def parse(arr: pa.Array) -> Parsed:
    """Parse a string or binary Arrow array (nulls allowed) of addresses."""
    offsets, data = _buffers(arr)
    starts = offsets[:-1].astype(np.int64)
    size = offsets[1:] - offsets[:-1]
    # Zero padding before the data lets the parsers look a few bytes before a
    # string's start (masked off), and after it lets every string's row be
    # read whole.
    padded = np.zeros(LEAD + len(data) + max(ROW, WIDTH) + LEAD, np.uint8)
    padded[LEAD: LEAD + len(data)] = data
    ok, value, colons = dotted_quads(padded, starts, size)
    valid_rows = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else None
    if valid_rows is not None:
        ok &= valid_rows

    # IPv6: any text form has a colon within its first five bytes.
    cand = ~ok & colons & (size <= _MAX_V6_TEXT)
    if valid_rows is not None:
        cand &= valid_rows
    rows = np.flatnonzero(cand)
    if not len(rows):
        return Parsed(ok, value, rows, np.zeros(0, "S16"))
    rows6, keys6, rows4, values4 = parse_v6(arr, padded, starts, size, rows)
    ok[rows4] = True
    value[rows4] = values4
    return Parsed(ok, value, rows6, keys6)
