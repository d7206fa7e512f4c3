"""When a claim needs an operator's approval, and what it overlaps (after
CERT.at's tuency, where an administrator approves network objects once and
what lies inside them follows).

A new claim is approved at once when:

- an operator enters it (the operator is the one who would approve it);
- it is a CIDR inside an approved CIDR of the same partner (a sub-prefix);
- it is a CIDR that an AS the partner has approved announces: every range of
  the operation's AS table (:func:`takedown.enrich.choice.for_operation`,
  the shipped ip-location-db table unless ``[enrich] asn_mmdb`` says
  otherwise) from the prefix's first to its last address maps to that AS.
  Both ends alone would pass a prefix whose middle belongs to someone else,
  so :meth:`takedown.enrich.Enricher.asns_over` reads every range between;
  a stretch no range covers counts against it;
- it is a domain below an approved domain of the same partner.

Anything else is pending: a supernet of an approved prefix, a prefix that
only overlaps one, an AS, a country. Another partner's claim on the same
object does not block a claim (a national CERT and an ISP share a network);
:func:`overlaps` lists such claims so the operator sees them when deciding.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from takedown.console.claims import parse_claim
from takedown.console.store import Claim, ConsoleStore, Partner

__all__ = ["Verdict", "verdict", "request", "approve", "overlaps", "Overlap", "enricher_for"]


@dataclass(frozen=True)
class Verdict:
    status: str  # 'approved' | 'pending'
    note: str


@dataclass(frozen=True)
class Overlap:
    partner: str
    claim: Claim


def _net(value: str):
    return ipaddress.ip_network(value)


def verdict(kind: str, value: str, approved: Sequence[Claim], *, by_operator: bool, enricher=None) -> Verdict:
    """Whether a new claim (canonical ``kind``, ``value``) of a partner whose
    approved claims are ``approved`` needs an operator. ``enricher`` (an
    Enricher) maps prefixes to AS numbers; without it the AS rule is off."""
    if by_operator:
        return Verdict("approved", "entered by an operator")
    mine = [c for c in approved if c.status == "approved"]
    if kind == "cidr":
        net = _net(value)
        for c in mine:
            if c.kind == "cidr":
                outer = _net(c.value)
                if outer.version == net.version and net != outer and net.subnet_of(outer):
                    return Verdict("approved", f"inside approved {c.value}")
        asns = {int(c.value) for c in mine if c.kind == "asn"}
        if asns and enricher is not None:
            found = enricher.asns_over(str(net.network_address), str(net.broadcast_address))
            if len(found) == 1 and next(iter(found)) in asns:
                return Verdict("approved", f"announced by approved AS{next(iter(found))}")
    if kind == "domain":
        for c in mine:
            if c.kind == "domain" and value.endswith("." + c.value):
                return Verdict("approved", f"below approved {c.value}")
    return Verdict("pending", "")


def request(store: ConsoleStore, partner_id: int, kind: str, value: str, *, by: str, by_operator: bool,
            enricher=None, address: str = "") -> Claim:
    """Add a claim with the status the rules give it (audited by the store)."""
    kind, value = parse_claim(kind, value)
    v = verdict(kind, value, store.claims(partner_id=partner_id, status="approved"), by_operator=by_operator,
                enricher=enricher)
    return store.add_claim(partner_id, kind, value, by=by, address=address, status=v.status, note=v.note)


def approve(store: ConsoleStore, claim_id: int, *, by: str, note: str = "", enricher=None,
            address: str = "") -> list[Claim]:
    """Approve a claim, then the same partner's pending claims it now covers
    (a sub-prefix asked for before its prefix was approved needs no second
    look). Returns every claim approved, the given one first."""
    done = [store.decide(claim_id, "approved", by=by, note=note, address=address)]
    pid = done[0].partner_id
    for c in store.claims(partner_id=pid, status="pending"):
        v = verdict(c.kind, c.value, store.claims(partner_id=pid, status="approved"), by_operator=False,
                    enricher=enricher)
        if v.status == "approved":
            done.append(store.decide(c.id, "approved", by=by, note=v.note, address=address))
    return done


def _touches(a: Claim, b: Claim) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "cidr":
        x, y = _net(a.value), _net(b.value)
        return x.version == y.version and x.overlaps(y)
    if a.kind == "domain":
        return a.value == b.value or a.value.endswith("." + b.value) or b.value.endswith("." + a.value)
    return a.value == b.value


def overlaps(claim: Claim, others: Sequence[Claim], partners: dict[int, Partner]) -> list[Overlap]:
    """Other partners' pending or approved claims on the same object (the
    same AS or country, an overlapping prefix, the same or a nested domain)."""
    return [Overlap(partners[o.partner_id].name if o.partner_id in partners else str(o.partner_id), o)
            for o in others
            if o.partner_id != claim.partner_id and o.status != "rejected" and _touches(claim, o)]


@functools.lru_cache(maxsize=4)
def _enricher(country_mmdb, asn_mmdb):
    from takedown.enrich.choice import make_enricher

    return make_enricher(country_mmdb, asn_mmdb)


def enricher_for(op):
    """The operation's enricher (its ``[enrich]`` files, else the shipped
    tables), loaded once per process: the AS rule's table is the one the
    events were enriched with."""
    return _enricher(op.enrich.country_mmdb, op.enrich.asn_mmdb)
