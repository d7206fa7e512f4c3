"""Rendering and small request helpers shared by the console's pages."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from takedown.console.context import ConsoleContext

__all__ = ["NotFound", "ctx", "render", "not_found", "user", "client_address", "is_htmx", "page_args", "audit"]


class NotFound(Exception):
    """Raised by an endpoint for an object outside the user's scope: the same
    404 page as an unknown path (:mod:`takedown.console.access` names it too)."""


def ctx(request: Request) -> ConsoleContext:
    return request.app.state.ctx


def user(request: Request):
    """The logged-in :class:`takedown.console.store.User`, or None."""
    s = getattr(request.state, "session", None)
    return s.user if s is not None else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, status: int = 200, headers: dict | None = None,
           **values: Any) -> Response:
    """``template`` with the page's common values: the user, the session's
    CSRF token (every form carries it), the operation's name."""
    c = ctx(request)
    session = getattr(request.state, "session", None)
    body = c.env.get_template(template).render(
        request=request, user=session.user if session else None,
        csrf_token=session.csrf if session else getattr(request.state, "pre_csrf", ""),
        operation=c.operation.name, **values)
    return HTMLResponse(body, status_code=status, headers=headers)


def not_found(request: Request) -> Response:
    """The one 404 page: rendered as for nobody, so that a page the user may
    not see, an object outside its scope and an unknown path are the same
    bytes (nothing tells a partner that something is there)."""
    request.state.session = None
    request.state.pre_csrf = ""
    return render(request, "404.html.j2", status=404)


def page_args(request: Request, default_size: int = 50, max_size: int = 500) -> tuple[int, int]:
    """(page, size) from ?page=&size=, bounded; bad values give the defaults."""
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    try:
        size = min(max_size, max(1, int(request.query_params.get("size", str(default_size)))))
    except ValueError:
        size = default_size
    return page, size


def audit(request: Request, action: str, target: str = "", detail: dict | None = None, *,
          actor: str | None = None, partner_id: int | None = None) -> None:
    """An audit row for what this request did (a download, a status change):
    the actor is the logged-in user (or ``actor``, e.g. ``api:<key id>``),
    with its partner and the client's address; the time is the context's clock."""
    u = user(request)
    if actor is None:
        actor = u.username if u is not None else "-"
    if partner_id is None and u is not None:
        partner_id = u.partner_id
    ctx(request).store.audit(actor, action, target, detail, client_address(request), partner_id)
