"""Conficker (Downadup, Kido) A and B: 250 names a UTC day from a floating-point generator.

Sources: P. Porras, H. Saidi, V. Yegneswaran, "An Analysis of Conficker's Logic and
Rendezvous Points" (SRI International, 2009, http://mtc.sri.com/Conficker/) describe the
daily rendezvous names of A and B; F. Leder and T. Werner, "Know Your Enemy: Containing
Conficker" (The Honeynet Project, 2009) describe the generator of all three variants and
ship ``downatool2`` (University of Bonn,
https://net.cs.uni-bonn.de/wg/cs/applications/containing-conficker/), the tool that made
the published lists below. The algorithm was learned from the sample's x86 code as
transcribed in github.com/andrewaeva/DGA (dga_algorithms/Conficker.cpp, variant B) and
from the per-variant constants in a public Ruby "conficker-like" generator (which says
itself that it does not make the real names), read only for that; this code is our own.
The tests match the lists of github.com/Will-Beninger/ConfickerDGA (commit ec4b7e8),
made with downatool2 for every day of 2020: all 91,500 names of B (2020-01-01..12-31)
and all 91,250 of A (the file lacks 2020-05-04).

The seed is the Windows FILETIME (100 ns ticks since 1601) of 00:00 UTC of the day: the
sample zeroes the hour, minutes and seconds of the (UTC) date it obtains, so every hour
of a UTC calendar day gives the same names and no result depends on a time zone. The key
is ``(filetime * mul mod 2**64) // (7 days in ticks) + add``. Each draw maps the 64-bit
key ``k`` to the bit pattern of the double ``((P + sin(U)) * U + c) * U + log(U)``,
where ``U`` is ``k`` as a double and ``P`` the low 64 bits of ``k * rmul`` as a double,
and returns the low 32 bits as a signed int. The x87 code runs at 53-bit precision (the
Windows default; the match with the lists bears it out), so Python's IEEE doubles give
the same sums and products; but the sample's ``sin`` is the x87 ``FSIN`` instruction,
which reduces its (huge) argument with a 66-bit value of pi: :func:`_x87_sin` does the
same. With the exact ``sin``, 12 days of 2020 (e.g. B on 2020-01-19, A on 2020-04-21)
diverge from the published lists part-way through; with FSIN's reduction none does. A
name is ``draw % 4 + 8`` letters (C's truncating remainder: 5 to 11), each
``abs(draw) % 26``, then a TLD: B indexes its 8 TLDs with ``draw & 7``, A its 5 with the
draw as unsigned ``% 5``.

Conficker C (50,000 names a day over 110 TLDs, 500 of them queried) uses the same
generator with other constants, but no published list of its names could be found to
verify an implementation against, so it is not shipped (``variant="c"`` is an error).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_M64 = (1 << 64) - 1
_TICKS_PER_DAY = 864_000_000_000  # FILETIME counts 100 ns ticks
_FILETIME_EPOCH = date(1601, 1, 1)
#: pi * 2**64 to 66 significant bits: the value the x87 FPU reduces FSIN's argument with
_PI66 = 0x3243F6A8885A308D3
_INT_MIN = -(1 << 31)


@dataclass(frozen=True)
class _Variant:
    mul: int  # multiplies the FILETIME (mod 2**64)
    div: int  # divides the product (one week in ticks for A and B)
    add: int  # added to the quotient: the first key
    rmul: int  # multiplies the key inside each draw
    radd: float  # added inside each draw
    tlds: tuple[str, ...]


_WEEK = 7 * _TICKS_PER_DAY
_VARIANTS = {
    "a": _Variant(0x463DA5676, _WEEK, 0xB46A7637, 0x64236735, 0.737565675,
                  ("com", "net", "org", "info", "biz")),
    "b": _Variant(0x352C94565, _WEEK, 0xA3596526, 0x53125624, 0.626454564,
                  ("cc", "cn", "ws", "com", "net", "org", "info", "biz")),
}


def _x87_sin(x: float) -> float:
    """sin(x) as the x87 FSIN instruction computes it for |x| < 2**63: the argument is
    reduced by pi/2 taken to 66 bits (exactly, in integers here), then the sine or cosine
    of the remainder is taken."""
    num, den = x.as_integer_ratio()  # den is a power of two
    num <<= 65  # x = num / (den * 2**65); pi/2 = _PI66 / 2**65
    step = den * _PI66
    k, rem = divmod(num, step)
    if 2 * rem > step:  # nearest multiple
        k += 1
        rem -= step
    r = rem / (den << 65)
    return (math.sin(r), math.cos(r), -math.sin(r), -math.cos(r))[k & 3]


def _draws(key: int, v: _Variant):
    """The sample's generator: an endless stream of signed 32-bit values."""
    pack, unpack = struct.Struct("<d").pack, struct.Struct("<Q").unpack
    rmul, radd = v.rmul, v.radd
    while True:
        u = float(key)
        t = float((key * rmul) & _M64) + _x87_sin(u)
        t = (t * u + radd) * u + (math.log(u) if u > 0 else -math.inf)
        key = unpack(pack(t))[0]
        low = key & 0xFFFFFFFF
        yield low - (1 << 32) if low >> 31 else low


