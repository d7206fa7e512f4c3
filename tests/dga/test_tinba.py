"""Tinba against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``tinba/example_domains.txt`` (401 names: seed jc74FlUna852Ji9o, first domain
blackfreeqazyio.cc, TLDs com/net/in/ru, 100 labels). That is the only
published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.tinba import FAMILY

HEAD = [
    "blackfreeqazyio.cc",
    "nvfowikhevmy.com", "nvfowikhevmy.net", "nvfowikhevmy.in", "nvfowikhevmy.ru",
    "sjhuqlwrqhqx.com", "sjhuqlwrqhqx.net", "sjhuqlwrqhqx.in", "sjhuqlwrqhqx.ru",
    "pxqgonyogeee.com", "pxqgonyogeee.net", "pxqgonyogeee.in", "pxqgonyogeee.ru",
    "oykjietwrmlw.com", "oykjietwrmlw.net", "oykjietwrmlw.in", "oykjietwrmlw.ru",
    "oqckhpiyqqll.com", "oqckhpiyqqll.net", "oqckhpiyqqll.in", "oqckhpiyqqll.ru",
]
TAIL = [
    "rrirbcpqrsxw.com", "rrirbcpqrsxw.net", "rrirbcpqrsxw.in", "rrirbcpqrsxw.ru",
    "ttbcfmqdtlxo.com", "ttbcfmqdtlxo.net", "ttbcfmqdtlxo.in", "ttbcfmqdtlxo.ru",
]


def test_published_list():
    fam = FAMILY
    got = fam.generate(date(2015, 4, 1), seed="jc74FlUna852Ji9o", domain="blackfreeqazyio.cc",
                       tlds="com,net,in,ru", count=100)
    assert len(got) == 401 == fam.per_period
    assert got[:len(HEAD)] == HEAD
    assert got[-len(TAIL):] == TAIL


def test_date_is_ignored_and_defaults_are_the_published_seed():
    fam = FAMILY
    assert fam.generate(date(2030, 12, 31)) == fam.generate(date(2015, 4, 1))
    assert fam.generate(date(2015, 4, 1))[:len(HEAD)] == HEAD


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2015, 4, 1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 401
