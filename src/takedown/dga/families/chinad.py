"""Chinad: SHA-1 of the date and a counter, read as little-endian words.

Sources: 360 Netlab's report in github.com/360netlab/DGA issue #1 (Chinad),
and the reimplementation and example list in baderj/domain_generation_algorithms
(chinad/, commit 09961a1). The test matches chinad/example_domains.txt, which
is the list for 2017-01-13 (the day it was committed; found by trying dates).

Per day the sample runs a counter through 1000 values but only keeps its low
byte, so there are just 256 distinct names; we list those 256 once, in order.
"""

from __future__ import annotations

import hashlib
import string
from datetime import date

from takedown.dga.base import Family

_ALPHABET = string.ascii_lowercase + string.digits
_TLDS = ("com", "org", "net", "biz", "info", "ru", "cn")


def _name(day: date, counter: int) -> str:
    block = bytes((day.year % 100, day.month, day.day, counter)) + bytes(12)
    digest = hashlib.sha1(block).digest()
    # The sample copies the hash as five 32-bit words on a little-endian CPU,
    # so the bytes of each word come out reversed.
    swapped = b"".join(digest[i:i + 4][::-1] for i in range(0, 20, 4))
    label = "".join(_ALPHABET[b % len(_ALPHABET)] for b in swapped[:16])
    return f"{label}.{_TLDS[swapped[16] % len(_TLDS)]}"


class Chinad(Family):
    def names(self, start: date) -> list[str]:
        return [_name(start, n) for n in range(256)]


FAMILY = Chinad(
    name="chinad",
    seeding="date (two-digit year, month, day) and a counter 0..255",
    period_days=1,
    per_period=256,
    tlds=_TLDS,
    sources=(
        "https://github.com/360netlab/DGA/issues/1",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/chinad",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 chinad/example_domains.txt: all 256 names of 2017-01-13 "
        "(the only published list; its date is not stated, it was found by trying dates)",
        "360netlab/DGA@545d67c code/chinad/examples.txt: all 1000 names (counter 0..999, its low byte) of 2016-10-24 (date found by matching 2010..2030)",
    ),
    epoch=date(1970, 1, 1),
)
