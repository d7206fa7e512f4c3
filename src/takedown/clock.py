"""The emulated clock of the range, as carried on the wire.

In range mode (docs/range.md) an emulated population makes weeks pass in
minutes: each connection's PROXY v2 header (TLV 0xE0,
:data:`takedown.net.proxy.TLV_TAKEDOWN_CLOCK`) and each resolver's DNS query
(EDNS option 65423, :data:`takedown.dns.wire.EDNS_TAKEDOWN_CLOCK`) carries the
emulated time, and a sensor that trusts the sender stamps the event with it.
Both carry the same 8-byte value, encoded here once: big-endian unsigned
microseconds since the UNIX epoch.
"""

from __future__ import annotations

import math
import struct

_U64 = struct.Struct("!Q")

#: The first instant a clock may not reach: 10000-01-01 UTC (events are
#: stored under their day, and a date needs four digits).
CLOCK_END = 253402300800


class ClockError(ValueError):
    """A clock value that cannot be believed (wrong size, past the year 9999)."""


def encode_clock(unix_time: float) -> bytes:
    """The 8-byte value for ``unix_time``."""
    if not math.isfinite(unix_time) or unix_time < 0:
        raise ValueError(f"clock must be a finite, non-negative UNIX time, got {unix_time!r}")
    us = round(unix_time * 1_000_000)
    if us >= 1 << 64:
        raise ValueError(f"clock {unix_time!r} does not fit in 64-bit microseconds")
    return _U64.pack(us)


def decode_clock(value: bytes) -> float:
    """UNIX time from an 8-byte clock value (microsecond resolution)."""
    if len(value) != 8:
        raise ClockError(f"clock of {len(value)} bytes, expected 8")
    t = _U64.unpack(value)[0] / 1_000_000
    if t >= CLOCK_END:
        raise ClockError(f"clock {t:.0f} is past the year 9999")
    return t
