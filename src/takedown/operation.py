"""The operation file: one TOML file per takedown case, and its validation.

``load_operation`` parses the file with :mod:`tomllib`, then checks every
key: type, range, address and name syntax, unknown keys (a typo must never
be silently ignored) and the files it names. Every error is an
:class:`~takedown.errors.OperationError` whose message reads
``FILE:LINE: what is wrong``, FILE being the path as the user gave it.
tomllib does not report positions of values, so :class:`takedown.tomlfile.Locator`
re-reads the text to find the line of each key.

The format is documented in docs/operation-file.md.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from takedown.errors import OperationError
from takedown.hostport import parse_listen
from takedown.tomlfile import KeyPath, Locator, dotted, show, syntax_error
from takedown.lists import (
    display_path,
    is_valid_name,
    normalize_name,
    read_blocklist,
    read_domain_list,
)

__all__ = [
    "DnsConfig",
    "DomainSet",
    "Events",
    "Fingerprints",
    "Listener",
    "Notice",
    "RESPONSE_POLICIES",
    "MAX_TTL",
    "MAX_WORKERS",
    "Operation",
    "Rrl",
    "Sinkhole",
    "ZoneSpec",
    "load_operation",
    "parse_listen",
    "parse_workers",
    "summarize",
]

#: RFC 2181 8: a TTL is an unsigned 32-bit number with the top bit clear.
MAX_TTL = 2**31 - 1
MAX_WORKERS = 256


# --------------------------------------------------------------------------
# The model (imported by the DNS server: keep names and fields stable)


@dataclass(frozen=True)
class Rrl:
    """Response rate limiting, on by default: a sinkhole answering every
    query at full rate is a DNS amplifier. Semantics follow BIND 9's
    ``rate-limit`` (BIND 9 ARM, "Response Rate Limiting"): an account per
    source prefix and response (positive answers per name and type, NODATA
    per name, NXDOMAIN per zone, referrals per delegation, errors per prefix)."""

    enabled: bool = True
    responses_per_second: int = 20  # positive answers; 0 = no limit
    referrals_per_second: int | None = None  # None = responses_per_second; 0 = no limit
    nodata_per_second: int | None = None  # idem
    nxdomains_per_second: int | None = None  # idem
    errors_per_second: int | None = None  # idem (REFUSED, FORMERR, NOTIMP, SERVFAIL)
    all_per_second: int = 0  # every response to a prefix together; 0 = off
    slip: int = 2  # every Nth limited response goes out truncated (TC=1); 0 = never
    window: int = 15  # seconds of debt (and of remembered state)
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56
    exempt: tuple[str, ...] = ()  # networks never limited, normalized ("192.0.2.0/24")


@dataclass(frozen=True)
class DnsConfig:
    listen: tuple[str, ...] = ("127.0.0.1:5353",)  # "HOST:PORT", IPv6 as "[::1]:5353"
    workers: int = 1
    max_udp_payload: int = 1232  # EDNS buffer size advertised / cap (512..4096)
    tcp_idle_timeout: float = 10.0
    rrl: Rrl = Rrl()
    #: range mode only: networks whose queries may stamp their events with the
    #: emulated clock of EDNS option 65423 (takedown.dns.wire.EDNS_TAKEDOWN_CLOCK);
    #: empty = off
    emulated_clock: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sinkhole:
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    ttl: int
    soa_email: str  # RNAME form as written, e.g. "hostmaster.sinkhole.example"
    # (ns name lowercased without trailing dot, its IPv4/IPv6 addresses)
    nameservers: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class DomainSet:
    family: str
    file: Path  # absolute


@dataclass(frozen=True)
class DgaSpec:
    """``[[dga]]``: a DGA family whose names the DNS server sinks as they come due."""

    family: str  # the registered name (aliases resolved)
    params: tuple[tuple[str, Any], ...] = ()
    days_before: int = 3  # sink a name this many days before its period starts
    days_after: int = 7  # and keep it this many days after its period ends
    plugin: Path | None = None  # an operator's own family (a Python file defining FAMILY)


@dataclass(frozen=True)
class ZoneSpec:
    origin: str  # lowercased, no trailing dot
    file: Path  # absolute
    blocklist: Path | None  # absolute or None
    family: str


@dataclass(frozen=True)
class Events:
    flush_interval: float = 1.0  # seconds
    sensor: str = ""  # load_operation fills in the hostname when not given
    #: How source addresses are stored (docs/privacy.md): "clear"; "truncate"
    #: (/24, /48, plus a keyed hash and the country/AS looked up at write
    #: time); "hash" (no address, only the keyed hash, country and AS).
    privacy: str = "clear"
    #: The secret key of the keyed hash (a file of at least 32 bytes);
    #: default: {storage}/privacy.key, created on first use.
    privacy_key: Path | None = None


#: Ways of storing source addresses.
PRIVACY_MODES = ("clear", "truncate", "hash")


@dataclass(frozen=True)
class Enrich:
    """``[enrich]``: the operator's MaxMind GeoLite2/GeoIP2 (or compatible)
    databases; without them the data shipped with the package is used."""

    country_mmdb: Path | None = None
    asn_mmdb: Path | None = None


#: How the HTTP sinkhole answers a check-in (docs/notice.md).
RESPONSE_POLICIES = ("silent", "empty", "notfound", "notice", "template")


@dataclass(frozen=True)
class Listener:
    """One network sinkhole section: ``[http]``, ``[tls]`` or ``[tcp]``.

    Limits protect the sinkhole, which every scanner on the Internet probes:
    header and body caps, requests per connection, idle and slow-request
    timeouts, concurrent connections per source address.
    """

    kind: str  # "http", "tls" or "tcp"
    listen: tuple[str, ...]
    response: str = "notice"  # for HTTP, and HTTP inside TLS after a handshake
    trusted_proxies: tuple[str, ...] = ()  # networks allowed to send PROXY protocol headers
    #: range mode only: stamp a connection's events with the emulated time a trusted
    #: PROXY v2 header carries (TLV 0xE0, takedown.net.proxy.TLV_TAKEDOWN_CLOCK)
    emulated_clock: bool = False
    template: Path | None = None  # the operator template for response = "template"
    handshake: bool = False  # tls: finish the handshake (self-signed) and read the HTTP inside
    capture_bytes: int = 256  # tcp: first bytes kept per connection
    max_header_bytes: int = 8192
    max_body_bytes: int = 1_048_576
    requests_per_connection: int = 1000
    idle_timeout: float = 30.0
    request_timeout: float = 10.0
    max_connections_per_source: int = 256


@dataclass(frozen=True)
class Notice:
    """Who the notice page for infected users names, and where its templates are."""

    operator: str = "the operator of this sinkhole"
    contact_url: str | None = None
    cert_url: str | None = None
    template_dir: Path | None = None  # operator copies of notice.<lang>.html.j2


@dataclass(frozen=True)
class Fingerprints:
    rules: Path | None = None  # the operator's rules file, matched before the shipped ones
    shipped: bool = True  # also match takedown's shipped rules


@dataclass(frozen=True)
class Operation:
    path: Path  # the operation file, absolute
    name: str
    storage: Path  # absolute
    sinkhole: Sinkhole
    domains: tuple[DomainSet, ...]
    zones: tuple[ZoneSpec, ...]
    dns: DnsConfig
    events: Events
    http: Listener | None = None
    tls: Listener | None = None
    tcp: Listener | None = None
    notice: Notice = Notice()
    fingerprints: Fingerprints = Fingerprints()
    enrich: Enrich = Enrich()
    dga: tuple[DgaSpec, ...] = ()


# --------------------------------------------------------------------------
# Loading


def read_text(path: str | os.PathLike[str], error: type[OperationError] = OperationError) -> str:
    """The UTF-8 text of a configuration file; ``error`` ("FILE: ..." or
    "FILE:LINE: ...") when it cannot be read or decoded."""
    display = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise error(f"{display}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        raise error(f"{display}:{lineno}: not valid UTF-8 text") from None


def load_operation(path: str | os.PathLike[str]) -> Operation:
    """Parse and validate the operation file at ``path``.

    Relative paths inside it are resolved against the file's directory.
    Raises OperationError naming ``FILE:LINE`` on any problem.
    """
    display = os.fspath(path)
    text = read_text(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OperationError(syntax_error(display, text, str(e))) from None
    absolute = Path(os.path.abspath(path))
    return _Builder(display, absolute, Locator(text)).operation(doc)


def parse_workers(value: int) -> int:
    """``value`` if it is a valid worker count, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ValueError(f"must be an integer between 1 and {MAX_WORKERS}, not {show(value)}")
    return value


