"""Proslikefan against the published list: baderj/domain_generation_algorithms,
commit 09961a1, proslikefan/example_domains.txt (100 names, magic "prospect",
2016-06-17, found by search; the only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.proslikefan import FAMILY, _hash

FIRST = [
    "flarvcpk.eu", "stjneohiod.biz", "vcevvkc.se", "qylptiin.info", "bsvisbttr.com", "hjiknr.net",
    "arpeiezki.org", "gobqca.ru", "tivqfahrmxdl.in", "smutloo.name", "gryzepc.eu", "rekgwp.biz",
]
LAST = ["kqzzcw.ru", "ycxuodvpp.in", "opdzzfh.name"]
# sha256 of the whole published file's 100 names joined by "\n"
DIGEST = "a42157566e6bfbf3e4249a8dfaaff54d5f04581d739346998d7a264c3b9acea0"


def _check(names):
    assert len(names) == 100
    assert names[:12] == FIRST and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2016, 6, 17)))
    _check(FAMILY.generate(date(2016, 6, 17), magic="prospect"))


def test_hash_is_javas_string_hash():
    # Java's "hello".hashCode() is 99162322; a long string wraps to negative
    assert _hash("hello") == 99162322
    assert _hash("polygenelubricants") == -(1 << 31)


def test_other_days_and_magic():
    assert FAMILY.generate(date(2016, 6, 18))[0] != FIRST[0]
    ok = FAMILY.generate(date(2016, 6, 17), magic="OK")
    assert len(ok) == 100 and ok[0] != FIRST[0] and ok[0].endswith(".eu")
    assert FAMILY.generate(date(2016, 6, 17), tlds="eu,biz", rounds=1) == FIRST[:2]


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2016, 6, 17)))
    finally:
        monkeypatch.undo()
        time.tzset()
