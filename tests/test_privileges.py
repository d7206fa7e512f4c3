"""takedown serve started as root: it binds a port below 1024, becomes
``[service] user`` before it reads a file or a packet, and its storage is the
user's; without a user it refuses to stay root. And started as the user with
the ambient capability CAP_NET_BIND_SERVICE (the systemd unit's way), it
binds the port and then drops that capability. Real ``takedown serve``
processes on loopback, real DNS clients (dnspython), process identities read
from /proc."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import urllib.request
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
import psutil
import pyarrow.parquet as pq
import pytest

import takedown
from takedown.errors import ServeError
from takedown.operation import load_operation
from takedown.privileges import plan

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: binds a port below 1024 and switches users")
NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name  # "nogroup" on Debian, "nobody" elsewhere
SRC = Path(takedown.__file__).resolve().parents[1]
MAIN = "from takedown.cli import main; main()"


def python_for_nobody() -> list[str]:
    """An interpreter that the user nobody can run with this checkout's
    package and this environment's dependencies. After dropping root, the
    server still imports modules (encodings, lazily) and reads the package's
    templates; this one (sys.executable) may live under /root, mode 0700
    (pyenv), so Debian's python3 of the same version is tried next, with the
    same site-packages. Skips the test when nobody can run either."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if nobody_can_run(exe):
            return [exe, "-c", MAIN]
    pytest.skip(f"the user nobody cannot run Python {sys.version_info[0]}.{sys.version_info[1]} "
                f"with {SRC} and its dependencies")


def nobody_can_run(exe: str) -> bool:
    """Whether nobody can import the server with ``exe`` (this Python's version)."""
    probe = "import sys, takedown.serve, takedown.cli, encodings.idna; print(sys.version_info[:2])"
    try:
        p = subprocess.run([exe, "-c", probe], user=NOBODY.pw_uid, group=NOBODY.pw_gid, extra_groups=[],
                           env=child_env(), capture_output=True, text=True, timeout=60, cwd="/")
    except OSError:
        return False
    return p.returncode == 0 and p.stdout.strip() == str(tuple(sys.version_info[:2]))


def child_env() -> dict[str, str]:
    """This checkout's package first, then this environment's dependencies."""
    paths = [str(SRC), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "LANG": "C.UTF-8"}


def low_port() -> int:
    """A port below 1024 free on 127.0.0.1 for both UDP and TCP."""
    for port in range(853, 1024):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            try:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no port in 853-1023 free on 127.0.0.1")


def write_op(d: Path, port: int, service: str) -> Path:
    (d / "seized.txt").write_text("evil.example\n")
    op = d / "operation.toml"
    op.write_text(f"""
[operation]
name = "privtest"
storage = "data"
{service}
[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1" }}
[[domains]]
family = "waledac"
file = "seized.txt"
[dns]
listen = ["127.0.0.1:{port}"]
workers = 2
rrl = {{ enabled = false }}
[events]
flush_interval = 0.2
privacy = "truncate"
""")
    return op


@pytest.fixture
def opdir():
    """A directory the user nobody can read (pytest's tmp_path is mode 0700)."""
    d = Path(tempfile.mkdtemp(prefix="takedown-priv-"))
    d.chmod(0o755)
    run = d / "run"  # where the server, as nobody, writes its ready file
    run.mkdir()
    os.chown(run, NOBODY.pw_uid, NOBODY.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(argv: list[str], op: Path, **kw) -> tuple[subprocess.Popen, dict]:
    ready = op.parent / "run" / "ready.json"
    err = open(op.parent / "serve.stderr", "wb")
    proc = subprocess.Popen([*argv, "serve", str(op), "--ready-file", str(ready)], cwd=op.parent, env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True, **kw)
    err.close()
    end = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"takedown serve did not start:\n{stderr(op)}")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())


def stderr(op: Path) -> str:
    return (op.parent / "serve.stderr").read_text(errors="replace")


def status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        out[name] = value.split()
    return out


