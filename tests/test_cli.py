"""The takedown command, run as a user runs it: a subprocess of the
installed script. Serve and events are only exercised up to argument
validation here (their modules are tested on their own)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from takedown import __version__

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("takedown")
TAKEDOWN = str(EXE) if EXE.exists() else shutil.which("takedown") or "takedown"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAKEDOWN, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_one_error_line(p: subprocess.CompletedProcess[str], starts: str) -> None:
    assert p.returncode == 1, (p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("Error: "), p.stderr
    assert lines[0].startswith(starts), p.stderr
    assert "Traceback" not in p.stderr + p.stdout


def test_check_example():
    p = run("check", "examples/operation.toml")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "operation example" in out
    assert "waledac" in out and "30" in out
    assert "3322.org" in out and "nitol" in out
    assert "192.0.2.53" in out and "2001:db8::53" in out
    assert "ns1.sinkhole.example" in out
    assert "127.0.0.1:5353" in out
    assert "20 responses/s" in out
    assert out.rstrip().endswith("OK")
    assert p.stderr == ""


def test_check_bad_file(tmp_path):
    bad = tmp_path / "op.toml"
    bad.write_text((ROOT / "examples" / "operation.toml").read_text()
                   .replace("ttl = 300", 'ttl = "abc"'))
    p = run("check", "op.toml", cwd=tmp_path)
    assert_one_error_line(
        p, "Error: op.toml:8: sinkhole.ttl must be an integer between 0 and 2147483647, not 'abc'")
    assert p.stdout == ""


def test_check_bad_list(tmp_path):
    for f in (ROOT / "examples").iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    with open(tmp_path / "waledac-domains.txt", "a") as fh:
        fh.write("not a name\n")
    n = len((tmp_path / "waledac-domains.txt").read_text().splitlines())
    p = run("check", "operation.toml", cwd=tmp_path)
    assert_one_error_line(p, f"Error: waledac-domains.txt:{n}: 'not a name' is not a valid domain name")


def test_check_missing_file(tmp_path):
    assert_one_error_line(run("check", "nope.toml", cwd=tmp_path), "Error: nope.toml: cannot read")


def test_version():
    p = run("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"takedown {__version__}"


@pytest.mark.parametrize("args", [
    ["--help"], ["check", "--help"], ["serve", "--help"], ["events", "--help"],
    ["events", "count", "--help"],
])
def test_help(args):
    p = run(*args)
    assert p.returncode == 0, p.stderr
    assert "Usage" in p.stdout


def test_serve_help_lists_options():
    out = run("serve", "--help").stdout
    assert "--dns" in out and "--workers" in out


@pytest.mark.parametrize("value,fragment", [
    ("127.0.0.1", "missing :PORT"),
    ("localhost:53", "is not an IP address"),
    ("127.0.0.1:70000", "between 0 (any free port) and 65535"),
    ("::1:53", "brackets"),
])
def test_serve_rejects_bad_dns(value, fragment):
    p = run("serve", "examples/operation.toml", "--dns", "127.0.0.1:5353", "--dns", value)
    assert_one_error_line(p, f"Error: --dns: {value!r} is not a valid listen address")
    assert fragment in p.stderr


def test_serve_rejects_bad_workers():
    p = run("serve", "examples/operation.toml", "--workers", "0")
    assert_one_error_line(p, "Error: --workers: must be an integer between 1 and 256")


def test_serve_bad_operation_file(tmp_path):
    p = run("serve", "nope.toml", cwd=tmp_path)
    assert_one_error_line(p, "Error: nope.toml: cannot read")


def test_events_count_bad_operation_file(tmp_path):
    p = run("events", "count", "nope.toml", "--kind", "dns", cwd=tmp_path)
    assert_one_error_line(p, "Error: nope.toml: cannot read")


def test_usage_error_is_not_a_traceback():
    p = run("check")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr


def test_multi_line_library_errors_are_printed_as_one_line(monkeypatch, capsys):
    import pytest as _pytest

    from takedown import cli
    from takedown.errors import StoreError

    def boom():
        raise StoreError("cannot read the events: Binder Error: no match\n\tCandidate functions:\n  ^^^^")

    monkeypatch.setattr(cli, "app", boom)
    with _pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 1
    assert capsys.readouterr().err == "Error: cannot read the events: Binder Error: no match\n"
