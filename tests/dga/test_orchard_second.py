"""Orchard against a second published list: the first version of
baderj/domain_generation_algorithms orchard/example_domains.txt, added in commit
706d867 (2022-08-08, "Renamed XMRig_Genesis to Orchard") and replaced in badafa5
(2022-09-29) by the list our first test uses.

That list has 32 names; the first 16 are seeded by the date. It does not state the
date; trying every day of 2022, only 2022-07-23 gives those 16 names, in order. The
last 16 depend on the Bitcoin genesis address's balance that day (and, in that
version of the reference, a transaction order that was later fixed), so they are
not checked."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.orchard import FAMILY

DAY = date(2022, 7, 23)
PUBLISHED_DATE_PART = [f"{label}.{tld}" for label in ("1d78e50d", "2b04216f", "2e1d985c", "9ba1d966")
                       for tld in ("com", "net", "org", "duckdns.org")]


def test_first_published_list_2022_07_23():
    assert FAMILY.generate(DAY)[:16] == PUBLISHED_DATE_PART


def test_neighbouring_days_differ():
    for day in (date(2022, 7, 22), date(2022, 7, 24)):
        assert FAMILY.generate(day)[0] != PUBLISHED_DATE_PART[0]
