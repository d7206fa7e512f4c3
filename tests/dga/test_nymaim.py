"""Nymaim against the published list baderj/domain_generation_algorithms
nymaim/example_domains.txt (commit 09961a1): 128 names of 2019-07-19, the day the list was
committed (c289634); the date is not in the file and was found by matching."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.nymaim import FAMILY

FIRST = ["oftbpec.com", "lotmpwyk.info", "seikpwq.info", "bcfatyltdvp.info", "rfwstgy.com",
         "hokybhnf.biz", "evlovrxuw.net", "mtzpbzbfvy.info", "hacckgiakhl.com", "mosmeuw.net",
         "fmiopgkg.org", "zuytcajk.org"]
LAST = ["ywytrm.net", "jwarouaoep.com", "sbxuvrkjt.org"]
FULL_SHA256 = "79547687a303b99a15f5980f6159679608f767940e8fb454dd46818de8cb19a8"  # 128 names, "\n"-joined


def test_published_list():
    names = FAMILY.generate(date(2019, 7, 19))
    assert len(names) == 128
    assert names[:12] == FIRST and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == FULL_SHA256


def test_seed_collisions_and_neighbours():
    # the seed is year + ((month + day) << 16) + weekday: 2019-01-25 (also a Friday, month + day
    # = 26) and 2018-08-18 (a year less, a weekday more) give the same one
    assert FAMILY.generate(date(2019, 1, 25), count=12) == FIRST
    assert FAMILY.generate(date(2018, 8, 18), count=12) == FIRST
    assert FAMILY.generate(date(2019, 7, 18), count=12) != FIRST
    assert FAMILY.generate(date(2019, 7, 20), count=12) != FIRST


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2019, 7, 19), count=12) == FIRST
    finally:
        monkeypatch.undo()
        time.tzset()
