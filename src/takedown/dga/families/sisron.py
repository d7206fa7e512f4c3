"""Sisron (TOMB, Win32/Agent.WRQ, Trojan.Scar): Base64 of the last ten dates.

Sources: J. Bader, "The DGA of Sisron" (2016-06,
https://www.johannesbader.ch/2016/06/the-dga-of-sisron/), and the example list
in baderj/domain_generation_algorithms (``sisron/``; read to learn the
algorithm, this code is our own). The test matches
``sisron/example_domains.txt`` (commit 09961a1): 40 names for 2016-06-02 (the
labels decode to 02062016, 01062016, ...), the only published list.

Each label is the Base64 text of a date as DDMMYYYY, lower-cased, with the
padding '=' turned into 'a'. The sample tries today and the nine days before,
first all under .com, then .org, .net and .info.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta

from takedown.dga.base import Family

TLDS = ("com", "org", "net", "info")
_DAYS_BACK = 10


def _label(day: date) -> str:
    text = f"{day.day:02d}{day.month:02d}{day.year:04d}".encode("ascii")
    return base64.b64encode(text).decode("ascii").lower().replace("=", "a")


class Sisron(Family):
    def names(self, start: date) -> list[str]:
        labels = [_label(start - timedelta(days=k)) for k in range(_DAYS_BACK)]
        return [f"{label}.{tld}" for tld in TLDS for label in labels]


FAMILY = Sisron(
    name="sisron",
    aliases=("tomb",),
    seeding="UTC date only (that day and the nine before it)",
    period_days=1,
    per_period=_DAYS_BACK * len(TLDS),
    tlds=TLDS,
    sources=("https://www.johannesbader.ch/2016/06/the-dga-of-sisron/",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/sisron"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 sisron/example_domains.txt: all 40 names "
        "for 2016-06-02 (the only published list)",
    ),
    epoch=date(1970, 1, 1),
)
