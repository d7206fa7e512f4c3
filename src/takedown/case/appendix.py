"""The court's appendix: every seized name, grouped by registry, numbered.

A temporary restraining order names the domains each registry must act on in
an appendix: one section per registry, the names sorted and numbered (the
Waledac order's Appendix A: 273 .com names at VeriSign; Rustock's and
Kelihos' spanned several registries). ICANN's "Guidance for Preparing Domain
Name Orders, Seizures & Takedowns" (2012) asks for the exact names and the
registry and registrar of each. Here:

- the seized names are the operation's ``[[domains]]`` lists, and, given a
  window, the ``[[dga]]`` names held during it (takedown.dga.sinking);
- the registry of a name is the RDAP service IANA's bootstrap file gives for
  its TLD (RFC 9224, takedown.case.rdap_bootstrap), labelled with the
  ``[[case.registries]]`` entry the order is served on (its name and
  contact), else the TLD's registry operator where takedown knows it;
- the registrable domain (what a registry transfers or holds) comes from the
  Public Suffix List (https://publicsuffix.org, the ``publicsuffixlist``
  package's copy), its ICANN section only;
- the registrar is the operator's, from a ``name,registrar`` CSV file, where known.

Numbers run through the whole appendix, 1..N, so a name is cited by one
number; registries come largest first, names sorted within each.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from takedown.case import appendix_render
from takedown.case.appendix_render import plural
from takedown.case.rdap_bootstrap import Bootstrap
from takedown.case.seized import dga_held_between, listed, merged
from takedown.dga.sinking import REGISTRIES
from takedown.errors import TakedownError
from takedown.lists import display_path, normalize_name
from takedown.operation import Registry

__all__ = ["Appendix", "AppendixError", "Entry", "Group", "build", "read_registrars", "write"]

NO_SERVICE = "no RDAP service in the bootstrap file"


class AppendixError(TakedownError):
    """The appendix cannot be built: no seized names, a bad registrar file
    (FILE:LINE), a bad window, an unwritable output directory."""


@dataclass(frozen=True)
class Entry:
    number: int
    name: str
    registrable: str  # the registrable domain (PSL), the name itself if it is a public suffix
    tld: str
    family: str  # families joined by ", " when several lists name it
    registrar: str  # "" when not known


@dataclass(frozen=True)
class Group:
    registry: str  # the registry operator, or the RDAP host
    service: str  # RDAP base URL, "" when the bootstrap has none
    tlds: tuple[str, ...]
    entries: tuple[Entry, ...]
    served: tuple[Registry, ...] = ()  # the [[case.registries]] entries its names fall under

    @property
    def served_on(self) -> str:
        """Whom the order is served on for this section: "name (contact); ..."."""
        return "; ".join(f"{r.name} ({r.contact})" for r in self.served)

    @property
    def title(self) -> str:
        """The section's heading: the registry, its TLDs (the first five), its count."""
        shown = ", ".join(f".{t}" for t in self.tlds[:5]) + (f" and {len(self.tlds) - 5} more"
                                                             if len(self.tlds) > 5 else "")
        return f"Registry: {self.registry}, {shown} ({plural(len(self.entries), 'name', 'names')})"

    @property
    def registrars(self) -> list[tuple[str, int]]:
        """(registrar, names) where known, largest first."""
        c = Counter(e.registrar for e in self.entries if e.registrar)
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def registrable_count(self) -> int:
        return len({e.registrable for e in self.entries})


