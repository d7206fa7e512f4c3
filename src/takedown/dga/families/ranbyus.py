"""Ranbyus: two DGA versions, both seeded with the date and a 32-bit sample
seed, 40 names a day.

Sources: J. Bader, "The DGA of Ranbyus" (May 2015),
http://johannesbader.ch/2015/05/the-dga-of-ranbyus/ ; "Ranbyus's DGA,
Revisited" (September 2015), http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/ ;
the seeds and example lists of baderj/domain_generation_algorithms
(ranbyus/may/, ranbyus/september/).

version="may": day, month, year and seed are four 32-bit registers mixed by
shifts and xors; each of 14 letters is (day ^ month ^ year) mod 25 ('a'..'y'),
and the registers carry over from name to name. The month's lowest bit is
masked off and the year register soon decays, so months 2k and 2k+1 give the
same names, and so do most years (3 distinct lists for 2000..2039 on a day).
version="september": x = (day * month * year) ^ seed drives a 64-bit LCG
(PCG's multiplier and increment); two calls of three steps each give the 16+1
bytes of a 17-letter name (byte mod 25).
Both cycle through 8 TLDs starting at index day-of-month (the sample's list
has 9 entries but takes the index mod 8). The samples with seed 0xCE7F8514
use another TLD order.

The tests match both published lists, 40 names each: may, seed 0xB6354BC3,
2015-05-14 (the usage example of upstream's dga.c) and september, seed
0x0F0D5BFA, 2015-09-25 (found by search: the list does not name its date);
and the first names of a report quoted in the September post, which are
seed 0x0F0D5BFA on 2015-09-24.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_M32, _M64 = 0xFFFFFFFF, (1 << 64) - 1
_TLDS = ("in", "me", "cc", "su", "tw", "net", "com", "pw", "org")
_TLDS_CE7F8514 = ("in", "net", "org", "com", "me", "su", "tw", "cc", "pw")
_MAY = "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/"
_SEPT = "http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/"


def _may(day: int, month: int, year: int, seed: int, count: int) -> list[str]:
    out = []
    tld = day
    for _ in range(count):
        letters = []
        for _ in range(14):
            day = ((day >> 15) ^ (16 * ((day & 0x1FFF) ^ (4 * (seed ^ day))))) & _M32
            # the products wrap at 32 bits before the right shifts
            year = (((year & 0xFFFFFFF0) << 17) ^ ((year ^ ((7 * year) & _M32)) >> 11)) & _M32
            month = ((14 * (month & 0xFFFFFFFE)) ^ ((month ^ ((4 * month) & _M32)) >> 8)) & _M32
            seed = ((seed >> 6) ^ (((day + 8 * seed) << 8) & 0x3FFFF00)) & _M32
            letters.append(chr(ord("a") + (day ^ month ^ year) % 25))
        out.append("".join(letters) + "." + _TLDS[tld % 8])
        tld += 1
    return out


_MULT, _INC = 0x5851F42D4C957F2D, 0x14057B7EF767814F


def _pcg_bytes(x: int) -> tuple[int, bytes]:
    """Three LCG steps; the sample folds them into 16 bytes. Returns (state, bytes)."""
    s1 = (_MULT * x + _INC) & _M64
    s2 = (_MULT * s1 + _INC) & _M64
    s3 = (_MULT * s2 + _INC) & _M64
    mixed = ((s3 >> 24) & 0xFFFFFF00) | ((s3 & _M32) >> 24)
    words = (
        ((mixed ^ s2) & 0xFFFFF) ^ s2,  # low 20 bits from the mix, the rest from s2
        s2 >> 32,
        (s1 & 0xFFF00000) | ((s3 >> 32) >> 12),
        s1 >> 32,
    )
    return s3, b"".join((w & _M32).to_bytes(4, "little") for w in words)


def _september(day: int, month: int, year: int, seed: int, count: int) -> list[str]:
    tlds = _TLDS_CE7F8514 if seed == 0xCE7F8514 else _TLDS
    x = (day * month * year) ^ seed
    out = []
    for k in range(count):
        x, first = _pcg_bytes(x)
        x, second = _pcg_bytes(x)
        letters = (first + second)[:17]
        out.append("".join(chr(ord("a") + b % 25) for b in letters) + "." + tlds[(day + k) % 8])
    return out


class Ranbyus(Family):
    def names(self, start: date, *, version: str, seed: int, count: int) -> list[str]:
        if version == "may":
            return _may(start.day, start.month, start.year, seed & _M32, count)
        if version == "september":
            return _september(start.day, start.month, start.year, seed & _M32, count)
        raise DgaError(f"ranbyus: version must be 'may' or 'september', not {version!r}")


FAMILY = Ranbyus(
    name="ranbyus",
    seeding="the date (day, month, year) and a 32-bit seed",
    period_days=1,
    per_period=40,
    tlds=_TLDS,
    params=(
        Param("version", str, "september", "DGA version: 'may' or 'september' (2015 posts)"),
        Param("seed", int, 0x0F0D5BFA, "32-bit seed of the sample"),
        Param("count", int, 40, "names per day"),
    ),
    known=tuple(
        [Known(params={"version": "may", "seed": s}, note="May 2015 sample", source=_MAY)
         for s in (0xC5F128F3, 0xB6354BC3, 0x65BA0743, 0x0478620C)]
        + [Known(params={"version": "september", "seed": s}, note="sample of the revisited DGA", source=_SEPT)
           for s in (0x0F0D5BFA, 0xF2C72B14, 0xAE8714BE, 0xCE7F8514, 0x572473BB, 0x17794CF1,
                     0xC0E32524, 0x7CB7966E, 0x9F90C9E7, 0x8FB8879B, 0xE981684B)]),
    sources=(_MAY, _SEPT, "https://github.com/baderj/domain_generation_algorithms/tree/master/ranbyus"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 ranbyus/may/example_domains.txt "
        "(40 names, may, seed 0xB6354BC3, 2015-05-14)",
        "baderj/domain_generation_algorithms@09961a1 ranbyus/september/example_domains.txt "
        "(40 names, september, seed 0x0F0D5BFA, 2015-09-25)",
        "first names of the report quoted in " + _SEPT + " (september, seed 0x0F0D5BFA, 2015-09-24)",
        "pchaigno/dga-collection@e910a11 test/test_ranbyus.py: its first 7 names, version may, seed 0x65BA0743, 2015-05-19",
    ),
    epoch=date(2015, 1, 1),
)
