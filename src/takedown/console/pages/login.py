"""The login, logout and password pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from takedown.console import auth, web
from takedown.console.access import route
from takedown.console.passwords import verify_password
from takedown.errors import ConsoleError

__all__ = ["ROUTES"]


async def login_page(request: Request) -> Response:
    if web.user(request) is not None:
        return RedirectResponse("/", status_code=303)
    return web.render(request, "login.html.j2", next=auth.safe_next(request.query_params.get("next")), error=None)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = auth.safe_next(str(form.get("next", "/")))
    error, token = auth.login(request, username, password)
    if error:
        return web.render(request, "login.html.j2", status=401, next=target, error=error)
    response = RedirectResponse(target, status_code=303)
    # the session a browser came with ends here (a new id at every login: no fixation)
    auth.end_session(request)
    auth.start_session(request, response, token)
    return response


async def logout(request: Request) -> Response:
    u = web.user(request)
    response = RedirectResponse("/login", status_code=303)
    auth.end_session(request, response)
    web.audit(request, "logout", u.username)
    return response


async def password_page(request: Request) -> Response:
    return web.render(request, "password.html.j2", error=None, done=False)


async def password_submit(request: Request) -> Response:
    u = web.user(request)
    c = web.ctx(request)
    form = await request.form()
    current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
    error = None
    if not verify_password(c.store.password_hash(u.id), current):
        # a stolen session must not become a way to guess the password: it counts towards the lock-out
        if auth.count_failure(request, u, "passwd-failed"):
            response = RedirectResponse("/login", status_code=303)
            auth.end_session(request, response)
            return response
        error = "the current password is wrong"
    elif new != again:
        error = "the two new passwords differ"
    elif new == current:
        error = "the new password must differ from the current one"
    else:
        try:
            c.store.set_password(u.id, new, must_change=False, by=u.username, address=web.client_address(request))
        except ConsoleError as e:
            error = str(e)
    if error:
        return web.render(request, "password.html.j2", status=400, error=error, done=False)
    # set_password ended every session of the user: log in again with a fresh one
    error, token = auth.login(request, u.username, new)
    response = RedirectResponse("/", status_code=303)
    if token:
        auth.start_session(request, response, token)
    return response


ROUTES = [
    route("/login", login_page, access="public"),
    route("/login", login_submit, access="public", methods=("POST",)),
    route("/logout", logout, access="user", methods=("POST",)),
    route("/password", password_page, access="user"),
    route("/password", password_submit, access="user", methods=("POST",)),
]
