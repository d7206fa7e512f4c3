"""Every route of the console, as every kind of visitor: the matrix that
keeps partners isolated (issue 16, point 6).

The app's routes are enumerated, not listed: a route without an access
level, or with a path parameter PARAMS does not know, fails here, so a new
route cannot ship without being exercised. Each route is requested as
anonymous, partner alice (CERT-A), partner bob (ISP-B) and operator opa,
and the answer must be the one its access level designs (see
:mod:`takedown.console.access`). For routes with parameters, alice also asks
with bob's object: 404, never bob's data.

Then HTML injection (markup in names, usernames and audit targets is shown
as text) and the security headers of every answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from console_helpers import csrf_of
from starlette.routing import Mount, Route

from takedown.console import assets, auth
from takedown.console.access import ACCESS
from takedown.console.partnerdata import daily_csvs
from takedown.console.scope import scope_of
from test_report import epoch, write_dataset

DAY = date(2026, 1, 5)


def write_checkins(console, day: date, ips: list[str]) -> None:
    """One HTTP check-in of each address on ``day``, through the segment writer."""
    events = [{"time": epoch(day, 3600 + i), "day": day, "ip": ip, "kind": "http", "family": "zeus",
               "rule": "domain:zeus"} for i, ip in enumerate(ips)]
    write_dataset(console.ctx.operation.storage, events, [])

IDENTITIES = (None, "alice", "bob", "opa")
PARTNERS = ("alice", "bob")
PARAM_RE = re.compile(r"\{(\w+)(?::\w+)?\}")
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@dataclass
class World:
    """The objects PARAMS draws on: alice's (CERT-A) and bob's (ISP-B)."""

    console: object
    claims: dict[str, int]
    keys: dict[str, str]
    day: str
    csv: dict[str, str]


#: a path parameter -> (alice's own value, bob's value for the same kind of
#: object, or None when the value is not an object of a partner: a day).
#: The matrix asks as bob with bob's values, as everyone else with alice's;
#: the isolation test asks as alice with bob's.
#: A route whose parameter is missing here fails test_every_route_is_known:
#: add its parameter with values that exist in World.
PARAMS: dict[str, Callable[[World], tuple[str, str | None]]] = {
    "ip": lambda w: ("192.0.2.10", "198.51.100.10"),
    "claim_id": lambda w: (str(w.claims["CERT-A"]), str(w.claims["ISP-B"])),
    "partner_id": lambda w: (str(w.console.partners["CERT-A"]), str(w.console.partners["ISP-B"])),
    "day": lambda w: (w.day, None),
    # a day's CSV of each partner; bob's name asked by alice is not hers: 404
    "name": lambda w: (w.csv["CERT-A"], w.csv["ISP-B"]),
    "value": lambda w: ("192.0.2.10", "198.51.100.10"),  # tracker entries (operators only)
    "key_id": lambda w: (w.keys["CERT-A"], w.keys["ISP-B"]),
    "rest": lambda w: ("no/such-method", None),  # the API's catch-all: unsigned, 401 before 404
}


def world(console) -> World:
    s = console.store
    claims = {
        "CERT-A": s.add_claim(console.partners["CERT-A"], "cidr", "192.0.2.0/24", by="test", status="approved").id,
        "ISP-B": s.add_claim(console.partners["ISP-B"], "cidr", "198.51.100.0/24", by="test", status="approved").id,
    }
    from takedown.console import apikeys
    from takedown.tracker.indicator import Indicator

    keys = {name: apikeys.create(s, console.ctx.secret, pid, "matrix", by="test")[0].key_id
            for name, pid in console.partners.items()}
    console.ctx.tracker.add([Indicator(value=v, kind="ip", family="zeus", status="online") for v in ("192.0.2.10", "198.51.100.10")],
                            by="test")
    day = DAY.isoformat()
    write_checkins(console, DAY, ["192.0.2.10", "198.51.100.10"])
    csv = {}
    for name, pid in console.partners.items():
        scope = scope_of(s, pid)
        files = daily_csvs(console.ctx.operation, scope, DAY, partner=s.partner(pid).name)
        assert files, f"no CSV for {name} on {day}"
        csv[name] = files[0][0]

    return World(console, claims, keys, day, csv)


def restore(w: World) -> None:
    """The world's claims approved again (a request of the matrix may have rejected one)."""
    for cid in w.claims.values():
        if w.console.store.claim(cid).status != "approved":
            w.console.store.decide(cid, "approved", by="test")


