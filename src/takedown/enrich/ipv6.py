"""IPv6 text to 16 bytes for many strings at once (RFC 4291 section 2.2).

Pure-hex forms ("2001:db8::1", "::", eight full groups) are parsed with
array operations: bit masks of each string's hex digits and colons give the
grammar checks, ``np.nonzero`` the end of every group, byte gathers its up
to four digits; groups before "::" fill the address from the left, those
after from the right. What is accepted is what ``inet_pton(AF_INET6)``
accepts: groups of 1-4 hex digits, exactly eight groups, or at most seven
around a single "::" (the tests check this against ``inet_pton`` on random
strings). "::ffff:a.b.c.d" and "::a.b.c.d" go through the dotted-quad
parser; any other form with a dot goes through ``socket.inet_pton``, one
distinct string at a time.
"""

from __future__ import annotations

import socket

import numpy as np
import pyarrow as pa

from takedown.enrich.ipv4 import LEAD, dotted_quads

__all__ = ["WIDTH", "parse_v6"]

WIDTH = 40  # bytes read per string: the longest pure-hex form is 39
_COLON, _DOT, _ZERO = ord(":"), ord("."), ord("0")
_ONE = np.uint64(1)
_NIBBLE = np.zeros(256, np.uint16)  # hex digit values (0 for other bytes)
for _i, _ch in enumerate("0123456789abcdef"):
    _NIBBLE[ord(_ch)] = _NIBBLE[ord(_ch.upper())] = _i

if hasattr(np, "bitwise_count"):
    _popcount = np.bitwise_count
else:  # numpy < 2.0
    _BITS = np.array([bin(i).count("1") for i in range(256)], np.uint8)

    def _popcount(x: np.ndarray) -> np.ndarray:
        return _BITS[np.ascontiguousarray(x, np.uint64).view(np.uint8).reshape(-1, 8)].sum(axis=1)


