"""Logging in and out, sessions in signed cookies, CSRF, lock-out.

- The session cookie carries a random token signed with the console key
  (itsdangerous); the database keeps only the token's SHA-256, the user,
  the session's CSRF token and its expiry, so a session ends server-side
  (logout, password change, user disabled) whatever the browser keeps.
  Cookie flags: HttpOnly, SameSite=Lax, Path=/, Secure when the console is
  reached over TLS. A login always makes a new session (no fixation).
- Forms that change something carry the session's CSRF token (checked in
  :func:`guard`); the login form, before any session, carries a token bound
  to a signed pre-session cookie (double submit).
- A user's failed logins are counted; at ``[console] login_attempts`` the
  user is locked for ``lockout_minutes``. Failures are also counted per
  client address (sliding 15 minutes), so one address cannot try many users.
- Logins, failures and lock-outs go to the audit log.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, func, insert, select, update
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from takedown.console import passwords, web
from takedown.console.schema import login_failures as LF
from takedown.console.schema import users as US
from takedown.console.store import Session, check_username
from takedown.errors import ConsoleError

__all__ = ["guard", "SESSION_COOKIE", "PRE_COOKIE", "login", "ADDRESS_WINDOW", "ADDRESS_ATTEMPTS"]

SESSION_COOKIE = "takedown_session"
PRE_COOKIE = "takedown_pre"
ADDRESS_WINDOW = 15 * 60
ADDRESS_ATTEMPTS = 20  # failed logins from one address in the window before it must wait
SAFE = ("GET", "HEAD")


def _signer(request: Request, purpose: str) -> Signer:
    return Signer(web.ctx(request).secret.derive(purpose), salt=purpose)


def _cookie_value(request: Request, name: str, purpose: str) -> str | None:
    raw = request.cookies.get(name)
    if not raw:
        return None
    try:
        return _signer(request, purpose).unsign(raw).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def set_cookie(request: Request, response: Response, name: str, purpose: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, _signer(request, purpose).sign(value).decode(), max_age=max_age, path="/",
                        httponly=True, samesite="lax", secure=web.ctx(request).secure)


def current_session(request: Request) -> Session | None:
    token = _cookie_value(request, SESSION_COOKIE, "session")
    if token is None:
        return None
    c = web.ctx(request)
    return c.store.session(token, lifetime=c.settings.session_hours * 3600)


def _csrf_ok(expected: str, got: str | None) -> bool:
    return bool(got) and hmac.compare_digest(expected.encode(), got.encode())


async def _submitted_csrf(request: Request) -> str | None:
    got = request.headers.get("x-csrf-token")
    if got:
        return got
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def guard(request: Request, endpoint, access: str) -> Response:
    """Enforce ``access`` (see :mod:`takedown.console.access`) and CSRF, then
    call the endpoint; an endpoint's NotFound is the 404 page."""
    from takedown.console.access import NotFound

    if access == "api":
        return await endpoint(request)
    session = current_session(request)
    request.state.session = session
    if access == "public":
        pre = _cookie_value(request, PRE_COOKIE, "pre")
        fresh = pre is None
        if fresh:
            pre = secrets.token_urlsafe(32)
        request.state.pre_csrf = pre
        if request.method not in SAFE and not _csrf_ok(pre, await _submitted_csrf(request)):
            return PlainTextResponse("the form has expired: reload the page and try again\n", status_code=403)
        response = await _call(request, endpoint, NotFound)
        if fresh:
            set_cookie(request, response, PRE_COOKIE, "pre", pre)
        return response
    if session is None:
        if request.method == "GET" and not request.headers.get("hx-request"):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return PlainTextResponse("log in first\n", status_code=401)
    if (access == "operator" and not session.user.is_operator) or (access == "partner" and session.user.is_operator):
        return web.not_found(request)
    if request.method not in SAFE and not _csrf_ok(session.csrf, await _submitted_csrf(request)):
        return PlainTextResponse("the form has expired: reload the page and try again\n", status_code=403)
    if session.user.must_change and request.url.path not in ("/password", "/logout"):
        return RedirectResponse("/password", status_code=303)
    return await _call(request, endpoint, NotFound)


async def _call(request: Request, endpoint, not_found_exc) -> Response:
    try:
        return await endpoint(request)
    except not_found_exc:
        return web.not_found(request)


def login(request: Request, username: str, password: str) -> tuple[str | None, str | None]:
    """Check a login; (error message, None) or (None, a new session's token).
    The message never tells whether the user exists."""
    c = web.ctx(request)
    store = c.store
    address = web.client_address(request)
    now = int(c.now())
    refused = "wrong username or password, or the account is locked or disabled"
    with store._begin() as conn:
        recent = conn.execute(select(func.count()).select_from(LF).where(
            LF.c.address == address, LF.c.at > now - ADDRESS_WINDOW)).scalar_one()
    if recent >= ADDRESS_ATTEMPTS:
        store.audit(username[:64] or "-", "login-throttled", username[:64], {}, address)
        return "too many failed logins from your address: wait a few minutes", None
    try:
        name = check_username(username)
        u = store.user(name)
    except ConsoleError:
        u = None
    stored = store.password_hash(u.id) if u else None
    good = passwords.verify_password(stored, password)  # the same work for a user that does not exist
    if u is None or not good or u.disabled or (u.locked_until or 0) > now:
        with store._begin() as conn:
            conn.execute(insert(LF).values(address=address, at=now))
            detail = {}
            if u is not None and not u.disabled and (u.locked_until or 0) <= now and not good:
                failures = u.failures + 1
                locked = failures >= c.settings.login_attempts
                conn.execute(update(US).where(US.c.id == u.id).values(
                    failures=0 if locked else failures,
                    locked_until=now + int(c.settings.lockout_minutes * 60) if locked else u.locked_until))
                detail = {"failures": failures, "locked": locked}
            elif u is not None:
                detail = {"disabled": u.disabled, "locked": (u.locked_until or 0) > now}
            store._audit(conn, username[:64] or "-", "login-failed", username[:64], detail, address,
                         u.partner_id if u else None)
        return refused, None
    with store._begin() as conn:
        values = {"failures": 0, "locked_until": None, "last_login": now}
        if passwords.needs_rehash(stored):
            values["password_hash"] = passwords.HASHER.hash(password)
        conn.execute(update(US).where(US.c.id == u.id).values(**values))
        conn.execute(delete(LF).where(LF.c.at <= now - ADDRESS_WINDOW))
        store._audit(conn, u.username, "login", u.username, {}, address, u.partner_id)
    token, _ = store.create_session(u.id, address=address, lifetime=c.settings.session_hours * 3600)
    return None, token


def start_session(request: Request, response: Response, session_token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, "session", session_token)


def end_session(request: Request, response: Response) -> None:
    token = _cookie_value(request, SESSION_COOKIE, "session")
    if token:
        web.ctx(request).store.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=web.ctx(request).secure)


def safe_next(target: str | None) -> str:
    """Only a local path after login: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"

