"""The console's frame: login, roles, the 404 for what is not one's own."""

from __future__ import annotations

from console_helpers import PASSWORD, csrf_of


def test_login_then_home_by_role(console):
    op = console.client("opa")
    assert "Operation consoletest" in op.get("/").text
    alice = console.client("alice")
    home = alice.get("/")
    assert home.status_code == 200 and "CERT-A" in home.text


def test_no_session_redirects_to_login(console):
    c = console.client(None)
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_wrong_password_is_refused(console):
    c = console.client(None)
    page = c.get("/login")
    r = c.post("/login", data={"username": "alice", "password": "nope" + PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401 and "wrong username or password" in r.text
    assert "takedown_session" not in r.cookies


def test_login_without_csrf_is_refused(console):
    c = console.client(None)
    c.get("/login")
    r = c.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403
