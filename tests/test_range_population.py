"""The range's population (issue 7, first part): addresses from real allocations of
each bot's country, AS from the shipped data, seeded, and the truth it implies."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from takedown.enrich import Enricher
from takedown.range.population import RUSTOCK_WEEK1, OTHER_SHARE, build, ip_strings

START = date(2026, 3, 16)  # a Monday


@pytest.fixture(scope="module")
def enricher():
    return Enricher.default()


@pytest.fixture(scope="module")
def pop(enricher):
    return build(20_000, 7, families={"rustock": 3, "necurs": 1}, enricher=enricher)


def test_distinct_public_addresses_in_their_country(pop, enricher):
    assert len(pop) == 20_000 and np.unique(pop.ip).size == 20_000
    found = enricher.lookup(ip_strings(pop.ip))
    # every address is where the population says it is, by the data the report uses
    assert found.column("cc").to_pylist() == pop.cc.tolist()
    asn = np.asarray(found.column("asn").fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    assert (asn == pop.asn).all()
    first = pop.ip >> 24
    assert not np.isin(first, [0, 10, 127, 224, 240, 255]).any()


def test_country_mix_is_rustocks_first_week(pop):
    named = sum(RUSTOCK_WEEK1.values()) / (1 - OTHER_SHARE)
    for cc in ("US", "FR", "TR", "CA"):
        expected = RUSTOCK_WEEK1[cc] / named
        share = float((pop.cc == cc).mean())
        se = (expected * (1 - expected) / len(pop)) ** 0.5
        assert abs(share - expected) <= 5 * se, (cc, share, expected)
    assert 0.15 <= float((~np.isin(pop.cc, list(RUSTOCK_WEEK1))).mean()) <= 0.35


def test_families_time_zones_and_rhythm(pop):
    assert set(np.unique(pop.family)) == {"rustock", "necurs"}
    assert 0.70 <= float((pop.family == "rustock").mean()) <= 0.80
    assert set(pop.utc_offset[pop.cc == "US"].tolist()) == {-5.0}
    assert set(pop.utc_offset[pop.cc == "IN"].tolist()) == {5.5}
    assert ((pop.active_start >= 0) & (pop.active_start < 1440)).all()
    assert ((pop.active_minutes >= 60) & (pop.active_minutes <= 1440)).all()


def test_seeded(enricher):
    a = build(500, 3, enricher=enricher)
    b = build(500, 3, enricher=enricher)
    c = build(500, 4, enricher=enricher)
    assert (a.ip == b.ip).all() and (a.cleaned_day == b.cleaned_day).all()
    assert not (a.ip == c.ip).all()


def test_cleanup_is_rustock_like(pop):
    # bots still infected at the start of each of 8 weeks: falling, week 8 about half of week 1
    alive = [int((pop.cleaned_day > 7 * w).sum()) for w in range(8)]
    assert alive[0] == len(pop) and all(x >= y for x, y in zip(alive, alive[1:]))
    assert 0.52 <= alive[-1] / alive[0] <= 0.60  # Rustock: -44.2% unique addresses from week 1 to week 8


def test_bottom_countries_are_rustocks(pop):
    # the report's least-traffic countries of week 1: CN, CL, DK, NO; every other country has more
    values, counts = np.unique(pop.cc, return_counts=True)
    assert set(values[np.argsort(counts)][:4].tolist()) == {"CN", "CL", "DK", "NO"}
    assert len(values) == len(RUSTOCK_WEEK1) + 30


def test_every_bot_is_on_an_end_user_network(pop):
    from takedown.range.population import NOT_END_USER_ASNS

    assert (pop.asn >= 0).all()  # announced space only
    assert not np.isin(pop.asn, list(NOT_END_USER_ASNS)).any()
    assert np.unique(pop.asn).size > 1000