# --------------------------------------------------------------------------
# Validation

_REQUIRED = object()
_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
_SENSOR_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}", re.ASCII)



class _Builder:
    """Walks the parsed document, turning it into an Operation or raising
    OperationError at the line of the first bad key."""

    def __init__(self, display: str, path: Path, locator: Locator):
        self.display = display
        self.path = path
        self.base = path.parent
        self.loc = locator

    def error(self, where: KeyPath, message: str) -> OperationError:
        return OperationError(f"{self.display}:{self.loc.line_of(where)}: {message}")

    # -- sections ----------------------------------------------------------

    def operation(self, doc: dict[str, Any]) -> Operation:
        top = _Table(self, (), doc, _KEYS[()])
        op = top.table("operation")
        name = op.get("name", self.identifier)
        storage = op.get("storage", self.storage)
        sinkhole = self.sinkhole(top.table("sinkhole"))
        domains = tuple(self.domain_set(t) for t in top.array_of_tables("domains"))
        zones = tuple(self.zone(t) for t in top.array_of_tables("zones"))
        self.check_overlaps(domains, zones)
        dns = self.dns(top.table("dns", required=False))
        events = self.events(top.table("events", required=False))
        listeners = {k: self.listener(k, top.table(k, required=False)) for k in ("http", "tls", "tcp")}
        return Operation(
            path=self.path, name=name, storage=storage, sinkhole=sinkhole,
            domains=domains, zones=zones, dns=dns, events=events,
            notice=self.notice(top.table("notice", required=False)),
            fingerprints=self.fingerprints(top.table("fingerprints", required=False)),
            enrich=self.enrich(top.table("enrich", required=False)),
            dga=tuple(self.dga(t) for t in top.array_of_tables("dga")),
            **listeners,
        )

    def listener(self, kind: str, t: _Table | None) -> Listener | None:
        if t is None:
            return None
        d = Listener(kind, ())
        response = t.get("response", self.choice(RESPONSE_POLICIES), default=d.response)
        template = t.get("template", self.existing_file, default=None)
        if response == "template" and template is None:
            raise self.error((kind, "response"), f"{kind}.response = \"template\" needs {kind}.template, "
                                                  f"the operator's template file")
        return Listener(
            kind=kind,
            listen=t.get("listen", self.listen),
            response=response,
            trusted_proxies=t.get("trusted_proxies", self.networks, default=()),
            emulated_clock=t.get("emulated_clock", self.boolean, default=d.emulated_clock),
            template=template,
            handshake=t.get("handshake", self.boolean, default=d.handshake),
            capture_bytes=t.get("capture_bytes", self.integer(0, 65536), default=d.capture_bytes),
            max_header_bytes=t.get("max_header_bytes", self.integer(256, 1 << 20), default=d.max_header_bytes),
            max_body_bytes=t.get("max_body_bytes", self.integer(0, 1 << 30), default=d.max_body_bytes),
            requests_per_connection=t.get("requests_per_connection", self.integer(1, 1 << 30),
                                          default=d.requests_per_connection),
            idle_timeout=t.get("idle_timeout", self.number(0, 86400), default=d.idle_timeout),
            request_timeout=t.get("request_timeout", self.number(0, 3600), default=d.request_timeout),
            max_connections_per_source=t.get("max_connections_per_source", self.integer(1, 1 << 20),
                                             default=d.max_connections_per_source),
        )

    def notice(self, t: _Table | None) -> Notice:
        d = Notice()
        if t is None:
            return d
        template_dir = t.get("template_dir", self.resolve, default=None)
        if template_dir is not None and not template_dir.is_dir():
            raise self.error(("notice", "template_dir"),
                             f"notice.template_dir: {display_path(template_dir)} is not a directory")
        return Notice(
            operator=t.get("operator", self.string, default=d.operator),
            contact_url=t.get("contact_url", self.url, default=None),
            cert_url=t.get("cert_url", self.url, default=None),
            template_dir=template_dir,
        )

    def fingerprints(self, t: _Table | None) -> Fingerprints:
        d = Fingerprints()
        if t is None:
            return d
        return Fingerprints(
            rules=t.get("rules", self.existing_file, default=None),
            shipped=t.get("shipped", self.boolean, default=d.shipped),
        )

    def choice(self, options: tuple[str, ...]) -> Callable[[Any, KeyPath], str]:
        def parse(v: Any, where: KeyPath) -> str:
            s = self.string(v, where)
            if s not in options:
                raise self.error(where, f"{dotted(where)} must be one of {', '.join(options)}, not {show(s)}")
            return s
        return parse

    def url(self, v: Any, where: KeyPath) -> str:
        s = self.string(v, where)
        if not re.fullmatch(r"(https?://|mailto:)\S+", s):
            raise self.error(where, f"{dotted(where)} must be an http(s):// or mailto: URL, not {show(s)}")
        return s

    def networks(self, v: Any, where: KeyPath) -> tuple[str, ...]:
        out = []
        for s, w in self.strings(v, where):
            try:
                out.append(str(ipaddress.ip_network(s, strict=False)))
            except ValueError:
                raise self.error(w, f"{dotted(w)} must be a network like 127.0.0.0/8 or ::1/128, "
                                    f"not {show(s)}") from None
        return tuple(out)

    def sinkhole(self, t: _Table) -> Sinkhole:
        ipv4 = t.get("ipv4", self.addresses(4), default=())
        ipv6 = t.get("ipv6", self.addresses(6), default=())
        ttl = t.get("ttl", self.integer(0, MAX_TTL))
        soa_email = t.get("soa_email", self.rname)
        nameservers = t.get("nameservers", self.nameservers)
        if not ipv4 and not ipv6:
            raise self.error(t.path, "sinkhole needs at least one address in ipv4 or ipv6")
        return Sinkhole(ipv4=ipv4, ipv6=ipv6, ttl=ttl, soa_email=soa_email, nameservers=nameservers)

    def domain_set(self, t: _Table) -> DomainSet:
        return DomainSet(family=t.get("family", self.identifier),
                         file=t.get("file", self.existing_file))

    def zone(self, t: _Table) -> ZoneSpec:
        return ZoneSpec(
            origin=t.get("origin", self.zone_origin),
            file=t.get("file", self.existing_file),
            blocklist=t.get("blocklist", self.existing_file, default=None),
            family=t.get("family", self.identifier),
        )

    def dns(self, t: _Table | None) -> DnsConfig:
        d = DnsConfig()
        if t is None:
            return d
        return DnsConfig(
            listen=t.get("listen", self.listen, default=d.listen),
            workers=t.get("workers", self.integer(1, MAX_WORKERS), default=d.workers),
            max_udp_payload=t.get("max_udp_payload", self.integer(512, 4096),
                                  default=d.max_udp_payload),
            tcp_idle_timeout=t.get("tcp_idle_timeout", self.number(0, 3600),
                                   default=d.tcp_idle_timeout),
            rrl=self.rrl(t.table("rrl", required=False)),
            emulated_clock=t.get("emulated_clock", self.networks, default=d.emulated_clock),
        )

    def rrl(self, t: _Table | None) -> Rrl:
        d = Rrl()
        if t is None:
            return d
        # Ranges as BIND 9 accepts them in rate-limit { ... } (BIND 9 ARM,
        # "Response Rate Limiting"): rates 0..1000 (0 = no limit), slip 0..10,
        # window 1..3600, prefixes 0..32 and 0..128.
        rate = self.integer(0, 1000)

        def opt_rate(key: str) -> int | None:
            return t.get(key, rate, default=None)

        return Rrl(
            enabled=t.get("enabled", self.boolean, default=d.enabled),
            responses_per_second=t.get("responses_per_second", rate, default=d.responses_per_second),
            referrals_per_second=opt_rate("referrals_per_second"),
            nodata_per_second=opt_rate("nodata_per_second"),
            nxdomains_per_second=opt_rate("nxdomains_per_second"),
            errors_per_second=opt_rate("errors_per_second"),
            all_per_second=t.get("all_per_second", rate, default=d.all_per_second),
            slip=t.get("slip", self.integer(0, 10), default=d.slip),
            window=t.get("window", self.integer(1, 3600), default=d.window),
            ipv4_prefix=t.get("ipv4_prefix", self.integer(0, 32), default=d.ipv4_prefix),
            ipv6_prefix=t.get("ipv6_prefix", self.integer(0, 128), default=d.ipv6_prefix),
            exempt=t.get("exempt", self.networks, default=d.exempt),
        )

    def events(self, t: _Table | None) -> Events:
        d = Events()
        if t is None:
            return Events(flush_interval=d.flush_interval, sensor=_hostname())
        flush = t.get("flush_interval", self.number(0, 3600), default=d.flush_interval)
        sensor = t.get("sensor", self.sensor, default=None)
        return Events(
            flush_interval=flush, sensor=sensor if sensor is not None else _hostname(),
            privacy=t.get("privacy", self.choice(PRIVACY_MODES), default=d.privacy),
            privacy_key=t.get("privacy_key", self.resolve, default=None),
        )

    def dga(self, t: _Table) -> DgaSpec:
        from takedown.dga import DgaError, get, load_plugin

        plugin = t.get("plugin", self.existing_file, default=None)
        name = t.get("family", self.string)
        raw = t.get("params", self.param_table, default={})
        try:
            if plugin is not None:
                load_plugin(plugin)
            fam = get(name)
            params = fam.resolve(raw)
        except DgaError as e:
            where = (*t.path, "params") if raw and "parameter" in str(e) else (*t.path, "family")
            raise self.error(where, f"{dotted(t.path)}: {e}") from None
        return DgaSpec(
            family=fam.name, params=tuple(sorted(params.items())),
            days_before=t.get("days_before", self.integer(0, 366), default=3),
            days_after=t.get("days_after", self.integer(0, 366), default=7),
            plugin=plugin,
        )

    def param_table(self, v: Any, where: KeyPath) -> dict:
        if not isinstance(v, dict):
            raise self.error(where, f"{dotted(where)} must be a table of parameters, e.g. {{ seed = 42 }}")
        for k, x in v.items():
            if isinstance(x, bool) or not isinstance(x, (int, str)):
                raise self.error((*where, k), f"{dotted((*where, k))} must be an integer or a string")
        return dict(v)

    def enrich(self, t: _Table | None) -> Enrich:
        if t is None:
            return Enrich()
        return Enrich(
            country_mmdb=t.get("country_mmdb", self.existing_file, default=None),
            asn_mmdb=t.get("asn_mmdb", self.existing_file, default=None),
        )

    def check_overlaps(self, domains: tuple[DomainSet, ...], zones: tuple[ZoneSpec, ...]) -> None:
        """Refuse entries that make the policy ambiguous: the same list file
        twice, the same zone twice. Nested zones and seized names inside
        zones are well defined (the most specific rule wins) and are only
        noted, by summarize()."""
        files: dict[Path, int] = {}
        for i, d in enumerate(domains):
            if d.file in files:
                j = files[d.file]
                raise self.error(("domains", i, "file"),
                                 f"domains[{i}].file is the same file as domains[{j}].file "
                                 f"(line {self.loc.line_of(('domains', j, 'file'))})")
            files[d.file] = i
        origins: dict[str, int] = {}
        for i, z in enumerate(zones):
            if z.origin in origins:
                j = origins[z.origin]
                raise self.error(("zones", i, "origin"),
                                 f"zone {z.origin} is declared twice (also zones[{j}], "
                                 f"line {self.loc.line_of(('zones', j, 'origin'))})")
            origins[z.origin] = i

    # -- value parsers: (value, where) -> result, or raise --------------------

    def integer(self, lo: int, hi: int) -> Callable[[Any, KeyPath], int]:
        def parse(v: Any, where: KeyPath) -> int:
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise self.error(where, f"{dotted(where)} must be an integer between "
                                        f"{lo} and {hi}, not {show(v)}")
            return v
        return parse

    def number(self, lo: float, hi: float) -> Callable[[Any, KeyPath], float]:
        """A number of seconds in (lo, hi]."""
        def parse(v: Any, where: KeyPath) -> float:
            if (isinstance(v, bool) or not isinstance(v, (int, float))
                    or not math.isfinite(v) or not lo < v <= hi):
                raise self.error(where, f"{dotted(where)} must be a number greater than "
                                        f"{lo:g} and at most {hi:g}, not {show(v)}")
            return float(v)
        return parse

    def boolean(self, v: Any, where: KeyPath) -> bool:
        if not isinstance(v, bool):
            raise self.error(where, f"{dotted(where)} must be true or false, not {show(v)}")
        return v

    def string(self, v: Any, where: KeyPath) -> str:
        if not isinstance(v, str):
            raise self.error(where, f"{dotted(where)} must be a string, not {show(v)}")
        return v

    def identifier(self, v: Any, where: KeyPath) -> str:
        s = self.string(v, where)
        if not _IDENT_RE.fullmatch(s):
            raise self.error(where, f"{dotted(where)} must be 1-64 letters, digits, '.', '_' "
                                    f"or '-', starting with a letter or digit, not {show(s)}")
        return s

    def sensor(self, v: Any, where: KeyPath) -> str:
        s = self.string(v, where)
        if not _SENSOR_RE.fullmatch(s):
            raise self.error(where, f"{dotted(where)} must be 1-253 letters, digits, "
                                    f"'.', ':', '_' or '-', not {show(s)}")
        return s

    def strings(self, v: Any, where: KeyPath) -> list[tuple[str, KeyPath]]:
        """A string or an array of strings, each with its own location."""
        if isinstance(v, str):
            return [(v, where)]
        if isinstance(v, list):
            out = []
            for i, item in enumerate(v):
                out.append((self.string(item, where + (i,)), where + (i,)))
            return out
        raise self.error(where, f"{dotted(where)} must be a string or an array of strings, "
                                f"not {show(v)}")

    def addresses(self, version: int | None) -> Callable[[Any, KeyPath], tuple[str, ...]]:
        kind = {4: "IPv4 address", 6: "IPv6 address", None: "IP address"}[version]

        def parse(v: Any, where: KeyPath) -> tuple[str, ...]:
            out: dict[str, KeyPath] = {}
            for s, w in self.strings(v, where):
                try:
                    ip = ipaddress.ip_address(s)
                except ValueError:
                    raise self.error(w, f"{dotted(w)} must be an {kind}, not {show(s)}") from None
                if version is not None and ip.version != version:
                    raise self.error(w, f"{dotted(w)} must be an {kind}, not {show(s)} "
                                        f"(an IPv{ip.version} address)")
                if str(ip) in out:
                    raise self.error(w, f"{dotted(w)}: address {ip} is listed twice")
                out[str(ip)] = w
            return tuple(out)
        return parse

    def dns_name(self, v: Any, where: KeyPath) -> str:
        s = self.string(v, where)
        name = normalize_name(s)
        if name is None:
            raise self.error(where, f"{dotted(where)} must be a DNS name (labels of 1-63 "
                                    f"letters, digits, '-' or '_', at most 253 characters), "
                                    f"not {show(s)}")
        return name

    def zone_origin(self, v: Any, where: KeyPath) -> str:
        name = self.dns_name(v, where)
        if "." not in name:
            raise self.error(where, f"{dotted(where)} must be below a top-level domain, "
                                    f"not {show(v)}")
        return name

    def rname(self, v: Any, where: KeyPath) -> str:
        s = self.string(v, where)
        written = s[:-1] if s.endswith(".") else s
        if "@" in s:
            local, _, domain = s.partition("@")
            raise self.error(where, f"{dotted(where)} must be written as a DNS name (SOA RNAME "
                                    f"form: {local}.{domain} for {s}), not {show(s)}")
        if not is_valid_name(written) or "." not in written:
            raise self.error(where, f"{dotted(where)} must be a DNS name in SOA RNAME form, "
                                    f"e.g. hostmaster.sinkhole.example, not {show(s)}")
        return written

    def nameservers(self, v: Any, where: KeyPath) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(v, dict):
            raise self.error(where, f"{dotted(where)} must be a table of "
                                    f'"ns name" = "address" or ["addresses"], not {show(v)}')
        if not v:
            raise self.error(where, f"{dotted(where)} needs at least one nameserver")
        out: dict[str, tuple[str, ...]] = {}
        for key, addrs in v.items():
            w = where + (key,)
            if isinstance(addrs, dict):
                # `ns1.sinkhole.example = "..."` unquoted is a dotted key: nested tables.
                full, inner = key, addrs
                while isinstance(inner, dict) and len(inner) == 1:
                    sub, inner = next(iter(inner.items()))
                    full += "." + sub
                raise self.error(w, f"{dotted(where)}: quote nameserver names that contain "
                                    f'dots: "{full}" = ...')
            name = normalize_name(key)
            if name is None or "." not in name:
                raise self.error(w, f"{dotted(where)}: {key!r} is not a valid nameserver name")
            if name in out:
                raise self.error(w, f"{dotted(where)}: nameserver {name} is listed twice")
            parsed = self.addresses(None)(addrs, w)
            if not parsed:
                raise self.error(w, f"{dotted(w)} needs at least one address")
            out[name] = parsed
        return tuple(out.items())

    def listen(self, v: Any, where: KeyPath) -> tuple[str, ...]:
        out: dict[str, None] = {}
        items = self.strings(v, where)
        if not items:
            raise self.error(where, f"{dotted(where)} needs at least one HOST:PORT")
        for s, w in items:
            try:
                addr = parse_listen(s)
            except ValueError as e:
                raise self.error(w, f"{dotted(w)}: {e}") from None
            if addr in out:
                raise self.error(w, f"{dotted(w)}: {addr} is listed twice")
            out[addr] = None
        return tuple(out)

    def resolve(self, v: Any, where: KeyPath) -> Path:
        s = self.string(v, where)
        if not s:
            raise self.error(where, f"{dotted(where)} must not be empty")
        return Path(os.path.abspath(self.base / Path(s).expanduser()))

    def existing_file(self, v: Any, where: KeyPath) -> Path:
        p = self.resolve(v, where)
        if not p.exists():
            raise self.error(where, f"{dotted(where)}: file {show(v)} does not exist "
                                    f"(looked for {display_path(p)})")
        if not p.is_file():
            raise self.error(where, f"{dotted(where)}: {display_path(p)} is not a regular file")
        return p

    def storage(self, v: Any, where: KeyPath) -> Path:
        p = self.resolve(v, where)
        if p.exists() and not p.is_dir():
            raise self.error(where, f"{dotted(where)}: {display_path(p)} exists and is not "
                                    f"a directory")
        return p


