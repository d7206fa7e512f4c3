"""Murofet (Licat), the Zeus-derived downloader: variants 1 and 2 of its MD5-based DGA.

Sources: Johannes Bader, "Three variants of Murofet's DGA" (2015-09,
https://johannesbader.ch/2015/09/three-variants-of-murofets-dga/), and the
reimplementations and example lists in github.com/baderj/domain_generation_algorithms
(murofet/v1, murofet/v2; read only to learn the algorithm; this code is our own). Note the
year byte: ``(year & 0xFF) + 0x30``, the form fixed there in commit 7173161 (2016-01).

Each name is the MD5 of a short binary seed (year byte, month, day, name index) turned
into letters. Variant 1 uses ``day // 7 * 7`` (groups starting on the 1st, 7th, 14th,
21st and 28th: not a fixed cycle); variant 2 uses the day itself and XORs the seed with a
per-sample 32-bit key. Periods follow the variant: version 1's
are those groups, version 2's single days; 1020 names a period.

Tests match murofet/v1/example_domains.txt (the first 1000 names of 2015-09-03: that list
was made before the script's count went from 1000 to 1020) and
murofet/v2/example_domains.txt (all 1020 names of 2015-09-03, made without a key, i.e.
key 0). The dates are not in the files: they were found by matching, and agree with the
commit date of both lists (082f56f, 2015-09-03). A second test matches names a sandbox
saw in 2016-09 for key 0x8811EEA2 (360netlab/DGA issue #11). The other keys in ``known`` come
from the reimplementation's notes; no published list for them exists to test against.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_A, _Z = ord("a"), ord("z")


def _year_byte(day: date) -> int:
    return ((day.year & 0xFF) + 0x30) & 0xFF


def _v1(day: date, index: int) -> str:
    seed = bytes((_year_byte(day), day.month, day.day // 7 * 7)) + index.to_bytes(4, "little")
    out = []
    for b in hashlib.md5(seed).digest():
        # two letter candidates per digest byte, both dropped when equal, each when past 'z'
        lo, hi = _A + (b & 0x1F), _A + (b >> 3)
        if lo != hi:
            out += [chr(c) for c in (lo, hi) if c <= _Z]
    # TLD: the first of ru, biz, info, org, net, com whose modulus 6, 5, 4, 3, 2, 1 divides index
    tlds = ("ru", "biz", "info", "org", "net", "com")
    tld = next(t for m, t in zip(range(6, 0, -1), tlds) if index % m == 0)
    return "".join(out) + "." + tld


def _v2(day: date, index: int, key: int) -> str:
    # even index: consecutive pairs share a name and differ only in the TLD
    seed = bytes((_year_byte(day), day.month & 0xFF, day.day, 0)) + (index & ~1).to_bytes(4, "little")
    k = key.to_bytes(4, "little") * 2
    seed = bytes(s ^ x for s, x in zip(seed, k))
    letters = [chr(c) for b in hashlib.md5(seed).digest() if (c := _A + (b & 0xF) + (b >> 4)) <= _Z]
    tld = next(t for m, t in zip(range(5, 0, -1), ("biz", "info", "org", "net", "com")) if index % m == 0)
    return "".join(letters) + "." + tld


class Murofet(Family):
    # Version 1's names change when day // 7 * 7 does: groups 1-6, 7-13, 14-20, 21-27 and
    # 28 to the month's end. Version 2's change daily.
    def period_start(self, day: date, params: dict | None = None) -> date:
        if (params or {}).get("version") == 1:
            return day.replace(day=max(1, day.day // 7 * 7))
        return day

    def period_end(self, start: date, params: dict | None = None) -> date:
        if (params or {}).get("version") == 1:
            last = 6 if start.day < 7 else start.day + 6
            return start.replace(day=min(last, calendar.monthrange(start.year, start.month)[1]))
        return start

    def names(self, start: date, *, version: int, key: int, count: int) -> list[str]:
        if version == 1:
            if key:
                raise DgaError("murofet: version 1 takes no key")
            return [_v1(start, i) for i in range(count)]
        if version == 2:
            if not 0 <= key <= 0xFFFFFFFF:
                raise DgaError("murofet: key is a 32-bit number")
            return [_v2(start, i, key) for i in range(count)]
        raise DgaError(f"murofet: version {version} is not implemented (1 or 2)")


_BLOG = "https://johannesbader.ch/2015/09/three-variants-of-murofets-dga/"
_V2 = "https://github.com/baderj/domain_generation_algorithms/blob/master/murofet/v2/dga.py"

FAMILY = Murofet(
    name="murofet",
    aliases=("licat",),
    seeding="UTC date (v1: year, month, day // 7 * 7; v2: year, month, day XOR a 32-bit key)",
    period_days=1,
    per_period=1020,
    tlds=("ru", "biz", "info", "org", "net", "com"),
    params=(Param("version", int, 2, "DGA variant, 1 or 2"),
            Param("key", int, 0, "v2: 32-bit key XORed onto the seed, 0 for none (v1 has none)"),
            Param("count", int, 1020, "names per day")),
    known=(Known(params={"version": 2, "key": 0x8811EEA2}, note="v2 key seen in a sandbox in 2016-09",
                 source="https://github.com/360netlab/DGA/issues/11"),
           Known(params={"version": 2, "key": 0xD6D7A4BE}, note="v2 key (untested)", source=_V2),
           Known(params={"version": 2, "key": 0xDEADC2DE}, note="v2 key (untested)", source=_V2),
           Known(params={"version": 2, "key": 0xD6D7A4B1}, note="v2 key, added 2016-09 (untested)", source=_V2),
           Known(params={"version": 1, "key": 0}, note="v1 has no key", source=_BLOG)),
    sources=(_BLOG, "https://github.com/baderj/domain_generation_algorithms/tree/master/murofet"),
    verified_against=(
        "murofet/v1/example_domains.txt of baderj/domain_generation_algorithms (09961a1): the first "
        "1000 of 1020 names for 2015-09-03 (any day 2015-09-01..06)",
        "murofet/v2/example_domains.txt (09961a1): all 1020 names for 2015-09-03, key 0",
        "360netlab/DGA issue #11 (sandbox), v2 key 0x8811eea2: 14 names of 2016-09-26 (our positions 850-863); 36 names the issue dates 'Sep 09' are of 2016-09-07 (found by matching; the issue was opened 2016-09-08)",
    ),
    epoch=date(1970, 1, 1),
)
