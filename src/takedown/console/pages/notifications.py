"""/notifications: what ``takedown notify`` sent to whom and when (the
``deliveries`` table, written by :mod:`takedown.console.deliveries`),
newest first, a page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route
from takedown.console.schema import deliveries as DE

__all__ = ["ROUTES"]


async def notifications(request: Request) -> Response:
    store = web.ctx(request).store
    page, size = web.page_args(request)
    rows = store.deliveries(limit=size, offset=(page - 1) * size)
    total = store.count(DE)
    link = lambda p: "/notifications?" + urlencode({"page": p, "size": size})  # noqa: E731
    return web.render(request, "notifications.html.j2", rows=rows, total=total, page=page, size=size,
                      prev=link(page - 1) if page > 1 else None,
                      next=link(page + 1) if page * size < total else None)


ROUTES = [route("/notifications", notifications, access="operator")]
