"""The console's ASGI application: Starlette, its routes gathered from the
page modules (each a ``ROUTES`` list made with :func:`takedown.console.access.route`)."""

from __future__ import annotations

import importlib
import pkgutil

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from takedown.console import assets, pages, web
from takedown.console.context import ConsoleContext

__all__ = ["create_app", "page_modules"]



def page_modules() -> list[str]:
    """Every module of :mod:`takedown.console.pages`, sorted: a new page
    module is served (and enumerated by the security tests) without a list
    to keep in step."""
    return sorted(m.name for m in pkgutil.iter_modules(pages.__path__))

SECURITY_HEADERS = {
    # own files only: no inline script, no CDN (htmx is served from /static/vendor)
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def _static(directory) -> StaticFiles:
    return StaticFiles(directory=str(directory), check_dir=False)


def create_app(ctx: ConsoleContext) -> Starlette:
    routes: list = []
    for name in page_modules():
        routes.extend(importlib.import_module(f"takedown.console.pages.{name}").ROUTES)
    vendor = Mount("/static/vendor", app=_static(assets.vendor_dir()), name="vendor")
    own = Mount("/static", app=_static(assets.own_dir()), name="static")
    for m in (vendor, own):
        m.access = "public"  # type: ignore[attr-defined]
    routes += [vendor, own]

    async def not_found(request: Request, exc) -> Response:
        request.state.session = None
        return web.not_found(request)

    app = Starlette(routes=routes, exception_handlers={404: not_found},
                    middleware=[Middleware(_Headers)])
    app.state.ctx = ctx
    return app


class _Headers:
    """Security headers on every answer; no-store on every page (a partner's
    data never sits in a shared cache)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if not static and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
