"""The declaration every range family module fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: How a bot finds its server: a name from the operation's seized list, a
#: blocklisted name of the taken-over zone, a name of its DGA for the day, or
#: none (a hard-coded address: no DNS).
LOOKUPS = ("seized", "zone", "dga", None)


@dataclass(frozen=True)
class Behaviour:
    name: str  # the family, as the population and the truth name it
    transport: str  # "http" (pipelined keep-alive session) or "tcp" (one greeting per connection)
    lookup: str | None  # one of LOOKUPS
    rule: str  # the fingerprint rule the operation attributes a check-in with
    family: str  # the family that rule reports
    source: str  # where the behaviour is described
    #: mean check-ins of a day's session (1 + Poisson(mean - 1)); an assumption:
    #: a bot reports several times while online (Rustock's sinkhole counted
    #: tens of millions of hits a week per country from far fewer addresses)
    checkins_per_session: float = 1.0
    tls_share: float = 0.0  # share of HTTP sessions made inside TLS (HTTPS check-ins)
    tls_rule: str = "none"  # the rule the TLS ClientHello event gets ("none": no rule matches)
    tls_family: str | None = None
    method: str = "GET"
    path: str = "/"
    user_agent: str = "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1)"
    body_bytes: int = 0
    greeting: bytes = b""  # tcp: the first bytes a bot sends its server
    #: The commands a bot of the family obeys (Coreflood's "stop", Bredolab's
    #: notice), by name: the exact response body that carries each in the
    #: range's emulated C&C protocol (not the real family's protocol). The
    #: demo's rules file declares the same bytes as [[command]] responses.
    commands: Mapping[str, bytes] = field(default_factory=dict)

    def request(self, host: str, body: bytes, last: bool) -> bytes:
        """One HTTP check-in; ``last`` asks the server to close after answering."""
        head = (f"{self.method} {self.path} HTTP/1.1\r\nHost: {host}\r\n"
                f"User-Agent: {self.user_agent}\r\n")
        if self.body_bytes:
            head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n"
        if last:
            head += "Connection: close\r\n"
        return (head + "\r\n").encode("ascii") + (body if self.body_bytes else b"")


def command_body(family: str, command: str) -> bytes:
    """The body that carries ``command`` to a ``family`` bot of the range: the
    range's own emulated protocol, one line, so a command is unmistakable in
    a capture and cannot be taken for a real family's."""
    return f"takedown-range/1 {command} {family}\n".encode("ascii")


def obeys(family: str, *commands: str) -> dict[str, bytes]:
    """``Behaviour.commands`` for a family whose bots obey ``commands``:
    each name with its :func:`command_body`."""
    return {c: command_body(family, c) for c in commands}
