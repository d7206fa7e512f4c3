"""Reconyc: names from a Mersenne Twister seeded with GetTickCount, so the
names cannot be predicted from the date; given the tick count they can.

Sources: the Reconyc DGA in baderj/domain_generation_algorithms (reconyc/,
2019, from sample d7e3bbdc38aa18b214fed3518798b86b, unpacked
db0820a974dbea22d981bd39ddb19518; its README notes the unpredictable seeding)
and its example list reconyc/example_domains.txt.

The generator is MT19937 with the usual seeding and tempering, except that
its twist updates only entries 0..622: entry 623 keeps its seeded value
forever (a quirk of the sample, kept). A character is charset[(62 * x) >> 32]
for an output x, over the sample's shuffled 62-letter alphabet; 10 characters
and ".com" make a name. Useful to recognise the family's names, or to replay
a known infection's list; there is nothing to pre-register.

The list does not say its seed; it was made with a random tick count below one
day in ms. A search over 0..86400000 finds tick count 434921 as the only seed
that reproduces the list; the test matches all 100 names (the only published list).
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Param

_CHARSET = "iHRYg79zJXaGw1CF5K0d3vZobhAlx6StUBnjOIMpe2yVuPr4sL8DqmQTkEcWNf"
_M32 = 0xFFFFFFFF


def _outputs(seed: int):
    mt = [seed & _M32]
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & _M32)
    while True:
        for i in range(623):  # the sample's twist stops one entry short
            x = (mt[i] & 0x80000000) | (mt[i + 1] & 0x7FFFFFFF)
            mt[i] = mt[(i + 397) % 624] ^ (x >> 1) ^ (0x9908B0DF if x & 1 else 0)
        for y in mt:
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            yield y ^ (y >> 18)


class Reconyc(Family):
    def names(self, start: date, *, seed: int, count: int) -> list[str]:
        out = _outputs(seed)
        return ["".join(_CHARSET[(62 * next(out)) >> 32] for _ in range(10)) + ".com" for _ in range(count)]


FAMILY = Reconyc(
    name="reconyc",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    seeding="GetTickCount (ms since boot) at start: unpredictable, not the date",
    period_days=1,
    per_period=100,
    tlds=("com",),
    params=(
        Param("seed", int, None, "the tick count the sample started with (required: it is not the date)"),
        Param("count", int, 100, "how many names to make"),
    ),
    sources=("https://github.com/baderj/domain_generation_algorithms/tree/master/reconyc",),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 reconyc/example_domains.txt "
        "(100 names; tick count 434921, found by search); the only published list",
    ),
    epoch=date(2019, 1, 1),
)
