"""The operation file: one TOML file per takedown case, and its validation.

``load_operation`` parses the file with :mod:`tomllib`, then checks every
key: type, range, address and name syntax, unknown keys (a typo must never
be silently ignored) and the files it names. Each key is declared once, on
the model dataclasses below (``key(kind, default, doc=...)``, the schema of
:mod:`takedown.tomlfile`); cross-field checks are the ``_check_*`` functions
run after their table's typed pass. Every error is an
:class:`~takedown.errors.OperationError` whose message reads
``FILE:LINE: what is wrong``, FILE being the path as the user gave it.
tomllib does not report positions of values, so :class:`takedown.tomlfile.Locator`
re-reads the text to find the line of each key.

The format is documented in docs/operation-file.md.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from takedown.errors import OperationError
from takedown.hostport import parse_listen
from takedown.tomlfile import (
    Bool,
    Choice,
    Context,
    Custom,
    Each,
    File,
    Float,
    Int,
    Invalid,
    KeyPath,
    Str,
    Table,
    Tables,
    dotted,
    expand_home,
    first_repeat,
    key,
    load_document,
    parse_toml,
    show,
    strings,
)
from takedown.lists import (
    is_valid_name,
    normalize_name,
    read_blocklist,
    read_domain_list,
)

__all__ = [
    "AUTHORITY_KINDS",
    "Authority",
    "Case",
    "Party",
    "Registry",
    "DnsConfig",
    "DomainSet",
    "Events",
    "Control",
    "Console",
    "Fingerprints",
    "Listener",
    "Notice",
    "RESPONSE_POLICIES",
    "MAX_TTL",
    "MAX_WORKERS",
    "Operation",
    "Rrl",
    "Service",
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
# Value kinds (takedown.tomlfile has the generic ones)

_IDENT_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_SENSOR_RE = r"[A-Za-z0-9_.:-]{1,253}"

#: Family, operation and rule names.
IDENTIFIER = Str(_IDENT_RE, "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
SENSOR = Str(_SENSOR_RE, "1-253 letters, digits, '.', ':', '_' or '-'")
URL = Str(r"(https?://|mailto:)\S+", "an http(s):// or mailto: URL")
#: User and group names as useradd(8) and systemd accept them (no leading digit or '-').
ACCOUNT = Str(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}", "a user or group name (letters, digits, '_', '.', '-'; "
                                                "not starting with a digit or '-')")


def _address(version: int | None) -> Callable[[str, KeyPath], str]:
    kind = {4: "IPv4 address", 6: "IPv6 address", None: "IP address"}[version]

    def parse(s: str, w: KeyPath) -> str:
        try:
            ip = ipaddress.ip_address(s)
        except ValueError:
            raise Invalid(w, f"{dotted(w)} must be an {kind}, not {show(s)}") from None
        if version is not None and ip.version != version:
            raise Invalid(w, f"{dotted(w)} must be an {kind}, not {show(s)} (an IPv{ip.version} address)")
        return str(ip)
    return parse


def addresses(version: int | None) -> Each:
    what = {4: "IPv4 address", 6: "IPv6 address", None: "IP address"}[version]
    return Each(_address(version), f"{what} or array of them", twice="{key}: address {value} is listed twice")


def _network(s: str, w: KeyPath) -> str:
    try:
        return str(ipaddress.ip_network(s, strict=False))
    except ValueError:
        raise Invalid(w, f"{dotted(w)} must be a network like 127.0.0.0/8 or ::1/128, not {show(s)}") from None


#: CIDR networks (a single address is a /32 or /128), normalized: "192.0.2.0/24".
NETWORKS = Each(_network, "network or array of networks (CIDR)")
#: HOST:PORT listen addresses (takedown.hostport), at least one.
LISTEN = Each(lambda s, w: parse_listen(s), "HOST:PORT or array of them",
              twice="{key}: {value} is listed twice", at_least="needs at least one HOST:PORT")


def _one_listen(v: Any, where: KeyPath, ctx: Context) -> str:
    try:
        return parse_listen(Str().parse(v, where, ctx))
    except ValueError as e:
        raise Invalid(where, f"{dotted(where)}: {e}") from None


#: One HOST:PORT listen address (takedown.hostport).
ONE_LISTEN = Custom(_one_listen, "HOST:PORT")


def _dns_name(v: Any, where: KeyPath, ctx: Context) -> str:
    s = Str().parse(v, where, ctx)
    name = normalize_name(s)
    if name is None:
        raise Invalid(where, f"{dotted(where)} must be a DNS name (labels of 1-63 letters, digits, '-' or '_', "
                             f"at most 253 characters), not {show(s)}")
    return name


def _zone_origin(v: Any, where: KeyPath, ctx: Context) -> str:
    name = _dns_name(v, where, ctx)
    if "." not in name:
        raise Invalid(where, f"{dotted(where)} must be below a top-level domain, not {show(v)}")
    return name


def _rname(v: Any, where: KeyPath, ctx: Context) -> str:
    s = Str().parse(v, where, ctx)
    written = s[:-1] if s.endswith(".") else s
    if "@" in s:
        local, _, domain = s.partition("@")
        raise Invalid(where, f"{dotted(where)} must be written as a DNS name (SOA RNAME "
                             f"form: {local}.{domain} for {s}), not {show(s)}")
    if not is_valid_name(written) or "." not in written:
        raise Invalid(where, f"{dotted(where)} must be a DNS name in SOA RNAME form, "
                             f"e.g. hostmaster.sinkhole.example, not {show(s)}")
    return written


def _nameservers(v: Any, where: KeyPath, ctx: Context) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(v, dict):
        raise Invalid(where, f'{dotted(where)} must be a table of "ns name" = "address" or ["addresses"], '
                             f"not {show(v)}")
    if not v:
        raise Invalid(where, f"{dotted(where)} needs at least one nameserver")
    out: dict[str, tuple[str, ...]] = {}
    for key_, addrs in v.items():
        w = where + (key_,)
        if isinstance(addrs, dict):
            # `ns1.sinkhole.example = "..."` unquoted is a dotted key: nested tables.
            full, inner = key_, addrs
            while isinstance(inner, dict) and len(inner) == 1:
                sub, inner = next(iter(inner.items()))
                full += "." + sub
            raise Invalid(w, f'{dotted(where)}: quote nameserver names that contain dots: "{full}" = ...')
        name = normalize_name(key_)
        if name is None or "." not in name:
            raise Invalid(w, f"{dotted(where)}: {key_!r} is not a valid nameserver name")
        if name in out:
            raise Invalid(w, f"{dotted(where)}: nameserver {name} is listed twice")
        parsed = addresses(None).parse(addrs, w, ctx)
        if not parsed:
            raise Invalid(w, f"{dotted(w)} needs at least one address")
        out[name] = parsed
    return tuple(out.items())


def _params(v: Any, where: KeyPath, ctx: Context) -> tuple[tuple[str, Any], ...]:
    if not isinstance(v, dict):
        raise Invalid(where, f"{dotted(where)} must be a table of parameters, e.g. {{ seed = 42 }}")
    for k, x in v.items():
        if isinstance(x, bool) or not isinstance(x, (int, str)):
            raise Invalid((*where, k), f"{dotted((*where, k))} must be an integer or a string")
    return tuple(sorted(v.items()))


DNS_NAME = Custom(_zone_origin, "DNS name")
RNAME = Custom(_rname, "DNS name (SOA RNAME form)")
NAMESERVERS = Custom(_nameservers, "table: name = address or array of addresses")
PARAMS = Custom(_params, "table of integers and strings")
#: A rate limit in responses per second, as BIND 9 bounds it.
RATE = Int(0, 1000)


# --------------------------------------------------------------------------
# Cross-field checks (after the typed pass of their table)


def _check_sinkhole(s: Sinkhole, data: dict, where: KeyPath, ctx: Context) -> Sinkhole:
    if not s.ipv4 and not s.ipv6:
        raise Invalid(where, "sinkhole needs at least one address in ipv4 or ipv6")
    return s


def _check_dga(g: DgaSpec, data: dict, where: KeyPath, ctx: Context) -> DgaSpec:
    """Resolve the family (aliases, an operator's plugin) and its parameters."""
    from takedown.dga import DgaError, get, load_plugin  # lazy: the DGA registry only when an operation has [[dga]]

    try:
        if g.plugin is not None:
            load_plugin(g.plugin)
        fam = get(g.family)
        params = fam.resolve(dict(g.params))
    except DgaError as e:
        at = (*where, "params") if g.params and "parameter" in str(e) else (*where, "family")
        raise Invalid(at, f"{dotted(where)}: {e}") from None
    return replace(g, family=fam.name, params=tuple(sorted(params.items())))


def _check_events(e: Events, data: dict, where: KeyPath, ctx: Context) -> Events:
    return e if e.sensor else replace(e, sensor=_hostname())


def _check_service(s: Service, data: dict, where: KeyPath, ctx: Context) -> Service:
    if s.group is not None and s.user is None:
        raise Invalid(where + ("group",), "service.group needs service.user, the user to run as")
    return s


def _check_listener(lst: Listener, data: dict, where: KeyPath, ctx: Context) -> Listener:
    kind = lst.kind
    if lst.response == "template" and lst.template is None:
        raise Invalid(where + ("response",), f'{kind}.response = "template" needs {kind}.template, '
                                             f"the operator's template file")
    for name, only in (("handshake", "tls"), ("capture_bytes", "tcp")):
        if name in data and kind != only:
            raise Invalid(where + (name,), f"{kind}.{name}: only [{only}] has this key")
    return lst


def _check_operation(op: Operation, data: dict, where: KeyPath, ctx: Context) -> Operation:
    """Refuse entries that make the policy ambiguous: the same list file
    twice, the same zone twice. Nested zones and seized names inside zones
    are well defined (the most specific rule wins) and are only noted, by
    summarize()."""
    twice = first_repeat(d.file for d in op.domains)
    if twice:
        i, j = twice
        raise Invalid(("domains", i, "file"), f"domains[{i}].file is the same file as domains[{j}].file "
                                              f"(line {ctx.line_of(('domains', j, 'file'))})")
    twice = first_repeat(z.origin for z in op.zones)
    if twice:
        i, j = twice
        raise Invalid(("zones", i, "origin"), f"zone {op.zones[i].origin} is declared twice (also zones[{j}], "
                                              f"line {ctx.line_of(('zones', j, 'origin'))})")
    if op.case is not None and not op.case.nameservers:
        op = replace(op, case=replace(op.case, nameservers=tuple(n for n, _ in op.sinkhole.nameservers)))
    return op


def _hostname() -> str:
    return socket.gethostname() or "localhost"


# --------------------------------------------------------------------------
# The model (imported by the DNS server: keep names and fields stable).
# Each TOML key is declared once, here: kind, default, one-line doc
# (docs/operation-file.md documents every one; tests/test_operation_docs.py
# checks that the two agree).


@dataclass(frozen=True)
class Rrl:
    """Response rate limiting, on by default: a sinkhole answering every
    query at full rate is a DNS amplifier. Semantics follow BIND 9's
    ``rate-limit`` (BIND 9 ARM, "Response Rate Limiting"); the ranges are BIND's."""

    enabled: bool = key(Bool(), True, doc="rate limiting on")
    responses_per_second: int = key(RATE, 20, doc="responses-per-second: identical answers per second "
                                                  "to one source prefix; 0 = no limit")
    referrals_per_second: int | None = key(RATE, None, doc="referrals-per-second; none = responses_per_second",
                                           doc_default="`responses_per_second`")
    nodata_per_second: int | None = key(RATE, None, doc="nodata-per-second; none = responses_per_second",
                                        doc_default="`responses_per_second`")
    nxdomains_per_second: int | None = key(RATE, None, doc="nxdomains-per-second; none = responses_per_second",
                                           doc_default="`responses_per_second`")
    errors_per_second: int | None = key(RATE, None, doc="errors-per-second; none = responses_per_second",
                                        doc_default="`responses_per_second`")
    all_per_second: int = key(RATE, 0, doc="all-per-second: every response to one prefix; 0 = off")
    slip: int = key(Int(0, 10), 2, doc="slip: every Nth limited response goes out truncated (TC=1); 0 = never")
    window: int = key(Int(1, 3600), 15, doc="window: seconds of burst credit")
    ipv4_prefix: int = key(Int(0, 32), 24, doc="ipv4-prefix-length: IPv4 sources grouped by this prefix")
    ipv6_prefix: int = key(Int(0, 128), 56, doc="ipv6-prefix-length: IPv6 sources grouped by this prefix")
    exempt: tuple[str, ...] = key(NETWORKS, (), doc="exempt-clients: networks never limited")


@dataclass(frozen=True)
class DnsConfig:
    listen: tuple[str, ...] = key(LISTEN, ("127.0.0.1:5353",), doc="HOST:PORT addresses served, UDP and TCP")
    workers: int = key(Int(1, MAX_WORKERS), 1, doc="worker processes sharing the sockets")
    max_udp_payload: int = key(Int(512, 4096), 1232, doc="EDNS UDP payload size advertised and used as a cap")
    tcp_idle_timeout: float = key(Float(0, 3600), 10.0, doc="seconds before an idle TCP connection is closed")
    rrl: Rrl = key(Table(Rrl), Rrl(), doc="response rate limiting")
    #: range mode only: networks whose queries may stamp their events with the
    #: emulated clock of EDNS option 65423 (takedown.dns.wire.EDNS_TAKEDOWN_CLOCK);
    #: empty = off
    emulated_clock: tuple[str, ...] = key(NETWORKS, (), doc="range mode: networks that may set the events' time",
                                          doc_default="none (off)")


@dataclass(frozen=True)
class Sinkhole:
    ipv4: tuple[str, ...] = key(addresses(4), (), doc="addresses of A answers", model_default=False)
    ipv6: tuple[str, ...] = key(addresses(6), (), doc="addresses of AAAA answers", model_default=False)
    ttl: int = key(Int(0, MAX_TTL), doc="TTL of every sinkhole record")
    #: RNAME form as written, e.g. "hostmaster.sinkhole.example"
    soa_email: str = key(RNAME, doc="the SOA's responsible mailbox, as a DNS name")
    #: (ns name lowercased without trailing dot, its IPv4/IPv6 addresses)
    nameservers: tuple[tuple[str, tuple[str, ...]], ...] = key(NAMESERVERS, doc="the sinkhole's nameservers")


@dataclass(frozen=True)
class DomainSet:
    family: str = key(IDENTIFIER, doc="malware family of the names")
    file: Path = key(File(), doc="the domain-list file")  # absolute


@dataclass(frozen=True)
class DgaSpec:
    """``[[dga]]``: a DGA family whose names the DNS server sinks as they come due."""

    family: str = key(Str(), doc="a family or alias (takedown dga list)")  # registered name, aliases resolved
    params: tuple[tuple[str, Any], ...] = key(PARAMS, (), doc="its parameters", doc_default="the family's defaults")
    days_before: int = key(Int(0, 366), 3, doc="sink a name this many days before its period starts")
    days_after: int = key(Int(0, 366), 7, doc="and keep it this many days after its period ends")
    #: an operator's own family (a Python file defining FAMILY)
    plugin: Path | None = key(File(), None, doc="an operator's own family, a Python file defining FAMILY")


@dataclass(frozen=True)
class ZoneSpec:
    origin: str = key(DNS_NAME, doc="the zone's origin")  # lowercased, no trailing dot
    file: Path = key(File(), doc="the original zone, RFC 1035 master file")  # absolute
    blocklist: Path | None = key(File(), None, doc="the names to sink", model_default=False)
    family: str = key(IDENTIFIER, doc="family recorded for sunk names")


def _compact_after(v, where, ctx):
    if v is False:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 30 * 86400:
        raise Invalid(where, f"{dotted(where)} must be a number of seconds between 0 and 2592000 (30 days), "
                             f"or false, not {show(v)}")
    return float(v)


COMPACT_AFTER = Custom(_compact_after, "seconds, 0-2592000, or false")

#: URL schemes a source may use (read by the engine's own file systems).
SOURCE_SCHEMES = ("s3", "s3a", "gs", "hdfs")


def _event_sources(v: Any, where: KeyPath, ctx: Context) -> tuple[str, ...]:
    # strings, not Paths: a glob and a URL stay as written (only made absolute);
    # whether they name storages is checked when read, as sensors may sync later;
    # repeats are kept so that sources[i] in messages is the file's i-th entry
    out: list[str] = []
    for s, w in strings(v, where):
        if not s:
            raise Invalid(w, f"{dotted(w)} must not be empty")
        scheme, sep, _ = s.partition("://")
        if sep and scheme not in SOURCE_SCHEMES:
            raise Invalid(w, f"{dotted(w)}: {show(s)}: unknown URL scheme {scheme!r} "
                             f"(a local path or glob, or {', '.join(x + '://' for x in SOURCE_SCHEMES)})")
        if not sep:
            try:
                s = os.path.abspath(ctx.base / expand_home(s))
            except ValueError as e:
                raise Invalid(w, f"{dotted(w)}: {show(s)}: {e}") from None
        out.append(s)
    return tuple(out)

#: Ways of storing source addresses.
PRIVACY_MODES = ("clear", "truncate", "hash")


@dataclass(frozen=True)
class Events:
    flush_interval: float = key(Float(0, 3600), 1.0, doc="seconds between writes of each worker's events")
    #: load_operation fills in the hostname when not given
    sensor: str = key(SENSOR, "", doc="name of this sensor in events", doc_default="the host name")
    #: How source addresses are stored (docs/privacy.md): "clear"; "truncate"
    #: (/24, /48, plus a keyed hash and the country/AS looked up at write
    #: time); "hash" (no address, only the keyed hash, country and AS).
    privacy: str = key(Choice(PRIVACY_MODES), "clear", doc="how source addresses are stored")
    #: The secret key of the keyed hash (a file of at least 32 bytes);
    #: default: {storage}/privacy.key, created on first use.
    privacy_key: Path | None = key(File(None), None, doc="the key of the keyed hash",
                                   doc_default="`{storage}/privacy.key`")
    #: `takedown serve` compacts each UTC day this many seconds after it
    #: ended and after its last segment was written (takedown.store.compact);
    #: false: never (`takedown events compact` still does).
    compact_after: float | None = key(COMPACT_AFTER, 3600.0,
                                      doc="seconds after a UTC day ends before serve compacts it; false: never")
    #: Other sensors' storages read together with this one by report,
    #: notify, events sql/count/export and the console (docs/events.md,
    #: "Many sensors, one dataset"); checked and globs expanded when read.
    sources: tuple[str, ...] = key(Custom(_event_sources, "path, glob or URL, or an array of them"), (),
                                   doc="other sensors' storages (paths, globs, s3:// or hdfs:// URLs) read with this one")


@dataclass(frozen=True)
class Service:
    """``[service]``: who ``takedown serve`` runs as once its listeners are bound
    (docs/deploy.md). Started as root, it binds (ports below 1024 included),
    then drops to ``user``/``group`` before any packet is read; it refuses to
    stay root unless ``allow_root``."""

    user: str | None = key(ACCOUNT, None, doc="the user to run as after binding, when started as root")
    group: str | None = key(ACCOUNT, None, doc="the group to run as", doc_default="the user's primary group")
    allow_root: bool = key(Bool(), False, doc="started as root without user: keep running as root")


@dataclass(frozen=True)
class Enrich:
    """``[enrich]``: the operator's MaxMind GeoLite2/GeoIP2 (or compatible)
    databases; without them the data shipped with the package is used."""

    country_mmdb: Path | None = key(File(), None, doc="a Country (or City) database")
    asn_mmdb: Path | None = key(File(), None, doc="an ASN database")


#: How the HTTP sinkhole answers a check-in (docs/notice.md).
RESPONSE_POLICIES = ("silent", "empty", "notfound", "notice", "template")


@dataclass(frozen=True)
class Listener:
    """One network sinkhole section: ``[http]``, ``[tls]`` or ``[tcp]``.

    Limits protect the sinkhole, which every scanner on the Internet probes:
    header and body caps, requests per connection, idle and slow-request
    timeouts, concurrent connections per source address.
    """

    kind: str  # "http", "tls" or "tcp" (the table's name, not a key)
    listen: tuple[str, ...] = key(LISTEN, doc="HOST:PORT addresses")
    response: str = key(Choice(RESPONSE_POLICIES), "notice", doc="what an HTTP check-in gets")
    trusted_proxies: tuple[str, ...] = key(NETWORKS, (), doc="peers allowed to send PROXY protocol headers",
                                           doc_default="none")
    #: range mode only: stamp a connection's events with the emulated time a trusted
    #: PROXY v2 header carries (TLV 0xE0, takedown.net.proxy.TLV_TAKEDOWN_CLOCK)
    emulated_clock: bool = key(Bool(), False, doc="range mode: trusted peers set the events' time")
    template: Path | None = key(File(), None, doc="the operator's template, for response = \"template\"")
    handshake: bool = key(Bool(), False, doc="[tls] only: finish the handshake and read the HTTP inside")
    capture_bytes: int = key(Int(0, 65536), 256, doc="[tcp] only: first bytes kept per connection")
    max_header_bytes: int = key(Int(256, 1 << 20), 8192, doc="cap on request line and headers")
    max_body_bytes: int = key(Int(0, 1 << 30), 1_048_576, doc="cap on a request body")
    requests_per_connection: int = key(Int(1, 1 << 30), 1000, doc="keep-alive requests per connection")
    idle_timeout: float = key(Float(0, 86400), 30.0, doc="seconds before an idle connection is closed")
    request_timeout: float = key(Float(0, 3600), 10.0, doc="seconds a request may take to arrive")
    max_connections_per_source: int = key(Int(1, 1 << 20), 256, doc="concurrent connections from one address")


@dataclass(frozen=True)
class Notice:
    """Who the notice page for infected users names, and where its templates are."""

    operator: str = key(Str(), "the operator of this sinkhole", doc="who the notice page says runs the sinkhole")
    contact_url: str | None = key(URL, None, doc="where infected users get help")
    cert_url: str | None = key(URL, None, doc="the national CERT to point to")
    #: operator copies of notice.<lang>.html.j2
    template_dir: Path | None = key(File("dir"), None, doc="the operator's notice templates")


@dataclass(frozen=True)
class Fingerprints:
    #: the operator's rules file, matched before the shipped ones
    rules: Path | None = key(File(), None, doc="the operator's fingerprint rules")
    shipped: bool = key(Bool(), True, doc="also match takedown's shipped rules")


@dataclass(frozen=True)
class Control:
    """``[control]``: the control listener of ``takedown serve`` (docs/metrics.md):
    Prometheus ``/metrics`` and ``/healthz``, served by the parent process."""

    listen: str = key(ONE_LISTEN, "127.0.0.1:9053", doc="HOST:PORT of /metrics and /healthz")
    health_timeout: float = key(Float(0, 60), 1.0, doc="seconds a worker has to answer a /healthz check")


@dataclass(frozen=True)
class Console:
    """``[console]``: the web console and partner portal (docs/console.md),
    run by ``takedown console FILE`` or, with this section, by ``takedown
    serve`` as one more listener."""

    listen: str = key(ONE_LISTEN, "127.0.0.1:9080", doc="HOST:PORT of the console")
    certificate: Path | None = key(File(), None, doc="PEM certificate chain: serve the console over TLS")
    private_key: Path | None = key(File(), None, doc="PEM private key of the certificate")
    #: behind a TLS-terminating proxy (nginx) the console itself speaks plain
    #: HTTP but its cookies must still be Secure
    secure_cookies: bool | None = key(Bool(), None, doc="mark cookies Secure", doc_default="true with TLS")
    secret_file: Path | None = key(File(None), None,
                                   doc="the key that signs cookies and derives API secrets",
                                   doc_default="console.secret in the storage directory")
    session_hours: float = key(Float(0.05, 24 * 30), 12.0, doc="hours a session lasts without activity")
    login_attempts: int = key(Int(1, 1000), 5, doc="failed logins of one user before it is locked")
    lockout_minutes: float = key(Float(0, 24 * 60), 15.0, doc="minutes a locked user stays locked")
    api_window: int = key(Int(5, 3600), 300, doc="seconds an API request's timestamp may be off")


def _check_console(c: Console, data: dict, where: KeyPath, ctx: Context) -> Console:
    if (c.certificate is None) != (c.private_key is None):
        missing = "private_key" if c.private_key is None else "certificate"
        raise Invalid(where, f"{dotted(where)}: certificate and private_key go together ({missing} is missing)")
    return c


def _database_url(v: Any, where: KeyPath, ctx: Context) -> str:
    """A SQLite path is made absolute against the operation file's directory,
    like every other path of the file; the password of a PostgreSQL URL
    belongs in ~/.pgpass or PGPASSWORD rather than in a reviewed file."""
    s = Str().parse(v, where, ctx).strip()
    if not s:
        return ""
    scheme, sep, rest = s.partition("://")
    if not sep or scheme not in ("sqlite", "postgresql", "postgres", "postgresql+psycopg"):
        raise Invalid(where, f"{dotted(where)} must be sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE, "
                             f"not {show(v)}")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise Invalid(where, f"{dotted(where)}: a SQLite URL is sqlite:///PATH (three slashes), not {show(v)}")
        try:
            return f"sqlite:///{os.path.abspath(ctx.base / expand_home(rest[1:]))}"
        except ValueError as e:
            raise Invalid(where, f"{dotted(where)}: {show(v)}: {e}") from None
    return s


DB_URL = Custom(_database_url, "database URL")


@dataclass(frozen=True)
class Database:
    """``[database]``: the tracker's relational store (docs/tracker.md, "The
    store"): SQLite, embedded, by default; PostgreSQL when several hosts
    share it or it grows large."""

    url: str = key(DB_URL, "", doc="sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE",
                   doc_default="SQLite, tracker.sqlite in the storage directory")


def _check_authority(a: Authority, data: dict, where: KeyPath, ctx: Context) -> Authority:
    if a.valid_until is not None and a.valid_until <= a.valid_from:
        raise Invalid(where + ("valid_until",), f"{dotted(where)}: valid_until {a.valid_until:%Y-%m-%dT%H:%M:%SZ} "
                                                f"is not after valid_from {a.valid_from:%Y-%m-%dT%H:%M:%SZ}")
    scoped = [k for k in ("families", "lists", "names") if k in data]
    if a.kind == "command":
        for k in ("command", "family"):
            if getattr(a, k) is None:
                raise Invalid(where, f'{dotted(where)}: kind = "command" needs {k}')
        if scoped:
            raise Invalid(where + (scoped[0],), f"{dotted(where)}.{scoped[0]}: a command authority's scope is "
                                                f"its family (and command), not names")
        return a
    for k in ("command", "family"):
        if k in data:
            raise Invalid(where + (k,), f'{dotted(where)}.{k}: only kind = "command" has this key')
    if not (a.families or a.lists or a.names):
        raise Invalid(where, f"{dotted(where)}: a {a.kind} authority needs a scope: families, lists or names")
    return a


def _check_case(c: Case, data: dict, where: KeyPath, ctx: Context) -> Case:
    for table, field, what in (("authorities", "id", "authority"), ("registries", "tld", "registry for")):
        entries = getattr(c, table)
        twice = first_repeat(getattr(e, field) for e in entries)
        if twice:
            i, j = twice
            w = where + (table, i, field)
            raise Invalid(w, f"{dotted(w)}: {what} {getattr(entries[i], field)} is declared twice "
                             f"(also line {ctx.line_of(where + (table, j, field))})")
    return c


# --------------------------------------------------------------------------
# [case]: the court case the operation carries out (docs/case.md). ICANN's
# "Guidance for Preparing Domain Name Orders, Seizures & Takedowns" (2012)
# lists what registries need from an order: court, case number, the order,
# the names and who to contact; the authorities say what the order allows,
# over which names or families, from when until when.

#: What an authority allows: sinking named domains, notifying users,
#: answering a family's bots with a named command (Coreflood's "stop").
AUTHORITY_KINDS = ("sink", "notify", "command")


def _utc(v: Any, where: KeyPath, ctx: Context) -> datetime:
    """A TOML offset date-time, as UTC: a court's deadline must not depend
    on the sinkhole's time zone, so a date-time without offset is refused."""
    if not isinstance(v, datetime):
        raise Invalid(where, f"{dotted(where)} must be a date-time with its offset, e.g. 2026-11-01T00:00:00Z, "
                             f"not {show(v)}")
    if v.tzinfo is None:
        raise Invalid(where, f"{dotted(where)}: {v.isoformat()} has no offset; write it in UTC, "
                             f"e.g. {v.isoformat()}Z")
    return v.astimezone(timezone.utc)


def _day(v: Any, where: KeyPath, ctx: Context) -> date:
    if not isinstance(v, date) or isinstance(v, datetime):
        raise Invalid(where, f"{dotted(where)} must be a date like 2026-10-05, not {show(v)}")
    return v


def _list_files(v: Any, where: KeyPath, ctx: Context) -> tuple[Path, ...]:
    return tuple(File().parse(s, w, ctx) for s, w in strings(v, where))


def _evidence_paths(v: Any, where: KeyPath, ctx: Context) -> tuple[Path, ...]:
    # paths, not files: the reports and exports they name are written after the operation is loaded
    return tuple(File(None).parse(s, w, ctx) for s, w in strings(v, where))


def _seized_name(s: str, where: KeyPath) -> str:
    name = normalize_name(s)
    if name is None or "." not in name:
        raise Invalid(where, f"{dotted(where)} must be a DNS name below a top-level domain, not {show(s)}")
    return name


def _tld(v: Any, where: KeyPath, ctx: Context) -> str:
    s = Str().parse(v, where, ctx)
    name = normalize_name(s.lstrip("."))
    if name is None:
        raise Invalid(where, f"{dotted(where)} must be a top-level domain or public suffix like com or co.uk, "
                             f"not {show(s)}")
    return name


#: The RDAP spellings of EPP's statuses (RFC 8056 section 2, mapping RFC
#: 5731's domain statuses and RFC 3915's grace periods): what a registry's
#: RDAP record may show, and so what ``case verify`` may expect.
RDAP_STATUSES = (
    "active", "inactive", "associated", "add period", "auto renew period", "renew period", "transfer period",
    "redemption period", "pending create", "pending delete", "pending renew", "pending restore",
    "pending transfer", "pending update", "client delete prohibited", "client hold", "client renew prohibited",
    "client transfer prohibited", "client update prohibited", "server delete prohibited", "server hold",
    "server renew prohibited", "server transfer prohibited", "server update prohibited",
)


def _epp(status: str) -> str:
    first, *rest = status.split()
    return first + "".join(w.title() for w in rest)


_EPP_SPELLING = {_epp(s): s for s in RDAP_STATUSES} | {"ok": "active", "linked": "associated"}


def rdap_status(text: str, where: KeyPath = ()) -> str:
    """An RDAP status value (case ignored), or ValueError naming EPP's
    spelling's RDAP form (serverHold is "server hold")."""
    s = " ".join(text.split()).lower()
    if s in RDAP_STATUSES:
        return s
    hint = _EPP_SPELLING.get(text.strip())
    if hint is not None:
        raise ValueError(f'{text!r} is EPP\'s spelling; RDAP writes "{hint}" (RFC 8056 section 2)')
    raise ValueError(f"{text!r} is not an RDAP status (RFC 8056 section 2: " + ", ".join(RDAP_STATUSES) + ")")


UTC_TIME = Custom(_utc, "date-time (UTC)")
RDAP_STATUS_LIST = Each(rdap_status, "RDAP status or array of them", twice="{key}: {value} is listed twice",
                        at_least="must name at least one RDAP status")
DATE = Custom(_day, "date")
LIST_FILES = Custom(_list_files, "domain-list file or array of them")
EVIDENCE_PATHS = Custom(_evidence_paths, "path or array of paths")
SEIZED_NAMES = Each(_seized_name, "DNS name or array of them", twice="{key}: {value} is listed twice")
FAMILIES = Each(lambda s, w: IDENTIFIER.parse(s, w, Context()), "family or array of families",
                twice="{key}: {value} is listed twice")
NS_NAMES = Each(_seized_name, "DNS name or array of them", twice="{key}: {value} is listed twice")
TEXT = Str(nonempty=True)
TSA_URL = Str(r"https?://\S+", "an http:// or https:// URL")


@dataclass(frozen=True)
class Party:
    role: str = key(TEXT, doc="plaintiff, defendant, intervenor, ...")
    name: str = key(TEXT, doc="as the order names it (e.g. John Does 1-27)")
    contact: str | None = key(TEXT, None, doc="address, e-mail or counsel")


@dataclass(frozen=True)
class Authority:
    """``[[case.authorities]]``: one thing the order allows, over a scope, for a time."""

    id: str = key(IDENTIFIER, doc="how events and checks name this authority")
    kind: str = key(Choice(AUTHORITY_KINDS), doc="what it allows: sink named domains, notify users, send a command")
    valid_from: datetime = key(UTC_TIME, doc="when the authority starts")
    families: tuple[str, ...] = key(FAMILIES, (), doc="scope: every name of these families")
    lists: tuple[Path, ...] = key(LIST_FILES, (), doc="scope: every name of these domain-list files")
    names: tuple[str, ...] = key(SEIZED_NAMES, (), doc="scope: these names (and the names below them)")
    command: str | None = key(IDENTIFIER, None, doc="kind command: the command's name (e.g. stop)")
    family: str | None = key(IDENTIFIER, None, doc="kind command: the family it is sent to")
    valid_until: datetime | None = key(UTC_TIME, None, doc="when it ends; none = until further order")

    def valid_at(self, t: datetime) -> bool:
        return self.valid_from <= t and (self.valid_until is None or t < self.valid_until)


@dataclass(frozen=True)
class Registry:
    tld: str = key(Custom(_tld, "top-level domain"), doc="the TLD (or public suffix) the registry runs")
    name: str = key(TEXT, doc="the registry operator (e.g. VeriSign)")
    contact: str = key(TEXT, doc="where the order is served")
    rdap_status: tuple[str, ...] = key(RDAP_STATUS_LIST, (), doc="RDAP statuses this registry's names must show "
                                       "(RFC 8056)", doc_default="[case] rdap_status")
    registrar: str | None = key(TEXT, None, doc="the registrar this registry's names must be with (vCard fn or "
                                "IANA Registrar ID)", doc_default="[case] registrar")


@dataclass(frozen=True)
class Case:
    """``[case]``: the order the operation carries out."""

    court: str = key(TEXT, doc="the court that issued the order")
    case_number: str = key(TEXT, doc="the case number as the court writes it")
    order_type: str = key(TEXT, doc="temporary restraining order, preliminary injunction, seizure warrant, ...")
    order_date: date = key(DATE, doc="the date of the order")
    parties: tuple[Party, ...] = key(Tables(Party), (), doc="plaintiffs, defendants", model_default=False)
    authorities: tuple[Authority, ...] = key(Tables(Authority, check=_check_authority), (),
                                             doc="what the order allows", model_default=False)
    registries: tuple[Registry, ...] = key(Tables(Registry), (), doc="the registries' contacts",
                                           model_default=False)
    #: empty: load_operation fills in the sinkhole's nameservers
    nameservers: tuple[str, ...] = key(NS_NAMES, (), doc="nameservers the seized names must be delegated to",
                                       doc_default="the sinkhole's nameservers")
    seal: bool = key(Bool(), False, doc="takedown serve seals each closed day into the evidence chain")
    evidence: tuple[Path, ...] = key(EVIDENCE_PATHS, (), doc="files and directories outside the storage (reports, "
                                     "the appendix, exports) sealed with it by evidence seal and serve; "
                                     "relative to the operation file, left out while absent")
    tsa: str | None = key(TSA_URL, None, doc="RFC 3161 time-stamp authority serve's sealing asks to time-stamp "
                                             "the chain head")
    rdap_status: tuple[str, ...] = key(RDAP_STATUS_LIST, ("server transfer prohibited",),
                                       doc="RDAP statuses every seized name must show (RFC 8056), unless its "
                                           "registry says otherwise")
    registrar: str | None = key(TEXT, None, doc="the registrar every seized name must be with (vCard fn or IANA "
                                "Registrar ID), unless its registry says otherwise", doc_default="not checked")

    def registry_for(self, name: str) -> Registry | None:
        """The ``[[case.registries]]`` entry of a seized name: the one whose
        ``tld`` is the longest suffix of it (``co.uk`` before ``uk``)."""
        by_tld = {r.tld: r for r in self.registries}
        labels = name.split(".")
        return next((by_tld[s] for s in (".".join(labels[i:]) for i in range(1, len(labels))) if s in by_tld), None)


def _listener(kind: str) -> Table:
    return Table(Listener, fixed={"kind": kind}, check=_check_listener)


@dataclass(frozen=True)
class Operation:
    path: Path  # the operation file, absolute (not a key)
    name: str = key(IDENTIFIER, section="operation", doc="name of the operation, recorded in every event")
    storage: Path = key(File("dir-or-absent"), section="operation", doc="directory of the event dataset")
    sinkhole: Sinkhole = key(Table(Sinkhole, check=_check_sinkhole), doc="how seized names are answered")
    domains: tuple[DomainSet, ...] = key(Tables(DomainSet), (), doc="seized domain lists", model_default=False)
    zones: tuple[ZoneSpec, ...] = key(Tables(ZoneSpec), (), doc="zones taken over whole", model_default=False)
    dns: DnsConfig = key(Table(DnsConfig), DnsConfig(), doc="the DNS sensor", model_default=False)
    events: Events = key(Table(Events, check=_check_events), Events(), doc="the event store",
                         model_default=False)
    http: Listener | None = key(_listener("http"), None, doc="HTTP sinkhole")
    tls: Listener | None = key(_listener("tls"), None, doc="TLS sinkhole")
    tcp: Listener | None = key(_listener("tcp"), None, doc="raw TCP sinkhole")
    notice: Notice = key(Table(Notice), Notice(), doc="the notice page")
    fingerprints: Fingerprints = key(Table(Fingerprints), Fingerprints(), doc="fingerprint rules")
    enrich: Enrich = key(Table(Enrich), Enrich(), doc="country and AS databases")
    control: Control | None = key(Table(Control), None, doc="the control listener: /metrics, /healthz")
    dga: tuple[DgaSpec, ...] = key(Tables(DgaSpec, check=_check_dga), (), doc="DGA families sunk as names come due")
    service: Service = key(Table(Service, check=_check_service), Service(), doc="the user takedown serve runs as")
    database: Database = key(Table(Database), Database(), doc="the tracker's database")
    console: Console | None = key(Table(Console, check=_check_console), None,
                                  doc="the web console and partner portal")
    case: Case | None = key(Table(Case, check=_check_case), None, doc="the court case (docs/case.md)")


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
    doc = parse_toml(display, text, OperationError)
    absolute = Path(os.path.abspath(path))
    return load_document(Operation, doc, display, text, OperationError, base=absolute.parent,
                         fixed={"path": absolute}, check=_check_operation)


def parse_workers(value: int) -> int:
    """``value`` if it is a valid worker count, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ValueError(f"must be an integer between 1 and {MAX_WORKERS}, not {show(value)}")
    return value

# --------------------------------------------------------------------------
# Summary (for `takedown check`)


def summarize(op: Operation, count_names: Callable[[Path, str], int] | None = None) -> dict[str, Any]:
    """What the operation sinks and serves, reading every list it names
    (and counting each zone's names with ``count_names(file, origin)`` when
    given: takedown.dns.zonefile.count_names, passed in by the caller so
    that the model does not import the DNS code).

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
    control_host = op.control.listen.rpartition(":")[0].strip("[]") if op.control is not None else None
    if control_host is not None and not ipaddress.ip_address(control_host).is_loopback:
        notes.append(f"[control] listen = {op.control.listen}: /metrics and /healthz answer anyone who can reach "
                     f"that address, without authentication")
    if op.service.allow_root:
        notes.append("[service] allow_root = true: started as root, takedown serve keeps running as root "
                     "(for rehearsals on loopback, never a sinkhole on the Internet)")
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
            "rrl": {f.name: (list(v) if isinstance(v, tuple) else v)
                    for f in fields(Rrl) for v in [getattr(op.dns.rrl, f.name)]},
        },
        "events": {"flush_interval": op.events.flush_interval, "sensor": op.events.sensor,
                   "privacy": op.events.privacy, "sources": list(op.events.sources)},
        "dga": [{"family": g.family, "params": dict(g.params), "days_before": g.days_before,
                 "days_after": g.days_after} for g in op.dga],
        "notes": notes,
    }


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
