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
