"""The console's sign-in: Argon2id hashes, cookies, sessions (fixation,
logout, disabling, expiry), lock-out and per-address throttling, CSRF,
forced password change, the audit log page and the CLI's user commands.
Time is moved through the context's clock, never slept."""

from __future__ import annotations

import string
import sys

import pytest
from argon2 import PasswordHasher, Type
from console_helpers import PASSWORD, csrf_of, make_console
from sqlalchemy import update
from starlette.testclient import TestClient

from takedown.console import auth, passwords
from takedown.console.schema import users as US
from takedown.console.store import token_hash

RFC9106_PREFIX = "$argon2id$v=19$m=65536,t=3,p=4$"


class Clock:
    """A clock the test moves; installed as the context's ``now``."""

    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock(console) -> Clock:
    c = Clock()
    console.ctx.now = c
    return c


def login_form(client, username: str, password: str = PASSWORD, next_: str = "/"):
    """Post the login form as a browser would; a client holding a session
    (which /login would send home) reads the form without it."""
    held = client.cookies.get(auth.SESSION_COOKIE)
    if held:
        client.cookies.delete(auth.SESSION_COOKIE)
    page = client.get("/login")
    if held:
        put_session(client, held)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page.text), "next": next_})


def put_session(client, value: str) -> None:
    """Give ``client`` this session cookie, as the server's own would be stored."""
    client.cookies.set(auth.SESSION_COOKIE, value, domain="127.0.0.1", path="/")


def session_cookies(response) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "=")]


def actions(console) -> list[str]:
    return [e.action for e in console.store.audit_log(limit=1000)]


# --- hashing -----------------------------------------------------------------

def test_stored_hash_has_rfc9106_parameters(console):
    stored = console.store.password_hash(console.store.user("alice").id)
    assert stored.startswith(RFC9106_PREFIX), stored
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")


def test_weaker_hash_is_rehashed_at_login(console):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PASSWORD)
    uid = console.store.user("alice").id
    with console.store.engine.begin() as conn:
        conn.execute(update(US).where(US.c.id == uid).values(password_hash=weak))
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 303
    stored = console.store.password_hash(uid)
    assert stored != weak and stored.startswith(RFC9106_PREFIX)
    assert console.store.audit_log(action="login", limit=1)[0].detail == {"rehashed": True}


def test_unknown_user_costs_one_verification(console, monkeypatch):
    calls = []
    real = passwords.HASHER

    class Counting:
        def verify(self, stored, password):
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "HASHER", Counting())
    r = login_form(console.anonymous(follow_redirects=False), "nobody")
    assert r.status_code == 401
    assert len(calls) == 1 and calls[0] == passwords._DUMMY
    known = login_form(console.anonymous(follow_redirects=False), "alice", "wrong password here")
    assert known.status_code == 401 and len(calls) == 2
    assert "wrong username or password" in r.text and r.text.count("alert") == known.text.count("alert")


# --- cookies and sessions ---------------------------------------------------

def test_cookie_flags_plain_http(console):
    r = login_form(console.anonymous(follow_redirects=False), "alice")
    (cookie,) = session_cookies(r)
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags


def test_cookie_secure_over_https(console):
    c = TestClient(console.app(), base_url="https://127.0.0.1", follow_redirects=False)
    (cookie,) = session_cookies(login_form(c, "alice"))
    assert "secure" in [f.strip().lower() for f in cookie.split(";")]


def test_cookie_secure_when_configured(tmp_path):
    """Behind a TLS proxy the console speaks http, yet marks its cookies Secure
    (so the test client, over http, must hand the cookie back itself)."""
    cs = make_console(tmp_path / "c", extra="secure_cookies = true")
    c = cs.anonymous(follow_redirects=False)
    page = c.get("/login")
    (pre,) = page.headers.get_list("set-cookie")
    assert pre.startswith(auth.PRE_COOKIE + "=") and "secure" in [f.strip().lower() for f in pre.split(";")]
    r = c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
               headers={"cookie": pre.split(";")[0]})
    (cookie,) = session_cookies(r)
    assert "secure" in [f.strip().lower() for f in cookie.split(";")]


def test_session_fixation(console):
    """A session cookie planted before login (here: bob's own live session)
    is neither the session after login nor valid any more."""
    bob = console.client("bob")
    planted = bob.cookies[auth.SESSION_COOKIE]
    victim = console.anonymous(follow_redirects=False)
    put_session(victim, planted)
    r = login_form(victim, "alice")
    assert r.status_code == 303
    after = victim.cookies[auth.SESSION_COOKIE]
    assert after != planted
    assert victim.get("/").status_code == 200
    old = console.anonymous(follow_redirects=False)
    put_session(old, planted)
    assert old.get("/").headers["location"].startswith("/login")


