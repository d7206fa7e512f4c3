"""DirCrypt: a Park-Miller ("minimal standard") generator seeded from the sample.

Sources: Johannes Bader, "The DGA of DirCrypt" (johannesbader.ch, 2015-03),
and the reimplementation and example list in baderj/domain_generation_algorithms
(dircrypt/, commit 09961a1). The test matches dircrypt/example_domains.txt,
30 names. The list does not state its seed; 0x72113C2B is the seed below
2**31 that reproduces it (found by searching every 32-bit seed; the only other
one, 0xF2113C2A, gives the same generator state and so the same names).

The seed is not a date: the names are the same every day.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param


def _park_miller(x: int) -> int:
    # 16807 * x mod (2**31 - 1) by Schrage's method, as the sample does it,
    # kept to 32 bits the way the sample's registers keep it.
    return (16807 * (x % 127773) - 2836 * (x // 127773)) & 0xFFFFFFFF


class DirCrypt(Family):
    def names(self, start: date, *, seed: int, count: int) -> list[str]:
        if not 0 <= seed <= 0xFFFFFFFF:
            raise DgaError("dircrypt: seed must be a 32-bit unsigned number")
        state, out = seed, []

        def draw(modulus: int) -> int:
            nonlocal state
            state = _park_miller(state)
            return state % modulus

        for _ in range(count):
            length = 8 + draw(13)  # 8..20 letters
            out.append("".join(chr(ord("a") + draw(26)) for _ in range(length)) + ".com")
        return out


FAMILY = DirCrypt(
    name="dircrypt",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    seeding="a 32-bit seed from the sample; the date is ignored (the same names every day)",
    period_days=1,
    per_period=30,
    tlds=("com",),
    params=(
        Param("seed", int, 0x72113C2B, "32-bit seed from the sample"),
        Param("count", int, 30, "how many names to list"),
    ),
    known=(
        Known(params={"seed": 0x72113C2B}, note="seed that reproduces the published example list",
              source="baderj/domain_generation_algorithms dircrypt/example_domains.txt"),
    ),
    sources=(
        "https://johannesbader.ch/2015/03/the-dga-of-dircrypt/",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/dircrypt",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 dircrypt/example_domains.txt: all 30 names, seed 0x72113C2B "
        "(the only published list; its seed is not stated, it was found by searching all 32-bit seeds)",
        "360netlab/DGA issue #12: 20 names VirusTotal saw, all within the 50 of seed 0xF6A84A56 (and the first 33 of the list J. Bader posted there, in order)",
    ),
    epoch=date(1970, 1, 1),
)
