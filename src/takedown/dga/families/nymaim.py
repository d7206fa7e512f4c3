"""Nymaim (the 2015 variant; nymaim2's word-based DGA is a different algorithm).

Source: the reimplementation and example list in github.com/baderj/domain_generation_algorithms
(nymaim/, 2015; read only to learn the algorithm; this code is our own), which names no
analysis write-up. The test matches nymaim/example_domains.txt (commit 09961a1): all 128
names of 2019-07-19, the day that list was committed (c289634; the file does not say the
date: found by matching). The seed cannot tell apart days with the same month + day and
year + weekday, so 2019-01-25 and 2018-08-18 give the same list, as the test checks.

A four-word 32-bit generator is seeded with year + ((month + day) << 16) + weekday
(Sunday 0), each word offset by an ASCII constant ("AVER", "LOHI", " HUY", " VAM" as
little-endian words). Each step shifts and XORs the last word (an xorshift) and adds
neighbouring words; the output is (old third word + new last word) // 100, modulo the
range asked for. A name is 6..11 letters; its second-to-last letter picks the TLD.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param

_M32 = 0xFFFFFFFF
_TLD_BY_LETTER = ((9, "com"), (13, "org"), (17, "biz"), (21, "net"), (26, "info"))


class _Prng:
    def __init__(self, day: date):
        # the date sum stays far below 2**32 - 0x49484F4C, so the sample's special case
        # for an overflowing second word (it becomes 0) never happens for real dates
        s = day.year + ((day.month + day.day) << 16) + day.isoweekday() % 7
        self.w = [(s + k) & _M32 for k in (0x52455641, 0x49484F4C, 0x59554820, 0x4D415620)]

    def below(self, m: int) -> int:
        a, b, c, d = self.w
        t = (a ^ (a << 11)) & _M32
        new = d ^ (d >> 19) ^ t ^ (t >> 8)
        self.w = [(a + b) & _M32, (b + c) & _M32, (c + d) & _M32, new]
        return ((c + new) & _M32) // 100 % m


class Nymaim(Family):
    def names(self, start: date, *, count: int) -> list[str]:
        rng = _Prng(start)
        out = []
        for _ in range(count):
            letters = [chr(ord("a") + rng.below(26)) for _ in range(rng.below(6) + 6)]
            pick = ord(letters[-2]) - ord("a")
            tld = next(t for bound, t in _TLD_BY_LETTER if pick < bound)
            out.append("".join(letters) + "." + tld)
        return out


_REPO = "https://github.com/baderj/domain_generation_algorithms/tree/master/nymaim"

FAMILY = Nymaim(
    name="nymaim",
    seeding="UTC date: year, month + day and weekday",
    period_days=1,
    per_period=128,
    tlds=("com", "org", "biz", "net", "info"),
    params=(Param("count", int, 128, "names per day"),),
    known=(Known(params={}, note="no per-sample parameter in this variant", source=_REPO),),
    sources=(_REPO,),
    verified_against=("nymaim/example_domains.txt of baderj/domain_generation_algorithms (09961a1): "
                      "all 128 names of 2019-07-19 (= 2019-01-25); the only published list",),
    epoch=date(1970, 1, 1),
)
