"""Symmi (MewsSpy, Graftor): 64 dynamic-DNS subdomains per half month.

Sources: J. Bader, "The DGA of Symmi" (2015-01,
https://johannesbader.ch/2015/01/the-dga-of-symmi/), and the example list in
baderj/domain_generation_algorithms (``symmi/``; read to learn the algorithm,
this code is our own). The test matches ``symmi/example_domains.txt`` (commit
09961a1), which is the second half of August 2015 (seed 2015-08, day >= 16).

The seed is 10000 * (100 * (day // 16) + month) + year + 42: names change on
the 1st and the 16th of each month. Those halves are not a fixed number of
days: the family defines its own periods (``period_start``/``period_end``).
"""

from __future__ import annotations

import calendar
from datetime import date

from takedown.dga.base import Family, Known, Param

_VOWELS = "aeiouy"
_CONSONANTS = "bcdfghklmnpqrstvwxz"


class _MsvcRand:
    """msvcrt rand(): the LCG the sample calls, 15-bit outputs."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFF

    def __call__(self) -> int:
        self.state = (self.state * 214013 + 2531011) & 0xFFFFFFFF
        return (self.state >> 16) & 0x7FFF


def _label(rand: _MsvcRand, length: int) -> str:
    out = []
    for i in range(length):
        if i % 2 == 0:  # every letter pair starts with a fresh vowel/consonant choice
            first = 1 if rand() & 0x100 else 0
        pool = (_VOWELS, _CONSONANTS)[(first + i) % 2]
        # modulo len - 1: the sample never picks the pool's last letter ('y', 'z')
        out.append(pool[rand() % (len(pool) - 1)])
    return "".join(out)


class Symmi(Family):
    # the sample's own periods: days 1-15 and 16 to the end of the month
    def period_start(self, day: date, params: dict | None = None) -> date:
        return day.replace(day=1 if day.day < 16 else 16)

    def period_end(self, start: date, params: dict | None = None) -> date:
        return start.replace(day=15 if start.day < 16 else calendar.monthrange(start.year, start.month)[1])

    def names(self, start: date, *, seed_constant: int, suffix: str, count: int) -> list[str]:
        seed = 10000 * ((start.day // 16) * 100 + start.month) + start.year + seed_constant
        rand = _MsvcRand(seed)
        out = []
        for _ in range(count):
            length = 8 + rand() % 8  # third-level label of 8..15 letters
            out.append(f"{_label(rand, length)}.{suffix.lstrip('.')}")
        return out


FAMILY = Symmi(
    name="symmi",
    aliases=("mewsspy", "graftor"),
    seeding="UTC month, year and half of the month (day < 16 or not), plus a per-sample constant",
    period_days=1,
    per_period=64,
    tlds=("net",),
    params=(
        Param("seed_constant", int, 42, "constant added to the seed (sample configuration)"),
        Param("suffix", str, "ddns.net", "second- and top-level domain under which labels are made"),
        Param("count", int, 64, "names per half month"),
    ),
    known=(Known(params={"seed_constant": 42, "suffix": "ddns.net"},
                 note="samples of 2014-12 .. 2015-01 analysed by J. Bader",
                 source="https://johannesbader.ch/2015/01/the-dga-of-symmi/"),),
    sources=("https://johannesbader.ch/2015/01/the-dga-of-symmi/",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/symmi"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 symmi/example_domains.txt: all 64 names, "
        "2015-08-16..31 (the only published list; its date was found by matching seeds)",
        "pchaigno/dga-collection@e910a11 test/test_symmi.py: the 3 names it states for 2015-12-20 (our first 3)",
    ),
    epoch=date(1970, 1, 1),
)
