"""A DNS Response Policy Zone (RPZ) of the tracked C&C names and addresses.

The zone follows draft-vixie-dnsop-dns-rpz-00 (P. Vixie, V. Schryver, "DNS
Response Policy Zones (RPZ)", 2017), the format BIND 9 ("Response Policy Zone"
in the BIND 9 ARM), Unbound (``rpz:``, since 1.10) and Knot Resolver
(``policy.rpz``) load. A resolver that loads it rewrites the answers for:

- a tracked domain (or a URL's host name): a QNAME trigger at the name and a
  wildcard ``*.name`` for its subdomains (param ``subdomains=no`` leaves the
  wildcard out);
- a tracked IP address (with or without port, or a URL's IP host): an IP
  trigger ``32.4.3.2.1.rpz-ip`` for ``1.2.3.4`` (draft section 4.2; IPv6 as
  ``128.`` and the 16-bit words in reverse order, the longest run of zero
  words, as ``::`` in RFC 5952's form, written ``zz``), so that any answer
  holding the C&C's address is rewritten.

What a trigger is rewritten to follows the indicator's status (the draft's
policy actions, section 3): ``nxdomain`` (``CNAME .``), ``nodata``
(``CNAME *.``), ``local`` (local data: ``A``/``AAAA`` records pointing at the
operation's sinkhole, ``ctx.sinkhole_v4``/``ctx.sinkhole_v6``), ``passthru``
(``CNAME rpz-passthru.``) or ``drop`` (``CNAME rpz-drop.``). By default
``seized`` and ``sinkholed`` names go to the sinkhole when an address is
given (else NXDOMAIN) and every other status gets NXDOMAIN; ``--param
policy.STATUS=ACTION`` changes one. A name that several indicators map to (a
domain and URLs on it, an IP with several ports) appears once, with the policy
of its most advanced status, in the order seized, sinkholed, online, offline,
unknown.

The writer streams: names go through a temporary on-disk SQLite table that
deduplicates them and gives them back sorted, so memory stays bounded
whatever the number of indicators. The SOA serial is ``ctx.serial`` modulo
2^32 (RFC 1982 serial arithmetic: the store increases it on every export, so
each export's serial is greater than the last one's).
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from typing import BinaryIO, Iterable, Iterator

import dns.exception
import dns.name

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._values import host_address, value_of
from takedown.tracker.indicator import STATUSES, Indicator

__all__ = ["FORMAT", "ACTIONS", "policies", "ip_trigger", "write"]

# The draft's policy actions (section 3) as the zone writes them; "local" is
# local data, written per name from the sinkhole addresses.
ACTIONS = {
    "nxdomain": "CNAME .",
    "nodata": "CNAME *.",
    "passthru": "CNAME rpz-passthru.",
    "drop": "CNAME rpz-drop.",
    "local": None,
}

# Precedence when several indicators map to one trigger: the most advanced
# status of the takedown decides.
_RANK = {"unknown": 0, "offline": 1, "online": 2, "sinkholed": 3, "seized": 4}
_BY_RANK = {r: s for s, r in _RANK.items()}
assert set(_RANK) == set(STATUSES)

# Labels the draft gives a meaning right under the policy zone's origin: a
# tracked domain ending in one would be read as another kind of trigger.
_RESERVED = ("rpz-ip", "rpz-nsip", "rpz-nsdname", "rpz-client-ip")

_PLAIN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_PARAMS = "policy.STATUS=nxdomain|nodata|local|passthru|drop, ttl=SECONDS, subdomains=yes|no, ns=NAME"
_BATCH = 5000


def policies(ctx: ExportContext) -> dict[str, str]:
    """The action per status: the defaults, then ``policy.STATUS`` params."""
    local = "local" if (ctx.sinkhole_v4 or ctx.sinkhole_v6) else "nxdomain"
    out = {s: "nxdomain" for s in STATUSES}
    out["seized"] = out["sinkholed"] = local
    for key, value in ctx.params.items():
        if not key.startswith("policy."):
            continue
        status = key[len("policy."):]
        if status not in STATUSES:
            raise TrackerError(f"--param {key}: unknown status {status!r} (one of {', '.join(STATUSES)})")
        if value not in ACTIONS:
            raise TrackerError(f"--param {key}={value}: unknown RPZ action (one of {', '.join(ACTIONS)})")
        if value == "local" and not (ctx.sinkhole_v4 or ctx.sinkhole_v6):
            raise TrackerError(f"--param {key}=local: no sinkhole address to point names at "
                               "(the operation's [sinkhole] addresses)")
        out[status] = value
    return out


def ip_trigger(address: str) -> str:
    """The ``rpz-ip`` owner label sequence (without the ``.rpz-ip``) of one
    address: ``32.4.3.2.1`` for 1.2.3.4, ``128.1.zz.db8.2001`` for
    2001:db8::1 (draft-vixie-dnsop-dns-rpz-00, section 4.2)."""
    return _trigger(str(ipaddress.ip_address(address)))


def _trigger(address: str) -> str:
    """ip_trigger of an address written as ipaddress writes it (compressed),
    without parsing it again: a million-indicator export has one per IP."""
    if ":" not in address:
        return "32." + ".".join(reversed(address.split(".")))
    head, sep, tail = address.partition("::")
    words = head.split(":") if head else []
    if sep:
        words.append("zz")
        words += tail.split(":") if tail else []
    return "128." + ".".join(reversed(words))


def _params(ctx: ExportContext) -> tuple[int, bool, str]:
    known = {"ttl", "subdomains", "ns"}
    for key in ctx.params:
        if key not in known and not key.startswith("policy."):
            raise TrackerError(f"--param {key}: not a parameter of the rpz format ({_PARAMS})")
    ttl_text = ctx.params.get("ttl", "300")
    if not ttl_text.isdigit() or not 0 < int(ttl_text) < 2**31:
        raise TrackerError(f"--param ttl={ttl_text}: not a TTL in seconds (1 to 2147483647)")
    sub = ctx.params.get("subdomains", "yes")
    if sub not in ("yes", "no"):
        raise TrackerError(f"--param subdomains={sub}: yes or no")
    try:
        ns = dns.name.from_text(ctx.params.get("ns", "localhost.")).to_text()
    except dns.exception.DNSException as exc:
        raise TrackerError(f"--param ns: not a domain name ({exc})") from None
    return int(ttl_text), sub == "yes", ns


def _sinkholes(ctx: ExportContext) -> list[tuple[str, str]]:
    out = []
    for rtype, text, version in (("A", ctx.sinkhole_v4, 4), ("AAAA", ctx.sinkhole_v6, 6)):
        if text is None:
            continue
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            addr = None
        if addr is None or addr.version != version:
            raise TrackerError(f"sinkhole address {text!r} is not an IPv{version} address")
        out.append((rtype, str(addr)))
    return out


def _owner_text(name: str) -> str:
    """``name`` as master-file text, escaped (RFC 1035 section 5.1) where a
    label holds anything but letters, digits, hyphen and underscore."""
    if _PLAIN.fullmatch(name):
        return name
    return dns.name.Name(name.split(".")).to_text()


class _Triggers:
    """The zone's triggers, deduplicated and sorted in a temporary SQLite
    database on disk (bounded memory): owner -> most advanced status."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "": a private temporary file, removed on close
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;"
            "CREATE TABLE t (ip INTEGER, owner TEXT, rank INTEGER, PRIMARY KEY (ip, owner)) WITHOUT ROWID;")
        self.pending: list[tuple[int, str, int]] = []

    def add(self, ip: bool, owner: str, status: str) -> None:
        self.pending.append((int(ip), owner, _RANK[status]))
        if len(self.pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        self.db.executemany("INSERT INTO t VALUES (?, ?, ?) ON CONFLICT (ip, owner) "
                            "DO UPDATE SET rank = max(rank, excluded.rank)", self.pending)
        self.pending.clear()

    def sorted(self) -> Iterator[tuple[bool, str, str]]:
        self.flush()
        for ip, owner, rank in self.db.execute("SELECT ip, owner, rank FROM t ORDER BY ip, owner"):
            yield bool(ip), owner, _BY_RANK[rank]

    def close(self) -> None:
        self.db.close()


def _collect(indicators: Iterable[Indicator], triggers: _Triggers, room: int, skipped: list[str]) -> int:
    """Feed each indicator's trigger into ``triggers``; the count taken.
    ``room``: the longest name (wire octets) that fits under the origin."""
    count = 0
    for ind in indicators:
        # A stored value is canonical already: parsing it again (parse_value,
        # ipaddress) was a third of the export's CPU (17 s a million, now 11.4).
        host = value_of(ind.value, ind.kind).host
        ip = host_address(host) if ind.kind != "domain" else None
        if ip is not None:
            triggers.add(True, _trigger(ip), ind.status)
        elif host.rsplit(".", 1)[-1] in _RESERVED:
            skipped.append(f"{host} (its last label is an RPZ trigger label)")
            continue
        elif len(host) + 2 > room:
            skipped.append(f"{host} (too long under the origin)")
            continue
        else:
            triggers.add(False, host, ind.status)
        count += 1
    return count


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    """Write the RPZ zone of ``indicators`` to ``f``; the indicators taken."""
    ttl, subdomains, ns = _params(ctx)
    actions = policies(ctx)
    local = _sinkholes(ctx)
    try:
        origin = dns.name.from_text(ctx.origin)
    except dns.exception.DNSException as exc:
        raise TrackerError(f"RPZ origin {ctx.origin!r}: not a domain name ({exc})") from None
    # The owner "*.NAME.ORIGIN." must fit in 255 octets (RFC 1035 section 3.1).
    room = 255 - len(origin.to_wire()) - (2 if subdomains else 0)
    serial = ctx.serial % 2**32
    origin_text = origin.to_text()
    rdata = {s: ([f"{t} {a}" for t, a in local] if a == "local" else [ACTIONS[a]]) for s, a in actions.items()}

    triggers = _Triggers()
    skipped: list[str] = []
    try:
        count = _collect(indicators, triggers, room, skipped)
        head = [
            f"; {ctx.title}: response policy zone (draft-vixie-dnsop-dns-rpz-00) written by takedown",
            f"; written {ctx.now:%Y-%m-%dT%H:%M:%SZ}, serial {serial}",
            "; policy per status: " + ", ".join(f"{s}={a}" for s, a in actions.items()),
            f"$ORIGIN {origin_text}",
            f"$TTL {ttl}",
            f"@ SOA {ns} hostmaster.{origin_text} {serial} 3600 600 86400 {ttl}",
            f"@ NS {ns}",
        ]
        f.write(("\n".join(head) + "\n").encode())
        lines: list[str] = []
        for ip, owner, status in triggers.sorted():
            text = f"{owner}.rpz-ip" if ip else _owner_text(owner)
            for rr in rdata[status]:
                lines.append(f"{text} {rr}\n")
                if subdomains and not ip:
                    lines.append(f"*.{text} {rr}\n")
            if len(lines) >= _BATCH:
                f.write("".join(lines).encode())
                lines.clear()
        lines += [f"; skipped: {s}\n" for s in skipped]
        f.write("".join(lines).encode())
    finally:
        triggers.close()
    return count


FORMAT = Format(name="rpz", summary="DNS Response Policy Zone (BIND 9, Unbound, Knot Resolver)",
                write=write, suffix=".zone")
