"""``HOST:PORT`` listen addresses: the one place they are parsed and written.

HOST must be an IP address literal: a sinkhole binds to addresses, and
resolving a host name at start-up would make the bind depend on DNS. IPv6
is written in brackets (``[::1]:5353``). Port 0 asks the kernel for a free
port; ``takedown serve`` then reports the port it got (its ready line and
``--ready-file``).
"""

from __future__ import annotations

import ipaddress
import re

from takedown.tomlfile import show


def parse_listen(text: str) -> str:
    """Normalized ``HOST:PORT`` from ``text``; ValueError quoting ``text`` otherwise."""
    def bad(reason: str) -> ValueError:
        return ValueError(f"{text!r} is not a valid listen address: {reason}")

    if not isinstance(text, str):
        raise ValueError(f"{show(text)} is not a valid listen address: a string is expected")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise bad("expected [IPv6]:PORT, e.g. [::1]:5353")
        port = rest[1:]
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(host)
        except ValueError:
            raise bad(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise bad("missing :PORT (expected HOST:PORT, e.g. 127.0.0.1:5353)")
        if ":" in host:
            raise bad("write IPv6 addresses in brackets, e.g. [::1]:5353")
        try:
            ip = ipaddress.IPv4Address(host)
        except ValueError:
            raise bad(f"HOST {host!r} is not an IP address") from None
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 <= int(port) <= 65535:
        raise bad(f"port {port!r} is not a number between 0 (any free port) and 65535")
    return join(str(ip), int(port))


def split_listen(text: str) -> tuple[str, int]:
    """(host, port) of a listen address (validated as :func:`parse_listen` does)."""
    host, _, port = parse_listen(text).rpartition(":")
    return host.strip("[]"), int(port)


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
