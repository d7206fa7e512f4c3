"""Tempedreve (time-dependent variant): one new name a day, all past ones retried.

Sources: J. Bader's reimplementation and notes in
baderj/domain_generation_algorithms (``tempedreve/``, sample md5
a1310a8d9a6a51be4a6600a2be7ddab2; read to learn the algorithm, this code is our
own), and Anubis Networks, "Tempedreve botnet report"
(https://www.anubisnetworks.com/tempedreve-botnet-report), which describes the
similar time-independent variant. The test matches
``tempedreve/example_domains.txt`` (commit 09961a1): 1746 names for 2020-01-01
(that day back to 2015-03-23), the only published list.

A day's name comes from an LCG seeded with the days since 1970-01-01: the seed
shuffles the alphabet, picks the length (7..11) and the TLD. The sample tries
today's name, then yesterday's, and so on back to 2015-03-23, so the list
grows by one name a day.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

from takedown.dga.base import Family

TLDS = ("com", "net", "org", "info")
FIRST_DAY = date(2015, 3, 23)  # the sample stops walking back here
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_M32 = 0xFFFFFFFF


def _step(r: int) -> int:
    return (r * 16843009 + 65805) & _M32


@functools.lru_cache(maxsize=8192)
def _name(day: date) -> str:
    # cached: each day's list repeats all earlier days' names (a year of lists is
    # 1.4M names but only ~4,000 distinct ones)
    seed = (1664525 * (day - date(1970, 1, 1)).days + 1013904223) & _M32
    letters = list(_ALPHABET)
    r = seed
    for j in range(len(letters)):  # the sample's in-place shuffle, driven by the same LCG
        i = r % len(letters)
        r = _step(r)
        letters[j], letters[i] = letters[i], letters[j]
    label = []
    r = seed
    for _ in range(seed % 5 + 7):
        label.append(letters[r % len(letters)])
        r = _step(r)
    return "".join(label) + "." + TLDS[seed & 3]


class Tempedreve(Family):
    def names(self, start: date) -> list[str]:
        n = (start - FIRST_DAY).days + 1
        return [_name(start - timedelta(days=k)) for k in range(max(n, 0))]


FAMILY = Tempedreve(
    name="tempedreve",
    seeding="UTC date: days since 1970-01-01, for that day and every day back to 2015-03-23",
    period_days=1,
    per_period=0,  # grows: one name per day since 2015-03-23 (1746 on 2020-01-01)
    tlds=TLDS,
    sources=("https://github.com/baderj/domain_generation_algorithms/tree/master/tempedreve",
             "https://www.anubisnetworks.com/tempedreve-botnet-report"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 tempedreve/example_domains.txt: all 1746 names "
        "for 2020-01-01 (the only published list; its date follows from the count)",
    ),
    epoch=date(1970, 1, 1),
    extra={"names_per_day": "days since 2015-03-23, plus one"},
)
