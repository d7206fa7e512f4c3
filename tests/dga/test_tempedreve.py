"""Tempedreve against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``tempedreve/example_domains.txt``: 1746 names for 2020-01-01, i.e. one name
for each day from 2020-01-01 back to 2015-03-23 (the date follows from the
count). It is the only published list; since each day's list is the previous
day's with one new name in front, it also gives the names of earlier days.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.tempedreve import FAMILY

HEAD = ["dlbebsga.net", "enqbgrmt.com", "xjlwpfnk.info", "ebabkjcx.org", "hvisietg.net", "svyjglen.com",
        "glknxfgq.info", "adoduloh.org", "jgrxrxwh.net", "ctmrgbmz.com", "qwpsixda.info", "mpupclgx.org"]
TAIL = ["mbuagfcko.info", "cpsvovoxq.org", "gpytshehy.net", "kryrczixg.com"]  # ... 2015-03-23


def test_published_list_2020_01_01():
    got = FAMILY.generate(date(2020, 1, 1))
    assert len(got) == 1746
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL


def test_earlier_days_are_suffixes_of_the_published_list():
    got = FAMILY.generate(date(2019, 12, 25))
    assert len(got) == 1739
    assert got[:5] == HEAD[7:12] and got[-len(TAIL):] == TAIL
    assert FAMILY.generate(date(2015, 3, 23)) == ["kryrczixg.com"]
    assert FAMILY.generate(date(2015, 3, 22)) == []


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2020, 1, 1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 1746
