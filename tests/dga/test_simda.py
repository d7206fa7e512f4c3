"""Simda against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``simda/example_domains.txt``: 1000 names, key 1676d5775e05c50b46baa5579d4fc7,
base 0x45AE94B2. It is the only published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.simda import FAMILY

HEAD = ["gatyfus.com", "lyvyxor.com", "vojyqem.com", "qetyfuv.com", "puvyxil.com", "gahyqah.com",
        "lyryfyd.com", "vocyzit.com", "qegyqaq.com", "purydyv.com", "gacyzuz.com", "lygymoj.com"]
TAIL = ["lyxyfan.com", "vofyzyc.com", "qeqyqul.com", "puzydog.com"]


def test_published_list():
    got = FAMILY.generate(date(2015, 3, 1), key="1676d5775e05c50b46baa5579d4fc7", base=0x45AE94B2,
                          length=7, tld="com", count=1000)
    assert len(got) == 1000 == FAMILY.per_period
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL


def test_date_is_ignored():
    assert FAMILY.generate(date(2031, 1, 1)) == FAMILY.generate(date(2015, 3, 1))
    assert FAMILY.generate(date(2015, 3, 1), base="0x45AE94B2")[:3] == HEAD[:3]


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2015, 3, 1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 1000
