"""Banjori (MultiBanker 2, BankPatch): a seed domain mutated four letters at a time.

Sources: Johannes Bader, "The DGA of Banjori" (johannesbader.ch, 2015-02),
and the reimplementation and example list in baderj/domain_generation_algorithms
(banjori/, commit 09961a1). The test matches banjori/example_domains.txt
(1000 names from the seed ``earnestnessbiophysicalohax.com``).

The generator is not seeded with a date: each name is derived from the
previous one, starting from a domain hard-coded in the sample. Only the first
four letters change; the rest of the seed domain is kept.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_A = ord("a")


def _letter(value: int) -> int:
    # The sample folds every sum back into a..z, counting from 'a'.
    return _A + (value - _A) % 26


def _successor(name: str) -> str:
    c = [ord(ch) for ch in name[:4]]
    # Each letter is updated in place, so later ones see the new earlier ones.
    c[0] = _letter(c[0] + c[3])
    c[1] = _letter(c[0] + 2 * c[1])
    c[2] = _letter(c[0] + c[2] - 1)
    c[3] = _letter(c[1] + c[2] + c[3])
    return "".join(map(chr, c)) + name[4:]


class Banjori(Family):
    def names(self, start: date, *, seed: str, count: int) -> list[str]:
        if len(seed.split(".", 1)[0]) < 4:
            raise DgaError(f"banjori: seed {seed!r} needs at least four letters before the first dot")
        if count < 1:
            raise DgaError("banjori: count must be at least 1")
        out, name = [], seed.lower()
        for _ in range(count):
            out.append(name)
            name = _successor(name)
        return out


FAMILY = Banjori(
    name="banjori",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("multibanker2", "bankpatch", "bankpatcher"),
    seeding="a seed domain from the sample; the date is ignored (the same names every day)",
    period_days=1,
    per_period=1000,
    tlds=("com",),
    params=(
        Param("seed", str, "earnestnessbiophysicalohax.com", "seed domain hard-coded in the sample"),
        Param("count", int, 1000, "how many names to list (the published list has 1000)"),
    ),
    known=(
        Known(params={"seed": "earnestnessbiophysicalohax.com"}, note="seed of the published example list",
              source="baderj/domain_generation_algorithms banjori/dga.py"),
    ),
    sources=(
        "https://johannesbader.ch/2015/02/the-dga-of-banjori/",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/banjori",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 banjori/example_domains.txt: all 1000 names from seed "
        "earnestnessbiophysicalohax.com (the only published list; one seed)",
        "360netlab/DGA issues #39, #28, #25 (sandbox): seeds censorshipecmascriptivylv.com (all 40), nodomen.com (first 12), adulthoodivettewl.com (first 10)",
    ),
    epoch=date(1970, 1, 1),
)
