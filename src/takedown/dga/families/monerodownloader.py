"""Monero miner downloader: 2500 MD5-based names a day under five new gTLDs.

Source: J. Bader's reimplementation and example list in
baderj/domain_generation_algorithms (``monerodownloader/``, added 2020-01-12
with the note "blog post follows"; read to learn the algorithm, this code is
our own). The test matches ``monerodownloader/example_domains.txt`` (commit
09961a1): all 2500 names of 2020-01-12 (day 18273, found by matching the
seed), the only published list.

Name ``nr`` of a day is the first 13 hex digits of MD5("<magic>-<days since
1970-01-01>-<nr>"), except name 0, a fixed label; each label is tried under
all five TLDs before the next. (The reimplementation can also walk back to
earlier days; nothing says the sample does, so that is left out.)
"""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.base import Family, Param

TLDS = ("org", "tickets", "blackfriday", "hosting", "feedback")
MAGIC = "jkhhksugrhtijys78g46"
FIXED_LABEL = "31b4bd31fg1x2"  # replaces the hash for nr 0 (note the non-hex 'g' and 'x')


class MoneroDownloader(Family):
    def names(self, start: date, *, count: int) -> list[str]:
        days = (start - date(1970, 1, 1)).days
        out = []
        for nr in range(count):
            if nr == 0:
                label = FIXED_LABEL
            else:  # MD5 as a name generator, not for security
                label = hashlib.md5(f"{MAGIC}-{days}-{nr}".encode("ascii")).hexdigest()[:13]
            out.extend(f"{label}.{tld}" for tld in TLDS)
        return out


FAMILY = MoneroDownloader(
    name="monerodownloader",
    seeding="UTC date (days since 1970-01-01) and a hardcoded magic string",
    period_days=1,
    per_period=500 * len(TLDS),
    tlds=TLDS,
    params=(Param("count", int, 500, "labels per day, each under all five TLDs"),),
    sources=("https://github.com/baderj/domain_generation_algorithms/tree/master/monerodownloader",),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 monerodownloader/example_domains.txt: all 2500 "
        "names of 2020-01-12 (the only published list; its date was found by matching the seed)",
    ),
    epoch=date(1970, 1, 1),
)
