"""Qakbot (Qbot): a CRC32 of the 10-day window seeds a Mersenne Twister.

Sources: J. Bader, "The DGA of Qakbot" (2016),
https://johannesbader.ch/2016/02/the-dga-of-qakbot/ and the example list of
baderj/domain_generation_algorithms (qakbot/example_domains.txt).

The seed string is "<w>.<mon>.<year>.<seed:08x>" with w = 0, 1, 2 for days
1-10, 11-20 and 21-end of the month and <mon> the lowercase English month
abbreviation; its CRC32 (plus 1 when the bot thinks it runs in a sandbox)
seeds MT19937 (init_genrand). Each draw keeps the low 28 bits of an output
and scales it into a range. The test matches the published list of 5000
names, which is the window 2016-02-21..29 with seed 0, no sandbox.
"""

from __future__ import annotations

import random
import zlib
from datetime import date, timedelta

from takedown.dga.base import Family, Known, Param

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# the sample's list: "org" twice, so org is drawn twice as often
_TLDS = ("com", "net", "org", "info", "biz", "org")


def _mt(seed: int) -> random.Random:
    """A Random whose state is MT19937 init_genrand(seed): Python's own seeding differs."""
    mt = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        prev = mt[-1]
        mt.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, (*mt, 624), None))  # index 624: twist before the first output
    return rng


class Qakbot(Family):
    def period_start(self, day: date, params: dict | None = None) -> date:
        # windows are calendar based: 1-10, 11-20, 21-end of the month
        return day.replace(day=min((day.day - 1) // 10, 2) * 10 + 1)

    def period_end(self, start: date, params: dict | None = None) -> date:
        # the third window runs to the month's end (8 to 11 days)
        if start.day < 21:
            return start + timedelta(days=9)
        first_of_next = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first_of_next - timedelta(days=1)

    def names(self, start: date, *, seed: int, sandbox: int, count: int) -> list[str]:
        start = self.period_start(start)
        window = min((start.day - 1) // 10, 2)
        text = f"{window}.{_MONTHS[start.month - 1]}.{start.year}.{seed:08x}"
        rng = _mt(zlib.crc32(text.encode("ascii")) + (1 if sandbox else 0))

        def draw(lo: int, hi: int) -> int:
            # lo + floor(r / 2**28 * n): exact in integers since r < 2**28
            return lo + (((rng.getrandbits(32) & 0xFFFFFFF) * (hi - lo + 1)) >> 28)

        out = []
        for _ in range(count):
            tld = _TLDS[draw(0, len(_TLDS) - 1)]
            length = draw(8, 25)
            out.append("".join(chr(ord("a") + draw(0, 25)) for _ in range(length)) + "." + tld)
        return out


FAMILY = Qakbot(
    name="qakbot",
    aliases=("qbot", "quakbot", "pinkslipbot"),
    seeding="10-day window of the month (1-10, 11-20, 21-end), a 32-bit seed and a sandbox flag",
    period_days=10,
    per_period=5000,
    tlds=("com", "net", "org", "info", "biz"),
    params=(
        Param("seed", int, 0, "32-bit seed from the sample's configuration (0 and 1 seen)"),
        Param("sandbox", int, 0, "1: the list the bot uses when it detects a sandbox"),
        Param("count", int, 5000, "names per window"),
    ),
    known=(
        Known(params={"seed": 0}, note="seed of the analysed samples",
              source="https://johannesbader.ch/2016/02/the-dga-of-qakbot/"),
        Known(params={"seed": 1}, note="second seed listed by the reference implementation",
              source="baderj/domain_generation_algorithms qakbot/dga.py"),
    ),
    sources=(
        "https://johannesbader.ch/2016/02/the-dga-of-qakbot/",
        "https://github.com/baderj/domain_generation_algorithms/tree/master/qakbot",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 qakbot/example_domains.txt "
        "(5000 names, window 2016-02-21..29, seed 0, no sandbox); the only published list",
    ),
    epoch=date(2016, 1, 1),
)
