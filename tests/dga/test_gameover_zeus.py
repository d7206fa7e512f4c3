"""GameOver Zeus (newGOZ) against the published list baderj/domain_generation_algorithms
newgoz/example_domains.txt (commit 09961a1): 1000 names of 2015-08-31 (date found by
matching), key 0x35190501."""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.gameover_zeus import FAMILY

FIRST = [
    "xzz3ug32bale1uo60y7xj6rge.com", "1hyzmw3l2phycet88hzr2do34.net", "2ppq821cfem5m1mdua46pxg7bj.biz",
    "unlm9w9l8upy1kdde0kba7ktf.org", "1ixhw3p1ncr3cf1pjfrpz14n1u0e.com", "1o460ktpdhna1k0lk3ecwujxn.net",
    "183t0wjzlthe51wigptk4rl29.org", "1i3ux5a1hj6ndqejmxone45g0v.net", "5mcdp71mbutpb1tglu0s4p0lrf.com",
    "n3i5yn19w82vmmpxv1k1l4xrjg.org", "1hn5wqy1wctfs616vh3ku1yq9sny.biz", "1ygx14u1vnf8hb1twhv8619h8ygr.net",
]
LAST = ["1ldug54v0mq451o13js76xzr4f.net", "2lxnam15f3dg8ybytgt143cune.biz", "z9jb1g1y2m21zypyylgxmbozu.org"]
FULL_SHA256 = "744074198343c6c2facbe9a31a497b613863584953aa390fe2f2a2d3688c7a02"  # 1000 names, "\n"-joined


def test_published_list():
    names = FAMILY.generate(date(2015, 8, 31))
    assert len(names) == 1000
    assert names[:12] == FIRST and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == FULL_SHA256


def test_alias_parameters_and_days():
    assert "newgoz" in FAMILY.aliases
    assert FAMILY.generate(date(2015, 8, 31), key=0x35190501, count=3) == FIRST[:3]
    assert FAMILY.generate(date(2015, 9, 1), count=3) != FIRST[:3]
    assert FAMILY.generate(date(2015, 8, 31), key=0x52E645, count=3) != FIRST[:3]
    with pytest.raises(DgaError, match="32-bit"):
        FAMILY.generate(date(2015, 8, 31), key=1 << 32)


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2015, 8, 31), count=12) == FIRST
    finally:
        monkeypatch.undo()
        time.tzset()
