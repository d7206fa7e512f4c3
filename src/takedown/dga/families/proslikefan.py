"""Proslikefan (a JavaScript worm): names from Java-style string hashes of the
date, a "magic" word and each TLD; 100 names a day.

Sources: J. Bader, "Proslikefan" (2016), https://johannesbader.ch/2016/06/proslikefan/
and the example list of baderj/domain_generation_algorithms
(proslikefan/example_domains.txt).

hash(s) is the JavaScript idiom h = (h << 5) - h + code, kept to a signed
32-bit integer. For round i (0..9) and each TLD in the sample's order, r =
|hash("magic.month.day.year.tld")| + i (month and day without leading zeros),
then, while fewer than r % 7 + 6 letters are made (r changes on every letter,
so does the bound), r = |hash(letters so far + decimal r)| and the next letter
is r mod 26. The test matches the only published list: magic "prospect", the
sample's ten TLDs, 2016-06-17 (found by search: the list does not name its
date; it is the day the list was committed).
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_TLDS = ("eu", "biz", "se", "info", "com", "net", "org", "ru", "in", "name")
_BLOG = "https://johannesbader.ch/2016/06/proslikefan/"


def _hash(text: str) -> int:
    h = 0
    for ch in text:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h  # back to signed 32 bits


class Proslikefan(Family):
    def names(self, start: date, *, magic: str, tlds: str, rounds: int) -> list[str]:
        tld_list = [t.strip().lstrip(".") for t in tlds.split(",") if t.strip()]
        if not tld_list:
            raise DgaError("proslikefan: tlds is empty")
        out = []
        for i in range(rounds):
            for tld in tld_list:
                r = abs(_hash(f"{magic}.{start.month}.{start.day}.{start.year}.{tld}")) + i
                sld = ""
                while len(sld) < r % 7 + 6:
                    r = abs(_hash(sld + str(r)))
                    sld += chr(ord("a") + r % 26)
                out.append(f"{sld}.{tld}")
        return out


FAMILY = Proslikefan(
    name="proslikefan",
    seeding="the date (month, day, year), a magic word and the TLD",
    period_days=1,
    per_period=100,
    tlds=_TLDS,
    params=(
        Param("magic", str, "prospect", 'magic word of the sample ("prospect" and "OK" are known)'),
        Param("tlds", str, ",".join(_TLDS), "the sample's TLDs, in its order"),
        Param("rounds", int, 10, "rounds over the TLD list"),
    ),
    known=(
        Known(params={"magic": "prospect"}, note="sample analysed in the blog post", source=_BLOG),
        Known(params={"magic": "OK"}, note="second known magic word",
              source="baderj/domain_generation_algorithms proslikefan/dga.py"),
    ),
    sources=(_BLOG, "https://github.com/baderj/domain_generation_algorithms/tree/master/proslikefan"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 proslikefan/example_domains.txt "
        "(100 names, magic prospect, 2016-06-17); the only published list",
    ),
    epoch=date(2016, 1, 1),
)
