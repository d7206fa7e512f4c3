"""Pitou: 20 pronounceable names a day from a date shifted by one month and a magic number.

Sources: Johannes Bader, "The DGA of Pitou" (2019-07,
https://johannesbader.ch/2019/07/the-dga-of-pitou/), and the reimplementation, notes and
example list in github.com/baderj/domain_generation_algorithms (pitou/; read only to learn
the algorithm; this code is our own). The test matches pitou/example_domains.txt (commit
09961a1): the 20 names (with every candidate of the uncertain ones) for magic 0xDAFE02C on
2019-04-10, the list's commit date (found by matching; the file does not say it).

The malware converts the date to days since 1970 after adding one to the month (rolling
over into the next month or year), then rounds ``days + counter // 3`` down to a multiple
of ten: names change about every ten days, but not on a fixed calendar cycle, so the
periods here are one day long. Eight bytes derived from the rounded day count, the year,
the magic's two low bytes and the counter pick consonants and vowels.

A name that overshoots to nine letters has its last letter read from memory past the
sample's byte table (a bug, see the repository's pitou/README.md): it cannot be predicted.
With ``ninth="all"`` (the default) such a name is replaced, in place, by all candidates
(the last letter over every consonant, or every vowel); ``ninth="skip"`` leaves it out.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

VOWELS = "aeiou"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"
TLDS = ("com", "org", "biz", "net", "info", "mobi", "us", "name", "me")
_PER_DAY = 20
_LENGTH = 8  # the sample computes 8 + (x * days & 1), but days is a multiple of ten: always 8


def _shifted_days(day: date) -> int:
    """Days since 1970-01-01 of the date one month later, overflowing as the sample does."""
    y, m = divmod(day.year * 12 + day.month, 12)  # month + 1, as 0-based arithmetic
    m += 1
    d = day.day
    last = monthrange(y, m)[1]
    if d > last:  # e.g. 31 January -> "31 February" -> 3 March (2 March in leap years)
        d -= last
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return date(y, m, d).toordinal() - date(1970, 1, 1).toordinal()


def _bytes(year: int, days10: int, counter: int, magic: int) -> list[int]:
    since = year - 1900
    lo, hi = days10 & 0xFF, (days10 >> 8) & 0xFF
    out = []
    for half in (0, 1):  # magic byte 0 then byte 1: high nibble, low nibble, high, low
        mb = (magic >> (8 * half)) & 0xFF
        factors = (since >> half, since << half, (hi << half) ^ (lo >> half), (lo << half) ^ (hi >> half))
        for k, f in enumerate(factors):
            nibble = mb >> 4 if k % 2 == 0 else mb & 0xF
            out.append(((nibble * f) & 0xFF) * (counter + 1) & 0xFF)
    return out + [0xE0]  # the reimplementation's stand-in for the byte past the table


def _sld(queue: list[int]) -> str:
    s = ""
    while True:
        x = queue.pop(0)
        if x & 0x80:  # consonant, vowel, and a second vowel if the next byte has bit 6
            s += CONSONANTS[x % 21]
            if len(s) >= _LENGTH:
                return s
            s += VOWELS[queue.pop(0) % 5]
            if len(s) >= _LENGTH:
                return s
            if queue[0] & 0x40:
                s += VOWELS[queue.pop(0) % 5]
                if len(s) >= _LENGTH:
                    return s
        else:  # vowel then consonant, with no length check in between: the overshoot
            s += VOWELS[x % 5]
            s += CONSONANTS[queue.pop(0) % 21]
            if len(s) >= _LENGTH:
                return s


class Pitou(Family):
    def names(self, start: date, *, magic: int, ninth: str) -> list[str]:
        if ninth not in ("all", "skip"):
            raise DgaError("pitou: ninth is 'all' (every candidate) or 'skip'")
        days = _shifted_days(start)
        out = []
        for counter in range(_PER_DAY):
            days10 = (counter // 3 + days) // 10 * 10
            sld = _sld(_bytes(start.year, days10, counter, magic))
            tld = TLDS[((counter ^ days10 ^ magic) & 0xFFFFFFFF) % len(TLDS)]
            if len(sld) == _LENGTH:
                out.append(f"{sld}.{tld}")
            elif ninth == "all":
                pool = CONSONANTS if sld[-1] in CONSONANTS else VOWELS
                out += [f"{sld[:-1]}{c}.{tld}" for c in pool]
        return out


_BLOG = "https://johannesbader.ch/2019/07/the-dga-of-pitou/"
_REPO = "https://github.com/baderj/domain_generation_algorithms/tree/master/pitou"

FAMILY = Pitou(
    name="pitou",
    seeding="UTC date (shifted by one month, in ten-day steps), year and a magic number",
    period_days=1,
    per_period=_PER_DAY,  # names the malware queries; "all" lists every candidate of uncertain ones
    tlds=TLDS,
    params=(Param("magic", int, 0xDAFE02C, "per-sample magic number"),
            Param("ninth", str, "all", "nine-letter names: 'all' candidates or 'skip' them")),
    known=(Known(params={"magic": 0xDAFE02C}, note="magic of the analysed samples", source=_REPO),
           Known(params={"magic": 0xDAFE02D}, note="second known magic (untested)", source=_REPO)),
    sources=(_BLOG, _REPO),
    verified_against=("pitou/example_domains.txt of baderj/domain_generation_algorithms (09961a1): all 20 "
                      "names and candidates, magic 0xDAFE02C, 2019-04-10; the only published list",),
    epoch=date(1970, 1, 1),
)
