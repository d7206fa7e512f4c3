"""Logging in and out, sessions in signed cookies, CSRF, lock-out.

- The session cookie carries a random token signed with the console key
  (itsdangerous); the database keeps only the token's SHA-256, the user,
  the session's CSRF token and its expiry, so a session ends server-side
  (logout, password change, user disabled) whatever the browser keeps.
  Cookie flags: HttpOnly, SameSite=Lax, Path=/, Secure when the console is
  reached over TLS (its own certificate, an https request, or
  ``[console] secure_cookies = true`` behind a proxy). A login always makes
  a new session and ends the one the browser came with (no fixation).
- Forms that change something carry the session's CSRF token (checked in
  :func:`guard`); the login form, before any session, carries a token bound
  to a signed pre-session cookie (double submit).
- A user's failed logins (and wrong current passwords on the password
  page) are counted; at ``[console] login_attempts`` the user is locked for
  ``lockout_minutes``, and a lock-out ends the user's sessions. Failures are
  also counted per client address (sliding 15 minutes), so one address
  cannot try many users.
- Logins, failures, throttled and locked-out attempts go to the audit log.
- Every time comes from the context's clock (``ctx.now``), never the
  system's directly, so tests move time instead of sleeping.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import quote

from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, func, insert, select, update
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from takedown.console import passwords, web
from takedown.console.schema import login_failures as LF
from takedown.console.schema import sessions as SE
from takedown.console.schema import users as US
from takedown.console.store import Session, User, check_username
from takedown.errors import ConsoleError

__all__ = ["guard", "SESSION_COOKIE", "PRE_COOKIE", "login", "ADDRESS_WINDOW", "ADDRESS_ATTEMPTS", "safe_next",
           "count_failure", "start_session", "end_session", "current_session", "is_secure"]

SESSION_COOKIE = "takedown_session"
PRE_COOKIE = "takedown_pre"
ADDRESS_WINDOW = 15 * 60
ADDRESS_ATTEMPTS = 20  # failed logins from one address in the window before it must wait
SAFE = ("GET", "HEAD")


def _signer(request: Request, purpose: str) -> Signer:
    return _signer_of(web.ctx(request).secret, purpose)


@functools.lru_cache(maxsize=16)
def _signer_of(secret, purpose: str) -> Signer:
    """Made once per key and purpose, not at every request."""
    return Signer(secret.derive(purpose), salt=purpose)


def _cookie_value(request: Request, name: str, purpose: str) -> str | None:
    raw = request.cookies.get(name)
    if not raw:
        return None
    signer = _signer(request, purpose)
    try:
        value = signer.unsign(raw)
        # base64 ignores the unused low bits of the signature's last character, so
        # unsign accepts a few spellings of one signature: only the one we issue counts
        if not hmac.compare_digest(signer.sign(value), raw.encode()):
            return None
        return value.decode()
    except (BadSignature, UnicodeError):
        return None


def is_secure(request: Request) -> bool:
    """Cookies are Secure over TLS: the console's own certificate or
    ``secure_cookies`` (``ctx.secure``), or a request that came over https."""
    return web.ctx(request).secure or request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, purpose: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, _signer(request, purpose).sign(value).decode(), max_age=max_age, path="/",
                        httponly=True, samesite="lax", secure=is_secure(request))


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
        response = await _call(request, endpoint)
        if fresh:
            set_cookie(request, response, PRE_COOKIE, "pre", pre)
        return response
    if session is None:
        if request.method == "GET" and not request.headers.get("hx-request"):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)
        return PlainTextResponse("log in first\n", status_code=401)
    if (access == "operator" and not session.user.is_operator) or (access == "partner" and session.user.is_operator):
        return web.not_found(request)
    if request.method not in SAFE and not _csrf_ok(session.csrf, await _submitted_csrf(request)):
        return PlainTextResponse("the form has expired: reload the page and try again\n", status_code=403)
    if session.user.must_change and request.url.path not in ("/password", "/logout"):
        return RedirectResponse("/password", status_code=303)
    return await _call(request, endpoint)


async def _call(request: Request, endpoint) -> Response:
    try:
        return await endpoint(request)
    except web.NotFound:
        return web.not_found(request)


def login(request: Request, username: str, password: str) -> tuple[str | None, str | None]:
    """Check a login; (error message, None) or (None, a new session's token).
    The message never tells whether the user exists, and an unknown user
    costs one Argon2 verification like a known one (the answer time does
    not tell them apart either)."""
    c = web.ctx(request)
    store = c.store
    address = web.client_address(request)
    now = store.now()
    shown = username[:64] or "-"
    refused = "wrong username or password, or the account is locked or disabled"
    with store._begin() as conn:
        recent = conn.execute(select(func.count()).select_from(LF).where(
            LF.c.address == address, LF.c.at > now - ADDRESS_WINDOW)).scalar_one()
    if recent >= ADDRESS_ATTEMPTS:
        store.audit(shown, "login-throttled", shown, {"recent_failures": recent}, address)
        return "too many failed logins from your address: wait a few minutes", None
    try:
        u = store.user(check_username(username))
    except ConsoleError:
        u = None
    stored = store.password_hash(u.id) if u else None
    good = passwords.verify_password(stored, password)  # the same work for a user that does not exist
    locked = u is not None and (u.locked_until or 0) > now
    if u is None or not good or u.disabled or locked:
        with store._begin() as conn:
            conn.execute(delete(LF).where(LF.c.at <= now - ADDRESS_WINDOW))
            conn.execute(insert(LF).values(address=address, at=now))
        if u is None:
            store.audit(shown, "login-failed", shown, {"known": False}, address)
        elif locked:
            store.audit(shown, "login-locked", u.username, {"locked_until": u.locked_until, "password_ok": good},
                        address, u.partner_id)
        elif u.disabled:
            store.audit(shown, "login-failed", u.username, {"disabled": True}, address, u.partner_id)
        else:
            count_failure(request, u, "login-failed")
        return refused, None
    with store._begin() as conn:
        values = {"failures": 0, "locked_until": None, "last_login": now}
        if passwords.needs_rehash(stored):  # made with weaker parameters than today's
            values["password_hash"] = passwords.HASHER.hash(password)
        conn.execute(update(US).where(US.c.id == u.id).values(**values))
        store._audit(conn, u.username, "login", u.username, {"rehashed": "password_hash" in values}, address,
                     u.partner_id)
    token, _ = store.create_session(u.id, address=address, lifetime=c.settings.session_hours * 3600)
    store.purge_sessions()  # sessions left to expire (no logout) do not pile up
    return None, token


def count_failure(request: Request, u: User, action: str) -> bool:
    """One more failure of ``u`` (a wrong password at login, or a wrong
    current password on the password page), audited as ``action``; at
    ``login_attempts`` the user is locked (audited ``lockout``) and its
    sessions end. True when this failure locked it."""
    c = web.ctx(request)
    store = c.store
    now = store.now()
    address = web.client_address(request)
    with store._begin() as conn:
        # an increment in the database, not a value read before: two
        # concurrent wrong passwords both count
        conn.execute(update(US).where(US.c.id == u.id).values(failures=US.c.failures + 1))
        failures = conn.execute(select(US.c.failures).where(US.c.id == u.id)).scalar_one()
        store._audit(conn, u.username, action, u.username, {"failures": failures}, address, u.partner_id)
        if failures < c.settings.login_attempts:
            return False
        until = now + int(c.settings.lockout_minutes * 60)
        conn.execute(update(US).where(US.c.id == u.id).values(failures=0, locked_until=until))
        conn.execute(delete(SE).where(SE.c.user_id == u.id))
        store._audit(conn, u.username, "lockout", u.username, {"failures": failures, "locked_until": until},
                     address, u.partner_id)
    return True


def start_session(request: Request, response: Response, session_token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, "session", session_token)


def end_session(request: Request, response: Response | None = None) -> None:
    """End the request's session in the database (whatever the browser keeps)
    and, given a response, delete its cookie."""
    token = _cookie_value(request, SESSION_COOKIE, "session")
    if token:
        web.ctx(request).store.end_session(token)
    if response is not None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request))


def safe_next(target: str | None) -> str:
    r"""Only a local path after login: never an open redirect. Browsers drop
    tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: any
    control character, space or backslash refuses the target."""
    if (target and target.startswith("/") and not target.startswith("//")
            and not any(ch <= " " or ch in "\\\x7f" for ch in target)):
        return target
    return "/"

