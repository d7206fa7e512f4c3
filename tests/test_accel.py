"""takedown.accel: which path runs (compiled twin or pure Python), the one
list of twins it shares with setup.py, and the line `takedown serve` prints
at start naming the path (a real serve process on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from takedown import accel
from test_serve import Serve, write_op

# A module that is always compiled in CPython: stands for a built twin.
BUILT = "_json"
MISSING = "takedown._no_such_twin_c"


def _in_fresh_python(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "TAKEDOWN_PURE"}
    full.update(env)
    run = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_hot_paths_file_lists_names_without_comments(tmp_path):
    f = tmp_path / "hot_paths.txt"
    f.write_text("# the twins\n\ntakedown.dns._wire_c\n  takedown.net._http_c  # the check-in path\n")
    assert accel.read_hot_paths(f) == ("takedown.dns._wire_c", "takedown.net._http_c")


def test_the_package_list_names_dotted_modules_with_a_pyx_beside_them():
    root = accel.HOT_PATHS_FILE.parents[1]
    for name in accel.HOT_PATHS:
        assert name.startswith("takedown.") and name.isascii(), name
        assert (root.joinpath(*name.split(".")).with_suffix(".pyx")).is_file(), name


def test_takedown_pure_selects_the_pure_path():
    code = f"from takedown import accel; print(accel.compiled({BUILT!r}) is None, accel.path_name(({BUILT!r},)))"
    assert _in_fresh_python(code, TAKEDOWN_PURE="1") == "True pure Python"
    assert _in_fresh_python(code) == "False compiled"
    notice = _in_fresh_python(f"from takedown import accel; print(accel.notice(({BUILT!r},)))", TAKEDOWN_PURE="1")
    assert notice == "hot paths: pure Python (slower: TAKEDOWN_PURE=1 chose it)"


@pytest.mark.skipif(accel.PURE, reason="this process runs with TAKEDOWN_PURE=1")
def test_the_notice_names_the_path_and_what_is_missing():
    assert accel.notice((BUILT,)) == "hot paths: compiled"
    partial = accel.notice((BUILT, MISSING))
    assert partial.startswith(f"hot paths: pure Python (slower: not built: {MISSING}; ")
    assert "python3-dev" in partial and "docs/performance.md#building" in partial
    assert accel.notice(()) == "hot paths: pure Python (slower: this version has no compiled twins)"


@pytest.mark.parametrize("pure", [True, False], ids=["TAKEDOWN_PURE=1", "default"])
def test_serve_says_which_path_at_start(tmp_path, monkeypatch, pure):
    if pure:
        monkeypatch.setenv("TAKEDOWN_PURE", "1")
        expected = "takedown: hot paths: pure Python (slower: TAKEDOWN_PURE=1 chose it)"
    else:
        monkeypatch.delenv("TAKEDOWN_PURE", raising=False)
        expected = "takedown: " + _in_fresh_python("from takedown import accel; print(accel.notice())")
    write_op(tmp_path, workers=1)
    s = Serve(tmp_path)
    try:
        lines = [line for line in s.stderr().splitlines() if "hot paths:" in line]
        assert lines == [expected], s.stderr()
    finally:
        assert s.stop() == 0
