"""Symmi against its published output.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``symmi/example_domains.txt``: 64 names of 2015-08-16..31 (seed constant 42,
ddns.net); the half month was identified by matching the seed. It is the only
published list for this family.
"""

from __future__ import annotations

import time
from datetime import date

from takedown.dga.families.symmi import FAMILY

HEAD = [
    "ogovugtuipawi.ddns.net", "afowkaupbabe.ddns.net", "ipkureleakm.ddns.net", "hegiruqo.ddns.net",
    "luimreim.ddns.net", "tiakqukoahuvu.ddns.net", "loelkuanduur.ddns.net", "agdehukoev.ddns.net",
    "giagkuekorla.ddns.net", "leufiroqipomu.ddns.net", "ifunildoelukidi.ddns.net", "arvaqaisve.ddns.net",
]
TAIL = ["adarruakg.ddns.net", "alluteodwuatx.ddns.net", "ihbeusnasa.ddns.net", "oftuconuu.ddns.net"]


def test_published_list_second_half_august_2015():
    got = FAMILY.generate(date(2015, 8, 16))
    assert len(got) == 64 == FAMILY.per_period
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL
    assert len(set(got)) == 64


def test_names_change_on_the_16th_and_hold_within_a_half():
    half = FAMILY.generate(date(2015, 8, 16))
    assert FAMILY.generate(date(2015, 8, 31)) == half
    assert FAMILY.generate(date(2015, 8, 15)) != half
    assert FAMILY.generate(date(2015, 8, 1)) == FAMILY.generate(date(2015, 8, 15))


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2015, 8, 16))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:len(HEAD)] == HEAD and got[-len(TAIL):] == TAIL and len(got) == 64
