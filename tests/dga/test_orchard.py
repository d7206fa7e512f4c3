"""Orchard against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``orchard/example_domains.txt`` (32 names of 2022-09-29). Its first 16 names
are seeded by the date and checked here; the last 16 depend on that day's
balance of the Bitcoin genesis address, which is not published, so they are
not checked. It is the only published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga.base import DgaError
from takedown.dga.families.orchard import FAMILY

PUBLISHED_DATE_PART = [f"{label}.{tld}" for label in ("867e6101", "abf88222", "036faa25", "e38e995f")
                       for tld in ("com", "net", "org", "duckdns.org")]


def test_published_list_2022_09_29():
    got = FAMILY.generate(date(2022, 9, 29))
    assert len(got) == 16 == FAMILY.per_period
    assert got == PUBLISHED_DATE_PART


def test_balance_names_follow_the_date_names():
    got = FAMILY.generate(date(2022, 9, 29), balance=6_000_000_000, n_tx=3000)
    assert len(got) == 32 and got[:16] == PUBLISHED_DATE_PART
    assert [n.split(".", 1)[1] for n in got[16:20]] == ["com", "net", "org", "duckdns.org"]
    with pytest.raises(DgaError, match="both"):
        FAMILY.generate(date(2022, 9, 29), balance=1)


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2022, 9, 29))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == PUBLISHED_DATE_PART
