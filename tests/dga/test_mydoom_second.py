"""MyDoom against a second, independent published output: github.com/360netlab/DGA
issue #49 (2019-01-07), sample MD5 5ca475be33c4cb2117837310c43446c0: "Domains
generated on 2019/01/03 in the sandbox", 40 names.

They are our first 40 names for 2019-01-03 (magic 0xFA8, the default), in the same
order (a date other than the baderj list's 2019-04-18)."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.mydoom import FAMILY

DAY = date(2019, 1, 3)
SANDBOX = [
    "qammswnqrn.info", "eawesnrrhs.ws", "rqmprewqns.org", "wpmsewhnmh.in", "rhhwmqqsqh.org",
    "hsnmqqhpna.net", "nmmmsaqpmh.us", "wppnhmqssr.in", "qamnewnrrn.info", "heswwrahna.net",
    "qhnppspnma.info", "wawwrwqaqh.in", "rsrapqrwna.org", "eprqerqwns.ws", "rnrswahmsa.org",
    "hnqrsapmnn.net", "narpqrehqs.us", "mppqprmnnr.in", "arshsernqa.com", "wrerrqpseh.in",
    "rhhhaqanan.org", "mnnhwehhsr.in", "neepnmhqrn.us", "wnhraasnsh.in", "asnenehqsa.com",
    "mqwnqqqeeh.in", "anqphrhenn.com", "hneapamsqh.net", "ahneneqamn.com", "wmhmqsqsqa.in",
    "arremamwwa.com", "hpmespenrn.net", "nnesearqra.us", "mrrmwsewnn.in", "neqehapwhn.us",
    "ewaspmnssh.ws", "awrapnpaqn.com", "hepeamqrpn.net", "prpmaawpsn.in", "wrrehreama.in",
]



def test_360netlab_sandbox_list():
    names = FAMILY.generate(DAY, magic=0xFA8)
    assert len(names) == 99
    assert names[:40] == SANDBOX


def test_neighbouring_days_differ():
    for day in (date(2019, 1, 2), date(2019, 1, 4)):
        assert FAMILY.generate(day, count=1) != SANDBOX[:1]
