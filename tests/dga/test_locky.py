"""Locky (DGA v2) against the published list baderj/domain_generation_algorithms
locky/example_domains.txt (commit 09961a1): the 8 names of seed 62 on 2016-02-29
(seed and date found by matching; 2016-02-28 shares them)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.locky import FAMILY

PUBLISHED = ["gegjiimqmlgtdmk.tf", "pccibcjncnhjn.yt", "rddipikmrap.us", "mmhmkqfc.be",
             "vkcims.pm", "qtysmobytagnrv.it", "suhpqiumpjsv.ru", "cscffbwbhs.uk"]


def test_published_list():
    names = FAMILY.generate(date(2016, 2, 29), seed=62)
    assert len(names) == 8
    assert names == PUBLISHED
    assert FAMILY.generate(date(2016, 2, 29)) == PUBLISHED  # seed 62 is the default


def test_two_day_groups():
    # day // 2: the 28th and 29th share names, the 27th and March 1st do not
    assert FAMILY.generate(date(2016, 2, 28)) == PUBLISHED
    assert FAMILY.generate(date(2016, 2, 27)) != PUBLISHED
    assert FAMILY.generate(date(2016, 3, 1)) != PUBLISHED


def test_other_seeds_and_counts():
    assert FAMILY.generate(date(2016, 2, 29), seed=75)[0] != PUBLISHED[0]
    zero = FAMILY.generate(date(2016, 2, 29), seed=0, shift=5, count=6)
    assert len(zero) == 6 and len(set(zero)) == 6
    with pytest.raises(DgaError, match="shift"):
        FAMILY.generate(date(2016, 2, 29), shift=0)


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2016, 2, 29), seed=62) == PUBLISHED
    finally:
        monkeypatch.undo()
        time.tzset()
