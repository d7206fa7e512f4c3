"""Fobber (Tinba v3): a multiply-add-rotate generator with constants per version.

Sources: the reimplementation and example lists in
baderj/domain_generation_algorithms (fobber/, commit 09961a1; its README
gives no analysis link for this family). The tests match
fobber/domains_1.txt (version 1) and fobber/domains_2.txt (version 2),
300 names each.

The generator is not seeded with a date: each version has a fixed start
value, so its names are the same every day.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Param

# version: (start value, addend, letters per name, TLD), from the two samples
_VERSIONS = {
    1: (0xC87C8A78, -1719405398 & 0xFFFFFFFF, 17, "net"),
    2: (0x851A3E59, -1916503263 & 0xFFFFFFFF, 10, "com"),
}


def _step(r: int, addend: int) -> int:
    r = (321167 * r + addend) & 0xFFFFFFFF
    return ((r >> 16) | (r << 16)) & 0xFFFFFFFF  # rotate by 16: swap the halves


class Fobber(Family):
    def names(self, start: date, *, version: int, count: int) -> list[str]:
        if version not in _VERSIONS:
            raise DgaError(f"fobber: version must be one of {sorted(_VERSIONS)}")
        r, addend, length, tld = _VERSIONS[version]
        out = []
        for _ in range(count):  # the state runs on from one name to the next
            letters = []
            for _ in range(length):
                r = _step(r, addend)
                letters.append(chr(ord("a") + (r & 0x17FF) % 26))
            out.append("".join(letters) + "." + tld)
        return out


FAMILY = Fobber(
    name="fobber",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("tinba-v3",),
    seeding="fixed start values per version of the sample; the date is ignored (the same names every day)",
    period_days=1,
    per_period=300,
    tlds=("net", "com"),
    params=(
        Param("version", int, 1, "1: 17 letters, .net; 2: 10 letters, .com"),
        Param("count", int, 300, "how many names to list (the sample tries 300)"),
    ),
    sources=(
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/fobber",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 fobber/domains_1.txt: all 300 names of version 1",
        "baderj/domain_generation_algorithms@09961a1 fobber/domains_2.txt: all 300 names of version 2",
    ),
    epoch=date(1970, 1, 1),
)
