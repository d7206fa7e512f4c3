"""Qakbot against the published list: baderj/domain_generation_algorithms,
commit 09961a1, qakbot/example_domains.txt (5000 names, seed 0, no sandbox,
window 2016-02-21..29; the only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.qakbot import FAMILY

FIRST = [
    "bqkrtxgkmriwsiwcngtivpx.info", "jdtmfupdyueqeldvhsjzdvzob.net", "guhmpoxzivhba.com",
    "nqqxqhuacaqhzurde.org", "lgqsqgpqzijwid.info", "ykolyecdcyk.biz", "ztvflnxqzpxvpfobv.biz",
    "zqrmkpivrbxccawozqwqpfzh.org", "iqyqwhntrxfeq.org", "ftadkbomxlnsib.info",
    "jdhnidjdshlhejjjjnvtt.org", "ekooucerate.org", "tnpajfhzdedhjsx.org", "bvmcmljldpewugc.org",
    "hqravfdbye.biz", "qureqvtfcganrfndlqgscoyn.com",
]
LAST = ["wzfxldlnbxix.info", "iddjnpmiguaytz.org", "zmykskdwka.net", "lbpwhvplhsuvfwn.net"]
# sha256 of the whole published file's 5000 names joined by "\n"
DIGEST = "8d1a53fda2d77c21d44f699de911e22e27c97b68d5556e7874d8af74ac290194"


def _check(names):
    assert len(names) == 5000
    assert names[:16] == FIRST and names[-4:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2016, 2, 21)))


def test_window_is_days_21_to_end_of_month():
    fam = FAMILY
    ref = fam.generate(date(2016, 2, 21))
    assert all(fam.generate(date(2016, 2, d)) == ref for d in range(21, 30))
    assert fam.period_start(date(2016, 2, 29)) == date(2016, 2, 21)
    assert fam.period_start(date(2016, 1, 31)) == date(2016, 1, 21)
    assert fam.period_start(date(2016, 2, 10)) == date(2016, 2, 1)
    assert fam.generate(date(2016, 2, 20))[0] != ref[0]
    assert fam.generate(date(2016, 3, 1))[0] != ref[0]
    # other seeds and the sandbox list differ
    assert fam.generate(date(2016, 2, 21), seed=1)[0] != ref[0]
    assert fam.generate(date(2016, 2, 21), sandbox=1)[0] != ref[0]


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2016, 2, 29)))
    finally:
        monkeypatch.undo()
        time.tzset()


def test_period_end():
    assert FAMILY.period_end(date(2016, 2, 1)) == date(2016, 2, 10)
    assert FAMILY.period_end(date(2016, 2, 11)) == date(2016, 2, 20)
    assert FAMILY.period_end(date(2016, 2, 21)) == date(2016, 2, 29)
    assert FAMILY.period_end(date(2015, 12, 21)) == date(2015, 12, 31)