def test_new_session_id_at_every_login(console):
    c = console.client("alice")
    first = c.cookies[auth.SESSION_COOKIE]
    login_form(c, "alice")
    assert c.cookies[auth.SESSION_COOKIE] != first


def test_session_stored_as_hash_only(console):
    c = console.client("alice")
    token = auth.Signer(console.ctx.secret.derive("session"), salt="session").unsign(
        c.cookies[auth.SESSION_COOKIE]).decode()
    from sqlalchemy import select

    from takedown.console.schema import sessions as SE
    with console.store.engine.begin() as conn:
        ids = list(conn.execute(select(SE.c.id)).scalars())
    assert token_hash(token) in ids and token not in ids


def test_logout_ends_session_server_side(console):
    c = console.client("alice")
    cookie = c.cookies[auth.SESSION_COOKIE]
    r = c.post("/logout", data={"csrf_token": console.csrf(c)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = console.anonymous(follow_redirects=False)
    put_session(replay, cookie)
    r = replay.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert "logout" in actions(console)


def test_disable_ends_sessions_and_enable_restores(console):
    c = console.client("alice")
    console.store.set_disabled("alice", True, by="test")
    assert c.get("/").headers["location"].startswith("/login")
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 401
    console.store.set_disabled("alice", False, by="test")
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 303


def test_password_change_ends_other_sessions(console):
    a1, a2 = console.client("alice"), console.client("alice")
    new = "another long password 2"
    r = a1.post("/password", data={"csrf_token": console.csrf(a1), "current": PASSWORD, "new": new, "again": new})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert a1.get("/").status_code == 200  # a fresh session for the one who changed it
    assert a2.get("/").headers["location"].startswith("/login")
    assert login_form(console.anonymous(follow_redirects=False), "alice", new).status_code == 303


def test_session_expires_by_the_context_clock(console, clock):
    c = console.client("alice")
    assert c.get("/").status_code == 200
    clock.advance(console.ctx.settings.session_hours * 3600 + 1)
    assert c.get("/").headers["location"].startswith("/login")


def test_expired_sessions_purged_at_login(console, clock):
    from takedown.console.schema import sessions as SE

    console.client("alice")
    clock.advance(console.ctx.settings.session_hours * 3600 + 1)
    console.client("bob")
    assert console.store.count(SE) == 1


def test_tampered_cookie_is_no_session(console):
    c = console.client("alice")
    value = c.cookies[auth.SESSION_COOKIE]
    other = console.anonymous(follow_redirects=False)
    # every other last character, including those base64 decodes to the same
    # signature (its unused low bits): one spelling of a signature is accepted
    alphabet = string.ascii_letters + string.digits + "-_"
    for ch in alphabet.replace(value[-1], ""):
        put_session(other, value[:-1] + ch)
        r = other.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), ch
    put_session(other, value)
    assert other.get("/").status_code == 200
    put_session(other, "not-even-signed")
    assert other.get("/").status_code == 303


# --- lock-out and throttling --------------------------------------------------

def test_lockout_after_failures_then_unlock(console, clock):
    n = console.ctx.settings.login_attempts
    for _ in range(n):
        assert login_form(console.anonymous(follow_redirects=False), "alice", "wrong password!!").status_code == 401
    assert console.store.user("alice").locked_until == int(clock.t) + int(console.ctx.settings.lockout_minutes * 60)
    assert "lockout" in actions(console)
    r = login_form(console.anonymous(follow_redirects=False), "alice")
    assert r.status_code == 401  # the right password, refused while locked
    assert console.store.audit_log(action="login-locked", limit=1)[0].detail["password_ok"] is True
    clock.advance(console.ctx.settings.lockout_minutes * 60 - 1)
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 401
    clock.advance(2)
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 303
    assert console.store.user("alice").failures == 0


def test_lockout_ends_live_sessions_and_counts_password_page(console, clock):
    """A wrong current password on /password counts like a failed login."""
    c = console.client("alice")
    n = console.ctx.settings.login_attempts
    for i in range(n):
        r = c.post("/password", data={"csrf_token": console.csrf(c), "current": "wrong password!!",
                                      "new": "x" * 12, "again": "x" * 12})
        if i < n - 1:
            assert r.status_code == 400
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert console.store.user("alice").locked_until is not None
    assert c.get("/").headers["location"].startswith("/login")
    assert actions(console).count("passwd-failed") == n


def test_address_throttling(console, clock, monkeypatch):
    monkeypatch.setattr(auth, "ADDRESS_ATTEMPTS", 3)
    for name in ("nobody1", "nobody2", "nobody3"):
        assert login_form(console.anonymous(follow_redirects=False), name).status_code == 401
    r = login_form(console.anonymous(follow_redirects=False), "alice")
    assert r.status_code == 401 and "too many failed logins" in r.text
    assert "login-throttled" in actions(console)
    clock.advance(auth.ADDRESS_WINDOW + 1)
    assert login_form(console.anonymous(follow_redirects=False), "alice").status_code == 303


def test_login_audited(console):
    login_form(console.anonymous(follow_redirects=False), "alice")
    login_form(console.anonymous(follow_redirects=False), "alice", "wrong password!!")
    login_form(console.anonymous(follow_redirects=False), "ghost")
    ok, failed = console.store.audit_log(action="login", limit=1)[0], console.store.audit_log(action="login-failed")
    assert ok.actor == "alice" and ok.address == "testclient" and ok.partner_id == console.partners["CERT-A"]
    assert [(e.target, e.detail) for e in failed] == [("ghost", {"known": False}), ("alice", {"failures": 1})]


# --- CSRF, redirects, forced change ------------------------------------------

def test_csrf_required_on_every_change(console):
    alice, bob = console.client("alice"), console.client("bob")
    assert alice.post("/logout").status_code == 403
    assert alice.post("/logout", data={"csrf_token": "x" * 43}).status_code == 403
    assert alice.post("/logout", data={"csrf_token": console.csrf(bob)}).status_code == 403
    assert alice.post("/logout", headers={"X-CSRF-Token": console.csrf(bob)}).status_code == 403
    assert alice.get("/").status_code == 200  # still logged in
    assert alice.post("/logout", headers={"X-CSRF-Token": console.csrf(alice)}).status_code == 303


def test_login_form_needs_its_pre_session_token(console):
    c = console.anonymous(follow_redirects=False)
    c.get("/login")
    assert c.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    other = console.anonymous(follow_redirects=False)
    token = csrf_of(other.get("/login").text)
    assert c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}).status_code == 403


