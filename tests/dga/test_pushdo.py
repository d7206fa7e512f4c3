"""Pushdo against the published list: baderj/domain_generation_algorithms,
commit 09961a1, pushdo/example_domains.txt (1350 names, tables kz_v1, date
2019-12-06; the only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.pushdo import FAMILY

FIRST = [
    "weafokuggeir.kz", "sictemuborug.kz", "cirpicficj.kz", "geijanmap.kz", "fuxhuxsabi.kz",
    "siclisozdokq.kz", "sozcoqnafrex.kz", "qeobifups.kz", "cokoqdeah.kz", "latqafbuxwic.kz",
    "guhatcujeig.kz", "beokajeaw.kz", "xokjapanxi.kz", "huxixeosoca.kz", "mafpilgise.kz",
    "xuhatlokr.kz",
]
DAY_BEFORE = ["veasozwixoq.kz", "hilgoqwicb.kz", "weagiheicafm.kz"]  # names 30..32
LAST = ["bumugadaf.kz", "cictakealeis.kz", "feadidaqirf.kz", "woqadudil.kz"]
# sha256 of the whole published file's 1350 names joined by "\n"
DIGEST = "1e4b957c278e5560a5090606616885e42d8762d7e7b10b175d174ed4916018af"


def _check(names):
    assert len(names) == 1350
    assert names[:16] == FIRST and names[30:33] == DAY_BEFORE and names[-4:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2019, 12, 6)))


def test_window_slides_by_one_day():
    # the day before's own block is the published block for offset -1
    assert FAMILY.generate(date(2019, 12, 5))[:3] == DAY_BEFORE
    # other tables and TLD
    v2 = FAMILY.generate(date(2019, 12, 6), table="kz_v2")
    assert len(v2) == 1350 and v2[0] != FIRST[0]
    assert FAMILY.generate(date(2019, 12, 6), tld="com")[0] == "weafokuggeir.com"
    with pytest.raises(DgaError, match="unknown table"):
        FAMILY.generate(date(2019, 12, 6), table="nope")


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2019, 12, 6)))
    finally:
        monkeypatch.undo()
        time.tzset()
