"""Claims: the network objects a partner asks to see (after CERT.at's tuency).

A claim is an AS number, a CIDR prefix (IPv4 or IPv6), a country code (a
national CERT's whole country) or a domain. :func:`parse_claim` turns what a
user typed into the canonical value stored and compared ('AS64500' and
'as64500' are '64500'; '192.0.2.1/24' is '192.0.2.0/24'; 'Example.NET.' is
'example.net'), or raises a one-line ConsoleError naming the field.
"""

from __future__ import annotations

import ipaddress
import re

from takedown.console.schema import CLAIM_KINDS
from takedown.errors import ConsoleError

__all__ = ["parse_claim", "CLAIM_KINDS"]

_ASN = re.compile(r"(?i)(?:AS)?(\d{1,10})")
_CC = re.compile(r"[A-Za-z]{2}")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def parse_claim(kind: str, value: str, field: str = "claim") -> tuple[str, str]:
    """(kind, canonical value) of a claim."""
    kind = (kind or "").strip().lower()
    text = (value or "").strip()
    if kind not in CLAIM_KINDS:
        raise ConsoleError(f"{field}: kind must be one of {', '.join(CLAIM_KINDS)}, not {kind!r}")
    if kind == "asn":
        m = _ASN.fullmatch(text)
        if not m or not 0 < int(m.group(1)) < 2**32:
            raise ConsoleError(f"{field}: {text!r} is not an AS number (AS1 to AS4294967295)")
        return kind, str(int(m.group(1)))
    if kind == "cidr":
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ConsoleError(f"{field}: {text!r} is not a CIDR prefix (192.0.2.0/24, 2001:db8::/32)") from None
        if "/" not in text:
            raise ConsoleError(f"{field}: {text!r} has no prefix length (write {net.compressed})")
        if net.prefixlen == 0:
            raise ConsoleError(f"{field}: {text!r} is the whole address space; claim a network")
        return kind, net.compressed
    if kind == "country":
        if not _CC.fullmatch(text):
            raise ConsoleError(f"{field}: {text!r} is not a two-letter country code (ISO 3166-1)")
        return kind, text.lower()
    name = text.lower().rstrip(".")
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise ConsoleError(f"{field}: {text!r} is not a domain name") from None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ConsoleError(f"{field}: {text!r} is not a domain name (example.net)")
    return kind, name