def workers(proc: subprocess.Popen) -> list[int]:
    return [c.pid for c in psutil.Process(proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]


def ask(port: int, name: str, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, "A")
    return (dns.query.tcp if tcp else dns.query.udp)(q, "127.0.0.1", port=port, timeout=5)


def stop(proc: subprocess.Popen) -> int:
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def assert_runs_as_nobody(pid: int) -> None:
    st = status(pid)
    assert st["Uid"] == [str(NOBODY.pw_uid)] * 4, st["Uid"]  # real, effective, saved, filesystem
    assert st["Gid"] == [str(NOBODY.pw_gid)] * 4, st["Gid"]
    assert st["Groups"] == [], st["Groups"]
    assert {k: st[k] for k in ("CapEff", "CapPrm", "CapAmb")} == {k: ["0000000000000000"] for k in
                                                                  ("CapEff", "CapPrm", "CapAmb")}


def segments(storage: Path, timeout: float = 15) -> list[Path]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = sorted(storage.glob("events/kind=dns/date=*/*.parquet"))
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no DNS segment under {storage}")


@ROOT_ONLY
def test_root_binds_a_low_port_then_serves_as_the_user(opdir):
    argv = python_for_nobody()
    port = low_port()
    op = write_op(opdir, port, f'[service]\nuser = "nobody"\ngroup = "{NOGROUP}"\n'
                                '[control]\nlisten = "127.0.0.1:0"\n')
    # a day directory left by an earlier run as root: given to the user too
    legacy = opdir / "data" / "events" / "kind=dns" / "date=2020-01-01"
    legacy.mkdir(parents=True)
    proc, info = start(argv, op)
    try:
        assert info["dns"] == [f"127.0.0.1:{port}"]
        pids = workers(proc)
        assert len(pids) == 2
        for pid in [proc.pid, *pids]:
            assert_runs_as_nobody(pid)
        for tcp in (False, True):
            r = ask(port, "evil.example", tcp)
            assert [rr.to_text() for rr in r.answer] == ["evil.example. 300 IN A 192.0.2.53"]
        storage = opdir / "data"
        found = segments(storage)
        table = pq.read_table(found[0])
        assert "evil.example" in table.column("qname").to_pylist()
        assert table.column("src_ip").to_pylist()[0] == "127.0.0.0"  # privacy = "truncate": /24
        owned = [storage, storage / "events", storage / "events" / "kind=dns", found[0].parent, found[0],
                 legacy, storage / "privacy.key"]
        for p in owned:
            st = p.stat()
            assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid), p
        assert (storage / "privacy.key").stat().st_mode & 0o777 == 0o600
        # the workers publish their metrics as the user: the queries are counted
        [control] = info["control"]
        counted = 0.0
        end = time.monotonic() + 10
        while counted < 2 and time.monotonic() < end:
            time.sleep(0.2)
            text = urllib.request.urlopen(f"http://{control}/metrics", timeout=5).read().decode()
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                          if line.startswith("takedown_dns_queries_total{"))
        assert counted >= 2, text
        assert urllib.request.urlopen(f"http://{control}/healthz", timeout=5).status == 200
    finally:
        code = stop(proc)
    log = stderr(op)
    assert code == 0, log
    assert f"running as user nobody, group {NOGROUP}" in log, log
    assert "Traceback" not in log, log


def error_line(op: Path) -> str:
    """The one stderr line of a ``takedown serve`` (as this user) that fails with exit 1."""
    p = subprocess.run([sys.executable, "-c", MAIN, "serve", str(op)], capture_output=True, text=True,
                       timeout=60, env=child_env())
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), p.stderr
    return lines[0]


@ROOT_ONLY
def test_root_without_a_user_is_refused_before_binding(opdir):
    port = low_port()
    line = error_line(write_op(opdir, port, ""))
    assert "[service] user" in line and "allow_root = true" in line, line
    assert not (opdir / "data").exists()  # refused before anything was made or bound


@ROOT_ONLY
def test_a_python_the_user_cannot_read_is_one_error_line(opdir):
    """Dropped to a user who cannot read the Python installation (pyenv under
    /root, mode 0700), the server could not import what it needs later: it
    says so and stops, instead of failing in a worker."""
    if nobody_can_run(sys.executable):
        pytest.skip(f"nobody can read {sys.executable}'s installation: nothing to refuse")
    port = low_port()
    line = error_line(write_op(opdir, port, '[service]\nuser = "nobody"\n'))
    assert line.startswith("Error: user nobody cannot read /") and "docs/deploy.md" in line, line


