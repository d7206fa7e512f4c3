"""Ramnit (Nimnul): a hard-coded seed and a Park-Miller style LCG, no date.

Sources: J. Bader, "The DGA of Ramnit" (2014),
https://bin.re/blog/the-dga-of-ramnit/ (seeds seen in the wild) and the
example list of baderj/domain_generation_algorithms (ramnit/example_domains.txt).

Each name: a draw mod 12 gives the length (8..19), then one draw mod 25 per
letter (so 'z' never appears), always ".com". The generator is then reseeded
from the product of its state before and after the length draw, folded to 32
bits. The names do not depend on the date: every day gives the same list. The
test matches the only published list, the first 100 names of seed 0x79159C10.

Not covered: a later reimplementation upstream (ramnit/dga.py at HEAD) uses
lengths 9..25 and rotating TLDs (click, com, eu, bid); no published output of
it exists, so it is not modelled here.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Known, Param

_BLOG = "https://bin.re/blog/the-dga-of-ramnit/"
# seeds published for samples in the wild (the blog and the upstream seed list;
# two upstream entries with nine hex digits are left out: not 32-bit values)
_SEEDS = (
    0x16647BB4, 0xE7392D18, 0xC129388E, 0xE706B455, 0xDC485593, 0xEF214BBF, 0x28488EEA,
    0x4BFCBC6A, 0x79159C10, 0x92F4BE35, 0x4302C04A, 0x52278648, 0x9753029A, 0xA6EAB21A,
    0x46CF1B28, 0x1CCEC41C, 0x75EA95C2, 0x8A0AEC7D, 0x1DF640A8, 0x14DF29DD, 0x8222270B,
    0x55536A85, 0x5C39E467, 0xD2B3C361, 0xF318D47D, 0x231D9480, 0x13317EAC, 0x89547381,
    0x6C36D41D,
)


class Ramnit(Family):
    def names(self, start: date, *, seed: int, count: int) -> list[str]:
        state = seed & 0xFFFFFFFF

        def draw(mod: int) -> int:
            nonlocal state
            # Schrage's form of 16807*x mod (2**31-1), kept as the sample does it:
            # the result is taken mod 2**32 without adding the modulus back
            state = (16807 * (state % 127773) - 2836 * (state // 127773)) & 0xFFFFFFFF
            return state % mod

        out = []
        for _ in range(count):
            before = state
            length = draw(12) + 8
            after_length = state
            out.append("".join(chr(ord("a") + draw(25)) for _ in range(length)) + ".com")
            prod = before * after_length
            state = (prod + (prod >> 32)) & 0xFFFFFFFF
        return out


FAMILY = Ramnit(
    name="ramnit",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("nimnul",),
    seeding="a 32-bit seed from the sample; no date (the same names every day)",
    period_days=1,
    per_period=100,
    tlds=("com",),
    params=(
        Param("seed", int, 0x79159C10, "32-bit seed from the sample (e.g. 0x4BFCBC6A)"),
        Param("count", int, 100, "how many names to make; the sample's own number varies"),
    ),
    known=tuple(Known(params={"seed": s}, note="seed of a sample seen in the wild",
                      source=_BLOG + " ; baderj/domain_generation_algorithms ramnit/dga.py")
                for s in _SEEDS),
    sources=(_BLOG, "https://github.com/baderj/domain_generation_algorithms/tree/master/ramnit"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 ramnit/example_domains.txt "
        "(100 names, seed 0x79159C10); the only published list",
    ),
    epoch=date(2014, 1, 1),
)
