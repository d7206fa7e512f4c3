"""Necurs against a second, independent published sample: the test vector of
pchaigno/dga-collection, test/test_necurs.py (commit e910a11, 2016-04-03; unchanged at
792f3ec). It states the date, 19/02/2015, and six names that the DGA "must at least
generate" that day (magic number 9, 2048 names; a reimplementation of
johannesbader.ch/2015/02/the-dgas-of-necurs/).

All six are in our 2048 names for 2015-02-19, at positions 1271, 1237, 82, 898, 259
and 780 (listed in the order the source gives them). The source checks membership
only, so the positions are ours, recorded here so a change of order is noticed."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.necurs import FAMILY

DAY = date(2015, 2, 19)
PUBLISHED = {  # name: its index in our list for DAY
    "boymlujtgp.nu": 1271,
    "ybynentfsjvmsgtktcoog.im": 1237,
    "oiijxplrnmvgskxwaye.ru": 82,
    "imgirmyddbsniuh.pw": 898,
    "ultrttvbvjaanrj.jp": 259,
    "porgtemsbycy.ki": 780,
}


def test_dga_collection_sample():
    names = FAMILY.generate(DAY, magic=9)
    assert len(names) == 2048
    for name, index in PUBLISHED.items():
        assert names[index] == name


def test_default_magic_is_the_same():
    names = FAMILY.generate(DAY)
    assert set(PUBLISHED) <= set(names)
