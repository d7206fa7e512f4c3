"""Fobber against the published lists: baderj/domain_generation_algorithms at
commit 09961a1, fobber/domains_1.txt (version 1) and fobber/domains_2.txt
(version 2), 300 names each."""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.fobber import FAMILY

V1_FIRST = [
    "vhkintjtksyxgjrzz.net", "btpnxlsfdqbhzazyx.net", "ukfmknjdenthvktgc.net", "qupxsrhrmuoinqrit.net",
    "gjsbydmrpfzsmnfiu.net", "indpstqbetcpcqprx.net", "gwrdmhyjfcpcutmhp.net", "bwnzcyypcbmnlpfsw.net",
    "twkpwfuecvvzcincq.net", "pdwfuxgnahmgsxhit.net", "jyalcixnmcjafecuk.net", "ocwhgfvoqhkdsrtjl.net",
]
V1_LAST = ["lyljcvsnamunscmkt.net", "rhajltlqwfnziyenl.net", "muarqmwufxcosuqpz.net", "klciaqpacbobjfffc.net",
           "bawnzaqqtlflnzoze.net"]
V2_FIRST = [
    "drohppbkxj.com", "gbjtyyhrhk.com", "suogzzicvq.com", "satcqmazby.com", "sdcbiszvch.com", "zjnmamdejw.com",
    "slfvsokuzt.com", "yhsfoslvey.com", "kadlypferg.com", "nmemhsouhl.com", "qwvppuvwmy.com", "lwawnlzhei.com",
]
V2_LAST = ["lgbmafmsdk.com", "zpqbvbbccb.com", "ebnbzjznjr.com", "bfgagzlnsr.com", "ylbphjjdjs.com"]


@pytest.mark.parametrize("version, first, last", [(1, V1_FIRST, V1_LAST), (2, V2_FIRST, V2_LAST)])
def test_published_lists(version, first, last):
    names = FAMILY.generate(date(2015, 9, 11), version=version)
    assert len(names) == 300 == FAMILY.per_period
    assert names[:12] == first
    assert names[-5:] == last


def test_date_is_ignored_and_versions_checked():
    assert FAMILY.generate(date(2029, 2, 28)) == FAMILY.generate(date(2015, 9, 11))
    assert FAMILY.generate(date(2015, 9, 11))[:12] == V1_FIRST  # version 1 is the default
    with pytest.raises(DgaError):
        FAMILY.generate(date(2015, 9, 11), version=3)


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(date(2015, 9, 11), version=2)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names[:12] == V2_FIRST and names[-5:] == V2_LAST
