"""Locky ransomware, DGA version 2 (early 2016): a few names every two days from a seed.

Sources: Forcepoint Security Labs, "Locky's new DGA: seeding new domains" (2016,
https://blogs.forcepoint.com/security-labs/lockys-new-dga-seeding-new-domains), and the
reimplementation, per-sample configurations and example list in
github.com/baderj/domain_generation_algorithms (locky/dgav2.py; read only to learn the
algorithm; this code is our own). The test matches locky/example_domains.txt (commit
09961a1): the 8 names of seed 62 (configuration 1 there) on 2016-02-29, the list's commit
date (the date and seed were found by matching; the file does not say them).

The day enters the seed as ``day // 2``, so names change on every even day of the month
(the 1st stands alone): not a fixed cycle, hence one-day periods here.
"""

from __future__ import annotations

import calendar
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

TLDS = ("ru", "pw", "eu", "in", "yt", "pm", "us", "fr", "de", "it", "be", "uk", "nl", "tf")
_M32 = 0xFFFFFFFF
_MUL, _ADD = 0xB11924E1, 0x27100001


def _ror(v: int, s: int) -> int:
    v &= _M32
    return ((v >> s) | (v << (32 - s))) & _M32


def _rol(v: int, s: int) -> int:
    v &= _M32
    return ((v << s) | (v >> (32 - s))) & _M32


def _name(day: date, index: int, seed: int, shift: int) -> str:
    def step(v: int) -> int:  # the sample's mixing step: multiply, rotate right
        return _ror(_MUL * v, shift)

    t = step(day.year + 0x1BF5)
    if seed:  # a zero seed skips this round in the sample
        t = step(t + seed + _ADD)
    t = step(t + day.day // 2 + _ADD)
    t = step(t + day.month + 0x2709A354)
    r = (step(_rol(index, 21) + t + _rol(seed, 17) + _ADD) + _ADD) & _M32
    letters = []
    for i in range(r % 11 + 5):
        r = (step(_rol(r, i)) + _ADD) & _M32
        letters.append(chr(ord("a") + r % 25))  # % 25: never a 'z', as in the sample
    r = (step(r) + _ADD) & _M32
    return "".join(letters) + "." + TLDS[r % len(TLDS)]


class Locky(Family):
    # the sample's own periods: day // 2 groups (the 1st alone, then 2-3, 4-5, ...)
    def period_start(self, day: date, params: dict | None = None) -> date:
        return day.replace(day=max(1, (day.day >> 1) << 1))

    def period_end(self, start: date, params: dict | None = None) -> date:
        last = ((start.day >> 1) << 1) + 1
        return start.replace(day=min(last, calendar.monthrange(start.year, start.month)[1]))

    def names(self, start: date, *, seed: int, shift: int, count: int) -> list[str]:
        if not 1 <= shift <= 31:
            raise DgaError("locky: shift is a rotation count, 1..31")
        # the sample tries name index modulo `count`, so there are `count` distinct names
        return [_name(start, i, seed, shift) for i in range(count)]


_FP = "https://blogs.forcepoint.com/security-labs/lockys-new-dga-seeding-new-domains"
_REPO = "https://github.com/baderj/domain_generation_algorithms/blob/master/locky/dgav2.py"


def _sample(seed: int, md5: str, shift: int = 7, count: int = 8) -> Known:
    return Known(params={"seed": seed, "shift": shift, "count": count}, note=f"sample md5 {md5}", source=_REPO)


FAMILY = Locky(
    name="locky",
    aliases=("locky-v2",),
    seeding="UTC date (year, month, day // 2) and a per-sample seed",
    period_days=1,
    per_period=8,
    tlds=TLDS,
    params=(Param("seed", int, 62, "per-sample seed (0: the seed round is skipped)"),
            Param("shift", int, 7, "rotation of the mixing step (5 or 7 in known samples)"),
            Param("count", int, 8, "distinct names per day: the index is taken modulo this")),
    known=(_sample(62, "b28da1f2a5d889594a0e77e0853bcf29"),
           _sample(75, "e35bf0901f1a7db2b3752f85cd1bd044"),
           _sample(9, "872018251970f0a739aa71d3cd313efa"),
           _sample(7, "3f118d0b888430ab9f58fc2589207988"),
           _sample(0, "32e2c73ed8da34d87c64267936e632cb", shift=5, count=6),
           _sample(660, "d2ea1565ae004368655edb5169b56a0f"),
           _sample(555, "69b933a694710f8ceb314dc897a94cbe")),
    sources=(_FP, "https://github.com/baderj/domain_generation_algorithms/tree/master/locky"),
    verified_against=("locky/example_domains.txt of baderj/domain_generation_algorithms (09961a1): all 8 names "
                      "of seed 62 on 2016-02-29 (same as 2016-02-28); the only published list",),
    epoch=date(1970, 1, 1),
)
