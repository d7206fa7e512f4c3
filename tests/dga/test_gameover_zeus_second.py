"""GameOver Zeus (newGOZ) against a second, independent published list: the 1666
names labelled "newgoz" in github.com/andrewaeva/DGA, dga_wordlists/new_goz.txt
(commit 301977d, 2015-02-16; unchanged at 00b49f0), taken from that repository's
dds-malicious-domains.csv (first pushed 2014-11-07), a list of observed malicious
domains. A copy is tests/data/dga/newgoz_dds_2014-08-29.txt (see the README there).

The list states no date or key. Trying every day from 2014-06-01 to 2015-02-16 with
the common configuration (key 0x35190501, 1000 names) matched 152 names, all on
2014-08-29 and nowhere else; trying 2014-08-22..09-05 with the second configuration
(key 0x52E645, 10000 names) matched the other 1514, again only on 2014-08-29. So
the list is exactly one day, 2014-08-29, seen from both configurations: every one
of the 1666 names is ours for that day, none left over."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from takedown.dga.families.gameover_zeus import FAMILY

DAY = date(2014, 8, 29)
DATA = Path(__file__).resolve().parent.parent / "data" / "dga" / "newgoz_dds_2014-08-29.txt"
FIRST = ["71sz271y6jw0m1nmkgq11owix1f.com", "1cfop5cp5s2n41pnihbz1erarts.net",
         "orvhxe1o9j0608i6raa1bfkmfv.biz"]
LAST = ["sgem711uuk2vmyl1qlrdymhvl.org", "ozhujl16ayo6crwwdf7fxskdk.org", "9hw0nq1p9binuc6jrifi1noiu.biz"]
#: sha256 of the 1666 published names joined by "\n" (guards the data file)
FULL_SHA256 = "991857a64d8114c63e0afb9ded286ae696bbb615e3c23d3bf493cd7afd20bd18"


def _published() -> list[str]:
    names = DATA.read_text().split()
    assert len(names) == 1666
    assert names[:3] == FIRST and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == FULL_SHA256
    return names


def test_observed_list_is_one_day_of_both_configurations():
    published = _published()
    common = set(FAMILY.generate(DAY, key=0x35190501, count=1000))
    second = set(FAMILY.generate(DAY, key=0x52E645, count=10000))
    assert len(common) == 1000 and len(second) == 10000
    assert sum(n in common for n in published) == 152
    assert sum(n in second for n in published) == 1514
    assert all(n in common or n in second for n in published)


def test_neighbouring_days_do_not_match():
    published = set(_published())
    for day in (date(2014, 8, 28), date(2014, 8, 30)):
        assert not published & set(FAMILY.generate(day))
