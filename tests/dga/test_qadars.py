"""Qadars against the published list: baderj/domain_generation_algorithms,
commit 09961a1, qadars/example_domains.txt (200 names, seed 0x89F5, TLDs
com/org/net, week of Monday 2016-03-28; the only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.qadars import FAMILY

FIRST = [
    "jk9enwhansl2.org", "sdqfodmf81m7.net", "5uro1uzspejk.net", "ub4hinsduf0p.net",
    "zs9ijo1er81u.com", "0t67c5arw9yf.net", "lev41encha38.net", "67k1q3c1mr8x.org",
    "7w1yf49irk5m.net", "gdunwhq7s9qb.org", "xmz8daj4xybw.net", "yj0taf8pmvc5.org",
    "7s1m78h23gl6.org", "cxu78lir0py7.com", "hq7w1y34le3s.com", "i3whefkx6rwl.net",
]
LAST = ["bo16zk12r0xe.org", "st2r4h23g9yn.com", "9y3whabsxuz4.net", "y7wlirs9ufsd.com"]
# sha256 of the whole published file's 200 names joined by "\n"
DIGEST = "d324dbb89902e0bc0dca48af9b3a438d719b13524341447d6e12ee439eeb58a0"


def _check(names):
    assert len(names) == 200
    assert names[:16] == FIRST and names[-4:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2016, 3, 28), seed=0x89F5, tlds="com,org,net"))


def test_weeks_run_monday_to_sunday():
    assert all(FAMILY.generate(date(2016, 3, d)) == FAMILY.generate(date(2016, 3, 28)) for d in range(29, 32))
    _check(FAMILY.generate(date(2016, 4, 3)))
    assert FAMILY.generate(date(2016, 3, 27))[0] != FIRST[0]
    assert FAMILY.generate(date(2016, 4, 4))[0] != FIRST[0]
    # the TLD list changes only the TLDs; the seed changes everything
    other = FAMILY.generate(date(2016, 3, 28), tlds="net,org,top")
    assert [n.split(".")[0] for n in other] == [n.split(".")[0] for n in FAMILY.generate(date(2016, 3, 28))]
    assert other[0] == "jk9enwhansl2.org" and other[1] == "sdqfodmf81m7.top"
    assert FAMILY.generate(date(2016, 3, 28), seed=0x4449)[0] != FIRST[0]
    with pytest.raises(DgaError, match="three TLDs"):
        FAMILY.generate(date(2016, 3, 28), tlds="com,net")


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2016, 3, 30)))
    finally:
        monkeypatch.undo()
        time.tzset()
