"""Necurs against the published list baderj/domain_generation_algorithms
necurs/example_domains.txt (commit 09961a1): 2048 names, magic number 9, generated for the
date group of 2015-08-28..31 (found by matching; the file does not say the date)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.necurs import FAMILY

FIRST = [
    "nccojqvabqvkiwhj.mx", "hoedwwwywnmmbi.ac", "aeaeneaoinf.mu", "ccecggc.us",
    "mfffpmgtplxbyagbtegh.com", "thlxuwnadtdtsm.biz", "edkomqpeufjyafccj.in", "mxomklaqau.pw",
    "nvutiptwteltin.tv", "nhysbiomr.ir", "djfhjxccovr.ir", "xrghfxxwlffmrnid.ug",
    "etytfhqsaqt.to", "hlgaqex.nf", "odxyaqovumdath.ms",
]
LAST = ["tbyucbxxeuboqmeasxgv.pro", "sjphksfiwtufqxyibwcov.mu", "ttgcbfojbrotmo.xxx"]
#: sha256 of the 2048 published names joined by "\n": the whole list, not only its ends
FULL_SHA256 = "b2a8b27d38b93ea2b4ebe5b823805de2225b9b37e9da63de5543167487bd67e7"


def _digest(names):
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def test_published_list():
    names = FAMILY.generate(date(2015, 8, 28))
    assert len(names) == 2048
    assert names[:15] == FIRST and names[-3:] == LAST
    assert _digest(names) == FULL_SHA256


def test_date_groups_follow_day_div_4():
    fam = FAMILY
    group = [fam.generate(date(2015, 8, d), count=3) for d in (28, 29, 30, 31)]
    assert all(g == FIRST[:3] for g in group)
    assert fam.generate(date(2015, 8, 27), count=3) != FIRST[:3]
    assert fam.generate(date(2015, 9, 1), count=3) != FIRST[:3]
    assert fam.generate(date(2015, 8, 28), magic=10, count=1)[0] != FIRST[0]


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2015, 8, 31), count=15) == FIRST
    finally:
        monkeypatch.undo()
        time.tzset()
