"""Shared pieces of the console's tests: an operation with a console, its
context and app, users of each role, and a logged-in client.

    def test_x(console):                        # conftest's fixture
        op = console.client("opa")              # operator 'opa', logged in
        a = console.client("alice")             # partner CERT-A's user
        r = a.get("/")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from net_helpers import operation_text
from starlette.testclient import TestClient

from takedown.console.app import create_app
from takedown.console.context import ConsoleContext, build
from takedown.operation import load_operation

PASSWORD = "correct horse battery staple"

CONSOLE = """
[console]
listen = "127.0.0.1:9080"
"""

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_operation(directory: Path, name: str = "consoletest", extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "op.toml"
    path.write_text(operation_text(53530, name, CONSOLE + extra))
    return path


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf_token field in the page"
    return m.group(1)


@dataclass
class Console:
    """An operation with a console: two partners (CERT-A with alice, ISP-B with
    bob; no claims yet) and an operator (opa); everyone's password is PASSWORD
    and none must change it."""

    path: Path
    ctx: ConsoleContext
    partners: dict[str, int] = field(default_factory=dict)

    @property
    def store(self):
        return self.ctx.store

    def app(self):
        return create_app(self.ctx)

    def anonymous(self, **kw) -> TestClient:
        return TestClient(self.app(), base_url="http://127.0.0.1", **kw)

    def client(self, username: str | None, password: str = PASSWORD) -> TestClient:
        """A TestClient logged in as ``username`` (None: not logged in)."""
        c = self.anonymous(follow_redirects=False)
        if username is None:
            return c
        page = c.get("/login")
        r = c.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text),
                                   "next": "/"})
        assert r.status_code == 303, (r.status_code, r.text[:300])
        return c

    def csrf(self, client: TestClient, path: str = "/password") -> str:
        """The session's CSRF token, read off a page that has a form."""
        return csrf_of(client.get(path).text)


_TEMPLATE: dict[str, Path] = {}  # name -> a storage directory with the users made once per test process


def make_console(directory: Path, name: str = "consoletest", extra: str = "") -> Console:
    """The operation in ``directory`` with a fresh database: copied from one
    made once per process (three Argon2id hashes cost 0.3 s; most tests need
    the same users), then opened with its own secret and storage."""
    import shutil
    import tempfile

    path = write_operation(directory, name, extra)
    op = load_operation(path)
    template = _TEMPLATE.get(name)
    if template is None:
        tdir = Path(tempfile.mkdtemp(prefix="console-template-"))
        tpath = write_operation(tdir, name)
        tctx = build(load_operation(tpath))
        s = tctx.store
        s.add_partner("CERT-A", "cert", "abuse@cert-a.example", by="test")
        s.add_partner("ISP-B", "isp", "abuse@isp-b.example", by="test")
        s.add_user("opa", PASSWORD, role="operator", must_change=False, by="test")
        s.add_user("alice", PASSWORD, role="partner", partner_id=s.partner("CERT-A").id, must_change=False, by="test")
        s.add_user("bob", PASSWORD, role="partner", partner_id=s.partner("ISP-B").id, must_change=False, by="test")
        s.close()  # SQLite folds its WAL into the file at the last close: the file alone is the database
        template = _TEMPLATE[name] = load_operation(tpath).storage
    op.storage.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template / "tracker.sqlite", op.storage / "tracker.sqlite")
    ctx = build(op)
    partners = {p.name: p.id for p in ctx.store.partners()}
    return Console(path, ctx, partners)
