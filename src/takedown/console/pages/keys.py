"""A partner's API keys (/my/keys): the list, a new key (its secret shown
on that one page, never again) and revoking one. The keys themselves are
:mod:`takedown.console.apikeys`; the API is :mod:`takedown.console.pages.api`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from takedown.console import apikeys, web
from takedown.console.access import NotFound, route
from takedown.errors import ConsoleError

__all__ = ["ROUTES"]


def _page(request: Request, status: int = 200, **values) -> Response:
    u = web.user(request)
    keys = apikeys.keys(web.ctx(request).store, u.partner_id)
    values.setdefault("created", None)
    values.setdefault("error", None)
    return web.render(request, "keys.html.j2", status=status, keys=keys,
                      window=web.ctx(request).settings.api_window, **values)


async def keys_page(request: Request) -> Response:
    return _page(request)


async def key_create(request: Request) -> Response:
    u = web.user(request)
    c = web.ctx(request)
    form = await request.form()
    try:
        key, secret = apikeys.create(c.store, c.secret, u.partner_id, str(form.get("label", "")), by=u.username,
                                     address=web.client_address(request))
    except ConsoleError as e:
        return _page(request, status=400, error=str(e))
    return _page(request, created={"key_id": key.key_id, "secret": secret, "label": key.label})


async def key_revoke(request: Request) -> Response:
    u = web.user(request)
    try:
        apikeys.revoke(web.ctx(request).store, request.path_params["key_id"], by=u.username,
                       partner_id=u.partner_id, address=web.client_address(request))
    except ConsoleError:
        raise NotFound from None  # another partner's key does not exist for this one
    return RedirectResponse("/my/keys", status_code=303)


ROUTES = [
    route("/my/keys", keys_page, access="partner"),
    route("/my/keys", key_create, access="partner", methods=("POST",)),
    route("/my/keys/{key_id}/revoke", key_revoke, access="partner", methods=("POST",)),
]
