"""Symmi against a second, independent published sample: the test vector of
pchaigno/dga-collection, test/test_symmi.py (commit e910a11, 2016-04-03; unchanged at
792f3ec), a reimplementation of johannesbader.ch/2015/01/the-dga-of-symmi/. It states
the date, 20/12/2015, and three names that the DGA must generate that day (suffix
ddns.net, 64 names per 16-day period).

They are our first three names for 2015-12-20, in the same order. The source checks
membership only; the order is ours."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.symmi import FAMILY

DAY = date(2015, 12, 20)
PUBLISHED = ["veeswaehsisa.ddns.net", "uhbacoinm.ddns.net", "baugkoosdui.ddns.net"]


def test_dga_collection_sample():
    names = FAMILY.generate(DAY)
    assert len(names) == 64
    assert names[:3] == PUBLISHED


def test_explicit_parameters():
    assert FAMILY.generate(DAY, seed_constant=42, suffix="ddns.net", count=3) == PUBLISHED
