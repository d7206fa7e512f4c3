"""Which implementation of a hot path runs: compiled or pure Python (docs/performance.md).

The hot paths a profile pointed at (issue 18) have a compiled twin, a
Cython extension built with the package (setup.py); the pure-Python code
stays and is used when the extension is missing (a machine without a
compiler) or when the environment says ``TAKEDOWN_PURE=1``. Both give the
same bytes and the same events; the tests hold one against the other.

The twins are listed once, in the package's data file ``hot_paths.txt``:
setup.py compiles what it lists (it loads this module by its path, since
the package cannot be imported before it is built) and :data:`HOT_PATHS`
is what ``takedown serve`` reports on at start (:func:`notice`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

__all__ = ["HOT_PATHS", "PURE", "compiled", "notice", "path_name", "read_hot_paths"]

#: ``TAKEDOWN_PURE=1``: never use a compiled twin (tests, debugging, comparisons).
PURE = os.environ.get("TAKEDOWN_PURE", "") == "1"
#: The data file both setup.py and this module read.
HOT_PATHS_FILE = Path(__file__).with_name("hot_paths.txt")
_loaded: dict[str, ModuleType | None] = {}


def read_hot_paths(path: Path = HOT_PATHS_FILE) -> tuple[str, ...]:
    """The dotted module names listed in ``path``: one a line; blank lines
    and ``#`` comments are skipped."""
    names = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(n for n in names if n)


#: The compiled twins this version has (``hot_paths.txt``).
HOT_PATHS: tuple[str, ...] = read_hot_paths()


def compiled(name: str) -> ModuleType | None:
    """The compiled twin ``name`` (a dotted module name), or None when it is
    not built or ``TAKEDOWN_PURE=1``: the caller then uses its pure code."""
    if PURE:
        return None
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(name)
        except ImportError:
            _loaded[name] = None
    return _loaded[name]


def path_name(names: tuple[str, ...]) -> str:
    """``compiled`` when every one of ``names`` is, else ``pure Python``
    (what ``takedown serve`` says at start)."""
    return "compiled" if names and all(compiled(n) is not None for n in names) else "pure Python"


def notice(names: tuple[str, ...] = HOT_PATHS) -> str:
    """The line ``takedown serve`` prints at start (after ``takedown: ``):
    which path runs and, when it is the slower one, why and how to build
    the faster one (docs/performance.md, "Building")."""
    path = path_name(names)
    if path == "compiled":
        return f"hot paths: {path}"
    if PURE:
        why = "TAKEDOWN_PURE=1 chose it"
    elif not names:
        why = "this version has no compiled twins"
    else:
        missing = ", ".join(n for n in names if compiled(n) is None)
        why = (f"not built: {missing}; install a C compiler and the Python headers (Debian: build-essential "
               "python3-dev), then reinstall takedown (pip install .); docs/performance.md#building")
    return f"hot paths: {path} (slower: {why})"
