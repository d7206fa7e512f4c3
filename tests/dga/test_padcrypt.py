"""PadCrypt against the published list baderj/domain_generation_algorithms
padcrypt/example_domains.txt (commit 09961a1): the 24 names of version 2.2.86.1 on
2016-03-06 (date found by matching; it is the list's commit date)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.padcrypt import FAMILY

PUBLISHED = [
    "elkfcfnacacmofdf.com", "mkmeeefncfnfdmbm.de", "ffcdcnbmmnaeddcd.com", "ddkfodnaadmbmofo.co.uk",
    "efneboaodnmbecoa.co", "bafomkfalcfcdkom.info", "onlmcddadnacfclc.com", "dcfmddfbobkmafma.com",
    "lmmfdccmnnfnmfdl.co", "kcknconmceeemlnm.com", "elecmfcbmkboandf.com", "bdnfldfalblcklac.de",
    "oamekfamecdbelcb.com", "lcedafbkncfbbebb.co.uk", "mbddamkkfcbdlnab.online", "lncnnoneckkddklk.co",
    "nmcdnfbacafmecab.co.uk", "nkddckffblddemod.com", "fancbabeocealmab.com", "cabaabdmobdkfbfb.org",
    "baldnanlebaodnbl.com", "cfbbocbcfddbfaef.com", "mbccabkfmadanbea.online", "feakbbnbadcodfoo.com",
]


def test_published_list():
    names = FAMILY.generate(date(2016, 3, 6), version="2.2.86.1")
    assert len(names) == 24
    assert names == PUBLISHED
    assert FAMILY.generate(date(2016, 3, 6)) == PUBLISHED  # 2.2.86.1 is the default


def test_days_and_versions():
    assert FAMILY.generate(date(2016, 3, 7))[0] != PUBLISHED[0]
    later = FAMILY.generate(date(2016, 3, 6), version="2.2.97.0")
    assert len(later) == 72 and later[0] != PUBLISHED[0]
    with pytest.raises(DgaError, match="unknown version"):
        FAMILY.generate(date(2016, 3, 6), version="1.0")


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2016, 3, 6)) == PUBLISHED
    finally:
        monkeypatch.undo()
        time.tzset()
