"""``takedown demo`` (``make run``) ends on the web console: an operator and
two partners' users on the demo's data, their one-time passwords printed,
served on loopback until Ctrl-C; ``--no-console`` (or
TAKEDOWN_DEMO_CONSOLE=0, tests/test_range.py) ends the demo with its report; without
a terminal the accounts are made and printed and the demo ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from console_helpers import csrf_of
from net_helpers import TAKEDOWN

ACCOUNT = re.compile(r"^  (\w+)\s+(\S+)\s+(operator|partner of (.+?): asn (\d+) \(approved, (\d+) bots\).*)$", re.M)


def demo(out: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    log = out.parent / "demo.out"
    with open(log, "wb") as f:
        proc = subprocess.Popen([TAKEDOWN, "demo", "--out", str(out), "--bots", "300", "--weeks", "1", *args],
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    return proc, log


def test_the_demo_serves_its_console_until_ctrl_c(tmp_path):
    proc, log = demo(tmp_path / "demo", "--console")  # stdin is not a terminal here: ask for it
    try:
        end = time.monotonic() + 240
        while "the console runs until Ctrl-C" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < end, log.read_text()[-2000:]
            time.sleep(0.2)
        text = log.read_text()
        url = re.search(r"^console: (http://127\.0\.0\.1:\d+)/", text, re.M).group(1)
        accounts = {m.group(1): m for m in ACCOUNT.finditer(text)}
        assert set(accounts) == {"operator", "isp1", "isp2"}, text[-1500:]
        assert accounts["isp1"].group(5) != accounts["isp2"].group(5)  # two networks
        assert all(int(accounts[u].group(6)) > 0 for u in ("isp1", "isp2"))  # each holds bots
        assert "(pending: approve it as the operator)" in text
        for user in ("operator", "isp2"):
            with httpx.Client(base_url=url, timeout=10) as c:
                page = c.get("/login")
                assert page.status_code == 200
                r = c.post("/login", data={"username": user, "password": accounts[user].group(2),
                                           "csrf_token": csrf_of(page.text), "next": "/"})
                assert r.status_code == 303, r.text[:300]
                home = c.get("/")  # a one-time password: a new one first
                assert home.status_code == 303 and home.headers["location"].startswith("/password")
                if user == "isp2":  # its own bots: the approved AS's, and no other network's
                    new = "a new password for isp2"
                    c.post("/password", data={"current": accounts[user].group(2), "new": new, "again": new,
                                              "csrf_token": csrf_of(c.get("/password").text)})
                    ips = c.get("/my/ips")
                    assert ips.status_code == 200
                    asns = set(re.findall(r"<td>AS(\d+) ", ips.text))
                    assert asns == {accounts[user].group(5)}, asns
            with httpx.Client(base_url=url, timeout=10) as c:
                wrong = c.post("/login", data={"username": user, "password": "not it",
                                               "csrf_token": csrf_of(c.get("/login").text), "next": "/"})
                assert wrong.status_code != 303
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()[-1000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_a_terminal_the_demo_makes_the_accounts_and_ends(tmp_path):
    """``make run`` from a script or CI must end: without a terminal (and
    without --console) the accounts are made and printed, the console is not
    left running, and the line says how to serve it."""
    proc, log = demo(tmp_path / "demo")
    try:
        assert proc.wait(240) == 0, log.read_text()[-1000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "differences from truth: 0" in text
    assert {m.group(1) for m in ACCOUNT.finditer(text)} == {"operator", "isp1", "isp2"}, text[-1500:]
    assert re.search(r"^not a terminal, so the console is not left running; serve it with: takedown console "
                     r"\S*operation\.toml$", text, re.M), text[-800:]
    assert "the console runs until Ctrl-C" not in text
