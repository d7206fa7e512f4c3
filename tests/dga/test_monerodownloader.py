"""Monero miner downloader against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``monerodownloader/example_domains.txt``: all 2500 names of 2020-01-12 (day
18273 since 1970-01-01; the date was identified by matching the seed). It is
the only published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.monerodownloader import FAMILY

TLDS = ("org", "tickets", "blackfriday", "hosting", "feedback")
HEAD_LABELS = ["31b4bd31fg1x2", "3f8c8079fd4c5", "b4e5b238aa543", "0c60f04c2c1b0"]
TAIL_LABELS = ["0e6bd3827a669", "e3a8e41249185"]


def _expand(labels):
    return [f"{label}.{tld}" for label in labels for tld in TLDS]


def test_published_list_2020_01_12():
    got = FAMILY.generate(date(2020, 1, 12))
    assert len(got) == 2500 == FAMILY.per_period
    assert got[:20] == _expand(HEAD_LABELS)
    assert got[-10:] == _expand(TAIL_LABELS)


def test_fixed_first_label_every_day():
    other = FAMILY.generate(date(2020, 1, 13))
    assert other[:5] == _expand(HEAD_LABELS[:1]) and other[5] != "3f8c8079fd4c5.org"


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2020, 1, 12))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:20] == _expand(HEAD_LABELS) and got[-10:] == _expand(TAIL_LABELS)
