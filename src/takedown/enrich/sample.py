"""Seeded random address strings for the enrichment tests and benchmark, so
both judge the same addresses.

Mostly IPv4 drawn uniformly (which includes private and reserved space),
plus the first and last address of shipped networks and their neighbours
(where off-by-one errors live), private IPv4, IPv6 from 2000::/3 and from
inside shipped IPv6 networks, IPv4-mapped and -compatible IPv6, and strings
that are not addresses. The malformed strings are ones that both strict
parsing and ``inet_aton``/``inet_pton`` reject; the lenient ``inet_aton``
forms ("127.1", "010.0.0.1") are tested on their own.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from takedown.enrich.ranges import v6_to_ints
from takedown.enrich.shipped import geoip2fast_networks

__all__ = ["addresses", "MAPPED_SHARE"]

# Shares of the sample (the rest is uniform IPv4).
EDGE_V4, PRIVATE_V4 = 0.06, 0.02
UNIFORM_V6, NETWORK_V6, LOCAL_V6, MAPPED_SHARE = 0.02, 0.03, 0.005, 0.01
INVALID = 0.01

_PRIVATE = [("10.0.0.0", 8), ("172.16.0.0", 12), ("192.168.0.0", 16), ("127.0.0.0", 8),
            ("100.64.0.0", 10), ("169.254.0.0", 16), ("224.0.0.0", 4), ("240.0.0.0", 4), ("0.0.0.0", 8)]
_BAD = ["", " ", "localhost", "host.example", "1.2.3.256", "256.1.1.1", "1.2.3.4.5", "1..2.3",
        ".1.2.3", "1.2.3.4.", "-1.2.3.4", "1.2.3.4/24", " 1.2.3.4", "1,2,3,4", "1.2.3.999",
        "::g", ":::", "1:2:3:4:5:6:7:8:9", "2001:db8:::1", "2001:db8::1::2", "12345::1",
        "fe80::1%eth0", "2001:db8::/32", "١.٢.٣.٤", "1.2.3.٤", "0x", "::ffff:1.2.3.256",
        "1.2.3.4:80", "[2001:db8::1]", "9999999999", "1.2.3.-4", "+1.2.3.4"]


def _v4_text(values: np.ndarray) -> pa.Array:
    octets = np.asarray(values, np.uint32).astype(">u4").view(np.uint8).reshape(-1, 4)
    parts = [pa.array(octets[:, i]).cast(pa.string()) for i in range(4)]
    return pc.binary_join_element_wise(*parts, ".")


def _v6_text(values, rng: np.random.Generator) -> list[str]:
    out = []
    for v in values:
        a = ipaddress.IPv6Address(int(v))
        form = rng.random()
        # Mostly the compressed form, some exploded, some upper case.
        out.append(a.exploded if form < 0.1 else a.compressed.upper() if form < 0.2 else a.compressed)
    return out


def _rand128(rng: np.random.Generator, k: int, prefix: int, plen: int) -> list[int]:
    hi = rng.integers(0, 1 << 63, k, dtype=np.uint64).tolist()
    lo = rng.integers(0, 1 << 63, k, dtype=np.uint64).tolist()
    extra = rng.integers(0, 4, k).tolist()
    host = (1 << (128 - plen)) - 1
    return [prefix | ((((h << 66) | (l << 2) | e)) & host) for h, l, e in zip(hi, lo, extra)]


def addresses(n: int = 1_000_000, seed: int = 20240618) -> pa.Array:
    """``n`` address strings (a pyarrow string array), shuffled, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    f4, l4, _, f6, l6, _, _, _ = geoip2fast_networks()
    counts = {k: int(n * s) for k, s in (("edge4", EDGE_V4), ("priv4", PRIVATE_V4), ("uni6", UNIFORM_V6),
                                          ("net6", NETWORK_V6), ("local6", LOCAL_V6), ("mapped", MAPPED_SHARE),
                                          ("bad", INVALID))}
    counts["uni4"] = n - sum(counts.values())
    chunks: list[pa.Array] = []

    chunks.append(_v4_text(rng.integers(0, 1 << 32, counts["uni4"], dtype=np.uint64)))

    pick = rng.integers(0, len(f4), counts["edge4"])
    which = rng.integers(0, 4, counts["edge4"])
    edge = np.select([which == 0, which == 1, which == 2],
                     [f4[pick].astype(np.int64) - 1, f4[pick].astype(np.int64), l4[pick].astype(np.int64)],
                     l4[pick].astype(np.int64) + 1)
    chunks.append(_v4_text(np.clip(edge, 0, (1 << 32) - 1)))

    nets = rng.integers(0, len(_PRIVATE), counts["priv4"])
    base = np.array([int(ipaddress.IPv4Address(a)) for a, _ in _PRIVATE], np.uint64)[nets]
    size = np.array([1 << (32 - p) for _, p in _PRIVATE], np.uint64)[nets]
    chunks.append(_v4_text(base + rng.integers(0, 1 << 32, len(nets), dtype=np.uint64) % size))

    chunks.append(pa.array(_v6_text(_rand128(rng, counts["uni6"], 0x2 << 124, 3), rng)))

    k = counts["net6"]
    pick = rng.integers(0, len(f6), k).tolist()
    firsts = v6_to_ints(f6[pick])
    lasts = v6_to_ints(l6[pick])
    offs = rng.random(k).tolist()
    which = rng.integers(0, 5, k).tolist()
    vals = []
    for a, b, off, w in zip(firsts, lasts, offs, which):
        v = (a - 1, a, b, b + 1)[w] if w < 4 else a + int((b - a) * off)
        vals.append(min(max(v, 0), (1 << 128) - 1))
    chunks.append(pa.array(_v6_text(vals, rng)))

    local = _rand128(rng, counts["local6"] // 2, 0xFD << 120, 8) + _rand128(rng, counts["local6"] - counts["local6"] // 2, 0xFE8 << 116, 10)
    chunks.append(pa.array(_v6_text(local, rng)))

    v4 = _v4_text(rng.integers(0, 1 << 32, counts["mapped"], dtype=np.uint64)).to_pylist()
    half = len(v4) // 2
    chunks.append(pa.array([f"::ffff:{a}" for a in v4[:half]] + [f"::{a}" for a in v4[half:]]))

    bad = [_BAD[i] for i in rng.integers(0, len(_BAD), counts["bad"])]
    chunks.append(pa.array(bad, pa.string()))

    allv = pa.concat_arrays([c.cast(pa.string()) for c in chunks])
    return allv.take(pa.array(rng.permutation(len(allv))))
