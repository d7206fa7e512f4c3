"""Seizure verification (``takedown case verify``): did the order take effect?

For every seized name of an operation (its ``[[domains]]`` lists) two
independent checks, each giving *verified*, *not yet* or *wrong* with the
reason:

- **DNS** (``--dns``): the parent zone delegates the name to the sinkhole's
  nameservers. The question goes to the parent's authoritative server with
  recursion off (RD clear, RFC 1035 4.1.1), so the answer is the registry's
  delegation itself, not a resolver's cached copy; it is the referral's NS
  set (RFC 1034 4.3.2 step 3b) or, from a server authoritative for the name
  too, the answer's NS set. The parent is a ``HOST:PORT`` given by the
  operator (tests: an NSD on loopback serving a fake TLD) or, live, the
  TLD's own nameservers found through the system's resolver.
- **RDAP** (``--rdap``): the registry's RDAP record (RFC 9083) shows the
  expected EPP statuses, in RDAP's spelling ("server transfer prohibited",
  RFC 8056 section 2) and the expected registrar (the entity with the
  "registrar" role: its vCard ``fn`` or its IANA Registrar ID, RFC 9083
  section 5.1 and RFC 7483 appendix).

How the findings are classed (docs/case-verify.md):

- DNS: the delegation is exactly the sinkhole's nameservers: verified;
  delegated only to other nameservers (the registry has not acted): not yet;
  delegated to a mix of the sinkhole's and others, to only part of the
  sinkhole's, or not delegated at all (NXDOMAIN, no NS): wrong; the parent
  did not answer: not yet (nothing is known).
- RDAP: every expected status present and the registrar as expected:
  verified; a status missing or another registrar: not yet; no record (404):
  wrong; the server did not answer: not yet.

A name is verified when every check run verified it; otherwise it is the
worse of its findings (wrong before not yet).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from takedown.case import jcard, rdap_bootstrap
from takedown.case.history import first_verified, record_verified
from takedown.case.seized import listed
from takedown.case.store import case_database
from takedown.errors import TakedownError
from takedown.hostport import split_listen
from takedown.operation import Case, Operation, rdap_status

__all__ = ["VERIFIED", "NOT_YET", "WRONG", "VerifyError", "Finding", "NameResult", "RdapExpect",
           "sinkhole_nameservers", "parse_parent", "check_delegation", "tld_parent",
           "check_rdap", "expectations", "fetch_rdap", "rdap_services", "verify", "by_registry",
           "verify_operation"]

VERIFIED, NOT_YET, WRONG = "verified", "not yet", "wrong"
_RANK = {VERIFIED: 0, NOT_YET: 1, WRONG: 2}

#: What a seizure that keeps the name resolving to the sinkhole usually
#: carries: the registry lock (RFC 8056 section 2 maps EPP's
#: serverTransferProhibited to this RDAP value). An order that takes names out
#: of the zone instead expects "server hold" (give --status).
DEFAULT_STATUSES = ("server transfer prohibited",)


class VerifyError(TakedownError):
    """Verification cannot run (a bad --parent, no RDAP service for a TLD)."""


@dataclass(frozen=True)
class Finding:
    """One check's result for one name."""

    check: str  # "dns" or "rdap"
    status: str  # VERIFIED, NOT_YET or WRONG
    reason: str = ""


@dataclass(frozen=True)
class NameResult:
    name: str
    family: str
    registry: str
    findings: tuple[Finding, ...]
    first_verified: int | None = None  # Unix seconds, from the history

    @property
    def status(self) -> str:
        return max((f.status for f in self.findings), key=_RANK.__getitem__, default=NOT_YET)

    @property
    def reason(self) -> str:
        return "; ".join(f"{f.check}: {f.reason}" for f in self.findings if f.status != VERIFIED and f.reason)


