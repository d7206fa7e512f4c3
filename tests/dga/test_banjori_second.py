"""Banjori against further, independent published outputs: sandbox observations of
360 Netlab, in issues of github.com/360netlab/DGA (other seeds than the baderj list):

* issue #39 (2017-11-08), sample MD5 64c3e837c828b1c937f006736bd6cf8e, seed
  censorshipecmascriptivylv.com: "Domains from our sandbox", all 40 names the sample
  makes, in order;
* issue #28 (2016-11-08), sample MD5 fd37d983948607542d7956fc506776b9, seed
  nodomen.com: the first 12 names (10 in the description, 12 in the comment's run);
* issue #25 (2016-09-22), sample MD5 9aa940bad13b8de2d9094e4710d112d0, seed
  adulthoodivettewl.com: the first 10 names ("Example of domains").

Banjori ignores the date; the seed is the first name of each list, as the issues
state. Our names for those seeds are the lists exactly, in order."""

from __future__ import annotations

from datetime import date

import pytest

from takedown.dga.families.banjori import FAMILY

ISSUE_39 = [
    "censorshipecmascriptivylv.com", "nhsdorshipecmascriptivylv.com",
    "jjtrorshipecmascriptivylv.com", "txeeorshipecmascriptivylv.com",
    "qwmyorshipecmascriptivylv.com", "hllgorshipecmascriptivylv.com",
    "gojporshipecmascriptivylv.com", "ocpsorshipecmascriptivylv.com",
    "zpgzorshipecmascriptivylv.com", "rhphorshipecmascriptivylv.com",
    "rryiorshipecmascriptivylv.com", "smioorshipecmascriptivylv.com",
    "zjziorshipecmascriptivylv.com", "aerporshipecmascriptivylv.com",
    "icruorshipecmascriptivylv.com", "vlevorshipecmascriptivylv.com",
    "jrfdorshipecmascriptivylv.com", "fzcqorshipecmascriptivylv.com",
    "oyiiorshipecmascriptivylv.com", "pxpgorshipecmascriptivylv.com",
    "ouvhorshipecmascriptivylv.com", "oobiorshipecmascriptivylv.com",
    "pdiforshipecmascriptivylv.com", "nfnjorshipecmascriptivylv.com",
    "pluaorshipecmascriptivylv.com", "iquworshipecmascriptivylv.com",
    "xpjgorshipecmascriptivylv.com", "wmxborshipecmascriptivylv.com",
    "qafsorshipecmascriptivylv.com", "bnyporshipecmascriptivylv.com",
    "jvzvorshipecmascriptivylv.com", "xzouorshipecmascriptivylv.com",
    "kuqqorshipecmascriptivylv.com", "ttbworshipecmascriptivylv.com",
    "igbporshipecmascriptivylv.com", "qojyorshipecmascriptivylv.com",
    "hvinorshipecmascriptivylv.com", "npnborshipecmascriptivylv.com",
    "hxmworshipecmascriptivylv.com", "wcakorshipecmascriptivylv.com",
]

ISSUE_28 = [
    "nodomen.com", "uipxmen.com", "kmrmmen.com", "pzyvmen.com",
    "dntnmen.com", "jvuomen.com", "qscumen.com", "dzxcmen.com",
    "yinjmen.com", "acfcmen.com", "vlsrmen.com", "fnpfmen.com",
]

ISSUE_25 = [
    "adulthoodivettewl.com", "ewqjthoodivettewl.com", "gkotthoodivettewl.com",
    "syybthoodivettewl.com", "mucjthoodivettewl.com", "ooirthoodivettewl.com",
    "ymynthoodivettewl.com", "eouhthoodivettewl.com", "esqbthoodivettewl.com",
    "yugnthoodivettewl.com",
]



@pytest.mark.parametrize("published", [ISSUE_39, ISSUE_28, ISSUE_25], ids=["issue39", "issue28", "issue25"])
def test_360netlab_sandbox_lists(published):
    seed = published[0]
    assert FAMILY.generate(date(2017, 11, 8), seed=seed, count=len(published)) == published


def test_issue_39_is_the_whole_run_of_40():
    names = FAMILY.generate(date(2016, 1, 1), seed=ISSUE_39[0], count=40)
    assert names == ISSUE_39 and len(set(names)) == 40
