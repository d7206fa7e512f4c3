"""Who may reach a route, declared beside it and enforced in one place.

Every route of the console is made by :func:`route` with an ``access``:

- ``public``: anyone (the login page, static files);
- ``user``: any logged-in user (the home page, changing one's password);
- ``operator``: operators only;
- ``partner``: partners' users only;
- ``api``: a signed API request (:mod:`takedown.console.api` checks it).

A user who lacks the role gets **404**, exactly what an unknown path gets:
for a partner, the operators' pages and other partners' objects do not
exist. Without a session, a page redirects to the login (a GET) or answers
401. Every request that changes something (any method but GET and HEAD) of
a ``user``/``operator``/``partner`` route must carry the session's CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``); ``public`` forms
carry the pre-session token of :mod:`takedown.console.auth`.
``tests/test_console_security.py`` enumerates the app's routes: a route
without an access level, or without a test, fails the build.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from takedown.console import auth
from takedown.console.web import NotFound

__all__ = ["ACCESS", "route", "NotFound"]

ACCESS = ("public", "user", "operator", "partner", "api")

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, endpoint: Endpoint, *, access: str, methods: Sequence[str] = ("GET",),
          name: str | None = None) -> Route:
    if access not in ACCESS:
        raise ValueError(f"route {path}: access must be one of {ACCESS}, not {access!r}")
    async def guarded(request: Request) -> Response:
        return await auth.guard(request, endpoint, access)

    r = Route(path, guarded, methods=list(methods), name=name or endpoint.__name__)
    r.access = access  # type: ignore[attr-defined]  # read by the security tests
    r.endpoint_name = f"{endpoint.__module__}.{endpoint.__name__}"  # type: ignore[attr-defined]
    return r
