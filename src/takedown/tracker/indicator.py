"""The tracker's model: an indicator (a C&C domain, IP with optional port, or
URL), its status, and the changes of that status.

Pure: no database, no I/O. The store (:mod:`takedown.tracker.store`) keeps
these; importers make them from files, exporters write them out.

The model follows what abuse.ch's trackers publish (ZeuS Tracker 2009-2019,
Feodo Tracker, ThreatFox, URLhaus: https://abuse.ch): a value, the malware
family, a status (their ``online``/``offline``, plus the takedown's own
``sinkholed`` and ``seized``), first seen, last seen online, hosting AS and
country, source, confidence (ThreatFox's ``confidence_level``, 0-100) and tags.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from takedown.errors import TrackerError

KINDS = ("domain", "ip", "url")
STATUSES = ("online", "offline", "sinkholed", "seized", "unknown")

__all__ = ["KINDS", "STATUSES", "Indicator", "Change", "parse_value", "normalize", "utc", "check_status",
           "check_confidence", "TrackerError"]


def utc(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime (a naive one is taken as UTC), to the
    second: every source we read and write (abuse.ch's ``YYYY-MM-DD
    HH:MM:SS``) is in seconds."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Value:
    """A parsed indicator value. ``text`` is the canonical form the tracker
    keys on: a domain lower-case A-labels without the root dot; an IP as
    ``ipaddress`` writes it, with ``:port`` (IPv6 in brackets) when there is
    one; a URL with scheme and host lower-cased and the default port and
    fragment dropped."""

    text: str
    kind: str
    host: str  # the domain or IP the indicator's traffic goes to
    port: int | None = None
    scheme: str | None = None  # URLs only


def _domain(s: str, what: str) -> str:
    name = s.strip().rstrip(".").lower()
    if not name:
        raise TrackerError(f"{what}: empty domain")
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise TrackerError(f"{what}: {s!r} is not a valid domain name (IDNA)") from None
    if len(name) > 253:
        raise TrackerError(f"{what}: domain longer than 253 characters")
    for label in name.split("."):
        if not label or len(label) > 63:
            raise TrackerError(f"{what}: {s!r} has an empty label or one over 63 characters")
        if not all(c.isalnum() or c in "-_" for c in label):
            raise TrackerError(f"{what}: {s!r} is not a domain name (label {label!r})")
    if "." not in name:
        raise TrackerError(f"{what}: {s!r} is not a domain name (no dot)")
    return name


def _port(s: str, what: str) -> int:
    if not s.isdigit() or not 0 < int(s) < 65536:
        raise TrackerError(f"{what}: port {s!r} is not 1-65535")
    return int(s)


def _ip(s: str, what: str) -> Value:
    s = s.strip()
    host, port = s, None
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise TrackerError(f"{what}: {s!r}: missing ']'")
        host, rest = s[1:end], s[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise TrackerError(f"{what}: {s!r}: expected ':port' after ']'")
            port = _port(rest[1:], what)
    elif s.count(":") == 1:
        host, p = s.split(":")
        port = _port(p, what)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise TrackerError(f"{what}: {s!r} is not an IP address") from None
    text = str(addr)
    if port is not None:
        text = f"[{text}]:{port}" if addr.version == 6 else f"{text}:{port}"
    return Value(text, "ip", str(addr), port)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _url(s: str, what: str) -> Value:
    s = s.strip()
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError as exc:
        raise TrackerError(f"{what}: {s!r} is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        raise TrackerError(f"{what}: {s!r} is not a URL (scheme://host/...)")
    hostname = parts.hostname
    try:
        host = str(ipaddress.ip_address(hostname))
        shown = f"[{host}]" if ":" in host else host
    except ValueError:
        host = shown = _domain(hostname, what)
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        shown = f"{shown}:{port}"
    else:
        port = None
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{shown}" if userinfo else shown
    text = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Value(text, "url", host, port, scheme)


def parse_value(s: str, kind: str | None = None, what: str = "value") -> Value:
    """Parse an indicator value; ``kind`` forces one (else: a value with
    ``://`` is a URL, one that parses as an IP (with optional port) is an IP,
    anything else must be a domain). ``what`` names the value's place
    (``FILE:LINE``, a field) in the one-line error."""
    if kind not in (None, *KINDS):
        raise TrackerError(f"{what}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if kind == "url" or (kind is None and "://" in s):
        return _url(s, what)
    if kind == "ip":
        return _ip(s, what)
    if kind is None:
        try:
            return _ip(s, what)
        except TrackerError:
            pass
    name = _domain(s, what)
    return Value(name, "domain", name)


def normalize(s: str, kind: str | None = None, what: str = "value") -> str:
    return parse_value(s, kind, what).text


def check_status(s: str, what: str = "status") -> str:
    if s not in STATUSES:
        raise TrackerError(f"{what}: unknown status {s!r} (one of {', '.join(STATUSES)})")
    return s


def check_confidence(n: int, what: str = "confidence") -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 100:
        raise TrackerError(f"{what}: confidence {n!r} is not an integer 0-100")
    return n


@dataclass(slots=True)
class Indicator:
    """One tracked C&C. ``value`` is canonical (:func:`parse_value`).

    ``last_online`` is when the indicator was last seen online (by a check or
    a source); ``last_seen`` when any source last reported it (re-adding
    updates it); ``last_checked`` when :mod:`takedown.tracker.check` last
    tried it. ``id`` is the store's key (stable: Suricata sids derive from
    it) and ``revision`` counts the changes of the exported fields (status,
    family, tags...), for Suricata's ``rev`` and feed update times; both are
    None/0 for an indicator not yet stored."""

    value: str
    kind: str
    family: str
    status: str = "unknown"
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_online: datetime | None = None
    last_checked: datetime | None = None
    asn: int | None = None
    as_name: str | None = None
    country: str | None = None
    source: str = ""
    confidence: int = 50
    tags: tuple[str, ...] = ()
    notes: str = ""
    checkins: int | None = None  # sinkhole check-ins counted for a sinkholed indicator
    id: int | None = None
    revision: int = 0
    updated: datetime | None = None  # last change of an exported field

    @property
    def parsed(self) -> Value:
        return parse_value(self.value, self.kind)

    @classmethod
    def new(cls, value: str, family: str, *, kind: str | None = None, what: str = "value", **fields) -> "Indicator":
        """A checked indicator from a raw value (normalized here)."""
        v = parse_value(value, kind, what)
        ind = cls(v.text, v.kind, family.strip() or "unknown", **fields)
        check_status(ind.status, f"{what}: status")
        check_confidence(ind.confidence, f"{what}: confidence")
        return ind


@dataclass(frozen=True, slots=True)
class Change:
    """One change of an indicator's status, as the history keeps it:
    ``by`` says who or what made it (``cli``, ``import:feodo-csv``,
    ``check``, ``operation``, ``events``...), ``reason`` why (a check's
    result, a file and line, free text)."""

    value: str
    at: datetime
    old: str | None  # None: the indicator was created
    new: str
    by: str
    reason: str = ""
    detail: dict = field(default_factory=dict)
