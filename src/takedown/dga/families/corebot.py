"""CoreBot: a linear congruential generator seeded with the date and a key.

Sources: Johannes Bader, "The DGA of CoreBot" (johannesbader.ch, 2015-09),
and the reimplementation and example list in baderj/domain_generation_algorithms
(corebot/, commit 09961a1). The test matches corebot/example_domains.txt:
the 40 names of 2015-09-08 with key 0x1DB98930, the values hard-coded in the
script that produced the list (commit be28abd). That script came from a
debugging sample which always used the 8th of the month; later versions of the
reference default to key 0x1DBA8930 (see ``known``).
"""

from __future__ import annotations

import string
from datetime import date

from takedown.dga.base import Family, Known, Param

# The sample builds its alphabet with exclusive upper bounds, so 'z' and '9'
# never occur.
_ALPHABET = string.ascii_lowercase[:-1] + string.digits[:-1]
_MASK = 0xFFFFFFFF


def _lcg(r: int) -> int:
    return (1664525 * r + 1013904223) & _MASK


class CoreBot(Family):
    def names(self, start: date, *, key: int, count: int) -> list[str]:
        # The day, month and a constant 1 are packed into one word and added
        # to the key and the year.
        r = (key + start.year + ((1 << 16) + (start.month << 8) | start.day)) & _MASK
        out = []
        for _ in range(count):
            r = _lcg(r)
            length = 12 + r % 12  # 12..23 letters
            label = []
            for _ in range(length):
                r = _lcg(r)
                label.append(_ALPHABET[r % len(_ALPHABET)])
            out.append("".join(label) + ".ddns.net")
        return out


FAMILY = CoreBot(
    name="corebot",
    seeding="date (year, month, day) and a 32-bit key from the sample",
    period_days=1,
    per_period=40,
    tlds=("ddns.net",),
    params=(
        Param("key", int, 0x1DBA8930, "32-bit seed from the sample's configuration"),
        Param("count", int, 40, "names per day"),
    ),
    known=(
        Known(params={"key": 0x1DBA8930}, note="default key of the reference implementation since 2015-09-28",
              source="baderj/domain_generation_algorithms corebot/dga.py (commit c93f137)"),
        Known(params={"key": 0x1DB98930}, note="key of the debugging sample behind the published list",
              source="baderj/domain_generation_algorithms corebot/dga.py (commit be28abd)"),
    ),
    sources=(
        "https://johannesbader.ch/2015/09/the-dga-of-corebot/",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/corebot",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 corebot/example_domains.txt: all 40 names of 2015-09-08 "
        "with key 0x1DB98930, as hard-coded in the script that made it (commit be28abd); the only published list",
    ),
    epoch=date(1970, 1, 1),
)
