"""A loopback parent: fake top-level-domain zones that delegate seized names,
served by takedown's own DNS code, so that ``takedown case verify --dns``
can be shown (in the demo) without asking the real registries.

A registry acts on a seizure order by changing the name's delegation in its
TLD zone: the NS records of ``evil.com`` in ``com`` then name the sinkhole's
nameservers (Waledac, 2010: VeriSign redirected 273 .com names). Here each
TLD is an RFC 1035 master file written by :func:`zone_text` and loaded as a
:class:`takedown.dns.zone.Zone`, which answers a question for a name below a
zone cut with a referral (NS in authority, AA clear; RFC 1034 4.3.2 step 3b),
as the TLD's servers do; other names get NXDOMAIN, and names outside every
TLD zone are refused (not ours to answer). The server is the sinkhole's own
:class:`takedown.dns.responder.Responder` in a :class:`takedown.dns.server.DnsShell`,
on one UDP and TCP port of 127.0.0.1 the kernel picks, run by an event loop
in a thread of the calling process (it is up in milliseconds, and gone with it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from takedown.dns import wire
from takedown.dns.policy import Decision
from takedown.dns.server import DnsShell
from takedown.dns.zone import Result, Zone
from takedown.hostport import join
from takedown.serve import Slot, bind_slot
from takedown.store.dnsbuffer import DnsBuffer

__all__ = ["LoopbackParent", "zone_text"]

_REFUSED = Decision(Result(wire.REFUSED, False, ede=wire.EDE_NOT_AUTHORITATIVE), "none", None)


def zone_text(tld: str, delegations: Mapping[str, Iterable[str]], *, serial: int = 1) -> str:
    """The master file of a fake ``tld`` zone delegating each name of
    ``delegations`` (names below ``tld``) to its nameservers. The apex's own
    nameserver is a made-up name under ``.example`` (RFC 2606), never a real
    TLD server's."""
    lines = [f"$ORIGIN {tld}.", "$TTL 172800",
             f"@ IN SOA ns1.{tld}-registry.example. hostmaster.{tld}-registry.example. "
             f"{serial} 1800 900 604800 86400",
             f"@ IN NS ns1.{tld}-registry.example."]
    for name in sorted(delegations):
        if not name.endswith("." + tld):
            raise ValueError(f"{name} is not below .{tld}")
        lines += [f"{name}. IN NS {ns.rstrip('.')}." for ns in delegations[name]]
    return "\n".join(lines) + "\n"


class _Tlds:
    """The parent's policy: the zone of the TLD a question is under (the
    responder asks :meth:`decide` and :meth:`limit_name` only)."""

    def __init__(self, zones: Iterable[Zone]):
        self.zones = {z.origin: z for z in zones}

    def _zone(self, qn: bytes) -> Zone | None:
        n = qn
        while n != b"\x00":
            z = self.zones.get(n)
            if z is not None:
                return z
            n = n[n[0] + 1:]
        return None

    def decide(self, qn: bytes, qtype: int, any_class: bool = False) -> Decision:
        z = self._zone(qn)
        if z is None:
            return _REFUSED
        return Decision(z.lookup(qn, qtype, any_class), f"parent:{z.origin_text}", None)

    def limit_name(self, qn: bytes) -> bytes:
        return qn  # rate limiting is off: nothing to group answers under


class LoopbackParent:
    """The fake TLD zones ``files`` ({tld: master file}) served on 127.0.0.1;
    a context manager (``with LoopbackParent(files) as p: ... p.address``)."""

    def __init__(self, files: Mapping[str, Path], host: str = "127.0.0.1"):
        self.policy = _Tlds(Zone.load(path, tld) for tld, path in files.items())
        self.host = host
        self.slot: Slot | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shell: DnsShell | None = None
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.slot is not None, "the parent is not started"
        return self.slot.dns[0][1]

    @property
    def address(self) -> str:
        """``HOST:PORT``, as ``takedown case verify --parent`` takes it."""
        return join(self.host, self.port)

    def start(self) -> LoopbackParent:
        from takedown.dns.responder import Responder

        self.slot = bind_slot([(self.host, 0)], [])
        self.loop = asyncio.new_event_loop()
        # the events go to a buffer nobody writes out: the parent is scenery, not evidence
        self.shell = DnsShell(Responder(self.policy, DnsBuffer()), tcp_idle=10.0, say=lambda _msg: None)
        try:
            self.loop.run_until_complete(self.shell.start(self.loop, self.slot.dns))
        except BaseException:
            self.close()
            raise
        self.thread = threading.Thread(target=self.loop.run_forever, name="loopback-parent", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        if self.loop is None:
            return
        if self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.thread = None
        if self.shell is not None:
            self.loop.run_until_complete(self.shell.close())
        self.loop.close()
        self.loop = None
        if self.slot is not None:
            self.slot.close()

    def __enter__(self) -> LoopbackParent:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
