"""Ramnit against the published list: baderj/domain_generation_algorithms,
commit 09961a1, ramnit/example_domains.txt (100 names of seed 0x79159C10; the
only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.ramnit import FAMILY

FIRST = [
    "knpqxlxcwtlvgrdyhd.com", "nvlyffua.com", "hgyudheedieibxy.com", "anrylixwcbnjopdd.com",
    "vrndmdrdrjoff.com", "jhghrlufoh.com", "tqjhvylf.com", "hufqifjq.com", "itktxexjghvvxa.com",
    "ppyblaohb.com", "ectdsitvvoydawmfni.com", "vbvqbnwyurqem.com", "jetuergatod.com",
    "anxsmqyfy.com", "ckyioylutybvcxv.com", "khllpmpmare.com",
]
LAST = ["facmttijcdq.com", "ootuuujaep.com", "wvmmvpbkjrds.com", "dbygksqtu.com"]
# sha256 of the whole published file's 100 names joined by "\n"
DIGEST = "af7709590b17dbf5a9f8126f383b86dab76a8a6ad4152d9c68bd6c70cc9cac8c"


def _check(names):
    assert len(names) == 100
    assert names[:16] == FIRST and names[-4:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2014, 12, 21), seed=0x79159C10))
    _check(FAMILY.generate(date(2014, 12, 21), seed="0x79159c10"))


def test_no_date_dependence_and_other_seeds():
    assert FAMILY.generate(date(2030, 6, 1)) == FAMILY.generate(date(2014, 1, 1))
    other = FAMILY.generate(date(2014, 1, 1), seed=0x4BFCBC6A)
    assert len(other) == 100 and other[0] != FIRST[0]
    assert all(n.endswith(".com") and 8 <= len(n) - 4 <= 19 and "z" not in n for n in other)
    assert len(FAMILY.generate(date(2014, 1, 1), count=5)) == 5


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2014, 12, 21)))
    finally:
        monkeypatch.undo()
        time.tzset()
