"""Simda against a second, independent published output: github.com/360netlab/DGA
issue #3 (2016-08-09), sample MD5 c3c260899fa7caea5edc4cfe5ad57e9c. The description
lists 23 .net names that VirusTotal saw the sample look up (sorted); a comment
(2016-10-14) identifies them as Simda with key 167bdf6e5e05c53a8a52b9505876ed, TLD net,
7 letters, 1000 names, base 0x45AE94B2, and shows the sorted run starting bocipot.net.

Simda ignores the date. All 23 names are among our 1000 for those parameters, and
the first of our names in sorted order is bocipot.net, as in the comment."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.simda import FAMILY

PARAMS = {"key": "167bdf6e5e05c53a8a52b9505876ed", "base": 0x45AE94B2, "length": 7, "tld": "net",
          "count": 1000}
OBSERVED = [
    "bonylec.net", "bopamum.net", "bopegim.net", "bopipyf.net", "bopizyf.net", "bopucef.net",
    "bopybim.net", "bovatat.net", "bovozot.net", "cibopet.net", "cidicif.net", "cidipif.net",
    "cidozof.net", "cihazom.net", "ciherom.net", "cihykam.net", "cinaryt.net", "cinazyt.net",
    "direfes.net", "direvys.net", "disixub.net", "disusyb.net", "dixusow.net",
]



def test_virustotal_names_are_in_the_1000():
    names = FAMILY.generate(date(2016, 8, 9), **PARAMS)
    assert len(names) == 1000
    assert set(OBSERVED) <= set(names)
    assert sorted(names)[0] == "bocipot.net"


def test_default_key_is_another_sample():
    assert not set(OBSERVED) & set(FAMILY.generate(date(2016, 8, 9), tld="net"))