@ROOT_ONLY
def test_allow_root_keeps_root(opdir):
    port = low_port()
    op = write_op(opdir, port, "[service]\nallow_root = true\n")
    proc, _ = start([sys.executable, "-c", MAIN], op)
    try:
        assert ask(port, "evil.example").answer
        assert status(workers(proc)[0])["Uid"] == ["0"] * 4
    finally:
        assert stop(proc) == 0
    assert "running as root ([service] allow_root = true)" in stderr(op)
    check = subprocess.run([sys.executable, "-c", MAIN, "check", str(op)], capture_output=True, text=True,
                           timeout=60, env=child_env())
    assert "[service] allow_root = true: started as root, takedown serve keeps running as root" in check.stdout


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
@ROOT_ONLY
def test_started_as_the_user_with_the_bind_capability_drops_it(opdir):
    """The systemd unit's way: User=, AmbientCapabilities=CAP_NET_BIND_SERVICE."""
    argv = python_for_nobody()
    port = low_port()
    op = write_op(opdir, port, '[service]\nuser = "nobody"\n')
    (opdir / "data").mkdir()  # systemd's StateDirectory= makes it, owned by the user
    os.chown(opdir / "data", NOBODY.pw_uid, NOBODY.pw_gid)
    setpriv = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
               "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service"]
    proc, info = start([*setpriv, *argv], op)
    try:
        assert info["dns"] == [f"127.0.0.1:{port}"]
        for pid in [proc.pid, *workers(proc)]:
            assert_runs_as_nobody(pid)
        assert ask(port, "evil.example", tcp=True).answer
        assert segments(opdir / "data")[0].stat().st_uid == NOBODY.pw_uid
    finally:
        assert stop(proc) == 0, stderr(op)
    assert "applied only when" not in stderr(op)  # it already is the user: nothing to say


def test_the_plan(tmp_path):
    """Who serve becomes, decided before anything is bound (no root needed)."""
    def op(service: str):
        return load_operation(write_op(tmp_path, 5353, service))

    with pytest.raises(ServeError, match=r"started as root and \[service\] user is not set.*allow_root = true"):
        plan(op(""), euid=0)
    assert plan(op(""), euid=1000) is None
    assert plan(op("[service]\nallow_root = true\n"), euid=0) is None
    acct = plan(op('[service]\nuser = "nobody"\n'), euid=0)
    assert (acct.uid, acct.gid, acct.group) == (NOBODY.pw_uid, NOBODY.pw_gid, NOGROUP)
    with pytest.raises(ServeError, match=r"\[service\] user = 'root' is root \(uid 0\).*allow_root = true"):
        plan(op('[service]\nuser = "root"\n'), euid=0)
    assert plan(op('[service]\nuser = "root"\nallow_root = true\n'), euid=0).uid == 0
    with pytest.raises(ServeError, match=r"\[service\] user = 'no-such-user-x': no such user"):
        plan(op('[service]\nuser = "no-such-user-x"\n'), euid=0)
    with pytest.raises(ServeError, match=r"\[service\] group = 'no-such-group-x': no such group"):
        plan(op('[service]\nuser = "nobody"\ngroup = "no-such-group-x"\n'), euid=0)


@pytest.mark.parametrize("service, message", [
    ('[service]\ngroup = "nogroup"\n', "service.group needs service.user"),
    ('[service]\nuser = "-rf"\n', "service.user must be a user or group name"),
    ('[service]\nallow_root = "yes"\n', "service.allow_root must be"),
    ('[service]\nusr = "nobody"\n', "usr"),
])
def test_bad_service_sections(tmp_path, service, message):
    from takedown.errors import OperationError

    with pytest.raises(OperationError, match=message) as e:
        load_operation(write_op(tmp_path, 5353, service))
    assert str(e.value).startswith(str(tmp_path / "operation.toml") + ":")