# The keys each table may hold; anything else is refused (a typo must not be
# silently ignored). Keyed by the table's path with array indices dropped.
_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("operation", "sinkhole", "domains", "zones", "dns", "events", "http", "tls", "tcp",
         "notice", "fingerprints", "enrich", "dga"),
    ("operation",): ("name", "storage"),
    ("sinkhole",): ("ipv4", "ipv6", "ttl", "soa_email", "nameservers"),
    ("domains",): ("family", "file"),
    ("zones",): ("origin", "file", "blocklist", "family"),
    ("dns",): ("listen", "workers", "max_udp_payload", "tcp_idle_timeout", "rrl", "emulated_clock"),
    ("dns", "rrl"): ("enabled", "responses_per_second", "referrals_per_second", "nodata_per_second",
                     "nxdomains_per_second", "errors_per_second", "all_per_second", "slip", "window",
                     "ipv4_prefix", "ipv6_prefix", "exempt"),
    ("events",): ("flush_interval", "sensor", "privacy", "privacy_key"),
    ("enrich",): ("country_mmdb", "asn_mmdb"),
    ("dga",): ("family", "params", "days_before", "days_after", "plugin"),
    **{(k,): ("listen", "response", "trusted_proxies", "emulated_clock", "template", "handshake",
              "capture_bytes", "max_header_bytes", "max_body_bytes", "requests_per_connection", "idle_timeout",
              "request_timeout", "max_connections_per_source") for k in ("http", "tls", "tcp")},
    ("notice",): ("operator", "contact_url", "cert_url", "template_dir"),
    ("fingerprints",): ("rules", "shipped"),
}


