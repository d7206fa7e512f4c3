"""The package's build (setup.py, issue 18): ``python -m build --wheel`` on a
copy of the repository whose hot_paths.txt lists one tiny Cython module
compiles it into a wheel for this platform; with a compiler that fails, or
``TAKEDOWN_BUILD_PURE=1``, the build still succeeds and the wheel holds the
pure path only. Each wheel is unpacked and imported in a fresh interpreter:
takedown.accel says which path it got.

The wheel builds run without isolation (``--no-isolation``), with the venv's
setuptools, wheel and Cython (the dev extra): no download, ~3 s a build. The
editable install, as scripts/bootstrap makes it, uses pip's build isolation
(setuptools and Cython from the package index, ~12 s)."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "takedown._probe_c"
PROBE_PYX = """# a build probe of tests/test_build_wheel.py
def triple(long n):
    cdef long r = 3 * n
    return r
"""


def _copy_project(dest: Path) -> Path:
    """The files a wheel is built from, with hot_paths.txt listing only the probe."""
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.egg-info"))
    pkg = dest / "src" / "takedown"
    (pkg / "_probe_c.pyx").write_text(PROBE_PYX)
    # the probe alone: the real twins' builds are not what these tests are about (and would cost ~20 s each)
    (pkg / "hot_paths.txt").write_text(f"{PROBE}\n")
    return dest


def _build(tmp_path: Path, **env: str) -> tuple[Path, str]:
    project = _copy_project(tmp_path / "project")
    out = tmp_path / "dist"
    full_env = {k: v for k, v in os.environ.items() if k not in ("TAKEDOWN_BUILD_PURE", "TAKEDOWN_PURE", "CC")}
    full_env.update(env)
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
                          str(project)], env=full_env, capture_output=True, text=True, timeout=300)
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, (wheels, said)
    return wheels[0], said


def _unpacked_notice(wheel: Path, dest: Path) -> str:
    """What takedown.accel of the unpacked wheel says, in a fresh interpreter."""
    with zipfile.ZipFile(wheel) as z:
        z.extractall(dest)
    env = {k: v for k, v in os.environ.items() if k != "TAKEDOWN_PURE"}
    env["PYTHONPATH"] = str(dest)
    run = subprocess.run([sys.executable, "-c", "from takedown import accel; import takedown;"
                          "assert takedown.__file__.startswith(%r), takedown.__file__;"
                          "print(accel.notice())" % str(dest)],
                         env=env, capture_output=True, text=True, timeout=60, cwd=dest)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def _extensions(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return [n for n in z.namelist() if n.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]


def _wheel_metadata(wheel: Path) -> str:
    """The wheel's WHEEL file (PEP 427)."""
    with zipfile.ZipFile(wheel) as z:
        [name] = [n for n in z.namelist() if n.endswith(".dist-info/WHEEL")]
        return z.read(name).decode()


def test_the_wheel_holds_the_compiled_twin_for_this_platform(tmp_path):
    wheel, said = _build(tmp_path)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    assert _extensions(wheel) == [f"takedown/_probe_c{suffix}"], said
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert wheel.name.endswith(f"-{tag}-{tag}-{platform}.whl"), wheel.name
    assert "Root-Is-Purelib: false" in _wheel_metadata(wheel)
    with zipfile.ZipFile(wheel) as z:
        assert "takedown/hot_paths.txt" in z.namelist()
    assert _unpacked_notice(wheel, tmp_path / "site") == "hot paths: compiled"
    run = subprocess.run([sys.executable, "-c", "from takedown import _probe_c; print(_probe_c.triple(14))"],
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert run.stdout.strip() == "42", run.stderr


def test_a_failing_compiler_still_builds_a_wheel_with_the_pure_path(tmp_path):
    wheel, said = _build(tmp_path, CC="false")
    assert _extensions(wheel) == []
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name  # it holds Python only: any platform
    assert "Root-Is-Purelib: true" in _wheel_metadata(wheel)
    assert f"takedown: {PROBE} not compiled" in said
    notice = _unpacked_notice(wheel, tmp_path / "site")
    assert notice.startswith(f"hot paths: pure Python (slower: not built: {PROBE}; "), notice


def test_takedown_build_pure_compiles_nothing(tmp_path):
    wheel, said = _build(tmp_path, TAKEDOWN_BUILD_PURE="1")
    assert _extensions(wheel) == []
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name  # nothing to compile: a pure wheel
    assert "Root-Is-Purelib: true" in _wheel_metadata(wheel)
    assert not (tmp_path / "project" / "src" / "takedown" / "_probe_c.c").exists()  # Cython never ran
    assert "not compiled" not in said
    assert _unpacked_notice(wheel, tmp_path / "site").startswith("hot paths: pure Python (slower: not built: ")


def test_setup_py_compiles_what_accel_lists(tmp_path):
    """setup.py's EXTENSIONS are hot_paths.txt's names, with their .pyx paths (one list for both)."""
    project = _copy_project(tmp_path / "project")
    run = subprocess.run([sys.executable, "-c", "import runpy, setuptools; setuptools.setup = lambda **kw: None;"
                          "g = runpy.run_path('setup.py'); print(g['EXTENSIONS'])"],
                         cwd=project, env={**os.environ, "TAKEDOWN_BUILD_PURE": "1"}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith(f"('{PROBE}', 'src/takedown/_probe_c.pyx')]"), run.stdout


def test_an_editable_install_compiles_the_twins_in_place(tmp_path):
    """What scripts/bootstrap does (pip install -e): the .so lands beside its
    .pyx, and the installed package says it runs compiled. With pip's build
    isolation, as the bootstrap: setuptools and Cython come from the index."""
    project = _copy_project(tmp_path / "project")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e",
                          str(project)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    assert (project / "src" / "takedown" / f"_probe_c{suffix}").is_file()
    env = {k: v for k, v in os.environ.items() if k not in ("TAKEDOWN_PURE", "PYTHONPATH")}
    run = subprocess.run([str(venv / "bin" / "python"), "-c", "from takedown import accel; print(accel.notice())"],
                         env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.stdout.strip() == "hot paths: compiled", run.stderr
