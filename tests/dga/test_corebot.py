"""CoreBot against the published list: baderj/domain_generation_algorithms,
corebot/example_domains.txt at commit 09961a1 (40 names). The list was made by
the script of commit be28abd, which hard-codes 2015-09-08 and key 0x1DB98930.
It is the only published list."""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.corebot import FAMILY

DAY = date(2015, 9, 8)
KEY = 0x1DB98930
FIRST = [
    "lkhylm0mhyfuhg.ddns.net", "s63234wluv5v365bwp5.ddns.net", "afe6mfy23xcxgfa.ddns.net",
    "7rsl1f34sfq0oj3jwvmfa6c.ddns.net", "ir7l3po0gjy8ypqjm8o.ddns.net", "3lgrupwdivsfm2w4kng2iha.ddns.net",
    "i8a0q2wdu8otulkfylo2gdq.ddns.net", "kh1her76avy0qnelivijwd1.ddns.net", "ubgp1f1han7lu410eh5.ddns.net",
    "uliry8knadmpmdm4wti6oro.ddns.net", "g85j7rs4apkfmlqryh7xq6s.ddns.net", "7xcfq4u2ghstaxer5ne.ddns.net",
    "7xcbe6wtg0o2i0odq6kjyns.ddns.net", "o4kjcxapejwl3h5x3j1.ddns.net",
]
LAST = ["5h3tkn1psb187xgfghi.ddns.net", "yx167r3nirwbsj70cta.ddns.net", "18i2ejw4ctspqx7.ddns.net",
        "7bq2qf7hixw21du6of3.ddns.net", "snup5t5tyv1x7pyfoba.ddns.net"]


def test_published_list():
    names = FAMILY.generate(DAY, key=KEY)
    assert len(names) == 40 == FAMILY.per_period
    assert names[:14] == FIRST
    assert names[-5:] == LAST
    # the key may be given as text, as on the command line
    assert FAMILY.generate(DAY, key="0x1DB98930") == names


def test_key_and_day_matter():
    assert FAMILY.generate(DAY)[0] != FIRST[0]  # default key 0x1DBA8930
    assert FAMILY.generate(date(2015, 9, 9), key=KEY)[0] != FIRST[0]
    # the alphabet of the sample has no 'z' and no '9'
    assert not any(set(n.split(".")[0]) & {"z", "9"} for n in FAMILY.generate(DAY, key=KEY))


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(DAY, key=KEY)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names[:14] == FIRST and names[-5:] == LAST
