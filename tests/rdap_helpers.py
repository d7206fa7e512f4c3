"""A registry's RDAP server for tests: recorded domain objects (RFC 9083)
served over HTTP on loopback, ``GET .../domain/NAME`` answered with
``DIR/NAME.json`` or 404 (RFC 7480 section 5.3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _handler(directory: Path) -> type[BaseHTTPRequestHandler]:
    class Rdap(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            name = self.path.rsplit("/domain/", 1)[-1].lower()
            f = directory / f"{name}.json"
            if "/domain/" not in self.path or "/" in name or not f.is_file():
                self.send_response(404)
                self.end_headers()
                return
            body = f.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Rdap


@contextmanager
def rdap_server(directory: Path) -> Iterator[str]:
    """Serve ``directory``'s recorded objects; yields the base URL (``http://127.0.0.1:PORT/rdap/``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory))
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rdap/"
    finally:
        server.shutdown()
        server.server_close()
