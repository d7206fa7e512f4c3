"""Pykspa (Pykse, Skyper, SkypeBot), the "improved" DGA: MD6 of a day count,
stirred by an LCG-based mixer, seeds the names.

Sources: J. Bader, "The DGA of Pykspa" (2015),
https://bin.re/blog/the-dga-of-pykspa/ ; the MD6 specification (R. Rivest et
al., "The MD6 hash function", 2008/2009) for the hash; the example list of
baderj/domain_generation_algorithms (pykspa/improved/example_domains.txt).

The bot makes two interleaved sets: the C&C candidates, which change every
20 days (period index = unix_time // (20 * 86400), UTC), and a noise set from
the same generator with a daily index, of which the bot queries a random
pick. Only the C&C set is modelled: in the blog's traffic of 2015-02-16 the
noise names come from the list of day 16483 (2015-02-17), one day off from
the UTC day, and no published list settles which day the sample uses.

The period index, as a 32-bit little-endian value, is hashed with MD6-256; the
hex digest goes through the sample's mixer (an LCG state table of 128 words fed
with the digest) which yields the 32-bit seed of the names. The test matches
the published first 10 names for the period 2015-08-13..2015-09-01 (index 833,
found by search: the list does not name its date), and the first 4 C&C names
the blog shows in traffic of 2015-02-16 (period 2015-02-14..2015-03-05).

The "precursor" DGA is the separate family pykspa_precursor.
"""

from __future__ import annotations

import math
from datetime import date

from takedown.dga.base import Family, Param

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1

# -- MD6-256, one compression (inputs up to 512 bytes: all this DGA needs) ---
# Q: the first 960 bits of the fractional part of sqrt(6), as the spec defines it
_Q = [((math.isqrt(6 << 1920) - (2 << 960)) >> (64 * (14 - i))) & _M64 for i in range(15)]
_TAPS = (17, 18, 21, 31, 67)
_RSHIFT = (10, 5, 13, 10, 11, 12, 2, 7, 14, 15, 7, 13, 11, 7, 6, 12)
_LSHIFT = (11, 24, 9, 16, 15, 9, 27, 15, 6, 2, 29, 8, 15, 5, 31, 9)
_S0, _SSTAR = 0x0123456789ABCDEF, 0x7311C2812425CFA0


