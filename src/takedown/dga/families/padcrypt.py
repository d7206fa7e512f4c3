"""PadCrypt ransomware (2016): 16-letter names from the SHA-256 of the date and an index.

Sources: Johannes Bader, "The DGA of PadCrypt" (2016-03,
http://johannesbader.ch/2016/03/the-dga-of-padcrypt/); Lawrence Abrams, BleepingComputer
(2016-03), "PadCrypt: the first ransomware with live support chat and an uninstaller" and
"The PadCrypt ransomware is still alive and kicking" (version 2.2.97.0); the
reimplementation and example list in github.com/baderj/domain_generation_algorithms
(padcrypt/; read only to learn the algorithm; this code is our own). The test matches
padcrypt/example_domains.txt (commit 09961a1): all 24 names of version 2.2.86.1 on
2016-03-06, the list's commit date (found by matching; the file does not say it). No
published list of version 2.2.97.0 exists there, so that version is untested.

Name ``i`` hashes the text "<day>-<month>-<year><sep><i>" (no zero padding); hex digits 3..18
of the digest make the name, decimal digits mapped to letters; the last hex digit picks the
TLD (out of range: the first one).
"""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

TLDS = ("com", "co.uk", "de", "org", "net", "eu", "info", "online", "co", "cc", "website")
_DIGIT_LETTERS = str.maketrans("0123456789", "abcdnfolmk")
#: version -> (names per day, separator before the index)
VERSIONS = {"2.2.86.1": (24, ":"), "2.2.97.0": (72, "|")}


class Padcrypt(Family):
    def names(self, start: date, *, version: str) -> list[str]:
        if version not in VERSIONS:
            raise DgaError(f"padcrypt: unknown version {version!r} (known: {', '.join(VERSIONS)})")
        count, sep = VERSIONS[version]
        out = []
        for i in range(count):
            text = f"{start.day}-{start.month}-{start.year}{sep}{i}"
            h = hashlib.sha256(text.encode("ascii")).hexdigest()
            t = int(h[-1], 16)
            out.append(h[3:19].translate(_DIGIT_LETTERS) + "." + TLDS[t if t < len(TLDS) else 0])
        return out


_BLOG = "http://johannesbader.ch/2016/03/the-dga-of-padcrypt/"
_BC = ("http://www.bleepingcomputer.com/news/security/"
       "padcrypt-the-first-ransomware-with-live-support-chat-and-an-uninstaller/")
_BC2 = "http://www.bleepingcomputer.com/news/security/the-padcrypt-ransomware-is-still-alive-and-kicking/"

FAMILY = Padcrypt(
    name="padcrypt",
    seeding="UTC date as text (day-month-year) and the name's index",
    period_days=1,
    per_period=24,
    tlds=TLDS,
    params=(Param("version", str, "2.2.86.1", "sample version: 2.2.86.1 (24 names) or 2.2.97.0 (72)"),),
    known=(Known(params={"version": "2.2.86.1"}, note="first analysed version", source=_BLOG),
           Known(params={"version": "2.2.97.0"}, note="72 names, '|' separator (untested)", source=_BC2)),
    sources=(_BLOG, _BC, _BC2, "https://github.com/baderj/domain_generation_algorithms/tree/master/padcrypt"),
    verified_against=("padcrypt/example_domains.txt of baderj/domain_generation_algorithms (09961a1): all 24 "
                      "names of version 2.2.86.1 on 2016-03-06; the only published list",),
    epoch=date(1970, 1, 1),
)