@dataclass(frozen=True)
class RdapExpect:
    """What the registry's RDAP record should show."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    registrar: str | None = None  # a name (vCard fn) or an IANA Registrar ID; None: not checked


def expectations(case: Case | None, statuses: tuple[str, ...] | None = None,
                 registrar: str | None = None) -> Callable[[str], RdapExpect]:
    """name -> what its RDAP record should show. ``statuses`` and
    ``registrar`` (the command line's) win; else the ``[[case.registries]]``
    entry whose ``tld`` is the longest suffix of the name, where it says;
    else ``[case]``'s own ``rdap_status`` and ``registrar``; without a case,
    the default lock and no registrar. A registry may hold names differently
    (one takes them out of the zone: "server hold"; another locks them)."""
    if statuses is not None:
        try:
            statuses = tuple(dict.fromkeys(rdap_status(s) for s in statuses))
        except ValueError as e:
            raise VerifyError(f"--status: {e}") from None
    base = RdapExpect(case.rdap_status, case.registrar) if case is not None else RdapExpect()

    def of(name: str) -> RdapExpect:
        reg = case.registry_for(name) if case is not None else None
        want = RdapExpect(reg.rdap_status or base.statuses, reg.registrar or base.registrar) if reg else base
        return RdapExpect(statuses or want.statuses, registrar if registrar is not None else want.registrar)

    return of


@dataclass
class RegistryCount:
    registry: str
    counts: dict[str, int] = field(default_factory=lambda: {VERIFIED: 0, NOT_YET: 0, WRONG: 0})


# ----------------------------------------------------------------- the names


def sinkhole_nameservers(op: Operation) -> frozenset[str]:
    """The nameservers the seized names must be delegated to (lowercase, no
    trailing dot): the case's ``[case] nameservers`` when the operation has a
    case (its default is the sinkhole's), else the sinkhole's own."""
    if op.case is not None and op.case.nameservers:
        return frozenset(n.lower().rstrip(".") for n in op.case.nameservers)
    return frozenset(name for name, _ in op.sinkhole.nameservers)


def parse_parent(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of a parent server (an IP address literal)."""
    try:
        return split_listen(text)
    except ValueError as e:
        raise VerifyError(f"--parent: {e}") from None


# ----------------------------------------------------------------- DNS


def _ns_set(msg: dns.message.Message, name: dns.name.Name) -> tuple[dns.name.Name | None, set[str]]:
    """The delegation covering ``name`` in a parent's answer: the NS set
    owned by ``name`` or its closest ancestor (a seized ``www.evil.test`` is
    covered by the delegation of ``evil.test``), and that owner."""
    best: tuple[dns.name.Name | None, set[str]] = (None, set())
    for section in (msg.answer, msg.authority):
        for rrset in section:
            if rrset.rdtype != dns.rdatatype.NS or not name.is_subdomain(rrset.name):
                continue
            if best[0] is None or len(rrset.name) > len(best[0]):
                best = (rrset.name, {r.target.to_text(omit_final_dot=True).lower() for r in rrset})
    return best


def _ask(name: str, server: tuple[str, int], timeout: float) -> dns.message.Message:
    q = dns.message.make_query(name, dns.rdatatype.NS)
    q.flags &= ~dns.flags.RD  # the parent's own data, not a recursive answer
    host, port = server
    r = dns.query.udp(q, host, port=port, timeout=timeout)
    if r.flags & dns.flags.TC:  # a long NS set with glue: ask again over TCP (RFC 7766)
        r = dns.query.tcp(q, host, port=port, timeout=timeout)
    return r


def check_delegation(name: str, expected: frozenset[str], servers: Iterable[tuple[str, int]],
                     timeout: float = 3.0) -> Finding:
    """The DNS finding for ``name``: its delegation in the parent (asked of
    each of ``servers`` in turn until one answers) against ``expected``."""
    last = "no parent server"
    for server in servers:
        try:
            r = _ask(name, server, timeout)
        except (dns.exception.DNSException, OSError) as e:
            last = f"the parent {server[0]}:{server[1]} did not answer ({type(e).__name__})"
            continue
        rcode = r.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return Finding("dns", WRONG, "not delegated: the parent says the name does not exist (NXDOMAIN)")
        if rcode != dns.rcode.NOERROR:
            last = f"the parent {server[0]}:{server[1]} answered {dns.rcode.to_text(rcode)}"
            continue
        qname = dns.name.from_text(name)
        owner, got = _ns_set(r, qname)
        if not got or (r.flags & dns.flags.AA and owner != qname):
            # an authoritative answer names the zone's own apex NS: the name is in the parent, not delegated
            return Finding("dns", WRONG, "not delegated: the parent has no NS records for the name")
        if got == expected:
            return Finding("dns", VERIFIED, "delegated to " + ", ".join(sorted(got)))
        if got.isdisjoint(expected):
            return Finding("dns", NOT_YET, "delegated to " + ", ".join(sorted(got)))
        if got < expected:
            return Finding("dns", WRONG, "delegated to part of the sinkhole's nameservers only; missing "
                           + ", ".join(sorted(expected - got)))
        return Finding("dns", WRONG, "also delegated to " + ", ".join(sorted(got - expected)))
    return Finding("dns", NOT_YET, last)


def tld_parent(tld: str, resolver: dns.resolver.Resolver | None = None) -> list[tuple[str, int]]:
    """The addresses (port 53) of the TLD's authoritative servers, found
    through ``resolver`` (the system's by default): the live parent."""
    res = resolver or dns.resolver.Resolver()
    try:
        targets = sorted(r.target.to_text() for r in res.resolve(tld + ".", "NS"))
        addresses: list[tuple[str, int]] = []
        for target in targets:
            for rdtype in ("A", "AAAA"):
                try:
                    addresses.extend((r.address, 53) for r in res.resolve(target, rdtype))
                except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                    pass
    except dns.exception.DNSException as e:
        raise VerifyError(f"cannot find the nameservers of .{tld}: {e}") from None
    if not addresses:
        raise VerifyError(f"cannot find the nameservers of .{tld}: no addresses")
    return addresses


# ----------------------------------------------------------------- RDAP


def fetch_rdap(base: str, name: str, timeout: float = 10.0) -> dict | None:
    """The RDAP domain object of ``name`` from ``base`` (RFC 9082 section
    3.1.3: ``{base}domain/{name}``); None on 404 (no such domain)."""
    url = base.rstrip("/") + "/domain/" + name
    req = urllib.request.Request(url, headers={"Accept": "application/rdap+json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise VerifyError(f"{url}: HTTP {e.code}") from None
    except (urllib.error.URLError, socket.timeout, OSError) as e:
        raise VerifyError(f"{url}: {getattr(e, 'reason', e)}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerifyError(f"{url}: not an RDAP JSON response") from None


def _registrar(obj: Mapping) -> tuple[str | None, str | None]:
    """(vCard fn, IANA Registrar ID) of the domain's registrar entity."""
    for ent in obj.get("entities", ()) or ():
        if "registrar" not in (ent.get("roles") or ()):
            continue
        fn = next(reversed(jcard.values(ent, "fn")), None)
        iana = next((str(p.get("identifier")) for p in ent.get("publicIds", ()) or ()
                     if p.get("type") == "IANA Registrar ID"), None)
        return fn, iana
    return None, None


def check_rdap(obj: Mapping | None, expect: RdapExpect) -> Finding:
    """The RDAP finding from a domain object (None: the registry has none)."""
    if obj is None:
        return Finding("rdap", WRONG, "the registry has no RDAP record of the name (404)")
    have = {str(s).lower() for s in obj.get("status", ()) or ()}
    missing = [s for s in expect.statuses if s.lower() not in have]
    problems = []
    if missing:
        problems.append("status lacks " + ", ".join(f'"{s}"' for s in missing)
                        + " (has " + (", ".join(f'"{s}"' for s in sorted(have)) or "none") + ")")
    if expect.registrar is not None:
        fn, iana = _registrar(obj)
        want = expect.registrar.strip().lower()
        if want not in ((fn or "").lower(), (iana or "").lower()):
            problems.append(f"registrar is {fn or '?'} (IANA {iana or '?'}), expected {expect.registrar}")
    if problems:
        return Finding("rdap", NOT_YET, "; ".join(problems))
    return Finding("rdap", VERIFIED, "status " + ", ".join(sorted(have)))


# ----------------------------------------------------------------- together


def _tld(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def verify(
    names: Iterable[tuple[str, str]],
    *,
    nameservers: frozenset[str] | None = None,
    parent: Callable[[str], list[tuple[str, int]]] | None = None,
    rdap: Callable[[str], str | None] | None = None,
    expect: RdapExpect | Callable[[str], RdapExpect] = RdapExpect(),
    registry_of: Callable[[str], str | None] | None = None,
    timeout: float = 3.0,
) -> list[NameResult]:
    """Check every (name, family): the delegation when ``parent`` (TLD ->
    parent servers) is given, RDAP when ``rdap`` (name -> base URL) is,
    against ``expect`` (one for every name, or name -> its own).
    The registry of a name is the RDAP base URL it was checked at, else
    ``registry_of(name)`` (its RDAP service in the bootstrap file, as the
    appendix groups names), else its TLD."""
    if parent is not None and not nameservers:
        raise VerifyError("the operation's [sinkhole] has no nameservers to verify delegations against")
    parents: dict[str, list[tuple[str, int]]] = {}
    results = []
    for name, family in names:
        tld = _tld(name)
        findings = []
        registry = (registry_of(name) if registry_of is not None else None) or "." + tld
        if parent is not None:
            if tld not in parents:
                parents[tld] = parent(tld)
            findings.append(check_delegation(name, nameservers or frozenset(), parents[tld], timeout))
        base = rdap(name) if rdap is not None else None
        if rdap is not None and base is None:
            # many ccTLDs run no RDAP service (RFC 9224 lists those that do): nothing to ask
            findings.append(Finding("rdap", NOT_YET, f"no RDAP service for .{tld} in the bootstrap file: "
                                                     f"ask the registry"))
        elif base is not None:
            registry = base
            want = expect(name) if callable(expect) else expect
            try:
                findings.append(check_rdap(fetch_rdap(base, name, timeout), want))
            except VerifyError as e:
                findings.append(Finding("rdap", NOT_YET, f"no answer: {e}"))
        results.append(NameResult(name, family, registry, tuple(findings)))
    return results


def by_registry(results: Iterable[NameResult]) -> list[RegistryCount]:
    """Counts of verified / not yet / wrong per registry, registries sorted."""
    groups: dict[str, RegistryCount] = {}
    for r in results:
        groups.setdefault(r.registry, RegistryCount(r.registry)).counts[r.status] += 1
    return [groups[k] for k in sorted(groups)]


def rdap_services(rdap_url: str | None, bootstrap: Path | None, *, needed: bool = True
                  ) -> tuple[Callable[[str], str | None] | None, Callable[[str], str | None]]:
    """(name -> the RDAP base URL to ask, name -> its RDAP service in the
    bootstrap file): ``rdap_url`` for every name when given, else the
    service the ``bootstrap`` file (by default the shipped one) names for it
    (RFC 9224 section 4), None for a TLD it does not list. The first is None
    when RDAP is not ``needed``; VerifyError when it is and nothing says
    where to ask. Shared by ``case verify --rdap`` and ``case notice --rdap``."""
    boot = rdap_bootstrap.load(bootstrap) if bootstrap is not None else rdap_bootstrap.shipped()

    def service(name: str) -> str | None:
        hit = boot.service_for(name) if boot is not None else None
        return hit[1] if hit else None

    if not needed:
        return None, service
    if rdap_url:
        return (lambda _name: rdap_url), service
    if boot is None:
        raise VerifyError("--rdap needs --rdap-url URL or --bootstrap dns.json (IANA's RDAP bootstrap "
                          "file): none is shipped")
    return service, service


def verify_operation(
    op: Operation,
    *,
    dns_check: bool,
    rdap_check: bool,
    parent: str | None = None,
    rdap_url: str | None = None,
    bootstrap: Path | None = None,
    statuses: tuple[str, ...] | None = None,
    registrar: str | None = None,
    now: int,
    history: bool = True,
    timeout: float = 3.0,
) -> list[NameResult]:
    """Verify every seized name of ``op`` (``takedown case verify``) and
    record the first verification of each verified name in the operation's
    database; each result carries its first verification.

    ``parent``: ``HOST:PORT`` asked for every delegation (else each TLD's own
    servers); ``rdap_url``: the RDAP base URL for every name (else the one
    the ``bootstrap`` file, by default the shipped one, names for it);
    ``statuses``, ``registrar``: what every RDAP record must show, over the
    case's (:func:`expectations`)."""
    if not (dns_check or rdap_check):
        raise VerifyError("nothing to check: give --dns, --rdap or both")
    names = [(s.name, s.family) for s in listed(op)]
    parent_of = None
    if dns_check:
        fixed = [parse_parent(parent)] if parent else None
        parent_of = (lambda _tld: fixed) if fixed else tld_parent
    rdap_of, service = rdap_services(rdap_url, bootstrap, needed=rdap_check)
    results = verify(names, nameservers=sinkhole_nameservers(op) if dns_check else None, parent=parent_of,
                     rdap=rdap_of, expect=expectations(op.case, statuses, registrar), registry_of=service,
                     timeout=timeout)
    if not history:
        return results
    with case_database(op) as engine:
        checks = "+".join(c for c, on in (("dns", dns_check), ("rdap", rdap_check)) if on)
        first = record_verified(engine, (r.name for r in results if r.status == VERIFIED), checks, now)
        # names verified before and not now keep their date (takedown.case.history)
        earlier = first_verified(engine)
        first.update((r.name, earlier[r.name]) for r in results if r.name not in first and r.name in earlier)
    return [replace(r, first_verified=first.get(r.name)) for r in results]