def _c_rem(a: int, b: int) -> int:
    """C's ``%``: the remainder takes the sign of the dividend."""
    r = abs(a) % b
    return -r if a < 0 else r


def _letter(draw: int) -> str:
    # abs() of INT_MIN stays INT_MIN in the sample's 32-bit arithmetic: -24 + 'a' is 'I'
    # (once in 2**32 draws; unobserved). We give it as 'i': DNS names ignore case.
    if draw == _INT_MIN:
        return "i"
    return chr(ord("a") + abs(draw) % 26)


def _names(day: date, variant: str, count: int) -> list[str]:
    v = _VARIANTS[variant]
    filetime = (day - _FILETIME_EPOCH).days * _TICKS_PER_DAY
    key = (((filetime * v.mul) & _M64) // v.div + v.add) & _M64
    draw = _draws(key, v).__next__
    out = []
    for _ in range(count):
        length = _c_rem(draw(), 4) + 8
        label = "".join(_letter(draw()) for _ in range(length))
        r = draw()
        tld = v.tlds[r & 7] if variant == "b" else v.tlds[(r & 0xFFFFFFFF) % len(v.tlds)]
        out.append(f"{label}.{tld}")
    return out


class Conficker(Family):
    def names(self, start: date, *, variant: str) -> list[str]:
        key = str(variant).strip().lower()
        if key == "c":
            raise DgaError("conficker: variant C is not shipped: no published list of its names "
                           "was found to verify it against")
        if key not in _VARIANTS:
            raise DgaError(f"conficker: variant must be a or b, not {variant!r}")
        return _names(start, key, 250)


_SRI = ("P. Porras, H. Saidi, V. Yegneswaran: An Analysis of Conficker's Logic and Rendezvous "
        "Points, SRI International (2009), http://mtc.sri.com/Conficker/")
_HONEYNET = ("F. Leder, T. Werner: Know Your Enemy: Containing Conficker, The Honeynet Project (2009); "
             "downatool2, https://net.cs.uni-bonn.de/wg/cs/applications/containing-conficker/")
_LISTS = "https://github.com/Will-Beninger/ConfickerDGA"

FAMILY = Conficker(
    name="conficker",
    aliases=("downadup", "kido"),
    seeding="FILETIME of 00:00 UTC of the day (the UTC calendar date), per-variant constants",
    period_days=1,
    per_period=250,
    tlds=_VARIANTS["b"].tlds,
    params=(Param("variant", str, "b", "a (5 TLDs) or b (8 TLDs); C is not shipped (unverified)"),),
    known=(Known(params={"variant": "a"}, note="Conficker A: com net org info biz", source=_LISTS),
           Known(params={"variant": "b"}, note="Conficker B: cc cn ws com net org info biz", source=_LISTS)),
    sources=(_SRI, _HONEYNET, "https://github.com/andrewaeva/DGA/blob/master/dga_algorithms/Conficker.cpp",
             _LISTS),
    verified_against=(
        "conficker.b.txt of Will-Beninger/ConfickerDGA (ec4b7e8, made with Leder & Werner's downatool2): "
        "all 91,500 names of 2020-01-01..2020-12-31, variant B",
        "conficker.a.txt of the same commit: all 91,250 names of 2020-01-01..2020-12-31 except "
        "2020-05-04 (absent from the file), variant A",
    ),
    epoch=date(1970, 1, 1),
)
