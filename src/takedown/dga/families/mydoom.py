"""MyDoom (Novarg, Mimail.R, Shimgapi): ten-letter names from a linear congruential generator.

Source: the reimplementation and example list in github.com/baderj/domain_generation_algorithms
(mydoom/, 2019; read only to learn the algorithm; this code is our own), which names no
analysis write-up. The test matches mydoom/example_domains.txt (commit 09961a1): all 99
names for magic 0xFA8 on 2019-04-18, the list's commit date (any date with the same
year + month + day gives them; the file does not say which).

The generator is seeded with year + month + day + magic; the 51st name onwards restart from
the magic alone, so they are the same every day. Each name is the ten decimal digits of
one LCG output, lowest first, mapped to the letters "asnhreqwpm"; the lowest digit also
picks the TLD.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param

_LETTERS = "asnhreqwpm"
_TLDS = ("com", "biz", "us", "net", "org", "ws", "info")  # by lowest digit; 7..9 give "in"
_RESTART = 51  # from this name number on, the generator restarts from the magic alone


def _lcg(state: int) -> int:
    return (state * 1664525 + 1013904223) & 0xFFFFFFFF  # the Numerical Recipes constants


class Mydoom(Family):
    def names(self, start: date, *, magic: int, count: int) -> list[str]:
        state = start.year + start.month + start.day + magic
        out = []
        for number in range(1, count + 1):  # the sample counts names from 1
            if number == _RESTART:
                state = magic
            state = _lcg(state)
            digits = [(state // 10**k) % 10 for k in range(10)]
            tld = _TLDS[digits[0]] if digits[0] < len(_TLDS) else "in"
            out.append("".join(_LETTERS[d] for d in digits) + "." + tld)
        return out


_REPO = "https://github.com/baderj/domain_generation_algorithms/tree/master/mydoom"

FAMILY = Mydoom(
    name="mydoom",
    aliases=("novarg", "mimail.r", "shimgapi"),
    seeding="year + month + day of the UTC date plus a magic number (names 51+ from the magic only)",
    period_days=1,
    per_period=99,
    tlds=(*_TLDS, "in"),
    params=(Param("magic", int, 0xFA8, "magic number added to the date sum"),
            Param("count", int, 99, "names per day")),
    known=(Known(params={"magic": 0xFA8}, note="the only magic in the reimplementation", source=_REPO),),
    sources=(_REPO,),
    verified_against=("mydoom/example_domains.txt of baderj/domain_generation_algorithms (09961a1): all 99 "
                      "names, magic 0xFA8, 2019-04-18",
        "360netlab/DGA issue #49: the 40 names generated in a sandbox on 2019-01-03 (our first 40), magic 0xFA8",
    ),
    epoch=date(1970, 1, 1),
)
