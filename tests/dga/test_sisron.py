"""Sisron against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``sisron/example_domains.txt``: the 40 names of 2016-06-02 (the labels decode
to that date and the nine before it). It is the only published list.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.sisron import FAMILY

LABELS = ["mdiwnjiwmtya", "mdewnjiwmtya", "mzewntiwmtya", "mzawntiwmtya", "mjkwntiwmtya",
          "mjgwntiwmtya", "mjcwntiwmtya", "mjywntiwmtya", "mjuwntiwmtya", "mjqwntiwmtya"]
PUBLISHED = [f"{label}.{tld}" for tld in ("com", "org", "net", "info") for label in LABELS]


def test_published_list_2016_06_02():
    got = FAMILY.generate(date(2016, 6, 2))
    assert len(got) == 40 == FAMILY.per_period
    assert got[:3] == ["mdiwnjiwmtya.com", "mdewnjiwmtya.com", "mzewntiwmtya.com"]
    assert got[-1] == "mjqwntiwmtya.info"
    assert got == PUBLISHED


def test_next_day_shifts_the_window():
    got = FAMILY.generate(date(2016, 6, 3))
    assert got[1:10] == PUBLISHED[0:9]


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2016, 6, 2))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == PUBLISHED
