"""The systemd unit (contrib/systemd/takedown@.service), checked by
systemd-analyze verify, and readiness over sd_notify: a real ``takedown
serve`` tells a real unix datagram socket, set as $NOTIFY_SOCKET, when it is
ready, reloading and stopping."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from net_helpers import TAKEDOWN, operation_text
from takedown.sdnotify import notify

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "contrib" / "systemd" / "takedown@.service"
ANALYZE = shutil.which("systemd-analyze") or ("/usr/bin/systemd-analyze"
                                              if os.path.exists("/usr/bin/systemd-analyze") else None)
INSTALLED = "/opt/takedown/venv/bin/takedown"  # where docs/deploy.md installs it


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def verify(tmp_path: Path, text: str) -> str:
    """systemd-analyze verify of the unit as instance takedown@example, its
    ExecStart pointing at this checkout's takedown (verify checks that the
    program exists); what it reports about the unit."""
    (tmp_path / "takedown@.service").write_text(text.replace(INSTALLED, TAKEDOWN))
    p = subprocess.run([ANALYZE, "verify", str(tmp_path / "takedown@example.service")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0 or p.stdout or p.stderr, "verify failed without saying why"
    return "\n".join(line for line in (p.stdout + p.stderr).splitlines()
                     if "takedown@" in line or p.returncode != 0)


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_unit_verifies(tmp_path):
    assert verify(tmp_path, UNIT.read_text()) == ""


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_verify_sees_a_broken_unit(tmp_path):
    """The check above can fail: a misspelled key and a bad value are reported."""
    text = UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes").replace("Type=notify", "Type=notifyy")
    out = verify(tmp_path, text)
    assert "NoNewPrivilege" in out and "notifyy" in out, out


def test_the_unit_says_what_the_deployment_needs():
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == [f"{INSTALLED} serve /etc/takedown/%i.toml"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["User"] == ["takedown"] and d["Group"] == ["takedown"]
    assert d["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert d["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert d["ReadWritePaths"] == ["/var/lib/takedown"] and d["StateDirectory"] == ["takedown"]
    for k in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert d[k] == ["yes"], k
    assert d["ProtectSystem"] == ["strict"]
    assert int(d["LimitNOFILE"][0]) >= 65536


class Listener:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, tmp_path: Path, abstract: bool):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"takedown-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(tmp_path / "notify.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(30)

    def next(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_serve_notifies_ready_reloading_stopping(tmp_path, abstract):
    (tmp_path / "seized.txt").write_text("evil.example\n")
    op = tmp_path / "op.toml"
    op.write_text(operation_text(0, "notify", '[[domains]]\nfamily = "f"\nfile = "seized.txt"\n'))
    sink = Listener(tmp_path, abstract)
    proc = subprocess.Popen([TAKEDOWN, "serve", str(op)], cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "NOTIFY_SOCKET": sink.address})
    try:
        msg = sink.next()
        assert msg["READY"] == "1" and msg["MAINPID"] == str(proc.pid), msg
        assert re.match(r"ready dns=127\.0\.0\.1:\d+ workers=1 pid=\d+$", msg["STATUS"]), msg

        proc.send_signal(signal.SIGHUP)
        msg = sink.next()
        assert msg["RELOADING"] == "1" and int(msg["MONOTONIC_USEC"]) > 0, msg
        msg = sink.next()
        assert msg["READY"] == "1" and msg["STATUS"].startswith("serving generation 2: 1 seized names"), msg

        # a bad edit: the reload fails, serving goes on. The file watch may
        # see the edit too (one more reload): each one is bracketed the same.
        (tmp_path / "seized.txt").write_text("not a name!\n")
        proc.send_signal(signal.SIGHUP)
        msg = sink.next()
        assert msg["RELOADING"] == "1", msg
        msg = sink.next()
        assert msg["READY"] == "1" and msg["STATUS"].startswith("reload failed, serving generation 2: "), msg
        assert "seized.txt:1" in msg["STATUS"], msg

        proc.send_signal(signal.SIGTERM)
        while (msg := sink.next()).get("RELOADING") == "1":
            assert sink.next()["STATUS"].startswith("reload failed, serving generation 2: ")
        assert msg == {"STOPPING": "1"}
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sink.close()
    assert b"Traceback" not in proc.stderr.read()


def test_notify_without_a_socket_does_nothing(tmp_path):
    assert notify("READY=1", environ={}) is False
    assert notify("READY=1", environ={"NOTIFY_SOCKET": "vsock:2:1234"}) is False
    # a socket that went away: not an error for the server
    assert notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(tmp_path / "here.sock"))
        assert notify("READY=1", "STATUS=x", environ={"NOTIFY_SOCKET": str(tmp_path / "here.sock")}) is True
        assert s.recv(100) == b"READY=1\nSTATUS=x"
