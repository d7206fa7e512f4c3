"""The control listener of ``takedown serve``: ``/metrics`` and ``/healthz``.

It runs in the parent process (the supervisor: it knows the workers, the
reloads and the restarts), on a thread of its own, so a slow scrape or a
worker that does not answer never holds up supervision; the supervisor's
loop never waits for it. Requests are served one at a time: it is a
loopback endpoint for a monitoring system, not a web server.

Forking with this thread alive is safe because it takes no lock a worker
needs after the fork: it never writes to stdout or stderr (the request log
is off), never touches the metric objects (a scrape reads the files through
a registry of its own) and holds no import while idle in ``accept``.

``/metrics``: the Prometheus text format (:func:`takedown.metrics.exposition`).
``/healthz``: 200 ``ok`` when every worker slot has a worker that answers a
ping within ``[control] health_timeout`` and reports no failing event
writer; else 503 and a one-line reason.
"""

from __future__ import annotations

import http.server
import select
import socket
import threading
import time
from collections.abc import Callable

from takedown import metrics
from takedown.errors import ServeError
from takedown.hostport import join

PING = b"?"


def bind(host: str, port: int, what: str = "control", backlog: int = 64) -> socket.socket:
    """A listening TCP socket for one process's HTTP endpoint (the control
    listener, the console). No SO_REUSEPORT: a second server on the same
    port must fail, not take half of the requests."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(backlog)
    except OSError as e:
        s.close()
        raise ServeError(f"cannot listen on {what} {join(host, port)}: {e.strerror or e}") from None
    return s


def ping(socks: dict, timeout: float) -> dict:
    """Send a ping on each socket (the parent's end of a worker's socketpair)
    and wait up to ``timeout`` seconds for the answers: key -> the answer
    line (``ok`` or ``fail: reason``), or None when none came."""
    out: dict = {k: None for k in socks}
    waiting: dict[socket.socket, object] = {}
    for k, s in socks.items():
        try:
            s.setblocking(False)
            while True:  # a late answer to an earlier ping that timed out
                if not s.recv(4096):
                    break
        except BlockingIOError:
            pass
        except (OSError, ValueError):
            continue
        try:
            s.send(PING)
            waiting[s] = k
        except (OSError, ValueError):
            continue
    bufs: dict[socket.socket, bytes] = {}
    end = time.monotonic() + timeout
    while waiting:
        left = end - time.monotonic()
        if left <= 0:
            break
        try:
            ready, _, _ = select.select(list(waiting), [], [], left)
        except (OSError, ValueError):  # a socket closed meanwhile (its worker was reaped)
            break
        for s in ready:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                waiting.pop(s)
                continue
            bufs[s] = bufs.get(s, b"") + data
            if b"\n" in bufs[s]:
                out[waiting.pop(s)] = bufs[s].split(b"\n", 1)[0].decode("utf-8", "replace")
    return out


class ControlServer:
    """The HTTP side: ``health()`` returns None when healthy, else the reason."""

    def __init__(self, sock: socket.socket, health: Callable[[], str | None]):
        self.sock = sock
        self.health = health
        server = _Server(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.control = self  # type: ignore[attr-defined]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, args=(0.2,), name="control", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return join(host, port)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.sock.close()


class _Server(http.server.HTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client gone mid-answer; nothing to stderr from this thread


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "takedown"
    timeout = 10  # a client that connects and sends nothing does not hold the listener

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        ctl: ControlServer = self.server.control  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body, ctype = metrics.exposition()
            except Exception as e:  # a damaged metrics file: say so, keep serving
                self._send(500, f"cannot collect the metrics: {type(e).__name__}: {e}\n".encode())
                return
            self._send(200, body, ctype)
        elif path == "/healthz":
            reason = ctl.health()
            if reason is None:
                self._send(200, b"ok\n")
            else:
                self._send(503, reason.replace("\n", " ").encode() + b"\n")
        else:
            self._send(404, b"not found: try /metrics or /healthz\n")

    def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 (the stdlib's signature)
        pass  # no write to stderr from this thread (see the module's docstring)