def leaves(routes, prefix: str = ""):
    """(full path, route) of every Route, and of every Mount without routes
    of its own (static files); a Mount with routes is walked."""
    for r in routes:
        if isinstance(r, Mount) and getattr(r, "routes", None):
            yield from leaves(r.routes, prefix + r.path)
        else:
            yield prefix + r.path, r


def problems(routes) -> list[str]:
    """What makes a route untestable: no access level, or a parameter PARAMS lacks."""
    out = []
    for path, r in leaves(routes):
        if getattr(r, "access", None) not in ACCESS:
            out.append(f"{path}: no access level (make it with takedown.console.access.route)")
        for p in PARAM_RE.findall(path) if isinstance(r, Route) else ():
            if p not in PARAMS:
                out.append(f"{path}: parameter {{{p}}} has no entry in PARAMS of tests/test_console_security.py: "
                           f"add one (alice's value, bob's value)")
    return out


def fill(path: str, w: World, other: bool = False) -> str | None:
    """The path with alice's values, or with bob's where a parameter has them
    (``other``; None when none has: nothing of bob's to ask for)."""
    pairs = {p: PARAMS[p](w) for p in PARAM_RE.findall(path)}
    if other and all(b is None for _, b in pairs.values()):
        return None
    return PARAM_RE.sub(lambda m: pairs[m.group(1)][1 if other and pairs[m.group(1)][1] else 0], path)


def requests_of(routes):
    """(path, method, access) for every route and method; a static Mount is asked for a file it holds."""
    for path, r in leaves(routes):
        if isinstance(r, Mount):
            if path == "/static":
                yield path + "/console.css", "GET", r.access
            elif assets.has_htmx():  # fetched by the bootstrap; absent, the pages work without it
                yield path + "/" + assets.HTMX, "GET", r.access
            continue
        for m in sorted(r.methods or {"GET"}):
            if m != "HEAD":
                yield path, m, r.access


class Visitor:
    """A client per identity, logged in again when a request (POST /logout,
    a lock-out) ended its session."""

    def __init__(self, console, name: str | None):
        self.console, self.name = console, name
        self.client = console.client(name)
        self.key: str | None = None  # the partner's API key id, once world() made them

    def token(self, access: str) -> str:
        """The CSRF token a form of this route carries: the session's, or on a
        public form the pre-session one (read off the pre-session cookie when
        logged in, as /login then sends the user home)."""
        if self.name is None:
            return csrf_of(self.client.get("/login").text)
        if access == "public":
            signer = auth.Signer(self.console.ctx.secret.derive("pre"), salt="pre")
            return signer.unsign(self.client.cookies[auth.PRE_COOKIE]).decode()
        return self.console.csrf(self.client)

    def request(self, method: str, path: str, access: str):
        if access == "api":  # a well-formed request without its HMAC2 signature
            import time

            r = self.client.post(path, json={"apikey": self.key or "0" * 16, "timestamp": int(time.time())})
        elif method == "GET":
            r = self.client.get(path)
        else:
            r = self.client.request(method, path, data={"csrf_token": self.token(access)})
        if self.name is not None and self.client.get("/").status_code != 200:
            self.console.store.set_disabled(self.name, False, by="test")  # lifts a lock-out
            self.client = self.console.client(self.name)
        return r


def to_login(r) -> bool:
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def expect(access: str, who: str | None, method: str, r, not_found: str) -> str | None:
    """Why the answer ``r`` is wrong for ``access`` and ``who``, or None."""
    code = r.status_code
    if access == "api":
        return None if code == 401 else f"an unsigned API request got {code}, not 401"
    if access == "public":
        if code in (403, 404) or (method == "GET" and code == 401):
            return f"a public route answered {code}"
        return None
    if who is None:
        if method == "GET":
            return None if to_login(r) else f"anonymous GET got {code}, not 303 to /login"
        return None if code == 401 else f"anonymous {method} got {code}, not 401"
    lacks = (access == "operator" and who in PARTNERS) or (access == "partner" and who == "opa")
    if lacks:
        if code != 404 or r.text != not_found:
            return f"{who} lacks the role: got {code}, not the 404 page"
        return None
    if code in (401, 403, 404) or (method == "GET" and to_login(r)):
        return f"{who} may use it: got {code} {r.headers.get('location', '')}"
    return None


def test_every_route_is_known(console):
    app = console.app()
    assert list(leaves(app.routes)), "no routes"
    assert problems(app.routes) == []


def test_problems_catch_an_unknown_route():
    async def endpoint(request):  # pragma: no cover - never called
        raise AssertionError

    bare = Route("/bare", endpoint)
    with_param = Route("/x/{mystery}", endpoint)
    with_param.access = "user"
    found = problems([bare, with_param])
    assert found[0].startswith("/bare: no access level")
    assert "{mystery} has no entry in PARAMS" in found[1]