@pytest.mark.parametrize("target,expected", [
    ("/audit?action=login", "/audit?action=login"), ("/", "/"), ("//evil.example", "/"),
    ("/\\evil.example", "/"), ("/\t/evil.example", "/"), ("/\n/evil.example", "/"), ("https://evil.example", "/"),
    ("evil.example", "/"), ("", "/"), (None, "/"), ("/ok path", "/"),
])
def test_safe_next(target, expected):
    assert auth.safe_next(target) == expected


def test_login_returns_to_the_page_asked_for(console):
    c = console.anonymous(follow_redirects=False)
    r = c.get("/audit?action=login&page=2")
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert 'value="/audit?action=login&amp;page=2"' in page.text
    r = login_form(c, "opa", next_="/audit?action=login&page=2")
    assert r.headers["location"] == "/audit?action=login&page=2"
    assert login_form(c, "opa", next_="//evil.example/").headers["location"] == "/"


def test_must_change_forces_password_page(console):
    console.store.set_password("opa", "one time password 1", must_change=True, by="test")
    c = console.client("opa", "one time password 1")
    for path in ("/", "/audit"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/password", path
    assert "choose your own" in c.get("/password").text
    new = "my own long password"
    r = c.post("/password", data={"csrf_token": console.csrf(c), "current": "one time password 1", "new": new,
                                  "again": new})
    assert r.status_code == 303
    assert c.get("/").status_code == 200
    assert console.store.user("opa").must_change is False


# --- the audit page ---------------------------------------------------------------

def test_audit_page_filters_and_pages(console, clock):
    store = console.store
    for i in range(7):
        store.audit("cli:root", "status", f"indicator-{i}", {"to": "offline"})
    clock.advance(86400)
    store.audit("opa", "download", "report-x.csv")
    op = console.client("opa")
    r = op.get("/audit?action=status&size=3")
    assert r.status_code == 200
    assert "indicator-6" in r.text and "indicator-4" in r.text and "indicator-3" not in r.text
    assert "page=2" in r.text
    r = op.get("/audit?action=status&size=3&page=3")
    assert "indicator-0" in r.text and "indicator-1" not in r.text
    r = op.get("/audit?actor=opa")
    assert "report-x.csv" in r.text and "indicator-" not in r.text
    day = __import__("time").strftime("%Y-%m-%d", __import__("time").gmtime(clock.t))
    r = op.get(f"/audit?from={day}&to={day}")
    assert "report-x.csv" in r.text and "indicator-" not in r.text
    r = op.get(f"/audit?to={day}")
    assert "report-x.csv" in r.text and "indicator-6" in r.text
    r = op.get("/audit?action=login&actor=alice")
    assert r.text.count("<td>CERT-A</td>") == 0
    console.client("alice")
    assert op.get("/audit?action=login&actor=alice").text.count("<td>CERT-A</td>") == 1
    bad = op.get("/audit?from=yesterday")
    assert bad.status_code == 400 and "not a date" in bad.text
    assert console.client("alice").get("/audit").status_code == 404


def test_audit_helper_fills_actor_partner_address(console):
    from starlette.requests import Request

    from takedown.console import web

    class State:
        session = type("S", (), {"user": console.store.user("alice")})()

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("192.0.2.7", 1234),
             "app": type("A", (), {"state": type("St", (), {"ctx": console.ctx})()})(), "state": {}}
    request = Request(scope)
    request.state.session = State.session
    web.audit(request, "download", "2026-01-05/cert-a.csv", {"rows": 3})
    e = console.store.audit_log(action="download", limit=1)[0]
    assert (e.actor, e.partner_id, e.address, e.target, e.detail) == (
        "alice", console.partners["CERT-A"], "192.0.2.7", "2026-01-05/cert-a.csv", {"rows": 3})
    web.audit(request, "download", "x", actor="api:k1")
    assert console.store.audit_log(action="download", limit=1)[0].actor == "api:k1"