class _Table:
    """A TOML table being validated. Unknown keys are refused on creation
    (with a did-you-mean), before any value is looked at, so a misspelt
    key is reported as such and not as the required key it was meant to be."""

    def __init__(self, b: _Builder, path: KeyPath, data: dict[str, Any], keys: tuple[str, ...]):
        self.b = b
        self.path = path
        self.data = data
        for key, value in data.items():
            if key in keys:
                continue
            where = path + (key,)
            hint = difflib.get_close_matches(key, keys, n=1)
            if isinstance(value, dict):
                what = f"table [{dotted(where)}]"
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                what = f"table [[{dotted(where)}]]"
            else:
                what = f"key {dotted(where)}"
            msg = f"unknown {what}"
            if hint:
                msg += f" (did you mean {dotted(path + (hint[0],))}?)"
            else:
                msg += f" (expected one of: {', '.join(keys)})"
            raise b.error(where, msg)

    def get(self, key: str, parse: Callable[[Any, KeyPath], Any], default: Any = _REQUIRED) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise self.b.error(self.path, f"missing required key {dotted(self.path + (key,))}")
            return default
        return parse(self.data[key], self.path + (key,))

    def table(self, key: str, required: bool = True) -> _Table | None:
        where = self.path + (key,)
        if key not in self.data:
            if required:
                raise self.b.error(self.path, f"missing required table [{dotted(where)}]")
            return None
        v = self.data[key]
        if not isinstance(v, dict):
            raise self.b.error(where, f"{dotted(where)} must be a table ([{dotted(where)}]), "
                                      f"not {show(v)}")
        return _Table(self.b, where, v, _KEYS[_schema_key(where)])

    def array_of_tables(self, key: str) -> list[_Table]:
        where = self.path + (key,)
        v = self.data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
            raise self.b.error(where, f"{dotted(where)} must be an array of tables: "
                                      f"write each entry under its own [[{dotted(where)}]]")
        keys = _KEYS[_schema_key(where)]
        return [_Table(self.b, where + (i,), t, keys) for i, t in enumerate(v)]


