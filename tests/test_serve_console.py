"""The console inside ``takedown serve`` (``[console] listen``): one more
listener of the composition root, served by a supervised child process.
Real ``takedown serve`` processes on loopback, a real HTTP client (httpx)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

import test_serve
from console_helpers import PASSWORD, csrf_of
from net_helpers import TAKEDOWN, operation_text
from takedown.console.store import ConsoleStore
from takedown.net.certs import ensure_self_signed
from takedown.operation import load_operation
from takedown.tracker.db import resolve_url


def write_op(d: Path, console: str = "127.0.0.1:0", tls: str = "") -> Path:
    op = d / "operation.toml"
    op.write_text(operation_text(0, "serveconsole", f'workers = 1\n[console]\nlisten = "{console}"\n{tls}'))
    return op


class Serve(test_serve.Serve):
    """test_serve's running server, with its console child."""

    @property
    def console(self) -> str:
        return self.info["console"][0]

    def children(self) -> dict[int, str]:
        """pid -> command line of the live children."""
        out = {}
        for c in psutil.Process(self.proc.pid).children():
            if c.status() != psutil.STATUS_ZOMBIE:
                out[c.pid] = " ".join(c.cmdline())
        return out

    def console_pid(self) -> int:
        """The console child: the one whose open sockets include the console's port."""
        port = int(self.console.rpartition(":")[2])
        for pid in self.children():
            try:
                conns = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
                # workers close the console's socket: only the console holds it
                return pid
        raise AssertionError(f"no child holds the console's socket: {self.stderr()}")


@pytest.fixture
def served(tmp_path):
    made = []

    def start(**kw) -> Serve:
        write_op(tmp_path, **kw)
        s = Serve(tmp_path)
        made.append(s)
        return s

    yield start
    for s in made:
        s.kill()


def login_page(base: str, **kw) -> httpx.Response:
    return httpx.get(base + "/login", timeout=10, **kw)


def wait_answers(base: str, timeout: float = 20, **kw) -> httpx.Response:
    end = time.monotonic() + timeout
    while True:
        try:
            return login_page(base, **kw)
        except httpx.TransportError:
            assert time.monotonic() < end, f"the console at {base} does not answer"
            time.sleep(0.1)


def test_console_in_serve_ready_restart_reload_stop(served):
    s = served()
    base = f"http://{s.console}"
    assert s.console.startswith("127.0.0.1:") and not s.console.endswith(":0")
    assert f"console={s.console}" in s.stderr()  # the ready line
    r = login_page(base)
    assert r.status_code == 200 and 'name="csrf_token"' in r.text
    assert len(s.children()) == 2  # one worker, one console

    # killed: it comes back on the same socket
    victim = s.console_pid()
    os.kill(victim, signal.SIGKILL)
    end = time.monotonic() + 20
    while True:
        try:
            again = s.console_pid()
            if again != victim:
                break
        except AssertionError:
            pass
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.1)
    assert wait_answers(base).status_code == 200
    assert "the console exited; starting it again" in s.stderr()

    # SIGHUP: a new console replaces the old one, which leaves; the socket never closed
    before = s.console_pid()
    s.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 20
    while json.loads(s.ready.read_text())["generation"] < 2:
        assert login_page(base).status_code == 200  # answered throughout the reload
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.05)
    end = time.monotonic() + 20
    while before in s.children():
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.05)
    assert s.console_pid() != before
    assert login_page(base).status_code == 200

    # SIGTERM: everything leaves
    children = list(s.children())
    assert s.stop() == 0
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in children)
    with pytest.raises(httpx.TransportError):
        login_page(base)


def test_a_reload_that_moves_the_console_is_refused(served):
    s = served()
    op = s.dir / "operation.toml"
    op.write_text(op.read_text().replace('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:1"'))
    s.wait_said("reload (a file changed) failed", 20)
    assert "[console] listen changed: restart takedown serve" in s.stderr()
    assert login_page(f"http://{s.console}").status_code == 200
    assert s.stop() == 0


def test_a_busy_console_port_fails_at_start_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        write_op(tmp_path, console=f"127.0.0.1:{port}")
        r = subprocess.run([TAKEDOWN, "serve", str(tmp_path / "operation.toml")], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"Error: cannot listen on console 127.0.0.1:{port}: Address already in use"], r.stderr


def test_console_over_tls_has_secure_cookies(served, tmp_path):
    cert, key = ensure_self_signed(tmp_path / "certs", "console.test")
    s = served(tls=f'certificate = "{cert}"\nprivate_key = "{key}"\n')
    op = load_operation(tmp_path / "operation.toml")
    store = ConsoleStore.open(resolve_url(op.database.url or None, op.storage))
    store.add_user("opa", PASSWORD, role="operator", must_change=False, by="test")
    base = f"https://{s.console}"
    with pytest.raises(httpx.TransportError):  # it speaks TLS only
        httpx.get(f"http://{s.console}/login", timeout=10)
    with httpx.Client(base_url=base, verify=False, timeout=10, follow_redirects=False) as c:
        page = c.get("/login")
        assert page.status_code == 200
        r = c.post("/login", data={"username": "opa", "password": PASSWORD, "csrf_token": csrf_of(page.text),
                                   "next": "/"})
        assert r.status_code == 303, r.text[:300]
        cookies = r.headers.get_list("set-cookie")
        assert cookies and all("secure" in h.lower() and "httponly" in h.lower() for h in cookies), cookies
        home = c.get("/")
        assert home.status_code == 200 and "opa" in home.text
    assert s.stop() == 0


def test_serve_without_console_loads_no_web_stack():
    code = ("import sys, takedown.serve; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'takedown.console') if m in sys.modules))")
    r = subprocess.run([TAKEDOWN.replace("/takedown", "/python"), "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_bad_console_certificate_fails_at_start(tmp_path):
    (tmp_path / "c.pem").write_text("not a certificate\n")
    (tmp_path / "k.pem").write_text("not a key\n")
    write_op(tmp_path, tls='certificate = "c.pem"\nprivate_key = "k.pem"\n')
    r = subprocess.run([TAKEDOWN, "serve", str(tmp_path / "operation.toml")], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert f"console failed: console: cannot load the certificate {tmp_path / 'c.pem'}" in lines[-2]
    assert lines[-1] == "Error: the console did not start serving (its error is above)"
