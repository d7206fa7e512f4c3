"""Dotted-quad IPv4 text to uint32 for many strings at once.

Every string's first 16 bytes become one row of a byte matrix; three bit
masks per row (where the dots, the digits and the zeros are) go through a
table of the 81 valid shapes (four fields of 1 to 3 digits), and the four
fields are read with one byte gather per digit. Only the strict form is an
address (RFC 6943 section 3.1.1 "dotted decimal": four decimal fields,
0..255, no leading zeros); the lenient forms of ``inet_aton`` ("127.1",
"0x7f.1", "010.0.0.1", trailing text after a space) are not, because their
meaning differs between implementations.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["LEAD", "ROW", "dotted_quads"]

LEAD = 4  # bytes of zero padding the caller puts before the data
ROW = 16  # bytes read per string (and needed after the data's end)
_DOT, _COLON, _ZERO = ord("."), ord(":"), ord("0")


def _shape_tables():
    """Tables indexed by a 16-bit key: bit i set where byte i is a dot, plus
    one bit at the string's length (the end of the last field). Only the 81
    keys of a well-formed dotted quad are marked valid."""
    valid = np.zeros(1 << 16, bool)
    leading = np.zeros(1 << 16, np.uint16)  # first byte of each 2-3 digit field
    ends = np.zeros((4, 1 << 16), np.uint8)  # index one past each field's last digit
    for lengths in itertools.product((1, 2, 3), repeat=4):
        key = lead = pos = 0
        field_ends = []
        for length in lengths:
            if length > 1:
                lead |= 1 << pos
            pos += length
            field_ends.append(pos)
            key |= 1 << pos
            pos += 1
        valid[key] = True
        leading[key] = lead
        ends[:, key] = field_ends
    return valid, leading, ends


_VALID, _LEADING, _ENDS = _shape_tables()


def dotted_quads(padded: np.ndarray, starts: np.ndarray, size: np.ndarray):
    """Strings at ``padded[LEAD + starts[i]]`` of ``size[i]`` bytes (the
    buffer has LEAD zero bytes before the data and ROW + LEAD after).

    Returns ``(ok, value, colons)``: which are dotted quads, their value,
    and a mask of the rows with a colon among their first 16 bytes."""
    starts = np.asarray(starts, np.int64)
    # Bits 0..len-1 (all 16 for longer strings), and the bit at len (none then).
    ones = np.left_shift(np.uint32(1), np.minimum(size, 16).astype(np.uint32)) - np.uint32(1)
    within = ones.astype(np.uint16)
    end_bit = ((ones + np.uint32(1)) & np.uint32(0xFFFF)).astype(np.uint16)
    windows = np.ndarray(shape=(len(padded) - LEAD - ROW + 1,), dtype=f"V{ROW}", buffer=padded, offset=LEAD, strides=(1,))
    flat = windows[starts].view(np.uint8)  # one row of 16 bytes per string
    # packbits over the flat matrix: two bytes per row, bit i = byte i. (Not
    # packbits(axis=1): that one is ~20x slower.)
    dots = np.packbits(flat == _DOT, bitorder="little").view("<u2") & within
    digits = np.packbits((flat - _ZERO) < 10, bitorder="little").view("<u2") & within
    zeros = np.packbits(flat == _ZERO, bitorder="little").view("<u2")
    colons = (np.packbits(flat == _COLON, bitorder="little").view("<u2") & within) != 0
    key = (dots | end_bit).astype(np.intp)  # one index conversion for the table reads
    ok = _VALID.take(key) & (digits == (within & ~dots)) & ((zeros & _LEADING.take(key)) == 0) & (size <= 15)

    value = np.zeros(len(starts), np.uint32)
    prev_end = None
    zero = np.uint8(_ZERO)
    for field in range(4):
        end = _ENDS[field].take(key)
        width = end if prev_end is None else end - prev_end - np.uint8(1)
        prev_end = end
        # The field's last three bytes (hundreds, tens, units) are string
        # bytes end-3 .. end-1, at padded index LEAD + start + end - 3. Bytes
        # beyond the field's width are zeroed; uint8/uint16 arithmetic keeps
        # each step to tens of microseconds per 10**6 rows.
        at = starts + (end + np.uint8(LEAD - 3))
        units = padded[2:][at] - zero
        tens = padded[1:][at] - zero
        hundreds = padded[at] - zero
        tens *= width >= 2
        hundreds *= width == 3
        part = hundreds.astype(np.uint16)
        part *= 10
        part += tens
        part *= 10
        part += units
        ok &= part <= 255
        value = (value << 8) | part
    return ok, value, colons
