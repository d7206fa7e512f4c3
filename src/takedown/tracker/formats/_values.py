"""Fast paths the writers share, over values already canonical
(:func:`takedown.tracker.indicator.parse_value` made them): a million
indicators go through each, and the general parsers (``ipaddress``,
:func:`uuid.uuid5`) cost more than the rest of a row. Tests check both
against the general ones."""

from __future__ import annotations

import hashlib
import uuid


def host_port(value: str) -> tuple[str, int | None]:
    """The address and port of a canonical IP value: ``1.2.3.4``,
    ``1.2.3.4:443``, ``2001:db8::1``, ``[2001:db8::1]:443``."""
    if value.startswith("["):
        host, _, port = value[1:].partition("]:")
        return host, int(port)
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, int(port)
    return value, None


def uuid5(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` (RFC 9562 5.5: SHA-1, version 5, variant 10)."""
    b = bytearray(hashlib.sha1(namespace.bytes + name.encode("utf-8")).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
