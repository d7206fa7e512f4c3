"""Emulated C&C servers on loopback, for the demo's tracker to check.

Eight servers on ``127.0.0.11`` .. ``127.0.0.18``, each on a port the kernel
picks: ZeuS and Locky panels as URLs (an HTTP server that answers the GET,
as ZeuS's ``gate.php`` and Locky's ``/checkupdate`` did), Mirai CNCs as
IP:port (a TCP service that accepts: Mirai's CNC took the bots' TCP
connections on port 23, Antonakakis et al., "Understanding the Mirai
Botnet", USENIX Security 2017). Five listen, three do not:

- a *closed* port: a socket bound and never listening, so the port stays
  closed (the kernel answers a SYN with a RST) and no other program can
  take it while the check runs;
- a *mute* one: it accepts the TCP connection and closes it without an
  HTTP answer, a panel whose web server is gone behind a port still open.

:data:`PLAN` says which is which; :func:`serving` starts them all and
stops them on leaving. Everything binds loopback only (Linux routes all
of 127.0.0.0/8 to ``lo``).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from takedown.errors import RangeError
from takedown.hostport import join

__all__ = ["PLAN", "Planned", "Server", "serving"]


@dataclass(frozen=True, slots=True)
class Planned:
    address: str
    family: str
    behaviour: str  # "http" (answers GETs), "tcp" (accepts), "mute" (accepts, says nothing), "closed"
    path: str | None = None  # a URL indicator's path; None: an IP:port indicator

    @property
    def listening(self) -> bool:
        """Whether a check should find it online."""
        return self.behaviour in ("http", "tcp") if self.path is None else self.behaviour == "http"


PLAN = (
    Planned("127.0.0.11", "zeus", "http", "/gate.php"),
    Planned("127.0.0.12", "zeus", "http", "/config.bin"),
    Planned("127.0.0.13", "zeus", "closed", "/gate.php"),
    Planned("127.0.0.14", "mirai", "tcp"),
    Planned("127.0.0.15", "mirai", "tcp"),
    Planned("127.0.0.16", "mirai", "closed"),
    Planned("127.0.0.17", "locky", "http", "/checkupdate"),
    Planned("127.0.0.18", "locky", "mute", "/checkupdate"),
)


@dataclass(frozen=True, slots=True)
class Server:
    """A running emulated C&C: the indicator that names it and whether it listens."""

    value: str
    family: str
    kind: str  # the indicator's kind: "url" or "ip"
    listening: bool


class _Panel(http.server.BaseHTTPRequestHandler):
    """A C&C panel's web server: 200 and a short body for any GET."""

    server_version = "nginx"  # what the panels' hosts announced; the check reads only the status line
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"OK\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 (the stdlib's signature)
        pass  # the demo's output is its summary, not an access log


class _Accept(socketserver.BaseRequestHandler):
    """Accepts and closes: a listening port with nothing behind it that talks."""

    def handle(self) -> None:
        pass


class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _HTTP(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _closed(address: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((address, 0))  # bound, never listening: a SYN gets a RST
    return s


@contextlib.contextmanager
def serving(plan: tuple[Planned, ...] = PLAN) -> Iterator[list[Server]]:
    """The servers of ``plan`` running (each in a daemon thread) for the
    block; the indicators naming them. Raises RangeError in one line if an
    address cannot be bound."""
    with contextlib.ExitStack() as stack:
        servers = []
        for p in plan:
            try:
                if p.behaviour == "closed":
                    sock = stack.enter_context(_closed(p.address))
                    port = sock.getsockname()[1]
                else:
                    srv = _HTTP((p.address, 0), _Panel) if p.behaviour == "http" else _Threaded((p.address, 0), _Accept)
                    stack.callback(srv.server_close)
                    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                              name=f"cnc-{p.address}", daemon=True)
                    thread.start()
                    stack.callback(thread.join)
                    stack.callback(srv.shutdown)
                    port = srv.server_address[1]
            except OSError as exc:
                raise RangeError(f"cannot start the emulated C&C on {p.address}: {exc.strerror or exc}") from None
            where = join(p.address, port)
            value = f"http://{where}{p.path}" if p.path else where
            servers.append(Server(value, p.family, "url" if p.path else "ip", p.listening))
        yield servers
