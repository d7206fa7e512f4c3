"""DNSChanger (Alureon): ten letters per name from the Microsoft C runtime rand().

Sources: Johannes Bader, "The DGA in Alureon/DNSChanger" (johannesbader.ch,
2016-01), and the reimplementation and example list in
baderj/domain_generation_algorithms (dnschanger/, commit 09961a1). The test
matches dnschanger/example_domains.txt, 5 names. The list does not state its
seed; 87373 reproduces it (found by searching every 32-bit seed; the only
other one, 87373 + 2**31, differs in a bit rand() never returns).

The seed is the argument the sample passes to srand(), not a date: the names
for a seed are the same every day.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param


class DnsChanger(Family):
    def names(self, start: date, *, seed: int, count: int) -> list[str]:
        state = seed & 0xFFFFFFFF  # srand() takes the seed modulo 2**32

        def rand() -> int:
            # msvcrt rand(): 15 bits from the top of a 32-bit LCG
            nonlocal state
            state = (214013 * state + 2531011) & 0xFFFFFFFF
            return (state >> 16) & 0x7FFF

        return ["".join(chr(ord("a") + rand() % 26) for _ in range(10)) + ".com" for _ in range(count)]


FAMILY = DnsChanger(
    name="dnschanger",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("alureon",),
    seeding="the value passed to srand() by the sample; the date is ignored (the same names every day)",
    period_days=1,
    per_period=5,
    tlds=("com",),
    params=(
        Param("seed", int, 87373, "srand() seed"),
        Param("count", int, 5, "how many names to list"),
    ),
    known=(
        Known(params={"seed": 87373}, note="seed that reproduces the published example list",
              source="baderj/domain_generation_algorithms dnschanger/example_domains.txt"),
    ),
    sources=(
        "https://johannesbader.ch/2016/01/the-dga-in-alureon-dnschanger/",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/dnschanger",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 dnschanger/example_domains.txt: all 5 names, seed 87373 "
        "(the only published list; its seed is not stated, it was found by searching all 32-bit seeds)",
    ),
    epoch=date(1970, 1, 1),
)
