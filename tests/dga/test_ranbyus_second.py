"""Ranbyus against a further, independent published sample: the test vector of
pchaigno/dga-collection, test/test_ranbyus.py (commit e910a11, 2016-04-03; unchanged
at 792f3ec). It states the date, 19/05/2015, and seven names the DGA must generate
that day; its reimplementation (dgacollection/Ranbyus.py) hard-codes the seed
0x65BA0743, one of the May 2015 seeds (johannesbader.ch/2015/05/the-dga-of-ranbyus/).

The seven are our first seven names for version "may", seed 0x65BA0743, 2015-05-19,
in the same order. (The source checks membership only.) This is a seed and a date
that the baderj example lists do not cover."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.ranbyus import FAMILY

DAY = date(2015, 5, 19)
SEED = 0x65BA0743
PUBLISHED = [
    "hcfoopojnuqxho.su", "undrdsbhivryqn.tw", "dkehliueofdued.net", "mpuakxjqpscfpj.com",
    "eelolbwmfmtkae.pw", "noppsmyiijqujh.in", "joxrsxwdybbgqb.me",
]


def test_dga_collection_sample():
    names = FAMILY.generate(DAY, version="may", seed=SEED)
    assert len(names) == 40
    assert names[:7] == PUBLISHED


def test_other_day_differs():
    assert FAMILY.generate(date(2015, 5, 20), version="may", seed=SEED)[0] != PUBLISHED[0]
