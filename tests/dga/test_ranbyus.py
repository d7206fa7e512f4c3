"""Ranbyus against published names:

* baderj/domain_generation_algorithms, commit 09961a1,
  ranbyus/may/example_domains.txt: 40 names, version may, seed 0xB6354BC3,
  2015-05-14 (the usage example of ranbyus/may/dga.c);
* same commit, ranbyus/september/example_domains.txt: 40 names, version
  september, seed 0x0F0D5BFA, 2015-09-25 (date found by search);
* http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/ : the first names
  of a report it quotes (rftkbenepisfitgdj.in, xiqmvbjmhmhvmgcmi.me, wxdun...),
  which are seed 0x0F0D5BFA on 2015-09-24.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date

import pytest

from takedown.dga import DgaError
from takedown.dga.families.ranbyus import FAMILY

MAY = {
    "first": ["ikwoqkwuajpbyx.com", "niukpdrluwlfox.pw", "rcnxisuibbadng.in", "wbqtidjvsdiwee.me",
              "jrdyumcieyipnv.cc", "yvyfwikedfxitk.su", "tviurcntxylxnj.tw", "lycyrvfcemepfm.net",
              "epddeukdimbpft.com", "trbhxhmbsikoaq.pw", "kuowlhmxtjnexm.in", "wrclyusaktcgif.me"],
    "last": ["uhxeywnywyprat.su", "tqjlniuxbrqote.tw", "stacukieycdmfh.net"],
    "digest": "06840e60105a0b793cd6e1b33d77ecceb822f0349d66a0cdcb01e520acfd2117",
}
SEPTEMBER = {
    "first": ["jxbdxeyxttdmcjagi.me", "iqmadgybfhnrssadm.cc", "gdoldaognceaedkke.su",
              "jnbnyrmxmpblfgstk.tw", "ucjetnyaitygjidva.net", "jejocqwtcbtuymvao.com",
              "stuctjsqfxghcesyw.pw", "gfidctymbxiaqyuyk.in", "ojrqwrlhesfshawva.me",
              "bqjqvwwjirftwkjel.cc", "geaokbyhbipwobgbs.su", "lwdxpevnnuywesula.tw"],
    "last": ["qvhrubcrjrappaxle.com", "tuusskblufagqnjan.pw", "bcfuvigfodpidtlmq.in"],
    "digest": "9f2ec2fdef2f8f7c1acba07eb17cf0f89d568ef0890c6ba4c7c55293ab5c92ae",
}


def _check(names, want):
    # the digests are sha256 of the whole published files' names joined by "\n"
    assert len(names) == 40
    assert names[:12] == want["first"] and names[-3:] == want["last"]
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == want["digest"]


def test_may_published_list():
    _check(FAMILY.generate(date(2015, 5, 14), version="may", seed=0xB6354BC3), MAY)


def test_september_published_list():
    _check(FAMILY.generate(date(2015, 9, 25), version="september", seed=0x0F0D5BFA), SEPTEMBER)
    _check(FAMILY.generate(date(2015, 9, 25)), SEPTEMBER)  # the defaults


def test_september_blog_report():
    names = FAMILY.generate(date(2015, 9, 24), version="september", seed="0x0F0D5BFA")
    assert names[:2] == ["rftkbenepisfitgdj.in", "xiqmvbjmhmhvmgcmi.me"]
    assert names[2].startswith("wxdun") and names[2].endswith(".cc")


def test_days_and_errors():
    assert FAMILY.generate(date(2015, 9, 26))[0] != SEPTEMBER["first"][0]
    # the 0xCE7F8514 samples use another TLD order: index day % 8 of theirs
    assert FAMILY.generate(date(2015, 9, 25), seed=0xCE7F8514)[0].endswith(".net")  # 25 % 8 = 1
    with pytest.raises(DgaError, match="version"):
        FAMILY.generate(date(2015, 9, 25), version="june")


def test_independent_of_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        _check(FAMILY.generate(date(2015, 5, 14), version="may", seed=0xB6354BC3), MAY)
        _check(FAMILY.generate(date(2015, 9, 25)), SEPTEMBER)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_may_collisions_are_the_samples():
    # months 2k and 2k+1 share names: the sample masks the month's low bit
    may = {"version": "may", "seed": 0xB6354BC3}
    assert FAMILY.generate(date(2015, 4, 14), **may) == FAMILY.generate(date(2015, 5, 14), **may)
    assert FAMILY.generate(date(2015, 6, 14), **may) != FAMILY.generate(date(2015, 5, 14), **may)
