"""ZLoader (Silent Night): 32 .com names a day, seeded by RC4 over the date.

Sources: J. Bader, "The DGA of Zloader" (2020-04,
https://johannesbader.ch/blog/the-dga-of-zloader/), and the per-key domain
lists in baderj/domain_generation_algorithms (``zloader/``; read to learn the
algorithm, this code is our own). The tests match
``zloader/domains_q23Cud3xsNf3.txt`` and
``zloader/domains_41997b4a729e1a0175208305170752dd.txt`` (commit 09961a1),
which hold the 32 names of every day 2020-01-01 .. 2022-09-26 for those RC4
keys; all four published key lists were checked in full while writing this.

The seed is the UTC midnight Unix timestamp of the day, as 4 little-endian
bytes, encrypted with RC4 under a key from the bot's configuration.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_LABEL_LEN = 20
_M32 = 0xFFFFFFFF


def _rc4_keystream(key: bytes, n: int) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for _ in range(n):
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def _seed(day: date, key: str) -> int:
    midnight = (day - date(1970, 1, 1)).days * 86400  # UTC, no time zone involved
    plain = midnight.to_bytes(4, "little")
    ks = _rc4_keystream(key.encode("latin-1"), 4)
    return int.from_bytes(bytes(p ^ k for p, k in zip(plain, ks)), "little")


class Zloader(Family):
    def names(self, start: date, *, key: str, count: int) -> list[str]:
        if not key:
            raise DgaError("zloader: the RC4 key must not be empty")
        seed = _seed(start, key)
        r = seed
        out = []
        for _ in range(count):  # the state carries over from one name to the next
            label = []
            for _ in range(_LABEL_LEN):
                c = ord("a") + r % 25  # % 25: never a 'z'
                label.append(chr(c))
                r = seed ^ ((r + c) & _M32)
            out.append("".join(label) + ".com")
        return out


_POST = "https://johannesbader.ch/blog/the-dga-of-zloader/"
_LISTS = "baderj/domain_generation_algorithms zloader/dga.py and domains_<key>.txt"

FAMILY = Zloader(
    name="zloader",
    aliases=("silentnight",),
    seeding="UTC date (midnight Unix timestamp) encrypted with a per-campaign RC4 key",
    period_days=1,
    per_period=32,
    tlds=("com",),
    params=(
        Param("key", str, "q23Cud3xsNf3", "RC4 key from the bot configuration"),
        Param("count", int, 32, "names per day"),
    ),
    known=tuple(
        Known(params={"key": k}, note=note, source=_LISTS if k != "q23Cud3xsNf3" else _POST)
        for k, note in (
            ("q23Cud3xsNf3", "first analysed sample (2020)"),
            ("41997b4a729e1a0175208305170752dd", "later campaign; published list"),
            ("kZieCw23gffpe43Sd", "later campaign; published list"),
            ("Ts72YjsjO5TghE6m", "later campaign; published list"),
            ("03d5ae30a0bd934a23b6a7f0756aa504", "in dga.py since commit 4435793 (2021-03); untested"),
        )
    ),
    sources=(_POST, "https://github.com/baderj/domain_generation_algorithms/tree/master/zloader"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 zloader/domains_q23Cud3xsNf3.txt and "
        "domains_41997b4a729e1a0175208305170752dd.txt: 32 names a day, tested on 2020-01-01, "
        "2021-03-26 and 2022-09-26; all 1000 days of all four published key lists "
        "(also kZieCw23gffpe43Sd, Ts72YjsjO5TghE6m) matched when written",
    ),
    epoch=date(1970, 1, 1),
)