def _schema_key(path: KeyPath) -> tuple[str, ...]:
    return tuple(p for p in path if isinstance(p, str))


def _hostname() -> str:
    return socket.gethostname() or "localhost"


# --------------------------------------------------------------------------
# Summary (for `takedown check`)


def summarize(op: Operation) -> dict[str, Any]:
    """What the operation sinks and serves, reading every list it names
    (and counting zone names when takedown.dns.zonefile is available).

    Raises OperationError (or ZoneError) if a list or zone file is invalid.
    Returns plain data (str, int, float, bool, None, lists, dicts).
    """
    notes: list[str] = []
    seized: dict[str, str] = {}  # name -> first family
    domains = []
    for d in op.domains:
        names = read_domain_list(d.file)
        for n in names:
            first = seized.setdefault(n, d.family)
            if first != d.family:
                notes.append(f"{n} is seized for both {first} and {d.family}; "
                             f"events name {first}")
        domains.append({"family": d.family, "file": str(d.file), "names": len(names)})
    families: dict[str, int] = {}
    for fam in seized.values():
        families[fam] = families.get(fam, 0) + 1

    count_names = _zone_counter()
    zones = []
    for z in op.zones:
        exact, wild = read_blocklist(z.blocklist, z.origin) if z.blocklist else ((), ())
        zones.append({
            "origin": z.origin,
            "family": z.family,
            "file": str(z.file),
            "names": count_names(z.file, z.origin) if count_names else None,
            "blocklist": str(z.blocklist) if z.blocklist else None,
            "blocked_exact": len(exact),
            "blocked_wildcard": len(wild),
        })
        if z.blocklist is None:
            notes.append(f"zone {z.origin} has no blocklist: every name in it is answered "
                         f"from the original zone (pass-through only)")
    notes.extend(_zone_overlaps(seized, op.zones))
    if not op.domains and not op.zones:
        notes.append("no [[domains]] and no [[zones]]: this operation sinks nothing")
    if not op.dns.rrl.enabled:
        notes.append("response rate limiting is off ([dns.rrl] enabled = false): "
                     "the sinkhole can be abused as a DNS amplifier")
    for lst in (op.http, op.tls, op.tcp):
        if lst is not None and lst.emulated_clock:
            notes.append(f"[{lst.kind}] emulated_clock = true: range mode, trusted peers set the events' time "
                         f"(for rehearsals on loopback only, never a real operation)")
    if op.dns.emulated_clock:
        notes.append(f"[dns] emulated_clock = {', '.join(op.dns.emulated_clock)}: range mode, queries from these "
                     f"networks set their events' time (EDNS option 65423; for rehearsals on loopback only, "
                     f"never a real operation)")

    s = op.sinkhole
    return {
        "name": op.name,
        "path": str(op.path),
        "storage": str(op.storage),
        "sinkhole": {
            "ipv4": list(s.ipv4),
            "ipv6": list(s.ipv6),
            "ttl": s.ttl,
            "soa_email": s.soa_email,
            "nameservers": [{"name": n, "addresses": list(a)} for n, a in s.nameservers],
        },
        "domains": domains,
        "families": families,
        "seized_names": len(seized),
        "zones": zones,
        "dns": {
            "listen": list(op.dns.listen),
            "workers": op.dns.workers,
            "max_udp_payload": op.dns.max_udp_payload,
            "tcp_idle_timeout": op.dns.tcp_idle_timeout,
            "emulated_clock": list(op.dns.emulated_clock),
            "rrl": {
                "enabled": op.dns.rrl.enabled,
                "responses_per_second": op.dns.rrl.responses_per_second,
                "referrals_per_second": op.dns.rrl.referrals_per_second,
                "nodata_per_second": op.dns.rrl.nodata_per_second,
                "nxdomains_per_second": op.dns.rrl.nxdomains_per_second,
                "errors_per_second": op.dns.rrl.errors_per_second,
                "all_per_second": op.dns.rrl.all_per_second,
                "slip": op.dns.rrl.slip,
                "window": op.dns.rrl.window,
                "ipv4_prefix": op.dns.rrl.ipv4_prefix,
                "ipv6_prefix": op.dns.rrl.ipv6_prefix,
                "exempt": list(op.dns.rrl.exempt),
            },
        },
        "events": {"flush_interval": op.events.flush_interval, "sensor": op.events.sensor,
                   "privacy": op.events.privacy},
        "dga": [{"family": g.family, "params": dict(g.params), "days_before": g.days_before,
                 "days_after": g.days_after} for g in op.dga],
        "notes": notes,
    }


