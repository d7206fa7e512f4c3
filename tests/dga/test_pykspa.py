"""Pykspa ("improved" DGA) against published names:

* baderj/domain_generation_algorithms, commit 09961a1,
  pykspa/improved/example_domains.txt: 10 names, which are the first 10 of
  the period 2015-08-13..2015-09-01 (20-day index 833);
* https://bin.re/blog/the-dga-of-pykspa/ : the traffic of 2015-02-16, whose
  C&C names are the first 4 of the period 2015-02-14..2015-03-05 (index 824).
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.pykspa import FAMILY, _md6_256

EXAMPLE = [
    "uammskmq.org", "jqplflktas.info", "rybwtr.net", "uyznvxlof.info", "gakcmqiw.com",
    "wewsvat.net", "owhadwkskevw.net", "nkndlzhjgrpc.info", "isypszqe.net", "joebbaamoyt.info",
]
BLOG_2015_02_16 = ["ejtuxsflbknn.net", "wrthooba.info", "asgwkyaioy.com", "nazihzsljevt.net"]


def test_md6_spec_vector():
    # MD6-256("abc") from the MD6 specification's examples
    assert _md6_256(b"abc").hex() == "230637d4e6845cf0d092b558e87625f03881dd53a7439da34cf3b94ed0d8b2c5"


def test_published_example_list():
    names = FAMILY.generate(date(2015, 8, 13))
    assert len(names) == 200 and len(set(names)) == 200
    assert names[:10] == EXAMPLE
    assert FAMILY.generate(date(2015, 8, 20), count=10) == EXAMPLE


def test_blog_traffic():
    assert FAMILY.generate(date(2015, 2, 16), count=4) == BLOG_2015_02_16


def test_twenty_day_periods():
    assert FAMILY.period_start(date(2015, 9, 1)) == date(2015, 8, 13)
    assert FAMILY.period_start(date(2015, 9, 2)) == date(2015, 9, 2)
    assert FAMILY.generate(date(2015, 9, 1), count=10) == EXAMPLE
    assert FAMILY.generate(date(2015, 8, 12), count=10) != EXAMPLE
    assert FAMILY.generate(date(2015, 9, 2), count=10) != EXAMPLE


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2015, 8, 13), count=10) == EXAMPLE
        assert FAMILY.generate(date(2015, 2, 14), count=4) == BLOG_2015_02_16
    finally:
        monkeypatch.undo()
        time.tzset()
