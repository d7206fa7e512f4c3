"""Shiotob (URLZone, Bebloh): a chain of names, each computed from the previous one.

Sources: J. Bader, "The DGA of Shiotob" (2015-01,
https://johannesbader.ch/2015/01/the-dga-of-shiotob/), and the example list in
baderj/domain_generation_algorithms (``shiotob/``; read to learn the
algorithm, this code is our own). The test matches
``shiotob/example_domains.txt`` (commit 09961a1): 2001 names starting from the
hardcoded domain wtipubctwiekhir.net, the only published list.

No date enters the generator: each sample carries a first domain and walks the
same chain from it, alternating .net and .com.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

# codes // 8 reach at most index 31, so the last three characters never appear
_ALPHABET = "qwertyuiopasdfghjklzxcvbnm123945678"
_BUFFER = 65  # bytes of the sample's scratch buffer that the mixing loop touches


def _next(domain: str) -> str:
    # the sample assumes a three-letter TLD: "label.tld" minus ".tld" is the label length
    old_len = len(domain) - 4
    total = sum(ord(c) for c in domain[:-3])  # includes the dot, as in the sample
    buf = [ord(c) for c in domain] + [0] * _BUFFER  # zero-padded scratch buffer
    for i in range(66):
        for j in range(_BUFFER - i):
            buf[i + j] = ((old_len * buf[j]) ^ buf[i + j] ^ total) & 0xFF
    new_len = (((buf[2] * old_len) ^ buf[0]) & 0xFF) // 16
    if new_len < 10:  # too short: keep the previous length
        new_len = old_len
    label = "".join(_ALPHABET[buf[i] // 8] for i in range(new_len))
    return label + (".com" if domain.endswith(".net") else ".net")


class Shiotob(Family):
    def names(self, start: date, *, domain: str, count: int) -> list[str]:
        if len(domain) < 5 or domain[-4] != ".":
            raise DgaError("shiotob: the first domain must end in a three-letter TLD")
        out = [domain]
        while len(out) < count:
            out.append(_next(out[-1]))
        return out[:count]


FAMILY = Shiotob(
    name="shiotob",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("urlzone", "bebloh"),
    seeding="hardcoded first domain only; the date is ignored",
    period_days=1,
    per_period=2001,
    tlds=("net", "com"),
    params=(
        Param("domain", str, "wtipubctwiekhir.net", "hardcoded first domain of the sample"),
        Param("count", int, 2001, "names generated, the first domain included"),
    ),
    known=(
        Known(params={"domain": "wtipubctwiekhir.net"}, note="sample analysed by J. Bader",
              source="https://johannesbader.ch/2015/01/the-dga-of-shiotob/"),
        Known(params={"domain": "4ypv1eehphg3a.com"}, note="later seed (2017); no published output",
              source="baderj/domain_generation_algorithms commit 4921fb4 (shiotob/dga.py)"),
    ),
    sources=("https://johannesbader.ch/2015/01/the-dga-of-shiotob/",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/shiotob"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 shiotob/example_domains.txt: all 2001 names "
        "from wtipubctwiekhir.net (the only published list)",
    ),
    epoch=date(1970, 1, 1),
)
