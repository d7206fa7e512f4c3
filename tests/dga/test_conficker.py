"""Conficker A and B against the published lists of github.com/Will-Beninger/ConfickerDGA
(commit ec4b7e8): conficker.a.txt and conficker.b.txt, the names of every day of 2020 as
made by Leder & Werner's downatool2 (the README states the range 2020-01-01..2020-12-31;
the A file lacks 2020-05-04). The digests below were computed from those files (CRLF
line ends removed, names joined by "\\n"), not from this code."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import date, timedelta

import pytest

from takedown.dga import DgaError, get
from takedown.dga.families import conficker
from takedown.dga.families.conficker import FAMILY


def _digest(names):
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


#: (variant, day): first four names, last two, sha256 of all 250 of the day
DAYS = {
    ("a", date(2020, 1, 1)): (["fvqcih.net", "nwyoodof.com", "rhrcwu.com", "xoijndpn.net"],
                              ["lusaaaspbsp.net", "xunvcwdhqo.com"],
                              "956298cac3a7e29c27c733fd800dc0bbc8b5c5009d249cfed66e3e9dd7256110"),
    ("a", date(2020, 12, 31)): (["mxhhrff.biz", "aizyyzml.com", "fxcyunalt.net", "zrbzdk.info"],
                                ["rintlhp.info", "teqlljfv.net"],
                                "386f317a737b20e5c83bf9206c6f6f4f7db26426670c2483b40a0f52ed840adc"),
    ("b", date(2020, 1, 1)): (["jqfgtmjl.ws", "wytetvzvfb.com", "zrbmw.info", "gdzaxbdyhsx.info"],
                              ["xutco.org", "wpnpehvp.com"],
                              "4d6b8ecce65786e2aa9021c51644d0459063eaa51fd99c5f081620c214dd371d"),
    ("b", date(2020, 12, 31)): (["lwsod.cc", "srfjtcnqp.cn", "govaot.net", "guwsahjiwf.cn"],
                                ["pnnfdlouvkz.info", "zeezs.ws"],
                                "fb5d769b398e798d8f9a54165cbbcd0e1e6b622011260d01d545b5ba3302c6b7"),
    # days on which an exact sin() (instead of the x87 FSIN) leaves the published list
    ("a", date(2020, 4, 21)): (["wcwjecpw.info", "ksyrwfxjj.info", "ssgnojlcdgk.net", "lfstvg.info"],
                               ["lnjuqsxb.com", "dsmqf.net"],
                               "398c378d879edf72aa239f75b1ee80df12e54ce54f798a0bfda8bdc75c62e57e"),
    ("a", date(2020, 6, 7)): (["omqey.biz", "ivdwsrt.com", "bratir.org", "blwnvmgxa.biz"],
                              ["embds.info", "bbpajukhbv.info"],
                              "7421276ee6b647ddbfef8c4bfca5fdf213f6108fc7a11d37ff9b535457229568"),
    ("b", date(2020, 1, 19)): (["ayzjitvh.ws", "gqzexpizmfv.org", "redfw.cc", "mxfuswch.biz"],
                               ["uuebgrm.cn", "ldyromvqmsg.biz"],
                               "a5d39eeb96b65b8c868b3945e99e7f60319850f52450d0d3c4da4ef27d7c614e"),
    ("b", date(2020, 11, 16)): (["pskfwds.cc", "zwffgw.org", "vetrtrvfqhe.cn", "ssujf.info"],
                                ["ixqsifhj.com", "ytrnwckbj.net"],
                                "0d9c29d9c0781762af2967b69243c7110f01d785611f85f00fcd0b8dc7ffc947"),
}

#: sha256 of each whole published file (91,250 names of A, 91,500 of B)
YEAR_SHA256 = {
    "a": "043135043d015a76d27c23212e3adb3085c915ba061db2f965db776c36277914",
    "b": "24a92ac1869126945eab2c2d792d7fc7d0fe63fb26a5f1a93b63f43200125a39",
}


@pytest.mark.parametrize("variant,day", sorted(DAYS))
def test_published_days(variant, day):
    first, last, sha = DAYS[(variant, day)]
    names = FAMILY.generate(day, variant=variant)
    assert len(names) == 250
    assert names[:4] == first and names[-2:] == last
    assert _digest(names) == sha


@pytest.mark.parametrize("variant", ["a", "b"])
def test_published_year_2020(variant):
    # every day of 2020, in the file's order; the A file has no 2020-05-04
    names, day = [], date(2020, 1, 1)
    while day.year == 2020:
        if not (variant == "a" and day == date(2020, 5, 4)):
            names += FAMILY.generate(day, variant=variant)
        day += timedelta(days=1)
    assert len(names) == {"a": 91250, "b": 91500}[variant]
    assert _digest(names) == YEAR_SHA256[variant]


def test_fsin_reduction_is_what_the_lists_need():
    # FSIN reduces by a 66-bit pi: for a key-sized argument its sine is not the exact one
    x = float(0x47F0123456789ABC)
    assert conficker._x87_sin(x) != math.sin(x) and abs(conficker._x87_sin(x)) <= 1
    # and for small arguments the two agree
    assert conficker._x87_sin(0.5) == pytest.approx(math.sin(0.5), abs=1e-15)
    # the published names where an exact sin() would diverge (B 2020-01-19 #185, A 2020-04-21 #34)
    assert FAMILY.generate(date(2020, 1, 19), variant="b")[185] == "iirmchlaa.biz"
    assert FAMILY.generate(date(2020, 4, 21), variant="a")[34] == "frxthbmwfv.org"


def test_parameters_aliases_and_days():
    assert get("downadup") is FAMILY and get("Kido") is FAMILY
    assert FAMILY.per_period == 250 and FAMILY.period_days == 1
    assert FAMILY.generate(date(2020, 1, 1))[:4] == DAYS[("b", date(2020, 1, 1))][0]  # B is the default
    assert FAMILY.generate(date(2020, 1, 1), variant="A")[:4] == DAYS[("a", date(2020, 1, 1))][0]
    assert FAMILY.generate(date(2020, 1, 2), variant="b")[:4] != DAYS[("b", date(2020, 1, 1))][0]
    a_tlds = {n.rsplit(".", 1)[1] for n in FAMILY.generate(date(2020, 1, 1), variant="a")}
    b_tlds = {n.rsplit(".", 1)[1] for n in FAMILY.generate(date(2020, 1, 1), variant="b")}
    assert a_tlds == {"com", "net", "org", "info", "biz"} and b_tlds == set(FAMILY.tlds)
    lengths = {len(n.split(".")[0]) for n in FAMILY.generate(date(2020, 1, 1))}
    assert lengths <= set(range(5, 12))
    with pytest.raises(DgaError, match="variant C is not shipped"):
        FAMILY.generate(date(2020, 1, 1), variant="c")
    with pytest.raises(DgaError, match="must be a or b"):
        FAMILY.generate(date(2020, 1, 1), variant="d")


def test_independent_of_time_zone(monkeypatch):
    first = DAYS[("b", date(2020, 1, 1))][0]
    for tz in ("Pacific/Kiritimati", "America/Adak"):
        monkeypatch.setenv("TZ", tz)
        time.tzset()
        try:
            assert FAMILY.generate(date(2020, 1, 1))[:4] == first
        finally:
            monkeypatch.undo()
            time.tzset()
