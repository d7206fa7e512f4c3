"""Gozi against the published list: baderj/domain_generation_algorithms,
gozi/example_domains.txt at commit 09961a1 (12 names, Luther word list
gozi/luther). The list does not state its date; it is the period
2016-03-28..2016-03-31 (found by trying periods; it covers the day of the
commit). It is the only published list."""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.gozi import _LUTHER, FAMILY

PUBLISHED = [
    "quodpresidentemaxsagit.com", "pertantumfitusu.com", "indulgentiarumlicet.com", "moriblasphemianegocii.com",
    "ptribueretnossetnonin.com", "nonsicordinario.com", "svivacpecunias.com", "inestimabiler.com",
    "ulpurgatoriopetrum.com", "papacricognitisipro.com", "videtpubigiturtamnulli.com", "christianaenimdocent.com",
]


def test_word_list_as_published():
    # gozi/luther has 1537 words; its first few
    assert len(_LUTHER) == 1537
    assert _LUTHER[:6] == ["disputatio", "pro", "declaratione", "virtutis", "indulgentiarum", "martin"]


def test_published_list_for_each_day_of_its_period():
    for day in range(28, 32):
        names = FAMILY.generate(date(2016, 3, day))
        assert len(names) == 12 == FAMILY.per_period
        assert names == PUBLISHED


def test_four_day_periods():
    assert FAMILY.period_start(date(2016, 3, 30)) == date(2016, 3, 28)
    assert FAMILY.generate(date(2016, 3, 27)) != PUBLISHED
    assert FAMILY.generate(date(2016, 4, 1)) != PUBLISHED


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        names = FAMILY.generate(date(2016, 3, 28))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert names == PUBLISHED
