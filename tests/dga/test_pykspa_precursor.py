"""Pykspa's precursor DGA against the published list: baderj/domain_generation_algorithms,
commit 09961a1, pykspa/precursor/example_domains.txt (5000 names; they are
the two-day period 2015-08-31..09-01; the only published list)."""

from __future__ import annotations

import hashlib
import time
from datetime import date

from takedown.dga.families.pykspa_precursor import FAMILY

FIRST = [
    "llfwhgn.com", "guqqkaiq.biz", "wctymo.net", "lovfjsfox.com", "oruhbanansnan.cc", "mkncjk.biz",
    "yunonsuiwcymao.net", "yxpojufqbex.com", "qhxgzufqbex.cc", "yywiywiq.biz", "wyrsayeoya.info",
    "qzhsmwnansnan.com", "wjoipwnansnan.org", "imsgewiq.biz", "iytoxkuiwcymao.net",
    "mxzajkdsholapet.org",
]
LAST = ["semfrwnansnan.cc", "skkebeiq.net", "qkhkfsuiwcymao.info", "npdxnifox.org"]
# sha256 of the whole published file's 5000 names joined by "\n"
DIGEST = "215b2dc6ea3001abec2706a0c7c113d7020e60a5efd3387c37084807b51c503b"


def _check(names):
    assert len(names) == 5000
    assert names[:16] == FIRST and names[-4:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == DIGEST


def test_published_list():
    _check(FAMILY.generate(date(2015, 8, 31)))


def test_two_day_periods():
    assert FAMILY.period_start(date(2015, 9, 1)) == date(2015, 8, 31)
    assert FAMILY.generate(date(2015, 9, 1), count=16) == FIRST
    assert FAMILY.generate(date(2015, 8, 30), count=1) != FIRST[:1]
    assert FAMILY.generate(date(2015, 9, 2), count=1) != FIRST[:1]


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2015, 9, 1)))
    finally:
        monkeypatch.undo()
        time.tzset()
