"""Chinad against a second, independent published list: 360 Netlab's own example
output, github.com/360netlab/DGA code/chinad/examples.txt (added in commit 545d67c,
2016-10-24; unchanged at b388986). It lists 1000 names, the sample's counter
0..999, of which only the low byte is used, so it is the 256 names of one day
repeated in order (the last 232 being names 0..231 again).

The file does not state its date. Trying every day from 2010-01-01 to 2030-12-31
for the first name, only 2016-10-24 (the day the file was committed) gives it, and
that day reproduces all 1000 names in order."""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.families.chinad import FAMILY

DAY = date(2016, 10, 24)
FIRST = [
    "fgkxhd41nvcwcfks.ru", "jgmpwmyy5bhqucyb.ru", "ncoj1q9m4whi9jlv.ru", "ec9r6a6e0w4incg2.cn",
    "xjo4vk9bk1f19hxz.net", "z1pjcawbiq4pyqx9.cn", "xicehot5nxizuuba.ru", "s1pznu37dc9uat6o.biz",
    "t9xluygojkwupzyg.ru", "n7xr1i2jwkte82ee.com", "m8mdb0q42hwju54c.cn", "o3glyubuvy4gywvl.biz",
]
LAST = ["fnny9pnhbd4hnomv.cn", "5txahkcr15youdmk.info", "2oai4a4po4imf5ip.cn"]
#: sha256 of the 1000 published names joined by "\n"
FULL_SHA256 = "4c722738323808dbf27fa55166f4029dbe7d36080afbdfb61a61d78b1d677186"


def test_360netlab_examples():
    day = FAMILY.generate(DAY)
    assert len(day) == 256
    published = [day[counter % 256] for counter in range(1000)]
    assert published[:12] == FIRST
    assert published[-3:] == LAST
    assert hashlib.sha256("\n".join(published).encode()).hexdigest() == FULL_SHA256


def test_neighbouring_days_differ():
    assert FAMILY.generate(date(2016, 10, 23))[0] != FIRST[0]
    assert FAMILY.generate(date(2016, 10, 25))[0] != FIRST[0]
