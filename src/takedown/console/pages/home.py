"""The first page after login: the operators' overview or the partner's own."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route

__all__ = ["ROUTES"]


async def home(request: Request) -> Response:
    u = web.user(request)
    c = web.ctx(request)
    if u.is_operator:
        pending = len(c.store.claims(status="pending"))
        return web.render(request, "home_operator.html.j2", pending=pending)
    claims = c.store.claims(partner_id=u.partner_id)
    return web.render(request, "home_partner.html.j2", claims=claims)


ROUTES = [route("/", home, access="user")]
