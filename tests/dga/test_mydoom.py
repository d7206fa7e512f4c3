"""MyDoom against the published list baderj/domain_generation_algorithms
mydoom/example_domains.txt (commit 09961a1): 99 names, magic 0xFA8, for 2019-04-18
(found by matching; every date with year + month + day = 2041 gives the same list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.mydoom import FAMILY

FIRST = ["qehspqnmrn.info", "mmahaesqar.in", "pwprhhnqqn.in", "mrspmramrn.in", "arphansaqh.com",
         "hrhspsrenn.net", "aepaaemrmn.com", "wsaehwmnms.in", "arwrseqssh.com", "ewamspqwha.ws",
         "qrqnswerqs.info", "hwepmerswa.net"]
AROUND_RESTART = ["prhqhpnpha.in", "mmqpshhpqs.in", "wnshehamhh.in", "remrpqpseh.org", "hwnppemeea.net"]  # [48:53]
LAST = ["spewqmspma.biz", "rahhhqwqqa.org", "empewsqsqa.ws"]
FULL_SHA256 = "f8567c5fd04f59fceed33a667c56cd12ca49476a201ae1056a79aa81d738ef20"  # 99 names, "\n"-joined


def test_published_list():
    names = FAMILY.generate(date(2019, 4, 18))
    assert len(names) == 99
    assert names[:12] == FIRST and names[48:53] == AROUND_RESTART and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == FULL_SHA256


def test_seed_is_the_date_sum_and_tail_is_fixed():
    assert FAMILY.generate(date(2019, 3, 19)) == FAMILY.generate(date(2019, 4, 18))  # same sum
    other = FAMILY.generate(date(2019, 4, 19))
    assert other[:50] != FIRST[:50] and other[0] != FIRST[0]
    assert other[50:] == FAMILY.generate(date(2019, 4, 18))[50:]  # names 51+ ignore the date
    assert FAMILY.generate(date(2019, 4, 18), magic=0xFA9)[0] != FIRST[0]


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(date(2019, 4, 18), count=12) == FIRST
    finally:
        monkeypatch.undo()
        time.tzset()
