"""ZLoader against its published outputs.

Expected names: baderj/domain_generation_algorithms, commit 09961a1,
``zloader/domains_q23Cud3xsNf3.txt`` and
``zloader/domains_41997b4a729e1a0175208305170752dd.txt`` (32 names for every
day 2020-01-01 .. 2022-09-26 per RC4 key). Each case holds the day's first six
and last three names.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from takedown.dga.families.zloader import FAMILY

K1 = "q23Cud3xsNf3"
K2 = "41997b4a729e1a0175208305170752dd"
CASES = [
    (K1, date(2020, 1, 1),
     ["bmesbujnevpielirkwer", "crwsascultbtdvmibaiy", "xgvtmdqswnvhqjrlmjad", "usqbqwqnvituegrpaiuh",
      "lcfbtxvcnkkuoewenymn", "evojeecqtmtdychdjiqg"],
     ["fvqmwisvjcfbujqidifk", "hqikesekmkmculscahya", "xitumfvqmwivxagatcsv"]),
    (K1, date(2021, 3, 26),
     ["ouohygqcdyfraeumcvkd", "pkffukmttyufmneigxuh", "optwjtnprlvhqpxbohys", "aonvhemhxkwbnqghyvrk",
      "gedqqbbinjlhvimpdaye", "fqeckfojeewfqnvosbri"],
     ["uvalqmglooifbqsavtmo", "qkupgfjblsomoqstgbvv", "xnkisvrxrcbynahmexnh"]),
    (K1, date(2022, 9, 26),
     ["gjttaamibpysxadlgatx", "pguapkmuaqaulykewtub", "ddokaeqoiehxqfbejjql", "hmwkagsxnbhhtpmbovnm",
      "jgbllpreaulyxmckkluk", "jnegfmcnwqtitbtarmow"],
     ["jtdhlhcbtmmbfcpoqqui", "lwvkyacpomyauwfkrhcx", "nhqbtmvsddhnabpwuhuq"]),
    (K2, date(2020, 1, 1),
     ["swgoaiqugbvdxjtnebiy", "dduoduoguesfsonmxhpq", "rlxqrmxbvuorjbyfhhaq", "seubrsxsbloaixsccfft",
      "gfdpjwefcldckqyuqhpc", "mefgultuvwlnpeufynnc"],
     ["xfqcmdxsliqjevisndwh", "fvrwkgmkwwnjogxhofmm", "yjsiiglgrdqydpunfkqy"]),
    (K2, date(2021, 3, 26),
     ["owqkgrjbybnpcmefyupe", "owqvmsrivqhdmhoqvawn", "vgjbsifhddltenvldlwq", "mxbpfjybnetsgpqvxysa",
      "qpkihtydmsgpcdgbyrgg", "hrecbkueolcbqupenxvw"],
     ["skjpktsifhddlfhtydrm", "tcudumpnhdguuojhoqva", "qvmsroxyeqxjjxhtyddo"]),
    (K2, date(2022, 9, 26),
     ["seuwkdvmqjvvfcuwwocs", "fvjdkforotqjxijrrges", "ueprsvjpctrxrlfosbfv", "jgqyqvudxcwihijkmbvi",
      "vkmaeojgbsaqxwjiyadv", "mahfptuspjmkxjneboxl"],
     ["ordrrtgpkwcrelpgqlac", "hnhsfvudbdwitrputyws", "uwbauxsipnbxdbmtavbb"]),
]


@pytest.mark.parametrize(("key", "day", "head", "tail"), CASES, ids=lambda v: str(v)[:12])
def test_published_lists(key, day, head, tail):
    got = FAMILY.generate(day, key=key)
    assert len(got) == 32 == FAMILY.per_period
    assert got[:6] == [f"{h}.com" for h in head]
    assert got[-3:] == [f"{t}.com" for t in tail]


def test_default_key_is_the_first_published_one():
    assert FAMILY.generate(date(2020, 1, 1))[0] == "bmesbujnevpielirkwer.com"


def test_independent_of_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        got = FAMILY.generate(date(2021, 3, 26), key=K1)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got[:6] == [f"{h}.com" for h in CASES[1][2]] and len(got) == 32
