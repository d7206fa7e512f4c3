"""Vawtrak against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``vawtrak/example_domains2.txt``: 100 names for seed 0x5884c3c4 (the
``dga2.py`` default, step 2). It is the only published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.vawtrak import FAMILY

HEAD = ["usahwutle.com", "folocnam.com", "awumsah.com", "edorwufli.com", "misocgutlah.com", "edarwotda.com",
        "melarwetdic.com", "usucnitdohg.com", "regomseh.com", "osicnumd.com", "tosahwimli.com",
        "fusihgetdoh.com"]
TAIL = ["asurwotsuc.com", "edargotso.com", "todihwamder.com", "alocgofsuc.com"]


def test_published_list_seed_5884c3c4():
    got = FAMILY.generate(date(2016, 12, 16), seed=0x5884C3C4, step=2, count=100)
    assert len(got) == 100
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL


def test_defaults_extend_the_published_list_and_ignore_the_date():
    got = FAMILY.generate(date(2030, 1, 1))
    assert len(got) == 150 == FAMILY.per_period
    assert got[:len(HEAD)] == HEAD and got[100 - len(TAIL):100] == TAIL
    assert FAMILY.generate(date(2030, 1, 1), seed="0x5884c3c4") == got


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2016, 12, 16), count=100)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 100
