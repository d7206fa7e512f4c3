"""Tinba against a second, independent published list: github.com/andrewaeva/DGA,
dga_wordlists/tinba.txt (commit 3e930a7, 2015-02-01; unchanged at 00b49f0), 100000
names made by that repository's own reimplementation with the seed string
oGkS3w3sGGOGG7oc and the first domain ssrgwnrmgrxe.com, TLD .com only (the
parameters are those hard-coded in its dga_algorithms/Tinba.py; the same seed and
domain as the garage4hackers sample in our Known list). Tinba ignores the date.

Our chain for those parameters, without the hard-coded first domain, is the list
exactly, in order, all 100000 names. (The repository's help/1000domains/tinba_1000.txt
is a random sample of it.)

Also 360 Netlab sandbox observations, github.com/360netlab/DGA:

* issue #15 (2016-09-13), sample MD5 3982e0ec334b596158f221fc7635f49a: 30 names; a
  comment gives seed oGkS3w3sGGOGG7oc, first domain justforyoumybab.com, TLD com. They
  are our first 30 names after that domain, in order;
* issue #21 (2016-09-21), sample MD5 7ae39dd4aa29005d4eac155b83b7689e: 16 names (4
  labels x com/in/net/ru, sorted); a comment gives seed jw72Gsmf620ohwy7, first domain
  i8274g1yxi9orjuy.cc, 100 labels. All 16 are among our names."""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.families.tinba import FAMILY

PARAMS = {"seed": "oGkS3w3sGGOGG7oc", "domain": "ssrgwnrmgrxe.com", "tlds": "com"}
FIRST = [
    "gllcsbqrbfch.com", "hkgjjokkwodt.com", "jjnehudfmclq.com", "hieffvbcjitc.com",
    "fckjmggtxchv.com", "gotmnoxdlmqy.com", "lsnuwgkjbubr.com", "jmtkcbjfrnwp.com",
    "bkjciirqpmrs.com", "hcbdceyvftuf.com", "kglydddmwwxv.com", "ejddgfnoyhnn.com",
]
LAST = ["cdgjihqdtifu.com", "befrnkbmcphg.com", "beedieglifxs.com"]
#: sha256 of the 100000 published names joined by "\n"
FULL_SHA256 = "8b09018703546d3bba47f31832815e59913749e4d1e9d9b5d3841f91bf50bbc8"

ISSUE_15 = [
    "jijfghqqkspf.com", "gojhwfkdltwk.com", "llwolmnogxws.com", "cniuybkpjfnu.com",
    "lmeronigeqpn.com", "dvygnnchwboe.com", "utpklmeefdkp.com", "dofilmejmgqm.com",
    "nrebebqttsev.com", "bccivrfvwxhs.com", "jchhgvngxskx.com", "jloijuyylglo.com",
    "bbcdffsdiiqr.com", "komhkslxlfun.com", "edcjmejornmx.com", "kghknfghbson.com",
    "eiqhpmnmtlgx.com", "orkoxhbowgcm.com", "ddbedgnoqvwo.com", "cbcmpowggsch.com",
    "lluehrbjohov.com", "clhgeebbebjx.com", "jcbjkstunwqd.com", "jiuhihieoqve.com",
    "ghgbvwtirqji.com", "eddnoyxdybdx.com", "kgcbgkiqqltw.com", "eimxxybswwuo.com",
    "oopdjrckhmkr.com", "dcgfedfitdry.com",
]

ISSUE_21 = [
    "dksmdvjfgpwt.com", "dksmdvjfgpwt.in", "dksmdvjfgpwt.net", "dksmdvjfgpwt.ru",
    "ebcfuwemulkk.com", "ebcfuwemulkk.in", "ebcfuwemulkk.net", "ebcfuwemulkk.ru",
    "ehidpbbpxxxs.com", "ehidpbbpxxxs.in", "ehidpbbpxxxs.net", "ehidpbbpxxxs.ru",
    "epsrfollswdw.com", "epsrfollswdw.in", "epsrfollswdw.net", "epsrfollswdw.ru",
]


def test_andrewaeva_list():
    names = FAMILY.generate(date(2015, 2, 1), count=100000, **PARAMS)
    assert names[0] == "ssrgwnrmgrxe.com"  # the hard-coded domain comes first
    published = names[1:]
    assert len(published) == 100000
    assert published[:12] == FIRST
    assert published[-3:] == LAST
    assert hashlib.sha256("\n".join(published).encode()).hexdigest() == FULL_SHA256


def test_short_run_is_a_prefix():
    assert FAMILY.generate(date(2030, 1, 1), count=12, **PARAMS)[1:] == FIRST


def test_360netlab_issue_15():
    names = FAMILY.generate(date(2016, 9, 13), seed="oGkS3w3sGGOGG7oc", domain="justforyoumybab.com",
                            tlds="com", count=30)
    assert names[0] == "justforyoumybab.com"
    assert names[1:] == ISSUE_15


def test_360netlab_issue_21():
    names = FAMILY.generate(date(2016, 9, 21), seed="jw72Gsmf620ohwy7", domain="i8274g1yxi9orjuy.cc",
                            tlds="com,net,in,ru", count=100)
    assert set(ISSUE_21) <= set(names)
