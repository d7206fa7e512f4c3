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
with 10,000 names. A second test matches 1666 names observed on 2014-08-29 (andrewaeva/DGA,
dga_wordlists/new_goz.txt): 152 of the first configuration, 1514 of the second.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from datetime import date

import numpy as np

from takedown.dga.base import DgaError, Family, Known, Param

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TLDS = np.array(["com" if i % 4 == 0 else "org" if i % 3 == 0 else "biz" if i % 2 == 0 else "net"
                  for i in range(12)])  # the sample's test order: index % 4, % 3, % 2


def _base36(word: int) -> str:
    # The sample emits the low digit first and stops after 7 digits or when the remaining
    # quotient is 0. Every 32-bit word is below 36**7, so the cap never cuts: this is plain
    # base 36 without leading zeros ("0" for 0).
    out = []
    while True:
        word, d = divmod(word, 36)
        out.append(_DIGITS[d])
        if word == 0:
            return "".join(reversed(out))


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A word is ``high * 36**3 + low``: digits of every high part (no leading zeros,
    "" for 0), of every low part padded to 3 digits, and unpadded."""
    high = np.array([""] + [_base36(w) for w in range(1, (1 << 32) // 46656 + 1)])
    low = np.array([_base36(w).rjust(3, "0") for w in range(46656)])
    return high, low, np.array([_base36(w) for w in range(46656)])


def _names(day: date, key: int, count: int) -> list[str]:
    """Name ``i`` of ``day``: MD5 of i (32-bit LE), year, month, day (16-bit LE each),
    each date field followed by the 4-byte key; four LE words of the digest in base 36."""
    # Vectorised over the day's names (MD5 stays hashlib's): 1.5 us a name against
    # 5.9 us for a per-name loop of divmods (10,000 names, this machine); the year
    # of both known configurations is the largest share of the DGA index build.
    k = struct.pack("<I", key)
    tail = struct.pack("<H", day.year) + k + struct.pack("<H", day.month) + k + struct.pack("<H", day.day) + k
    md5 = hashlib.md5
    digests = b"".join([md5(i.to_bytes(4, "little") + tail).digest() for i in range(count)])
    high, low, low_unpadded = _tables()
    h, lo = np.divmod(np.frombuffer(digests, "<u4").reshape(-1, 4), 46656)
    part = np.where(h > 0, np.char.add(high[h], low[lo]), low_unpadded[lo])
    sld = np.char.add(np.char.add(part[:, 0], part[:, 1]), np.char.add(part[:, 2], part[:, 3]))
    return np.char.add(np.char.add(sld, "."), _TLDS[np.arange(count) % 12]).tolist()


class GameoverZeus(Family):
    def names(self, start: date, *, key: int, count: int) -> list[str]:
        if not 0 <= key <= 0xFFFFFFFF:
            raise DgaError("gameover-zeus: key is a 32-bit number")
        return _names(start, key, count) if count > 0 else []


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
           Known(params={"key": 0x52E645, "count": 10000}, note="the second configuration",
                 source=_ARBOR)),
    sources=(_BLOG, _ARBOR, "https://github.com/baderj/domain_generation_algorithms/tree/master/newgoz"),
    verified_against=("newgoz/example_domains.txt of baderj/domain_generation_algorithms (09961a1): "
                      "all 1000 names of 2015-08-31",
        "andrewaeva/DGA@301977d dga_wordlists/new_goz.txt (observed names, from dds-malicious-domains.csv): all 1666 names are of 2014-08-29, 152 of key 0x35190501 (1000 a day) and 1514 of key 0x52E645 (10000 a day); date found by matching",
    ),
    epoch=date(1970, 1, 1),
)
