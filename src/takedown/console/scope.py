"""A partner's scope: what falls in its approved claims (after CERT.at's tuency).

An address is in scope when its AS is a claimed AS, its country a claimed
country, or it lies inside a claimed prefix; a domain (a tracker entry, a
URL's host) when it is a claimed domain or below one. Only *approved*
claims count. :meth:`Scope.mask` decides a whole Arrow array of addresses
at once (numpy over the integers of :mod:`takedown.enrich.addresses`), so a
partner's view of a million addresses costs no Python loop per address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from takedown.console.store import Claim, ConsoleStore
from takedown.enrich.addresses import parse

__all__ = ["Scope", "scope_of", "from_claims"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Scope:
    partner_id: int
    asns: frozenset[int] = frozenset()
    countries: frozenset[str] = frozenset()  # lower case, as claims store them
    networks: tuple[Network, ...] = ()
    domains: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.asns or self.countries or self.networks or self.domains)

    @property
    def has_addresses(self) -> bool:
        """Whether any address can be in scope (a domains-only partner sees no events)."""
        return bool(self.asns or self.countries or self.networks)

    def contains(self, ip: str | None, asn: int | None = None, cc: str | None = None) -> bool:
        if asn is not None and asn in self.asns:
            return True
        if cc and cc.lower() in self.countries:
            return True
        if ip and self.networks:
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                return False
            if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
                a = a.ipv4_mapped
            return any(a.version == n.version and a in n for n in self.networks)
        return False

    def covers_domain(self, name: str | None) -> bool:
        if not name:
            return False
        n = name.lower().rstrip(".")
        return any(n == d or n.endswith("." + d) for d in self.domains)

    def mask(self, ips: pa.Array, asns: pa.Array | None = None, ccs: pa.Array | None = None) -> np.ndarray:
        """Row-aligned booleans: which of ``ips`` (strings; with their AS
        numbers and country codes when given) are in scope."""
        n = len(ips)
        out = np.zeros(n, dtype=bool)
        if asns is not None and self.asns:
            a = np.asarray(asns.to_numpy(zero_copy_only=False), dtype=object)
            out |= np.fromiter((x in self.asns for x in a), dtype=bool, count=n) if n else out
        if ccs is not None and self.countries:
            c = ccs.to_pylist()
            out |= np.fromiter(((x or "").lower() in self.countries for x in c), dtype=bool, count=n) if n else out
        if self.networks and n:
            if isinstance(ips, pa.ChunkedArray):
                ips = ips.combine_chunks()
            out |= parse(ips).within(self.networks)
        return out


def from_claims(partner_id: int, claims: Sequence[Claim]) -> Scope:
    asns, ccs, nets, doms = set(), set(), [], []
    for c in claims:
        if c.status != "approved":
            continue
        if c.kind == "asn":
            asns.add(int(c.value))
        elif c.kind == "country":
            ccs.add(c.value.lower())
        elif c.kind == "cidr":
            nets.append(ipaddress.ip_network(c.value))
        elif c.kind == "domain":
            doms.append(c.value)
    return Scope(partner_id, frozenset(asns), frozenset(ccs), tuple(nets), tuple(sorted(doms)))


def scope_of(store: ConsoleStore, partner_id: int) -> Scope:
    return from_claims(partner_id, store.claims(partner_id=partner_id, status="approved"))
