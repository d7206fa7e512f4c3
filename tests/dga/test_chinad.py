"""Chinad against the published list: baderj/domain_generation_algorithms,
chinad/example_domains.txt at commit 09961a1 (256 names). The list does not
say its date; 2017-01-13 (the day it was committed) is the one date from 2013
to 2020 whose names it is. It is the only published list."""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.chinad import FAMILY

DAY = date(2017, 1, 13)
FIRST = [
    "8f6bacmw30xxv6sc.cn", "486txu3yjly0xcmz.ru", "xmi6x8zg9rkanmyo.info", "spy1jhdbmvt2ueva.net",
    "evybt5gtf2tprvbi.info", "7qbys97e3pcw262c.info", "kz89iy97c7n7vbur.biz", "zmkvvlsvkbffnuez.ru",
    "tr1yy6lxtry1gsts.biz", "mfq6uwq3p2hvc8zn.cn", "h6a7zf18dahsn1pn.biz", "lbhu2b4onvw6mhwu.cn",
    "qaremd11qfdiwb47.biz", "2oqhvqa20xu2ttwe.ru", "44g3lrtvpga64pr5.cn", "u9acs17k4e57g6xb.biz",
]
LAST = ["1m8opc7hixj7528n.cn", "83d8ivsgcz9fxzpt.ru", "nam9t6zszknf0uow.cn", "0mv4chxprgdgc1jz.com",
        "4tykeeam20plktdp.info", "atn88qvtk9yb3axl.cn", "exs2oquga1nu68sf.org"]


def test_published_list():
    names = FAMILY.generate(DAY)
    assert len(names) == 256 == FAMILY.per_period
    assert len(set(names)) == 256
    assert names[:16] == FIRST
    assert names[-7:] == LAST


def test_daily_periods():
    assert FAMILY.period_start(DAY) == DAY
    other = FAMILY.generate(date(2017, 1, 14))
    assert len(other) == 256 and not set(other) & set(FIRST)


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(DAY)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names[:16] == FIRST and names[-7:] == LAST
