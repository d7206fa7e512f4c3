"""Pykspa, the "precursor" DGA: the older, faulty variant of Pykspa's DGA.

Sources: J. Bader, "The Faulty Precursor of Pykspa's DGA" (2015),
https://bin.re/blog/pykspas-inferior-dga-version/ and the example list of
baderj/domain_generation_algorithms (pykspa/precursor/example_domains.txt).

The seed is the two-day index unix_time // 172800 (UTC). For name k the state
r becomes (r*r + k) mod 2**32; r picks the length (6..15) and the TLD, and
seeds the letters. While making the letters r is shifted right by i*i bits
(mod 32), so it soon reaches 0 and the rest of the name depends on the length
only: many names share tails such as "nansnan". This is the "faulty" part,
kept because the sample does it. The test matches the published list
of 5000 names, found by search to be the period 2015-08-31..09-01 (the list
does not name its date); it is the only published list.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Param

_M32 = 0xFFFFFFFF
_TLDS = ("biz", "com", "net", "org", "info", "cc")
_EPOCH = date(1970, 1, 1)


def _sld(length: int, r: int) -> str:
    out = []
    a = length * length
    for i in range(length):
        mult = r % 5 + r % 123456 + ((i * (r % 4567 + r % 19)) & _M32)
        out.append(chr(ord("a") + ((a + ((r * mult) & _M32)) & _M32) % 26))
        r = ((r + i) & _M32) >> ((i * i) & 31)
        a = (a + length) & _M32
    return "".join(out)


class PykspaPrecursor(Family):
    def names(self, start: date, *, count: int) -> list[str]:
        r = (start - _EPOCH).days // 2
        out = []
        for k in range(count):
            r = (r * r + k) & _M32
            out.append(_sld(r % 10 + 6, r) + "." + _TLDS[r % 6])
        return out


FAMILY = PykspaPrecursor(
    name="pykspa_precursor",
    aliases=("pykspa-precursor", "pykspa_v1"),
    seeding="two-day index of the UTC date (unix time // 172800)",
    period_days=2,
    per_period=5000,
    tlds=_TLDS,
    params=(Param("count", int, 5000, "names per two-day period (the blog: sets of 5000)"),),
    sources=(
        "https://bin.re/blog/pykspas-inferior-dga-version/",
        "https://github.com/baderj/domain_generation_algorithms/tree/master/pykspa/precursor",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 pykspa/precursor/example_domains.txt "
        "(5000 names, period 2015-08-31..09-01); the only published list",
    ),
    epoch=_EPOCH,
)
