"""Qadars: an LCG seeded with the Monday of the week (unix time) and a 16-bit
sample seed; 200 names a week.

Sources: J. Bader, "The DGA of Qadars" (2016),
https://www.johannesbader.ch/2016/04/the-dga-of-qadars/ and the seeds and
example list of baderj/domain_generation_algorithms (qadars/).

The state starts as the unix time of Monday 00:00 UTC of the current week and
steps r <- (seed - 1043968403 * r) mod 2**31; each of 12 characters is
r mod 36 over a-z0-9, one more step picks one of three TLDs. Which three is a
property of the sample, not of the formula: the April 2016 sample (seed
0x89F5) used com/org/net, later samples with seeds 0x4449 and 0xE08A
net/org/top, so the TLDs are a parameter. Weeks run Monday to Sunday, as in
the upstream code's latest revision (its first revision, which made the
published list, rounded differently but to the same Monday for that list).

The test matches the only published list: 200 names, seed 0x89F5, TLDs
com/org/net, week of Monday 2016-03-28 (found by search).
"""

from __future__ import annotations

import string
from datetime import date, datetime, timezone

from takedown.dga.base import DgaError, Family, Known, Param

_CHARS = string.ascii_lowercase + string.digits
_BLOG = "https://www.johannesbader.ch/2016/04/the-dga-of-qadars/"
_REPO = "baderj/domain_generation_algorithms qadars/dga.py"


class Qadars(Family):
    def names(self, start: date, *, seed: int, tlds: str, count: int) -> list[str]:
        tld = [t.strip().lstrip(".") for t in tlds.split(",") if t.strip()]
        if len(tld) != 3:
            raise DgaError(f"qadars: tlds must name three TLDs, got {tlds!r}")
        # start is a Monday (the epoch is one); its midnight in UTC seeds the LCG
        r = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())

        def step() -> int:
            nonlocal r
            r = (seed - 1043968403 * r) & 0x7FFFFFFF
            return r

        out = []
        for _ in range(count):
            sld = "".join(_CHARS[step() % 36] for _ in range(12))
            out.append(f"{sld}.{tld[step() % 3]}")
        return out


FAMILY = Qadars(
    name="qadars",
    seeding="the week (Monday 00:00 UTC as unix time) and a 16-bit seed",
    period_days=7,
    per_period=200,
    tlds=("com", "org", "net", "top"),
    params=(
        Param("seed", int, 0x89F5, "16-bit seed of the sample (0x89F5, 0x4449, 0xE08A, 0xE1F1, 0xE1F2, 0xE1F5)"),
        Param("tlds", str, "com,org,net", "the sample's three TLDs, in its order"),
        Param("count", int, 200, "names per week"),
    ),
    known=(
        Known(params={"seed": 0x89F5, "tlds": "com,org,net"}, note="April 2016 sample", source=_BLOG),
        Known(params={"seed": 0x89F5, "tlds": "net,org,top"},
              note="the TLDs upstream gives this seed since Nov 2016 (no list published)", source=_REPO),
        Known(params={"seed": 0x4449, "tlds": "net,org,top"}, note="November 2016 sample", source=_REPO),
        Known(params={"seed": 0xE08A, "tlds": "net,org,top"}, note="2017 sample", source=_REPO),
        Known(params={"seed": 0xE1F1, "tlds": "com,org,net"}, note="2017 sample", source=_REPO),
        Known(params={"seed": 0xE1F2, "tlds": "com,org,net"}, note="2016 sample", source=_REPO),
        Known(params={"seed": 0xE1F5, "tlds": "com,org,net"}, note="2017 sample", source=_REPO),
    ),
    sources=(_BLOG, "https://github.com/baderj/domain_generation_algorithms/tree/master/qadars"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 qadars/example_domains.txt "
        "(200 names, seed 0x89F5, TLDs com/org/net, week of 2016-03-28); the only published list",
    ),
    epoch=date(1970, 1, 5),  # a Monday
)
