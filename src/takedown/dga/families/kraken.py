"""Kraken (Bobax, Oderoor): two generations of a glibc-style LCG DGA.

Sources: Johannes Bader, "Kraken's two domain generation algorithms"
(johannesbader.ch, 2015-12), and the reimplementations and example lists in
baderj/domain_generation_algorithms (kraken/v1, kraken/v2, commit 09961a1).
The tests match kraken/v1/example_domains.txt (version 1, seed set a) and
kraken/v2/example_domains.txt (version 2, seed set a, TLD set 1, the week of
2015-12-22, the day it was committed; found by trying weeks), 2000 names each.

Both versions make two names per index: one with the sample's "nex" constant,
then one with its "ex" constant (the sample picks one of the two depending on
whether a temporary file exists; the list holds both, in that order).
Version 1 ignores the date. Version 2 burns one more random number per week,
counting weeks from 1207000000 seconds after the Unix epoch
(2008-03-31 21:46:40 UTC), so its names change on Mondays at 21:46:40 UTC;
a period here is the UTC days from Tuesday to Monday, which is exact at
midnight UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np

from takedown.dga.base import DgaError, Family, Param

_MASK = 0xFFFFFFFF
# seed set: (nex, ex) constants of the samples
_V1_SEEDS = {"a": (0x8924541, -0x0FCFBF88), "b": (0x7924542, -0x1FCFBF87)}
_V2_SEEDS = {"a": (24938315, 24938314), "b": (1600001, 1600000)}
_V1_TLDS = ("dyndns.org", "yi.org", "dynserv.com", "mooo.com")
_V2_TLDS = {1: ("com", "net", "tv", "cc"), 2: _V1_TLDS}
_WEEK_ZERO = 1207000000


def _rand(r: int) -> int:
    return (1103515245 * r + 12435) & _MASK


def _crop(r: int) -> int:
    return (r >> 8) & 0x7FFF  # bits 8..22, as the sample's rand() returns them


def _int32(v: int) -> int:
    v &= _MASK
    return v - (1 << 32) if v & 0x80000000 else v


def _div9(v: int) -> int:
    # C division of a signed int: truncates toward zero
    return -(-v // 9) if v < 0 else v // 9


def _label(r: int, base_length: int, plus: bool) -> str:
    a = []
    for _ in range(3):
        r = _rand(r)
        a.append(_crop(r))
    mixed = a[0] * a[1] + a[2] if plus else a[0] * a[1] - a[2]
    letters = []
    for _ in range(mixed % 6 + base_length):
        r = _rand(r)
        letters.append(chr(ord("a") + _crop(r) % 26))
    return "".join(letters)


def _v1_start(n: int, ex: bool, const: int) -> int:
    if ex:
        x = _div9(_int32(n * (n + 7) * (n + 12)))
        y = n * (n + 1)
    else:
        x = _div9(_int32((n + 2) * (n + 7) * n))
        y = (3 * n + 1) * n
    return (x + y + const) & _MASK


class Kraken(Family):
    def names(self, start: date, *, version: int, seed: str, tld_set: int, count: int) -> list[str]:
        if version not in (1, 2):
            raise DgaError("kraken: version must be 1 or 2")
        seeds = _V1_SEEDS if version == 1 else _V2_SEEDS
        if seed not in seeds:
            raise DgaError(f"kraken: seed set must be one of {sorted(seeds)}")
        if version == 2 and tld_set not in _V2_TLDS:
            raise DgaError(f"kraken: tld_set must be one of {sorted(_V2_TLDS)}")
        out = []
        if version == 1:
            for i in range(count):
                n = i + 1000015
                for ex, const in ((False, seeds[seed][0]), (True, seeds[seed][1])):
                    out.append(f"{_label(_v1_start(n, ex, const), 6, False)}.{_V1_TLDS[n % 4]}")
            return out
        now = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
        weeks = (now - _WEEK_ZERO) // 604800 + 2
        tlds = _V2_TLDS[tld_set]
        for n, r in enumerate(_burnt(count, seeds[seed], weeks)):
            for x in r:
                out.append(f"{_label(x, 7, True)}.{tlds[n % 4]}")
        return out


def _burnt(count: int, consts: tuple[int, int], weeks: int) -> list[list[int]]:
    """Version 2's starting value for each index and constant, after the sample burns
    one random number per week: ``weeks`` of them, one less for indexes 6 and 7 of
    every nine, none for the ninth."""
    # Stepped for all indexes at once: a week is ~1000 steps per name by 2026, 100M
    # LCG steps a year in a Python loop (17 s of the DGA index build) against 0.3 s here.
    n = np.arange(count, dtype=np.uint64)
    start = np.stack([3 * n + np.uint64(c & _MASK) for c in consts], axis=1)  # consts are int32
    r = start.copy()
    for _ in range(max(weeks - 1, 0)):
        r = ((r * np.uint64(1103515245) + np.uint64(12435)) >> np.uint64(8)) & np.uint64(0x7FFF)
    full = ((r * np.uint64(1103515245) + np.uint64(12435)) >> np.uint64(8)) & np.uint64(0x7FFF) if weeks > 0 else r
    rest = (n % 9)[:, None]
    out = np.where(rest == 8, start, np.where((rest == 6) | (rest == 7), r, full))
    return out.tolist()


FAMILY = Kraken(
    name="kraken",
    aliases=("bobax", "oderoor"),
    seeding="version 2: the week (Monday 21:46:40 UTC to Monday) and a seed set; version 1: a seed set only",
    period_days=7,
    per_period=2000,
    tlds=("com", "net", "tv", "cc") + _V1_TLDS,
    params=(
        Param("version", int, 2, "1: the older DGA (no date), 2: the weekly DGA"),
        Param("seed", str, "a", "seed set of the sample: a or b"),
        Param("tld_set", int, 1, "version 2 only: 1 = com/net/tv/cc, 2 = the dynamic-DNS zones of version 1"),
        Param("count", int, 1000, "indexes per period (two names each)"),
    ),
    sources=(
        "https://johannesbader.ch/2015/12/krakens-two-domain-generation-algorithms/",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/kraken",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 kraken/v1/example_domains.txt: all 2000 names, "
        "version 1, seed set a (the only published version-1 list)",
        "baderj/domain_generation_algorithms@09961a1 kraken/v2/example_domains.txt: all 2000 names, "
        "version 2, seed set a, TLD set 1, week of 2015-12-22 (the only published version-2 list; "
        "its date is not stated, it was found by trying weeks)",
    ),
    epoch=date(2008, 4, 1),
)
