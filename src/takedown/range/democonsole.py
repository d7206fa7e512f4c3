"""The demo's console (``make run``): the web console on loopback, on the
demo's data, with one operator and two partners' users.

The partners are the two networks (AS numbers) the most emulated bots come
from, named after them, each with its AS claim approved, so each partner's
user sees part of the demo's bots and not the other's. The second partner
also asks for one more prefix (a /16 holding bots of a third network),
left pending for the operator to approve in the browser (docs/console.md).
Every account gets a one-time password, shown once; the first login asks
for a new one.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass

import numpy as np

from takedown.console import context as console_context
from takedown.console import server as console_server
from takedown.console.context import ConsoleContext
from takedown.enrich.choice import for_operation
from takedown.errors import ConsoleError
from takedown.operation import Operation
from takedown.range.population import Population, ip_strings

__all__ = ["Account", "DemoConsole", "open_console", "PORT"]

#: The console's usual port; another free one when it is taken.
PORT = 9080
ACTOR = "takedown demo"


@dataclass(frozen=True)
class Account:
    username: str
    password: str  # one-time: changed at the first login
    role: str
    partner: str | None = None
    claims: tuple[str, ...] = ()  # "asn 3320 (approved)", "cidr 84.0.0.0/16 (pending)"


@dataclass
class DemoConsole:
    ctx: ConsoleContext
    sock: socket.socket
    accounts: list[Account]

    @property
    def url(self) -> str:
        return console_server.url(self.ctx, self.sock)

    def close(self) -> None:
        """Not served after all: the socket and the database let go."""
        self.sock.close()
        self.ctx.store.close()

    def run(self, ready=None) -> None:
        """Serve until SIGINT/SIGTERM (Ctrl-C)."""
        try:
            console_server.run_on(self.ctx, self.sock, ready=ready)
        finally:
            self.sock.close()


def _top_networks(pop: Population, n: int) -> list[tuple[int, np.ndarray]]:
    """The ``n`` AS numbers with the most bots, each with its bots' indices."""
    known = pop.asn >= 0
    asns, counts = np.unique(pop.asn[known], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:n]
    return [(int(asns[i]), np.flatnonzero(pop.asn == asns[i])) for i in order]


def _as_name(enricher, ip: int, asn: int) -> str:
    name = enricher.lookup(ip_strings(np.array([ip], np.uint32))).column("as_name")[0].as_py()
    return f"AS{asn} {name}"[:100] if name else f"AS{asn}"


def _pending_prefix(pop: Population, taken: set[int]) -> str | None:
    """A /16 around a bot of a network no partner holds yet."""
    others = np.flatnonzero((pop.asn >= 0) & ~np.isin(pop.asn, list(taken)))
    if not others.size:
        return None
    first = ipaddress.IPv4Address(int(pop.ip[others[0]]))
    return str(ipaddress.IPv4Network(f"{first}/16", strict=False))


def make_accounts(ctx: ConsoleContext, pop: Population, enricher) -> list[Account]:
    """The operator and the two partners with their users and claims, in
    the console's store; returns them with their one-time passwords."""
    store = ctx.store
    accounts = [Account("operator", secrets.token_urlsafe(12), "operator")]
    store.add_user("operator", accounts[0].password, role="operator", must_change=True, by=ACTOR)
    networks = _top_networks(pop, 2)
    pending = _pending_prefix(pop, {asn for asn, _ in networks})
    for i, (asn, bots) in enumerate(networks):
        name = _as_name(enricher, int(pop.ip[bots[0]]), asn)
        pid = store.add_partner(name, "isp", f"abuse@as{asn}.example", by=ACTOR)
        store.add_claim(pid, "asn", str(asn), status="approved", by=ACTOR,
                        note=f"the demo: {bots.size:,} of its bots are in AS{asn}")
        claims = [f"asn {asn} (approved, {bots.size:,} bots)"]
        if i == 1 and pending is not None:
            store.add_claim(pid, "cidr", pending, by=ACTOR)
            claims.append(f"cidr {pending} (pending: approve it as the operator)")
        user = f"isp{i + 1}"
        password = secrets.token_urlsafe(12)
        store.add_user(user, password, role="partner", partner_id=pid, must_change=True, by=ACTOR)
        accounts.append(Account(user, password, "partner", name, tuple(claims)))
    return accounts


def _bind(host: str = "127.0.0.1") -> socket.socket:
    try:
        return console_server.bind(f"{host}:{PORT}")
    except ConsoleError:  # taken (another console, another demo): any free port
        return console_server.bind(f"{host}:0")


def open_console(op: Operation, pop: Population) -> DemoConsole:
    """Accounts made and the socket bound on loopback; :meth:`DemoConsole.run` serves."""
    ctx = console_context.build(op)
    accounts = make_accounts(ctx, pop, for_operation(op))
    return DemoConsole(ctx, _bind(), accounts)