@dataclass(frozen=True)
class Appendix:
    operation: str
    source: str  # the operation file, as shown
    bootstrap: str  # "IANA RDAP bootstrap, publication ..." or why there is none
    psl: str  # the Public Suffix List's version
    dga_window: tuple[date, date] | None
    groups: tuple[Group, ...]

    @property
    def total(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    @property
    def registrable_count(self) -> int:
        return len({e.registrable for g in self.groups for e in g.entries})


def read_registrars(path: str | os.PathLike[str]) -> dict[str, str]:
    """``name,registrar`` lines (``#`` comments, blank lines skipped) -> {name: registrar};
    a name stands for itself, or for every seized name whose registrable domain it is."""
    shown = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AppendixError(f"{shown}: {getattr(e, 'strerror', None) or e}") from None
    out: dict[str, str] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2 or not row[1].strip():
            raise AppendixError(f"{shown}:{lineno}: expected name,registrar")
        name = normalize_name(row[0].strip())
        if name is None:
            raise AppendixError(f"{shown}:{lineno}: {row[0].strip()!r} is not a domain name")
        out[name] = row[1].strip()
    return out


def _registry_label(service: str, tlds: list[str], served: list[Registry]) -> str:
    if served:  # the case's own name for the registry it serves the order on
        return "; ".join(dict.fromkeys(r.name for r in served))
    known = list(dict.fromkeys(REGISTRIES[t] for t in tlds if t in REGISTRIES))
    if known:
        return "; ".join(known)
    if service:
        return urlsplit(service).hostname or service
    return f".{tlds[0]} registry (unknown)"


def build(op, bootstrap: Bootstrap | None, registrars: dict[str, str] | None = None,
          dga_window: tuple[date, date] | None = None) -> Appendix:
    """The appendix of the operation ``op`` (takedown.operation.Operation)."""
    if dga_window is not None and dga_window[0] > dga_window[1]:
        raise AppendixError(f"the DGA window ends ({dga_window[1]}) before it starts ({dga_window[0]})")
    names = merged(listed(op), dga_held_between(op, *dga_window) if dga_window else [])
    if not names:
        raise AppendixError(f"{display_path(op.path)}: no seized names: the operation has no [[domains]] list"
                            + (" and no [[dga]] name in the window" if dga_window else ""))
    registrars = registrars or {}
    # ICANN's section only: a registry registers duckdns.org, not bot.duckdns.org
    # (the list's private section holds names such providers hand out)
    psl = PublicSuffixList(only_icann=True)
    rows: dict[str, list] = {}  # service key -> [(name, registrable, tld, family, registrar)]
    tlds: dict[str, list[str]] = {}
    served: dict[str, list[Registry]] = {}
    for s in names:
        name, fams = s.name, s.families
        registrable = psl.privatesuffix(name) or name
        tld = name.rsplit(".", 1)[-1]
        hit = bootstrap.service_for(name) if bootstrap else None
        key = hit[1] if hit else f"tld:{tld}"
        rows.setdefault(key, []).append(
            (name, registrable, tld, ", ".join(fams), registrars.get(name) or registrars.get(registrable, "")))
        seen = tlds.setdefault(key, [])
        if tld not in seen:
            seen.append(tld)
        reg = op.case.registry_for(name) if op.case is not None else None
        on = served.setdefault(key, [])
        if reg is not None and reg not in on:
            on.append(reg)
    label = {k: _registry_label(_url(k), tlds[k], served[k]) for k in rows}
    order = sorted(rows, key=lambda k: (-len(rows[k]), label[k], k))
    groups, n = [], 0
    for k in order:
        entries = []
        for name, registrable, tld, family, registrar in sorted(rows[k]):
            n += 1
            entries.append(Entry(n, name, registrable, tld, family, registrar))
        groups.append(Group(label[k], _url(k), tuple(sorted(tlds[k])), tuple(entries), tuple(served[k])))
    boot = (f"IANA RDAP bootstrap (RFC 9224), publication {bootstrap.publication}" if bootstrap
            else "no RDAP bootstrap file (takedown case rdap-refresh fetches IANA's): names grouped by TLD")
    return Appendix(op.name, display_path(op.path), boot, f"publicsuffixlist {metadata.version('publicsuffixlist')}",
                    dga_window, tuple(groups))


def _url(key: str) -> str:
    return "" if key.startswith("tld:") else key


CSV_FIELDS = ("number", "registry", "rdap_service", "tld", "name", "registrable_domain", "family", "registrar")


def write(appendix: Appendix, out: str | os.PathLike[str]) -> dict[str, Path]:
    """appendix.csv, appendix.html and appendix.pdf in ``out`` (created); {kind: path}."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "appendix.csv", "html": out / "appendix.html", "pdf": out / "appendix.pdf"}
        paths["csv"].write_text(to_csv(appendix), encoding="utf-8", newline="")
        paths["html"].write_text(appendix_render.html(appendix), encoding="utf-8")
        paths["pdf"].write_bytes(appendix_render.pdf(appendix))
    except OSError as e:
        raise AppendixError(f"{display_path(e.filename or out)}: {e.strerror}") from None
    return paths


def to_csv(appendix: Appendix) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for g in appendix.groups:
        for e in g.entries:
            w.writerow((e.number, g.registry, g.service or NO_SERVICE, e.tld, e.name, e.registrable,
                        e.family, e.registrar))
    return buf.getvalue()
