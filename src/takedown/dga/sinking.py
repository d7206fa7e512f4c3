"""Which DGA names the sinkhole holds on a given day, and the registration plan.

Each ``[[dga]]`` entry of an operation names a family (and its parameters).
A generated name is held from ``days_before`` days before its period starts
until ``days_after`` days after it ends: the bots ask for it during its
period, and some run with a wrong clock. On any UTC day, the names whose
window contains that day are sunk; at UTC midnight the set rolls over (the
DNS server rebuilds its policy, see takedown.dns.server).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from takedown.dga.forecast import forecast
from takedown.dga.registry import get


@dataclass(frozen=True)
class Held:
    name: str
    family: str
    period_start: date  # the DGA date the name belongs to
    period_end: date
    hold_from: date
    hold_to: date


def holdings(spec, first: date, last: date) -> list[Held]:
    """Every name of ``spec`` (an operation's DgaSpec) whose window overlaps ``first``..``last``."""
    fam = get(spec.family)
    params = dict(spec.params)
    # periods that can reach into the range through their windows
    lo = first - timedelta(days=spec.days_after + max(fam.period_days, 31))
    hi = last + timedelta(days=spec.days_before)
    out = []
    for p in forecast(fam, lo, hi, params):
        hold_from = p.start - timedelta(days=spec.days_before)
        hold_to = p.end + timedelta(days=spec.days_after)
        if hold_to < first or hold_from > last:
            continue
        for name in p.names:
            out.append(Held(name.lower().rstrip("."), fam.name, p.start, p.end, hold_from, hold_to))
    return out


def _distance(h: Held, day: date) -> int:
    if h.period_start <= day <= h.period_end:
        return 0
    return min(abs((day - h.period_start).days), abs((day - h.period_end).days))


def held_on(specs, day: date) -> dict[str, Held]:
    """The names held on ``day`` (UTC): name -> the period that holds it, the one
    containing ``day`` when there is one (a name several periods share, as in
    Necurs' day // 4 groups, is reported with the day's own period), else the nearest."""
    out: dict[str, Held] = {}
    for spec in specs:
        for h in holdings(spec, day, day):
            old = out.get(h.name)
            if old is None or _distance(h, day) < _distance(old, day):
                out[h.name] = h
    return out


def registrations(specs, first: date, last: date) -> dict[str, list[tuple[str, str, date, date]]]:
    """TLD -> [(name, family, hold from, hold to)], each name once with its whole
    holding span (the union of its windows in the range), sorted by date then name."""
    spans: dict[str, list] = {}
    for spec in specs:
        for h in holdings(spec, first, last):
            s = spans.get(h.name)
            if s is None:
                spans[h.name] = [h.family, h.hold_from, h.hold_to]
            else:
                s[1] = min(s[1], h.hold_from)
                s[2] = max(s[2], h.hold_to)
    by_tld: dict[str, list] = {}
    for name, (family, a, b) in spans.items():
        tld = name.rsplit(".", 1)[-1]
        by_tld.setdefault(tld, []).append((name, family, a, b))
    for rows in by_tld.values():
        rows.sort(key=lambda r: (r[2], r[0]))
    return dict(sorted(by_tld.items(), key=lambda kv: (-len(kv[1]), kv[0])))


#: Registry operators of common TLDs (public IANA root-zone facts, 2026).
REGISTRIES = {
    "com": "Verisign", "net": "Verisign", "cc": "Verisign (eNIC)", "tv": "Verisign (.tv)",
    "name": "Verisign", "org": "Public Interest Registry", "info": "Identity Digital",
    "biz": "GoDaddy Registry", "us": "GoDaddy Registry (Registry Services, LLC)",
    "mobi": "Identity Digital", "pro": "Identity Digital", "xxx": "ICM Registry",
    "ru": "Coordination Center for TLD RU", "su": "Foundation for Internet Development",
    "cn": "CNNIC", "de": "DENIC", "uk": "Nominet", "eu": "EURid", "in": "NIXI",
    "jp": "JPRS", "kr": "KISA", "br": "NIC.br", "fr": "AFNIC", "nl": "SIDN", "pl": "NASK",
    "co": ".CO Internet (GoDaddy Registry)", "me": "doMEn", "ws": "Global Domains International",
    "pw": "Radix", "top": ".top Registry", "xyz": "XYZ.COM", "click": "Internet Naming Co.",
    "tk": "Freenom (Dot TK)", "ir": "IRNIC", "kz": "KazNIC", "ua": "Hostmaster Ltd.",
    "tw": "TWNIC", "io": "Internet Computer Bureau (Identity Digital)", "ac": "Internet Computer Bureau",
    "sh": "Internet Computer Bureau", "bit": "(not in the DNS root: Namecoin)",
}
