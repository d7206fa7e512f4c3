"""Murofet v1 and v2 against the published lists of baderj/domain_generation_algorithms
(commit 09961a1): murofet/v1/example_domains.txt (first 1000 names of 2015-09-03) and
murofet/v2/example_domains.txt (1020 names of 2015-09-03, no key). Dates found by matching."""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.murofet import FAMILY

V1_FIRST = [
    "giywswshrgxcvoqgvrkthmfa.ru", "xaiqpbprgymbvrwmzgiyprgdsk.com", "amgqgularpzxeapztxenbx.net",
    "pfscijbmthyfiyjgergugtkbqyh.org", "xglfcmsgorvwfilhmzlcxxvkfege.info", "rcteqwkequojntibvfyfaluwh.biz",
    "mjfqylbiaunffuaeunzdqdwscu.ru", "qobeylpxgpfknlptukyddqvklztg.com", "rgwgizukficdgetwsxovtcknwkfm.info",
    "betgyaeswxorwcvsdezdupbmb.org", "ciucemkrrwyxtwqgztwcxvsphaqw.biz", "zwgkvljxolbpuksctovohfmkj.com",
]
V1_LAST = ["tkzdbebqztfykrfeswwseyzlrspcipn.com", "qcjbtvodjzaersydivnbswwkjr.net",
           "ibdnzugkzrkrsxkhqmzydtwlfydbaqc.org"]
V1_SHA256 = "ad13bfd90a220d426fd6e69420d46ee5de28389d290a89b9b3dd86da619a66d3"  # the 1000 names, "\n"-joined

V2_FIRST = [
    "cmqvvxtppnibli.biz", "cmqvvxtppnibli.com", "rloqpoiongsuwyq.net", "rloqpoiongsuwyq.org",
    "zsophzovtfor.info", "zsophzovtfor.biz", "nlifthjnbgnfweq.org", "nlifthjnbgnfweq.com",
    "hykpttqsxsmvkoc.info", "hykpttqsxsmvkoc.org", "tbkgntpjksm.biz", "tbkgntpjksm.com",
]
V2_LAST = ["kuscqjwrkzcvqxt.org", "epppjwqsumjmpn.net", "epppjwqsumjmpn.com"]
V2_SHA256 = "5a7984e9593b6fb6fbedc6843d29267da8356b6d912c222753688ab68d18abf7"


def _digest(names):
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def test_v1_published_list():
    names = FAMILY.generate(date(2015, 9, 3), version=1)
    assert len(names) == 1020  # the published list predates the count going from 1000 to 1020
    assert names[:12] == V1_FIRST and names[997:1000] == V1_LAST
    assert _digest(names[:1000]) == V1_SHA256


def test_v1_week_groups():
    # the day enters as day // 7 * 7: 1..6 share names, the 7th starts a new group
    for d in (1, 6):
        assert FAMILY.generate(date(2015, 9, d), version=1, count=3) == V1_FIRST[:3]
    assert FAMILY.generate(date(2015, 9, 7), version=1, count=3) != V1_FIRST[:3]


def test_v2_published_list():
    names = FAMILY.generate(date(2015, 9, 3), version=2, key=0)
    assert len(names) == 1020
    assert names[:12] == V2_FIRST and names[-3:] == V2_LAST
    assert _digest(names) == V2_SHA256
    assert FAMILY.generate(date(2015, 9, 3)) == names  # the defaults: version 2, no key


def test_v2_day_and_key_change_names():
    assert FAMILY.generate(date(2015, 9, 4), version=2, count=2) != V2_FIRST[:2]
    assert FAMILY.generate(date(2015, 9, 3), version=2, key=0xD6D7A4BE, count=2) != V2_FIRST[:2]


def test_bad_parameters():
    with pytest.raises(DgaError, match="version 3"):
        FAMILY.generate(date(2015, 9, 3), version=3)
    with pytest.raises(DgaError, match="no key"):
        FAMILY.generate(date(2015, 9, 3), version=1, key=5)


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2015, 9, 3), version=2, count=12) == V2_FIRST
        assert FAMILY.generate(date(2015, 9, 3), version=1, count=12) == V1_FIRST
    finally:
        monkeypatch.undo()
        time.tzset()


def test_version_1_periods_are_its_day_groups():
    from takedown.dga.forecast import forecast

    periods = forecast(FAMILY, date(2016, 2, 1), date(2016, 2, 29), {"version": 1, "count": 5})
    assert [(p.start.day, p.end.day) for p in periods] == [(1, 6), (7, 13), (14, 20), (21, 27), (28, 29)]
    assert len({tuple(p.names) for p in periods}) == 5
    for p in periods:  # every day of a group generates the group's names
        assert FAMILY.generate(p.end, version=1, count=5) == p.names
    # version 2 stays daily
    daily = forecast(FAMILY, date(2016, 2, 1), date(2016, 2, 3), {"version": 2, "count": 5})
    assert [(p.start.day, p.end.day) for p in daily] == [(1, 1), (2, 2), (3, 3)]
