"""Necurs: 2048 names per date group, seeded with year, month, day // 4 and a magic number.

Sources: Johannes Bader, "The DGAs of Necurs" (2015-02,
https://johannesbader.ch/2015/02/the-dgas-of-necurs/), and the reimplementation and
example list in github.com/baderj/domain_generation_algorithms (necurs/, read only to
learn the algorithm; this code is our own). The test matches
necurs/example_domains.txt (commit 09961a1): all 2048 names with magic number 9.

The day enters the seed only as ``day // 4``, so names change on the 4th, 8th, ...,
28th of each month and on the 1st: the groups are 3 to 4 days long (the last one of
February 1-2 days) and not a fixed cycle: the family defines its own periods
(``period_start``/``period_end``), one per group.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np

from takedown.dga.base import Family, Known, Param

_MASK = (1 << 64) - 1

TLDS = ("tj", "in", "jp", "tw", "ac", "cm", "la", "mn", "so", "sh", "sc", "nu", "nf", "mu",
        "ms", "mx", "ki", "im", "cx", "cc", "tv", "bz", "me", "eu", "de", "ru", "co", "su", "pw",
        "kz", "sx", "us", "ug", "ir", "to", "ga", "com", "net", "org", "biz", "xxx", "pro", "bit")


def _mix(v: int) -> int:
    """The sample's 64-bit scrambler: 21..148 rounds, the count taken from the input."""
    v &= _MASK  # the malware works in unsigned 64-bit registers
    for k in range((v & 0x7F) + 21):
        v = (v + (((v * 7) ^ (v << 15)) + 8 * k - (v >> 5))) & _MASK
    return v


def _name(day: date, seq: int, magic: int) -> str:
    n = _mix(day.year)
    for add in (day.month + 0xAAAA, day.day >> 2, seq, magic):
        n = _mix(n + add)
    letters = []
    for i in range(n % 15 + 7):
        n = _mix(n + i)
        letters.append(chr(ord("a") + n % 25))  # % 25: the sample never makes a 'z'
        n = _mix(n + 0xABBEDF)
    return "".join(letters) + "." + TLDS[n % len(TLDS)]


def _mix_many(v: np.ndarray) -> np.ndarray:
    """:func:`_mix` over a whole array at once (uint64 wraps as the sample's registers do).

    Each element runs its own number of rounds: the rounds past an element's
    count leave it unchanged. 2048 names of a day take ~0.1 s this way against
    1.2 s one name at a time (measured); a forecast of a year makes 96 groups.
    """
    rounds = (v & np.uint64(0x7F)) + np.uint64(21)
    seven, fifteen, five = np.uint64(7), np.uint64(15), np.uint64(5)
    for k in range(int(rounds.max()) if v.size else 0):
        step = v + (((v * seven) ^ (v << fifteen)) + np.uint64(8 * k) - (v >> five))
        v = np.where(np.uint64(k) < rounds, step, v)
    return v


def _names_many(day: date, count: int, magic: int) -> list[str]:
    n = _mix(day.year)
    for add in (day.month + 0xAAAA, day.day >> 2):
        n = _mix(n + add)
    with np.errstate(over="ignore"):
        v = _mix_many(np.full(count, n, dtype=np.uint64) + np.arange(count, dtype=np.uint64))
        v = _mix_many(v + np.uint64(magic & _MASK))
        lengths = (v % np.uint64(15) + np.uint64(7)).astype(np.int64)
        letters = np.zeros((count, int(lengths.max()) if count else 0), dtype=np.uint8)
        for i in range(letters.shape[1]):
            live = i < lengths
            w = _mix_many(v + np.uint64(i))
            letters[:, i] = (w % np.uint64(25)).astype(np.uint8) + ord("a")
            w = _mix_many(w + np.uint64(0xABBEDF))
            v = np.where(live, w, v)
        tld = (v % np.uint64(len(TLDS))).astype(np.int64)
    return [letters[j, : lengths[j]].tobytes().decode() + "." + TLDS[tld[j]] for j in range(count)]


class Necurs(Family):
    """Periods are the sample's own date groups: days 1-3, 4-7, 8-11, ..., 28 to the
    end of the month (``day // 4`` enters the seed), so a forecast lists each
    group once and an event's DGA date is its group's first day."""

    def names(self, start: date, *, magic: int, count: int) -> list[str]:
        return _names_many(start, count, magic)

    def period_start(self, day: date, params: dict | None = None) -> date:
        return day.replace(day=max(1, (day.day >> 2) << 2))

    def period_end(self, start: date, params: dict | None = None) -> date:
        last = ((start.day >> 2) << 2) + 3
        month_end = calendar.monthrange(start.year, start.month)[1]
        return start.replace(day=min(last, month_end))

    def seed_key(self, start: date, params: dict) -> tuple:
        return (start.year, start.month, start.day >> 2)


FAMILY = Necurs(
    name="necurs",
    seeding="year, month and day // 4 (UTC date), with a per-sample magic number",
    period_days=1,
    per_period=2048,
    tlds=TLDS,
    params=(Param("magic", int, 9, "per-sample magic number mixed into the seed"),
            Param("count", int, 2048, "names per date group")),
    known=(Known(params={"magic": 9}, note="magic number of the reimplementation and its example list",
                 source="https://github.com/baderj/domain_generation_algorithms/blob/master/necurs/dga.py"),),
    sources=("https://johannesbader.ch/2015/02/the-dgas-of-necurs/",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/necurs"),
    verified_against=("necurs/example_domains.txt of baderj/domain_generation_algorithms (09961a1): "
                      "all 2048 names, magic 9, date group 2015-08-28..31",
        "pchaigno/dga-collection@e910a11 test/test_necurs.py: the 6 names it states for 2015-02-19, magic 9",
    ),
    epoch=date(1970, 1, 1),
)
