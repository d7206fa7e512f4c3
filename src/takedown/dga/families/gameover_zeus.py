"""GameOver Zeus after the 2014 takedown ("newGOZ"): 1000 MD5-based names a day.

Sources: Johannes Bader, "The DGA of newGOZ" (2014-12,
https://johannesbader.ch/2014/12/the-dga-of-newgoz/), and the reimplementation and
example list in github.com/baderj/domain_generation_algorithms (newgoz/, read only to
learn the algorithm; this code is our own). The test matches newgoz/example_domains.txt
(commit 09961a1): all 1000 names of 2015-08-31 (date found by matching; the file does not
say it).

Name ``i`` of a day is the MD5 of i (32-bit LE), year, month and day (16-bit LE each),
the date fields each followed by a 4-byte key. The digest's four 32-bit little-endian
words each give up to 7 base-36 digits, most significant first. Arbor ASERT (Dennis Schwarz
and Dave Loftus, "Five Sinkholes of newGOZ", 2014) report two configurations: key
0x35190501 with 1000 names (the common one, and the published list's) and key 0x52e645
with 10,000 names; no published list of the second exists to test against.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36_part(word: int) -> str:
    # The sample emits the low digit first and stops after 7 digits or when the whole
    # remaining quotient is 0: a word >= 36**7 keeps its inner zeros, a small one has no
    # leading zeros (and 0 itself gives "0").
    out = []
    for _ in range(7):
        word, d = divmod(word, 36)
        out.append(_DIGITS[d])
        if word == 0:
            break
    return "".join(reversed(out))


def _name(day: date, index: int, key: int) -> str:
    k = struct.pack("<I", key)
    seed = (struct.pack("<IH", index, day.year) + k + struct.pack("<H", day.month) + k
            + struct.pack("<H", day.day) + k)
    words = struct.unpack("<4I", hashlib.md5(seed).digest())
    if index % 4 == 0:
        tld = "com"
    elif index % 3 == 0:
        tld = "org"
    elif index % 2 == 0:
        tld = "biz"
    else:
        tld = "net"
    return "".join(_base36_part(w) for w in words) + "." + tld


class GameoverZeus(Family):
    def names(self, start: date, *, key: int, count: int) -> list[str]:
        if not 0 <= key <= 0xFFFFFFFF:
            raise DgaError("gameover-zeus: key is a 32-bit number")
        return [_name(start, i, key) for i in range(count)]


_BLOG = "https://johannesbader.ch/2014/12/the-dga-of-newgoz/"
_ARBOR = "Arbor ASERT, Dennis Schwarz and Dave Loftus: Five Sinkholes of newGOZ (2014)"

FAMILY = GameoverZeus(
    name="gameover-zeus",
    aliases=("newgoz",),
    seeding="UTC date (year, month, day), the name's index and a 32-bit key",
    period_days=1,
    per_period=1000,
    tlds=("com", "net", "biz", "org"),
    params=(Param("key", int, 0x35190501, "32-bit value hashed after each date field"),
            Param("count", int, 1000, "names per day (10000 in the second configuration)")),
    known=(Known(params={"key": 0x35190501, "count": 1000}, note="the common configuration", source=_ARBOR),
           Known(params={"key": 0x52E645, "count": 10000}, note="the second configuration (untested)",
                 source=_ARBOR)),
    sources=(_BLOG, _ARBOR, "https://github.com/baderj/domain_generation_algorithms/tree/master/newgoz"),
    verified_against=("newgoz/example_domains.txt of baderj/domain_generation_algorithms (09961a1): "
                      "all 1000 names of 2015-08-31; the only published list",),
    epoch=date(1970, 1, 1),
)
