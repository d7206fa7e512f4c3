"""Kraken against the published lists: baderj/domain_generation_algorithms at
commit 09961a1, kraken/v1/example_domains.txt (version 1, seed set a) and
kraken/v2/example_domains.txt (version 2, seed set a, TLD set 1), 2000 names
each. The version-2 list does not state its date; it is the week of
2015-12-22, the day it was committed (found by trying the weeks of 2014-2016).
One list per version is published."""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.kraken import FAMILY

V1_FIRST = [
    "ibbwnhgh.mooo.com", "rbqdxflojkj.mooo.com", "smhburg.dyndns.org", "bltjhzqp.dyndns.org",
    "clwafrfuuxq.yi.org", "cffxugijxn.yi.org", "ivxcxbj.dynserv.com", "etllejr.dynserv.com",
    "otpxmk.mooo.com", "ejfjyd.mooo.com", "ggwypum.dyndns.org", "mnkzof.dyndns.org",
]
V1_LAST = ["oypuhupk.dyndns.org", "akpshf.dyndns.org", "vhtjegkgeo.yi.org", "faepjbjvvwp.yi.org",
           "yesfizvpkh.dynserv.com", "kllgnr.dynserv.com"]
V2_FIRST = [
    "xpdbwuimwag.com", "nwpegpjtx.com", "smmyuhxlt.net", "xjvyvnzivvt.net", "lvctmusxcyz.tv", "lvctmusxcyz.tv",
    "cjuszcfwo.cc", "egbmbdey.cc", "wjxaprgne.com", "vxbuggxhrgi.com", "lvctmusxcyz.net", "qxfbduci.net",
]
V2_LAST = ["egbmbdey.net", "egbmbdey.net", "toarecgcr.tv", "uwcyxpyz.tv", "lvctmusxcyz.cc", "mqiygmb.cc"]
WEEK = date(2015, 12, 22)


def test_published_version_1():
    names = FAMILY.generate(WEEK, version=1)
    assert len(names) == 2000 == FAMILY.per_period
    assert names[:12] == V1_FIRST
    assert names[-6:] == V1_LAST
    assert FAMILY.generate(date(2009, 1, 1), version=1) == names  # no date in version 1


def test_published_version_2():
    names = FAMILY.generate(WEEK)  # version 2, seed set a, TLD set 1 are the defaults
    assert len(names) == 2000 == FAMILY.per_period
    assert names[:12] == V2_FIRST
    assert names[-6:] == V2_LAST


def test_version_2_weeks_run_tuesday_to_monday():
    assert FAMILY.period_start(date(2015, 12, 28)) == WEEK
    assert FAMILY.generate(date(2015, 12, 28))[:12] == V2_FIRST
    assert FAMILY.generate(date(2015, 12, 21))[0] != V2_FIRST[0]
    assert FAMILY.generate(date(2015, 12, 29))[0] != V2_FIRST[0]


def test_parameter_checks():
    with pytest.raises(DgaError):
        FAMILY.generate(WEEK, seed="c")
    with pytest.raises(DgaError):
        FAMILY.generate(WEEK, version=3)
    assert FAMILY.generate(WEEK, tld_set=2)[0] == "xpdbwuimwag.dyndns.org"


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(WEEK)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names[:12] == V2_FIRST and names[-6:] == V2_LAST


def _plain_v2(start, seed, count):
    """Version 2 as the sample runs it, one burnt number at a time (the module steps
    all indexes at once with numpy)."""
    from datetime import datetime, timezone

    from takedown.dga.families import kraken as k

    now = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
    weeks = (now - k._WEEK_ZERO) // 604800 + 2
    out = []
    for n in range(count):
        burn = weeks - 1 if n % 9 in (6, 7) else 0 if n % 9 == 8 else weeks
        for const in k._V2_SEEDS[seed]:
            r = 3 * n + const
            for _ in range(burn):
                r = k._crop(k._rand(r))
            out.append(f"{k._label(r, 7, True)}.{k._V2_TLDS[1][n % 4]}")
    return out


@pytest.mark.parametrize("day", [date(2008, 3, 20), date(2008, 4, 2), date(2019, 6, 4), date(2026, 11, 26)])
@pytest.mark.parametrize("seed", ["a", "b"])
def test_vectorised_burn_equals_the_plain_loop(day, seed):
    start = FAMILY.period_start(day)
    assert FAMILY.names(start, version=2, seed=seed, tld_set=1, count=30) == _plain_v2(start, seed, 30)