def test_route_matrix(console):
    w = world(console)
    app = console.app()
    assert problems(app.routes) == []
    visitors = {who: Visitor(console, who) for who in IDENTITIES}
    visitors["alice"].key, visitors["bob"].key = w.keys["CERT-A"], w.keys["ISP-B"]
    wrong = []
    for path, method, access in requests_of(app.routes):
        for who, v in visitors.items():
            url = fill(path, w, other=who == "bob") or fill(path, w)  # each partner with its own objects
            not_found = v.client.get("/no/such/page").text
            r = v.request(method, url, access)
            if method != "GET":  # an operator's reject, a partner's withdraw: the world as it was
                restore(w)
            why = expect(access, who, method, r, not_found)
            if why:
                wrong.append(f"{method} {url} as {who or 'anonymous'}: {why}")
    assert wrong == [], "\n".join(wrong)


def test_partner_never_gets_another_partners_object(console):
    w = world(console)
    app = console.app()
    alice = Visitor(console, "alice")
    not_found = alice.client.get("/no/such/page").text
    wrong = []
    asked = 0
    for path, method, access in requests_of(app.routes):
        if access not in ("partner", "user") or not PARAM_RE.search(path):
            continue
        url = fill(path, w, other=True)
        if url is None:
            continue
        asked += 1
        r = alice.request(method, url, access)
        if r.status_code != 404 or r.text != not_found:
            wrong.append(f"{method} {url} as alice (bob's object): {r.status_code}")
    if not asked:
        pytest.skip("no partner route with a parameter in this app yet")
    assert wrong == [], "\n".join(wrong)


def test_wrong_role_404_is_an_unknown_paths_404(console):
    alice = console.client("alice")
    r = alice.get("/audit")
    assert r.status_code == 404
    assert r.text == alice.get("/no/such/page").text == console.anonymous().get("/no/such/page").text
    assert "alice" not in r.text and "csrf_token" not in r.text


# --- HTML injection ------------------------------------------------------------

def assert_escaped(html: str) -> None:
    for markup in XSS:
        assert markup not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html or "&quot;&gt;&lt;img" in html


def test_markup_is_shown_escaped(console):
    s = console.store
    evil = s.add_partner(XSS[0] + XSS[1], "isp", "abuse@evil.example", by="test")
    s.add_user("mallory", "mallory's long password", role="partner", partner_id=evil, must_change=False,
               by="test")
    s.audit(XSS[1], "download", XSS[0] + XSS[1], {"note": XSS[0] + XSS[1]}, address="192.0.2.1")
    # a login attempt whose username is markup lands in the audit log as actor and target
    anon = console.client(None)
    anon.post("/login", data={"username": XSS[0] + XSS[1], "password": "x",
                              "csrf_token": csrf_of(anon.get("/login").text)})
    op = console.client("opa")
    for path in ("/audit", "/audit?action=download", "/audit?action=login-failed",
                 "/audit?actor=" + XSS[1], "/audit?from=" + XSS[0]):
        r = op.get(path)
        assert r.status_code in (200, 400), path
        for markup in XSS:
            assert markup not in r.text, path
    assert_escaped(op.get("/audit?action=download").text)
    assert_escaped(op.get("/audit?action=partner-add").text)
    mallory = console.client("mallory", "mallory's long password")
    assert_escaped(mallory.get("/").text)  # the partner's name in the bar and the title
    for path in ("/partners", f"/partners/{evil}"):  # the operators' pages of partners
        r = op.get(path)
        assert r.status_code == 200, path
        assert_escaped(r.text)
    r = console.client(None).get("/login?next=" + XSS[1])
    assert XSS[1] not in r.text


# --- headers --------------------------------------------------------------------

@pytest.mark.parametrize("who,path", [(None, "/login"), ("opa", "/"), ("opa", "/audit"), ("alice", "/"),
                                      ("alice", "/audit"), (None, "/no/such/page"), (None, "/static/console.css")])
def test_security_headers(console, who, path):
    r = console.client(who).get(path)
    h = r.headers
    csp = h["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    if not path.startswith("/static/"):
        assert h["cache-control"] == "no-store"


def test_session_cookie_never_readable_by_script(console):
    c = console.anonymous(follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"username": "alice", "password": "correct horse battery staple",
                               "csrf_token": csrf_of(page.text)})
    for header in page.headers.get_list("set-cookie") + r.headers.get_list("set-cookie"):
        assert "httponly" in header.lower(), header
    assert auth.SESSION_COOKIE in r.headers["set-cookie"]
