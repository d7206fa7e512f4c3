"""Simda (Shiz): a fixed sequence of seven-letter .com names from a key and a base.

Sources: J. Bader, "The DGA of Simda/Shiz" (2015-03,
https://johannesbader.ch/2015/03/the-dga-of-simda-shiz/), and the example list
in baderj/domain_generation_algorithms (``simda/``; read to learn the
algorithm, this code is our own). The test matches ``simda/example_domains.txt``
(commit 09961a1): 1000 names with key 1676d5775e05c50b46baa5579d4fc7 and base
0x45AE94B2, the only published list.

No date enters the generator: the sample walks the same list every time.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param

# index % 20 below never reaches the trailing 'v' (as in the sample)
_CONSONANTS = "qwrtpsdfghjklzxcvbnmv"
_VOWELS = "eyuioa"


class Simda(Family):
    def names(self, start: date, *, key: str, base: int, length: int, tld: str, count: int) -> list[str]:
        step = sum(ord(c) for c in key)
        out = []
        for _ in range(count):
            base = (base + step) & 0xFFFFFFFF  # a 32-bit register in the sample
            letters = []
            for i in range(length):
                q = base // (3 + 2 * i)
                letters.append(_CONSONANTS[q % 20] if i % 2 == 0 else _VOWELS[q % 6])
            out.append("".join(letters) + "." + tld.lstrip("."))
        return out


FAMILY = Simda(
    name="simda",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("shiz",),
    seeding="per-sample key string and base number only; the date is ignored",
    period_days=1,
    per_period=1000,
    tlds=("com",),
    params=(
        Param("key", str, "1676d5775e05c50b46baa5579d4fc7", "key string; the sum of its bytes is the step"),
        Param("base", int, 0x45AE94B2, "starting value"),
        Param("length", int, 7, "letters per name"),
        Param("tld", str, "com", "top-level domain"),
        Param("count", int, 1000, "names generated"),
    ),
    known=(Known(params={"key": "1676d5775e05c50b46baa5579d4fc7", "base": 0x45AE94B2},
                 note="sample analysed by J. Bader",
                 source="https://johannesbader.ch/2015/03/the-dga-of-simda-shiz/"),),
    sources=("https://johannesbader.ch/2015/03/the-dga-of-simda-shiz/",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/simda"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 simda/example_domains.txt: all 1000 names, "
        "key 1676d5775e05c50b46baa5579d4fc7, base 0x45AE94B2 (the only published list)",
        "360netlab/DGA issue #3: 23 names VirusTotal saw, key 167bdf6e5e05c53a8a52b9505876ed, base 0x45AE94B2, length 7, .net",
    ),
    epoch=date(1970, 1, 1),
)
