"""Pitou against the published list baderj/domain_generation_algorithms
pitou/example_domains.txt (commit 09961a1): the 20 names of 2019-04-10, magic 0xDAFE02C (date
found by matching; the list's commit date). The file boxes the 21 candidates of each
nine-letter name ("one of these"); without the boxes it is 280 names, in order."""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.pitou import CONSONANTS, FAMILY

DAY = date(2019, 4, 10)
#: the seven eight-letter names, certain, in order
CERTAIN = ["vaeqcaxa.us", "irifyaib.org", "unagabja.info", "amopvala.name", "ufecubub.org",
           "suabrara.me", "zuriabab.mobi"]
#: the nine-letter names as the file's "one of these" lines show them, in order
UNCERTAIN = ["koohoavan.net", "nanoeapan.info", "roupuadan.mobi", "youwuaran.name", "cahuiagan.me",
             "giaafazan.com", "epbaoacan.mobi", "olheearan.us", "ijeqpaian.com", "piliiaxan.name",
             "wiasoalan.info", "diaroatan.biz", "huudeanan.net"]
FIRST = ["koohoavab.net", "koohoavac.net", "koohoavad.net", "koohoavaf.net", "koohoavag.net"]
LAST = ["huudeanax.net", "huudeanay.net", "huudeanaz.net"]
FULL_SHA256 = "b6be48a6d46e79df10a9503f853839109346fd49f4b3c887ecc9cae5dabf3155"  # 280 names, "\n"-joined


def test_published_list():
    names = FAMILY.generate(DAY, magic=0xDAFE02C)
    assert len(names) == 7 + 13 * 21 == 280
    assert names[:5] == FIRST and names[-3:] == LAST
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == FULL_SHA256
    # each boxed group is the published name with its last letter over every consonant
    for shown in UNCERTAIN:
        stem, tld = shown.split(".")
        group = [f"{stem[:-1]}{c}.{tld}" for c in CONSONANTS]
        i = names.index(group[0])
        assert names[i:i + 21] == group


def test_skip_keeps_only_certain_names():
    assert FAMILY.generate(DAY, ninth="skip") == CERTAIN
    with pytest.raises(DgaError, match="ninth"):
        FAMILY.generate(DAY, ninth="some")


def test_magic_and_day_matter():
    assert FAMILY.generate(DAY, magic=0xDAFE02D)[0] != FIRST[0]
    assert FAMILY.generate(date(2019, 4, 20), ninth="skip") != CERTAIN


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        assert FAMILY.generate(DAY, ninth="skip") == CERTAIN
    finally:
        monkeypatch.undo()
        time.tzset()
