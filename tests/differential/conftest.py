"""Fixtures of the differential test: NSD (and BIND) serving the fixture
zones (cases.ZONES), and takedown's sinkhole serving the same zones as
taken-over zones.

Both are started once per test session on free loopback ports and stopped at
the end. takedown's server is started only when ``takedown.dns.server``
exists; until then the tests that need it are skipped with that reason.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from harness.peers import Peer, available, free_port, start_bind, start_nsd, start_process

from . import cases as C

SERVER_MODULE = "takedown.dns.server"


def server_available() -> bool:
    try:
        return importlib.util.find_spec(SERVER_MODULE) is not None
    except ModuleNotFoundError:  # takedown.dns itself is missing
        return False


OPERATION_TOML = """\
[operation]
name = "differential"
storage = "data"

[service]
allow_root = true

[sinkhole]
ipv4 = ["{ipv4}"]
ipv6 = ["{ipv6}"]
ttl = {ttl}
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = "192.0.2.2" }}

[[zones]]
origin = "3322.org"
file = "{zone}"
blocklist = "{blocklist}"
family = "nitol"

[[zones]]
origin = "shapes.example"
file = "{shapes}"
family = "shapes"

[[zones]]
origin = "chains.example"
file = "{chains}"
family = "chains"

[dns]
listen = ["{host}:{port}"]

[dns.rrl]
enabled = false
"""


def write_operation(directory: Path, host: str, port: int) -> Path:
    """The operation file takedown serves in the test, beside copies of the
    zones and blocklist fixtures (paths in it are relative to it)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(C.BLOCKLIST_FILE, directory / C.BLOCKLIST_FILE.name)
    for path in C.ZONES.values():
        shutil.copy(path, directory / path.name)
    op = directory / "operation.toml"
    op.write_text(
        OPERATION_TOML.format(
            ipv4=C.SINK_IPV4,
            ipv6=C.SINK_IPV6,
            ttl=C.SINK_TTL,
            zone=C.ZONE_FILE.name,
            shapes=C.SHAPES_FILE.name,
            chains=C.CHAINS_FILE.name,
            blocklist=C.BLOCKLIST_FILE.name,
            host=host,
            port=port,
        )
    )
    return op


def takedown_command() -> str:
    exe = Path(sys.executable).with_name("takedown")
    if exe.exists():
        return str(exe)
    found = shutil.which("takedown")
    if found:
        return found
    pytest.fail("the takedown command is not installed in the virtualenv (pip install -e .)")


@pytest.fixture(scope="session")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    if not available("nsd"):
        pytest.skip("NSD is not installed (Debian package nsd; see scripts/bootstrap)")
    peer = start_nsd(C.ZONES, port=free_port(), workdir=tmp_path_factory.mktemp("nsd"))
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    if not available("bind"):
        pytest.skip("BIND 9 is not installed (Debian package bind9; see scripts/bootstrap)")
    peer = start_bind(C.ZONES, port=free_port(), workdir=tmp_path_factory.mktemp("bind"))
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    if not server_available():
        pytest.skip("takedown.dns.server not available yet")
    host, port = "127.0.0.1", free_port()
    workdir = tmp_path_factory.mktemp("takedown")
    op = write_operation(workdir, host, port)
    argv = [takedown_command(), "serve", str(op), "--dns", f"{host}:{port}", "--workers", "1"]
    peer = start_process("takedown", argv, host=host, port=port, workdir=workdir, probe_name="3322.org")
    yield peer
    peer.stop()
