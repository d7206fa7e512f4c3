"""Which implementation of a hot path runs: compiled or pure Python (docs/performance.md).

The hot paths a profile pointed at (issue 18) have a compiled twin, a
Cython extension built with the package (setup.py); the pure-Python code
stays and is used when the extension is missing (a machine without a
compiler) or when the environment says ``TAKEDOWN_PURE=1``. Both give the
same bytes and the same events; the tests hold one against the other.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["PURE", "compiled", "path_name"]

#: ``TAKEDOWN_PURE=1``: never use a compiled twin (tests, debugging, comparisons).
PURE = os.environ.get("TAKEDOWN_PURE", "") == "1"
_loaded: dict[str, ModuleType | None] = {}


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
