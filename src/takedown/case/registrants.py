"""The registrants' e-mail addresses from RDAP (``takedown case notice --rdap``).

The courts in Waledac, Rustock and Kelihos allowed notice by e-mail to the
addresses the defendants registered their domains with. A registry's or
registrar's RDAP domain object (RFC 9083 section 5.3) names its contacts as
entities with roles (section 10.2.4); the registrant is the entity with the
role ``registrant``, at the top or nested in another entity (a registrar's
entity may carry it, section 5.1), and its addresses are the ``email``
properties of its jCard (RFC 7095 section 6.4.2).

Since ICANN's Temporary Specification (2018) most registrant addresses are
redacted. RFC 9537 lists the ways: the property removed, emptied, or given
a replacement value; what operators write in its place varies ("REDACTED
FOR PRIVACY", a web form's URL, ``redacted@...``). An address is kept only
when it can reach someone (:func:`placeholder`):

- a value that is not an address (empty, a sentence, a URL) is skipped;
- an address with "redacted" in it is skipped (a placeholder that looks
  like an address, e.g. ``redacted@redacted.invalid``);
- an address under ``.invalid`` is skipped (RFC 6761 section 6.4: it never
  resolves, so nothing can be delivered there);
- a privacy or proxy service's forwarding address (e.g. an
  anonymised ``xyz@withheldforprivacy.com``, or an RFC 9537
  replacementValue) is **kept**: the service forwards it to the registrant,
  which is what notice by e-mail needs; the sending is recorded with the
  address, so the record shows it went through a proxy.

A name whose record cannot be fetched (no RDAP service for its TLD, 404,
an error, no answer) is a :class:`Failure`, not an error: the others are
still read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from takedown.case import jcard
from takedown.case.seized import listed
from takedown.case.verify import VerifyError, fetch_rdap, rdap_services
from takedown.operation import Operation

__all__ = ["ADDRESS", "Registrant", "Failure", "Registrants", "placeholder", "registrant_addresses", "collect",
           "of_operation"]

# Deliberately loose: the relay is the judge of an address; this only
# catches a column in the wrong place or a sentence in an address's place.
ADDRESS = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")


@dataclass(frozen=True)
class Registrant:
    """An address RDAP gives as a registrant's, and the seized names it is the registrant of."""

    address: str
    name: str  # the registrant's jCard fn, "" when none or redacted
    domains: tuple[str, ...]
    where: str  # the RDAP URL of the first record that named it


@dataclass(frozen=True)
class Failure:
    """A seized name whose RDAP record could not be read."""

    name: str
    reason: str


@dataclass(frozen=True)
class Registrants:
    """What :func:`collect` found for the seized names."""

    found: tuple[Registrant, ...]
    failed: tuple[Failure, ...]
    asked: int  # the seized names looked up
    without: tuple[str, ...]  # names whose record holds no usable registrant address (redacted, none)


def placeholder(value: str) -> bool:
    """True when ``value`` (a jCard email value) cannot reach the registrant (see the module's doc)."""
    v = value.strip()
    return (not ADDRESS.fullmatch(v) or "redacted" in v.lower()
            or v.rsplit("@", 1)[-1].lower().rstrip(".").endswith(".invalid"))


def _entities(obj: Mapping) -> Iterator[Mapping]:
    """Every entity of ``obj``, nested ones too (RFC 9083 section 5.1), depth first."""
    for ent in obj.get("entities", ()) or ():
        if isinstance(ent, Mapping):
            yield ent
            yield from _entities(ent)


def registrant_addresses(obj: Mapping) -> list[tuple[str, str]]:
    """(address, fn) of every registrant e-mail address in an RDAP domain
    object, placeholders left out, each address once (any case)."""
    out: dict[str, tuple[str, str]] = {}
    for ent in _entities(obj):
        if "registrant" not in (ent.get("roles") or ()):
            continue
        fn = next((f.strip() for f in jcard.values(ent, "fn") if f.strip() and "redacted" not in f.lower()), "")
        for value in jcard.values(ent, "email"):
            address = value.strip().removeprefix("mailto:")
            if not placeholder(address):
                out.setdefault(address.lower(), (address, fn))
    return list(out.values())


def collect(names: Iterable[str], rdap_of: Callable[[str], str | None], timeout: float = 10.0) -> Registrants:
    """Fetch each name's RDAP domain object from the base URL ``rdap_of``
    gives for it (takedown.case.verify.rdap_services) and gather the
    registrants' addresses: one :class:`Registrant` per address (any case),
    naming every seized name it is the registrant of, in first-seen order."""
    found: dict[str, Registrant] = {}
    failed: list[Failure] = []
    without: list[str] = []
    asked = 0
    for name in names:
        asked += 1
        base = rdap_of(name)
        if base is None:
            failed.append(Failure(name, f"no RDAP service for .{name.rsplit('.', 1)[-1]} in the bootstrap file"))
            continue
        url = base.rstrip("/") + "/domain/" + name
        try:
            obj = fetch_rdap(base, name, timeout)
        except VerifyError as e:
            failed.append(Failure(name, str(e)))
            continue
        if obj is None:
            failed.append(Failure(name, f"{url}: no RDAP record of the name (404)"))
            continue
        addresses = registrant_addresses(obj)
        if not addresses:
            without.append(name)
        for address, fn in addresses:
            old = found.get(address.lower())
            if old is None:
                found[address.lower()] = Registrant(address, fn, (name,), url)
            elif name not in old.domains:
                found[address.lower()] = Registrant(old.address, old.name or fn, old.domains + (name,), old.where)
    return Registrants(tuple(found.values()), tuple(failed), asked, tuple(without))


def of_operation(op: Operation, rdap_url: str | None = None, bootstrap: Path | None = None,
                 timeout: float = 10.0) -> Registrants:
    """:func:`collect` for every seized name of ``op``, asking ``rdap_url``
    or each name's service in the ``bootstrap`` file, as ``case verify
    --rdap`` does."""
    rdap_of, _ = rdap_services(rdap_url, bootstrap)
    return collect((s.name for s in listed(op)), rdap_of, timeout)
