"""Sorted range tables: address ranges flattened into disjoint segments.

A table is ``bounds`` (sorted, unique, ``bounds[0]`` the lowest address) and
``values`` (``values[k]`` holds from ``bounds[k]`` up to ``bounds[k+1]``; -1
where nothing is known), so a lookup is one ``np.searchsorted``. IPv4 bounds
are uint32; IPv6 bounds are 'S16' big-endian bytes, which numpy compares
bytewise, i.e. numerically. :func:`union` puts several fields' tables on
common bounds, and :class:`V4Index`/:class:`V6Index` make the search itself
cheaper than ``np.searchsorted`` on large batches.

Where given ranges overlap, each address takes the value of the range that
contains it and starts last (then the narrower, then the row given last);
for CIDR networks that is the most specific one. This is also what a
"last start <= address, then check its end" lookup gives (geoip2fast, the
bisect reference in the tests) wherever the data has no range that resumes
after a nested one ends, which holds for the shipped data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Segments", "RangeTable", "V4Index", "V6Index", "segments", "union", "v6_from_ints", "v6_to_ints"]

V4, V6 = 4, 6
_V6_ZERO = np.zeros(1, "S16")


@dataclass(frozen=True)
class Segments:
    """Disjoint segments of one address family (see the module docstring)."""

    bounds: np.ndarray
    values: np.ndarray

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Value index for each key (uint32 or 'S16'), -1 where unknown."""
        return self.values[np.searchsorted(self.bounds, keys, side="right") - 1]

    @staticmethod
    def empty(family: int) -> "Segments":
        lo = np.zeros(1, np.uint32) if family == V4 else _V6_ZERO.copy()
        return Segments(lo, np.full(1, -1, np.int32))


@dataclass(frozen=True)
class RangeTable:
    """One field group's ranges for both families."""

    v4: Segments
    v6: Segments

    @staticmethod
    def empty() -> "RangeTable":
        return RangeTable(Segments.empty(V4), Segments.empty(V6))


def _plus_one_v6(keys: np.ndarray):
    """key + 1 for 'S16' keys; also a mask of keys that were the last address."""
    words = np.frombuffer(np.ascontiguousarray(keys).tobytes(), ">u8").reshape(-1, 2).astype(np.uint64)
    lo = words[:, 1] + np.uint64(1)
    carry = lo == 0
    hi = words[:, 0] + carry.astype(np.uint64)
    top = carry & (hi == 0)
    out = np.stack([hi, lo], axis=1).astype(">u8")
    return np.ascontiguousarray(out).view("S16").ravel(), top


def sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique hashes 'S16' keys (numpy >= 2.3), 5x slower than sorting them.
    a = np.sort(a)
    keep = np.ones(len(a), bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def v6_from_ints(values) -> np.ndarray:
    """Python ints (0 <= v < 2**128) to 'S16' keys."""
    return np.frombuffer(b"".join(int(v).to_bytes(16, "big") for v in values), "S16").copy() if len(values) else np.zeros(0, "S16")


def v6_to_ints(keys: np.ndarray) -> list[int]:
    """'S16' keys to Python ints (not via tolist(): numpy drops trailing NUL
    bytes of 'S' items)."""
    words = np.frombuffer(np.ascontiguousarray(keys, "S16").tobytes(), ">u8").reshape(-1, 2)
    return [(int(h) << 64) | int(lo) for h, lo in words.tolist()]


def segments(family: int, first: np.ndarray, last: np.ndarray, values: np.ndarray) -> Segments:
    """Flatten inclusive ranges ``[first, last]`` with value indices into Segments.

    ``first``/``last`` are uint32 (or any unsigned ints < 2**32) for IPv4 and
    'S16' for IPv6; ``first <= last`` is the caller's to check.
    """
    values = np.asarray(values, np.int32)
    if len(values) == 0:
        return Segments.empty(family)
    if family == V4:
        s = np.asarray(first, np.int64)
        t = np.asarray(last, np.int64) + 1  # 2**32 means "to the end"
        b_rank, v = _flatten(s, t, values, end=1 << 32)
        bounds = b_rank.astype(np.uint32)
    else:
        first = np.asarray(first, "S16")
        stop, top = _plus_one_v6(np.asarray(last, "S16"))
        # Work in rank space: the distinct keys, sorted, numbered 0..m-1.
        keys = sorted_unique(np.concatenate([first, stop[~top], _V6_ZERO]))
        s = np.searchsorted(keys, first)
        t = np.where(top, len(keys), np.searchsorted(keys, stop))
        b_rank, v = _flatten(s.astype(np.int64), t.astype(np.int64), values, end=len(keys))
        bounds = keys[b_rank]
    return Segments(bounds, v)


def _flatten(s: np.ndarray, t: np.ndarray, v: np.ndarray, end: int):
    """Half-open int64 ranges [s, t) -> (bounds, values) starting at 0."""
    order = np.lexsort((np.arange(len(s)), -t, s))
    s, t, v = s[order], t[order], v[order]
    # A row overlaps an earlier one when it starts before the furthest stop so
    # far; such rows and the row their run starts from are resolved by a
    # sweep, all others are disjoint already.
    reach = np.maximum.accumulate(t)
    over = np.zeros(len(s), bool)
    over[1:] = s[1:] < reach[:-1]
    tangled = over.copy()
    tangled[:-1] |= over[1:]
    if tangled.any():
        ps, pt, pv = _sweep(s[tangled], t[tangled], v[tangled])
        keep = ~tangled
        s = np.concatenate([s[keep], ps])
        t = np.concatenate([t[keep], pt])
        v = np.concatenate([v[keep], pv])
        order = np.argsort(s, kind="stable")
        s, t, v = s[order], t[order], v[order]
    # Segments: each range's start with its value, and its stop with -1 unless
    # the next range starts right there (or it is the end of the space).
    gap = np.ones(len(s), bool)
    gap[:-1] = t[:-1] != s[1:]
    gap &= t < end
    b = np.concatenate([[0], s, t[gap]])
    val = np.concatenate([[-1], v, np.full(int(gap.sum()), -1, np.int32)]).astype(np.int32)
    order = np.argsort(b, kind="stable")
    b, val = b[order], val[order]
    # A range starting at 0 replaces the leading "unknown" entry (stable sort
    # keeps it first, so keep the last of equal bounds).
    last_of_equal = np.ones(len(b), bool)
    last_of_equal[:-1] = b[:-1] != b[1:]
    b, val = b[last_of_equal], val[last_of_equal]
    return _merge_equal(b, val)


def _merge_equal(b: np.ndarray, val: np.ndarray):
    keep = np.ones(len(b), bool)
    keep[1:] = val[1:] != val[:-1]
    return b[keep], val[keep]


def _sweep(s, t, v):
    """Resolve overlapping ranges (sorted by start, then widest first): the
    range that started last wins, and an outer one resumes where it ends."""
    out_s, out_t, out_v = [], [], []
    stack: list[tuple[int, int]] = []
    pos = 0

    def emit(a, b, val):
        out_s.append(a)
        out_t.append(b)
        out_v.append(val)

    for start, stop, val in zip(s.tolist(), t.tolist(), v.tolist()):
        while stack and stack[-1][0] <= start:
            top_stop, top_val = stack.pop()
            if pos < top_stop:
                emit(pos, top_stop, top_val)
                pos = top_stop
        if stack and pos < start:
            emit(pos, start, stack[-1][1])
        stack.append((stop, val))
        pos = start
    while stack:
        top_stop, top_val = stack.pop()
        if pos < top_stop:
            emit(pos, top_stop, top_val)
            pos = top_stop
    return (np.array(out_s, np.int64), np.array(out_t, np.int64), np.array(out_v, np.int32))


def union(parts: list[Segments]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Common bounds of several tables of one family, with each table's values
    on them, so that one search answers for all of them."""
    bounds = sorted_unique(np.concatenate([p.bounds for p in parts]))
    cols = [p.find(bounds) for p in parts]
    keep = np.zeros(len(bounds), bool)
    keep[0] = True
    for c in cols:
        keep[1:] |= c[1:] != c[:-1]
    return bounds[keep], [c[keep] for c in cols]


class V4Index:
    """IPv4 bounds with direct tables, two levels deep: one entry per /20
    holds its segment when a single segment covers it, else a block of 16
    entries per /24 does the same, and only addresses in a /24 that holds a
    bound inside it (about 1 in 1,000 with the shipped data) finish with a
    binary search, in lock step over all of them. ``np.searchsorted`` of
    10**6 random keys into ~600,000 bounds costs ~130 ms; this ~12 ms, for
    ~10 MB of tables."""

    S1, S2 = 12, 8  # /20, then /24

    def __init__(self, bounds: np.ndarray):
        self.bounds = np.asarray(bounds, np.uint32)
        lo1, hi1 = self._segments_of(np.arange(1 << (32 - self.S1), dtype=np.uint64) << np.uint64(self.S1), self.S1)
        mixed = np.flatnonzero(lo1 != hi1)
        # top[bucket]: the segment, or -(block + 1) for a mixed /20.
        self.top = lo1.copy()
        self.top[mixed] = -(np.arange(len(mixed), dtype=np.int32) + 1)
        sub = 1 << (self.S1 - self.S2)
        firsts = ((mixed.astype(np.uint64) << np.uint64(self.S1))[:, None]
                  + (np.arange(sub, dtype=np.uint64) << np.uint64(self.S2))[None, :]).ravel()
        lo2, hi2 = self._segments_of(firsts, self.S2)
        mixed2 = np.flatnonzero(lo2 != hi2)
        # second[block * 16 + j]: the segment, or -(k + 1) with the search
        # range (lo3[k], hi3[k]) for a mixed /24.
        self.second = lo2.copy()
        self.second[mixed2] = -(np.arange(len(mixed2), dtype=np.int32) + 1)
        self.lo3, self.hi3 = lo2[mixed2], hi2[mixed2]
        self.steps = int((self.hi3 - self.lo3).max(initial=0)).bit_length()  # halvings until lo == hi
        self.sub = sub

    def _segments_of(self, firsts: np.ndarray, shift: int):
        """Segments holding the first and the last address of each block."""
        last = firsts + np.uint64((1 << shift) - 1)
        lo = np.searchsorted(self.bounds, firsts.astype(np.uint32), side="right") - 1
        hi = np.searchsorted(self.bounds, last.astype(np.uint32), side="right") - 1
        return lo.astype(np.int32), hi.astype(np.int32)

    def find(self, ips: np.ndarray) -> np.ndarray:
        """Segment index for each uint32 address."""
        seg = self.top[ips >> self.S1]
        slow = np.flatnonzero(seg < 0)
        if len(slow):
            keys = ips[slow]
            block = (-seg[slow] - 1) * self.sub + ((keys >> self.S2) & (self.sub - 1)).astype(np.int32)
            seg2 = self.second[block]
            slow2 = np.flatnonzero(seg2 < 0)
            if len(slow2):
                k = -seg2[slow2] - 1
                lo, hi, key = self.lo3[k], self.hi3[k], keys[slow2]
                # Invariant: bounds[lo] <= key, and the answer is <= hi.
                for _ in range(self.steps):
                    mid = (lo + hi + 1) >> 1
                    go = self.bounds[mid] <= key
                    lo = np.where(go, mid, lo)
                    hi = np.where(go, hi, mid - 1)
                seg2[slow2] = lo
            seg[slow] = seg2
        return seg


class V6Index:
    """IPv6 bounds searched on their upper 64 bits (uint64 compares are
    several times faster than 'S16' ones); only keys that share those bits
    with a bound whose lower 64 bits are larger need the full search."""

    def __init__(self, bounds: np.ndarray):
        self.bounds = np.asarray(bounds, "S16")
        words = np.frombuffer(self.bounds.tobytes(), ">u8").reshape(-1, 2).astype(np.uint64)
        self.hi, self.lo = np.ascontiguousarray(words[:, 0]), np.ascontiguousarray(words[:, 1])

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Segment index for each 'S16' key."""
        words = np.frombuffer(np.ascontiguousarray(keys, "S16").tobytes(), ">u8").reshape(-1, 2).astype(np.uint64)
        khi, klo = words[:, 0], words[:, 1]
        pos = np.searchsorted(self.hi, khi, side="right") - 1
        exact = np.flatnonzero((self.hi[pos] == khi) & (self.lo[pos] > klo))
        if len(exact):
            pos[exact] = np.searchsorted(self.bounds, keys[exact], side="right") - 1
        return pos
