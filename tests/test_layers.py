"""The layers of docs/architecture.md, enforced with import-linter (function-
local imports included), and the installed package free of test harnesses."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path) -> subprocess.CompletedProcess:
    """lint-imports with the project's contracts over the package in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "200"}
    # run in ROOT, where lint-imports finds pyproject.toml itself
    return subprocess.run([str(LINT), "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "takedown", tmp_path / "takedown",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tmp_path


def test_the_contracts_hold():
    r = lint(ROOT / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(CONFIG['contracts'])} kept, 0 broken" in r.stdout, r.stdout


LAYERS = [m.strip().strip("()") for c in CONFIG["contracts"] if c["type"] == "layers"
          for line in c["layers"] for m in re.split(r"[|:]", line)]
NAMESPACES = {"takedown", "takedown.dns", "takedown.net"}  # hold the layers, import nothing of the project


def outside_layers(src: Path) -> dict[str, Path]:
    """The modules of the package in ``src`` that no layer names (by itself or a parent)."""
    modules = {".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (src / "takedown").rglob("*.py")}
    return {m: p for m, p in modules.items() if not any(m == l or m.startswith(l + ".") for l in LAYERS)}


def test_every_module_is_in_a_layer():
    """A new module outside the layers would escape the contract: name it there."""
    outside = outside_layers(ROOT / "src")
    assert set(outside) == NAMESPACES, sorted(outside)
    for m, path in outside.items():
        tree = ast.parse(path.read_text())
        imported = [n.module if isinstance(n, ast.ImportFrom) else a.name
                    for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                    for a in n.names]
        assert not [i for i in imported if i and i.startswith("takedown")], (m, imported)


def test_a_module_outside_the_layers_is_found(tmp_path):
    src = package_copy(tmp_path)
    (src / "takedown" / "newthing.py").write_text("")
    (src / "takedown" / "dns" / "newcore.py").write_text("")
    assert set(outside_layers(src)) == NAMESPACES | {"takedown.newthing", "takedown.dns.newcore"}


@pytest.mark.parametrize("module, edge, said", [
    # a lower layer importing a higher one
    ("dns/wire.py", "import takedown.cli", "takedown.dns.wire -> takedown.cli"),
    ("store/privacy.py", "from takedown.analytics import dataset", "takedown.store.privacy -> takedown.analytics.dataset"),
    # the two shells, and the two protocol families, are independent
    ("dns/server.py", "from takedown.net import server as _s", "takedown.dns.server -> takedown.net.server"),
    ("net/http.py", "from takedown.dns.wire import A", "takedown.net.http -> takedown.dns.wire"),
    # a function-local import hides nothing
    ("operation.py", "def _later():\n    from takedown.store import reader\n", "takedown.operation -> takedown.store"),
    # the pure cores run no event loop
    ("dns/responder.py", "import asyncio", "takedown.dns.responder -> asyncio"),
])
def test_a_new_edge_against_the_contracts_fails(tmp_path, module, edge, said):
    src = package_copy(tmp_path)
    f = src / "takedown" / module
    f.write_text(f.read_text() + "\n\n" + edge + "\n")
    r = lint(src)
    assert r.returncode != 0, r.stdout
    assert said in r.stdout, r.stdout


def test_the_wheel_holds_no_test_harness(tmp_path):
    # built from a clean copy: a stale build/ in the tree would put old files in the wheel
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "-w", str(tmp_path / "dist"), str(tree)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next((tmp_path / "dist").glob("takedown-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        sources = {n: z.read(n).decode() for n in names if n.endswith(".py")}
    assert "takedown/cli.py" in names and "takedown/serve.py" in names
    assert not [n for n in names if n.startswith(("harness/", "tests/", "takedown/testing/"))]
    assert not [n for n in names if n.endswith(("/reference.py", "/peers.py"))]
    bad = re.compile(r"^\s*(from|import)\s+(harness|tests)\b|import_module\(\s*[\"'](harness|tests)\b", re.M)
    assert not [n for n, text in sources.items() if bad.search(text)]
