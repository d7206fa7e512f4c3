"""Shiotob against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``shiotob/example_domains.txt``: 2001 names starting from the hardcoded domain
wtipubctwiekhir.net. It is the only published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.shiotob import FAMILY

HEAD = ["wtipubctwiekhir.net", "rwmu35avqo12tqc.com", "rskb5bsfhm2fk5h.net", "rbp9pprrxgflut9.com",
        "zzxeyzgy45yy2a.net", "e3oa4wglvd21xa.com", "mqmq1hvmtxzjv.net", "pd4o4wu24vimn.com",
        "tlmrzvpbpsqsb.net", "pbmnz59uzndpo.com", "x2lxslqz3wztw.net", "4mnnutyfxje4h.com"]
TAIL = ["crjvb5qo32qhd.com", "zqpsdebive9hl.net", "ubojzzayohjmk.com", "o1l9iejqriuy9.net"]


def test_published_list():
    got = FAMILY.generate(date(2015, 1, 1), domain="wtipubctwiekhir.net", count=2001)
    assert len(got) == 2001 == FAMILY.per_period
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL


def test_date_is_ignored():
    assert FAMILY.generate(date(2029, 7, 4)) == FAMILY.generate(date(2015, 1, 1))


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2015, 1, 1))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 2001
