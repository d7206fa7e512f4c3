"""/status: the sinkhole's live status, read from the operation's
``[control]`` listener (:mod:`takedown.console.sinkstatus`); the panel
refreshes itself every 5 s with htmx (/status/panel), and the page is whole
without JavaScript."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route
from takedown.console.sinkstatus import Rates, status

__all__ = ["ROUTES"]

RATES = Rates()


async def _status(request: Request):
    op = web.ctx(request).operation
    listen = op.control.listen if op.control is not None else None
    return await asyncio.to_thread(status, listen, RATES, slots=op.dns.workers)


async def status_page(request: Request) -> Response:
    return web.render(request, "status.html.j2", st=await _status(request))


async def status_panel(request: Request) -> Response:
    return web.render(request, "status_panel.html.j2", st=await _status(request))


ROUTES = [route("/status", status_page, access="operator"),
          route("/status/panel", status_panel, access="operator")]
