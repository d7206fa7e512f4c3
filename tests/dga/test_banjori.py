"""Banjori against the published list: baderj/domain_generation_algorithms,
banjori/example_domains.txt at commit 09961a1 (1000 names, seed
earnestnessbiophysicalohax.com; the only published list)."""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.banjori import FAMILY

FIRST = [
    "earnestnessbiophysicalohax.com", "kwtoestnessbiophysicalohax.com", "rvcxestnessbiophysicalohax.com",
    "hjbtestnessbiophysicalohax.com", "txmoestnessbiophysicalohax.com", "agekestnessbiophysicalohax.com",
    "dbzwestnessbiophysicalohax.com", "sgjxestnessbiophysicalohax.com", "igjyestnessbiophysicalohax.com",
    "zxahestnessbiophysicalohax.com", "zfrpestnessbiophysicalohax.com", "hdquestnessbiophysicalohax.com",
    "umcuestnessbiophysicalohax.com", "hrbyestnessbiophysicalohax.com", "ysrtestnessbiophysicalohax.com",
    "kgteestnessbiophysicalohax.com", "hfsnestnessbiophysicalohax.com", "njxfestnessbiophysicalohax.com",
    "lpagestnessbiophysicalohax.com", "kacuestnessbiophysicalohax.com",
]
LAST = [
    "aenjestnessbiophysicalohax.com", "cwhyestnessbiophysicalohax.com", "txszestnessbiophysicalohax.com",
    "lrvxestnessbiophysicalohax.com", "bvosestnessbiophysicalohax.com", "moskestnessbiophysicalohax.com",
]


def test_published_list():
    names = FAMILY.generate(date(2015, 2, 1))
    assert len(names) == 1000
    assert names[:20] == FIRST
    assert names[-6:] == LAST


def test_date_is_ignored_and_seed_is_a_parameter():
    fam = FAMILY
    assert "bankpatch" in fam.aliases
    assert fam.generate(date(2030, 12, 31)) == fam.generate(date(2015, 2, 1))
    assert fam.generate(date(2024, 1, 1), seed="earnestnessbiophysicalohax.com", count=3) == FIRST[:3]
    # starting from the second published name continues the same chain
    assert fam.generate(date(2024, 1, 1), seed=FIRST[1], count=19) == FIRST[1:]
    with pytest.raises(DgaError):
        fam.generate(date(2024, 1, 1), seed="ab.com")


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(date(2015, 2, 1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names[:20] == FIRST and len(names) == 1000