def _md6_256(data: bytes) -> bytes:
    if len(data) > 512:
        raise ValueError("only single-block MD6 is implemented")
    d, levels = 256, 64
    rounds = 40 + d // 4
    block = data + bytes(512 - len(data))
    pad_bits = (512 - len(data)) * 8
    # U: level 1, node index 0; V: rounds, max level, z=1 (final), pad bits, no key, d
    u = 1 << 56
    v = (rounds << 48) | (levels << 40) | (1 << 36) | (pad_bits << 20) | d
    a = _Q + [0] * 8 + [u, v] + [int.from_bytes(block[i:i + 8], "big") for i in range(0, 512, 8)]
    n = len(a)  # 89
    s = _S0
    for step in range(16 * rounds):
        i = n + step
        x = s ^ a[i - n] ^ a[i - _TAPS[0]] ^ (a[i - _TAPS[1]] & a[i - _TAPS[2]]) \
            ^ (a[i - _TAPS[3]] & a[i - _TAPS[4]])
        x ^= x >> _RSHIFT[step % 16]
        a.append(x ^ ((x << _LSHIFT[step % 16]) & _M64))
        if step % 16 == 15:  # the round constant changes once per 16 steps
            s = (((s << 1) | (s >> 63)) & _M64) ^ (s & _SSTAR)
    out = b"".join(w.to_bytes(8, "big") for w in a[-16:])
    return out[-d // 8:]  # the last d bits of the final chaining value


# -- the sample's mixer ---------------------------------------------------------

class _Mixer:
    """A table of LCG states; every step advances one and folds it into ``acc``."""

    def __init__(self, words: list[int]):
        self.table = words + [0] * (128 - len(words))
        self.acc = 0

    def step(self, i: int) -> None:
        v = (self.table[i] * 22695477 + 1) & _M32
        self.table[i] = v
        x = (((v >> 16) & 0x7FFF) + self.acc) & _M32
        r = self.acc & 0xF  # rotation taken from the accumulator before the update
        self.acc = ((x << r) | (x >> (32 - r))) & _M32 if r else x

    def warm_up(self) -> None:
        # entry i is advanced i+1 times
        for i in range(128):
            for _ in range(i + 1):
                self.step(i)

    def absorb(self, key: int) -> int:
        """One pass over the table, then mix in a key byte; returns the low byte seen."""
        for i in range(128):
            self.step(i)
        low = self.acc & 0xFF
        self.acc = (self.acc + key) & _M32
        self.table[-1] = (self.table[-1] + key) & _M32
        return low


def _seed(index: int) -> int:
    digest = _md6_256((index & _M32).to_bytes(4, "little")).hex().encode("ascii")
    mixer = _Mixer([digest[i] << 8 | digest[i + 1] for i in range(0, len(digest), 2)])
    mixer.warm_up()
    buf = bytearray(digest) + bytearray(256 - len(digest))
    # 256 passes from the start, then 2570 passes from the last byte, wrapping
    for count, pos in ((256, 0), (2570, 255)):
        for _ in range(count):
            pos %= 256
            buf[pos] = mixer.absorb(buf[pos])
            pos += 1
    mixer = _Mixer([buf[i] << 8 | buf[i + 1] for i in range(0, 256, 2)])
    mixer.warm_up()
    # four hex characters of the digest, chosen by the index, give the seed bytes
    off = index % 50
    seed = 0
    for i, ch in enumerate(digest[off:off + 4]):
        seed |= (ch ^ mixer.absorb(ch)) << (8 * i)
    return seed


def _sld(length: int, seed: int) -> str:
    out = []
    a = length * length
    modulo = 541 * length + 4
    for i in range(length):
        mult = seed % 5 + seed % 123456 + i * ((seed & 1) + seed % 4567)
        out.append(chr(ord("a") + (a + ((seed * mult) & _M32)) % 26))
        a += length
        seed += (((7837632 * seed * length) & _M32) + 82344) % modulo
    return "".join(out)


# the sample lists five TLDs but picks with seed & 3: "cc" is never used
_TLDS = ("com", "net", "org", "info")


def names_for_index(index: int, count: int) -> list[str]:
    seed = _seed(index)
    out = []
    for k in range(count):
        # like the reference, the running seed is not cut to 32 bits here
        seed += seed % (k + 1) + 1
        length = (seed + k) % 7 + 6
        out.append(_sld(length, seed) + "." + _TLDS[seed & 3])
    return out


_EPOCH = date(1970, 1, 1)


class Pykspa(Family):
    def names(self, start: date, *, count: int) -> list[str]:
        return names_for_index((start - _EPOCH).days // 20, count)


FAMILY = Pykspa(
    name="pykspa",
    aliases=("pykspa-improved", "pykspa_v2", "pykse", "skyper", "skypebot"),
    seeding="20-day index of the UTC date (days since 1970-01-01 // 20) through MD6",
    period_days=20,
    per_period=200,
    tlds=_TLDS,
    params=(Param("count", int, 200, "names to make per period (the sample's own number is not verified here)"),),
    sources=(
        "https://bin.re/blog/the-dga-of-pykspa/",
        "https://github.com/baderj/domain_generation_algorithms/tree/master/pykspa/improved",
        "MD6 specification, Rivest et al. (https://groups.csail.mit.edu/cis/md6/)",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 pykspa/improved/example_domains.txt "
        "(first 10 names, period 2015-08-13..2015-09-01)",
        "first 4 C&C names in the traffic of 2015-02-16 shown in https://bin.re/blog/the-dga-of-pykspa/",
    ),
    epoch=_EPOCH,
)
