"""Fuzz the master-file reader takedown.dns.zonefile.read_zone (RFC 1035
s5, RFC 2308 $TTL): the input is the text of a zone file for the zone
fuzz.test. A crash is any exception but ZoneError (a TakedownError)."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.dns.zonefile import read_zone
    from takedown.errors import TakedownError

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main, scratch  # noqa: E402

DIR = scratch("zone")
PATH = DIR / "fuzz.test.zone"
# What $INCLUDE may name without leaving the scratch directory.
(DIR / "inc.zone").write_text("www 300 IN A 192.0.2.1\n")


def TestOneInput(data: bytes) -> None:
    PATH.write_bytes(data)
    try:
        for _line, owner, _rtype, ttl, rdata in read_zone(PATH, "fuzz.test"):
            assert owner.endswith(b"\x04fuzz\x04test\x00"), f"owner {owner!r} outside the zone"
            assert 0 <= ttl <= 0x7FFFFFFF, f"TTL {ttl} outside 0..2^31-1 (RFC 2181 s8)"
            assert len(rdata) <= 65535, f"RDATA of {len(rdata)} octets"
    except TakedownError:
        return


if __name__ == "__main__":
    main(TestOneInput)
