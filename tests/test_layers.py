"""The layers of docs/architecture.md, enforced with import-linter (function-
local imports included), and the installed package free of test harnesses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_the_layer_contracts_hold():
    r = lint(ROOT / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


@pytest.mark.parametrize("module, edge, said", [
    ("dns/wire.py", "import takedown.cli", "takedown.dns.wire -> takedown.cli"),
    ("dns/server.py", "from takedown.net import server as _s", "takedown.dns.server -> takedown.net.server"),
    # a function-local import hides nothing
    ("operation.py", "def _later():\n    from takedown.store import reader\n", "takedown.operation -> takedown.store"),
])
def test_a_new_edge_against_the_layers_fails(tmp_path, module, edge, said):
    shutil.copytree(ROOT / "src" / "takedown", tmp_path / "takedown",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    f = tmp_path / "takedown" / module
    f.write_text(f.read_text() + "\n\n" + edge + "\n")
    r = lint(tmp_path)
    assert r.returncode != 0
    assert said in r.stdout, r.stdout


def test_the_wheel_holds_no_test_harness(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("takedown-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        sources = {n: z.read(n).decode() for n in names if n.endswith(".py")}
    assert "takedown/cli.py" in names and "takedown/serve.py" in names
    assert not [n for n in names if n.startswith(("harness/", "tests/", "takedown/testing/"))]
    assert not [n for n in names if n.endswith(("/reference.py", "/peers.py"))]
    bad = re.compile(r"^\s*(from|import)\s+(harness|tests)\b", re.M)
    assert not [n for n, text in sources.items() if bad.search(text)]