def _zone_counter() -> Callable[[Path, str], int] | None:
    """takedown.dns.zonefile.count_names if that module exists (it is built
    separately); None otherwise. Errors inside the module propagate."""
    try:
        from takedown.dns import zonefile  # type: ignore[attr-defined]
    except ModuleNotFoundError as e:
        if e.name in ("takedown.dns", "takedown.dns.zonefile"):
            return None
        raise
    return getattr(zonefile, "count_names", None)


def _zone_overlaps(seized: dict[str, str], zones: tuple[ZoneSpec, ...]) -> list[str]:
    """Notes for seized names at, below or above a zone origin, and nested
    zones. All are allowed: the most specific rule wins (a seized name at or
    below a zone origin is sunk whole; a zone below a seized name answers
    from its own data), as takedown.dns.policy implements it."""
    if not zones or not seized:
        return []
    origins = {z.origin: z for z in zones}
    below: dict[tuple[str, str], list[str]] = {}
    for name, family in seized.items():
        labels = name.split(".")
        for k in range(len(labels) - 1):
            suffix = ".".join(labels[k:])
            if suffix in origins:
                below.setdefault((family, suffix), []).append(name)
                break
    notes = []
    for (family, origin), names in below.items():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        notes.append(f"{len(names)} seized {family} name(s) are at or below zone {origin} "
                     f"({shown}): they are sunk whole, whatever the zone's blocklist says")
    for z in zones:
        labels = z.origin.split(".")
        for k in range(1, len(labels) - 1):
            parent = ".".join(labels[k:])
            if parent in seized:
                notes.append(f"zone {z.origin} is below seized name {parent} "
                             f"({seized[parent]}): names in the zone are answered from "
                             f"the zone, the rest of {parent} is sunk")
            if parent in origins:
                notes.append(f"zone {z.origin} is inside zone {parent}: names at and below "
                             f"{z.origin} are answered from {z.origin}'s file")
    return notes