def _bits(mask: np.ndarray) -> np.ndarray:
    """(m, WIDTH) booleans -> uint64, bit j = column j (flat packbits: the
    axis=1 form is much slower)."""
    packed = np.packbits(mask.reshape(-1), bitorder="little").reshape(len(mask), WIDTH // 8)
    out = np.zeros((len(mask), 8), np.uint8)
    out[:, : WIDTH // 8] = packed
    return out.view("<u8").ravel()


def _shr(x: np.ndarray, k: int) -> np.ndarray:
    return x >> np.uint64(k)


def parse_v6(arr: pa.Array, padded: np.ndarray, starts: np.ndarray, sizes: np.ndarray, rows: np.ndarray):
    """Parse rows ``rows`` of ``arr`` (its data at ``padded[LEAD:]``, with at
    least WIDTH + LEAD bytes after). Returns ``(rows6, keys, rows4, values4)``:
    the IPv6 rows with their 'S16' keys, and the rows that are IPv4-mapped
    or -compatible with their IPv4 value."""
    size = sizes[rows].astype(np.int64)
    first = np.asarray(starts, np.int64)[rows]
    view = np.ndarray(shape=(len(padded) - 2 * LEAD - WIDTH + 1,), dtype=f"V{LEAD + WIDTH}", buffer=padded, strides=(1,))
    # Each row: the LEAD bytes before the string (never counted: reads that
    # far back are masked by the digit run), then its first WIDTH bytes.
    text = view[first].view(np.uint8).reshape(len(rows), LEAD + WIDTH)
    body = text[:, LEAD:]
    inside = np.arange(WIDTH) < size[:, None]
    is_hex = (((body - _ZERO) < 10) | (((body | 0x20) - ord("a")) < 6)) & inside
    is_colon = (body == _COLON) & inside
    h, c, d = _bits(is_hex), _bits(is_colon), _bits((body == _DOT) & inside)
    all_bits = np.left_shift(_ONE, np.minimum(size, 63).astype(np.uint64)) - _ONE
    other = (all_bits & ~(h | c | d)) != 0
    dotted = d != 0

    rows4, values4 = _mapped(padded, first, size, text, dotted)
    slow = dotted & ~np.isin(np.arange(len(rows)), rows4)
    rows4 = rows[rows4]

    # Grammar checks on the bit masks.
    ends = h & ~_shr(h, 1)  # last digit of each group
    groups = _popcount(ends).astype(np.int64)
    double = c & _shr(c, 1)  # first colon of each "::"
    last = np.left_shift(_ONE, np.maximum(size - 1, 0).astype(np.uint64))
    ok = ~dotted & ~other & (size < WIDTH)
    ok &= (double & _shr(c, 2)) == 0  # no ":::"
    ok &= (double & (double - _ONE)) == 0  # at most one "::"
    ok &= ~(((c & _ONE) != 0) & ((c & np.uint64(2)) == 0))  # no lone leading colon
    ok &= ~(((c & last) != 0) & ((c & _shr(last, 1)) == 0))  # no lone trailing colon
    ok &= (h & _shr(h, 1) & _shr(h, 2) & _shr(h, 3) & _shr(h, 4)) == 0  # groups of <= 4 digits
    has_double = double != 0
    ok &= np.where(has_double, groups <= 7, groups == 8)

    good = np.flatnonzero(ok)
    end_mat = is_hex[good]
    end_mat[:, :-1] &= ~end_mat[:, 1:]
    r, p = np.divmod(np.flatnonzero(end_mat), WIDTH)  # row-major: each row's groups in order
    g = groups[good]
    k = np.arange(len(r)) - (np.cumsum(g) - g)[r]
    dc = is_colon[good, :-1] & is_colon[good, 1:]
    dpos = np.where(has_double[good], dc.argmax(axis=1), WIDTH)
    n_left = np.bincount(r[p < dpos[r]], minlength=len(good))
    slot = np.where(k < n_left[r], k, k + 8 - g[r])
    # A digit counts only if every byte between it and the group's end is a digit.
    flat, hexes = text.reshape(-1), is_hex.reshape(-1)
    at = good[r] * (LEAD + WIDTH) + LEAD + p
    at_mask = good[r] * WIDTH + p
    value = _NIBBLE.take(flat[at])
    run = np.ones(len(r), bool)
    for j in (1, 2, 3):
        run &= (p >= j) & hexes[np.maximum(at_mask - j, 0)]
        value |= (_NIBBLE.take(flat[at - j]) * run) << np.uint16(4 * j)
    words = np.zeros((len(good), 8), ">u2")
    words[r, slot] = value
    keys = words.view("S16").ravel()
    rows6, keys6 = rows[good], keys

    if slow.any():
        r6, k6, r4, v4 = _pton(arr, rows[slow])
        rows6, keys6 = np.concatenate([rows6, r6]), np.concatenate([keys6, k6])
        rows4, values4 = np.concatenate([rows4, r4]), np.concatenate([values4, v4])
    # Pure-hex forms of ::/96 and ::ffff:0:0/96 are IPv4 too.
    raw = keys6.view(np.uint8).reshape(-1, 16)
    mapped = ~raw[:, :10].any(axis=1) & (((raw[:, 10] == 0xFF) & (raw[:, 11] == 0xFF)) | ((raw[:, 10] == 0) & (raw[:, 11] == 0)))
    if mapped.any():
        rows4 = np.concatenate([rows4, rows6[mapped]])
        values4 = np.concatenate([values4, np.ascontiguousarray(raw[mapped, 12:]).view(">u4").ravel().astype(np.uint32)])
        rows6, keys6 = rows6[~mapped], keys6[~mapped]
    return rows6, keys6, rows4, values4.astype(np.uint32)


def _mapped(padded, first, size, text, dotted):
    """Rows (indices into ``first``) of the form "::ffff:a.b.c.d" or
    "::a.b.c.d" with a valid dotted quad, and its value."""
    cand = np.flatnonzero(dotted)
    body = text[cand, LEAD:]
    lead2 = (body[:, 0] == _COLON) & (body[:, 1] == _COLON)
    ffff = lead2 & ((body[:, 2:6] | 0x20) == ord("f")).all(axis=1) & (body[:, 6] == _COLON)
    compat = lead2 & ~ffff & ((body[:, 2] - _ZERO) < 10)
    pick = np.flatnonzero(ffff | compat)
    idx = cand[pick]
    if not len(idx):
        return idx, np.zeros(0, np.uint32)
    skip = np.where(ffff[pick], 7, 2)
    ok, value, _ = dotted_quads(padded, first[idx] + skip, size[idx] - skip)
    return idx[ok], value[ok]


def _pton(arr: pa.Array, rows: np.ndarray):
    """inet_pton once per distinct string (forms with an embedded IPv4
    address other than the two above)."""
    texts = arr.take(pa.array(rows)).to_pylist()
    pton, family = socket.inet_pton, socket.AF_INET6
    cache: dict = {}
    out = []
    for text in texts:
        packed = cache.get(text)
        if packed is None:
            try:
                packed = pton(family, text if isinstance(text, str) else text.decode("ascii"))
            except (UnicodeDecodeError, OSError, ValueError):
                packed = b""
            cache[text] = packed
        out.append(packed)
    good = np.fromiter(map(len, out), np.int64, len(out)) == 16
    keys = np.frombuffer(b"".join(out), dtype="S16") if good.any() else np.zeros(0, "S16")
    return rows[good], keys, np.zeros(0, np.int64), np.zeros(0, np.uint32)
