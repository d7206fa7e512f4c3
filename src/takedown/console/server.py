"""Running the console: uvicorn (uvloop, httptools) on one listening socket.

``takedown console FILE`` binds it here; ``takedown serve`` with
``[console]`` binds it in its parent (before dropping privileges) and hands
the socket to the console's own process (:func:`run_on`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import uvicorn
import uvloop

from takedown import control
from takedown.console.app import create_app
from takedown.console.context import ConsoleContext
from takedown.errors import ConsoleError, ServeError
from takedown.hostport import join, split_listen

__all__ = ["bind", "run_on", "url"]


def bind(listen: str) -> socket.socket:
    """The console's listening socket (inheritable: ``takedown serve`` binds it
    in its parent and hands it to the console's process)."""
    host, port = split_listen(listen)
    try:
        s = control.bind(host, port, "console", backlog=1024)
    except ServeError as e:
        raise ConsoleError(str(e)) from None
    s.set_inheritable(True)
    return s


def url(ctx: ConsoleContext, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{'https' if ctx.settings.certificate else 'http'}://{join(host, port)}/"


def _config(ctx: ConsoleContext) -> uvicorn.Config:
    s = ctx.settings
    kw = {}
    if s.certificate is not None:
        kw = {"ssl_certfile": str(s.certificate), "ssl_keyfile": str(s.private_key),
              "ssl_version": ssl.PROTOCOL_TLS_SERVER}
    return uvicorn.Config(create_app(ctx), loop="uvloop", http="httptools", lifespan="off", log_level="warning",
                          access_log=False, server_header=False, proxy_headers=False, timeout_keep_alive=15, **kw)


def run_on(ctx: ConsoleContext, sock: socket.socket, ready=None) -> None:
    """Serve on ``sock`` until SIGINT/SIGTERM; ``ready()`` is called once listening."""
    config = _config(ctx)
    try:
        config.load()
    except (OSError, ssl.SSLError) as e:
        raise ConsoleError(f"console: cannot load the certificate {ctx.settings.certificate}: {e}") from None
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and ready is not None:
            ready()
        await task

    uvloop.run(main())