# --- the CLI -------------------------------------------------------------------------

def cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    from takedown.cli import main

    monkeypatch.setattr(sys, "argv", ["takedown", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_commands(console, capsys, monkeypatch):
    op = str(console.path)
    code, out, _ = cli(capsys, monkeypatch, "console", "user", "passwd", "alice", "--operation", op)
    assert code == 0 and out.startswith("user alice: new one-time password: ")
    one_time = out.rsplit(" ", 1)[1].strip()
    u = console.store.user("alice")
    assert u.must_change and passwords.verify_password(console.store.password_hash(u.id), one_time)
    c = console.client("alice", one_time)
    assert c.get("/").headers["location"] == "/password"

    code, out, _ = cli(capsys, monkeypatch, "console", "user", "disable", "bob", "--operation", op)
    assert code == 0 and out == "user bob disabled\n"
    assert console.store.user("bob").disabled
    code, out, _ = cli(capsys, monkeypatch, "console", "user", "list", "--operation", op)
    lines = out.splitlines()
    assert lines[0].split() == ["name", "role", "partner", "disabled", "locked", "until", "last", "login"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"alice", "bob", "opa"}
    assert rows["bob"][1:4] == ["partner", "ISP-B", "yes"] and rows["opa"][1:4] == ["operator", "-", "no"]
    assert rows["alice"][-2].startswith("20")  # alice has logged in: a date, not '-'
    code, out, _ = cli(capsys, monkeypatch, "console", "user", "enable", "bob", "--operation", op)
    assert code == 0 and not console.store.user("bob").disabled

    done = [(e.action, e.target, e.actor) for e in console.store.audit_log(limit=100)
            if e.action in ("passwd", "disable", "enable")]
    assert [d[:2] for d in done] == [("enable", "bob"), ("disable", "bob"), ("passwd", "alice")]
    assert all(d[2].startswith("cli:") and len(d[2]) > 4 for d in done), done


def test_cli_user_enable_lifts_lockout(console, capsys, monkeypatch):
    for _ in range(console.ctx.settings.login_attempts):
        login_form(console.anonymous(follow_redirects=False), "bob", "wrong password!!")
    code, out, _ = cli(capsys, monkeypatch, "console", "user", "list", "--operation", str(console.path))
    bob = next(line for line in out.splitlines() if line.startswith("bob "))
    assert bob.split()[4].startswith("20")  # locked until a date
    cli(capsys, monkeypatch, "console", "user", "enable", "bob", "--operation", str(console.path))
    assert login_form(console.anonymous(follow_redirects=False), "bob").status_code == 303


@pytest.mark.parametrize("args,starts", [
    (("user", "passwd", "nobody"), "Error: user: no user 'nobody'"),
    (("user", "disable", "nobody"), "Error: user: no user 'nobody'"),
    (("user", "enable", "nobody"), "Error: user: no user 'nobody'"),
    (("user", "disable", "Bad Name!"), "Error: username: "),
])
def test_cli_user_errors_one_line(console, capsys, monkeypatch, args, starts):
    code, out, err = cli(capsys, monkeypatch, "console", *args, "--operation", str(console.path))
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(starts), err


def test_cli_missing_operation_file_one_line(tmp_path, capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "console", "user", "list", "--operation", str(tmp_path / "none.toml"))
    assert code == 1 and len(err.splitlines()) == 1 and err.startswith("Error: ")
