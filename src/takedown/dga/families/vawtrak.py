"""Vawtrak (second DGA, 2016): pronounceable .com names from a per-sample seed.

Sources: ThreatGeek (Fidelis), "Vawtrak DGA Round 2" (2016-11,
http://www.threatgeek.com/2016/11/vawtrak-dga-round-2.html), and J. Bader's
reimplementations in baderj/domain_generation_algorithms (``vawtrak/dga2.py``
and ``dga3.py``, with sample hashes; read to learn the algorithm, this code is
our own). The test matches ``vawtrak/example_domains2.txt`` (commit 09961a1):
the first 100 names for seed 0x5884c3c4 with step 2, the only published list.

No date enters the generator. Letters alternate between consonant runs of one
or two and single vowels. The later samples ("dga3") differ only in the number
added to the generator state before each letter (``step``); those seeds have no
published output and are listed untested. The first Vawtrak DGA (.top names)
is not implemented here: no published output to check it against.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param

_CONSONANTS = "cdfghlmnrstw"
_VOWELS = "aeiou"


def _lcg(r: int) -> int:
    # the sample's rand-style LCG keeps 31 bits; state arithmetic wraps the same way
    return (1103515245 * r + 12345) & 0x7FFFFFFF


class Vawtrak(Family):
    def names(self, start: date, *, seed: int, step: int, count: int) -> list[str]:
        r = seed & 0xFFFFFFFF
        out = []
        for _ in range(count):
            r = _lcg(r)
            length = r % 5 + 7
            r = _lcg(r)
            consonants_left = r % 2  # how many consonants come before the next vowel
            letters = []
            for _ in range(length):
                r = _lcg(r + step)
                pick = r
                if consonants_left:
                    letters.append(_CONSONANTS[pick % len(_CONSONANTS)])
                    consonants_left -= 1
                else:
                    letters.append(_VOWELS[pick % len(_VOWELS)])
                    r = _lcg(r)
                    consonants_left = r % 2 + 1
            out.append("".join(letters) + ".com")
        return out


_DGA2 = "https://github.com/baderj/domain_generation_algorithms/blob/master/vawtrak/dga2.py"
_DGA3 = "https://github.com/baderj/domain_generation_algorithms/blob/master/vawtrak/dga3.py"

FAMILY = Vawtrak(
    name="vawtrak",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("neverquest", "snifula"),
    seeding="per-sample seed only; the date is ignored",
    period_days=1,
    per_period=150,
    tlds=("com",),
    params=(
        Param("seed", int, 0x5884C3C4, "per-sample seed"),
        Param("step", int, 2, "added to the state before each letter: 2, or 0x1895120F in later samples"),
        Param("count", int, 150, "names generated (150 in the reimplementation; the sample's count is unclear)"),
    ),
    known=(
        Known(params={"seed": 0x5884C3C4, "step": 2}, note="md5 3868082e4daa93d34a3fe5d7df9d1d72", source=_DGA2),
        Known(params={"seed": 0x5542B2, "step": 2}, note="md5 edfc8653b93c693a51c57caac9e715f7; untested",
              source=_DGA2),
        Known(params={"seed": 0x874C49, "step": 0x1895120F}, note="later variant; untested", source=_DGA3),
        Known(params={"seed": 0x3CDCA1, "step": 0x1895120F}, note="later variant; untested", source=_DGA3),
    ),
    sources=("http://www.threatgeek.com/2016/11/vawtrak-dga-round-2.html",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/vawtrak"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 vawtrak/example_domains2.txt: all 100 names, "
        "seed 0x5884c3c4, step 2 (the only published list; other seeds and step 0x1895120F untested)",
    ),
    epoch=date(1970, 1, 1),
)
