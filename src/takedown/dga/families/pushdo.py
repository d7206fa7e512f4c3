"""Pushdo (Cutwail's loader): MD5 chains over a day number, letters from
consonant/vowel tables; a sliding window of 45 days of names.

Sources: the Pushdo DGA in baderj/domain_generation_algorithms (pushdo/, added
2019, further tables 2025; no analysis post is linked there) and its example
list pushdo/example_domains.txt. That list is the only published output; the
test matches it in full: table "kz_v1", date 2019-12-06 (found by search: the
list does not name its date; it is the day the list was committed).

The day number is the sample's own calendar arithmetic, reproduced as is: the
day of the month, plus the lengths of months 2..m of the current year (not
1..m-1; February has 29 days when year % 4 == 0), plus 365 days for each
non-multiple-of-4 year and 366 for each multiple of 4 since year 0. For day
number n the bot makes 30 names each from n, n-1, ..., n-30, then n+1, ...,
n+14 (1350 names a day). For each of the 30: r <- first 4 bytes of MD5(r as 4
little-endian bytes), the length is 9 + (r & 3), the MD5 bytes pick syllables
until the length is reached, and r + 1 starts the next.
"""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

# syllable tables seen in samples: first consonants, first vowels, the vowel and
# consonant that may follow, and the two bit masks that decide the third letter
_TABLES = {
    "kz_v1": ("bcdfghjklmnpqrstvwx", "zxtsrqpnmlkgfdc", "aeiou", "aio", 7, 1),
    "kz_v2": ("kqbhcndjfwglpmzxrsv", "qzlbtgrnkxsfdcm", "aeiou", "aio", 8, 2),
    "kz_v3": ("zhjntdwmqbglpxrsfc", "rlngbtkszpfdcmx", "aeiou", "aio", 8, 2),
}
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_REPO = "https://github.com/baderj/domain_generation_algorithms/tree/master/pushdo"


def _day_number(d: date) -> int:
    months = list(_MONTH_DAYS)
    if d.year % 4 == 0:
        months[1] = 29
    # the sample sums indices m-1 down to 1 (0-based), i.e. months 2..m
    t = sum(months[i] for i in range(1, d.month))
    leap_years = d.year // 4
    return d.day + t + 365 * (d.year - leap_years) + 366 * leap_years


def _syllable(b: int, table: tuple) -> str:
    first, follow, vowels, vowels_after_e, mask_e, mask = table
    s = first[b % len(first)] + vowels[((b + 1) & 0xFF) % 5]
    if s[1] == "e" and (b + 2) & mask_e:
        return s + vowels_after_e[(b + 2) % 3]
    if (b + 2) & mask:
        return s + follow[(b + 3) % 15]
    return s


def _names_of_day(n: int, table: tuple, tld: str) -> list[str]:
    out = []
    r = n & 0xFFFFFFFF
    for _ in range(30):
        digest = hashlib.md5(r.to_bytes(4, "little")).digest()
        r = int.from_bytes(digest[:4], "little")
        length = (r & 3) + 9
        sld = ""
        for b in digest:  # 16 syllables of 2-3 letters always reach 12
            sld += _syllable(b, table)
            if len(sld) >= length:
                break
        out.append(sld[:length] + "." + tld)
        r = (r + 1) & 0xFFFFFFFF
    return out


class Pushdo(Family):
    def names(self, start: date, *, table: str, tld: str) -> list[str]:
        if table not in _TABLES:
            raise DgaError(f"pushdo: unknown table {table!r} (tables: {', '.join(_TABLES)})")
        n = _day_number(start)
        offsets = [-j for j in range(31)] + list(range(1, 15))
        return [name for off in offsets for name in _names_of_day(n + off, _TABLES[table], tld)]


FAMILY = Pushdo(
    name="pushdo",
    aliases=("pushdo-kz",),
    seeding="the date (the sample's own day count), 45 days around it",
    period_days=1,
    per_period=1350,
    tlds=("kz", "com"),
    params=(
        Param("table", str, "kz_v1", "syllable tables: " + ", ".join(_TABLES)),
        Param("tld", str, "kz", "TLD (kz; a variant with the kz_v1 tables used com)"),
    ),
    known=(
        Known(params={"table": "kz_v1"}, note="first tables published", source=_REPO),
        Known(params={"table": "kz_v1", "tld": "com"}, note="same tables with .com", source=_REPO),
        Known(params={"table": "kz_v2"}, note="second tables", source=_REPO),
        Known(params={"table": "kz_v3"}, note="tables added in 2025", source=_REPO),
    ),
    sources=(_REPO,),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 pushdo/example_domains.txt "
        "(1350 names, kz_v1, 2019-12-06); the only published list",
    ),
    epoch=date(2019, 1, 1),
)
